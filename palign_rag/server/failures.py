"""How the proxy answers when something fails: always OpenAI error JSON, never a stack trace.

``error_response`` builds the error object; ``unavailable_response`` answers 503 with ``Retry-After`` when a part
of palign outside the request (the memory store, a model) failed; ``UnexpectedErrors`` answers any other
exception, a bug, with a 500 that names nothing of it.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi.responses import JSONResponse

from ..errors import BackendError, PalignError, RuntimeFailure, StoreError
from .upstream import error_body

__all__ = ["RETRY_AFTER", "UnexpectedErrors", "error_response", "unavailable_response"]

logger = logging.getLogger("palign_rag.server")

RETRY_AFTER = 5
"""Seconds a client is told to wait (``Retry-After``) when the store or a model is unavailable."""


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
