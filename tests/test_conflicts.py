"""Corrections and conflicting reports (rag.answer.conflicts) and their labelled set."""

from __future__ import annotations

from rag.answer.conflicts import conflict_note, figures, find_conflicts
from rag.records import Passage


def _passage(n: int, text: str, date: str, source: str, doc: str | None = None) -> Passage:
    return Passage(chunk_id=f"c{n}", doc_id=doc or f"d{n}", text=text, start=0, end=len(text),
                   title="", date=date, source=source, url=None, n=n)


TURNOUT_A = _passage(1, "DUNMORE, Oct. 9 – Turnout in Sunday's mayoral election reached 61.4 per "
                        "cent, the highest since 2003, according to the Courier.", "2023-10-09", "Courier")
TURNOUT_B = _passage(2, "Turnout in Dunmore's mayoral election was 57.8%, up from 49.2% four years "
                        "ago, the election office said.", "2023-10-09", "Gazette")
FOUND = _passage(3, "Election staff found 1,140 postal ballots in a sealed crate, the returning "
                    "officer said.", "2023-10-10", "Courier")
CORRECTION = _passage(4, "Correction: An article on Oct. 10 misstated the number of postal ballots "
                         "found. The election office says 1,410 postal ballots were found, not 1,140.",
                      "2023-10-11", "Courier")


def test_a_share_says_what_it_is_of_and_a_comparison_with_another_year_is_left_out():
    assert [(f.text, f.about) for f in figures(TURNOUT_B)] == [("57.8%", "turnout | election (share)")]


def test_two_outlets_giving_the_same_quantity_different_values_is_a_conflict_citing_both():
    found = find_conflicts([TURNOUT_A, TURNOUT_B])
    assert [(c["kind"], c["about"]) for c in found] == [("conflict", "turnout")]
    assert [(v["text"], v["n"], v["source"]) for v in found[0]["values"]] == [
        ("61.4 per cent", 1, "Courier"), ("57.8%", 2, "Gazette")]
    note, citations = conflict_note(found, [TURNOUT_A, TURNOUT_B], {1})
    assert note.startswith("Reports differ on turnout: 61.4 per cent according to Courier")
    assert "[1]" in note and "[2]" in note
    assert [c.n for c in citations] == [1, 2]
    assert all(TURNOUT_A.text[c.start:c.end] == c.quote for c in citations if c.n == 1)


def test_a_correction_wins_and_is_said_with_both_citations():
    found = find_conflicts([FOUND, CORRECTION])
    assert [(c["kind"], c["about"]) for c in found] == [("correction", "postal ballots")]
    assert [v["n"] for v in found[0]["values"]] == [4, 3]
    note, _ = conflict_note(found, [FOUND, CORRECTION], {3})
    assert note == "1,410 postal ballots, corrected from 1,140 postal ballots [4][3]."


def test_the_same_value_in_another_house_style_a_later_update_or_a_copy_is_no_conflict():
    same = _passage(2, "The election office put turnout in the mayoral election at 61.4%.",
                    "2023-10-09", "Gazette")
    assert find_conflicts([TURNOUT_A, same]) == []
    later = _passage(2, "Turnout in the mayoral election reached 63.0 per cent once postal votes "
                        "were counted, the office said.", "2023-10-16", "Gazette")
    assert find_conflicts([TURNOUT_A, later]) == []
    copy = _passage(2, TURNOUT_B.text, "2023-10-09", "Wire")
    copy.copies = [{"doc_id": "d1"}]
    assert find_conflicts([TURNOUT_A, copy]) == []


def test_the_labelled_conflicts_set_meets_its_goals():
    from eval.conflicts import score
    figures_ = score()
    assert figures_["conflicting"] >= 20 and figures_["agreeing"] >= 20
    assert figures_["precision"] >= 0.9 and figures_["recall"] >= 0.8

