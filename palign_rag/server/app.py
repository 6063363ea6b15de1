"""The OpenAI-compatible proxy: ``create_app`` builds the FastAPI application that ``palign serve`` runs.

A thin layer over ``Personalizer``: a chat request is composed for its user (the request's ``user`` field or
the ``X-Palign-User`` header, inside the tenant its API key maps to), forwarded with every other field
unchanged, and the answer comes back unchanged apart from the added ``X-Palign-*`` headers. The user's turns
are captured into memory only after the backend answered successfully, off the response path, by a bounded
``CaptureQueue`` (``app.state.captures``); only the turns a request adds are stored (``Personalizer.capture``),
so a client that resends the whole history each time stores nothing twice and never brings back a memory the
user deleted. Every error, malformed requests included, is OpenAI error JSON; no stack trace is ever sent: the
store or a model being unavailable answers 503 with ``Retry-After``, a bug 500.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import FastAPI, Header, Request, Security
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from fastapi.security import HTTPBearer
from pydantic import BaseModel, ConfigDict, Field
from starlette.background import BackgroundTask
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..capture import CaptureQueue
from ..errors import InvalidInputError, PolicyViolationError, RuntimeFailure, UsageError
from ..personalizer import Personalizer
from ..policy import Policy
from ..types import Memory, MemoryKind, Trace
from .auth import ApiKeys
from .failures import (
    UnexpectedErrors,
    documented_errors,
    error_response,
    unavailable_response,
    without_validation_errors,
)
from .upstream import Upstream, UpstreamError, UpstreamPassthrough

__all__ = ["TraceStore", "create_app", "tenant_personalizers"]

logger = logging.getLogger("palign_rag.server")


class ChatCompletionRequest(BaseModel):
    """An OpenAI chat completions request. Every field beyond these is forwarded to the backend unchanged."""

    model_config = ConfigDict(extra="allow")
    model: str | None = None
    messages: list[dict[str, Any]] = Field(min_length=1)
    user: str | None = Field(default=None, description="the end user whose memories personalize the request")
    stream: bool = False


class InspectResponse(BaseModel):
    messages: list[dict[str, Any]]
    trace: Trace


class NewMemory(BaseModel):
    text: str
    kind: MemoryKind = MemoryKind.PREFERENCE


_BEARER = HTTPBearer(
    auto_error=False,
    description="An API key as 'Authorization: Bearer <key>'; needed when the server has keys configured.",
)

_CHAT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The backend's answer: a chat completion, or with `stream: true` server-sent events.",
        "content": {"application/json": {}, "text/event-stream": {"schema": {"type": "string"}}},
    },
    **documented_errors(400, 502, 503, 504),
}


class TraceStore:
    """The latest traces, per tenant, at most ``capacity`` in all (oldest dropped first)."""

    def __init__(self, capacity: int = 1000) -> None:
        self.capacity = capacity
        self._traces: OrderedDict[tuple[str, str], Trace] = OrderedDict()

    def add(self, tenant: str, trace: Trace) -> None:
        self._traces[(tenant, trace.id)] = trace
        while len(self._traces) > self.capacity:
            self._traces.popitem(last=False)

    def get(self, tenant: str, trace_id: str) -> Trace | None:
        return self._traces.get((tenant, trace_id))


class _Unauthorized(Exception):
    pass


def tenant_personalizers(
    base: Personalizer, policies: dict[str, Policy] | None = None
) -> Callable[[str], Personalizer]:
    """One ``Personalizer`` per tenant, sharing ``base``'s store, embedder, understander and backend; a tenant
    named in ``policies`` gets its own policy, the others ``base``'s."""
    made: dict[str, Personalizer] = {base.tenant: base} if not policies or base.tenant not in policies else {}
    lock = threading.Lock()

    def personalizer_for(tenant: str) -> Personalizer:
        with lock:
            if tenant not in made:
                made[tenant] = Personalizer(
                    settings=base.settings,
                    store=base.store,
                    embedder=base.embedder,
                    backend=base._backend,
                    policy=(policies or {}).get(tenant, base.policy),
                    tenant=tenant,
                    understander=base.understander,
                    selection=base._selection,
                )
            return made[tenant]

    return personalizer_for


