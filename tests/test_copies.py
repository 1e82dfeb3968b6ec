"""Syndicated copies: grouped into stories at ingest, each text embedded once, collapsed in
retrieval, listed as `copies` in the answer, kept right by edits, deletes and prunes."""

from __future__ import annotations

import json
import shutil
import sqlite3

import numpy as np
import pytest

from rag.config import Settings
from rag.index.chunks import catalog_path, open_index, text_key
from rag.index.embeddings import embedding_name, get_embeddings
from rag.index.store import EmptyIndexError, connect
from rag.ingest import ingest
from rag.ingest.copies import fingerprint, group
from rag.records import Passage
from rag.search.copies import carries, collapse_copies
from rag.search.retriever import Retriever
from click.testing import CliRunner

from rag.cli import main
from tests.conftest import SEED_ARTICLE, make_settings

SEED_ID = SEED_ARTICLE.stem
FRONT, BODY = SEED_ARTICLE.read_text(encoding="utf-8").split("---", 2)[1:]
PARAGRAPHS = [p.strip() for p in BODY.strip().split("\n\n") if p.strip()]
QUESTION = "What did Lavrov say about the ball being in Washington's court?"


def _article_file(title: str, date: str, source: str, paragraphs: list[str]) -> str:
    return (f"---\ntitle: {json.dumps(title)}\ndate: {date}\nsource: {source}\n---\n"
            + "\n\n".join(paragraphs) + "\n")


def ap_copy() -> list[str]:
    """The AP's run: new dateline, straight quotes, last two paragraphs dropped, a note."""
    body = [p.replace("GENEVA, Jan 21 (Reuters) –", "GENEVA (AP) —").replace("“", '"')
            .replace("”", '"').replace("’", "'") for p in PARAGRAPHS[:-2]]
    return body + ["Editor's note: This story has been updated with Lavrov's comments."]


def guardian_copy() -> list[str]:
    """The Guardian's run: two paragraphs swapped, one fact changed (Vienna, not Geneva)."""
    body = [p.replace("GENEVA, Jan 21 (Reuters) – ", "") for p in PARAGRAPHS]
    body[3], body[4] = body[4], body[3]
    return [p.replace("also met in Geneva last week", "also met in Vienna last week") for p in body]


def near_miss() -> list[str]:
    """Same topic, other facts: another meeting, reusing one background paragraph."""
    return ["MOSCOW (Reuters) - Russian and French officials held talks in Paris on Monday on "
            "Ukraine, and Russia's deputy foreign minister said the talks were difficult.",
            "The French side asked for a written plan on troop movements near Ukraine within "
            "ten days, a diplomat said, and Moscow said it would reply after its own review.",
            PARAGRAPHS[-4],
            "No date was set for another round of talks, and officials said prospects for a "
            "deal remained slim as forces stayed near the border through the weekend."]


def _write_corpus(folder) -> None:
    """The seed article (Reuters) with an AP copy, a Guardian copy and a near miss."""
    folder.mkdir(parents=True)
    (folder / f"{SEED_ID}.md").write_text(SEED_ARTICLE.read_text(encoding="utf-8"), encoding="utf-8")
    (folder / "ap.md").write_text(_article_file("US, Russia agree to keep talking", "2022-01-22",
                                                "AP", ap_copy()), encoding="utf-8")
    (folder / "guardian.md").write_text(_article_file("Blinken and Lavrov meet", "2022-01-21",
                                                      "The Guardian", guardian_copy()),
                                        encoding="utf-8")
    (folder / "paris.md").write_text(_article_file("Russia and France talk in Paris", "2022-01-24",
                                                   "Reuters", near_miss()), encoding="utf-8")


@pytest.fixture(scope="module")
def ingested(tmp_path_factory):
    """(settings, first ingest's report) of a store holding the copies corpus, made once;
    read-only for the tests that use it."""
    root = tmp_path_factory.mktemp("copies")
    _write_corpus(root / "corpus")
    settings = make_settings(root)
    return settings, ingest(settings.corpus_dir, settings, progress=False)


@pytest.fixture
def copies_settings(tmp_path, ingested) -> Settings:
    """A private copy of the ingested store and its corpus, to change."""
    source = ingested[0]
    shutil.copytree(source.corpus_dir, tmp_path / "corpus")
    shutil.copytree(source.store_path, tmp_path / "chroma")
    return make_settings(tmp_path)


