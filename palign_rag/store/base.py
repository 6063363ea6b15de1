"""The ``MemoryStore`` protocol: where memories and their vectors live."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from ..embed import Matrix
from ..timecues import TimeCue
from ..types import Memory, Scope

__all__ = ["Hit", "MemoryStore", "Recall", "ScoredMemory"]

ScoredMemory = tuple[Memory, float]
"""A memory and its cosine similarity to a query (higher is more similar, 1.0 is identical)."""


@dataclass(frozen=True)
class Hit:
    """One memory scored against a query."""

    memory: Memory
    dense: float
    """Cosine similarity to the query vector (higher is more similar)."""
    dense_rank: int
    """0-based rank by ``dense`` among all of the user's memories."""
    lexical: float = 0.0
    """BM25 score for the query text (0 when no query word occurs in the memory)."""
    lexical_rank: int | None = None
    """0-based rank by ``lexical`` among all of the user's memories; None when ``lexical`` is 0."""
    temporal: float | None = None
    """How well the memory's time fits the query's time cue (0.0 to 1.0); None when there is no cue."""
    vector: Matrix | None = None
    """The memory's embedding (unit norm), when the store has it at hand; used to reconcile preferences."""


@dataclass(frozen=True)
class Recall:
    """What ``MemoryStore.recall`` returns for one query."""

    hits: list[Hit]
    """Every preference and fact of the user, and the top-k episodes by each signal, in no order."""
    total: int = 0
    """How many memories the user has."""


@runtime_checkable
class MemoryStore(Protocol):
    """Persistent, user-scoped storage of memories and their embeddings.

    Contract, for every implementation:

    - Every method takes a ``Scope``; nothing is read or written outside it, and no query runs
      without it. Implementations re-check the owner of every record they return.
    - ``upsert`` is idempotent by ``Memory.id``: writing the same memory twice stores it once.
    - Vectors are unit-norm rows aligned with the memories; scores are cosine similarity.
    - ``recall`` returns *all* of a user's non-episode memories and the ``k`` most similar episodes:
      exactly the true top ``k`` (ties aside), never fewer than ``min(k, number of episodes)``; with
      query text, also the ``k`` best lexical matches; with a time cue, also the ``k`` most similar
      episodes that fit it (match of at least 0.5), and ``Hit.temporal`` set on every hit.
    """

    def upsert(self, memories: Sequence[Memory], vectors: Matrix) -> None:
        """Insert or replace memories (all of one scope) with their vectors."""
        ...

    def get(self, scope: Scope, ids: Sequence[str]) -> list[Memory]:
        """The memories with these ids that belong to ``scope`` (unknown ids are skipped)."""
        ...

    def list_all(self, scope: Scope) -> list[Memory]:
        """Every memory of ``scope``, oldest first."""
        ...

    def recall(
        self, scope: Scope, vector: Matrix, k: int, *, text: str | None = None, when: TimeCue | None = None
    ) -> Recall:
        """What one prompt may draw on: every preference and fact of ``scope``, the ``k`` episodes most
        similar to ``vector``, when ``text`` is given the ``k`` episodes that match it best lexically
        (BM25), and when ``when`` is given the ``k`` most similar episodes among those that fit it;
        each scored on every signal against all of the user's memories."""
        ...

    def delete(self, scope: Scope, ids: Sequence[str] | None = None) -> int:
        """Delete these memories of ``scope`` (all of them when ``ids`` is None); return how many."""
        ...

    def count(self, scope: Scope) -> int:
        """How many memories ``scope`` holds."""
        ...
