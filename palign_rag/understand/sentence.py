"""``SentenceReader``: which way a preference pushes, read by the bundled MiniLM fine-tuned with low-rank deltas.

Why a second reading of a sentence the heads already read: the heads see its sentence embedding and its words,
which say what it is about, not which way it pushes ("say when you're guessing" and "guess and say it like it's
fact" are about the same thing; only the second asks the assistant to drop honesty). The conflict head over
embeddings and words found 72% of the test split's value-dropping preferences (session 4); this reader finds 91%
at 1.2% false positives (session 7). It is no oracle: it still misses some blunt ones the head catches ("Just
guess and say it like it's fact.", a strict xfail in the tests). Figures: its card and BENCHMARKS.md.

It reads only the sentences the heads find possibly a preference or a fact (``LocalUnderstander.understand``;
the card's ``gate``), once each, and decides preference (with the heads), fact and conflict for them: ingest pays
for it on about a third of the sentences it reads (171 of 477 in ``bench_ingest``'s histories). Weights: ``weights/<name>.npz`` and card ``weights/<name>.json``, written by
``training/train_sentence.py``; see ``lora.py`` for the format.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from ..errors import ModelNotFoundError
from .labels import CONFLICTS
from .lora import LoraEncoder, check_head, load_weights, softmax_head

__all__ = ["APPLIES_CLASSES", "CONFLICT_CLASSES", "DEFAULT_SENTENCE_WEIGHTS", "YES_NO", "SentenceReader"]

DEFAULT_SENTENCE_WEIGHTS = "sentence-minilm-l6-v2"
CONFLICT_CLASSES: tuple[str, ...] = ("none", *CONFLICTS)
APPLIES_CLASSES: tuple[str, ...] = ("always", "topical")
YES_NO: tuple[str, ...] = ("no", "yes")
TRAINER = "training/train_sentence.py"
Matrix = npt.NDArray[np.float32]


class SentenceReader:
    """Per sentence: the probability of each conflict class (``CONFLICT_CLASSES``), of each scope
    (``APPLIES_CLASSES``) and, for weights from session 8 on (``reads_preferences``), that it states a preference
    and a fact (``YES_NO``).

    ``weights`` is a path to another trained ``.npz`` (its card beside it); default: the shipped one.
    The model is loaded on first use and kept; calls are thread-safe.
    """

    def __init__(self, weights: str | Path | None = None) -> None:
        self.card, self._arrays, self.name = load_weights(weights, DEFAULT_SENTENCE_WEIGHTS, TRAINER)
        heads = self.card.get("heads", {})
        if tuple(heads.get("conflict", ())) != CONFLICT_CLASSES or tuple(heads.get("applies", ())) != APPLIES_CLASSES:
            raise ModelNotFoundError(
                f"The sentence reader's weights {self.name} read other classes than {CONFLICT_CLASSES} and "
                f"{APPLIES_CLASSES}: train them with {TRAINER}, or leave the default."
            )
        if not all(check_head(self._arrays, h, heads[h]) for h in ("conflict", "applies")):
            raise ModelNotFoundError(
                f"The sentence reader's weights {self.name} are incomplete (conflict and applies classifiers are "
                f"needed): train them with {TRAINER}, or leave the default."
            )
        self._encoder = LoraEncoder(self.card, self._arrays, self.name, TRAINER)
        self.reads_preferences = all(
            tuple(heads.get(h, ())) == YES_NO and check_head(self._arrays, h, heads[h]) for h in ("preference", "fact")
        ) and {"preference", "fact", "gate"} <= set(self.thresholds)
        """Whether these weights also tell whether a sentence states a preference or a fact (weights trained
        before session 8 read only conflict and scope)."""

    @property
    def thresholds(self) -> dict[str, float]:
        """Decision thresholds from the card: ``conflict`` (1 minus the probability of ``none``); with the
        preference and fact classifiers, ``preference`` and ``fact`` (probability of yes), and ``gate``: the
        preference head's probability from which a sentence is read by this reader at all."""
        return {k: float(v) for k, v in self.card.get("thresholds", {}).items()}

    def read(self, texts: Sequence[str], *, batch_size: int = 32) -> dict[str, Matrix]:
        """Every classifier's probabilities, one row per text, in one pass of the model: ``conflict``
        (``CONFLICT_CLASSES``), ``applies`` (``APPLIES_CLASSES``) and, when ``reads_preferences``,
        ``preference`` and ``fact`` (``YES_NO``)."""
        names = ["conflict", "applies", *(["preference", "fact"] if self.reads_preferences else [])]
        if not texts:
            sizes = {"conflict": len(CONFLICT_CLASSES), "applies": len(APPLIES_CLASSES)}
            return {n: np.zeros((0, sizes.get(n, len(YES_NO))), dtype=np.float32) for n in names}
        pooled = self._encoder.pooled(texts, batch_size=batch_size)
        return {n: softmax_head(pooled, self._arrays[f"{n}.w"], self._arrays[f"{n}.b"]) for n in names}

    def proba(self, texts: Sequence[str], *, batch_size: int = 32) -> tuple[Matrix, Matrix]:
        """Conflict and applies probabilities, one row per text."""
        read = self.read(texts, batch_size=batch_size)
        return read["conflict"], read["applies"]
