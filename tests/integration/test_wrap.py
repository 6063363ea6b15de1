"""``wrap()`` around the official ``openai`` clients, against a recording fake backend on 127.0.0.1.

The Personalizer is real (embedded Chroma in a temp dir, the bundled embedding model)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import openai
import pytest

from palign_rag import Embedder, Personalizer, UsageError, wrap

from ..servers import ANSWER, FakeBackend


@pytest.fixture
def personalizer(tmp_path: Path, real_embedder: Embedder) -> Personalizer:
    return Personalizer(tmp_path / "home", embedder=real_embedder)


def _client(backend: FakeBackend) -> openai.OpenAI:
    return openai.OpenAI(base_url=backend.url + "/v1", api_key="sk-test", max_retries=0)


def _system(body: dict[str, object]) -> str:
    messages = body["messages"]
    assert isinstance(messages, list)
    return str(messages[0]["content"]) if messages[0]["role"] == "system" else ""


def _texts(personalizer: Personalizer, user: str) -> list[str]:
    return [m.text for m in personalizer.memories(user)]


def test_wrapped_client_personalizes_passes_arguments_and_returns_the_answer_unchanged(
    backend: FakeBackend, personalizer: Personalizer
) -> None:
    personalizer.remember("ana", "I'm vegetarian.")
    client = wrap(_client(backend), personalizer, user="ana")
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {}}}}]
    reply = client.chat.completions.create(
        model="fake-model",
        messages=[{"role": "user", "content": "What should I cook tonight?"}],
        temperature=0.3,
        seed=7,
        tools=tools,
    )
    assert reply.choices[0].message.content == ANSWER
    assert reply.id == "chatcmpl-fake"
    sent = backend.received[-1]
    assert "vegetarian" in _system(sent)
    assert sent["messages"][-1] == {"role": "user", "content": "What should I cook tonight?"}
    assert (sent["temperature"], sent["seed"], sent["tools"]) == (0.3, 7, tools)
    assert "user" not in sent  # the user given to wrap() is palign's, not sent to the backend
    assert client.last_trace is not None and client.last_trace.user_id == "ana"
    assert client.flush(timeout=30)
    assert "What should I cook tonight?" in _texts(personalizer, "ana")


def test_resending_the_history_captures_each_turn_once(backend: FakeBackend, personalizer: Personalizer) -> None:
    client = wrap(_client(backend), personalizer, user="bo")
    history = [{"role": "user", "content": "My cat is called Miso."}]
    client.chat.completions.create(model="m", messages=history)
    history += [{"role": "assistant", "content": ANSWER}, {"role": "user", "content": "Any tips for travel?"}]
    client.chat.completions.create(model="m", messages=history)
    assert client.flush(timeout=30)
    texts = _texts(personalizer, "bo")
    assert texts.count("My cat is called Miso.") == 1
    assert "Any tips for travel?" in texts


def test_a_stream_yields_the_backends_chunks_and_is_captured_when_complete(
    backend: FakeBackend, personalizer: Personalizer
) -> None:
    client = wrap(_client(backend), personalizer, user="cy")
    with client.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "Tell me about Lisbon."}], stream=True
    ) as stream:
        chunks = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == ANSWER
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert backend.received[-1]["stream"] is True
    assert client.flush(timeout=30)
    assert "Tell me about Lisbon." in _texts(personalizer, "cy")


def test_a_stream_left_unread_captures_nothing(backend: FakeBackend, personalizer: Personalizer) -> None:
    client = wrap(_client(backend), personalizer, user="dee")
    stream = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "Hi there."}], stream=True)
    next(iter(stream))
    stream.close()
    assert client.flush(timeout=30)
    assert _texts(personalizer, "dee") == []


def test_a_failed_call_raises_the_clients_error_and_stores_nothing(
    backend: FakeBackend, personalizer: Personalizer
) -> None:
    backend.faults.append((400, {}))
    client = wrap(_client(backend), personalizer, user="eve")
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": "My dog is Rex."}])
    assert client.flush(timeout=30)
    assert _texts(personalizer, "eve") == []


def test_the_user_may_come_per_call_and_is_required(backend: FakeBackend, personalizer: Personalizer) -> None:
    personalizer.remember("fay", "Answer in French.")
    client = wrap(_client(backend), personalizer)
    with pytest.raises(UsageError, match="palign_user="):
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": "Hello"}])
    assert backend.received == []
    client.chat.completions.create(model="m", messages=[{"role": "user", "content": "Hello"}], palign_user="fay")
    assert "French" in _system(backend.received[-1])
    assert "palign_user" not in backend.received[-1] and "user" not in backend.received[-1]
    lenient = wrap(_client(backend), personalizer, require_user=False)
    lenient.chat.completions.create(model="m", messages=[{"role": "user", "content": "Hello"}])
    assert _system(backend.received[-1]) == ""


def test_the_apis_own_user_field_is_sent_and_never_chooses_the_memories(
    backend: FakeBackend, personalizer: Personalizer
) -> None:
    personalizer.remember("shared-hash", "Answer in German.")
    personalizer.remember("ana", "Answer in French.")
    client = wrap(_client(backend), personalizer, user="ana")
    client.chat.completions.create(model="m", messages=[{"role": "user", "content": "Hi"}], user="shared-hash")
    sent = backend.received[-1]
    assert sent["user"] == "shared-hash"
    assert "French" in _system(sent) and "German" not in _system(sent)


def test_options_and_copies_stay_personalized_and_unsupported_calls_refuse(
    backend: FakeBackend, personalizer: Personalizer
) -> None:
    personalizer.remember("lia", "Answer in Italian.")
    client = wrap(_client(backend), personalizer, user="lia")
    client.with_options(timeout=20).chat.completions.create(model="m", messages=[{"role": "user", "content": "Hi"}])
    assert "Italian" in _system(backend.received[-1])
    for name in ("parse", "with_raw_response", "with_streaming_response", "stream"):
        with pytest.raises(UsageError, match="not personalized"):
            getattr(client.chat.completions, name)
    with client:
        stream = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "Hi"}], stream=True)
        assert next(stream).choices[0].delta.content == ANSWER.split(" ")[0]


def test_a_stream_that_ends_without_closing_is_not_captured(backend: FakeBackend, personalizer: Personalizer) -> None:
    backend.faults.append("short")
    client = wrap(_client(backend), personalizer, user="max")
    streamed = client.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "My van is green."}], stream=True
    )
    assert "".join(c.choices[0].delta.content or "" for c in streamed) == " ".join(ANSWER.split(" ")[:2])
    client.chat.completions.create(model="m", messages=[{"role": "user", "content": "My bike is grey."}])
    assert client.flush(timeout=30)
    assert [m.text for m in personalizer.memories("max")] == ["My bike is grey."]


def test_other_calls_are_the_clients_own(backend: FakeBackend, personalizer: Personalizer) -> None:
    client = wrap(_client(backend), personalizer, user="gus")
    assert [m.id for m in client.models.list()] == ["fake-model"]
    with pytest.raises(UsageError, match="wrapped already"):
        wrap(client, personalizer)
    with pytest.raises(UsageError, match=r"openai\.OpenAI"):
        wrap(object(), personalizer)


def test_async_client_personalizes_streams_and_captures(backend: FakeBackend, personalizer: Personalizer) -> None:
    personalizer.remember("hal", "Keep answers short.")
    client = wrap(
        openai.AsyncOpenAI(base_url=backend.url + "/v1", api_key="sk-test", max_retries=0), personalizer, user="hal"
    )

    async def run() -> tuple[str, str]:
        reply = await client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "How do tides work?"}]
        )
        assert client.last_trace is not None and client.last_trace.user_id == "hal"
        stream = await client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "And waves?"}], stream=True
        )
        text = "".join([c.choices[0].delta.content or "" async for c in stream])
        return reply.choices[0].message.content or "", text

    content, streamed = asyncio.run(run())
    assert content == ANSWER and streamed == ANSWER
    assert client.last_trace is None  # the trace belongs to the task that made the call
    assert all("short" in _system(body) for body in backend.received)
    assert client.flush(timeout=30)
    texts = _texts(personalizer, "hal")
    assert "How do tides work?" in texts and "And waves?" in texts


def test_a_capture_still_queued_at_exit_is_finished(backend: FakeBackend, tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    script = (
        "import openai\n"
        "from palign_rag import Personalizer, wrap\n"
        "client = wrap(openai.OpenAI(api_key='x', max_retries=0), Personalizer(), user='ivy')\n"
        "client.chat.completions.create(model='m', messages=[{'role': 'user', 'content': 'My sister lives in Turin.'}])\n"
    )
    home = tmp_path / "home"
    env = {**os.environ, "OPENAI_BASE_URL": backend.url + "/v1", "PALIGN_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert [m.text for m in Personalizer(home).memories("ivy")] == ["My sister lives in Turin."]


def test_a_forgotten_memory_stays_forgotten_when_the_history_is_resent(
    backend: FakeBackend, personalizer: Personalizer
) -> None:
    client = wrap(_client(backend), personalizer, user="jo")
    history = [{"role": "user", "content": "My cat is called Miso."}]
    client.chat.completions.create(model="m", messages=history)
    assert client.flush(timeout=30)
    first = personalizer.memories("jo")
    for memory in first:
        personalizer.forget("jo", memory.id)
    history += [{"role": "assistant", "content": ANSWER}, {"role": "user", "content": "Any tips for travel?"}]
    client.chat.completions.create(model="m", messages=history)
    assert client.flush(timeout=30)
    texts = _texts(personalizer, "jo")
    assert "Any tips for travel?" in texts and not any("Miso" in text for text in texts)


def test_captures_past_the_bound_are_dropped_without_slowing_calls(backend: FakeBackend, tmp_path: Path) -> None:
    from palign_rag import FakeEmbedder

    from ..stores import FaultyStore

    store = FaultyStore(tmp_path / "store")
    personalizer = Personalizer(tmp_path / "home", store=store, embedder=FakeEmbedder())
    client = wrap(_client(backend), personalizer, user="kit", max_pending_captures=1)
    store.hold = True  # the capture worker blocks on its first write
    try:
        said = ["My bike is green.", "My door is green.", "My kite is green.", "My vase is green."]
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": said[0]}])
        assert store.holding.wait(30)
        for text in said[1:]:
            client.chat.completions.create(model="m", messages=[{"role": "user", "content": text}])
        assert (client.captures.pending, client.captures.dropped) == (2, 2)
    finally:
        store.release()
    assert client.flush(timeout=30)
    assert sorted(_texts(personalizer, "kit")) == sorted(said[:2])
