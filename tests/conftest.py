"""Shared fixtures. Tests run offline: no model downloads, sockets only to loopback."""

from __future__ import annotations

import os
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.pop("OPENAI_BASE_URL", None)
os.environ.pop("OPENAI_API_KEY", None)
os.environ.pop("PALIGN_BACKEND", None)
# the embedding model's ONNX export is cached inside the checkout (ignored by git), not in the user's home
os.environ.setdefault("PALIGN_CACHE_DIR", str(Path(__file__).resolve().parent.parent / ".cache" / "palign"))

from collections.abc import Iterator
from typing import Any

import pytest
import pytest_socket

from palign_rag import Embedder, FakeEmbedder, FunctionBackend, Personalizer, default_embedder


def pytest_runtest_setup(item: pytest.Item) -> None:
    pytest_socket.socket_allow_hosts(["127.0.0.1", "::1", "localhost"], allow_unix_socket=True)


class RecordingBackend(FunctionBackend):
    """A backend that records what it was sent and answers with a fixed text."""

    def __init__(self, answer: str = "ok") -> None:
        self.sent: list[list[dict[str, Any]]] = []
        self.options: list[dict[str, Any]] = []

        def reply(messages: list[dict[str, Any]], **kwargs: Any) -> str:
            self.sent.append(messages)
            self.options.append(kwargs)
            return answer

        super().__init__(reply, name="recording")


@pytest.fixture
def backend() -> RecordingBackend:
    return RecordingBackend()


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def personalizer(home: Path, backend: RecordingBackend) -> Iterator[Personalizer]:
    """A Personalizer on real embedded Chroma in a temp dir, with the deterministic fake embedder."""
    yield Personalizer(home, embedder=FakeEmbedder(), backend=backend)


@pytest.fixture(scope="session")
def real_embedder() -> Embedder:
    """The bundled model as users get it by default (onnxruntime)."""
    embedder = default_embedder()
    embedder.load()
    return embedder


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": text}


def assistant(text: str) -> dict[str, Any]:
    return {"role": "assistant", "content": text}
