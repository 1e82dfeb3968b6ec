"""The one way tests run the `rag` command: the installed console script in a fresh
process, with an environment that pins its settings."""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

from rag.config import Settings
from tests.support.settings import REPO, VENV_BIN, isolated_env

RAG = str(VENV_BIN / "rag")


def user_env() -> dict[str, str]:
    """The caller's environment without NEWSDESK_CONFIG: `rag` run in a folder then uses
    that folder's defaults, as a user's first run does."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("NEWSDESK_CONFIG", None)
    return env


def rag_command(args: tuple[str, ...] | list[str], prefix: list[str] | None = None) -> list[str]:
    """`rag args...`; with a prefix ending in a shell script (e.g. `unshare -m sh -c 'mount
    ... && exec'`), the command is appended to that script."""
    command = [RAG, *args]
    if prefix:
        command = [*prefix[:-1], prefix[-1] + " " + shlex.join(command)]
    return command


def _env(settings: Settings | None, env: dict[str, str] | None) -> dict[str, str]:
    if env is not None:
        return env
    return isolated_env(settings) if settings is not None else user_env()


def run_rag(*args: str, settings: Settings | None = None, env: dict[str, str] | None = None,
            cwd: Path | str | None = None, timeout: float = 300,
            prefix: list[str] | None = None, input: str | None = None,
            ) -> subprocess.CompletedProcess:
    """Run `rag args...` to completion (typing `input` on its stdin) and capture its
    output. The environment is `env` if given, else the one pinning `settings`, else the
    user's (see user_env)."""
    return subprocess.run(rag_command(args, prefix), capture_output=True, text=True,
                          env=_env(settings, env), cwd=cwd, timeout=timeout, input=input)


def start_rag(*args: str, settings: Settings | None = None, env: dict[str, str] | None = None,
              cwd: Path | str | None = None) -> subprocess.Popen:
    """Start `rag args...` without waiting (stdout and stderr piped, text)."""
    return subprocess.Popen(rag_command(args), cwd=cwd, env=_env(settings, env),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
