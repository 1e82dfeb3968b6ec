"""Warm answer latency: `Newsdesk.answer()` (offline defaults: e5-onnx + extractive) on the
seed questions over the base store (the seed article and RGB articles)."""

from __future__ import annotations

import json
import time

from eval.bench.common import SEED_QUESTIONS, Report, log, percentile, summary_ms


def bench_answer(report: Report, settings, rounds: int) -> None:
    from rag.answer import Newsdesk

    log("answer latency (warm)")
    rows = [json.loads(line) for line in SEED_QUESTIONS.read_text(encoding="utf-8").splitlines()
            if line.strip()]
    desk = Newsdesk(settings)
    for row in rows[:3]:
        desk.answer(row["question"], history=row.get("history"))
    seconds: list[float] = []
    parts: dict[str, list[int]] = {}
    for _ in range(rounds):
        for row in rows:
            started = time.perf_counter()
            answer = desk.answer(row["question"], history=row.get("history"))
            seconds.append(time.perf_counter() - started)
            for name, ms in answer.timings_ms.items():
                parts.setdefault(name, []).append(ms)
    stats = summary_ms(seconds)
    report.details["answer"] = {"questions": len(rows), "rounds": rounds, "latency_ms": stats,
                                "timings_ms_p50": {k: percentile(v, 50) for k, v in parts.items()}}
    how = (f"Newsdesk(e5-onnx + extractive).answer() on the {len(rows)} seed questions (with "
           f"history for follow-ups) x {rounds}, warm, over the base store")
    report.add("answer.p50_ms", "Answer latency p50 (warm)", stats["p50"], "ms", how, "< 150",
               lambda v: v < 150)
    report.add("answer.p95_ms", "Answer latency p95 (warm)", stats["p95"], "ms", how)
