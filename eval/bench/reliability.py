"""Reliability figures: run the reliability tests and print what they exercised.

Fuzz cases (hypothesis examples, summed over every property test), faults injected
(`tests/test_faults.py`'s own count plus each damaged-store, failing-server and bad-input
case of the Reliability II tests), SIGKILLs that landed mid-ingest, and the load run
(users, requests, failures, latency). Every figure comes from this run's output:

    python -m eval.bench.reliability            # about 10 minutes on 2 cores
    LOAD_SECONDS=20 python -m eval.bench.reliability   # a shorter load run
"""

from __future__ import annotations

import argparse
import ast
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GROUPS = {
    "fuzz": ["tests/test_fuzz_ingest.py", "tests/test_bad_questions.py",
             "tests/test_reliability_ii_sources.py"],
    "faults": ["tests/test_faults.py", "tests/test_reliability_ii_store.py",
               "tests/test_reliability_ii_cli.py", "tests/test_secrets.py"],
    "kills": ["tests/test_crash_safety.py", "tests/test_copies.py::"
              "test_an_ingest_of_copies_killed_mid_way_ends_like_a_clean_one"],
    "load": ["tests/test_load.py"],
}
_EXAMPLES = re.compile(r"- (\d+) passing, (\d+) failing")
_FAULTS = re.compile(r"faults injected in test_faults\.py: (\d+)")
_LANDED = re.compile(r"SIGKILL landed: (\[.*\])")
_LOAD = re.compile(r"^load: .*$", re.MULTILINE)


def _kills(listed: str) -> int:
    try:
        return len(ast.literal_eval(listed))
    except (ValueError, SyntaxError):
        return listed.count(",") + 1


def run(groups: list[str]) -> int:
    """Run the chosen groups' tests in one pytest session; print the figures; pytest's code."""
    paths = [p for g in groups for p in GROUPS[g]]
    with tempfile.TemporaryDirectory(prefix="reliability-bench-") as work:
        junit = Path(work) / "junit.xml"
        command = [sys.executable, "-m", "pytest", *paths, "-s", "-q", "-p", "no:cacheprovider",
                   "--hypothesis-show-statistics", f"--junitxml={junit}",
                   f"--basetemp={Path(work) / 'tmp'}"]
        print("$", " ".join(command[1:]), flush=True)
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
        output = done.stdout + done.stderr
        tally = outcomes(junit.read_text() if junit.exists() else "<testsuites/>", groups)
    print("\n## Reliability figures")
    print("\n".join(figures(output, tally, groups)))
    if done.returncode:
        print(f"\npytest exited {done.returncode}; its last lines:\n" + "\n".join(output.splitlines()[-30:]))
    return done.returncode


def outcomes(junit_xml: str, groups: list[str]) -> Counter:
    """(group, passed | failed | skipped) -> number of tests, from pytest's JUnit XML."""
    tally: Counter = Counter()
    for case in ET.fromstring(junit_xml).iter("testcase"):
        file = case.get("classname", "").replace(".", "/") + ".py"
        group = next((g for g in groups for p in GROUPS[g] if p.split("::")[0] == file), "?")
        failed = case.find("failure") is not None or case.find("error") is not None
        tally[(group, "failed" if failed else
               "skipped" if case.find("skipped") is not None else "passed")] += 1
    return tally


def figures(output: str, tally: Counter, groups: list[str]) -> list[str]:
    """The figure lines, read from the tests' own output (`-s`, hypothesis statistics)."""
    lines = [f"- {g} tests: {tally[(g, 'passed')]} passed, {tally[(g, 'failed')]} failed, "
             f"{tally[(g, 'skipped')]} skipped" for g in groups]
    if "fuzz" in groups:
        examples = [(int(a), int(b)) for a, b in _EXAMPLES.findall(output)]
        lines.append(f"- fuzz cases (hypothesis examples over {len(examples)} property tests): "
                     f"{sum(a for a, _ in examples):,} passing, {sum(b for _, b in examples)} failing")
    if "faults" in groups:
        faults = sum(int(n) for n in _FAULTS.findall(output))
        lines.append(f"- faults injected by test_faults.py: {faults} (model server down, slow, "
                     "stalling, garbage replies; Chroma server stopped and restarted); the "
                     "group's other tests inject one each (damaged, read-only or full store, "
                     "failing embedding server, bad settings, hostile names)")
    if "kills" in groups:
        landed = [_kills(m) for m in _LANDED.findall(output)]
        lines.append(f"- SIGKILLs landed mid-ingest: {sum(landed)} in {len(landed)} crash runs "
                     "(each then compared with a clean ingest)")
    if "load" in groups:
        lines += [f"- {line}" for line in _LOAD.findall(output)]
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("groups", nargs="*", help=f"any of {', '.join(GROUPS)} (default: all)")
    args = parser.parse_args(argv)
    unknown = [g for g in args.groups if g not in GROUPS]
    if unknown:
        parser.error(f"unknown group {', '.join(unknown)}: use {', '.join(GROUPS)}")
    sys.exit(run(args.groups or list(GROUPS)))


if __name__ == "__main__":
    main()