def _index(settings):
    embeddings = get_embeddings(settings)
    return open_index(settings, embedding_name(embeddings), embeddings.dimension)


def _short(doc_id: str) -> str:
    """`corpus/ap.md` -> `ap`: the file's name, which is all these tests vary."""
    return doc_id.rsplit("/", 1)[-1].removesuffix(".md")


def _stories(settings) -> dict[str, str]:
    """doc -> story, both by file name."""
    return {_short(doc): _short(story) for doc, story in _index(settings).story_ids().items()}


def _fingerprint(doc_id: str, date: str, paragraphs: list[str]):
    return fingerprint(doc_id, date, "\n\n".join(paragraphs), Settings().copy_shingle_words)


# -- detection -------------------------------------------------------------------------

def test_wire_copies_with_new_datelines_cuts_swaps_notes_and_quote_styles_join_one_story():
    stories = group([_fingerprint(SEED_ID, "2022-01-21", PARAGRAPHS),
                     _fingerprint("ap", "2022-01-22", ap_copy()),
                     _fingerprint("guardian", "2022-01-21", guardian_copy())],
                    Settings().copy_threshold)
    assert stories == {SEED_ID: SEED_ID, "ap": SEED_ID, "guardian": SEED_ID}


def test_a_same_topic_article_with_other_facts_stays_a_story_of_its_own():
    stories = group([_fingerprint(SEED_ID, "2022-01-21", PARAGRAPHS),
                     _fingerprint("paris", "2022-01-24", near_miss())], Settings().copy_threshold)
    assert stories == {SEED_ID: SEED_ID, "paris": "paris"}


def test_house_spellings_do_not_hide_a_copy():
    text = ("The cease-fire took hold at noon, officials said. The organisation's centre "
            "reported that 5,000 people had travelled home, about 12 per cent of those who fled. "
            "Aid convoys were expected to reach the northern towns on Tuesday morning.")
    respelled = text.replace("cease-fire", "ceasefire").replace("organisation", "organization") \
        .replace("centre", "center").replace("5,000", "5000").replace("travelled", "traveled") \
        .replace("per cent", "percent")
    one, other = _fingerprint("a", "2023-01-01", [text]), _fingerprint("b", "2023-01-02", [respelled])
    assert one.shingles == other.shingles


def test_the_earliest_article_is_the_original_and_a_tie_goes_to_the_most_complete():
    longer = PARAGRAPHS + ["Editor's note: corrected the spelling of a name in this story."]
    stories = group([_fingerprint("late", "2022-01-23", PARAGRAPHS),
                     _fingerprint("short", "2022-01-21", PARAGRAPHS[:-3]),
                     _fingerprint("full", "2022-01-21", longer)], Settings().copy_threshold)
    assert set(stories.values()) == {"full"}


# -- collapse and carried text -----------------------------------------------------------

def _passage(chunk_id: str, doc_id: str, copies: list[str] = ()) -> Passage:
    return Passage(chunk_id=chunk_id, doc_id=doc_id, text=chunk_id, start=0, end=1, title="",
                   date=None, source=None, url=None,
                   copies=[{"doc_id": d, "title": "", "source": None, "date": None, "url": None}
                           for d in copies])


def test_collapse_keeps_the_best_of_a_passage_and_its_copies_and_every_other_passage():
    ranked = [_passage("c1", "ap", ["reuters"]), _passage("c2", "reuters", ["ap"]),
              _passage("c3", "reuters"), _passage("c4", "other"), _passage("c5", "ap", ["guardian"]),
              _passage("c6", "guardian", ["reuters", "ap"])]
    kept = collapse_copies(ranked)
    assert [p.chunk_id for p in kept] == ["c1", "c3", "c4", "c5"]


def test_a_copy_carries_a_passage_despite_house_spellings_but_not_with_a_changed_fact():
    passage = "The cease-fire held, officials said. Talks resume in Geneva on Monday."
    assert carries(["Officials said nothing new. The ceasefire held, officials said.",
                    "Talks resume in Geneva on Monday. More to come."], passage)
    assert not carries(["The ceasefire held, officials said. Talks resume in Vienna on Monday."],
                       passage)


