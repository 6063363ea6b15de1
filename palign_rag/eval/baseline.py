"""The naive dense baseline every ``palign eval`` benchmark reports beside palign: no extraction, no policy,
no reranking; the texts the system stores, ranked by cosine to the question with the evaluated embedder."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..embed import Embedder, Matrix
from ..errors import InvalidInputError

__all__ = ["dense_order", "naive_user_order", "user_positions"]


def user_positions(history: Sequence[dict[str, str]]) -> list[int]:
    """Indexes of the user's messages in a history: what ``ingest`` stores from it (assistant turns are not)."""
    return [i for i, message in enumerate(history) if message.get("role") == "user"]


def dense_order(vectors: Matrix, query: Matrix, *, depth: int, indexes: Sequence[int] | None = None) -> list[int]:
    """The first ``depth`` rows of ``vectors`` by cosine to ``query`` (unit vectors; ties keep their order),
    named by ``indexes`` (default: their row numbers), so a ranking over a subset names the original messages."""
    if indexes is not None and len(indexes) != len(vectors):
        raise InvalidInputError(f"dense_order got {len(indexes)} indexes for {len(vectors)} vectors: give one per row.")
    if len(vectors) == 0:
        return []
    ids = list(indexes) if indexes is not None else list(range(len(vectors)))
    similarity = np.asarray(vectors) @ np.asarray(query).reshape(-1)
    return [ids[int(i)] for i in np.argsort(-similarity, kind="stable")[:depth]]


def naive_user_order(embedder: Embedder, history: Sequence[dict[str, str]], question: str, *, depth: int) -> list[int]:
    """Message indexes of the ``depth`` user messages of ``history`` closest to ``question``.

    Only user messages are ranked, as only they are stored: the baseline sees what palign sees."""
    positions = user_positions(history)
    if not positions:
        return []
    vectors = embedder.embed([history[i]["content"] for i in positions])
    return dense_order(vectors, embedder.embed([question])[0], depth=depth, indexes=positions)
