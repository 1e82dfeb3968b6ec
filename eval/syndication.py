"""A labelled syndication set built from real text: wire copies and near misses.

Every RGB record (../shared/datasets/rgb, read at run time, never copied into the repo)
becomes one original article: its `positive` snippets and half of its `negative` ones as
paragraphs, with a dateline. The seed article is one more original. Then, with a fixed
random seed:

- copies (same story): most stories are republished by 1-3 other outlets with the edits
  wire copy really gets: a new headline and dateline (always), the last paragraphs or a
  middle one dropped, two paragraphs swapped, house spellings and quote marks
  ("cease-fire"/"ceasefire", "per cent"/"percent", "organise"/"organize"), an editor's
  note or credit line added, or one figure updated (a fact that differs: still the same
  story, but its chunk is not shared);
- near misses (other stories that must stay apart): for some stories, an article on the
  same topic with other facts: RGB's `positive_wrong` snippets (the answer replaced by a
  counterfactual one), the negatives the original did not use, and one paragraph of
  background taken over from the original.

`generate(..., house=True)` makes the harder set (issue 20): every copy also gets two to
four house-style edits ("11 p.m."/"11pm", "per cent"/"%", "nine"/"9", "Oct."/"October",
compound words joined or split, quote marks and dashes, a rewritten first sentence, a
byline or credit line) and is often published a day or two later; real RealTime QA
articles (../shared/datasets/realtimeqa, read at run time) are further originals, and
the articles of one RealTime QA question, written independently by different outlets
about the same news, are near misses of each other.

`build(folder)` writes the articles as .md files with front matter and returns the
labels (file stem -> story, role, edits, query); `python -m eval.syndication FOLDER`
does the same from the command line.
"""

from __future__ import annotations

import json
import os
import random
import re
import sys
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import Path

from eval.rgb import load_instances

SEED = 11
REPO_ROOT = Path(__file__).resolve().parent.parent
SEED_ARTICLE = next((REPO_ROOT / "corpus").glob("000_*.md"), None)
OUTLETS = [("AP", "(AP) —"), ("Reuters", "(Reuters) -"), ("AFP", "(AFP) -"),
           ("The Guardian", "—"), ("BBC News", "-"), ("Bloomberg", "(Bloomberg) --"),
           ("NPR", "—"), ("Al Jazeera", "-"), ("CNN", "(CNN) —"), ("The Independent", "—")]
CITIES = ["WASHINGTON", "LONDON", "NEW YORK", "PARIS", "GENEVA", "BERLIN", "TOKYO", "SYDNEY"]
# (American, British/house) spellings; a copy switches some of them one way or the other
SPELLINGS = [("ceasefire", "cease-fire"), ("percent", "per cent"), ("organization", "organisation"),
             ("organized", "organised"), ("center", "centre"), ("favor", "favour"),
             ("defense", "defence"), ("program", "programme"), ("traveled", "travelled"),
             ("color", "colour"), ("realize", "realise"), ("email", "e-mail"),
             ("online", "on-line"), ("Covid-19", "COVID-19"), ("U.S.", "US"), ("Dr.", "Dr")]
NOTES = ["Editor's note: This story has been updated with additional details.",
         "This article was amended to correct the spelling of a name.",
         "Additional reporting by staff writers; editing by the news desk.",
         "Copyright 2023 The Associated Press. All rights reserved. This material may not be "
         "published, broadcast, rewritten or redistributed.",
         "Sign up for our morning newsletter to get the day's top stories in your inbox.",
         "(This story has been refiled to fix a typo in the second paragraph.)"]
HEADLINES = ["{q}", "What we know: {q}", "{q} — latest", "Explainer: {q}", "{q}, reports say",
             "UPDATE 1-{q}", "{q}: the key facts", "Live updates: {q}"]