def test_text_key_ignores_whitespace_and_quote_marks_but_not_words():
    assert text_key("He said “yes”  today.\n") == text_key('He said "yes" today.')
    assert text_key("He said “yes” today.") != text_key("He said “no” today.")


# -- ingest, retrieval and answers over a real store ---------------------------------------

def test_ingest_groups_the_copies_and_embeds_each_identical_chunk_text_once(copies_settings, ingested):
    report = ingested[1]
    assert (report.copies, report.stories) == (2, 1)
    assert report.embedded + report.shared == report.added == report.chunks
    assert report.shared > 0 and "2 copies of 1 story" in report.summary()
    assert _stories(copies_settings) == {SEED_ID: SEED_ID, "ap": SEED_ID, "guardian": SEED_ID,
                                         "paris": "paris"}
    rows = [row for page in _index(copies_settings).catalog.iter_rows() for row in page]
    got = connect(copies_settings).get_collection(copies_settings.collection).get(
        include=["embeddings"])
    vectors = dict(zip(got["ids"], got["embeddings"]))
    by_key: dict[str, list] = {}
    for row in rows:
        by_key.setdefault(row.text_key, []).append(vectors[row.chunk_id])
    shared = [vs for vs in by_key.values() if len(vs) > 1]
    assert sum(len(vs) - 1 for vs in shared) == report.shared
    assert all(np.array_equal(vs[0], v) for vs in shared for v in vs)
    again = ingest(copies_settings.corpus_dir, copies_settings, progress=False)
    assert again.embedded == again.shared == 0 and again.copies == 2


def test_retrieval_gives_one_passage_per_copied_text_and_says_where_else_it_ran(ingested):
    copies_settings = ingested[0]
    plain = Retriever(copies_settings.with_changes(post_retrieval=[])).search(QUESTION, top_k=8)
    assert any(c["doc_id"] in {q.doc_id for q in plain[:i]}
               for i, p in enumerate(plain) for c in p.copies), "no repeated text to collapse"
    passages = Retriever(copies_settings).search(QUESTION, top_k=8)
    kept: set[str] = set()
    for passage in passages:
        assert not any(c["doc_id"] in kept for c in passage.copies)
        kept.add(passage.doc_id)
    court = next(p for p in passages if "ball was in Washington" in p.text)
    assert {c["source"] for c in court.copies} >= {"AP"} or _short(court.doc_id) == "ap"
    assert all(c["doc_id"] != court.doc_id for c in court.copies)


def test_a_copy_with_a_changed_fact_is_not_listed_for_that_passage(ingested):
    copies_settings = ingested[0]
    passages = Retriever(copies_settings.with_changes(post_retrieval=[])).search(
        "Where did Sherman and Ryabkov meet last week?", top_k=10)
    geneva = next(p for p in passages
                  if _short(p.doc_id) == SEED_ID and "met in Geneva last week" in p.text)
    assert "guardian" not in {_short(c["doc_id"]) for c in geneva.copies}
    vienna = next(p for p in passages if _short(p.doc_id) == "guardian" and "Vienna" in p.text)
    assert SEED_ID not in {_short(c["doc_id"]) for c in vienna.copies}


def test_the_answer_json_and_the_terminal_show_the_copies(ingested):
    settings = ingested[0]
    env = {"NEWSDESK_CORPUS_DIR": str(settings.corpus_dir),
           "NEWSDESK_STORE_PATH": str(settings.store_path), "NEWSDESK_CONFIG": None}
    run = CliRunner().invoke(main, ["ask", "--json", QUESTION], env=env)
    answer = json.loads(run.output)
    assert answer["citations"] and all("copies" in c for c in answer["citations"])
    assert all("copies" in p for p in answer["passages"])
    listed = [c for cit in answer["citations"] for c in cit["copies"]]
    assert listed and set(listed[0]) == {"doc_id", "title", "source", "date", "url"}
    text = CliRunner().invoke(main, ["ask", QUESTION], env=env).output
    first = next(c for c in answer["citations"] if c["copies"])
    sources = ", ".join(dict.fromkeys(c["source"] for c in first["copies"]))
    assert f"also in: {sources}" in text


# -- keeping groups right ------------------------------------------------------------------

