"""The HTTP door: an OpenAI-compatible proxy over ``Personalizer`` (``palign serve``). Needs the ``server``
extra (FastAPI, uvicorn)."""

from .app import TraceStore, create_app, tenant_personalizers
from .auth import ApiKeys
from .upstream import BackendUpstream, HttpUpstream, UpstreamError

__all__ = [
    "ApiKeys",
    "BackendUpstream",
    "HttpUpstream",
    "TraceStore",
    "UpstreamError",
    "create_app",
    "tenant_personalizers",
]
