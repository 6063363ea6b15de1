"""Fuzzing the proxy: over a thousand malformed requests (hypothesis) to every endpoint of a real uvicorn server
on 127.0.0.1. None may answer 500, and every error is an OpenAI error object without a stack trace."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from palign_rag import FakeEmbedder, Personalizer
from palign_rag.server import HttpUpstream, create_app, tenant_personalizers

from ..servers import FakeBackend, Served

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
ROLES = st.sampled_from(["user", "assistant", "system", "tool", "developer", "wizard", "", "USER"]) | st.text(
    max_size=8
)
MESSAGE = st.fixed_dictionaries({}, optional={"role": ROLES | JSON, "content": JSON, "name": JSON, "tool_calls": JSON})
CHAT = st.fixed_dictionaries(
    {},
    optional={
        "model": JSON,
        "messages": st.lists(MESSAGE, max_size=4) | JSON,
        "user": st.text(max_size=20) | JSON,
        "stream": JSON,
        "temperature": JSON,
    },
)
BODY = st.one_of(
    CHAT.map(lambda body: json.dumps(body).encode()),
    JSON.map(lambda value: json.dumps(value).encode()),
    st.binary(max_size=64),
    st.text(max_size=40).map(lambda text: ("{" + text).encode("utf-8", "surrogatepass")),
)
MEMORY = st.fixed_dictionaries({}, optional={"text": JSON | st.text(max_size=40), "kind": JSON})
SEGMENT = st.text(min_size=1, max_size=20).map(lambda t: quote(t.encode("utf-8", "surrogatepass"), safe=""))


def fuzz(examples: int) -> settings:
    """Settings of every fuzz test here: fixed examples (reproducible), no deadline, no example database."""
    return settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large],
    )


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    fake = FakeBackend()
    backend = Served(fake.app)
    home: Path = tmp_path_factory.mktemp("fuzz") / "home"
    personalizer = Personalizer(home, embedder=FakeEmbedder())
    proxy = Served(create_app(tenant_personalizers(personalizer), HttpUpstream(backend.url + "/v1", max_retries=0)))
    try:
        with httpx.Client(base_url=proxy.url, timeout=30) as client:
            yield client
    finally:
        proxy.stop()
        backend.stop()


def _check(response: httpx.Response) -> None:
    assert response.status_code != 500, response.text
    assert response.status_code < 500 or response.status_code in (502, 503, 504)
    if response.status_code >= 400:
        error: dict[str, Any] = response.json()["error"]
        assert isinstance(error["message"], str) and error["message"] and isinstance(error["type"], str)
        assert "Traceback" not in response.text


@fuzz(350)
@given(body=BODY, content_type=st.sampled_from(["application/json", "text/plain", "application/x-www-form-urlencoded"]))
def test_chat_completions_never_500(served: httpx.Client, body: bytes, content_type: str) -> None:
    _check(served.post("/v1/chat/completions", content=body, headers={"content-type": content_type}))


@fuzz(300)
@given(body=BODY)
def test_inspect_never_500(served: httpx.Client, body: bytes) -> None:
    _check(served.post("/v1/inspect", content=body, headers={"content-type": "application/json"}))


@fuzz(250)
@given(user=SEGMENT, body=MEMORY.map(lambda b: json.dumps(b).encode()) | st.binary(max_size=32))
def test_memories_never_500(served: httpx.Client, user: str, body: bytes) -> None:
    _check(served.post(f"/v1/users/{user}/memories", content=body, headers={"content-type": "application/json"}))
    _check(served.get(f"/v1/users/{user}/memories"))


@fuzz(150)
@given(user=SEGMENT, item=SEGMENT, header=st.text(max_size=20))
def test_paths_and_headers_never_500(served: httpx.Client, user: str, item: str, header: str) -> None:
    _check(served.delete(f"/v1/users/{user}/memories/{item}"))
    _check(served.get(f"/v1/traces/{item}"))
    headers = {"X-Palign-User": header, "Authorization": "Bearer " + header}
    chat = {"messages": [{"role": "user", "content": "hi"}]}
    try:
        response = served.post("/v1/inspect", json=chat, headers=headers)
    except (httpx.LocalProtocolError, UnicodeEncodeError):  # not a header a client could send
        return
    _check(response)
