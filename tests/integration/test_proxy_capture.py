"""What the proxy stores after an answer: only the turns a request adds to its conversation (a resent history
neither refreshes old memories nor brings back deleted ones), on a bounded worker that drops rather than
blocks answers. Real uvicorn servers on 127.0.0.1; real Chroma (behind a wrapper that can hold its writes)."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from palign_rag import Embedder, Personalizer
from palign_rag.server import HttpUpstream, create_app, tenant_personalizers
from palign_rag.types import Scope

from ..servers import ANSWER, FakeBackend, Served
from ..stores import FaultyStore


@dataclass
class Proxy:
    url: str
    app: FastAPI
    store: FaultyStore
    served: Served

    def chat(self, user: str, messages: list[dict[str, Any]]) -> httpx.Response:
        body = {"model": "m", "messages": messages, "user": user}
        return httpx.post(f"{self.url}/v1/chat/completions", json=body, timeout=30)

    def memories(self, user: str) -> list[dict[str, Any]]:
        assert self.app.state.captures.flush(60)
        found: list[dict[str, Any]] = httpx.get(f"{self.url}/v1/users/{user}/memories").json()
        return found


@contextmanager
def _serve(tmp_path: Path, backend: FakeBackend, embedder: Embedder, **options: Any) -> Iterator[Proxy]:
    store = FaultyStore(tmp_path / "store")
    personalizer = Personalizer(tmp_path / "home", store=store, embedder=embedder)
    app = create_app(tenant_personalizers(personalizer), HttpUpstream(backend.url + "/v1", deadline=10), **options)
    served = Served(app)
    try:
        yield Proxy(served.url, app, store, served)
    finally:
        store.release()
        served.stop()


@pytest.fixture
def proxy(tmp_path: Path, backend: FakeBackend, real_embedder: Embedder) -> Iterator[Proxy]:
    with _serve(tmp_path, backend, real_embedder) as served:
        yield served


FIRST = {"role": "user", "content": "I'm allergic to peanuts, keep them out of everything."}
SECOND = {"role": "user", "content": "My sister visits on Friday."}


def test_a_memory_deleted_through_the_api_stays_deleted_when_the_history_is_resent(proxy: Proxy) -> None:
    assert proxy.chat("ada", [FIRST]).status_code == 200
    peanuts = [m for m in proxy.memories("ada") if "peanuts" in m["text"]]
    assert peanuts
    for memory in peanuts:
        assert httpx.delete(f"{proxy.url}/v1/users/ada/memories/{memory['id']}").status_code == 200
    history = [FIRST, {"role": "assistant", "content": ANSWER}, SECOND]
    assert proxy.chat("ada", history).status_code == 200
    texts = [m["text"] for m in proxy.memories("ada")]
    assert SECOND["content"] in texts  # the new turn is stored
    assert not any("peanuts" in text for text in texts)  # the deleted one is not back


def test_a_resent_turn_keeps_its_memorys_times(proxy: Proxy) -> None:
    assert proxy.chat("bo", [FIRST]).status_code == 200
    before = {m["id"]: (m["created_at"], m["updated_at"]) for m in proxy.memories("bo")}
    assert before
    time.sleep(0.05)
    history = [FIRST, {"role": "assistant", "content": ANSWER}, SECOND]
    assert proxy.chat("bo", history).status_code == 200
    after = {m["id"]: (m["created_at"], m["updated_at"]) for m in proxy.memories("bo")}
    assert {i: after[i] for i in before} == before
    assert len(after) > len(before)


def test_captures_past_the_bound_are_dropped_without_slowing_answers(
    tmp_path: Path, backend: FakeBackend, real_embedder: Embedder, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="palign_rag")
    said = [f"My {thing} is green." for thing in ("bike", "door", "kite", "vase", "sofa", "mug")]
    with _serve(tmp_path, backend, real_embedder, max_pending_captures=2) as proxy:
        captures = proxy.app.state.captures
        proxy.store.hold = True  # the capture worker blocks on its first write
        assert proxy.chat("cy", [{"role": "user", "content": said[0]}]).status_code == 200
        assert proxy.store.holding.wait(30)
        for text in said[1:]:
            started = time.monotonic()
            assert proxy.chat("cy", [{"role": "user", "content": text}]).status_code == 200
            assert time.monotonic() - started < 5.0  # answered while the worker is stuck
        assert (captures.pending, captures.dropped) == (3, 3)  # one being written, two waiting, three dropped
        assert "dropped a capture" in caplog.text and not any(text in caplog.text for text in said)
        proxy.store.release()
        proxy.served.stop()  # shutting down stores what was still waiting
        assert captures.pending == 0
        stored = {m.text for m in proxy.store.inner.list_all(Scope(tenant="default", user_id="cy"))}
    assert set(said[:3]) <= stored and not set(said[3:]) & stored
