"""What a post-retrieval step sees and what it is: the `Query`, the `Step` base class and
the one registry of steps by name (filled by `register_step`; `rag.search.steps` loads the
built-in ones and builds the configured steps from the settings)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, TypeVar

from rag.config import Settings
from rag.records import Filters, Passage


@dataclass
class Query:
    """What a step may know about the question being answered."""

    question: str
    filters: Filters = Filters()
    top_k: int = 5
    as_of: str | None = None   # answer as if on this date (YYYY-MM-DD); None: today
    extra: dict[str, Any] = field(default_factory=dict)


class Step:
    """A post-retrieval step: built once from the settings (it may keep a model), then
    called per question with the candidates (best first) and the `Query`; it returns
    candidates in a new order or fewer of them."""

    name: ClassVar[str] = ""
    reads_time: ClassVar[bool] = False   # it uses the question's time: dates then narrow retrieval

    @classmethod
    def from_settings(cls, settings: Settings) -> "Step":
        """The step configured from its own settings (none by default)."""
        return cls()

    def __call__(self, passages: list[Passage], query: Query) -> list[Passage]:
        raise NotImplementedError


STEPS: dict[str, type[Step]] = {}
S = TypeVar("S", bound=type[Step])


def register_step(name: str) -> Callable[[S], S]:
    """Class decorator: the step is known to the `post_retrieval` setting by `name`."""
    def register(cls: S) -> S:
        cls.name = name
        STEPS[name] = cls
        return cls
    return register


def reads_time(names: list[str]) -> bool:
    """Whether any of the named (registered) steps uses the question's time."""
    return any(STEPS[name].reads_time for name in names if name in STEPS)
