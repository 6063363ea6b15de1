"""A real Chroma store behind the ``MemoryStore`` protocol that can be told to fail or to hold its writes:
the fault-injecting fake at the store's extension point, for the proxy's and ``wrap()``'s door tests."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

from palign_rag.embed import Matrix
from palign_rag.store import ChromaStore, Recall
from palign_rag.timecues import TimeCue
from palign_rag.types import Memory, Scope


class FaultyStore:
    """Embedded Chroma in ``path``. Each method named in ``failing`` raises ``error`` instead of running; while
    ``hold`` is set, ``upsert`` waits (``holding`` is set once a write waits) until ``release()``."""

    def __init__(self, path: Path) -> None:
        self.inner = ChromaStore.embedded(path)
        self.failing: set[str] = set()
        self.error: Exception = RuntimeError("store fault")
        self.hold = False
        self.holding = threading.Event()
        self._released = threading.Event()

    def release(self) -> None:
        self.hold = False
        self._released.set()

    def _check(self, method: str) -> None:
        if method in self.failing:
            raise self.error

    def bind_embedder(self, name: str, dimension: int) -> None:
        self.inner.bind_embedder(name, dimension)

    def upsert(self, memories: Sequence[Memory], vectors: Matrix) -> None:
        self._check("upsert")
        if self.hold:
            self.holding.set()
            self._released.wait(60)
        self.inner.upsert(memories, vectors)

    def get(self, scope: Scope, ids: Sequence[str]) -> list[Memory]:
        self._check("get")
        return self.inner.get(scope, ids)

    def list_all(self, scope: Scope) -> list[Memory]:
        self._check("list_all")
        return self.inner.list_all(scope)

    def recall(
        self, scope: Scope, vector: Matrix, k: int, *, text: str | None = None, when: TimeCue | None = None
    ) -> Recall:
        self._check("recall")
        return self.inner.recall(scope, vector, k, text=text, when=when)

    def delete(self, scope: Scope, ids: Sequence[str] | None = None) -> int:
        self._check("delete")
        return self.inner.delete(scope, ids)

    def count(self, scope: Scope) -> int:
        self._check("count")
        return self.inner.count(scope)
