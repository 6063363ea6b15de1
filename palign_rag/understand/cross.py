"""``PairReader``: how a newer preference relates to an older one, read by the bundled MiniLM as a cross-encoder.

Why a second reading of the pair, when the relation head already has both sentence embeddings: a sentence
embedding says what each text is about, not how two texts differ. On the project's pairs the head over the two
embeddings recovered 61% of the changes of mind and restatements at 95% precision (5-fold, session 4), and it
took "long, thorough answers" then "tl;dr pls" for unrelated. Reading both texts in one pass lets every layer
compare them word by word; the held-out figures that chose this are in the weights card and BENCHMARKS.md.

What ships is small: low-rank deltas (LoRA) for the linear layers of the bundled all-MiniLM-L6-v2 and a
classifier over the mean of its token states, in ``weights/<name>.npz`` with a card ``weights/<name>.json``,
both written by ``training/train_relation.py``. At load the deltas are merged into a private copy of the
bundled model; nothing is downloaded. Only pairs that could replace something are read (a stored preference
against a new preference or fact), a few at a time, so ingest pays for it only when a user states something.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from ..errors import ModelNotFoundError
from .lora import TARGETS, LoraEncoder, base_model_path, check_head, load_weights, softmax_head

__all__ = ["DEFAULT_PAIR_WEIGHTS", "TARGETS", "PairReader", "base_model_path"]

DEFAULT_PAIR_WEIGHTS = "relation-minilm-l6-v2"
TRAINER = "training/train_relation.py"
Matrix = npt.NDArray[np.float32]


class PairReader:
    """Class probabilities for (older, newer) text pairs, from the bundled MiniLM with shipped deltas merged.

    ``weights`` is a path to another trained ``.npz`` (its card beside it); default: the shipped one.
    The model is loaded on first use and kept; calls are thread-safe.
    """

    def __init__(self, weights: str | Path | None = None) -> None:
        self.card, self._arrays, self.name = load_weights(weights, DEFAULT_PAIR_WEIGHTS, TRAINER)
        self.classes: tuple[str, ...] = tuple(self.card.get("classes", ()))
        if not check_head(self._arrays, "head", self.classes):
            raise ModelNotFoundError(
                f"The pair reader's weights {self.name} are incomplete (a classifier for {len(self.classes)} "
                f"classes is needed): train them with {TRAINER}, or leave the default."
            )
        self._encoder = LoraEncoder(self.card, self._arrays, self.name, TRAINER)

    @property
    def thresholds(self) -> dict[str, float]:
        """Decision thresholds from the card: ``supersede`` (the reader's probability of change or restate),
        ``head_floor`` (the relation head's probability below which a pair is not read)."""
        return {k: float(v) for k, v in self.card.get("thresholds", {}).items()}

    def proba(self, older: Sequence[str], newer: Sequence[str], *, batch_size: int = 32) -> Matrix:
        """One row per pair: the probability of each of ``classes``."""
        if len(older) != len(newer):
            raise ValueError(f"older and newer must pair up: {len(older)} against {len(newer)} texts")
        if not older:
            return np.zeros((0, len(self.classes)), dtype=np.float32)
        pooled = self._encoder.pooled(older, newer, batch_size=batch_size)
        return softmax_head(pooled, self._arrays["head.w"], self._arrays["head.b"])
