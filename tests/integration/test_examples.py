"""Each door's example in ``examples/`` runs as a user would run it, against a recording fake OpenAI-compatible
backend on 127.0.0.1 (and, for the proxy examples, a real proxy in front of it)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from palign_rag import Embedder, Personalizer
from palign_rag.server import HttpUpstream, create_app, tenant_personalizers

from ..servers import ANSWER, FakeBackend, Served

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture
def proxy(tmp_path: Path, backend: FakeBackend, real_embedder: Embedder) -> Iterator[str]:
    personalizer = Personalizer(tmp_path / "proxy-home", embedder=real_embedder)
    served = Served(create_app(tenant_personalizers(personalizer), HttpUpstream(backend.url + "/v1", max_retries=0)))
    try:
        yield served.url + "/v1"
    finally:
        served.stop()


def _run(command: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PALIGN_HOME": str(tmp_path / "home"), "HF_HUB_OFFLINE": "1", **env}
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, env=environment, cwd=EXAMPLES.parent)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def test_proxy_with_the_openai_client(tmp_path: Path, backend: FakeBackend, proxy: str) -> None:
    done = _run([sys.executable, str(EXAMPLES / "proxy_openai_client.py")], tmp_path, PALIGN_PROXY_URL=proxy)
    assert f"answer: {ANSWER}" in done.stdout
    assert f"streamed: {ANSWER}" in done.stdout
    assert 'memories used: ["I\'m allergic to peanuts."]' in done.stdout
    assert "peanuts" in backend.received[0]["messages"][0]["content"]


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_proxy_with_curl(tmp_path: Path, backend: FakeBackend, proxy: str) -> None:
    done = _run(["bash", str(EXAMPLES / "proxy_curl.sh")], tmp_path, PALIGN_PROXY_URL=proxy)
    stored, answer, inspected = (json.loads(line) for line in done.stdout.strip().splitlines())
    assert stored["text"] == "Metric units from now on."
    assert answer["choices"][0]["message"]["content"] == ANSWER
    assert "x-palign-trace-id" in done.stderr.lower()
    assert "Metric units" in backend.received[0]["messages"][0]["content"]
    assert "Metric units" in inspected["messages"][0]["content"]


def test_wrap_example(tmp_path: Path, backend: FakeBackend) -> None:
    done = _run([sys.executable, str(EXAMPLES / "wrap_openai.py")], tmp_path, OPENAI_BASE_URL=backend.url + "/v1")
    assert f"answer: {ANSWER}" in done.stdout
    assert "three sentences" in backend.received[0]["messages"][0]["content"]
    assert "three sentences" in done.stdout.split("memories used:")[1]
    assert "I just moved to Lisbon. What should I see first?" in done.stdout.split("memories:")[1]


def test_lcel_example(tmp_path: Path, backend: FakeBackend) -> None:
    pytest.importorskip("langchain_openai")
    done = _run([sys.executable, str(EXAMPLES / "lcel_chain.py")], tmp_path, OPENAI_BASE_URL=backend.url + "/v1")
    assert f"streamed: {ANSWER}" in done.stdout
    assert backend.received[0]["stream"] is True
    system = backend.received[0]["messages"][0]["content"]
    assert "vegetarian" in system and "travel assistant" in system
    assert "Monte Baldo" in done.stdout.split("retrieved:")[1]
