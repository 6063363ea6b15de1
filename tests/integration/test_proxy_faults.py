"""The proxy against a fault-injecting backend: dropped connections, a backend that hangs, streams cut off
mid-way. What is retried, what the client gets, and that no memory is written for a failed turn."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from palign_rag import Embedder, Personalizer
from palign_rag.server import HttpUpstream, create_app, tenant_personalizers

from ..servers import ANSWER, FakeBackend, Served, openai_error, running_backend


@pytest.fixture
def backend() -> Iterator[FakeBackend]:
    with running_backend() as fake:
        fake.hang = 3.0
        yield fake


@contextmanager
def _serve(
    tmp_path: Path, backend: FakeBackend, embedder: Embedder, **retries: Any
) -> Iterator[tuple[str, Personalizer]]:
    personalizer = Personalizer(tmp_path / "home", embedder=embedder)
    upstream = HttpUpstream(backend.url + "/v1", **{"max_retries": 2, "backoff": 0.01, **retries})
    served = Served(create_app(tenant_personalizers(personalizer), upstream))
    try:
        yield served.url, personalizer
    finally:
        served.stop()


@pytest.fixture
def proxy(tmp_path: Path, backend: FakeBackend, real_embedder: Embedder) -> Iterator[tuple[str, Personalizer]]:
    with _serve(tmp_path, backend, real_embedder, timeout=0.5, deadline=10) as served:
        yield served


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


def test_a_409_goes_back_to_the_client_at_once_and_stores_nothing(
    proxy: tuple[str, Personalizer], backend: FakeBackend
) -> None:
    url, personalizer = proxy
    backend.faults = [(409, {})]
    refused = httpx.post(f"{url}/v1/chat/completions", json=_request("fay", "My mug is tall."), timeout=30)
    assert refused.status_code == 409 and refused.json()["error"]["message"] == "fault 409"  # the backend's own
    assert len(backend.received) == 1  # a 4xx other than 429 is the request's: never retried
    assert httpx.post(f"{url}/v1/chat/completions", json=_request("fay", "My pen is red."), timeout=30).is_success
    assert _stored(personalizer, "fay") == ["My pen is red."]


def test_retry_after_on_a_429_is_waited_for_unless_it_runs_past_the_deadline(
    proxy: tuple[str, Personalizer], backend: FakeBackend
) -> None:
    url, personalizer = proxy
    backend.faults = [(429, {"Retry-After": "1"})]
    started = time.monotonic()
    answered = httpx.post(f"{url}/v1/chat/completions", json=_request("gus", "My kite is blue."), timeout=30)
    assert answered.status_code == 200 and len(backend.received) == 2
    assert time.monotonic() - started >= 0.95  # the backend asked for 1 s; the backoff alone is 0.01 s
    backend.faults = [(429, {"Retry-After": "30"})]  # longer than the 10 s deadline: give up at once
    started = time.monotonic()
    busy = httpx.post(f"{url}/v1/chat/completions", json=_request("gus", "My van is grey."), timeout=30)
    assert busy.status_code == 503 and busy.headers["retry-after"] == "30"
    assert openai_error(busy)["code"] == "upstream_error"
    assert time.monotonic() - started < 5.0 and len(backend.received) == 3
    assert httpx.post(f"{url}/v1/chat/completions", json=_request("gus", "My cup is white."), timeout=30).is_success
    deadline = time.monotonic() + 30
    while "My cup is white." not in _stored(personalizer, "gus") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert sorted(_stored(personalizer, "gus")) == ["My cup is white.", "My kite is blue."]


def test_a_hanging_backend_gives_up_within_the_deadline_not_the_timeout(
    tmp_path: Path, backend: FakeBackend, real_embedder: Embedder
) -> None:
    backend.faults = ["hang"] * 3
    with _serve(tmp_path, backend, real_embedder, timeout=5.0, deadline=1.0) as (url, personalizer):
        started = time.monotonic()
        failed = httpx.post(f"{url}/v1/chat/completions", json=_request("hal", "My boat is small."), timeout=30)
        elapsed = time.monotonic() - started
        assert failed.status_code == 504 and openai_error(failed)["code"] == "upstream_timeout"
        assert elapsed < 1.0 + 0.75  # the 1 s deadline, not one 5 s timeout (and not the backend's 3 s)
        backend.faults = []
        assert httpx.post(f"{url}/v1/chat/completions", json=_request("hal", "My oar is long."), timeout=30).is_success
        assert _stored(personalizer, "hal") == ["My oar is long."]
