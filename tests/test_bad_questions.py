"""Bad questions: a clear message or a proper answer, never a traceback.

Empty, whitespace, 100 kB, control characters, lone surrogates, other languages and
scripts, wrong types, malformed history and filters; through `Newsdesk.answer`,
`Newsdesk.stream` and the `rag ask` command. The `desk` and `seeded_settings` fixtures
(tests/conftest.py) hold the shipped corpus in a real store.
"""

from __future__ import annotations

import json
import time

import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from rag.answer import QuestionError
from rag.records import Filters
from tests.support.cli import run_rag
from tests.support.reliability import check_contract

LAVROV = "What did Lavrov demand?"


def _assert_answer_is_safe(answer, corpus) -> None:
    """A proper answer: the contract holds and it serialises to UTF-8 JSON."""
    check_contract(answer, corpus)
    json.dumps(answer.to_dict(), ensure_ascii=False).encode("utf-8")
    assert answer.answer.strip()


@pytest.mark.parametrize("question", ["", " ", "\t\n\r ", "\u00a0\u2003\u3000", "\u200b\u200d\ufeff",
                                      "\x00\x01\x1b\x7f", "\ud800\udfff"])
def test_an_empty_or_invisible_question_gets_the_empty_message(desk, question):
    with pytest.raises(QuestionError, match="the question is empty"):
        desk.answer(question)


def test_a_100_kb_question_is_refused_quickly_with_the_limit_named(desk):
    started = time.perf_counter()
    with pytest.raises(QuestionError) as err:
        desk.answer("Why did Lavrov demand guarantees? " * 3000)
    assert time.perf_counter() - started < 2, "a huge question must be refused before any work"
    assert "limit is 2000" in str(err.value) and "max_question_chars" in str(err.value)


def test_a_question_at_the_length_limit_is_answered(desk, seeded_settings):
    limit = seeded_settings.max_question_chars
    question = (LAVROV + " ") * (limit // len(LAVROV + " "))
    question = question + "x" * (limit - len(question))
    assert len(question) == limit
    _assert_answer_is_safe(desk.answer(question), seeded_settings.corpus_dir)


@pytest.mark.parametrize("question", [None, b"What did Lavrov demand?", 42, ["What"], {"q": 1}])
def test_a_question_that_is_not_text_gets_a_clear_message(desk, question):
    with pytest.raises(QuestionError, match="must be text"):
        desk.answer(question)


def test_control_characters_in_a_question_do_not_change_its_answer(desk):
    clean = desk.answer(LAVROV)
    dirty = desk.answer("What\x00 did\x1b[31m Lavrov\u200b\r\n demand?\x07\u202e")
    assert not clean.refused
    assert (dirty.answer, dirty.refused) == (clean.answer, clean.refused)


@pytest.mark.parametrize("question", [
    "Что потребовал Лавров?",                      # Russian
    "拉夫罗夫要求什么？",                              # Chinese
    "ماذا طلب لافروف؟",                              # Arabic, right to left
    "लावरोव ने क्या मांगा?",                            # Hindi
    "ラブロフは何を要求しましたか？",                      # Japanese
    "Lavrov ne talep etti? İstanbul'da mı?",       # Turkish dotted I
    "W̷̛h̸a̴t̵ d̶i̵d̷ L̴a̵v̷r̵o̶v̴ d̸e̸m̵a̵n̷d̵?",                   # combining marks
    "🇷🇺🤝🇺🇸 ❓",                                     # emoji only
    "\u202eWhat did Lavrov demand?\u202c",         # bidi override
    "What \ud800 did Lavrov demand?",              # lone surrogate
    "ｗｈａｔ ｄｉｄ Ｌａｖｒｏｖ ｄｅｍａｎｄ？",                # full-width Latin
])
def test_a_question_in_another_script_gets_a_proper_answer_or_refusal(desk, seeded_settings, question):
    _assert_answer_is_safe(desk.answer(question), seeded_settings.corpus_dir)


@hsettings(max_examples=150, deadline=None, database=None,
           suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.text(st.characters(codec=None, exclude_categories=()), max_size=300))
def test_any_text_is_answered_or_refused_with_a_message(desk, seeded_settings, question):
    try:
        answer = desk.answer(question)
    except QuestionError as err:
        assert str(err).startswith("the question")
        return
    _assert_answer_is_safe(answer, seeded_settings.corpus_dir)


def test_a_streamed_bad_question_raises_the_same_clear_message(desk):
    with pytest.raises(QuestionError, match="empty"):
        list(desk.stream("   "))


@pytest.mark.parametrize("history", [
    "not a list",
    [None, 42, "junk", {"role": "user"}, {"content": "x"}, {"role": "user", "content": ["a", "b"]}],
    [{"role": "user", "content": "Tell me about Geneva."}, "junk"],
    [{"role": "user", "content": "x" * 100_000}],
])
def test_a_malformed_history_is_ignored_rather_than_a_traceback(desk, seeded_settings, history):
    answer = desk.answer(LAVROV, history=history)
    _assert_answer_is_safe(answer, seeded_settings.corpus_dir)


@pytest.mark.parametrize("top_k", [-5, 0, 10_000])
def test_an_odd_top_k_is_answered_or_refused(desk, seeded_settings, top_k):
    answer = desk.answer(LAVROV, top_k=top_k)
    _assert_answer_is_safe(answer, seeded_settings.corpus_dir)
    assert answer.refused == (top_k <= 0)


def test_a_malformed_date_filter_is_named_in_the_message(desk):
    with pytest.raises(ValueError, match="'yesterday' must look like YYYY-MM-DD"):
        desk.answer(LAVROV, filters=Filters(date_from="yesterday"))


# --- the same through the `rag ask` command -------------------------------------------------

@pytest.mark.parametrize("args,message", [
    (["ask", ""], "error: the question is empty"),
    (["ask", "   \t  "], "error: the question is empty"),
    (["ask", "x" * 100_000], "error: the question is 100000 characters long"),
    (["ask", LAVROV, "--from", "last week"], "error: date filter 'last week' must look like"),
])
def test_the_cli_prints_one_clear_error_line_and_exits_1(seeded_settings, args, message):
    run = run_rag(*args, settings=seeded_settings, timeout=120)
    assert run.returncode == 1
    assert run.stderr.startswith(message), run.stderr[-2000:]
    assert "Traceback" not in run.stderr and len(run.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("question", ["Что потребовал Лавров?", "ماذا طلب لافروف؟",
                                      "What\x01 did\x1b Lavrov demand?"])
def test_the_cli_answers_any_script_as_json(seeded_settings, question):
    run = run_rag("ask", "--json", question, settings=seeded_settings, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "Traceback" not in run.stderr
    assert isinstance(json.loads(run.stdout)["refused"], bool)
