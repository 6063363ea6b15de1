"""The shipped classification heads: small dense networks run with numpy, loaded from package data.

A weights file (``weights/<name>.npz``) holds each head's layers; its card (``weights/<name>.json``) names
the embedder the heads were trained over, the feature settings, each head's classes and decision
thresholds, and how the heads were trained and measured. Both are written by
``training/train_understanding.py``; nothing is downloaded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ..errors import ModelNotFoundError

__all__ = ["DEFAULT_WEIGHTS", "Head", "HeadSet"]

DEFAULT_WEIGHTS = "minilm-l6-v2"
Matrix = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Head:
    """One classifier: dense layers with ReLU between them, softmax over ``classes`` at the end."""

    name: str
    classes: tuple[str, ...]
    layers: tuple[tuple[Matrix, Matrix], ...]

    def proba(self, features: Matrix) -> Matrix:
        """Class probabilities, one row per feature row (columns in ``classes`` order)."""
        x = np.asarray(features, dtype=np.float32)
        for depth, (weights, bias) in enumerate(self.layers):
            x = x @ weights + bias
            if depth < len(self.layers) - 1:
                np.maximum(x, 0.0, out=x)
        if len(self.classes) == 2 and x.shape[1] == 1:  # a logistic output: P(classes[1])
            p = 1.0 / (1.0 + np.exp(-x[:, 0]))
            return np.stack([1.0 - p, p], axis=1).astype(np.float32)
        x = x - x.max(axis=1, keepdims=True)
        np.exp(x, out=x)
        out: Matrix = (x / x.sum(axis=1, keepdims=True)).astype(np.float32)
        return out


@dataclass(frozen=True)
class HeadSet:
    """All heads of one weights file, with their card."""

    name: str
    embedder: str
    word_dim: int
    heads: dict[str, Head]
    thresholds: dict[str, float] = field(default_factory=dict)
    card: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Head:
        return self.heads[name]

    @classmethod
    def load(cls, location: str | Path | None = None) -> HeadSet:
        """Load ``location`` (a path to an ``.npz`` with its ``.json`` beside it), or the shipped default."""
        if location is None:
            folder = resources.files("palign_rag.understand").joinpath("weights")
            card_text = folder.joinpath(f"{DEFAULT_WEIGHTS}.json").read_text(encoding="utf-8")
            with folder.joinpath(f"{DEFAULT_WEIGHTS}.npz").open("rb") as handle:
                arrays = dict(np.load(handle))
            return cls._build(DEFAULT_WEIGHTS, json.loads(card_text), arrays)
        path = Path(location).expanduser()
        card_path = path.with_suffix(".json")
        try:
            card = json.loads(card_path.read_text(encoding="utf-8"))
            with np.load(path) as data:
                arrays = dict(data)
        except (OSError, ValueError) as exc:
            raise ModelNotFoundError(
                f"Cannot load understanding heads from {path} (and its card {card_path.name}): {exc}. "
                "Train them with training/train_understanding.py, or leave the default."
            ) from exc
        return cls._build(path.stem, card, arrays)

    @classmethod
    def _build(cls, name: str, card: dict[str, Any], arrays: dict[str, Any]) -> HeadSet:
        heads = {}
        for head_name, spec in card["heads"].items():
            layers = tuple(
                (
                    np.asarray(arrays[f"{head_name}.w{i}"], dtype=np.float32),
                    np.asarray(arrays[f"{head_name}.b{i}"], dtype=np.float32),
                )
                for i in range(int(spec["layers"]))
            )
            heads[head_name] = Head(head_name, tuple(spec["classes"]), layers)
        return cls(
            name=name,
            embedder=str(card["embedder"]),
            word_dim=int(card["word_dim"]),
            heads=heads,
            thresholds={k: float(v) for k, v in card.get("thresholds", {}).items()},
            card=card,
        )
