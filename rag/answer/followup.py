"""Follow-up questions: whether a question leans on the conversation, and the question
asked before it."""

from __future__ import annotations

import re

from rag.text import content_terms

# A follow-up leans on the conversation: it opens with a connective, or it points at
# something it does not name. "he/his/their..." are resolved by a name before them in the
# question itself ("Where did Blinken and Lavrov hold their talks?" stands on its own);
# "it/this/there/them/him" point back at the conversation whatever the question names.
_CONNECTIVE = re.compile(r"^\s*(?:and|but|also|so|what about|how about)\b", re.IGNORECASE)
_PERSON_REFERENCE = re.compile(r"\b(?:he|she|they|his|her|hers|their|theirs)\b", re.IGNORECASE)
_THING_REFERENCE = re.compile(r"\b(?:it|its|this|that|these|those|there|then|them|him)\b",
                              re.IGNORECASE)
_NAME = re.compile(r"(?<=\s)[A-Z][\w'’-]+")  # a capitalised word not opening the question


def previous_user_turn(history: list[dict]) -> str | None:
    """The last question the user asked before this one."""
    for turn in reversed(history):
        if turn.get("role") == "user" and isinstance(turn.get("content"), str):
            return turn["content"]
    return None


def is_follow_up(question: str) -> bool:
    """Whether the question needs the conversation to be understood: it opens with a
    connective ("And what ..."), has fewer than two content words, points at a thing it
    does not name ("it", "there"), or at a person named nowhere before ("What did he say?")."""
    if _CONNECTIVE.search(question) or len(content_terms(question)) < 2:
        return True
    if _THING_REFERENCE.search(question):
        return True
    pronoun = _PERSON_REFERENCE.search(question)
    return bool(pronoun) and not _NAME.search(question[:pronoun.start()])
