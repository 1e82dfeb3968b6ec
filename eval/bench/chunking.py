"""Embedding work per article: tokens embedded per article token (chunk overlap embeds
text twice), chunks per article and chunk sizes, for chunk settings side by side, on
real news (RealTime QA's articles, bodies cut at 4,000 characters as in issue 25; RGB's
snippets; the seed article). Tokens are cl100k (what chunks are sized in).

    python -m eval.bench.chunking                       # the default and the candidates
    python -m eval.bench.chunking --config 160/40 --config 256/0
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

from eval.bench.common import REPO, RGB_FILE

RTQA = next((p for p in (parent / "shared" / "datasets" / "realtimeqa" / "articles.jsonl"
                         for parent in REPO.parents[:3]) if p.is_file()), None)
BODY_CHARS = 4000


def rtqa_articles(limit: int | None = None) -> list:
    """RealTime QA's articles (normalised as ingest does), bodies cut at 4,000 characters."""
    from rag.records import Article
    from rag.text import normalise_text

    if RTQA is None:
        return []
    out = []
    for line in RTQA.read_text(encoding="utf-8").splitlines()[:limit]:
        record = json.loads(line)
        text = normalise_text(record["body"][:BODY_CHARS])
        if text:
            out.append(Article(doc_id=record["id"], text=text, title=record.get("title") or ""))
    return out


def rgb_articles() -> list:
    from eval.rgb import load_instances, rgb_available, snippet_doc_id
    from rag.records import Article
    from rag.text import normalise_text

    if not rgb_available(RGB_FILE.parent):
        return []
    seen = {}
    for instance in load_instances(RGB_FILE.parent):
        for snippet in [*instance.get("positive", []), *instance.get("negative", [])]:
            text = normalise_text(snippet)
            seen.setdefault(text, Article(doc_id=snippet_doc_id(text), text=text, title=""))
    return list(seen.values())


def work(articles: list, chunk_tokens: int, overlap: int) -> dict:
    """Tokens embedded per article token and chunk facts for one chunk setting."""
    from rag.ingest.chunking import chunk_article
    from rag.tokens import count_tokens

    article_tokens = embedded = chunks = 0
    sizes = []
    for article in articles:
        article_tokens += count_tokens(article.text)
        for chunk in chunk_article(article, chunk_tokens, overlap):
            n = count_tokens(chunk.text)
            embedded += n
            sizes.append(n)
            chunks += 1
    return {"articles": len(articles), "article_tokens": article_tokens,
            "embedded_tokens": embedded, "chunks": chunks,
            "embedded_per_article_token": embedded / max(1, article_tokens),
            "chunks_per_article": chunks / max(1, len(articles)),
            "median_chunk_tokens": statistics.median(sizes) if sizes else 0}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.bench.chunking", description=__doc__)
    parser.add_argument("--config", action="append",
                        help="chunk_tokens/overlap, repeatable (default: 160/40 and candidates)")
    args = parser.parse_args(argv)
    configs = [tuple(int(x) for x in c.split("/")) for c in
               (args.config or ["160/40", "160/0", "200/0", "256/0", "320/0", "400/0"])]
    sets = {"realtimeqa": rtqa_articles(), "rgb": rgb_articles()}
    print(f"{'set':11} {'chunk/overlap':>13} {'articles':>8} {'chunks':>7} {'chunks/art':>10} "
          f"{'median tok':>10} {'embedded/article tok':>20}")
    for name, articles in sets.items():
        if not articles:
            print(f"{name:11} not found")
            continue
        for tokens, overlap in configs:
            w = work(articles, tokens, overlap)
            print(f"{name:11} {f'{tokens}/{overlap}':>13} {w['articles']:>8} {w['chunks']:>7} "
                  f"{w['chunks_per_article']:>10.2f} {w['median_chunk_tokens']:>10.0f} "
                  f"{w['embedded_per_article_token']:>20.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
