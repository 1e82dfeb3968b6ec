"""Generators as plug-ins: one registry feeds the settings check, the CLI's choices and
the pipeline; the pipeline's refusal outcomes and citation repair, with a fake generator."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from rag.answer import Newsdesk, Outcome
from rag.answer.generators import (UnknownGeneratorError, generator_class, generator_names,
                                   unregister)
from tests.conftest import REPO
from tests.support.fake_generator import FakeGenerator


def readme_provider() -> str:
    """The example provider of the README's "How it works", as written there."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    start = text.index("**A new model provider is one module.**")
    return text[text.index("```python\n", start) + 10:text.index("```", text.index("```python\n", start) + 10)]


@pytest.fixture
def first_sentence():
    """The README's provider, registered by running its code."""
    code = readme_provider()
    assert len(code.splitlines()) <= 20
    exec(compile(code, "README.md", "exec"), {"__name__": "readme_provider"})
    yield "first-sentence"
    unregister("first-sentence")


def test_the_built_in_generators_are_registered_with_their_capabilities():
    assert generator_names()[:3] == ["extractive", "openai", "openai-compatible"]
    extractive, model = generator_class("extractive"), generator_class("openai-compatible")
    assert not extractive.streams and extractive.writes_own_timeline and not extractive.needs_model
    assert model.streams and model.writes_own_timeline and model.needs_model


def test_a_registered_generator_answers_through_newsdesk(seeded_settings, first_sentence):
    desk = Newsdesk(seeded_settings.with_changes(generator=first_sentence))
    answer = desk.answer("What did Lavrov demand?")
    assert answer.generator == first_sentence and answer.outcome is Outcome.ANSWERED
    assert answer.answer.split()[:4] == answer.passages[0].text.split()[:4]
    assert answer.citations and answer.citations[0].n == answer.passages[0].n
    assert answer.to_dict()["outcome"] == "answered" and answer.to_dict()["refused"] is False


def test_the_cli_offers_a_registered_generator(first_sentence):
    from rag.cli import main

    result = CliRunner().invoke(main, ["ask", "--help"])
    assert first_sentence in result.output


def test_an_unknown_generator_setting_is_refused_at_start_naming_the_choices(seeded_settings):
    with pytest.raises(UnknownGeneratorError, match="'no-such'.*extractive, openai"):
        Newsdesk(seeded_settings.with_changes(generator="no-such"))


def test_no_passages_is_its_own_refusal_outcome(seeded_settings):
    fake = FakeGenerator(seeded_settings, reply="anything [1]")
    answer = Newsdesk(seeded_settings, generator=fake).answer("What did Lavrov demand?", top_k=0)
    assert answer.refused and answer.outcome is Outcome.NO_PASSAGES and fake.asked == []


def test_a_passage_below_min_relevance_is_refused_before_generating(seeded_settings):
    settings = seeded_settings.with_changes(min_relevance=0.999)
    fake = FakeGenerator(settings, reply="anything [1]")
    answer = Newsdesk(settings, generator=fake).answer("What did Lavrov demand?")
    assert answer.outcome is Outcome.NOT_RELEVANT and fake.asked == []


@pytest.mark.parametrize("reason", [Outcome.BY_EVIDENCE, Outcome.BY_MODEL])
def test_the_generators_refusal_keeps_its_reason(seeded_settings, reason):
    fake = FakeGenerator(seeded_settings, refuse_with=reason)
    answer = Newsdesk(seeded_settings, generator=fake).answer("What did Lavrov demand?")
    assert answer.refused and answer.outcome is reason and len(fake.asked) == 1
    assert json.loads(json.dumps(answer.to_dict()))["outcome"] == reason.value


def test_a_draft_of_markers_only_is_refused_as_empty(seeded_settings):
    fake = FakeGenerator(seeded_settings, reply="[1] [2]")
    answer = Newsdesk(seeded_settings, generator=fake).answer("What did Lavrov demand?")
    assert answer.refused and answer.outcome is Outcome.EMPTY and answer.citations == []


def test_citation_repair_drops_unknown_markers_and_adds_a_missing_one(seeded_settings, desk):
    passages = desk.retriever.search("What did Blinken call the talks?")
    sentence = next(s for s in passages[0].text.split(". ") if len(s.split()) > 6).strip()
    fake = FakeGenerator(seeded_settings, reply=f"{sentence} [42]", streams=True)
    events = list(Newsdesk(seeded_settings, generator=fake).stream("What did Blinken call the talks?"))
    answer = events[-1]
    assert answer.outcome is Outcome.ANSWERED and "[42]" not in answer.answer
    assert 42 in answer.citation_check["removed"] and answer.citation_check["added"]
    assert "".join(e for e in events if isinstance(e, str)).startswith(sentence.split()[0])


def test_a_model_refusal_is_typed_and_never_streamed_as_text(seeded_settings):
    from tests.support.fake_openai import fake_openai

    with fake_openai("NOT IN ARTICLES") as (_, url):
        desk = Newsdesk(seeded_settings.with_changes(generator="openai-compatible", base_url=url,
                                                     api_key="sk-test-not-real"))
        events = list(desk.stream("What did Lavrov say about the weather in Geneva?"))
    assert [e for e in events if isinstance(e, str)] == []
    assert events[-1].refused and events[-1].outcome is Outcome.BY_MODEL


def test_a_cold_question_imports_only_the_generator_it_uses():
    """`rag ask`'s command line is built without reading the registry, and making the
    extractive generator imports neither the OpenAI provider nor pytz or dateutil (an
    untyped question never needs them); the registry still lists every built-in."""
    import subprocess
    import sys

    code = ("import sys, rag.cli; before = set(sys.modules); "
            "from rag.answer.generators import generator_class, generator_names; "
            "generator_class('extractive'); made = set(sys.modules); names = generator_names(); "
            "print(sorted(m for m in ('rag.answer.extractive', 'rag.answer.generators.openai') "
            "if m in before), sorted(m for m in ('rag.answer.generators.openai', 'pytz', "
            "'dateutil.parser') if m in made), names[:3])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[] [] ['extractive', 'openai', 'openai-compatible']"


def test_the_builtins_are_listed_first_whichever_was_made_first():
    import subprocess
    import sys

    code = ("from rag.answer.generators import generator_class, generator_names; "
            "generator_class('openai-compatible'); print(generator_names()[:3])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "['extractive', 'openai', 'openai-compatible']"
