"""The proxy against a fault-injecting backend: dropped connections, a backend that hangs, streams cut off
mid-way. What is retried, what the client gets, and that no memory is written for a failed turn."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from palign_rag import Embedder, Personalizer
from palign_rag.server import HttpUpstream, create_app, tenant_personalizers

from ..servers import ANSWER, FakeBackend, Served, running_backend


@pytest.fixture
def backend() -> Iterator[FakeBackend]:
    with running_backend() as fake:
        fake.hang = 3.0
        yield fake


@pytest.fixture
def proxy(tmp_path: Path, backend: FakeBackend, real_embedder: Embedder) -> Iterator[tuple[str, Personalizer]]:
    personalizer = Personalizer(tmp_path / "home", embedder=real_embedder)
    upstream = HttpUpstream(backend.url + "/v1", timeout=0.5, max_retries=2, backoff=0.01, deadline=10)
    served = Served(create_app(tenant_personalizers(personalizer), upstream))
    try:
        yield served.url, personalizer
    finally:
        served.stop()


def _request(user: str, text: str) -> dict[str, object]:
    return {"model": "m", "messages": [{"role": "user", "content": text}], "user": user}


def _stored(personalizer: Personalizer, user: str, wait: float = 30.0) -> list[str]:
    """The user's memory texts, after giving a background capture time to land."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline and not personalizer.memories(user):
        time.sleep(0.1)
    return [m.text for m in personalizer.memories(user)]


def test_a_dropped_connection_is_retried(proxy: tuple[str, Personalizer], backend: FakeBackend) -> None:
    url, personalizer = proxy
    backend.faults = ["drop"]
    answer = httpx.post(f"{url}/v1/chat/completions", json=_request("ada", "My bike is blue."), timeout=30)
    assert answer.status_code == 200 and answer.json()["choices"][0]["message"]["content"] == ANSWER
    assert len(backend.received) == 2
    assert _stored(personalizer, "ada") == ["My bike is blue."]


def test_connections_dropped_every_time_give_502_and_store_nothing(
    proxy: tuple[str, Personalizer], backend: FakeBackend
) -> None:
    url, personalizer = proxy
    backend.faults = ["drop"] * 3
    failed = httpx.post(f"{url}/v1/chat/completions", json=_request("bea", "My car is red."), timeout=30)
    assert failed.status_code == 502
    assert failed.json()["error"]["code"] == "upstream_unreachable" and "Traceback" not in failed.text
    assert len(backend.received) == 3
    assert httpx.post(f"{url}/v1/chat/completions", json=_request("bea", "My hat is wool."), timeout=30).is_success
    assert _stored(personalizer, "bea") == ["My hat is wool."]


def test_a_backend_that_hangs_gives_504_within_the_retries(
    proxy: tuple[str, Personalizer], backend: FakeBackend
) -> None:
    url, personalizer = proxy
    backend.faults = ["hang"] * 3
    started = time.monotonic()
    failed = httpx.post(f"{url}/v1/chat/completions", json=_request("cal", "My cat is old."), timeout=30)
    assert failed.status_code == 504 and failed.json()["error"]["code"] == "upstream_timeout"
    assert time.monotonic() - started < 6.0  # three tries of 0.5 s, not three of the backend's 3 s
    assert httpx.post(f"{url}/v1/chat/completions", json=_request("cal", "My dog is young."), timeout=30).is_success
    assert _stored(personalizer, "cal") == ["My dog is young."]


def test_a_stream_cut_mid_way_ends_with_an_error_event_and_stores_nothing(
    proxy: tuple[str, Personalizer], backend: FakeBackend
) -> None:
    url, personalizer = proxy
    backend.faults = ["cut"]
    client = openai.OpenAI(base_url=url + "/v1", api_key="none", max_retries=0)
    received: list[str] = []
    with pytest.raises(openai.APIError, match="cut off"):
        for chunk in client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "My flat is small."}], user="dot", stream=True
        ):
            received.append(chunk.choices[0].delta.content or "")
    assert "".join(received) == " ".join(ANSWER.split(" ")[:2])  # what came before the cut was relayed
    # another turn, answered in full, is captured; the cut one never is
    streamed = client.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "My desk is oak."}], user="dot", stream=True
    )
    assert "".join(c.choices[0].delta.content or "" for c in streamed) == ANSWER
    assert _stored(personalizer, "dot") == ["My desk is oak."]


def test_a_stream_that_never_says_done_stores_nothing(proxy: tuple[str, Personalizer], backend: FakeBackend) -> None:
    url, personalizer = proxy
    backend.faults = ["short"]
    client = openai.OpenAI(base_url=url + "/v1", api_key="none", max_retries=0)
    short = client.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "My lamp is tall."}], user="eli", stream=True
    )
    assert "".join(c.choices[0].delta.content or "" for c in short) == " ".join(ANSWER.split(" ")[:2])
    client.chat.completions.create(model="m", messages=[{"role": "user", "content": "My rug is red."}], user="eli")
    assert _stored(personalizer, "eli") == ["My rug is red."]
