"""Opt-in LLM judge (`rag eval --judge`): correctness and faithfulness, graded by the
configured chat model (settings model/base_url/api_key, as for the openai and
openai-compatible generators).

LLM grades vary between runs and models, so they are reported next to the deterministic
metrics and never gated. The judge sees the question, the reference answer (or that the
articles do not answer it), the answer and the passages it cites, and must reply with
`{"correct": 0|1, "faithful": 0|1}`; a reply that cannot be read counts as unparsed
(None), not as a failure.
"""

from __future__ import annotations

import json
import re
from typing import Any

from eval.datasets import EvalRecord
from eval.metrics import strip_markers
from rag.config import Settings
from rag.answer.generators import ModelError
from rag.answer.generators.openai import chat_model, model_errors

SYSTEM = ("You grade answers to questions about news articles. Be strict and reply with one "
          "JSON object only, no other text.")
USER = """Question: {question}
Reference answer: {reference}

Passages the answer cites:
{passages}

Answer to grade: {answer}

Reply with {{"correct": 1 or 0, "faithful": 1 or 0}}.
correct: 1 if the answer gives the same facts as the reference answer (if the reference says
the articles do not answer the question, 1 only if the answer declines to answer).
faithful: 1 if every claim of the answer is stated in the cited passages (a refusal is faithful)."""
NO_ANSWER = "(none: the articles do not answer this question; the right answer declines)"
_FLAG = re.compile(r'"?(correct|faithful)"?\s*[:=]\s*"?(1|0|true|false|yes|no)', re.IGNORECASE)


def parse_grade(text: str) -> dict[str, int | None]:
    """{"correct": 0/1/None, "faithful": 0/1/None} from the judge's reply."""
    grade: dict[str, int | None] = {"correct": None, "faithful": None}
    match = re.search(r"\{.*?\}", text, re.DOTALL)
    if match:
        try:
            data = json.loads(match.group())
            for key in grade:
                value = data.get(key)
                if isinstance(value, bool) or value in (0, 1):
                    grade[key] = int(value)
                elif isinstance(value, str) and value.lower() in ("1", "0", "true", "false", "yes", "no"):
                    grade[key] = int(value.lower() in ("1", "true", "yes"))
        except (json.JSONDecodeError, AttributeError):
            pass
    for key, value in _FLAG.findall(text):
        if grade[key.lower()] is None:
            grade[key.lower()] = int(value.lower() in ("1", "true", "yes"))
    return grade


class Judge:
    """Grades answers with the configured chat model."""

    def __init__(self, settings: Settings) -> None:
        from langchain_core.output_parsers import StrOutputParser
        from langchain_core.prompts import ChatPromptTemplate

        if not settings.base_url and not settings.resolved_api_key():
            raise ModelError("--judge needs a chat model: choose a profile with base_url "
                             "(e.g. --profile llamacpp or ollama) or set OPENAI_API_KEY")
        self.settings = settings.with_changes(temperature=0.0, max_tokens=60)
        prompt = ChatPromptTemplate.from_messages([("system", SYSTEM), ("human", USER)])
        self.chain = prompt | chat_model(self.settings) | StrOutputParser()

    def grade(self, record: EvalRecord, answer: Any) -> dict[str, Any]:
        by_n = {p.n: p for p in answer.passages}
        cited = dict.fromkeys(c.n for c in answer.citations)
        passages = "\n".join(f"[{n}] {by_n[n].text}" for n in cited if n in by_n) or "(none)"
        reference = record.reference_answer if record.answerable else NO_ANSWER
        inputs = {"question": record.question, "reference": reference or "(not given)",
                  "passages": passages, "answer": strip_markers(answer.answer)}
        with model_errors(self.settings):
            reply = self.chain.invoke(inputs)
        grade = parse_grade(reply)
        if answer.refused and not record.answerable and grade["correct"] is None:
            grade["correct"] = 1  # a refusal of an unanswerable question needs no judge
        return {**grade, "reply": reply[:300]}
