"""Non-gating eval with a real local LLM, for CI's report and for comparing generators.

    python -m eval.local_llm_run [--dataset seed] [--every K] [--limit N] [--report-dir DIR]

Starts the test LLM server (`tests/support/llm_server.py`: SmolLM2-135M-Instruct served
by xllamacpp's OpenAI-compatible llama.cpp server on 127.0.0.1; needs
`make install-test`), then runs `rag eval` over the same questions with the extractive
generator and with `openai-compatible` against that server, and prints the comparison.
Run it from the repository root (it imports tests.support). It reports only: the exit
status is 0 whatever the metrics, 1 when the server or the run fails.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from eval.harness import DEFAULT_WORK_DIR

REPO_ROOT = Path(__file__).resolve().parent.parent


def _every(dataset: str, k: int, work_dir: Path) -> Path:
    """Every k-th record of a JSON Lines dataset (seed or a path), as a new file."""
    from eval.datasets import SEED_PATH, load_jsonl, write_jsonl

    source = SEED_PATH if dataset == "seed" else Path(dataset)
    records = load_jsonl(source)[::k]
    work_dir.mkdir(parents=True, exist_ok=True)
    path = work_dir / f"{source.stem}-every{k}.jsonl"
    write_jsonl(records, path)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Eval the seed set with a local LLM (reports, never gates).")
    parser.add_argument("--dataset", default="seed")
    parser.add_argument("--limit", type=int, help="only the first N questions")
    parser.add_argument("--every", type=int, default=1, metavar="K",
                        help="only every K-th question (a spread over the question kinds; "
                             "written to the work folder as <dataset>-everyK.jsonl)")
    parser.add_argument("--report-dir", type=Path)
    parser.add_argument("--work-dir", type=Path)
    parser.add_argument("--max-tokens", type=int, default=120,
                        help="longest answer the model may write (keeps the run short)")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(REPO_ROOT))
    from tests.support.llm_server import MODEL_NAME, LLMServerError, running_llm_server

    from rag.cli import main as rag_main

    dataset = args.dataset
    if args.every > 1:
        dataset = str(_every(args.dataset, args.every, args.work_dir or DEFAULT_WORK_DIR))
    command = ["eval", "--dataset", dataset, "--generator", "extractive",
               "--generator", "openai-compatible"]
    for option, value in (("--limit", args.limit), ("--report-dir", args.report_dir),
                          ("--work-dir", args.work_dir)):
        if value is not None:
            command += [option, str(value)]
    try:
        with running_llm_server() as base_url:
            print(f"local LLM {MODEL_NAME} at {base_url}", file=sys.stderr, flush=True)
            os.environ.update({"NEWSDESK_BASE_URL": base_url, "NEWSDESK_MODEL": MODEL_NAME,
                               "NEWSDESK_MAX_TOKENS": str(args.max_tokens),
                               "NEWSDESK_REQUEST_TIMEOUT": "180"})
            code = rag_main(command, standalone_mode=False)
    except LLMServerError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main())
