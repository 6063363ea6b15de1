"""The metrics of `palign eval`, on small cases worked out by hand in the comments."""

from __future__ import annotations

import pytest

from palign_rag.eval.metrics import carrier_positions, first_carrier_rank, hit_at, recall_at_k, turn_order


def test_recall_at_k_counts_the_evidence_among_the_first_k() -> None:
    ranked = ["D1:3", "D2:1", "D1:1", "D3:4"]
    evidence = ["D1:1", "D3:4"]
    # top 2 = {D1:3, D2:1}: neither piece of evidence -> 0/2
    assert recall_at_k(ranked, evidence, 2) == 0.0
    # top 3 adds D1:1 -> 1/2
    assert recall_at_k(ranked, evidence, 3) == 0.5
    # top 4 adds D3:4 -> 2/2
    assert recall_at_k(ranked, evidence, 4) == 1.0


def test_a_question_without_evidence_counts_one() -> None:
    # nothing to find, nothing missed: 1, whatever was retrieved (even nothing)
    assert recall_at_k(["D1:1"], [], 5) == 1.0
    assert recall_at_k([], (), 5) == 1.0


def test_duplicates_in_the_ranking_do_not_take_a_place_in_the_first_k() -> None:
    ranked = ["D1:1", "D1:1", "D1:1", "D2:2"]
    # distinct in order: D1:1, D2:2 -> the first 2 distinct are {D1:1, D2:2}: both found -> 2/2.
    # (Counting raw positions, the top 2 would be D1:1 twice and D2:2 would be missed: 1/2.)
    assert recall_at_k(ranked, ["D1:1", "D2:2"], 2) == 1.0


def test_duplicated_evidence_counts_once() -> None:
    # evidence {D1:1, D2:2} (D1:1 listed twice); top 1 = {D1:1} -> 1/2, not 2/3
    assert recall_at_k(["D1:1", "D2:2"], ["D1:1", "D1:1", "D2:2"], 1) == 0.5


def test_k_beyond_the_ranking_uses_all_of_it() -> None:
    # only 2 items retrieved; k=50 sees both: evidence {D1:1, D9:9} -> D1:1 found -> 1/2
    assert recall_at_k(["D1:1", "D2:2"], ["D1:1", "D9:9"], 50) == 0.5


def test_evidence_never_retrieved_scores_zero() -> None:
    assert recall_at_k(["D1:1", "D2:2"], ["D7:7"], 10) == 0.0


def test_carrier_positions_match_by_message_index() -> None:
    # memories from messages 4, 0, 7, 0, unknown; carriers {0}: positions 1 and 3
    assert carrier_positions([4, 0, 7, 0, None], {0}) == [1, 3]
    # several carriers (a persona revealed over turns 0 and 2): positions of 0 and 2 -> 0 and 2
    assert carrier_positions([0, 5, 2], [0, 2]) == [0, 2]
    # a memory of unknown origin never carries, even with no carriers to find
    assert carrier_positions([None, None], set()) == []


def test_first_carrier_rank_and_the_hit_rules() -> None:
    # carrier (message 2) first appears at position 3 (0-based): not a hit@1, a hit@5
    rank = first_carrier_rank([9, 7, None, 2, 2], {2})
    assert rank == 3
    assert not hit_at(rank, 1) and hit_at(rank, 5)
    # ranked first: hit@1 and hit@5
    top = first_carrier_rank([2, 9], {2})
    assert top == 0 and hit_at(top, 1) and hit_at(top, 5)
    # rank 5 is the sixth place: outside hit@5
    assert not hit_at(5, 5)


def test_an_absent_carrier_is_a_miss_at_every_k() -> None:
    rank = first_carrier_rank([1, 3, 5], {0})
    assert rank is None
    assert not hit_at(rank, 1) and not hit_at(rank, 5) and not hit_at(rank, 1000)
    assert first_carrier_rank([], {0}) is None


def test_turn_order_maps_memories_to_distinct_turns() -> None:
    turns = ["D1:1", "D1:2", "D1:3"]
    # memories from messages 2, 2, None, 0, 2, 1 -> turns D1:3 (first seen), D1:1, D1:2
    assert turn_order([2, 2, None, 0, 2, 1], turns) == ["D1:3", "D1:1", "D1:2"]
    assert turn_order([], turns) == []


@pytest.mark.parametrize(("k", "expected"), [(1, 1 / 3), (2, 2 / 3), (3, 1.0)])
def test_recall_grows_with_k_over_distinct_turns(k: int, expected: float) -> None:
    # memories from messages 0, 0, 1, 2 -> turns a, b, c; evidence {a, b, c}: k turns seen -> k/3
    order = turn_order([0, 0, 1, 2], ["a", "b", "c"])
    assert recall_at_k(order, {"a", "b", "c"}, k) == pytest.approx(expected)
