"""The proxy when palign's own parts fail: a store that is down answers 503 in OpenAI error JSON with
``Retry-After`` and changes nothing; a bug answers 500 without its text or a stack trace. Real uvicorn servers
on 127.0.0.1; the store is real Chroma behind a fault-injecting wrapper."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from palign_rag import Embedder, Personalizer, StoreError
from palign_rag.server import HttpUpstream, create_app, tenant_personalizers

from ..servers import FakeBackend, Served, openai_error
from ..stores import FaultyStore

SECRET = "chroma said: /srv/palign/secret-path is locked"


@pytest.fixture
def store(tmp_path: Path) -> FaultyStore:
    return FaultyStore(tmp_path / "store")


@pytest.fixture
def url(tmp_path: Path, backend: FakeBackend, store: FaultyStore, real_embedder: Embedder) -> Iterator[str]:
    personalizer = Personalizer(tmp_path / "home", store=store, embedder=real_embedder)
    upstream = HttpUpstream(backend.url + "/v1", max_retries=0, deadline=10)
    served = Served(create_app(tenant_personalizers(personalizer), upstream))
    try:
        yield served.url
    finally:
        served.stop()


def _chat(url: str, text: str) -> httpx.Response:
    body = {"model": "m", "messages": [{"role": "user", "content": text}], "user": "ada"}
    return httpx.post(f"{url}/v1/chat/completions", json=body, timeout=30)


def test_a_store_that_is_down_answers_503_with_retry_after_and_writes_nothing(
    url: str, store: FaultyStore, backend: FakeBackend
) -> None:
    store.error = StoreError(SECRET)
    store.failing = {"recall", "get", "list_all", "upsert", "delete"}
    chat = _chat(url, "I'm vegetarian, remember that.")
    assert chat.status_code == 503 and int(chat.headers["retry-after"]) > 0
    assert openai_error(chat)["code"] == "store_unavailable"
    assert backend.received == []  # nothing was sent on without the user's memories
    for response in (
        httpx.get(f"{url}/v1/users/ada/memories"),
        httpx.post(f"{url}/v1/users/ada/memories", json={"text": "I prefer short answers."}),
        httpx.delete(f"{url}/v1/users/ada/memories"),
    ):
        assert response.status_code == 503 and "retry-after" in response.headers
        assert openai_error(response)["type"] == "server_error"
    store.failing = {"upsert"}  # reads work again, writes still fail: a write fails whole
    assert httpx.post(f"{url}/v1/users/ada/memories", json={"text": "I prefer short answers."}).status_code == 503
    store.failing = set()
    assert httpx.get(f"{url}/v1/users/ada/memories").json() == []
    assert _chat(url, "What should I cook?").status_code == 200  # and the proxy serves again once the store is back


def test_a_bug_answers_500_in_openai_json_without_its_text(url: str, store: FaultyStore) -> None:
    store.error = KeyError(SECRET)
    store.failing = {"recall", "list_all"}
    for response in (_chat(url, "Hello there."), httpx.get(f"{url}/v1/users/ada/memories")):
        assert response.status_code == 500
        assert openai_error(response)["type"] == "server_error"
