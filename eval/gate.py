"""The quality gate: compare a run's metrics with eval/thresholds.toml.

The file has a table per dataset, `[NAME.min]` for metrics that must not fall below a
value and `[NAME.max]` for those that must not rise above one (false-refusal rate,
latency). A metric the run could not measure (None, e.g. citation precision when every
answer was refused) fails its bar too.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

THRESHOLDS_PATH = Path(__file__).resolve().parent / "thresholds.toml"


class ThresholdsError(ValueError):
    """The thresholds file is missing, malformed, or has no table for the dataset."""


@dataclass
class Failure:
    """One metric on the wrong side of its bar."""

    metric: str
    value: float | None
    bound: float
    kind: str  # "min" or "max"

    def message(self, label: str | None = None) -> str:
        name = label or self.metric
        if self.value is None:
            return f"{name} was not measured (needs {'>=' if self.kind == 'min' else '<='} {self.bound:g})"
        gap = self.bound - self.value if self.kind == "min" else self.value - self.bound
        side = "below the minimum" if self.kind == "min" else "above the maximum"
        return f"{name} = {self.value:.3f}, {side} {self.bound:g} by {gap:.3f}"


def load_thresholds(dataset: str, path: Path = THRESHOLDS_PATH) -> dict[str, dict[str, float]]:
    """{"min": {...}, "max": {...}} for the dataset."""
    if not path.is_file():
        raise ThresholdsError(f"thresholds file {path} does not exist")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise ThresholdsError(f"{path} is not valid TOML: {err}") from None
    table = data.get(dataset)
    if not isinstance(table, dict):
        known = ", ".join(sorted(k for k, v in data.items() if isinstance(v, dict))) or "none"
        raise ThresholdsError(f"{path} has no thresholds for dataset {dataset!r} (has: {known}); "
                              f"add [{dataset}.min] / [{dataset}.max] tables")
    out: dict[str, dict[str, float]] = {"min": {}, "max": {}}
    for kind in out:
        for metric, bound in table.get(kind, {}).items():
            if not isinstance(bound, (int, float)) or isinstance(bound, bool):
                raise ThresholdsError(f"{path} [{dataset}.{kind}] {metric}: must be a number")
            out[kind][metric] = float(bound)
    unknown = set(table) - {"min", "max"}
    if unknown:
        raise ThresholdsError(f"{path} [{dataset}]: unknown key(s) {', '.join(sorted(unknown))}; "
                              "use [NAME.min] and [NAME.max] tables")
    return out


def check(metrics: dict[str, Any], thresholds: dict[str, dict[str, float]]) -> list[Failure]:
    """Every metric that misses its bar, in the file's order."""
    failures = []
    for kind in ("min", "max"):
        for metric, bound in thresholds.get(kind, {}).items():
            value = metrics.get(metric)
            if value is None or (value < bound if kind == "min" else value > bound):
                failures.append(Failure(metric, value, bound, kind))
    return failures
