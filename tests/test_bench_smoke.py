"""The benchmark's quick mode still runs end to end and reports every figure it promises."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# Figures every run must report (the list); per-size ones are checked for each size.
FIGURES = [
    "ingest.chunks", "ingest.raw_embed_s", "ingest.first_s", "ingest.overhead_ratio",
    "ingest.overhead_ratio_cpu", "ingest.overhead_ratio_part_median", "langchain.first_s",
    "langchain.first_ratio", "langchain.first_ratio_cpu", "langchain.first_ratio_part_median",
    "langchain.raw_embed_s", "langchain.overhead_ratio", "langchain.embedding_work_ratio",
    "ingest.reingest_s", "ingest.reingest_speedup", "langchain.reingest_s",
    "answer.p50_ms", "answer.p95_ms", "cold_start.s", "cold_start.exit_s",
    "cold_start.interpreter_s", "cold_start.stage.import_answer_pipeline",
    "cold_start.stage.load_embedding_model", "cold_start.stage.first_answer",
] + [f"engine.{config}.{name}" for config in ("libgomp_default", "shipped")
     for name in ("passages_per_s", "query_p50_ms", "query_p95_ms", "loaded_query_p50_ms",
                  "loaded_query_p95_ms")]
PER_SIZE = ["search_p50_ms", "search_p95_ms", "filtered_p50_ms", "filtered_p95_ms", "dense_p50_ms",
            "raw_p50_ms", "raw_p95_ms", "raw_filtered_p50_ms", "embed_p50_ms", "bm25_p50_ms",
            "fusion_overhead", "fusion_overhead_filtered", "vs_raw", "index_load_s",
            "after_change_ms"]


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory) -> tuple[subprocess.CompletedProcess, Path]:
    out = tmp_path_factory.mktemp("bench")
    proc = subprocess.run([sys.executable, "-m", "eval.bench", "--quick", "--out", str(out)],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    return proc, out


def _report(out: Path) -> dict:
    (path,) = out.glob("bench-*.json")
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.mark.slow
def test_quick_bench_exits_cleanly_and_prints_the_table(quick_run):
    proc, _ = quick_run
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "figure" in proc.stdout and "How each figure was measured" in proc.stdout


@pytest.mark.slow
def test_quick_bench_reports_every_figure_as_a_number(quick_run):
    proc, out = quick_run
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = _report(out)
    figures = report["figures"]
    expected = list(FIGURES)
    for size in report["sizes"]:
        label = f"{size // 1000}k" if size % 1000 == 0 else str(size)
        expected += [f"retrieval.{where}.{label}.{name}" for where in ("embedded", "server")
                     for name in PER_SIZE]
        expected.append(f"memory.{label}.peak_rss_mb")
    largest = max(report["sizes"])
    largest = f"{largest // 1000}k" if largest % 1000 == 0 else str(largest)
    expected += [f"memory.server.{largest}.peak_rss_mb", f"memory.server_client.{largest}.peak_rss_mb"]
    missing = [key for key in expected if key not in figures]
    assert not missing, f"figures missing from the report: {missing}"
    for key in expected:
        value = figures[key]["value"]
        assert isinstance(value, (int, float)) and math.isfinite(value) and value >= 0, (key, value)
        assert figures[key]["how"], f"{key} does not say how it was measured"


@pytest.mark.slow
def test_quick_bench_reingest_embeds_nothing_and_langchain_duplicates(quick_run):
    proc, out = quick_run
    assert proc.returncode == 0, proc.stderr[-3000:]
    details = _report(out)["details"]["ingest"]
    assert details["again"]["embedded"] == 0
    assert details["again"]["unchanged"] == details["chunks"]
    assert details["langchain"]["count_after_second"] == 2 * details["langchain"]["count_after_first"]


@pytest.mark.slow
def test_quick_bench_writes_a_png_plot(quick_run):
    proc, out = quick_run
    assert proc.returncode == 0, proc.stderr[-3000:]
    (png,) = out.glob("bench-*.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size > 10_000
