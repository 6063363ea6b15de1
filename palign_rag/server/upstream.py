"""Where the proxy sends a personalized request: an OpenAI-compatible server over HTTP, or any palign backend.

``HttpUpstream`` forwards the request body as it came, with only ``messages`` replaced, and gives back the
server's answer unchanged: JSON, or the SSE stream byte for byte. It retries what may pass on a second try
(timeouts, connection errors, 408, 429 with its ``Retry-After``, 5xx) with jittered exponential backoff, up to
``max_retries``; any other 4xx goes back to the client at once. The whole call gives up within ``deadline``
seconds: each try waits at most ``timeout`` or the time left, whichever is shorter, and no pause runs past it.
When it gives up, ``UpstreamError`` carries the status the proxy answers with: 504 when the backend did not
answer in time, 503 when it said it is busy (429, 503), 502 otherwise. A stream cut off mid-way ends with an
OpenAI-style error event, never silently.

``BackendUpstream`` answers with a palign ``Backend`` (the bundled local model, a LangChain model, ...)
and builds the OpenAI response objects itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any, Protocol

import httpx

from ..backends import Backend
from ..errors import BackendError

__all__ = ["BackendUpstream", "HttpUpstream", "Upstream", "UpstreamError"]

_RETRIED = {408, 429, 500, 502, 503, 504}
"""Statuses worth a second try: the backend timed out, is busy, or failed. Any other 4xx is the request's."""
_TIMED_OUT = {408, 504}
_BUSY = {429, 503}


