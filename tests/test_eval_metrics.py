"""Eval metrics give known values: SQuAD v1.1 worked examples, RGB's rule, ranks, percentiles."""

import pytest

from eval import metrics as M

# --- SQuAD v1.1 (formulas of the official evaluate-v1.1.py) ------------------


def test_normalize_answer_lowercases_and_drops_punctuation_articles_and_extra_spaces():
    assert M.normalize_answer("The  Denver Broncos!") == "denver broncos"
    assert M.normalize_answer("an apple, a pear & the fig.") == "apple pear fig"


def test_exact_match_ignores_articles_case_and_punctuation():
    assert M.exact_match("the Denver Broncos.", "Denver Broncos") == 1.0


def test_exact_match_is_zero_for_an_extra_word():
    assert M.exact_match("Denver Broncos won", "Denver Broncos") == 0.0


def test_token_f1_of_an_extra_word_is_0_8():
    # precision 2/3, recall 2/2 -> F1 = 2 * (2/3 * 1) / (2/3 + 1) = 0.8
    assert M.token_f1("Denver Broncos won", "Denver Broncos") == pytest.approx(0.8)


def test_token_f1_of_a_partial_answer_matches_the_squad_formula():
    # normalised prediction: santa clara california (3 tokens); reference:
    # levis stadium in san francisco bay area at santa clara california (11 tokens);
    # 3 shared -> precision 1, recall 3/11, F1 = 2 * (3/11) / (1 + 3/11) = 3/7
    reference = "Levi's Stadium in the San Francisco Bay Area at Santa Clara, California."
    f1 = M.token_f1("Santa Clara, California", reference)
    assert f1 == pytest.approx(3 / 7)


def test_token_f1_counts_repeated_tokens_at_most_as_often_as_the_reference():
    # Counter intersection: "the cat cat" vs "cat": 1 shared of 2 predicted tokens
    assert M.token_f1("the cat cat", "cat") == pytest.approx(2 * 0.5 * 1 / 1.5)


def test_token_f1_is_zero_when_nothing_overlaps_or_the_prediction_is_empty():
    assert M.token_f1("Carolina Panthers", "Denver Broncos") == 0.0
    assert M.token_f1("", "Denver Broncos") == 0.0


def test_scores_take_the_best_reference():
    assert M.exact_match("Broncos", ["Denver Broncos", "Broncos"]) == 1.0
    assert M.token_f1("Denver", ["Denver Broncos", "Broncos"]) == pytest.approx(2 / 3)


def test_typographic_quotes_score_like_ascii_ones():
    assert M.exact_match("Washington’s court", "Washington's court") == 1.0


def test_citation_markers_are_stripped_before_scoring():
    assert M.strip_markers("Lavrov said so [1]. Blinken agreed [2][3].") == "Lavrov said so. Blinken agreed."


# --- RGB contains-gold ---------------------------------------------------------


def test_contains_gold_is_a_case_insensitive_substring_test():
    assert M.contains_gold("The game was in tampa, florida.", "Tampa, Florida")
    assert not M.contains_gold("The game was in Tampa.", "Tampa, Florida")


def test_contains_gold_accepts_any_spelling_within_a_group():
    gold = [["July 21 2017", "Jul 21, 2017", "21 July 2017"]]
    assert M.contains_gold("Released on 21 July 2017.", gold)
    assert not M.contains_gold("Released in July.", gold)


def test_contains_gold_needs_every_group():
    gold = [["Norway"], ["39", "thirty-nine"]]
    assert M.contains_gold("Norway won 39 medals", gold)
    assert not M.contains_gold("Norway won the most medals", gold)


# --- retrieval -------------------------------------------------------------------


def test_hit_at_k_looks_only_at_the_first_k():
    assert M.hit_at_k([False, False, True], 3) == 1.0
    assert M.hit_at_k([False, False, True], 2) == 0.0
    assert M.hit_at_k([True], 0) == 0.0


def test_reciprocal_rank_is_one_over_the_first_relevant_rank():
    assert M.reciprocal_rank([False, True, True]) == 0.5
    assert M.reciprocal_rank([False, False, False, True], k=3) == 0.0
    assert M.reciprocal_rank([]) == 0.0


def test_evidence_recall_all_mode_is_the_share_found():
    texts = ["Lavrov said the ball was in Washington’s court.", "Blinken called the talks frank."]
    evidence = ["the ball was in Washington's court", "frank and substantial"]
    assert M.evidence_recall(evidence, texts) == 0.5


