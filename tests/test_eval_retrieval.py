"""The eval harness asks the production retriever: what it scores is what users get."""

import json

from eval.datasets import EvalRecord
from eval.harness import ask, make_desk
from rag.ingest import ingest
from rag.records import Filters

QUESTIONS = ["What did Lavrov demand?", "Where were the talks held?",
             "What did Blinken say about Ukraine?", "What did the ministers agree on energy?"]


def _corpus_with_three_articles(settings):
    for name, text in {
        "energy": "Energy ministers met in Brussels and agreed to cap gas prices for the winter. "
                  "Blinken said Ukraine would get help with its power grid.",
        "geneva": "Talks in Geneva ended without a deal. Lavrov demanded written guarantees "
                  "that NATO would not expand east, officials said.",
    }.items():
        (settings.corpus_dir / f"{name}.json").write_text(
            json.dumps({"title": name, "body": text, "date": "2022-01-22"}), encoding="utf-8")
    ingest(settings.corpus_dir, settings, progress=False)


def test_eval_answers_from_the_same_passages_as_the_production_retriever(settings):
    _corpus_with_three_articles(settings)
    desk = make_desk(settings, log=lambda _: None)
    for question in QUESTIONS:
        for hidden in ([], ["corpus/geneva.json"], ["corpus/000_3ff6c92db07b6aa6.md", "corpus/energy.json"]):
            record = EvalRecord(id="q", question=question, reference_answer="", answerable=True,
                                evidence=[], exclude_doc_ids=hidden)
            scored = [p.chunk_id for p in ask(desk, record, top_k=5).passages]
            served = [p.chunk_id for p in desk.retriever.search(
                question, 5, Filters(exclude_doc_ids=frozenset(hidden)))]
            assert scored == served
            assert not {p.doc_id for p in ask(desk, record, 5).passages} & set(hidden)
