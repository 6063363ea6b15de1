"""How the proxy answers when something fails: always OpenAI error JSON, never a stack trace.

``error_response`` builds the error object; ``unavailable_response`` answers 503 with ``Retry-After`` when a part
of palign outside the request (the memory store, a model) failed; ``UnexpectedErrors`` answers any other
exception, a bug, with a 500 that names nothing of it. ``ErrorResponse`` is that object as a pydantic model, for
the OpenAPI schema: ``documented_errors`` names the statuses a route answers with it, and ``without_validation_errors``
drops the 422 ``HTTPValidationError`` FastAPI documents by default (malformed requests are answered 400).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from ..errors import BackendError, PalignError, RuntimeFailure, StoreError
from .upstream import error_body

__all__ = [
    "RETRY_AFTER",
    "ErrorDetail",
    "ErrorResponse",
    "UnexpectedErrors",
    "documented_errors",
    "error_response",
    "unavailable_response",
    "without_validation_errors",
]

logger = logging.getLogger("palign_rag.server")

RETRY_AFTER = 5
"""Seconds a client is told to wait (``Retry-After``) when the store or a model is unavailable."""


class ErrorDetail(BaseModel):
    message: str = Field(description="what went wrong, and what to do about it")
    type: str = Field(description="invalid_request_error, server_error, upstream_error or palign_error")
    param: str | None = Field(description="the request field at fault, when one is")
    code: str | None = Field(description="a stable code, e.g. invalid_request, invalid_api_key, trace_not_found")


class ErrorResponse(BaseModel):
    """An OpenAI error object: how the proxy answers every failure."""

    error: ErrorDetail


_ERRORS = {
    400: "Malformed request (invalid JSON, a missing or wrongly typed field) or invalid input.",
    401: "Missing or invalid API key (when the server has keys configured).",
    404: "No such trace or memory.",
    422: "The value policy refuses this memory; nothing was stored.",
    500: "Internal error in the proxy; its log says more.",
    502: "The backend failed or answered with an error.",
    503: "The memory store, a model or the backend is unavailable; retry after ``Retry-After`` seconds.",
    504: "The backend did not answer in time.",
}


def documented_errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` entries of a route that answers these statuses with an OpenAI error object."""
    return {status: {"model": ErrorResponse, "description": _ERRORS[status]} for status in statuses}


def without_validation_errors(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` (an OpenAPI document, changed in place) without FastAPI's default 422 ``HTTPValidationError``
    responses and their component schemas."""
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.get("responses", {})
            if "HTTPValidationError" in str(responses.get("422", "")):
                del responses["422"]
    components = schema.get("components", {}).get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    return schema


def error_response(
    status: int,
    message: str,
    kind: str,
    code: str | None = None,
    param: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """An OpenAI error object (``{"error": {"message", "type", "param", "code"}}``) with this status."""
    return JSONResponse(error_body(message, kind, code, param), status_code=status, headers=headers)


def unavailable_response(exc: RuntimeFailure) -> JSONResponse:
    """503 for a failure outside the request: the store, or a model, could not do its part."""
    if isinstance(exc, StoreError):
        what, code = "The memory store is unavailable", "store_unavailable"
    elif isinstance(exc, BackendError):
        what, code = "A model palign needs is unavailable", "backend_unavailable"
    else:
        what, code = "The palign proxy cannot serve this right now", "service_unavailable"
    return error_response(
        503,
        f"{what}; nothing was changed. Retry in a few seconds; the proxy's log says why.",
        "server_error",
        code,
        headers={"Retry-After": str(RETRY_AFTER)},
    )


class UnexpectedErrors:
    """Answers an exception no handler took (a bug) with a 500 in OpenAI error JSON, logged by type only: no
    stack trace or exception text reaches the client, and none is re-raised into the server's log (it may
    quote memory text). A response already started is only closed."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watched(message: dict[str, Any]) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watched)
        except Exception as exc:
            logger.error("unexpected %s while serving %s", type(exc).__name__, scope.get("path", "?"))
            if started:
                return
            kind = "palign_error" if isinstance(exc, PalignError) else "server_error"
            response = error_response(500, "Internal error in the palign proxy; see its log.", kind, "internal_error")
            await response(scope, receive, send)
