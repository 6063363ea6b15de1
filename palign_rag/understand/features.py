"""The inputs of the understanding heads, built from what ingest already has: a text's sentence embedding
and its words. Training (``training/train_understanding.py``) and inference call the same functions.

Why words beside the embedding: a sentence embedding says what a text is *about* far more than what it
*does*. "I love jazz", "Do you love jazz?" and "My sister loves jazz" sit close together, but only the first
is a preference. Hashed word unigrams and bigrams (with ``?`` and ``!`` kept as words) give the heads the
cues that tell them apart, at no model cost; the corpus figures that chose this are in BENCHMARKS.md.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

__all__ = ["always_share", "hashed_words", "pair_features", "sentence_features", "turn_vectors"]

Matrix = npt.NDArray[np.float32]
_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|[?!]")
_PUNCT_TAIL = re.compile(r"[?]\s*$")


def _bucket(token: str, dim: int) -> tuple[int, float]:
    digest = hashlib.blake2b(token.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest[:4], "little") % dim, 1.0 if digest[4] & 1 else -1.0


def hashed_words(texts: Sequence[str], dim: int) -> Matrix:
    """Unit-norm signed hashing of each text's lowercased word unigrams and bigrams (``dim`` columns)."""
    matrix = np.zeros((len(texts), dim), dtype=np.float32)
    if dim <= 0:
        return matrix
    distinct = list(dict.fromkeys(texts))
    if len(distinct) < len(texts):  # pairs repeat one side's text on every row: hash each text once
        rows = {text: row for row, text in enumerate(distinct)}
        return hashed_words(distinct, dim)[[rows[t] for t in texts]]
    for row, text in enumerate(texts):
        tokens = _TOKEN.findall(text.lower())
        grams = tokens + [f"{a} {b}" for a, b in itertools.pairwise(tokens)]
        if _PUNCT_TAIL.search(text):
            grams.append("<ends-with-question>")
        if tokens:
            grams.append(f"<first> {tokens[0]}")
        for gram in grams:
            column, sign = _bucket(gram, dim)
            matrix[row, column] += sign
        norm = float(np.linalg.norm(matrix[row]))
        if norm > 0:
            matrix[row] /= norm
    return matrix


def sentence_features(vectors: Matrix, texts: Sequence[str], word_dim: int) -> Matrix:
    """One row per text: its (unit-norm) embedding, then its hashed words."""
    vectors = np.asarray(vectors, dtype=np.float32)
    if word_dim <= 0:
        return vectors
    return np.hstack([vectors, hashed_words(texts, word_dim)]).astype(np.float32, copy=False)


def turn_vectors(vectors: Matrix, groups: Sequence[int]) -> tuple[Matrix, list[int]]:
    """The unit-norm mean of the sentence vectors of each turn (``groups[i]`` is the turn of row ``i``), and the
    turn ids in order. A turn's meaning without a second model pass over the whole turn."""
    order = list(dict.fromkeys(groups))
    index = {g: i for i, g in enumerate(order)}
    sums = np.zeros((len(order), np.asarray(vectors).shape[1]), dtype=np.float32)
    for row, group in enumerate(groups):
        sums[index[group]] += vectors[row]
    norms = np.linalg.norm(sums, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    out: Matrix = (sums / norms).astype(np.float32)
    return out, order


def pair_features(
    older: Matrix,
    newer: Matrix,
    older_texts: Sequence[str],
    newer_texts: Sequence[str],
    word_dim: int,
    older_read: Matrix,
    newer_read: Matrix,
) -> Matrix:
    """One row per (older, newer) pair of preferences: both embeddings, their product and absolute difference
    (what they share, where they differ), their cosine and word overlap, each one's words, and what the
    sentence heads read in each (``*_read``: stance, subject and applies probabilities), with how alike the
    two subjects are and how far apart the two stances."""
    older = np.asarray(older, dtype=np.float32)
    newer = np.asarray(newer, dtype=np.float32)
    cosine = np.sum(older * newer, axis=1, keepdims=True)
    overlap = np.array([[_overlap(a, b)] for a, b in zip(older_texts, newer_texts)], dtype=np.float32)
    stances = older_read[:, :2], newer_read[:, :2]
    subjects = older_read[:, 2:-2], newer_read[:, 2:-2]
    same_subject = np.sum(subjects[0] * subjects[1], axis=1, keepdims=True)
    stance_gap = np.abs(stances[0][:, :1] - stances[1][:, :1])
    parts = [older, newer, older * newer, np.abs(older - newer), cosine, overlap]
    parts += [hashed_words(newer_texts, word_dim // 2), hashed_words(older_texts, word_dim // 2)]
    parts += [older_read, newer_read, same_subject, stance_gap, same_subject * stance_gap]
    return np.hstack(parts).astype(np.float32, copy=False)


def _overlap(a: str, b: str) -> float:
    """Jaccard overlap of two texts' word sets."""
    x, y = set(_TOKEN.findall(a.lower())), set(_TOKEN.findall(b.lower()))
    return len(x & y) / max(len(x | y), 1)


def always_share(subject_proba: Matrix, always: int) -> Matrix:
    """Per row, the share of the subject probability on how-to-answer subjects: ``subject_proba`` has the
    subjects in ``SUBJECTS`` order (the ``always`` how-to-answer ones first), then ``none``, which is left out."""
    on_always = subject_proba[:, :always].sum(axis=1)
    on_topics = subject_proba[:, always:-1].sum(axis=1)
    share: Matrix = on_always / np.maximum(on_always + on_topics, 1e-9)
    return share
