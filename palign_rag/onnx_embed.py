"""``OnnxEmbedder``: the bundled all-MiniLM-L6-v2 run by onnxruntime, the default embedder when it is installed.

Why our own ONNX path rather than sentence-transformers' ``backend="onnx"``: that backend needs ``optimum``,
whose current release pins older ``transformers`` and ``huggingface-hub`` than sentence-transformers 5 needs
(installing it downgraded both here). Exporting the model ourselves takes a few seconds, once: the graph is the
model plus mean pooling and L2 normalization (what the bundled model's ``modules.json`` asks for), written to a
cache folder (``$PALIGN_CACHE_DIR``, else ``$XDG_CACHE_HOME/palign-rag``, else ``~/.cache/palign-rag``) under a
name that changes with the model's files. Texts are tokenized with the model's own ``tokenizer.json``
(``tokenizers``), so a process that only embeds never imports torch once the export is cached.

Measured on this machine (2 cores; ``benchmarks/bench_embed.py``, BENCHMARKS.md session 7): vectors equal to
sentence-transformers' within 1.3e-7; one query 6.07 ms against 11.81 ms (median); 1,000 texts in one call 0.61 s
against 0.69 s.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import tempfile
import threading
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .embed import Embedder, Matrix, _quiet_transformers
from .errors import ModelNotFoundError

__all__ = ["OnnxEmbedder", "default_embedder", "onnx_available"]

EXPORT_VERSION = "1"
"""Bumped when the exported graph changes, so old cached exports are not reused."""


def onnx_available() -> bool:
    """Whether onnxruntime (to run) and onnx (to export once) are installed. Looked up, not imported: importing
    onnx takes about 0.27 s here and only an export needs it."""
    return all(importlib.util.find_spec(name) is not None for name in ("onnx", "onnxruntime"))


def cache_dir(env: dict[str, str] | None = None) -> Path:
    """Where exported models are kept."""
    env = dict(os.environ) if env is None else env
    if env.get("PALIGN_CACHE_DIR"):
        return Path(env["PALIGN_CACHE_DIR"]).expanduser()
    base = Path(env["XDG_CACHE_HOME"]).expanduser() if env.get("XDG_CACHE_HOME") else Path.home() / ".cache"
    return base / "palign-rag"


def _fingerprint(folder: Path) -> str:
    """Changes when the model's files change (their names, sizes and the small files' contents)."""
    digest = hashlib.sha256(EXPORT_VERSION.encode())
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        stat = path.stat()
        digest.update(f"{path.relative_to(folder)}:{stat.st_size}".encode())
        if stat.st_size < 1_000_000:
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _check_mean_pooling(folder: Path) -> int:
    """The model's maximum sequence length; raises unless it is a mean-pooled, normalized sentence model."""
    try:
        modules = json.loads((folder / "modules.json").read_text(encoding="utf-8"))
        kinds = [m["type"].rsplit(".", 1)[-1] for m in modules]
        pooling_path = next(m["path"] for m in modules if m["type"].endswith("Pooling"))
        pooling = json.loads((folder / pooling_path / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError, StopIteration) as exc:
        raise ModelNotFoundError(
            f"{folder} is not a sentence-transformers model folder (modules.json and a pooling config are needed): "
            f"{exc}. Use SentenceTransformerEmbedder for it."
        ) from exc
    modes = [k for k, v in pooling.items() if k.startswith("pooling_mode_") and v]
    if kinds != ["Transformer", "Pooling", "Normalize"] or modes != ["pooling_mode_mean_tokens"]:
        raise ModelNotFoundError(
            f"OnnxEmbedder runs mean-pooled, normalized models; {folder} has {kinds} with {modes}. "
            "Use SentenceTransformerEmbedder for it (palign eval: --runtime torch)."
        )
    try:
        config = json.loads((folder / "sentence_bert_config.json").read_text(encoding="utf-8"))
        return int(config.get("max_seq_length", 256))
    except (OSError, ValueError):
        return 256


def export_pooled(model: Any, target: Path, *, normalize: bool, token_types: bool = False) -> None:
    """Write a transformers encoder with mean pooling (and L2 normalization when ``normalize``) as one ONNX graph
    with inputs ``input_ids``, ``attention_mask`` (and ``token_type_ids`` when ``token_types``) and output
    ``pooled``; atomically, so a crash never leaves half a file at ``target``."""
    import torch

    class Pooled(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, ids: torch.Tensor, mask: torch.Tensor, *types: torch.Tensor) -> torch.Tensor:
            extra = {"token_type_ids": types[0]} if types else {}
            states = self.inner(input_ids=ids, attention_mask=mask, **extra).last_hidden_state
            weights = mask.unsqueeze(-1).to(states.dtype)
            pooled: torch.Tensor = (states * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1e-9)
            if normalize:
                pooled = pooled / pooled.norm(dim=1, keepdim=True).clamp(min=1e-12)
            return pooled

    names = ["input_ids", "attention_mask", *(["token_type_ids"] if token_types else [])]
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, scratch = tempfile.mkstemp(dir=target.parent, suffix=".onnx.part")
    os.close(handle)
    try:
        example = tuple(torch.ones((2, 8), dtype=torch.long) for _ in names)
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer notes about shapes: the axes are declared dynamic below
            torch.onnx.export(
                Pooled(model.eval()),
                example,
                scratch,
                dynamo=False,
                input_names=names,
                output_names=["pooled"],
                dynamic_axes={**{n: {0: "batch", 1: "tokens"} for n in names}, "pooled": {0: "batch"}},
                opset_version=17,
            )
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(scratch, 0o666 & ~umask)  # as readable as any file the user writes (mkstemp makes it 0600)
        os.replace(scratch, target)
    finally:
        if os.path.exists(scratch):
            os.unlink(scratch)


def _export(folder: Path, target: Path) -> None:
    """The sentence model of ``folder`` with mean pooling and normalization."""
    from transformers import AutoModel

    _quiet_transformers()
    # eager attention exports as plain matmuls that onnxruntime fuses; the default (sdpa) does not fuse
    export_pooled(AutoModel.from_pretrained(str(folder), attn_implementation="eager"), target, normalize=True)


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return (stat.st_ino, stat.st_mtime_ns)


def _exported(target: Path, export: Callable[[Path], None]) -> None:
    """Run ``export(target)``; what goes wrong says what to do."""
    try:
        export(target)
    except OSError as exc:
        raise ModelNotFoundError(
            f"Cannot write the ONNX export to {target.parent}: {exc}. Set PALIGN_CACHE_DIR to a writable folder."
        ) from exc
    except Exception as exc:
        raise ModelNotFoundError(
            f"Exporting the model to ONNX failed ({type(exc).__name__}: {exc}); it needs torch >= 2.5 and onnx. "
            "Use SentenceTransformerEmbedder (palign eval: --runtime torch) instead."
        ) from exc


def session_for(target: Path, export: Callable[[Path], None], threads: int | None = None) -> Any:
    """An onnxruntime session for ``target``, exported first by ``export(target)`` when it is not there (once
    across processes, under a file lock) or cannot be parsed (a damaged file is exported again, once, unless
    another process already replaced it)."""
    try:
        import onnxruntime as ort
        from onnxruntime.capi.onnxruntime_pybind11_state import Fail, InvalidProtobuf
    except ImportError as exc:
        raise ModelNotFoundError(f"onnxruntime is not installed ({exc}): run ./scripts/setup.sh.") from exc
    from filelock import FileLock

    lock_path = str(target) + ".lock"
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.is_file():
            with FileLock(lock_path):  # two processes starting at once export once
                if not target.is_file():
                    _exported(target, export)
    except OSError as exc:
        raise ModelNotFoundError(
            f"Cannot write the ONNX export to {target.parent}: {exc}. Set PALIGN_CACHE_DIR to a writable folder."
        ) from exc
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    # no busy-waiting between runs: the embedder and the readers are separate sessions sharing the cores, and a
    # spinning pool of one slowed the other (and torch) on 2 cores
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if threads:
        options.intra_op_num_threads = threads
    seen = _stamp(target)
    try:
        return ort.InferenceSession(str(target), options, providers=["CPUExecutionProvider"])
    except (InvalidProtobuf, Fail) as exc:  # a damaged file (not a permission or memory error): export again once
        with FileLock(lock_path):
            if _stamp(target) == seen:  # nobody replaced it meanwhile
                target.unlink(missing_ok=True)
                _exported(target, export)
        try:
            return ort.InferenceSession(str(target), options, providers=["CPUExecutionProvider"])
        except Exception as again:
            raise ModelNotFoundError(
                f"onnxruntime cannot load {target}: {again}. Delete it, or set PALIGN_CACHE_DIR elsewhere."
            ) from exc


def run_pooled(session: Any, encodings: Sequence[Any], batch_size: int, *, token_types: bool = False) -> Matrix:
    """Pooled outputs of ``session`` for tokenized inputs (``tokenizers`` encodings), in batches of like length."""
    width_out = int(session.get_outputs()[0].shape[-1])
    out = np.zeros((len(encodings), width_out), dtype=np.float32)
    order = sorted(range(len(encodings)), key=lambda i: len(encodings[i].ids))
    for start in range(0, len(order), batch_size):
        rows = order[start : start + batch_size]
        width = max(len(encodings[i].ids) for i in rows)
        inputs = {name: np.zeros((len(rows), width), dtype=np.int64) for name in ("input_ids", "attention_mask")}
        if token_types:
            inputs["token_type_ids"] = np.zeros((len(rows), width), dtype=np.int64)
        for k, i in enumerate(rows):
            n = len(encodings[i].ids)
            inputs["input_ids"][k, :n] = encodings[i].ids
            inputs["attention_mask"][k, :n] = 1
            if token_types:
                inputs["token_type_ids"][k, :n] = encodings[i].type_ids
        out[rows] = session.run(None, inputs)[0]
    return out


class OnnxEmbedder:
    """The bundled all-MiniLM-L6-v2 (or ``model``, a local mean-pooled sentence-transformers folder) run by
    onnxruntime; its vectors are those of ``SentenceTransformerEmbedder`` for the same model (same ``name``), so
    either can read a store the other wrote.

    The first use exports the model to ``cache`` (default: ``cache_dir()``) unless an export is there already;
    ``threads`` caps onnxruntime's threads (default: its own choice). Thread-safe.
    """

    def __init__(
        self,
        model: str | None = None,
        *,
        batch_size: int = 64,
        cache: str | Path | None = None,
        threads: int | None = None,
    ) -> None:
        self._model_path = model
        self.batch_size = batch_size
        self.name = "all-MiniLM-L6-v2" if model is None else model.rstrip("/").rsplit("/", 1)[-1]
        self.dimension = 384 if model is None else 0
        self._cache = Path(cache).expanduser() if cache is not None else None
        self._threads = threads
        self._session: Any = None
        self._tokenizer: Any = None
        self._lock = threading.Lock()
        self.exported_to: Path | None = None
        """The ONNX file in use (set on load)."""

    def _folder(self) -> Path:
        if self._model_path is not None:
            return Path(self._model_path).expanduser()
        from .understand.lora import base_model_path

        return Path(base_model_path())

    def load(self) -> None:
        """Load (exporting first if needed) now; it otherwise happens on the first ``embed``."""
        with self._lock:
            if self._session is not None:
                return
            try:
                import onnxruntime  # noqa: F401
                from tokenizers import Tokenizer
            except ImportError as exc:
                raise ModelNotFoundError(
                    f"OnnxEmbedder needs onnxruntime and tokenizers ({exc}): run ./scripts/setup.sh, "
                    "or use SentenceTransformerEmbedder."
                ) from exc
            folder = self._folder()
            if not (folder / "config.json").is_file():
                raise ModelNotFoundError(
                    f"No model at {folder}: pass a local sentence-transformers folder; palign-rag does not download."
                )
            max_length = _check_mean_pooling(folder)
            target = (self._cache or cache_dir()) / f"{self.name}-{_fingerprint(folder)}.onnx"
            session = session_for(target, lambda path: _export(folder, path), self._threads)
            tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
            tokenizer.enable_truncation(max_length=max_length)
            tokenizer.no_padding()
            self._tokenizer, self._session, self.exported_to = tokenizer, session, target
            self.dimension = int(session.get_outputs()[0].shape[-1] or self.dimension)

    def embed(self, texts: Sequence[str]) -> Matrix:
        self.load()
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return run_pooled(self._session, self._tokenizer.encode_batch(list(texts)), self.batch_size)


def default_embedder() -> Embedder:
    """The bundled model through onnxruntime when it is installed, else through sentence-transformers."""
    if onnx_available():
        return OnnxEmbedder()
    from .embed import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder()