def create_app(
    personalizer_for: Callable[[str], Personalizer],
    upstream: Upstream,
    *,
    keys: ApiKeys | None = None,
    require_user: bool = False,
    trace_capacity: int = 1000,
    max_pending_captures: int = 1000,
) -> FastAPI:
    """The proxy application. ``personalizer_for(tenant)`` gives the ``Personalizer`` of a tenant (each may
    hold its own policy); ``upstream`` answers the personalized requests; ``keys`` map API keys to tenants
    (none: one open ``default`` tenant); ``require_user`` answers 400 to a chat request that names no user
    instead of forwarding it unpersonalized. At most ``max_pending_captures`` captures wait to be stored;
    beyond that they are dropped and counted in ``app.state.captures.dropped``. Shutting down stores those
    still waiting (up to ``capture.EXIT_WAIT`` seconds) and logs how many were left."""
    keys = keys or ApiKeys()
    traces = TraceStore(trace_capacity)
    captures = CaptureQueue(capacity=max_pending_captures, name="palign-proxy-capture")

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await asyncio.to_thread(captures.close)
        await upstream.aclose()

    app = FastAPI(
        title="palign-rag",
        version="0.1.0",
        description="OpenAI-compatible personalization proxy",
        lifespan=lifespan,
        # documents the Bearer key; never refuses (auto_error=False): ``tenant_of`` checks the key
        dependencies=[Security(_BEARER)],
        responses=documented_errors(401, 500),
    )

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = without_validation_errors(FastAPI.openapi(app))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    app.state.captures = captures

    @app.exception_handler(_Unauthorized)
    async def unauthorized(request: Request, exc: _Unauthorized) -> JSONResponse:
        return error_response(
            401,
            "Missing or invalid API key: send 'Authorization: Bearer <key>'.",
            "invalid_request_error",
            "invalid_api_key",
        )

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        return error_response(
            400,
            f"Invalid request: {where or 'body'}: {first.get('msg', 'malformed')}.",
            "invalid_request_error",
            "invalid_request",
            where or None,
        )

    @app.exception_handler(StarletteHTTPException)
    async def httperror_response(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error_response(exc.status_code, str(exc.detail), "invalid_request_error")

    @app.exception_handler(PolicyViolationError)
    async def refused(request: Request, exc: PolicyViolationError) -> JSONResponse:
        return error_response(422, str(exc), "invalid_request_error", "policy_violation")

    @app.exception_handler(UsageError)
    async def usage(request: Request, exc: UsageError) -> JSONResponse:
        return error_response(400, str(exc), "invalid_request_error", "invalid_request")

    @app.exception_handler(UpstreamError)
    async def upstream_failed(request: Request, exc: UpstreamError) -> JSONResponse:
        headers = {"Retry-After": exc.retry_after} if exc.retry_after else None
        return error_response(exc.status, exc.message, "upstream_error", exc.code, headers=headers)

    @app.exception_handler(RuntimeFailure)
    async def unavailable(request: Request, exc: RuntimeFailure) -> JSONResponse:
        logger.error("%s while serving %s: %s", type(exc).__name__, request.url.path, exc)
        return unavailable_response(exc)

    app.add_middleware(UnexpectedErrors)

    def tenant_of(authorization: str | None) -> str:
        token = authorization.removeprefix("Bearer ").strip() if authorization else None
        tenant = keys.tenant(token)
        if tenant is None:
            raise _Unauthorized()
        return tenant

    async def capture(tenant: str, user: str, messages: list[dict[str, Any]]) -> None:
        captures.submit(personalizer_for(tenant), user, messages)  # never blocks: queued, or dropped and counted

    @app.get("/v1/models", responses=documented_errors(502, 503, 504))
    async def models(authorization: str | None = Header(default=None, include_in_schema=False)) -> Response:
        tenant_of(authorization)
        reply = await upstream.models()
        return Response(reply.body, status_code=reply.status, media_type=reply.content_type)

    @app.post("/v1/chat/completions", response_model=None, responses=_CHAT_RESPONSES)
    async def chat_completions(
        request: Request,
        payload: ChatCompletionRequest,
        authorization: str | None = Header(default=None, include_in_schema=False),
        x_palign_user: str | None = Header(default=None),
    ) -> Response:
        tenant = tenant_of(authorization)
        body: dict[str, Any] = await request.json()
        user = payload.user or x_palign_user
        headers: dict[str, str] = {}
        original = list(body["messages"])
        if user:
            personalizer = personalizer_for(tenant)
            composed = await asyncio.to_thread(personalizer.compose, user, original)
            traces.add(tenant, composed.trace)
            body["messages"] = composed.messages
            headers.update({"X-Palign-Trace-Id": composed.trace.id, "X-Palign-Personalized": "true"})
        elif require_user:
            return error_response(
                400,
                "No user: set the request's 'user' field or the X-Palign-User header.",
                "invalid_request_error",
                "missing_user",
                "user",
            )
        else:
            headers["X-Palign-Personalized"] = "false; no user (set 'user' or X-Palign-User)"
        if payload.stream:
            try:
                chunks = upstream.stream(body)
                first = await anext(chunks)  # a refused request is answered as the backend answered it
            except UpstreamPassthrough as passthrough:
                reply = passthrough.reply
                return Response(reply.body, status_code=reply.status, media_type=reply.content_type, headers=headers)
            except StopAsyncIteration:
                first, chunks = b"", _empty()
            state = {"complete": False}

            async def relay() -> AsyncIterator[bytes]:
                cut, tail = _CUT in first, first[-16:]
                yield first
                async for chunk in chunks:
                    cut = cut or _CUT in chunk
                    tail = (tail + chunk)[-16:]  # "[DONE]" may be split across chunks
                    yield chunk
                # a stream cut off mid-way, or one that never said [DONE], is a failed turn: nothing is captured
                state["complete"] = not cut and b"[DONE]" in tail

            async def after() -> None:
                if user and state["complete"]:
                    await capture(tenant, user, original)

            return StreamingResponse(
                relay(), media_type="text/event-stream", headers=headers, background=BackgroundTask(after)
            )
        reply = await upstream.complete(body)
        task = BackgroundTask(capture, tenant, user, original) if user and reply.status == 200 else None
        return Response(
            reply.body, status_code=reply.status, media_type=reply.content_type, headers=headers, background=task
        )

    @app.post("/v1/inspect", response_model=InspectResponse, responses=documented_errors(400, 503))
    async def inspect(
        payload: ChatCompletionRequest,
        authorization: str | None = Header(default=None, include_in_schema=False),
        x_palign_user: str | None = Header(default=None),
    ) -> InspectResponse:
        """The composed messages and trace for a chat request, without calling the LLM."""
        tenant = tenant_of(authorization)
        user = payload.user or x_palign_user
        if not user:
            raise InvalidInputError("No user: set the request's 'user' field or the X-Palign-User header.")
        composed = await asyncio.to_thread(personalizer_for(tenant).compose, user, payload.messages)
        traces.add(tenant, composed.trace)
        return InspectResponse(messages=composed.messages, trace=composed.trace)

    @app.get("/v1/traces/{trace_id}", response_model=Trace, responses=documented_errors(404))
    async def trace(
        trace_id: str, authorization: str | None = Header(default=None, include_in_schema=False)
    ) -> Trace | JSONResponse:
        found = traces.get(tenant_of(authorization), trace_id)
        if found is None:
            return error_response(
                404,
                f"No trace {trace_id} (traces are kept for the latest {trace_capacity} requests).",
                "invalid_request_error",
                "trace_not_found",
            )
        return found

    @app.get("/v1/users/{user}/memories", response_model=list[Memory], responses=documented_errors(400, 503))
    async def list_memories(
        user: str, authorization: str | None = Header(default=None, include_in_schema=False)
    ) -> list[Memory]:
        return await asyncio.to_thread(personalizer_for(tenant_of(authorization)).memories, user)

    @app.post(
        "/v1/users/{user}/memories",
        response_model=Memory,
        status_code=201,
        responses=documented_errors(400, 422, 503),
    )
    async def add_memory(
        user: str, memory: NewMemory, authorization: str | None = Header(default=None, include_in_schema=False)
    ) -> Memory:
        personalizer = personalizer_for(tenant_of(authorization))
        return await asyncio.to_thread(personalizer.remember, user, memory.text, kind=memory.kind)

    @app.delete("/v1/users/{user}/memories/{memory_id}", responses=documented_errors(400, 404, 503))
    async def delete_memory(
        user: str, memory_id: str, authorization: str | None = Header(default=None, include_in_schema=False)
    ) -> JSONResponse:
        try:
            deleted = await asyncio.to_thread(personalizer_for(tenant_of(authorization)).forget, user, memory_id)
        except InvalidInputError:
            deleted = 0
        if not deleted:
            return error_response(
                404, f"User {user} has no memory {memory_id}.", "invalid_request_error", "memory_not_found"
            )
        return JSONResponse({"deleted": deleted})

    @app.delete("/v1/users/{user}/memories", responses=documented_errors(400, 503))
    async def delete_memories(
        user: str, authorization: str | None = Header(default=None, include_in_schema=False)
    ) -> JSONResponse:
        deleted = await asyncio.to_thread(personalizer_for(tenant_of(authorization)).forget, user)
        return JSONResponse({"deleted": deleted})

    return app


_CUT = b'"code": "stream_cut"'
"""How the error event that ends a cut stream reads (``upstream.error_body`` as JSON); text inside a chunk's
content is escaped and never matches."""


async def _empty() -> AsyncIterator[bytes]:
    return
    yield b""
