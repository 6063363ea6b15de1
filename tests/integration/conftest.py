"""Fixtures of the integration tests: the recording fake backend LLM on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ..servers import FakeBackend, running_backend


@pytest.fixture
def backend() -> Iterator[FakeBackend]:
    """A fresh fake OpenAI-compatible backend per test (a test module may override it, e.g. to make it hang)."""
    with running_backend() as fake:
        yield fake
