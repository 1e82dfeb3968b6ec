"""`rag eval`: the gate passes on the seed set with the offline default, fails naming the
metric when retrieval is broken, writes its reports, and runs RGB when it is present."""

import json

import pytest
from click.testing import CliRunner

from eval import rgb
from rag.cli import main
from tests.support.fake_openai import fake_openai


def _eval(args, env=None):
    return CliRunner().invoke(main, ["eval", "--quiet", *args], env=env or {})


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    """An eval work folder (isolated store) shared by this module's runs."""
    return tmp_path_factory.mktemp("eval-work")


@pytest.fixture(scope="module")
def seed_run(work, tmp_path_factory):
    """One gated seed run on the offline default; the 'user' store is a path to watch."""
    reports = tmp_path_factory.mktemp("reports")
    user_store = tmp_path_factory.mktemp("user") / "chroma"
    result = _eval(["--gate", "--work-dir", str(work), "--report-dir", str(reports)],
                   env={"NEWSDESK_STORE_PATH": str(user_store), "NEWSDESK_GENERATOR": "extractive"})
    return result, reports, user_store


def test_gate_passes_on_the_seed_set_with_the_offline_default(seed_run):
    result, _, _ = seed_run
    assert result.exit_code == 0, result.output
    assert "gate passed: seed with extractive" in result.stdout
    assert "hit@5" in result.stdout and "refusal accuracy" in result.stdout


def test_eval_writes_json_markdown_and_plot_reports(seed_run):
    _, reports, _ = seed_run
    (data_path,) = reports.glob("*-seed-extractive.json")
    data = json.loads(data_path.read_text())
    assert len(data["results"]) == 44 and data["gate"]["passed"] is True
    assert 0 < data["summary"]["overall"]["hit_at_k"] <= 1
    assert data["summary"]["per_tag"]["followup"]["questions"] == 6
    assert (reports / data_path.with_suffix(".md").name).read_text().startswith("# Eval: seed")
    assert (reports / data_path.with_suffix(".png").name).read_bytes()[:4] == b"\x89PNG"


def test_eval_leaves_the_configured_store_untouched(seed_run):
    result, _, user_store = seed_run
    assert result.exit_code == 0
    assert not user_store.exists()


def test_gate_fails_with_top_k_0_naming_the_metric(work, tmp_path):
    result = _eval(["--gate", "--top-k", "0", "--work-dir", str(work), "--report-dir", str(tmp_path)],
                   env={"NEWSDESK_GENERATOR": "extractive"})
    assert result.exit_code == 1
    assert "gate FAILED: seed with extractive" in result.stderr
    assert "(hit_at_k) = 0.000, below the minimum" in result.stderr
    assert "Traceback" not in result.output


def test_gate_fails_on_a_wrong_collection_naming_the_metric(tmp_path):
    env = {"NEWSDESK_STORE_PATH": str(tmp_path / "chroma"), "NEWSDESK_COLLECTION": "wrong-collection",
           "NEWSDESK_GENERATOR": "extractive"}
    result = _eval(["--gate", "--reuse-store", "--report-dir", str(tmp_path)], env=env)
    assert result.exit_code == 1
    assert "no articles in collection 'wrong-collection'" in result.stderr
    assert "hit@5 (hit_at_k) = 0.000, below the minimum" in result.stderr


def test_gate_fails_on_an_empty_collection_naming_the_metric(tmp_path):
    from rag.config import Settings
    from rag.index.embeddings import embedding_name, get_embeddings
    from rag.index.store import open_store

    settings = Settings(store_path=tmp_path / "chroma", collection="empty-collection")
    embeddings = get_embeddings(settings)
    open_store(settings, embedding_name(embeddings), embeddings.dimension, create=True)
    env = {"NEWSDESK_STORE_PATH": str(tmp_path / "chroma"), "NEWSDESK_COLLECTION": "empty-collection",
           "NEWSDESK_GENERATOR": "extractive"}
    result = _eval(["--gate", "--reuse-store", "--report-dir", str(tmp_path)], env=env)
    assert result.exit_code == 1
    assert "hit@5 (hit_at_k) = 0.000, below the minimum" in result.stderr
    assert "Traceback" not in result.output


def test_a_bad_dataset_file_is_a_one_line_error(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x", "question": "Who?"}\n', encoding="utf-8")
    result = _eval(["--dataset", str(bad), "--report-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "bad.jsonl line 1: missing field(s)" in result.stderr
    assert "Traceback" not in result.output


def test_generators_are_compared_and_judged_on_the_same_questions(work, tmp_path):
    reply = '{"correct": 1, "faithful": 1}'
    with fake_openai(reply) as (fake, url):
        result = _eval(["--generator", "extractive", "--generator", "openai-compatible", "--judge",
                        "--limit", "3", "--work-dir", str(work), "--report-dir", str(tmp_path)],
                       env={"NEWSDESK_BASE_URL": url, "NEWSDESK_MODEL": "fake"})
    assert result.exit_code == 0, result.output
    runs = {json.loads(p.read_text())["generator"]: json.loads(p.read_text())
            for p in tmp_path.glob("*.json")}
    assert set(runs) == {"extractive", "openai-compatible"}
    assert [r["id"] for r in runs["extractive"]["results"]] == \
        [r["id"] for r in runs["openai-compatible"]["results"]] == ["seed-001", "seed-002", "seed-003"]
    assert runs["extractive"]["summary"]["overall"]["judge_correct"] == 1.0
    assert any("You grade answers" in m["content"] for r in fake.requests
               for m in r["body"]["messages"])
    assert len(list(tmp_path.glob("*-compare.md"))) == 1


@pytest.mark.slow
@pytest.mark.skipif(not rgb.rgb_available(), reason="RGB data not at ../shared/datasets/rgb")
def test_rgb_subset_prints_its_figures_and_writes_reports(work, tmp_path):
    result = _eval(["--dataset", "rgb", "--limit", "6", "--work-dir", str(work),
                    "--report-dir", str(tmp_path)], env={"NEWSDESK_GENERATOR": "extractive"})
    assert result.exit_code == 0, result.output
    for figure in ("hit@5", "answer accuracy (contains gold)", "refusal accuracy (unanswerable)"):
        assert figure in result.stdout
    (data_path,) = tmp_path.glob("*-rgb-extractive.json")
    data = json.loads(data_path.read_text())
    assert [r["id"] for r in data["results"]] == ["rgb-0", "rgb-0-u", "rgb-1", "rgb-1-u", "rgb-2", "rgb-2-u"]
    assert data["settings"]["collection"].startswith("newsdesk-eval-rgb-3q")
    # each unanswerable variant is asked without its own question's positives (another
    # question's may fill its top 5: they do not hold its answer)
    by_id = {r["id"]: r for r in data["results"]}
    for n, item in enumerate(rgb.load_instances()[:3]):
        positives = {rgb.snippet_doc_id(s, "3q") for s in item["positive"]}
        seen = {p["doc_id"] for p in by_id[f"rgb-{n}-u"]["passages"]}
        assert positives and not seen & positives, f"rgb-{n}-u saw its positives"
    assert list(tmp_path.glob("*.png")) and list(tmp_path.glob("*.md"))