class UpstreamError(Exception):
    """The backend could not answer; ``status`` is what the proxy answers with, ``retry_after`` the backend's
    own ``Retry-After`` when it said it was busy."""

    def __init__(
        self, status: int, message: str, code: str = "upstream_error", *, retry_after: str | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.retry_after = retry_after


class Reply:
    """A non-streamed answer: status, JSON-able body and the headers worth passing on."""

    def __init__(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.status = status
        self.body = body
        self.content_type = content_type


class Upstream(Protocol):
    name: str

    async def complete(self, body: dict[str, Any]) -> Reply: ...

    def stream(self, body: dict[str, Any]) -> AsyncIterator[bytes]: ...

    async def models(self) -> Reply: ...

    async def aclose(self) -> None: ...


def error_body(message: str, kind: str, code: str | None = None, param: str | None = None) -> dict[str, Any]:
    """The OpenAI error object."""
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


class HttpUpstream:
    """An OpenAI-compatible server at ``base_url`` (``.../v1``)."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        timeout: float = 60.0,
        max_retries: int = 2,
        deadline: float = 120.0,
        backoff: float = 0.5,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.name = f"http:{self.base_url}"
        self.max_retries = max_retries
        self.deadline = deadline
        self.backoff = backoff
        self.timeout = timeout
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.AsyncClient(base_url=self.base_url, headers=headers, timeout=timeout, transport=transport)

    async def aclose(self) -> None:
        await self._client.aclose()

    def _pause(self, attempt: int, response: httpx.Response | None, started: float) -> float | None:
        """Seconds to wait before the next try, or None when no try is left."""
        if attempt >= self.max_retries:
            return None
        wait: float = self.backoff * (2**attempt) * (0.5 + random.random())
        if response is not None and "retry-after" in response.headers:
            with contextlib.suppress(ValueError):
                wait = max(wait, float(response.headers["retry-after"]))
        if time.monotonic() - started + wait > self.deadline:
            return None
        return wait

    @staticmethod
    def _gave_up(response: httpx.Response | None, error: Exception | None) -> UpstreamError:
        if isinstance(error, (httpx.TimeoutException, asyncio.TimeoutError)):
            return UpstreamError(504, "The backend did not answer in time.", "upstream_timeout")
        if error is not None:
            return UpstreamError(
                502, f"The backend could not be reached ({type(error).__name__}).", "upstream_unreachable"
            )
        assert response is not None
        message = f"The backend answered {response.status_code} after retries."
        if response.status_code in _TIMED_OUT:
            return UpstreamError(504, message, "upstream_timeout")
        if response.status_code in _BUSY:
            return UpstreamError(503, message, "upstream_error", retry_after=response.headers.get("retry-after"))
        return UpstreamError(502, message, "upstream_error")

    async def _try(
        self, method: str, path: str, body: dict[str, Any] | None, stream: bool, left: float
    ) -> httpx.Response:
        """One try, given at most ``left`` seconds (and never more than ``timeout``) to answer."""
        limit = max(0.0, min(self.timeout, left))
        request = self._client.build_request(method, path, json=body, timeout=limit)
        # httpx's timeout bounds each phase (connect, each read); this bounds the try as a whole
        return await asyncio.wait_for(self._client.send(request, stream=stream), timeout=limit)

    async def _send(self, method: str, path: str, body: dict[str, Any] | None, stream: bool) -> httpx.Response:
        started = time.monotonic()
        attempt = 0
        while True:
            response: httpx.Response | None = None
            error: Exception | None = None
            try:
                response = await self._try(method, path, body, stream, self.deadline - (time.monotonic() - started))
                if response.status_code not in _RETRIED:
                    return response
                await response.aread()
                await response.aclose()
            except (httpx.TimeoutException, httpx.TransportError, asyncio.TimeoutError) as exc:
                error = exc
            wait = self._pause(attempt, response, started)
            if wait is None:
                raise self._gave_up(response, error)
            await asyncio.sleep(wait)
            attempt += 1

    async def complete(self, body: dict[str, Any]) -> Reply:
        response = await self._send("POST", "/chat/completions", body, stream=False)
        return Reply(response.status_code, response.content, response.headers.get("content-type", "application/json"))

    async def stream(self, body: dict[str, Any]) -> AsyncIterator[bytes]:
        response = await self._send("POST", "/chat/completions", body, stream=True)
        if response.status_code != 200:  # an error the client must see as it is (a 400 on its own request)
            await response.aread()
            await response.aclose()
            raise UpstreamPassthrough(Reply(response.status_code, response.content))
        try:
            async for chunk in response.aiter_raw():
                yield chunk
        except (httpx.TransportError, httpx.TimeoutException) as exc:
            event = error_body(
                f"The backend's stream was cut off ({type(exc).__name__}).", "upstream_error", "stream_cut"
            )
            yield f"data: {json.dumps(event)}\n\n".encode()
        finally:
            await response.aclose()

    async def models(self) -> Reply:
        response = await self._send("GET", "/models", None, stream=False)
        return Reply(response.status_code, response.content, response.headers.get("content-type", "application/json"))


class UpstreamPassthrough(Exception):
    """The backend refused a streamed request with an answer the client should get unchanged."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.status)
        self.reply = reply


_OPTIONS = ("temperature", "top_p", "max_tokens", "stop", "seed")


def _head(kind: str, model: str) -> dict[str, Any]:
    """The fields every OpenAI completion object and chunk starts with."""
    return {"id": f"chatcmpl-{uuid.uuid4().hex[:24]}", "object": kind, "created": int(time.time()), "model": model}


class BackendUpstream:
    """A palign ``Backend`` behind the OpenAI wire format (no tools: a plain answer)."""

    def __init__(self, backend: Backend, *, model: str | None = None) -> None:
        self.backend = backend
        self.name = backend.name
        self.model = model or backend.name

    async def aclose(self) -> None:
        return None

    async def _answer(self, body: dict[str, Any]) -> tuple[str, str, int | None, int | None]:
        options = {k: body[k] for k in _OPTIONS if body.get(k) is not None}
        try:
            completion = await self.backend.acomplete(body["messages"], **options)
        except BackendError as exc:
            raise UpstreamError(502, str(exc)) from exc
        return (
            completion.content,
            completion.model or self.model,
            completion.prompt_tokens,
            completion.completion_tokens,
        )

    async def complete(self, body: dict[str, Any]) -> Reply:
        content, model, prompt, completion = await self._answer(body)
        payload = {
            **_head("chat.completion", model),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            "usage": {
                "prompt_tokens": prompt or 0,
                "completion_tokens": completion or 0,
                "total_tokens": (prompt or 0) + (completion or 0),
            },
        }
        return Reply(200, json.dumps(payload).encode())

    async def stream(self, body: dict[str, Any]) -> AsyncIterator[bytes]:
        content, model, _, _ = await self._answer(body)
        base = _head("chat.completion.chunk", model)
        for delta, finish in (({"role": "assistant", "content": content}, None), ({}, "stop")):
            chunk = {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
            yield f"data: {json.dumps(chunk)}\n\n".encode()
        yield b"data: [DONE]\n\n"

    async def models(self) -> Reply:
        payload = {
            "object": "list",
            "data": [{"id": self.model, "object": "model", "created": 0, "owned_by": "palign"}],
        }
        return Reply(200, json.dumps(payload).encode())
