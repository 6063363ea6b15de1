"""The proxy's OpenAPI schema (GET /openapi.json) says what the server really does: every error is documented as
the OpenAI error object it is answered with (400 for a malformed request, never FastAPI's 422 validation error),
the Bearer key is a security scheme, and a chat completion may stream. Real uvicorn servers on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from palign_rag import Embedder, Personalizer
from palign_rag.server import ApiKeys, HttpUpstream, create_app, tenant_personalizers

from ..servers import FakeBackend, Served

KEY = "sk-schema"
AUTH = {"Authorization": f"Bearer {KEY}"}
CHAT = "/v1/chat/completions"
ERROR = "#/components/schemas/ErrorResponse"


@pytest.fixture
def url(tmp_path: Path, backend: FakeBackend, real_embedder: Embedder) -> Iterator[str]:
    personalizer = Personalizer(tmp_path / "home", embedder=real_embedder)
    upstream = HttpUpstream(backend.url + "/v1", max_retries=0, deadline=10)
    served = Served(create_app(tenant_personalizers(personalizer), upstream, keys=ApiKeys({KEY: "acme"})))
    try:
        yield served.url
    finally:
        served.stop()


def _errors(operation: dict[str, Any]) -> dict[int, dict[str, Any]]:
    return {int(status): entry for status, entry in operation["responses"].items() if int(status) >= 400}


def test_every_route_documents_its_errors_as_openai_errors_and_none_documents_a_validation_error(url: str) -> None:
    schema = httpx.get(f"{url}/openapi.json", timeout=10).json()
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    assert schema["components"]["securitySchemes"]["HTTPBearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": schema["components"]["securitySchemes"]["HTTPBearer"]["description"],
    }
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            errors = _errors(operation)
            assert {401, 500} <= set(errors), (method, path)
            for status, entry in errors.items():
                assert entry["content"]["application/json"]["schema"] == {"$ref": ERROR}, (method, path, status)
            assert (422 in errors) == (method == "post" and path == "/v1/users/{user}/memories"), (method, path)
            assert operation["security"] == [{"HTTPBearer": []}], (method, path)
            assert "authorization" not in [p["name"] for p in operation.get("parameters", [])], (method, path)
    chat = schema["paths"][CHAT]["post"]
    assert "text/event-stream" in chat["responses"]["200"]["content"]
    assert {400, 502, 503, 504} <= set(_errors(chat))


HI = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
MEMORY = "/v1/users/{user}/memories"


@pytest.mark.parametrize(
    ("method", "route", "path", "request_options", "faults", "status"),
    [
        ("post", CHAT, CHAT, {"json": {"model": "m", "messages": "not a list"}, "headers": AUTH}, [], 400),
        ("post", CHAT, CHAT, {"json": HI}, [], 401),
        ("post", CHAT, CHAT, {"json": HI, "headers": AUTH}, ["drop"], 502),
        ("post", CHAT, CHAT, {"json": HI, "headers": AUTH}, [(503, {})], 503),
        ("post", MEMORY, "/v1/users/ada/memories", {"json": {"text": ["not", "text"]}, "headers": AUTH}, [], 400),
        ("get", "/v1/traces/{trace_id}", "/v1/traces/none", {"headers": AUTH}, [], 404),
        ("delete", MEMORY + "/{memory_id}", "/v1/users/ada/memories/none", {"headers": AUTH}, [], 404),
    ],
)
def test_a_real_error_is_documented_for_its_route_and_matches_the_documented_schema(
    url: str,
    backend: FakeBackend,
    method: str,
    route: str,
    path: str,
    request_options: dict[str, Any],
    faults: list[Any],
    status: int,
) -> None:
    backend.faults = list(faults)
    response = httpx.request(method, url + path, timeout=30, **request_options)
    assert response.status_code == status, response.text

    schema = httpx.get(f"{url}/openapi.json", timeout=10).json()
    documented = _errors(schema["paths"][route][method])
    assert status in documented
    ref = documented[status]["content"]["application/json"]["schema"]["$ref"]
    models = schema["components"]["schemas"]
    envelope = models[ref.rsplit("/", 1)[1]]
    detail = models[envelope["properties"]["error"]["$ref"].rsplit("/", 1)[1]]
    body = response.json()
    assert set(body) == set(envelope["required"]) == {"error"}
    assert set(body["error"]) == set(detail["required"]) == set(detail["properties"])
    assert {"message", "type", "param", "code"} == set(detail["required"])