def test_deleting_the_original_promotes_the_earliest_copy(copies_settings):
    (copies_settings.corpus_dir / f"{SEED_ID}.md").unlink()
    report = ingest(copies_settings.corpus_dir, copies_settings, prune=True, progress=False)
    assert report.pruned_articles == 1 and (report.copies, report.stories) == (1, 1)
    assert _stories(copies_settings) == {"ap": "guardian", "guardian": "guardian", "paris": "paris"}


def test_a_copy_edited_until_it_diverges_leaves_the_story(copies_settings):
    rewritten = PARAGRAPHS[:2] + [
        "GENEVA (AP) — The United States will send its written answer to Russia next week, "
        "a State Department spokesman said on Saturday, a day after the talks in Geneva.",
        "The answer will not include concessions on NATO membership, the spokesman said, but "
        "could address arms control and military exercises in Europe.",
        "Ukraine's foreign minister welcomed the talks and asked Western allies to speed up "
        "deliveries of defensive weapons before the end of the month."]
    (copies_settings.corpus_dir / "ap.md").write_text(_article_file(
        "US to answer Russia in writing", "2022-01-22", "AP", rewritten), encoding="utf-8")
    report = ingest(copies_settings.corpus_dir, copies_settings, progress=False)
    assert (report.copies, report.stories) == (1, 1)
    assert _stories(copies_settings) == {SEED_ID: SEED_ID, "ap": "ap", "guardian": SEED_ID,
                                         "paris": "paris"}


def test_articles_of_another_folder_keep_their_groups_without_prune(copies_settings, tmp_path):
    other = tmp_path / "more"
    other.mkdir()
    (other / "bbc.md").write_text(_article_file("Talks in Geneva", "2022-01-20", "BBC News",
                                                PARAGRAPHS[:-1]), encoding="utf-8")
    report = ingest(other, copies_settings, progress=False)
    assert (report.copies, report.stories) == (3, 1) and report.embedded < report.chunks
    assert set(_stories(copies_settings).items()) >= {("bbc", "bbc"), (SEED_ID, "bbc"),
                                                      ("ap", "bbc"), ("guardian", "bbc")}


def test_a_catalog_of_the_old_schema_is_rebuilt_without_embedding_again(copies_settings, ingested):
    first = ingested[1]
    conn = sqlite3.connect(catalog_path(copies_settings))
    conn.execute("UPDATE meta SET value = '1' WHERE key = 'schema'")
    conn.commit()
    conn.close()
    with pytest.raises(EmptyIndexError, match="run `rag ingest` once"):
        Retriever(copies_settings)
    again = ingest(copies_settings.corpus_dir, copies_settings, progress=False)
    assert again.embedded == 0 and again.added == first.chunks
    assert _stories(copies_settings)["ap"] == SEED_ID
    assert Retriever(copies_settings).search(QUESTION, top_k=3)


# -- crash safety with copies present --------------------------------------------------------

@pytest.mark.slow
def test_an_ingest_of_copies_killed_mid_way_ends_like_a_clean_one(tmp_path):
    """SIGKILLed twice mid-ingest, then run again: the same chunks, vectors, shared texts and
    stories as an uninterrupted ingest."""
    import os
    import random

    import tests.test_crash_safety as crash

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i in range(4):  # four distinct articles (the seed's paragraphs dealt out), each copied
        own = PARAGRAPHS[i::4]
        (corpus / f"part{i}.md").write_text(_article_file(f"Part {i}", "2022-01-21", "Reuters", own),
                                            encoding="utf-8")
        (corpus / f"part{i}_copy.md").write_text(_article_file(
            f"Part {i} (AP)", "2022-01-22", "AP", own[:-1] + ["Editor's note: republished."]),
            encoding="utf-8")
    small = {"corpus_dir": corpus, "embedding_batch_size": crash.BATCH, "chunk_tokens": 48,
             "chunk_overlap": 8}
    clean = make_settings(tmp_path / "clean", **small)
    report = ingest(corpus, clean, progress=False)
    assert report.copies == 4 and report.shared > 0 and report.embedded > 6 * crash.BATCH
    settings = make_settings(tmp_path / "killed", **small)
    seed = int(os.environ.get("CRASH_SEED") or crash.CRASH_SEED)
    print(f"\ncrash-safety seed: CRASH_SEED={seed}")
    landed = crash._kill_repeatedly(settings, tmp_path, random.Random(seed), kills=2)
    print("SIGKILL landed:", landed)
    final = ingest(corpus, settings, progress=False)
    assert (final.copies, final.stories) == (4, 4)
    got, want = crash._contents(settings), crash._contents(clean)
    assert set(got) == set(want)
    assert all(np.allclose(got[c][2], want[c][2], atol=1e-5) for c in want)
    rows = {r.chunk_id: (r.text_key, r.story_id)
            for page in _index(settings).catalog.iter_rows() for r in page}
    clean_rows = {r.chunk_id: (r.text_key, r.story_id)
                  for page in _index(clean).catalog.iter_rows() for r in page}
    assert rows == clean_rows


