"""Post-retrieval steps: configured by name, applied in order, named in the answer JSON."""

import json
from dataclasses import replace
from pathlib import Path

import pytest

from rag.answer import Newsdesk
from rag.config import ConfigError
from rag.ingest import ingest
from rag.search.query import Query
from rag.search.steps import STEPS, make_steps
from tests.conftest import make_settings


def _long_article_and_a_short_one(settings):
    body = " ".join(f"Paragraph {i}: the summit in Geneva discussed energy prices and troops."
                    for i in range(60))
    (settings.corpus_dir / "long.json").write_text(json.dumps({"title": "Long", "body": body}))
    (settings.corpus_dir / "short.json").write_text(json.dumps(
        {"title": "Short", "body": "A second report: the Geneva summit on energy prices ended."}))
    ingest(settings.corpus_dir, settings, progress=False)


def test_without_steps_one_long_article_can_fill_the_top_k(tmp_path, corpus):
    settings = make_settings(tmp_path, top_k=5, post_retrieval=[])
    _long_article_and_a_short_one(settings)
    answer = Newsdesk(settings).answer("Geneva summit energy prices")
    assert answer.steps == []
    assert sum(p.doc_id.endswith("/long.json") for p in answer.passages) > 2


def test_per_article_limit_caps_passages_per_article_and_is_named_in_the_answer(tmp_path, corpus):
    settings = make_settings(tmp_path, top_k=5, post_retrieval=["per_article_limit"],
                             max_passages_per_article=2)
    _long_article_and_a_short_one(settings)
    answer = Newsdesk(settings).answer("Geneva summit energy prices")
    assert sum(p.doc_id.endswith("/long.json") for p in answer.passages) == 2
    assert any(p.doc_id.endswith("/short.json") for p in answer.passages)
    assert [p.n for p in answer.passages] == list(range(1, len(answer.passages) + 1))
    assert answer.to_dict()["steps"] == ["per_article_limit"]


def test_an_unknown_step_fails_at_start_up_naming_the_setting(tmp_path, corpus):
    settings = make_settings(tmp_path, post_retrieval=["no_such_step"])
    ingest(settings.corpus_dir, settings, progress=False)
    with pytest.raises(ConfigError, match="post_retrieval.*no_such_step"):
        Newsdesk(settings)


def test_steps_can_be_given_in_the_environment_as_a_comma_list(monkeypatch):
    from rag.config import load_settings

    monkeypatch.setenv("NEWSDESK_POST_RETRIEVAL", "per_article_limit, per_article_limit")
    assert load_settings(None, None).settings.post_retrieval == ["per_article_limit"] * 2


def readme_example(heading: str) -> str:
    """The first ```python block after `heading` in the README (the documented example)."""
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    after = readme[readme.index(heading):]
    return after.split("```python\n", 1)[1].split("```", 1)[0]


def test_the_readme_example_step_registers_and_runs_by_name(tmp_path, corpus):
    code = readme_example("**Post-retrieval steps.**")
    try:
        exec(compile(code, "README.md", "exec"), {})
        assert "min_words" in STEPS and STEPS["min_words"].name == "min_words"
        settings = make_settings(tmp_path, top_k=5, post_retrieval=["min_words"])
        _long_article_and_a_short_one(settings)
        answer = Newsdesk(settings).answer("Geneva summit energy prices")
        assert answer.steps == ["min_words"]
        assert answer.passages and all(len(p.text.split()) >= 8 for p in answer.passages)
        step = make_steps(settings)[0]
        kept, cut = answer.passages[0], replace(answer.passages[0], text="Geneva energy prices.")
        assert step([cut, kept], Query("q")) == [kept]
    finally:
        STEPS.pop("min_words", None)
