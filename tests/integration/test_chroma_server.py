"""Two stateless replicas against one Chroma server on 127.0.0.1 (started and stopped by the test)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from palign_rag import ChromaStore, FakeEmbedder, Personalizer
from tests.conftest import RecordingBackend, user

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    chroma = shutil.which("chroma", path=str(Path(sys.executable).parent))
    if chroma is None:
        pytest.fail("the `chroma` command is missing from the virtual environment: run ./scripts/setup.sh")
    port = _free_port()
    data = tmp_path_factory.mktemp("chroma-server")
    log = (data / "server.log").open("w")
    process = subprocess.Popen(
        [chroma, "run", "--path", str(data / "db"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"chroma server did not start: {(data / 'server.log').read_text()[-2000:]}")
                time.sleep(0.2)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def test_replicas_share_memories_and_never_serve_a_stale_snapshot(chroma_server: int) -> None:
    embedder = FakeEmbedder()
    first = Personalizer(
        store=ChromaStore.server("127.0.0.1", chroma_server), embedder=embedder, backend=RecordingBackend()
    )
    second = Personalizer(
        store=ChromaStore.server("127.0.0.1", chroma_server), embedder=embedder, backend=RecordingBackend()
    )
    first.remember("val", "I prefer green tea")
    assert '"I prefer green tea"' in second.compose("val", [user("which tea do I prefer?")]).system_prompt

    # second now holds a cached snapshot; a write through first must be seen at once
    first.remember("val", "I prefer oolong tea over green tea")
    prompt = second.compose("val", [user("which tea do I prefer?")]).system_prompt
    assert '"I prefer oolong tea over green tea"' in prompt

    memory_id = next(m.id for m in second.memories("val") if m.text == "I prefer green tea")
    first.forget("val", memory_id)
    assert [m.text for m in second.memories("val")] == ["I prefer oolong tea over green tea"]
    assert second.memories("other") == []
