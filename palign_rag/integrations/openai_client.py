"""``wrap(client, personalizer, user=...)``: the official ``OpenAI`` or ``AsyncOpenAI`` client, personalized.

The wrapped client has the call surface of the one it wraps. ``.chat.completions.create(...)`` composes the
user's system prompt (the same ``Personalizer.compose`` the proxy runs), sends the composed messages with every
other argument unchanged, returns the client's answer unchanged (a completion, or a stream yielding the
client's own chunks), and captures the user's turns into memory once the answer arrived complete: on a worker
thread, off the caller's path, never for a failed call or a stream cut short, and never twice when a client
resends the whole history (ingest ids are idempotent). Everything else (``models``, ``embeddings``,
``with_options`` ...) is the wrapped client's own, unpersonalized.

The user is ``user=`` given to ``wrap`` or to ``create``; with neither, ``create`` raises ``UsageError``
(``require_user=False`` forwards such calls unpersonalized instead). ``user=`` given to ``create`` is the
OpenAI API's own field and is still sent; the one given to ``wrap`` is never sent to the backend.

The trace of the latest call made in the current thread or task is ``wrapped.last_trace``
(``trace.id`` is what the proxy returns as ``X-Palign-Trace-Id``).
"""

from __future__ import annotations

import contextvars
import logging
import threading
import weakref
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING, Any

from ..errors import UsageError

if TYPE_CHECKING:
    from ..personalizer import Personalizer
    from ..types import Trace

__all__ = ["PersonalizedAsyncOpenAI", "PersonalizedOpenAI", "wrap"]

logger = logging.getLogger(__name__)


class _Capture:
    """The worker that stores a user's turns after an answer: one thread per wrapped client, in call order."""

    def __init__(self, personalizer: Personalizer) -> None:
        self.personalizer = personalizer
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="palign-capture")
        self._pending: set[Future[None]] = set()
        self._lock = threading.Lock()
        # captures still queued when the program ends are finished first: this runs before the thread pools of
        # the store and the model refuse new work at interpreter exit (a documented flush() is the portable way)
        register = getattr(threading, "_register_atexit", None)
        if register is not None:
            ref = weakref.ref(self)
            register(lambda: (capture := ref()) is not None and capture.flush())

    def submit(self, user: str, messages: list[dict[str, Any]]) -> None:
        future = self._pool.submit(self._ingest, user, messages)
        with self._lock:
            self._pending.add(future)
        future.add_done_callback(self._done)

    def _done(self, future: Future[None]) -> None:
        with self._lock:
            self._pending.discard(future)

    def _ingest(self, user: str, messages: list[dict[str, Any]]) -> None:
        try:
            self.personalizer.ingest(user, messages)
        except Exception as exc:  # the answer is already the caller's; the text stays out of the log
            logger.warning("capturing a conversation failed: %s", type(exc).__name__)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait for the captures submitted so far; ``False`` if some were still running at ``timeout``."""
        with self._lock:
            pending = set(self._pending)
        _, not_done = wait(pending, timeout=timeout)
        return not not_done


class _Call:
    """What one ``create`` call personalizes: the composed arguments, and who to capture for."""

    def __init__(self, owner: _Wrapped, kwargs: dict[str, Any]) -> None:
        self.user: str | None = kwargs.get("user") or owner.user
        self.original: list[dict[str, Any]] = [dict(m) for m in kwargs.get("messages") or []]
        self.kwargs = dict(kwargs)
        self.owner = owner

    def compose(self) -> dict[str, Any]:
        if self.user is None:
            if self.owner.require_user:
                raise UsageError(
                    "No user to personalize for: pass user=... to wrap(client, personalizer, user=...) or to "
                    "create(...), or wrap with require_user=False to forward such calls unpersonalized."
                )
            return self.kwargs
        composed = self.owner.personalizer.compose(self.user, self.original)
        self.owner._last_trace.set(composed.trace)
        return {**self.kwargs, "messages": composed.messages}

    def captured(self) -> None:
        if self.user is not None and self.owner.capture_turns:
            self.owner._capture.submit(self.user, self.original)


class _Wrapped:
    def __init__(self, client: Any, personalizer: Personalizer, user: str | None, require_user: bool, capture: bool):
        self._client = client
        self.personalizer = personalizer
        self.user = user
        self.require_user = require_user
        self.capture_turns = capture
        self._capture = _Capture(personalizer)
        self._last_trace: contextvars.ContextVar[Trace | None] = contextvars.ContextVar("palign_trace", default=None)

    @property
    def last_trace(self) -> Trace | None:
        """The trace of the latest personalized call made in this thread or task."""
        return self._last_trace.get()

    @property
    def unwrapped(self) -> Any:
        """The client this one wraps."""
        return self._client

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until the turns of finished calls are stored (``False`` if ``timeout`` came first)."""
        return self._capture.flush(timeout)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


