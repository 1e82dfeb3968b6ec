"""Follow-up questions: whether a question leans on the conversation, the standalone
question to search with, and the short reply to a message that is not a question."""

from __future__ import annotations

import re

from rag.text import content_terms

# A follow-up leans on the conversation: it opens with a connective, or it points at
# something it does not name. "he/his/their..." are resolved by a name before them in the
# question itself ("Where did Blinken and Lavrov hold their talks?" stands on its own);
# "it/this/there/them/him" point back at the conversation whatever the question names.
_CONNECTIVE = re.compile(r"^\s*(?:and|but|also|so|what about|how about)\b[\s,]*", re.IGNORECASE)
_PERSON_REFERENCE = re.compile(r"\b(?:he|she|they|his|her|hers|their|theirs)\b", re.IGNORECASE)
_THING_REFERENCE = re.compile(r"\b(?:it|its|this|that|these|those|there|then|them|him)\b",
                              re.IGNORECASE)
_NAME = re.compile(r"(?<=\s)[A-Z][\w'’-]+")  # a capitalised word not opening the question
# words of a question that name no topic: kept out of the context added to a follow-up
_FUNCTION_WORDS = frozenset("""
a an the and or but so also of to in on at by for from with about as into over after before
between during than then what who whom whose which when where why how is are was were be been
being do does did done has have had will would can could should shall may might must not no
it its this that these those there he she they his her hers their theirs them him i you we
me my your our us said say says tell told there's what's who's any some more most very just
""".split())
_WORD = re.compile(r"[\w'’-]+")
_THANKS = re.compile(r"^\s*(?:thanks?|thank you|thx|ty|cheers|great|ok(?:ay)?|cool|nice|good|"
                     r"perfect|got it|brilliant|awesome|bye|goodbye|hi|hello|hey)\b[\s\w!.,]*$",
                     re.IGNORECASE)
_GREETING = re.compile(r"^\s*(?:hi|hello|hey)\b", re.IGNORECASE)
_QUESTION_WORD = re.compile(r"\b(?:what|who|whom|whose|which|when|where|why|how|did|does|do|is|"
                            r"are|was|were|can|could|will|would|should|has|have|had)\b|\?",
                            re.IGNORECASE)


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
    if _CONNECTIVE.search(question):
        return True
    return refers_back(question)


def refers_back(question: str) -> bool:
    """Whether the question, without an opening connective, still points at something
    it does not name (or is too short to stand alone)."""
    if len(content_terms(question)) < 2:
        return True
    if _THING_REFERENCE.search(question):
        return True
    pronoun = _PERSON_REFERENCE.search(question)
    return pronoun is not None and not _NAME.search(question[:pronoun.start()])


def topic_words(question: str) -> str:
    """The question without its opening question words, as a topic ("What did Lavrov
    demand?" -> "Lavrov demand")."""
    words = _WORD.findall(question)
    while words and words[0].lower() in _FUNCTION_WORDS:  # "What did", "Who was the"
        words = words[1:]
    return " ".join(words)


def _drop_connective(question: str) -> str:
    rest = _CONNECTIVE.sub("", question, count=1).strip()
    if not rest or len(rest) < 3:
        return question.strip()
    return rest[0].upper() + rest[1:]


def condense(question: str, history: list[dict]) -> str:
    """The question to search with: unchanged when it stands alone; without its opening
    connective when the rest names what it asks about ("And what did Blinken say?" ->
    "What did Blinken say?"); else with the topic words of the question it follows
    ("What did Blinken say about it? (Lavrov demand)"), never the whole earlier question."""
    users = [i for i, t in enumerate(history) if t.get("role") == "user"
             and isinstance(t.get("content"), str)]
    if not users or not is_follow_up(question):
        return question
    stripped = _drop_connective(question)
    if not refers_back(stripped):
        return stripped
    last = users[-1]
    previous = condense(history[last]["content"], history[:last])
    topic = topic_words(previous)
    if not topic or topic.lower() in stripped.lower():
        return stripped
    return f"{stripped} ({topic})"


def small_talk(message: str) -> str | None:
    """A short reply when the message is not a question about the articles (thanks,
    a greeting, only emoji or punctuation); None for anything that may be a question."""
    text = message.strip()
    if not text:
        return None
    if not re.search(r"[^\W_]", text):  # no letter or digit: emoji, punctuation
        return ("That doesn't look like a question. Ask me about the articles, for example "
                "who said what, when, or why.")
    if _THANKS.match(text) and not _QUESTION_WORD.search(text) and len(text) <= 40:
        if _GREETING.match(text):
            return "Hello! Ask me anything about the articles."
        return "You're welcome. Ask another question about the articles whenever you like."
    return None
