"""The ONNX path of the bundled model: the same vectors as sentence-transformers, a cached export, clear errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from palign_rag import ModelNotFoundError, OnnxEmbedder, SentenceTransformerEmbedder, default_embedder, onnx_embed
from palign_rag.understand.lora import base_model_path

TEXTS = [
    "Metric units from now on.",
    "I went vegetarian last month, no more meat for me.",
    "",
    "émoji 🎉 ünïcödé, 日本語のテキスト",
    "word " * 400,  # longer than the model's 256 tokens: truncated the same way
    "Spicy food is a no for me.",
]


@pytest.fixture(scope="module")
def reference() -> np.ndarray:
    return SentenceTransformerEmbedder().embed(TEXTS)


def test_vectors_match_sentence_transformers(tmp_path: Path, reference: np.ndarray) -> None:
    embedder = OnnxEmbedder(cache=tmp_path)
    vectors = embedder.embed(TEXTS)
    assert vectors.shape == (len(TEXTS), 384) and vectors.dtype == np.float32
    assert np.abs(vectors - reference).max() < 1e-5
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    # one at a time (a query) equals the batch
    assert np.abs(embedder.embed([TEXTS[1]])[0] - vectors[1]).max() < 1e-5
    assert embedder.embed([]).shape == (0, 384)
    assert embedder.name == SentenceTransformerEmbedder().name  # either can read the other's store


def test_the_export_is_cached_and_a_damaged_one_is_redone(
    tmp_path: Path, reference: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = OnnxEmbedder(cache=tmp_path)
    first.load()
    assert first.exported_to is not None and first.exported_to.parent == tmp_path
    written = first.exported_to.stat().st_mtime_ns

    def no_export(*args: object) -> None:
        raise AssertionError("exported again although a cached export exists")

    with monkeypatch.context() as patch:
        patch.setattr(onnx_embed, "_export", no_export)
        second = OnnxEmbedder(cache=tmp_path)
        assert np.abs(second.embed(TEXTS[:2]) - reference[:2]).max() < 1e-5
    assert first.exported_to.stat().st_mtime_ns == written

    first.exported_to.write_bytes(b"not a model")  # e.g. a disk filled up mid-write by another tool
    third = OnnxEmbedder(cache=tmp_path)
    assert np.abs(third.embed(TEXTS[:2]) - reference[:2]).max() < 1e-5
    assert not list(tmp_path.glob("*.part"))


def test_the_cache_folder_follows_the_environment(tmp_path: Path) -> None:
    assert onnx_embed.cache_dir({"PALIGN_CACHE_DIR": str(tmp_path)}) == tmp_path
    assert onnx_embed.cache_dir({"XDG_CACHE_HOME": str(tmp_path)}) == tmp_path / "palign-rag"


def test_a_model_it_cannot_run_says_what_to_use(tmp_path: Path) -> None:
    folder = tmp_path / "cls-model"
    shutil.copytree(base_model_path(), folder)
    pooling = folder / "1_Pooling" / "config.json"
    config = json.loads(pooling.read_text())
    config.update(pooling_mode_mean_tokens=False, pooling_mode_cls_token=True)
    pooling.write_text(json.dumps(config))
    with pytest.raises(ModelNotFoundError, match="SentenceTransformerEmbedder"):
        OnnxEmbedder(str(folder), cache=tmp_path).embed(["hello"])
    with pytest.raises(ModelNotFoundError, match="does not download"):
        OnnxEmbedder(str(tmp_path / "missing"), cache=tmp_path).embed(["hello"])


def test_the_default_embedder_is_the_onnx_path() -> None:
    assert isinstance(default_embedder(), OnnxEmbedder)


def test_an_unwritable_cache_says_what_to_set(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(ModelNotFoundError, match="PALIGN_CACHE_DIR"):
        OnnxEmbedder(cache=blocker / "cache").embed(["hello"])


def test_the_export_is_readable_by_other_users_of_a_shared_cache(tmp_path: Path) -> None:
    import os

    embedder = OnnxEmbedder(cache=tmp_path)
    embedder.load()
    assert embedder.exported_to is not None
    umask = os.umask(0)
    os.umask(umask)
    assert embedder.exported_to.stat().st_mode & 0o777 == 0o666 & ~umask