_DATELINE = re.compile(r"^[A-Z][A-Z ]+(?:, \w+ \d+)? (?:\([^)]*\) )?[-—–]+ ")
EDITS = ["drop_tail", "drop_middle", "swap", "spelling", "note", "update_figure"]
HOUSE_EDITS = ["times", "numbers", "compounds", "quotes_dashes", "rewrite_lede", "byline"]
COMPOUNDS = [("dock workers", "dockworkers"), ("poll workers", "pollworkers"),
             ("health care", "healthcare"), ("back up", "backup"), ("web site", "website"),
             ("wild fire", "wildfire"), ("under way", "underway"), ("week end", "weekend"),
             ("e-mail", "email"), ("co-operate", "cooperate"), ("land slide", "landslide"),
             ("fire fighters", "firefighters"), ("air strike", "airstrike"),
             ("life time", "lifetime"), ("on-line", "online"), ("stand-off", "standoff")]
NUMBER_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
MONTHS = [("January", "Jan."), ("February", "Feb."), ("August", "Aug."), ("September", "Sept."),
          ("October", "Oct."), ("November", "Nov."), ("December", "Dec.")]
BYLINES = ["By Maria Lopez", "By James Okafor and Lena Brandt",
           "Reporting by Tom Hale; Editing by Ruth Meyer",
           "Additional reporting by Anna Kowalski in Warsaw",
           "Writing by Sam Patel; editing by Jo Ellis"]
LEDE_OPENERS = ["", "In a development on {day}, ", "According to officials, ", "Reports said that "]
SYNONYMS = [(" said", " told reporters"), (" says", " said"), (" announced", " said"),
            (" on Monday", " Monday"), (" about ", " around "), (" more than ", " over "),
            (" the ", " the "), (" has ", " had "), (" will ", " would ")]


@dataclass
class Item:
    """One article of the set and its label."""

    name: str
    story: str
    role: str                     # original | copy | near-miss
    title: str
    date: str
    source: str
    paragraphs: list[str]
    query: str = ""
    edits: list[str] = field(default_factory=list)

    def text(self) -> str:
        front = {"title": self.title, "date": self.date, "source": self.source}
        head = "\n".join(f"{k}: {json.dumps(v, ensure_ascii=False)}" for k, v in front.items())
        return f"---\n{head}\n---\n" + "\n\n".join(self.paragraphs) + "\n"


def _clean(snippet: str) -> str:
    return " ".join(snippet.replace("\xa0", " ").split())


def _dateline(paragraphs: list[str], city: str, mark: str) -> list[str]:
    return [f"{city} {mark} {paragraphs[0]}", *paragraphs[1:]]


def _respell(text: str, rng: random.Random) -> str:
    for american, british in rng.sample(SPELLINGS, 8):
        source, target = (american, british) if rng.random() < 0.5 else (british, american)
        text = re.sub(rf"(?<![\w-]){re.escape(source)}(?![\w-])", target, text)
    if rng.random() < 0.5:
        text = text.replace("“", '"').replace("”", '"').replace("’", "'")
    else:
        text = re.sub(r'"([^"]*)"', r"“\1”", text)
    return text


def _update_figure(paragraphs: list[str], rng: random.Random) -> list[str] | None:
    """One number in one paragraph changed (an outlet that updated a figure)."""
    spots = [(i, m) for i, p in enumerate(paragraphs) for m in re.finditer(r"\b\d{1,3}\b", p)]
    if not spots:
        return None
    i, match = rng.choice(spots)
    new = str(int(match.group()) + rng.randint(1, 9))
    changed = list(paragraphs)
    changed[i] = paragraphs[i][:match.start()] + new + paragraphs[i][match.end():]
    return changed


def _times(text: str, rng: random.Random) -> str:
    """"11 p.m." <-> "11pm", "8:30 a.m." <-> "8.30am"."""
    if rng.random() < 0.5:
        return re.sub(r"\b(\d{1,2})(?::(\d\d))? ([ap])\.m\.",
                      lambda m: f"{m.group(1)}{'.' + m.group(2) if m.group(2) else ''}{m.group(3)}m", text)
    return re.sub(r"\b(\d{1,2})(?:\.(\d\d))?([ap])m\b",
                  lambda m: f"{m.group(1)}{':' + m.group(2) if m.group(2) else ''} {m.group(3)}.m.", text)


