"""ChromaDB implementation of ``MemoryStore``: embedded on disk (default), in memory, or a server.

Layout: each user has a collection of their own (``u_<scope key>``), never shared with anyone else, so
no query can run outside a user's scope: the scope picks the collection. Every record also carries its
owner in metadata, and everything read back is re-checked against the scope.

Search within a user is exact. Chroma's HNSW index was measured here to miss true top-k results when
a user has identical vectors (as repeated "thanks!" turns give): 1,471 of 2,000 top-10 slots wrong with
a third of the vectors duplicated. So reads score a user's vectors exactly, from a snapshot of the
collection cached in this process and validated on every read against a revision stamp that every
write bumps in the collection's metadata. A stale snapshot is never served, so replicas sharing one
Chroma server stay correct; the cache only saves the fetch.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import logging
import os
import resource
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import numpy.typing as npt

from ..embed import Matrix
from ..errors import InvalidInputError, StoreError
from ..lexical import LexicalIndex
from ..timecues import TimeCue
from ..types import Memory, MemoryKind, MemorySource, MemoryStatus, Scope
from ..understand.labels import Understanding
from .base import Hit, Recall

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection

__all__ = ["ChromaStore"]

logger = logging.getLogger("palign_rag")
T = TypeVar("T")

_OPTIONAL = (
    "role",
    "origin",
    "message_index",
    "context",
    "supersedes",
    "superseded_by",
    "quarantine_reason",
    "status_reason",
    "blocked_by",
    "applies",
    "subject",
    "stance",
)
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


@contextlib.contextmanager
def _bounded_hnsw_cache(indexes: int) -> Iterator[None]:
    """Chroma sizes its in-process cache of HNSW indexes from the open-file limit (limit // 5) when a
    client starts, which is effectively unbounded: with a collection per user, memory grew by about
    4.6 MB per user touched (1,000 vectors each), deleted collections included. Lowering the soft limit
    while the client starts bounds that cache to ``indexes`` collections; the limit is restored at once."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        in_use = len(os.listdir("/proc/self/fd"))
    except OSError:  # not Linux: leave Chroma's default alone
        yield
        return
    wanted = max(5 * indexes, in_use + 64)  # the client opens files of its own while it starts
    if soft != resource.RLIM_INFINITY and soft <= wanted:
        yield
        return
    resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def _to_metadata(memory: Memory) -> dict[str, str | int | float | bool | None]:
    """Chroma merges the metadata of an upserted record into what it holds, and drops keys written as None:
    every optional field is written, None included, so a field cleared on the memory is cleared in the store."""
    meta: dict[str, str | int | float | bool | None] = {
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
        meta[name] = getattr(memory, name)
    meta["understanding"] = memory.understanding.model_dump_json() if memory.understanding is not None else None
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
        understanding=Understanding.model_validate_json(data["understanding"]) if data.get("understanding") else None,
        **{name: data[name] for name in _OPTIONAL if data.get(name) is not None},
    )


@dataclass(frozen=True)
class _Snapshot:
    """All of one user's memories and vectors at one revision."""

    revision: str
    memories: list[Memory]
    vectors: Matrix
    episode_rows: npt.NDArray[np.intp]
    profile_rows: npt.NDArray[np.intp]

    @functools.cached_property
    def times(self) -> npt.NDArray[np.float64]:
        """Each memory's ``created_at`` as POSIX seconds (what time cues are matched against)."""
        return np.array([m.created_at.timestamp() for m in self.memories], dtype=np.float64)

    @functools.cached_property
    def lexical(self) -> LexicalIndex:
        """BM25 over the memories' texts, built on first use for this revision."""
        return LexicalIndex([m.search_text for m in self.memories])

    @classmethod
    def build(cls, revision: str, memories: list[Memory], vectors: Matrix) -> _Snapshot:
        is_episode = np.array([m.kind is MemoryKind.EPISODE for m in memories], dtype=bool)
        return cls(
            revision=revision,
            memories=memories,
            vectors=vectors,
            episode_rows=np.flatnonzero(is_episode),
            profile_rows=np.flatnonzero(~is_episode),
        )


def _ranks(scores: npt.NDArray[np.float32]) -> npt.NDArray[np.intp]:
    """0-based rank of every entry, highest score first (ties broken by position)."""
    order = np.argsort(-scores, kind="stable")
    ranks = np.empty(len(scores), dtype=np.intp)
    ranks[order] = np.arange(len(scores))
    return ranks


def _top(scores: npt.NDArray[np.float32], rows: npt.NDArray[np.intp], k: int) -> list[int]:
    """The ``k`` rows (of ``rows``) with the highest scores."""
    if k >= len(rows):
        return [int(r) for r in rows]
    part = np.argpartition(-scores[rows], k - 1)[:k]
    return [int(r) for r in rows[part]]


_EMPTY = _Snapshot.build("", [], np.zeros((0, 0), dtype=np.float32))


class ChromaStore:
    """A ``MemoryStore`` on ChromaDB. Build one with ``embedded``, ``in_memory`` or ``server``.

    ``cache_users`` bounds how many users' snapshots this process keeps (least recently used first out).
    """

    def __init__(
        self, client: ClientAPI, *, prefix: str = "", description: str = "chroma", cache_users: int = 64
    ) -> None:
        self._client = client
        self._prefix = prefix
        self.description = description
        self._cache: OrderedDict[str, _Snapshot] = OrderedDict()
        self._cache_users = cache_users
        self._guard = threading.Lock()
        self._embedder: tuple[str, int] | None = None

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def embedded(cls, path: str | Path, *, hnsw_cache: int = 1000) -> ChromaStore:
        """A store in a local directory (created if missing), held by this process alone.

        ``hnsw_cache`` bounds how many users' Chroma indexes stay in memory (see ``_bounded_hnsw_cache``).
        It was 64 until session 6: Chroma 1.5 then failed to read a small collection back once its index had
        been evicted ("Error creating hnsw segment reader: Nothing found on disk"; 280 of 1,000 requests of 50
        concurrent users through the proxy, ``benchmarks/load_proxy.py --users 50 --requests 20``), and 0 failed
        at 1,000. Chroma takes its bound from the open-file limit (limit // 5), which this only ever lowers: with
        a soft limit of 1,024 the bound is 204 whatever is asked. Beyond that many active users the failure
        comes back: issue [6].
        """
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        directory = Path(path).expanduser()
        try:
            _lock_home(directory)
            with _bounded_hnsw_cache(hnsw_cache):
                client = chromadb.PersistentClient(
                    path=str(directory / "chroma"), settings=ChromaSettings(anonymized_telemetry=False)
                )
        except OSError as exc:
            raise StoreError(f"Cannot open the store at {directory}: {exc}. Pick a writable PALIGN_HOME.") from exc
        return cls(client, description=f"chroma:{directory}")

    @classmethod
    def in_memory(cls, *, hnsw_cache: int = 1000) -> ChromaStore:
        """A store that lives only as long as this process (for tests and experiments)."""
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        with _bounded_hnsw_cache(hnsw_cache):
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
        """Record which embedder writes here; a user's collection made by another embedder is refused."""
        self._embedder = (name, dimension)

    def _name(self, scope: Scope) -> str:
        return f"{self._prefix}u_{scope.key}"

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except (StoreError, InvalidInputError):
            raise
        except Exception as exc:
            raise StoreError(f"The vector store failed to {what}: {exc}") from exc

    def _base_metadata(self, scope: Scope) -> dict[str, str | int]:
        metadata: dict[str, str | int] = {"tenant": scope.tenant, "user_id": scope.user_id}
        if self._embedder is not None:
            metadata["embedder"], metadata["dimension"] = self._embedder
        return metadata

    def _open(self, scope: Scope, *, create: bool) -> Collection | None:
        """The user's collection with fresh metadata (one lookup), or None when it does not exist."""
        name = self._name(scope)
        if create:
            metadata = {**self._base_metadata(scope), "revision": uuid.uuid4().hex}
            collection = self._call(
                "open a collection",
                lambda: self._client.get_or_create_collection(
                    name,
                    metadata=metadata,
                    embedding_function=None,
                    configuration={"hnsw": {"space": "cosine"}},
                ),
            )
        else:
            try:
                collection = self._client.get_collection(name, embedding_function=None)
            except Exception as exc:
                if "does not exist" in str(exc) or type(exc).__name__ in (
                    "NotFoundError",
                    "InvalidCollectionException",
                ):
                    return None
                raise StoreError(f"The vector store failed to open a collection: {exc}") from exc
        self._check_collection(collection, scope)
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

    def _bump(self, collection: Collection, scope: Scope) -> None:
        """Mark the collection changed, so every process refetches its snapshot."""
        metadata = {**self._base_metadata(scope), "revision": uuid.uuid4().hex}
        if self._embedder is None:  # keep what an earlier writer recorded
            old = collection.metadata or {}
            metadata.update({k: old[k] for k in ("embedder", "dimension") if k in old})
        self._call("update the collection", lambda: collection.modify(metadata=metadata))
        with self._guard:
            self._cache.pop(collection.name, None)

    def _snapshot(self, scope: Scope) -> _Snapshot:
        collection = self._open(scope, create=False)
        if collection is None:
            return _EMPTY
        revision = str((collection.metadata or {}).get("revision", ""))
        with self._guard:
            cached = self._cache.get(collection.name)
            if cached is not None and cached.revision == revision:
                self._cache.move_to_end(collection.name)
                return cached
        result = self._call("read memories", lambda: collection.get(include=["documents", "metadatas", "embeddings"]))
        documents = result["documents"] or []
        metadatas = result["metadatas"] or []
        memories = [_from_record(i, d, m) for i, d, m in zip(result["ids"], documents, metadatas)]
        self._owned(scope, memories)
        embeddings = result.get("embeddings")
        vectors = (
            np.asarray(embeddings, dtype=np.float32) if embeddings is not None and len(memories) else _EMPTY.vectors
        )
        snapshot = _Snapshot.build(revision, memories, vectors)
        with self._guard:
            self._cache[collection.name] = snapshot
            self._cache.move_to_end(collection.name)
            while len(self._cache) > self._cache_users:
                self._cache.popitem(last=False)
        return snapshot

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
        collection = self._open(scope, create=True)
        assert collection is not None
        batch = list(memories)
        self._call(
            "write memories",
            lambda: collection.upsert(
                ids=[m.id for m in batch],
                embeddings=np.asarray(vectors, dtype=np.float32),
                documents=[m.text for m in batch],
                metadatas=[_to_metadata(m) for m in batch],
            ),
        )
        self._bump(collection, scope)

    def get(self, scope: Scope, ids: Sequence[str]) -> list[Memory]:
        if not ids:
            return []
        collection = self._open(scope, create=False)
        if collection is None:
            return []
        with self._guard:
            cached = self._cache.get(collection.name)
        if cached is not None and cached.revision == str((collection.metadata or {}).get("revision", "")):
            by_id = {m.id: m for m in cached.memories}
        else:  # a point read: cheaper than refreshing the whole snapshot (ingest calls this per chunk)
            result = self._call(
                "read memories", lambda: collection.get(ids=list(ids), include=["documents", "metadatas"])
            )
            found = zip(result["ids"], result["documents"] or [], result["metadatas"] or [])
            by_id = {m.id: m for m in self._owned(scope, [_from_record(i, d, m) for i, d, m in found])}
        return [by_id[i] for i in ids if i in by_id]

    def list_all(self, scope: Scope) -> list[Memory]:
        memories = list(self._snapshot(scope).memories)
        return sorted(memories, key=lambda m: (m.created_at, m.message_index or 0, m.id))

    def recall(
        self, scope: Scope, vector: Matrix, k: int, *, text: str | None = None, when: TimeCue | None = None
    ) -> Recall:
        snapshot = self._snapshot(scope)
        total = len(snapshot.memories)
        if total == 0:
            return Recall([], 0)
        dense = snapshot.vectors @ np.asarray(vector, dtype=np.float32).reshape(-1)
        dense_rank = _ranks(dense)
        chosen = set(snapshot.profile_rows.tolist())
        episodes = snapshot.episode_rows
        if k > 0 and len(episodes):
            chosen.update(_top(dense, episodes, k))
        lexical = lexical_rank = None
        if text:
            lexical = snapshot.lexical.scores(text)
            lexical_rank = _ranks(lexical)
            matching = episodes[lexical[episodes] > 0]
            if k > 0 and len(matching):
                chosen.update(_top(lexical, matching, k))
        temporal = None
        if when is not None:
            temporal = when.match(snapshot.times)
            fitting = episodes[temporal[episodes] >= 0.5]
            if k > 0 and len(fitting):
                chosen.update(_top(dense, fitting, k))
        hits = []
        for row in sorted(chosen):
            lex = float(lexical[row]) if lexical is not None else 0.0
            hits.append(
                Hit(
                    memory=snapshot.memories[row],
                    dense=float(dense[row]),
                    dense_rank=int(dense_rank[row]),
                    lexical=lex,
                    lexical_rank=int(lexical_rank[row]) if lexical_rank is not None and lex > 0 else None,
                    temporal=float(temporal[row]) if temporal is not None else None,
                    vector=snapshot.vectors[row],
                )
            )
        return Recall(hits, total)

    def delete(self, scope: Scope, ids: Sequence[str] | None = None) -> int:
        collection = self._open(scope, create=False)
        if collection is None:
            return 0
        if ids is None:
            removed = self._call("count memories", collection.count)
            self._call("delete memories", lambda: self._client.delete_collection(collection.name))
            with self._guard:
                self._cache.pop(collection.name, None)
            return removed
        present = self._call("read memories", lambda: collection.get(ids=list(ids), include=[]))["ids"]
        if present:
            self._call("delete memories", lambda: collection.delete(ids=present))
            self._bump(collection, scope)
        return len(present)

    def count(self, scope: Scope) -> int:
        collection = self._open(scope, create=False)
        return 0 if collection is None else self._call("count memories", collection.count)
