"""Backends: the OpenAI-compatible one against a real HTTP server on 127.0.0.1, and LangChain models."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage

from palign_rag import BackendError, FakeEmbedder, LangChainBackend, OpenAIBackend, Personalizer, Settings
from tests.conftest import user


class FakeOpenAI:
    """A minimal OpenAI-compatible chat completions server, recording what it receives."""

    def __init__(self, status: int = 200) -> None:
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests.append(body)
                outer.headers.append({k.lower(): v for k, v in self.headers.items()})
                if status != 200:
                    payload = {"error": {"message": "nope", "type": "invalid_request_error"}}
                else:
                    payload = {
                        "id": "chatcmpl-1",
                        "object": "chat.completion",
                        "created": 0,
                        "model": body["model"],
                        "choices": [
                            {
                                "index": 0,
                                "finish_reason": "stop",
                                "message": {"role": "assistant", "content": "Hello from the fake"},
                            }
                        ],
                        "usage": {"prompt_tokens": 321, "completion_tokens": 4, "total_tokens": 325},
                    }
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeOpenAI:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


def test_chat_through_an_openai_compatible_server(home: Path, fake_openai: FakeOpenAI) -> None:
    settings = Settings.resolve(
        home=home, backend="openai", model="tiny", base_url=fake_openai.base_url, api_key="sk-test"
    )
    personalizer = Personalizer(settings=settings, embedder=FakeEmbedder())
    personalizer.remember("pia", "I prefer answers in Spanish")
    result = personalizer.chat("pia", [user("answers about Spanish grammar please")], temperature=0)
    assert result.content == "Hello from the fake"
    assert (result.model, result.prompt_tokens, result.completion_tokens) == ("tiny", 321, 4)
    [request] = fake_openai.requests
    assert request["model"] == "tiny" and request["temperature"] == 0
    assert request["messages"][0]["role"] == "system"
    assert '"I prefer answers in Spanish"' in request["messages"][0]["content"]
    assert fake_openai.headers[0]["authorization"] == "Bearer sk-test"


async def test_async_chat_through_an_openai_compatible_server(home: Path, fake_openai: FakeOpenAI) -> None:
    backend = OpenAIBackend(model="tiny", base_url=fake_openai.base_url)
    personalizer = Personalizer(home, embedder=FakeEmbedder(), backend=backend)
    result = await personalizer.achat("pia", [user("hola")])
    assert result.content == "Hello from the fake"
    assert fake_openai.requests[0]["messages"][-1] == user("hola")


def test_backend_chosen_from_the_environment(
    home: Path, monkeypatch: pytest.MonkeyPatch, fake_openai: FakeOpenAI
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.base_url)
    monkeypatch.setenv("PALIGN_MODEL", "env-model")
    personalizer = Personalizer(home, embedder=FakeEmbedder())
    assert isinstance(personalizer.backend, OpenAIBackend)
    personalizer.chat("q", [user("hi")])
    assert fake_openai.requests[0]["model"] == "env-model"


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_unreachable_backend_says_what_to_do_and_keeps_memories(home: Path) -> None:
    backend = OpenAIBackend(model="m", base_url=f"http://127.0.0.1:{_closed_port()}/v1", max_retries=0, timeout=5)
    personalizer = Personalizer(home, embedder=FakeEmbedder(), backend=backend)
    personalizer.remember("ray", "I prefer short answers")
    with pytest.raises(BackendError, match=r"Cannot reach .* OPENAI_BASE_URL"):
        personalizer.chat("ray", [user("hi")])
    assert [m.text for m in personalizer.memories("ray")] == ["I prefer short answers"]


def test_rejected_key_is_reported_with_its_status(home: Path) -> None:
    with FakeOpenAI(status=401) as server:
        backend = OpenAIBackend(model="m", base_url=server.base_url, api_key="bad", max_retries=0)
        personalizer = Personalizer(home, embedder=FakeEmbedder(), backend=backend)
        with pytest.raises(BackendError, match="OPENAI_API_KEY") as info:
            personalizer.chat("ray", [user("hi")])
    assert info.value.status_code == 401


def test_openai_backend_without_key_or_url_explains() -> None:
    from palign_rag import InvalidInputError

    with pytest.raises(InvalidInputError, match="OPENAI_API_KEY"):
        OpenAIBackend(model="gpt-4o-mini")


def test_any_langchain_chat_model_can_answer(home: Path) -> None:
    model = GenericFakeChatModel(messages=iter([AIMessage(content="from langchain")]))
    personalizer = Personalizer(home, embedder=FakeEmbedder(), backend=LangChainBackend(model))
    personalizer.remember("sol", "I prefer haiku")
    result = personalizer.chat("sol", [user("write about haiku")])
    assert result.content == "from langchain"
    assert result.model == "langchain:GenericFakeChatModel"


def test_cli_chat_uses_the_configured_openai_backend(
    tmp_path: Path, fake_openai: FakeOpenAI, capsys: pytest.CaptureFixture[str]
) -> None:
    from palign_rag.cli import main

    home = str(tmp_path / "home")
    assert main(["remember", "--home", home, "--user", "cli", "I prefer replies in German"]) == 0
    capsys.readouterr()
    code = main(
        [
            "chat",
            "--home",
            home,
            "--user",
            "cli",
            "--backend",
            "openai",
            "--base-url",
            fake_openai.base_url,
            "--model",
            "tiny",
            "Say hello",
            "--json",
        ]
    )
    result = json.loads(capsys.readouterr().out)
    assert code == 0 and result["content"] == "Hello from the fake" and result["trace_id"].startswith("tr_")
    assert '"I prefer replies in German"' in fake_openai.requests[0]["messages"][0]["content"]
    assert fake_openai.requests[0]["max_tokens"] == 256