def _numbers(text: str, rng: random.Random) -> str:
    """Percentages, small numbers and month names in another house style."""
    percent = rng.choice(["%", " per cent", " percent"])
    text = re.sub(r"(?<=\d)(?:%| per cent| percent)", percent, text)
    if rng.random() < 0.5:
        text = re.sub(r"\b([1-9])\b(?![.,:]\d)", lambda m: NUMBER_WORDS[int(m.group(1))], text)
    else:
        text = re.sub(r"\b(one|two|three|four|five|six|seven|eight|nine)\b",
                      lambda m: str(NUMBER_WORDS.index(m.group(1))), text)
    for full, short in MONTHS:
        text = text.replace(full, short) if rng.random() < 0.5 else text.replace(short, full)
    return text.replace("Sept.", "Sep.") if rng.random() < 0.3 else text


def _compounds(text: str, rng: random.Random) -> str:
    """Compound words joined or split, and hyphenated words spelled open or closed."""
    for spaced, closed in COMPOUNDS:
        source, target = (spaced, closed) if rng.random() < 0.5 else (closed, spaced)
        text = re.sub(rf"\b{re.escape(source)}\b", target, text)
    hyphenated = re.findall(r"\b[a-z]{3,}-[a-z]{3,}\b", text)
    for word in rng.sample(hyphenated, min(3, len(hyphenated))):
        text = text.replace(word, word.replace("-", rng.choice(["", " "])))
    return text


def _quotes_dashes(text: str, rng: random.Random) -> str:
    dash = rng.choice([" - ", " -- ", " — ", " – ", "—"])
    text = re.sub(r"\s*(?:—|–|--)\s*|\s-\s", dash, text)
    if rng.random() < 0.5:
        return text.replace("“", '"').replace("”", '"').replace("’", "'").replace("‘", "'")
    return re.sub(r"'", "’", re.sub(r'"([^"]*)"', r"“\1”", text))


