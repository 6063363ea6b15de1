"""The ``MemoryStore`` protocol: where memories and their vectors live."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from ..embed import Matrix
from ..types import Memory, Scope

__all__ = ["MemoryStore", "ScoredMemory"]

ScoredMemory = tuple[Memory, float]
"""A memory and its cosine similarity to a query (higher is more similar, 1.0 is identical)."""


@runtime_checkable
class MemoryStore(Protocol):
    """Persistent, user-scoped storage of memories and their embeddings.

    Contract, for every implementation:

    - Every method takes a ``Scope``; nothing is read or written outside it, and no query runs
      without it. Implementations re-check the owner of every record they return.
    - ``upsert`` is idempotent by ``Memory.id``: writing the same memory twice stores it once.
    - Vectors are unit-norm rows aligned with the memories; scores are cosine similarity.
    - ``profile`` returns *all* of a user's non-episode memories with their vectors, so they can be
      scored exactly; ``search_episodes`` returns the ``k`` most similar episodes, and must not
      return fewer than ``min(k, number of episodes)``.
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

    def profile(self, scope: Scope) -> tuple[list[Memory], Matrix]:
        """Every preference and fact of ``scope`` with its vector (for exact scoring)."""
        ...

    def search_episodes(self, scope: Scope, vector: Matrix, k: int) -> list[ScoredMemory]:
        """The ``k`` episodes of ``scope`` most similar to ``vector``, best first."""
        ...

    def delete(self, scope: Scope, ids: Sequence[str] | None = None) -> int:
        """Delete these memories of ``scope`` (all of them when ``ids`` is None); return how many."""
        ...

    def count(self, scope: Scope) -> int:
        """How many memories ``scope`` holds."""
        ...