class PersonalizedOpenAI(_Wrapped):
    """An ``openai.OpenAI`` client whose chat completions are personalized (see ``wrap``)."""

    @property
    def chat(self) -> _Chat:
        return _Chat(self)


class PersonalizedAsyncOpenAI(_Wrapped):
    """An ``openai.AsyncOpenAI`` client whose chat completions are personalized (see ``wrap``)."""

    @property
    def chat(self) -> _AsyncChat:
        return _AsyncChat(self)


class _Chat:
    def __init__(self, owner: PersonalizedOpenAI) -> None:
        self._owner = owner
        self.completions = _Completions(owner)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._owner.unwrapped.chat, name)


class _AsyncChat:
    def __init__(self, owner: PersonalizedAsyncOpenAI) -> None:
        self._owner = owner
        self.completions = _AsyncCompletions(owner)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._owner.unwrapped.chat, name)


class _Completions:
    def __init__(self, owner: PersonalizedOpenAI) -> None:
        self._owner = owner

    def create(self, **kwargs: Any) -> Any:
        """``client.chat.completions.create`` with the user's composed system prompt (same arguments)."""
        call = _Call(self._owner, kwargs)
        answer = self._owner.unwrapped.chat.completions.create(**call.compose())
        if kwargs.get("stream"):
            return _Stream(answer, call)
        call.captured()
        return answer

    def __getattr__(self, name: str) -> Any:
        return getattr(self._owner.unwrapped.chat.completions, name)


class _AsyncCompletions:
    def __init__(self, owner: PersonalizedAsyncOpenAI) -> None:
        self._owner = owner

    async def create(self, **kwargs: Any) -> Any:
        """``await client.chat.completions.create`` with the user's composed system prompt (same arguments)."""
        import asyncio

        call = _Call(self._owner, kwargs)
        composed = await asyncio.to_thread(call.compose)
        answer = await self._owner.unwrapped.chat.completions.create(**composed)
        if kwargs.get("stream"):
            return _AsyncStream(answer, call)
        call.captured()
        return answer

    def __getattr__(self, name: str) -> Any:
        return getattr(self._owner.unwrapped.chat.completions, name)


class _Stream:
    """The client's stream, unchanged; the turns are captured when it ran to its end without an error."""

    def __init__(self, inner: Any, call: _Call) -> None:
        self._inner = inner
        self._call = call

    def __iter__(self) -> Iterator[Any]:
        yield from self._inner
        self._call.captured()

    def __enter__(self) -> _Stream:
        return self

    def __exit__(self, *exc: object) -> None:
        self._inner.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class _AsyncStream:
    """The async client's stream, unchanged; the turns are captured when it ran to its end without an error."""

    def __init__(self, inner: Any, call: _Call) -> None:
        self._inner = inner
        self._call = call

    async def __aiter__(self) -> AsyncIterator[Any]:
        async for chunk in self._inner:
            yield chunk
        self._call.captured()

    async def __aenter__(self) -> _AsyncStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._inner.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def wrap(
    client: Any,
    personalizer: Personalizer,
    *,
    user: str | None = None,
    require_user: bool = True,
    capture: bool = True,
) -> PersonalizedOpenAI | PersonalizedAsyncOpenAI:
    """Personalize every chat completion made through ``client`` (an ``openai.OpenAI`` or ``AsyncOpenAI``).

    ``user`` is whose memories are used and grown (``create(user=...)`` overrides it per call);
    ``capture=False`` composes but never stores the user's turns.
    """
    import openai

    if isinstance(client, _Wrapped):
        raise UsageError("This client is wrapped already: wrap the original client (wrapped.unwrapped).")
    if isinstance(client, openai.AsyncOpenAI):
        return PersonalizedAsyncOpenAI(client, personalizer, user, require_user, capture)
    if isinstance(client, openai.OpenAI):
        return PersonalizedOpenAI(client, personalizer, user, require_user, capture)
    raise UsageError(
        f"wrap() takes an openai.OpenAI or openai.AsyncOpenAI client, not {type(client).__name__}. "
        "For LangChain chat models use palign_rag.integrations.langchain."
    )
