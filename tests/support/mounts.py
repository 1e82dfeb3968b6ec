"""Private mount namespaces for the tests that need a real full disk or a read-only
store (root ignores file modes, so only a mount can make a folder read-only for root).

`unshare -m` needs root (CI and this machine run as root); elsewhere `unshare --mount
--map-root-user` gives a user namespace whose root may mount. When neither works the
test is skipped with unshare's own message, and CI (NEWSDESK_REQUIRE_MOUNTS=1, set by
.ci/run) fails instead, so these tests can never silently not run there.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from functools import cache

import pytest

REQUIRE = "NEWSDESK_REQUIRE_MOUNTS"


@cache
def _unshare() -> tuple[list[str] | None, str]:
    """The unshare command that works here, or None and why none does."""
    if not shutil.which("unshare"):
        return None, "the unshare command is not installed (util-linux)"
    reasons = []
    for command in (["unshare", "--mount"], ["unshare", "--mount", "--map-root-user"]):
        run = subprocess.run([*command, "true"], capture_output=True, text=True)
        if run.returncode == 0:
            return command, ""
        reasons.append(f"`{' '.join(command)} true` failed: {run.stderr.strip()}")
    return None, "; ".join(reasons)


def in_private_mounts(script: str) -> list[str]:
    """`sh -c script` in a private mount namespace. Skips the test (fails it under
    NEWSDESK_REQUIRE_MOUNTS=1) when this machine allows no mount namespace."""
    command, why = _unshare()
    if command is None:
        message = f"no private mount namespace here: {why}"
        if os.environ.get(REQUIRE) == "1":
            pytest.fail(f"{message} ({REQUIRE}=1 requires this test to run)")
        pytest.skip(message)
    return [*command, "sh", "-c", script]
