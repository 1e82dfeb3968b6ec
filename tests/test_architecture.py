"""The pipeline runs one way (sources → ingest → index → search → answer → surfaces),
and the `rag` command loads the page and the eval harness only when they are asked for."""

import subprocess
import sys

from tests.conftest import REPO


def test_import_contracts_hold():
    run = subprocess.run([str(REPO / ".venv" / "bin" / "lint-imports"), "--no-cache"],
                         cwd=REPO, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout[-3000:]
    assert "0 broken" in run.stdout


def test_the_rag_command_does_not_import_eval_or_ui_at_start():
    code = ("import sys, rag.cli; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('eval', 'ui')))")
    run = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]"


def test_eval_and_serve_are_still_rag_commands():
    run = subprocess.run([sys.executable, "-m", "rag.cli", "--help"], cwd=REPO,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0
    for command in ("ask", "chat", "config", "eval", "ingest", "serve"):
        assert f"  {command}" in run.stdout


def test_the_contracts_that_keep_the_index_and_the_surfaces_apart_are_checked():
    run = subprocess.run([str(REPO / ".venv" / "bin" / "lint-imports"), "--no-cache"],
                         cwd=REPO, capture_output=True, text=True, timeout=120)
    for contract in ("only the index reads its catalog", "surfaces use the answer, index and "
                     "retriever", "the page and the evaluation do not import each other",
                     "no import cycles between the modules of a stage"):
        assert f"{contract}" in run.stdout and "KEPT" in run.stdout.split(contract, 1)[1].split("\n")[0]
