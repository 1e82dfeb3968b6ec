"""What every benchmark family (and the tests) share: figures and the report, timing
statistics, memory readings, free ports, a real `chroma run` server, isolated settings and
fresh worker processes."""

from __future__ import annotations

import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
CACHE = REPO / ".newsdesk" / "bench"          # synthetic stores, built once per size
# ../shared/datasets/rgb beside the repo (a git worktree sits one level deeper)
RGB_FILE = next((p for p in (parent / "shared" / "datasets" / "rgb" / "en_fact.json"
                             for parent in REPO.parents[:3]) if p.is_file()),
                REPO.parent / "shared" / "datasets" / "rgb" / "en_fact.json")
SEED_QUESTIONS = REPO / "eval" / "datasets" / "seed.jsonl"
REPORTS = REPO / "eval" / "reports"
COLD_QUESTION = "What did Lavrov demand?"


# --- figures -------------------------------------------------------------------------

@dataclass
class Figure:
    """One reported number: what it is, its goal (if any) and how it was measured."""

    key: str
    label: str
    value: float | None
    unit: str
    how: str
    goal: str | None = None
    ok: bool | None = None


class Report:
    """Figures in the order they were measured, plus raw details per family."""

    def __init__(self) -> None:
        self.figures: list[Figure] = []
        self.details: dict[str, Any] = {}
        self.notes: list[str] = []

    def add(self, key: str, label: str, value: float | None, unit: str, how: str,
            goal: str | None = None, check: Callable[[float], bool] | None = None) -> None:
        ok = None if value is None or check is None else bool(check(value))
        self.figures.append(Figure(key, label, None if value is None else round(float(value), 4),
                                   unit, how, goal, ok))

    def value(self, key: str) -> float | None:
        return next((f.value for f in self.figures if f.key == key), None)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def summary_ms(seconds: list[float]) -> dict[str, float]:
    ms = [s * 1000 for s in seconds]
    return {"p50": percentile(ms, 50), "p95": percentile(ms, 95),
            "mean": statistics.fmean(ms) if ms else float("nan"), "n": len(ms)}


def size_label(size: int) -> str:
    if size >= 1_000_000 and size % 1_000_000 == 0:
        return f"{size // 1_000_000}M"
    return f"{size // 1000}k" if size % 1000 == 0 else str(size)


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- memory --------------------------------------------------------------------------

def _status_mb(field: str, pid: int | str = "self") -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def peak_rss_mb(pid: int | str = "self") -> float:
    """Peak resident set size (VmHWM) of a process; ru_maxrss would carry a parent's peak
    across fork+exec."""
    value = _status_mb("VmHWM", pid)
    if value != value and pid == "self":
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return value


def current_rss_mb(pid: int | str = "self") -> float:
    return _status_mb("VmRSS", pid)


# --- ports, settings, subprocesses --------------------------------------------------

def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop_process(proc: subprocess.Popen, grace: float = 30) -> None:
    """Terminate a child (a `rag serve`), killing it when it outlives the grace seconds."""
    proc.terminate()
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=grace)


def make_settings(**values: Any):
    """Settings from the given values and the defaults only (no newsdesk.toml: Settings()
    does not read one; NEWSDESK_* variables are the caller's to clear)."""
    from rag.config import Settings

    return Settings(**values)


SETTING_NAMES = ("corpus_dir", "store", "store_path", "chroma_host", "chroma_port", "collection",
                 "embedding_batch_size", "chunk_tokens", "chunk_overlap", "generator",
                 "base_url", "model", "request_timeout")


def isolated_env(settings, **extra: str) -> dict[str, str]:
    """Environment for a `rag` subprocess that uses exactly these settings (no inherited
    NEWSDESK_* variables or API key, telemetry and analytics off, models offline)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("NEWSDESK_") and k != "OPENAI_API_KEY"}
    for name in SETTING_NAMES:
        value = getattr(settings, name, None)
        if value is not None:
            env["NEWSDESK_" + name.upper()] = str(value)
    env.update(GRADIO_ANALYTICS_ENABLED="False", ANONYMIZED_TELEMETRY="False",
               HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    env.update(extra)
    return env


def rag_command() -> list[str]:
    """The `rag` console script beside this interpreter (or `python -m rag.cli`)."""
    rag = VENV_BIN / "rag"
    return [str(rag)] if rag.exists() else [sys.executable, "-m", "rag.cli"]


def run_worker(module: str, spec: dict, timeout: float = 3600, env: dict | None = None,
               cwd: Path | None = None) -> dict:
    """Run `python -m <module> --worker` in a fresh process: spec on stdin, JSON back on
    stdout. Used where a figure must come from a process that loads everything itself."""
    env = dict(os.environ if env is None else env)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    proc = subprocess.run([sys.executable, "-m", module, "--worker"], input=json.dumps(spec),
                          capture_output=True, text=True, cwd=cwd or REPO, timeout=timeout, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"worker {module} failed ({proc.returncode}): {proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def worker_main(work: Callable[[dict], dict]) -> None:
    """The `--worker` side of run_worker."""
    spec = json.loads(sys.stdin.read())
    print(json.dumps(work(spec), default=str))


# --- a real Chroma server ------------------------------------------------------------

class ChromaServer:
    """`chroma run` on 127.0.0.1 in a subprocess; can be stopped and started again, and
    used as a context manager."""

    def __init__(self, path: Path, port: int | None = None, log_path: Path | None = None) -> None:
        self.path, self.port = Path(path), port or free_port()
        self.proc: subprocess.Popen | None = None
        self.log = log_path or self.path.parent / f"chroma-{self.port}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def alive(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + "/api/v2/heartbeat", timeout=1) as resp:
                return resp.status == 200
        except OSError:
            return False

    def start(self, timeout: float = 60) -> "ChromaServer":
        chroma = VENV_BIN / "chroma"
        if not chroma.exists():
            raise RuntimeError(f"{chroma} not found: install chromadb into this environment")
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [str(chroma), "run", "--path", str(self.path), "--host", "127.0.0.1",
                 "--port", str(self.port)], stdout=log, stderr=subprocess.STDOUT,
                env={**os.environ, "ANONYMIZED_TELEMETRY": "False"})
        deadline = time.monotonic() + timeout
        while not self.alive():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"chroma run did not start on port {self.port}: "
                                   f"{self.log.read_text(errors='replace')[-2000:]}")
            time.sleep(0.1)
        return self

    def peak_rss_mb(self) -> float:
        return peak_rss_mb(self.proc.pid) if self.proc else float("nan")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)
        self.proc = None
        deadline = time.monotonic() + 10
        while self.alive() and time.monotonic() < deadline:
            time.sleep(0.1)

    def __enter__(self) -> "ChromaServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