def _rewrite_sentence(sentence: str, rng: random.Random) -> str:
    clauses = [c.strip() for c in sentence.rstrip(".").split(",") if c.strip()]
    if len(clauses) > 1:
        clauses = clauses[1:] + clauses[:1]
    sentence = ", ".join(clauses)
    for old, new in rng.sample(SYNONYMS, 4):
        sentence = sentence.replace(old, new, 1)
    words = sentence.split()
    for _ in range(min(3, len(words) // 6)):
        del words[rng.randrange(1, len(words))]
    return " ".join(words)


def _rewrite_lede(paragraph: str, rng: random.Random) -> str:
    """The lede paragraph said again in other words: each sentence's clauses reordered,
    verbs swapped, a few words dropped, an opener added."""
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", paragraph) if s]
    rewritten = [_rewrite_sentence(s, rng) for s in sentences]
    opener = rng.choice(LEDE_OPENERS).format(day=rng.choice(["Sunday", "Tuesday", "Friday"]))
    text = opener + ". ".join(rewritten) + "."
    return text[:1].upper() + text[1:]


def _house(body: list[str], rng: random.Random) -> tuple[list[str], list[str]]:
    """Two to four house-style edits (see HOUSE_EDITS); the body and the edits applied."""
    applied = []
    for edit in rng.sample(HOUSE_EDITS, rng.randint(2, 4)):
        if edit == "times":
            body = [_times(p, rng) for p in body]
        elif edit == "numbers":
            body = [_numbers(p, rng) for p in body]
        elif edit == "compounds":
            body = [_compounds(p, rng) for p in body]
        elif edit == "quotes_dashes":
            body = [_quotes_dashes(p, rng) for p in body]
        elif edit == "rewrite_lede":
            again = 2 if rng.random() < 0.3 and len(body) > 4 else 1  # sometimes the next one too
            body = [_rewrite_lede(p, rng) for p in body[:again]] + body[again:]
        elif edit == "byline":
            line = rng.choice(BYLINES)
            body = [line, *body] if line.startswith("By ") else [*body, line]
        applied.append(edit)
    return body, applied


def _copy(original: Item, number: int, rng: random.Random, taken: set[str],
          house: bool = False) -> Item:
    source, mark = rng.choice([o for o in OUTLETS if o[0] not in taken] or OUTLETS)
    taken.add(source)
    body = list(original.paragraphs)
    for i, paragraph in enumerate(body[:3]):  # the original's dateline goes
        body[i] = _DATELINE.sub("", paragraph)
    edits = rng.sample(EDITS, rng.randint(1, 3))
    applied = ["headline", "dateline"]
    for edit in edits:
        if edit == "drop_tail" and len(body) > 4:
            # a house copy is often cut much harder: to the first half or so
            keep = max(3, int(len(body) * rng.uniform(0.4, 0.7))) if house else len(body) - rng.randint(1, 2)
            body = body[:keep]
        elif edit == "drop_middle" and len(body) > 4:
            del body[rng.randrange(1, len(body) - 1)]
        elif edit == "swap" and len(body) > 3:
            i = rng.randrange(1, len(body) - 1)
            body[i], body[i + 1] = body[i + 1], body[i]
        elif edit == "spelling":
            body = [_respell(p, rng) for p in body]
        elif edit == "note":
            note = rng.choice(NOTES)
            body = [note, *body] if rng.random() < 0.3 else [*body, note]
        elif edit == "update_figure":
            changed = _update_figure(body, rng)
            if changed is None:
                continue
            body = changed
        else:
            continue
        applied.append(edit)
    if house:
        body, more = _house(body, rng)
        applied += more
    city = rng.choice(CITIES)
    start = 1 if body[0] in NOTES or body[0] in BYLINES else 0
    body[start:] = _dateline(body[start:], city, mark)
    trimmed = "drop_tail" in applied or "drop_middle" in applied
    day = date.fromisoformat(original.date) + timedelta(days=rng.randint(0 if trimmed else 1, 3))
    title = rng.choice(HEADLINES).format(q=original.query or original.title)
    return Item(name=f"{original.name}_copy{number}", story=original.story, role="copy",
                title=title, date=day.isoformat(), source=source, paragraphs=body,
                query=original.query, edits=applied)


def _seed_item() -> Item | None:
    if SEED_ARTICLE is None:
        return None
    text = SEED_ARTICLE.read_text(encoding="utf-8")
    front, body = text.split("---", 2)[1:]
    meta = dict(line.split(": ", 1) for line in front.strip().splitlines() if ": " in line)
    paragraphs = [p.strip() for p in body.strip().split("\n\n") if p.strip()]
    return Item(name="seed", story="seed", role="original", title=meta.get("title", "seed"),
                date=meta.get("date", "2022-01-21"), source=meta.get("source", "Reuters"),
                paragraphs=paragraphs, query="Blinken and Lavrov talks in Geneva")


def realtimeqa_dir() -> Path:
    """$NEWSDESK_REALTIMEQA_DIR, else ../shared/datasets/realtimeqa beside the repository."""
    env = os.environ.get("NEWSDESK_REALTIMEQA_DIR")
    return Path(env) if env else (REPO_ROOT.parent / "shared" / "datasets" / "realtimeqa").resolve()


def _realtimeqa_items(rng: random.Random, questions: int) -> list[Item]:
    """The articles retrieved for `questions` RealTime QA questions, as originals: each
    one real article; those of one question are independently written same-topic near
    misses of each other (label `near-miss`, own story). [] when the set is absent."""
    folder = realtimeqa_dir()
    if not (folder / "articles.jsonl").is_file():
        return []
    articles = {}
    for line in (folder / "articles.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        body = [p.strip() for p in (record.get("body") or "").split("\n\n") if p.strip()]
        if record.get("date") and len(body) >= 4:
            articles[record["id"]] = (record, body)
    asked = [json.loads(line) for line in
             (folder / "questions.jsonl").read_text(encoding="utf-8").splitlines()]
    items = []
    for question in rng.sample(asked, min(questions, len(asked))):
        found = [articles[i] for i in question.get("answer_doc_ids", []) if i in articles][:3]
        for position, (record, body) in enumerate(found):
            name = f"rtqa{record['id']}"
            if any(item.name == name for item in items):
                continue
            items.append(Item(name=name, story=name, role="original" if position == 0 else "near-miss",
                              title=record["title"], date=record["date"],
                              source=record.get("source") or "web", paragraphs=body,
                              query=question.get("question", record["title"]),
                              edits=[] if position == 0 else ["same news, another outlet"]))
    return items


def generate(rgb_dir: Path | None = None, seed: int = SEED, copy_share: float = 0.6,
             near_miss_share: float = 0.5, house: bool = False,
             realtimeqa_questions: int = 40) -> list[Item]:
    """The labelled articles (deterministic for a seed); `house` for the harder set."""
    rng = random.Random(seed)
    items: list[Item] = []
    originals: list[Item] = []
    for record in load_instances(rgb_dir):
        positives = list(dict.fromkeys(_clean(s) for s in record["positive"]))
        negatives = list(dict.fromkeys(_clean(s) for s in record["negative"]))
        rng.shuffle(negatives)
        half = (len(negatives) + 1) // 2
        paragraphs = positives + negatives[:half]
        rng.shuffle(paragraphs)
        city = rng.choice(CITIES)
        source, mark = rng.choice(OUTLETS)
        day = date(2023, 1, 1) + timedelta(days=int(record["id"]) * 2)
        original = Item(name=f"rgb{record['id']:03d}", story=f"rgb{record['id']:03d}",
                        role="original", title=record["query"], date=day.isoformat(),
                        source=source, paragraphs=_dateline(paragraphs, city, mark),
                        query=record["query"])
        originals.append(original)
        # the counterfactual snippets are the positives with the answer changed: a copy
        # with a changed fact, not another story; the harder set leaves them out
        wrong = [] if house else [_clean(s) for s in record.get("positive_wrong") or []]
        if rng.random() < near_miss_share and (wrong or negatives[half:]):
            other = wrong + negatives[half:] + [rng.choice(paragraphs)]
            rng.shuffle(other)
            items.append(Item(name=f"rgb{record['id']:03d}_other", story=f"rgb{record['id']:03d}_other",
                              role="near-miss", title=f"{record['query']}: another view",
                              date=(day + timedelta(days=rng.randint(0, 5))).isoformat(),
                              source=rng.choice(OUTLETS)[0],
                              paragraphs=_dateline(other, rng.choice(CITIES), "-"),
                              query=record["query"], edits=["same topic, other facts"]))
    seed_item = _seed_item()
    if seed_item is not None:
        originals.append(seed_item)
    if house:
        real = _realtimeqa_items(rng, realtimeqa_questions)
        items += [item for item in real if item.role == "near-miss"]
        originals += [item for item in real if item.role == "original"]
    for original in originals:
        items.append(original)
        if original.story == "seed" or rng.random() < copy_share:
            taken = {original.source}
            for number in range(1, rng.randint(1, 3) + 1):
                items.append(_copy(original, number, rng, taken, house))
    return sorted(items, key=lambda item: item.name)


def build(folder: Path, rgb_dir: Path | None = None, seed: int = SEED,
          house: bool = False) -> dict[str, dict]:
    """Write the set into `folder` (one .md per article) and labels.json beside it;
    returns the labels (file stem -> story, role, edits, query, ...)."""
    folder.mkdir(parents=True, exist_ok=True)
    labels = {}
    for item in generate(rgb_dir, seed, house=house):
        (folder / f"{item.name}.md").write_text(item.text(), encoding="utf-8")
        labels[item.name] = {k: v for k, v in asdict(item).items() if k != "paragraphs"}
    (folder.parent / f"{folder.name}.labels.json").write_text(
        json.dumps(labels, indent=1, ensure_ascii=False), encoding="utf-8")
    return labels


if __name__ == "__main__":
    arguments = [a for a in sys.argv[1:] if a != "--house"]
    target = Path(arguments[0] if arguments else ".newsdesk/eval/syndication")
    built = build(target, house="--house" in sys.argv)
    roles = [v["role"] for v in built.values()]
    print(f"{len(built)} articles in {target}: " +
          ", ".join(f"{roles.count(r)} {r}" for r in ("original", "copy", "near-miss")))
