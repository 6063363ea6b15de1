"""The retrieval metrics of ``palign eval``, as pure functions over ids (no model, no store).

Memories map back to what they came from by provenance: the index of the message they were extracted from
(``Memory.message_index``, ``None`` when unknown). The benchmarks name their gold by message index too, so
no metric ever compares texts.

- ``carrier_positions`` / ``first_carrier_rank``: where, in a ranked or used list of memories, the ones
  carrying the preference are (PrefEval);
- ``hit_at``: the hit rule, a carrier ranked within the first k (hit@1, hit@5);
- ``turn_order``: memories mapped back to the distinct turns they came from, in rank order (LoCoMo);
- ``recall_at_k``: share of a question's evidence turns among the first k distinct turns; a question
  without evidence counts 1 (LoCoMo, Table 3 of the paper).
"""

from __future__ import annotations

from collections.abc import Collection, Hashable, Iterable, Sequence
from typing import TypeVar

__all__ = ["carrier_positions", "first_carrier_rank", "hit_at", "recall_at_k", "turn_order"]

T = TypeVar("T", bound=Hashable)


def carrier_positions(message_indexes: Sequence[int | None], carriers: Collection[int]) -> list[int]:
    """Positions (0-based) in a list of memories, given by their message indexes, of those that carry the
    preference: the ones extracted from a carrier message. Memories of unknown origin (``None``) never carry."""
    return [position for position, index in enumerate(message_indexes) if index is not None and index in carriers]


def first_carrier_rank(message_indexes: Sequence[int | None], carriers: Collection[int]) -> int | None:
    """Rank (0-based) of the first memory that carries the preference; ``None`` when none does."""
    positions = carrier_positions(message_indexes, carriers)
    return positions[0] if positions else None


def hit_at(rank: int | None, k: int) -> bool:
    """The hit rule: the first carrier is ranked within the first ``k`` (``rank`` is 0-based; ``None`` misses)."""
    return rank is not None and rank < k


def turn_order(message_indexes: Iterable[int | None], turn_ids: Sequence[T]) -> list[T]:
    """The distinct turns the memories came from, in the order of their first memory.

    Several memories may come from one turn; each turn is listed once. Memories of unknown origin are skipped.
    """
    order: list[T] = []
    seen: set[T] = set()
    for index in message_indexes:
        if index is None:
            continue
        turn = turn_ids[index]
        if turn not in seen:
            seen.add(turn)
            order.append(turn)
    return order


def recall_at_k(ranked: Iterable[T], evidence: Iterable[T], k: int) -> float:
    """Share of the evidence found among the first ``k`` distinct items of ``ranked``.

    Repeated items in ``ranked`` count once (they do not push others out of the first k), repeated evidence
    counts once, and a question without evidence counts 1 (nothing to find, nothing missed).
    """
    wanted = set(evidence)
    if not wanted:
        return 1.0
    top: set[T] = set()
    for item in ranked:
        if len(top) >= k:
            break
        top.add(item)
    return len(wanted & top) / len(wanted)
