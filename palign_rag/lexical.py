"""A small BM25 index over one user's memories (pure Python and NumPy, built once per store revision)."""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

__all__ = ["LexicalIndex", "tokenize"]

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_STOP = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "been",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "for",
        "from",
        "had",
        "has",
        "have",
        "he",
        "her",
        "hers",
        "him",
        "his",
        "how",
        "i",
        "i'm",
        "if",
        "in",
        "into",
        "is",
        "it",
        "it's",
        "its",
        "me",
        "my",
        "of",
        "on",
        "or",
        "our",
        "ours",
        "she",
        "so",
        "than",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "to",
        "too",
        "us",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "yours",
        "just",
        "also",
        "very",
        "about",
        "any",
        "some",
        "all",
        "not",
        "no",
        "yes",
        "ok",
        "okay",
        "oh",
        "hey",
        "hi",
        "thanks",
        "thank",
        "really",
    ]
)


def _stem(token: str) -> str:
    # Light suffix stripping: enough to match "hiking"/"hike", "restaurants"/"restaurant", "went"... not.
    if token.endswith("'s"):
        token = token[:-2]
    for suffix, keep in (("ies", "y"), ("ing", ""), ("ed", ""), ("es", ""), ("s", "")):
        if token.endswith(suffix) and len(token) - len(suffix) >= 3 and not token.endswith("ss"):
            return token[: -len(suffix)] + keep
    return token


def tokenize(text: str) -> list[str]:
    """Lower-cased, stop words out, lightly stemmed word tokens."""
    return [_stem(t) for t in _WORD.findall(text.lower()) if t not in _STOP]


class LexicalIndex:
    """Okapi BM25 over a fixed list of documents. Per-posting weights are precomputed, so a search is
    one array addition per query term."""

    def __init__(self, documents: Sequence[str], *, k1: float = 1.2, b: float = 0.75) -> None:
        self.size = len(documents)
        tokens = [tokenize(d) for d in documents]
        lengths = np.array([len(t) for t in tokens], dtype=np.float32)
        average = float(lengths.mean()) if self.size else 0.0
        postings: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for row, words in enumerate(tokens):
            for word, count in Counter(words).items():
                postings[word].append((row, count))
        self._postings: dict[str, tuple[npt.NDArray[np.intp], npt.NDArray[np.float32]]] = {}
        for word, entries in postings.items():
            rows = np.array([r for r, _ in entries], dtype=np.intp)
            tf = np.array([c for _, c in entries], dtype=np.float32)
            idf = math.log(1.0 + (self.size - len(entries) + 0.5) / (len(entries) + 0.5))
            norm = k1 * (1.0 - b + b * lengths[rows] / (average or 1.0))
            self._postings[word] = (rows, (idf * tf * (k1 + 1.0) / (tf + norm)).astype(np.float32))

    def scores(self, query: str) -> npt.NDArray[np.float32]:
        """BM25 score of every document for ``query`` (0 where no query term occurs)."""
        total = np.zeros(self.size, dtype=np.float32)
        for word in set(tokenize(query)):
            entry = self._postings.get(word)
            if entry is not None:
                total[entry[0]] += entry[1]
        return total
