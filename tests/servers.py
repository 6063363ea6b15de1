"""Servers for the door tests: a uvicorn server in a thread on 127.0.0.1, and a recording fake of an
OpenAI-compatible backend that can be told to fail."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

ANSWER = "Here is a vegetarian idea: lentil curry."


class Served:
    """A uvicorn server in a thread, on a free port of 127.0.0.1."""

    def __init__(self, app: Any) -> None:
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.02)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


Fault = tuple[int, dict[str, str]] | str
"""What the fake does to one request instead of answering: ``(status, headers)`` answers that error; ``"drop"``
starts a response and breaks the connection before its end; ``"hang"`` answers after ``FakeBackend.hang``
seconds; ``"cut"`` streams part of the answer and then breaks the connection; ``"short"`` streams part of the
answer and ends cleanly, with no closing chunk and no ``[DONE]``."""


class _Dropped(Exception):
    """Raised inside a started response: uvicorn then closes the connection without ending the response."""


class FakeBackend:
    """Records every request; answers like OpenAI, or fails as told (one entry of ``faults`` per request)."""

    def __init__(self) -> None:
        self.url = ""
        """The server's root (set by ``running_backend``); the OpenAI base URL is ``url + "/v1"``."""
        self.received: list[dict[str, Any]] = []
        self.faults: list[Fault] = []
        self.hang = 5.0
        self.app = FastAPI()

        @self.app.get("/v1/models")
        async def models() -> dict[str, Any]:
            return {"object": "list", "data": [{"id": "fake-model", "object": "model", "created": 0, "owned_by": "t"}]}

        @self.app.post("/v1/chat/completions", response_model=None)
        async def chat(request: Request) -> Response:
            body = await request.json()
            self.received.append(body)
            fault = self.faults.pop(0) if self.faults else None
            base = {"id": "chatcmpl-fake", "created": 1, "model": body.get("model", "fake-model")}
            if fault == "drop":
                return StreamingResponse(
                    self._dropped(), media_type="application/json", headers={"content-length": "999"}
                )
            if fault == "hang":
                await asyncio.sleep(self.hang)
            elif fault in ("cut", "short"):
                return StreamingResponse(self._chunks(base, cut=fault), media_type="text/event-stream")
            elif fault is not None:
                status, headers = fault
                return JSONResponse({"error": {"message": f"fault {status}", "type": "x"}}, status, headers=headers)
            if body.get("stream"):
                return StreamingResponse(self._chunks(base), media_type="text/event-stream")
            choice = {"index": 0, "message": {"role": "assistant", "content": ANSWER}, "finish_reason": "stop"}
            usage = {"prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8}
            return JSONResponse({**base, "object": "chat.completion", "choices": [choice], "usage": usage})

    @staticmethod
    async def _dropped() -> AsyncIterator[bytes]:
        yield b'{"id": "chatcmpl-fake", "choi'
        raise _Dropped()

    @staticmethod
    async def _chunks(base: dict[str, Any], *, cut: str | None = None) -> AsyncIterator[bytes]:
        words = ANSWER.split(" ")
        for number, word in enumerate(words):
            if cut == "cut" and number == 2:
                raise _Dropped()
            if cut == "short" and number == 2:
                return
            text = word if number == 0 else " " + word
            chunk = {
                **base,
                "object": "chat.completion.chunk",
                "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}],
            }
            yield f"data: {json.dumps(chunk)}\n\n".encode()
        done = {
            **base,
            "object": "chat.completion.chunk",
            "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
        }
        yield f"data: {json.dumps(done)}\n\ndata: [DONE]\n\n".encode()


@contextmanager
def running_backend() -> Iterator[FakeBackend]:
    """A ``FakeBackend`` served on 127.0.0.1 for the duration of the block."""
    fake = FakeBackend()
    served = Served(fake.app)
    fake.url = served.url
    try:
        yield fake
    finally:
        served.stop()


def openai_error(response: Any) -> dict[str, Any]:
    """The ``error`` object of an httpx response, asserting it is exactly OpenAI's error JSON and holds no stack
    trace."""
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "param", "code"}
    assert "Traceback" not in response.text
    error: dict[str, Any] = body["error"]
    return error
