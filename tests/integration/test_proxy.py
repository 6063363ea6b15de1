"""The OpenAI-compatible proxy, driven through real uvicorn servers on 127.0.0.1 with the official `openai` client.

The backend is a small recording fake (an OpenAI-compatible server on 127.0.0.1 that can be told to fail);
the Personalizer is real: embedded Chroma in a temp dir and the bundled embedding model.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from palign_rag import Embedder, Personalizer
from palign_rag.server import ApiKeys, HttpUpstream, create_app, tenant_personalizers

from ..servers import ANSWER, FakeBackend, Served


def _proxy(
    tmp_path: Path, backend: FakeBackend, embedder: Embedder, **options: Any
) -> Iterator[tuple[str, Personalizer]]:
    base = Personalizer(tmp_path / "home", embedder=embedder)
    upstream = HttpUpstream(backend.url + "/v1", max_retries=2, backoff=0.01, deadline=10)
    served = Served(create_app(tenant_personalizers(base), upstream, **options))
    try:
        yield served.url, base
    finally:
        served.stop()


@pytest.fixture
def proxy(tmp_path: Path, backend: FakeBackend, real_embedder: Embedder) -> Iterator[tuple[str, Personalizer]]:
    yield from _proxy(tmp_path, backend, real_embedder)


def _wait_for(check: Any, seconds: float = 15.0) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    return check()


TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {}}}}]


def test_a_request_is_personalized_forwarded_unchanged_and_traced(
    proxy: tuple[str, Personalizer], backend: FakeBackend
) -> None:
    url, personalizer = proxy
    personalizer.remember("ana", "I'm vegetarian.")
    client = openai.OpenAI(base_url=url + "/v1", api_key="unused")
    raw = client.chat.completions.with_raw_response.create(
        model="fake-model",
        messages=[
            {"role": "system", "content": "You are a cooking assistant."},
            {"role": "user", "content": "What should I cook tonight?"},
        ],
        user="ana",
        tools=TOOLS,  # type: ignore[arg-type]
        temperature=0.3,
        seed=7,
    )
    answer = raw.parse()
    assert answer.choices[0].message.content == ANSWER and answer.usage is not None and answer.usage.total_tokens == 8
    sent = backend.received[-1]
    assert sent["tools"] == TOOLS and sent["temperature"] == 0.3 and sent["seed"] == 7 and sent["user"] == "ana"
    assert [m["role"] for m in sent["messages"]] == ["system", "user"]
    assert (
        "I'm vegetarian." in sent["messages"][0]["content"]
        and "You are a cooking assistant." in sent["messages"][0]["content"]
    )
    trace_id = raw.headers["x-palign-trace-id"]
    trace = httpx.get(f"{url}/v1/traces/{trace_id}").json()
    assert trace["user_id"] == "ana" and any(c["decision"] == "used" for c in trace["candidates"])
    assert httpx.get(f"{url}/v1/traces/tr_unknown").status_code == 404


def test_streaming_relays_the_backends_chunks(proxy: tuple[str, Personalizer], backend: FakeBackend) -> None:
    url, _ = proxy
    client = openai.OpenAI(base_url=url + "/v1", api_key="unused")
    stream = client.chat.completions.create(
        model="fake-model", messages=[{"role": "user", "content": "Dinner idea?"}], user="bo", stream=True
    )
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert text == ANSWER
    assert backend.received[-1]["stream"] is True and backend.received[-1]["messages"][0]["role"] == "system"


def test_async_client_and_the_models_list(proxy: tuple[str, Personalizer]) -> None:
    url, _ = proxy

    async def run() -> tuple[str | None, list[str]]:
        client = openai.AsyncOpenAI(base_url=url + "/v1", api_key="unused")
        answer = await client.chat.completions.create(
            model="fake-model", messages=[{"role": "user", "content": "hi"}], extra_headers={"X-Palign-User": "cy"}
        )
        models = [m.id async for m in client.models.list()]
        return answer.choices[0].message.content, models

    content, models = asyncio.run(run())
    assert content == ANSWER and models == ["fake-model"]


def test_turns_are_captured_after_the_answer_and_never_twice(proxy: tuple[str, Personalizer]) -> None:
    url, personalizer = proxy
    client = openai.OpenAI(base_url=url + "/v1", api_key="unused")
    history = [{"role": "user", "content": "I'm allergic to peanuts, keep them out of everything."}]
    client.chat.completions.create(model="fake-model", messages=history, user="dee")  # type: ignore[arg-type]
    stored = _wait_for(lambda: httpx.get(f"{url}/v1/users/dee/memories").json())
    assert any("peanuts" in m["text"] for m in stored)
    history += [{"role": "assistant", "content": ANSWER}, {"role": "user", "content": "And a dessert?"}]
    client.chat.completions.create(model="fake-model", messages=history, user="dee")  # type: ignore[arg-type]
    later = _wait_for(lambda: len(personalizer.memories("dee")) > len(stored) and personalizer.memories("dee"))
    texts = [m.text for m in later]
    assert len(texts) == len(set((m.kind, m.text, m.context) for m in later))  # the resent turn was not stored again


def test_a_request_without_a_user_is_forwarded_unpersonalized_and_says_so(
    proxy: tuple[str, Personalizer], backend: FakeBackend
) -> None:
    url, _ = proxy
    response = httpx.post(
        f"{url}/v1/chat/completions", json={"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    )
    assert response.status_code == 200 and response.headers["x-palign-personalized"].startswith("false")
    assert backend.received[-1]["messages"] == [{"role": "user", "content": "hi"}]


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"{}",
        b'{"messages": []}',
        b'{"messages": "hi"}',
        b'{"messages": [{"role": "user", "content": "x"}], "user": "u", "stream": {}}',
        b'{"messages": [{"role": "wizard", "content": "x"}], "user": "u"}',
    ],
)
def test_malformed_requests_get_openai_errors_never_a_500(proxy: tuple[str, Personalizer], body: bytes) -> None:
    url, _ = proxy
    response = httpx.post(f"{url}/v1/chat/completions", content=body, headers={"content-type": "application/json"})
    assert response.status_code in (400, 422)
    error = response.json()["error"]
    assert error["message"] and error["type"] == "invalid_request_error" and "Traceback" not in response.text


def test_backend_failures_are_retried_then_reported(proxy: tuple[str, Personalizer], backend: FakeBackend) -> None:
    url, _ = proxy
    request = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "user": "eve"}
    backend.faults = [(429, {"Retry-After": "0.05"}), (500, {})]
    assert httpx.post(f"{url}/v1/chat/completions", json=request, timeout=30).status_code == 200
    assert len(backend.received) == 3  # two failures, then the answer
    backend.faults = [(500, {})] * 3
    failed = httpx.post(f"{url}/v1/chat/completions", json=request, timeout=30)
    assert failed.status_code == 502 and failed.json()["error"]["code"] == "upstream_error"
    backend.received.clear()
    backend.faults = [(400, {})]
    refused = httpx.post(f"{url}/v1/chat/completions", json=request, timeout=30)
    assert refused.status_code == 400 and len(backend.received) == 1  # a 4xx is the client's: never retried


def test_inspect_composes_without_calling_the_llm(proxy: tuple[str, Personalizer], backend: FakeBackend) -> None:
    url, personalizer = proxy
    personalizer.remember("fay", "Answer in French, please.")
    before = len(backend.received)
    response = httpx.post(
        f"{url}/v1/inspect", json={"messages": [{"role": "user", "content": "How do I boil an egg?"}], "user": "fay"}
    )
    assert response.status_code == 200 and len(backend.received) == before
    body = response.json()
    assert "Answer in French" in body["messages"][0]["content"] and body["trace"]["user_id"] == "fay"


def test_api_keys_scope_tenants(tmp_path: Path, backend: FakeBackend, real_embedder: Embedder) -> None:
    keys = ApiKeys({"key-shop": "shop", "key-school": "school"})
    for url, _ in _proxy(tmp_path, backend, real_embedder, keys=keys):
        shop, school = {"Authorization": "Bearer key-shop"}, {"Authorization": "Bearer key-school"}
        added = httpx.post(f"{url}/v1/users/sam/memories", json={"text": "I prefer short answers."}, headers=shop)
        assert added.status_code == 201
        assert [m["text"] for m in httpx.get(f"{url}/v1/users/sam/memories", headers=shop).json()] == [
            "I prefer short answers."
        ]
        assert httpx.get(f"{url}/v1/users/sam/memories", headers=school).json() == []
        for bad in ({}, {"Authorization": "Bearer wrong"}):
            denied = httpx.get(f"{url}/v1/users/sam/memories", headers=bad)
            assert denied.status_code == 401 and denied.json()["error"]["code"] == "invalid_api_key"
        memory_id = added.json()["id"]
        assert httpx.delete(f"{url}/v1/users/sam/memories/{memory_id}", headers=school).status_code == 404
        assert httpx.delete(f"{url}/v1/users/sam/memories/{memory_id}", headers=shop).json() == {"deleted": 1}
        schema = httpx.get(f"{url}/openapi.json").json()
        assert {"/v1/chat/completions", "/v1/inspect", "/v1/traces/{trace_id}", "/v1/users/{user}/memories"} <= set(
            schema["paths"]
        )
