"""ChromaDB implementation of ``MemoryStore``: embedded on disk (default), in memory, or a server.

Layout: each user gets two collections of their own, never shared with anyone else:

- ``p_<scope key>``: preferences and facts. Few per user; read whole and scored exactly.
- ``e_<scope key>``: episodes (past turns). Searched with HNSW at a high ``ef_search``.

One shared collection filtered by ``where={"user_id": ...}`` was measured to return fewer than ``k``
results and to lose most recall once users share identical messages; per-user collections avoid
both, and a query can never run without the user's scope because the scope picks the collection.
Every record also carries its owner in metadata, and results are re-checked against the scope.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from ..embed import Matrix
from ..errors import InvalidInputError, StoreError
from ..types import Memory, MemoryKind, MemorySource, MemoryStatus, Scope
from .base import ScoredMemory

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection

__all__ = ["ChromaStore"]

logger = logging.getLogger("palign_rag")
T = TypeVar("T")

_EF_SEARCH = 512
_OPTIONAL = ("role", "origin", "message_index", "supersedes", "quarantine_reason")
_HELD_LOCKS: dict[Path, int] = {}
_LOCKS_GUARD = threading.Lock()


def _lock_home(path: Path) -> None:
    """Refuse to open a data directory another process holds: Chroma can hang or corrupt it."""
    path = path.resolve()
    with _LOCKS_GUARD:
        if path in _HELD_LOCKS:
            return
        path.mkdir(parents=True, exist_ok=True)
        fd = os.open(path / ".palign.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise StoreError(
                f"Another process has the store at {path} open, and an embedded Chroma store must not be "
                "shared between processes. Stop the other process, use a different PALIGN_HOME, or run a "
                "Chroma server (`chroma run --path DIR`) and use ChromaStore.server(...)."
            ) from None
        _HELD_LOCKS[path] = fd


def _to_metadata(memory: Memory) -> dict[str, str | int | float | bool]:
    meta: dict[str, str | int | float | bool] = {
        "tenant": memory.tenant,
        "user_id": memory.user_id,
        "kind": memory.kind.value,
        "source": memory.source.value,
        "status": memory.status.value,
        "created_at": memory.created_at.timestamp(),
        "updated_at": memory.updated_at.timestamp(),
        "confidence": memory.confidence,
        "weight": memory.weight,
    }
    for name in _OPTIONAL:
        value = getattr(memory, name)
        if value is not None:
            meta[name] = value
    return meta


def _from_record(memory_id: str, text: str | None, meta: Any) -> Memory:
    data = dict(meta or {})
    return Memory(
        id=memory_id,
        text=text or "",
        tenant=str(data["tenant"]),
        user_id=str(data["user_id"]),
        kind=MemoryKind(data["kind"]),
        source=MemorySource(data["source"]),
        status=MemoryStatus(data["status"]),
        created_at=datetime.fromtimestamp(float(data["created_at"]), tz=timezone.utc),
        updated_at=datetime.fromtimestamp(float(data["updated_at"]), tz=timezone.utc),
        confidence=float(data.get("confidence", 1.0)),
        weight=float(data.get("weight", 1.0)),
        **{name: data[name] for name in _OPTIONAL if name in data},
    )


class ChromaStore:
    """A ``MemoryStore`` on ChromaDB. Build one with ``embedded``, ``in_memory`` or ``server``."""

    def __init__(self, client: ClientAPI, *, prefix: str = "", description: str = "chroma") -> None:
        self._client = client
        self._prefix = prefix
        self.description = description
        self._collections: dict[str, Collection] = {}
        self._guard = threading.Lock()
        self._embedder: tuple[str, int] | None = None

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def embedded(cls, path: str | Path) -> ChromaStore:
        """A store in a local directory (created if missing), held by this process alone."""
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        directory = Path(path).expanduser()
        try:
            _lock_home(directory)
            client = chromadb.PersistentClient(
                path=str(directory / "chroma"), settings=ChromaSettings(anonymized_telemetry=False)
            )
        except OSError as exc:
            raise StoreError(f"Cannot open the store at {directory}: {exc}. Pick a writable PALIGN_HOME.") from exc
        return cls(client, description=f"chroma:{directory}")

    @classmethod
    def in_memory(cls) -> ChromaStore:
        """A store that lives only as long as this process (for tests and experiments)."""
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        client = chromadb.EphemeralClient(settings=ChromaSettings(anonymized_telemetry=False))
        # Ephemeral clients in one process share their data; a prefix keeps each store apart.
        return cls(client, prefix=f"m{uuid.uuid4().hex[:8]}", description="chroma:memory")

    @classmethod
    def server(cls, host: str = "127.0.0.1", port: int = 8000, *, ssl: bool = False) -> ChromaStore:
        """A store on a Chroma server (``chroma run --path DIR --host 127.0.0.1 --port N``)."""
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        try:
            client = chromadb.HttpClient(
                host=host, port=port, ssl=ssl, settings=ChromaSettings(anonymized_telemetry=False)
            )
        except Exception as exc:
            raise StoreError(
                f"Cannot reach the Chroma server at {host}:{port}: {exc}. Start it with "
                f"`chroma run --path DIR --host {host} --port {port}` or check the address."
            ) from exc
        return cls(client, description=f"chroma:http://{host}:{port}")

    # -- helpers ------------------------------------------------------------------------------
    def bind_embedder(self, name: str, dimension: int) -> None:
        """Record which embedder writes here; collections made by another embedder are refused."""
        self._embedder = (name, dimension)

    def _name(self, scope: Scope, part: str) -> str:
        return f"{self._prefix}{part}_{scope.key}"

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except (StoreError, InvalidInputError):
            raise
        except Exception as exc:
            raise StoreError(f"The vector store failed to {what}: {exc}") from exc

    def _collection(self, scope: Scope, part: str, *, create: bool) -> Collection | None:
        name = self._name(scope, part)
        with self._guard:
            cached = self._collections.get(name)
        if cached is not None:
            return cached
        if create:
            metadata: dict[str, str | int] = {"tenant": scope.tenant, "user_id": scope.user_id}
            if self._embedder is not None:
                metadata["embedder"], metadata["dimension"] = self._embedder
            collection = self._call(
                "open a collection",
                lambda: self._client.get_or_create_collection(
                    name,
                    metadata=metadata,
                    embedding_function=None,
                    configuration={"hnsw": {"space": "cosine", "ef_search": _EF_SEARCH, "ef_construction": 200}},
                ),
            )
        else:
            try:
                collection = self._client.get_collection(name, embedding_function=None)
            except Exception:
                return None
        self._check_collection(collection, scope)
        with self._guard:
            self._collections[name] = collection
        return collection

    def _check_collection(self, collection: Collection, scope: Scope) -> None:
        meta = collection.metadata or {}
        if meta.get("user_id") != scope.user_id or meta.get("tenant") != scope.tenant:
            raise StoreError(f"Collection {collection.name} does not belong to this user; refusing to use it.")
        if self._embedder is not None and "embedder" in meta:
            name, dimension = self._embedder
            if meta["embedder"] != name or meta.get("dimension") != dimension:
                raise InvalidInputError(
                    f"This user's memories were embedded with {meta['embedder']!r} "
                    f"({meta.get('dimension')} dims) but the current embedder is {name!r} ({dimension} dims). "
                    "Use the same embedder, or a new PALIGN_HOME and ingest again."
                )

    def _forget_handle(self, scope: Scope, part: str) -> None:
        with self._guard:
            self._collections.pop(self._name(scope, part), None)

    @staticmethod
    def _owned(scope: Scope, memories: list[Memory]) -> list[Memory]:
        for memory in memories:
            if memory.user_id != scope.user_id or memory.tenant != scope.tenant:
                raise StoreError("The store returned a record of another user; refusing to continue.")
        return memories

    # -- MemoryStore --------------------------------------------------------------------------
    def upsert(self, memories: Sequence[Memory], vectors: Matrix) -> None:
        if not memories:
            return
        if len(memories) != len(vectors):
            raise InvalidInputError(f"{len(memories)} memories but {len(vectors)} vectors: pass one vector each.")
        scopes = {m.scope for m in memories}
        if len(scopes) != 1:
            raise InvalidInputError("upsert takes memories of one user at a time.")
        scope = next(iter(scopes))
        for part, want_episode in (("p", False), ("e", True)):
            rows = [i for i, m in enumerate(memories) if (m.kind is MemoryKind.EPISODE) == want_episode]
            if not rows:
                continue
            collection = self._collection(scope, part, create=True)
            assert collection is not None
            batch = [memories[i] for i in rows]
            embeddings = np.asarray(vectors)[rows]
            self._call(
                "write memories",
                lambda c=collection, b=batch, e=embeddings: c.upsert(  # type: ignore[misc]
                    ids=[m.id for m in b],
                    embeddings=e,
                    documents=[m.text for m in b],
                    metadatas=[_to_metadata(m) for m in b],
                ),
            )

    def _read(self, scope: Scope, part: str, *, ids: Sequence[str] | None, vectors: bool) -> tuple[list[Memory], Any]:
        collection = self._collection(scope, part, create=False)
        if collection is None:
            return [], None
        include: list[Any] = ["documents", "metadatas"] + (["embeddings"] if vectors else [])
        result = self._call(
            "read memories",
            lambda: collection.get(ids=list(ids) if ids is not None else None, include=include),
        )
        documents = result["documents"] or []
        metadatas = result["metadatas"] or []
        memories = [_from_record(i, d, m) for i, d, m in zip(result["ids"], documents, metadatas)]
        return self._owned(scope, memories), result.get("embeddings") if vectors else None

    def get(self, scope: Scope, ids: Sequence[str]) -> list[Memory]:
        if not ids:
            return []
        found = self._read(scope, "p", ids=ids, vectors=False)[0] + self._read(scope, "e", ids=ids, vectors=False)[0]
        order = {memory_id: i for i, memory_id in enumerate(ids)}
        return sorted(found, key=lambda m: order[m.id])

    def list_all(self, scope: Scope) -> list[Memory]:
        memories = (
            self._read(scope, "p", ids=None, vectors=False)[0] + self._read(scope, "e", ids=None, vectors=False)[0]
        )
        return sorted(memories, key=lambda m: (m.created_at, m.message_index or 0, m.id))

    def profile(self, scope: Scope) -> tuple[list[Memory], Matrix]:
        memories, embeddings = self._read(scope, "p", ids=None, vectors=True)
        if not memories:
            return [], np.zeros((0, 0), dtype=np.float32)
        return memories, np.asarray(embeddings, dtype=np.float32)

    def search_episodes(self, scope: Scope, vector: Matrix, k: int) -> list[ScoredMemory]:
        collection = self._collection(scope, "e", create=False)
        if collection is None or k <= 0:
            return []
        total = self._call("count memories", collection.count)
        if total == 0:
            return []
        query = np.asarray(vector, dtype=np.float32).reshape(1, -1)
        result = self._call(
            "search memories",
            lambda: collection.query(
                query_embeddings=query, n_results=min(k, total), include=["documents", "metadatas", "distances"]
            ),
        )
        ids = result["ids"][0]
        documents = (result["documents"] or [[]])[0]
        metadatas = (result["metadatas"] or [[]])[0]
        distances = (result["distances"] or [[]])[0]
        memories = self._owned(scope, [_from_record(i, d, m) for i, d, m in zip(ids, documents, metadatas)])
        return [(m, 1.0 - float(dist)) for m, dist in zip(memories, distances)]

    def delete(self, scope: Scope, ids: Sequence[str] | None = None) -> int:
        removed = 0
        for part in ("p", "e"):
            collection = self._collection(scope, part, create=False)
            if collection is None:
                continue
            if ids is None:
                removed += self._call("count memories", collection.count)
                self._call("delete memories", lambda n=collection.name: self._client.delete_collection(n))  # type: ignore[misc]
                self._forget_handle(scope, part)
                continue
            present = self._call("read memories", lambda c=collection: c.get(ids=list(ids), include=[]))["ids"]  # type: ignore[misc]
            if present:
                self._call("delete memories", lambda c=collection, p=present: c.delete(ids=p))  # type: ignore[misc]
                removed += len(present)
        return removed

    def count(self, scope: Scope) -> int:
        total = 0
        for part in ("p", "e"):
            collection = self._collection(scope, part, create=False)
            if collection is not None:
                total += self._call("count memories", collection.count)
        return total