def test_evidence_recall_any_mode_needs_one_spelling():
    assert M.evidence_recall(["Tampa, Florida", "Tampa"], ["played in Tampa"], mode="any") == 1.0
    assert M.evidence_recall(["Glendale"], ["played in Tampa"], mode="any") == 0.0


def test_evidence_matching_ignores_case_and_spacing():
    assert M.contains_evidence("Top  U.S. and\nRussian diplomats", "top u.s. and russian")


# --- citations, faithfulness, refusal ----------------------------------------------


def test_citation_precision_is_the_share_of_supporting_citations_and_none_without_any():
    assert M.citation_precision([True, False, True, True]) == 0.75
    assert M.citation_precision([]) is None


def test_faithfulness_counts_sentences_whose_cited_passages_support_them():
    def overlap(claim, evidence):  # share of claim words in evidence
        words = claim.lower().split()
        return sum(w in evidence.lower().split() for w in words) / len(words)

    sentences = [("Lavrov demanded a written response", ["Lavrov demanded a written response today"]),
                 ("Blinken visited Paris", ["Blinken was in Kiev"]),      # 1/3 supported
                 ("Russia massed troops", [])]                              # cites nothing
    assert M.faithfulness(sentences, overlap, min_support=0.5) == pytest.approx(1 / 3)
    assert M.faithfulness([], overlap) is None


PASSAGE = ("Blinken said Lavrov would understand once Moscow received a written response "
           "to its tough security demands from the United States.")


def test_verbatim_faithfulness_accepts_a_quote_of_the_cited_passage():
    assert M.quote_faithful("Blinken said Lavrov would understand once Moscow received a "
                            "written response", [PASSAGE])


def test_verbatim_faithfulness_catches_a_sentence_that_reorders_the_passage_words():
    # every content word is in the passage (the answerer's own support() gives 1.0) ...
    unfaithful = "Lavrov said Blinken would understand once the United States received demands."
    from rag.text import support
    assert support(unfaithful, PASSAGE) == 1.0
    # ... but the claim says the opposite, and its word trigrams are not the passage's
    assert not M.quote_faithful(unfaithful, [PASSAGE])
    assert M.verbatim_faithfulness([(unfaithful, [PASSAGE]),
                                    ("a written response", [PASSAGE])]) == 0.5


def test_verbatim_faithfulness_fails_claims_citing_nothing_or_the_wrong_passage():
    assert not M.quote_faithful("a written response", [])
    assert not M.quote_faithful("a written response", ["Blinken was in Kiev on Wednesday."])
    assert M.verbatim_faithfulness([]) is None


def test_verbatim_faithfulness_ignores_case_quote_style_and_spacing():
    assert M.quote_faithful("He called the talks \"frank and  substantial\"",
                            ["He called the talks “frank and substantial” and left."])


def test_refusal_accuracy_and_false_refusal_rate():
    assert M.refusal_accuracy([True, True, False, True]) == 0.75
    assert M.false_refusal_rate([False, False, False, True]) == 0.25
    assert M.refusal_accuracy([]) is None


# --- aggregation --------------------------------------------------------------------


def test_percentile_interpolates_linearly_like_numpy():
    values = list(range(1, 21))  # 1..20
    assert M.percentile(values, 50) == pytest.approx(10.5)
    assert M.percentile(values, 95) == pytest.approx(19.05)
    assert M.percentile([7], 95) == 7
    assert M.percentile([], 50) is None


def test_percentile_agrees_with_numpy():
    import numpy as np

    values = [12, 3, 45, 7, 7, 19, 250, 31]
    for q in (0, 25, 50, 90, 95, 100):
        assert M.percentile(values, q) == pytest.approx(float(np.percentile(values, q)))


def test_mean_skips_missing_values():
    assert M.mean([1.0, None, 0.0]) == 0.5
    assert M.mean([None]) is None


def test_calibration_holds_out_even_numbered_questions_keeping_rgb_twins_together():
    from eval.calibrate import held_out

    assert held_out("seed-002") and not held_out("seed-003")
    assert held_out("rgb-4") and held_out("rgb-4-u") and not held_out("rgb-5-u")


def test_select_part_splits_a_dataset_into_calibration_and_held_out_questions():
    from eval.datasets import EvalRecord, select_part

    records = [EvalRecord(id=f"q-{i}", question="?", reference_answer="", answerable=True,
                          evidence=[]) for i in range(4)]
    assert [r.id for r in select_part(records, "held-out")] == ["q-0", "q-2"]
    assert [r.id for r in select_part(records, "calibration")] == ["q-1", "q-3"]
    assert select_part(records, "all") == records