# -- house style (issue 20) ---------------------------------------------------------------

def test_house_style_times_percentages_compounds_and_numbers_give_the_same_shingles():
    from rag.ingest.copies import shingles
    wire = ("DUNMORE, Oct. 9 (Lakeside Wire) – The count stopped at 11 p.m. with 88 per cent "
            "counted; about 300 poll workers and nine back-up staff returned at 8 a.m. on Monday.\n\n"
            "Reporting by Jonah Pereira; editing by Mara Lind")
    house = ("Editor's note: This report was first published on Oct. 9.\n\n"
             "The count stopped at 11pm with 88% counted; about 300 pollworkers and 9 backup "
             "staff returned at 8am on Monday.")
    from rag.ingest.copies import house_words, overlap
    assert "".join(house_words(wire)) == "".join(house_words(house))  # same characters
    # only the shingle starting at "workers" (a word start in one spelling) differs
    assert len(shingles(wire, 5) ^ shingles(house, 5)) == 1
    assert overlap(shingles(house.replace("300", "380"), 5), shingles(wire, 5)) < 0.8


def test_the_stories_sets_three_wire_copies_are_one_story_with_the_wire_as_original():
    """The frozen `stories` set: the Gazette's copy has a rewritten lede, an editor's note,
    house style and cut last paragraphs; the other articles stay stories of their own."""
    from pathlib import Path
    from rag.sources.files import load_corpus
    folder = Path(__file__).resolve().parent.parent / "eval" / "datasets" / "stories"
    articles = load_corpus(folder).articles
    stories = group([fingerprint(a.doc_id, a.date, a.text, Settings().copy_shingle_words)
                     for a in articles], Settings().copy_threshold)
    names = {a.doc_id: a.doc_id.rsplit("/", 1)[-1].removesuffix(".md") for a in articles}
    grouped = {names[d]: names[s] for d, s in stories.items() if d != s}
    assert grouped == {"election-2023-10-09-dunmorecourier-copy": "election-2023-10-09-lakesidewire",
                       "election-2023-10-10-eastfieldgazette-copy": "election-2023-10-09-lakesidewire"}


def _dated(chunk_id: str, doc_id: str, date: str, story: str, copies: list[str] = ()) -> Passage:
    passage = _passage(chunk_id, doc_id, copies)
    passage.date, passage.story_id = date, story
    return passage


def test_collapse_shows_the_originals_passage_at_the_best_rank_of_its_copies():
    ranked = [_dated("gazette", "gazette", "2023-10-10", "wire", ["wire", "courier"]),
              _dated("other", "other", "2023-10-09", "other"),
              _dated("wire", "wire", "2023-10-09", "wire", ["courier", "gazette"]),
              _dated("courier", "courier", "2023-10-09", "wire", ["wire", "gazette"])]
    kept = collapse_copies(ranked)
    assert [p.chunk_id for p in kept] == ["wire", "other"]
    assert {c["doc_id"] for c in kept[0].copies} == {"courier", "gazette"}


def test_a_house_edited_copy_carries_the_passage_but_one_with_another_figure_does_not():
    passage = ("About 300 poll workers and counters returned to the hall at 8 a.m. on Monday. "
               "About 88 per cent of ballots had been counted when the lights went out.")
    house = ("Editor's note: first published on Oct. 9.\n\nAbout 88% of ballots had been counted "
             "when the lights went out. About 300 pollworkers and counters returned to the hall "
             "at 8am on Monday.")
    assert carries([house], passage)
    assert not carries([house.replace("300", "350")], passage)
