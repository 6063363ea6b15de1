"""``wrap(client, personalizer, user=...)``: the official ``OpenAI`` or ``AsyncOpenAI`` client, personalized.

The wrapped client has the call surface of the one it wraps. ``.chat.completions.create(...)`` composes the
user's system prompt (the same ``Personalizer.compose`` the proxy runs), sends the composed messages with every
other argument unchanged, returns the client's answer unchanged (a completion, or a stream yielding the
client's own chunks), and captures the user's turns into memory once the answer arrived complete: on a worker
thread, off the caller's path, never for a failed call or a stream cut short. Only the turns a call adds are
stored (``Personalizer.capture``: those after the last assistant message), so resending the whole history
neither stores a turn twice nor brings back a memory the user deleted. At most ``max_pending_captures`` wait
(``wrapped.captures`` counts what was dropped beyond that). Everything else (``models``, ``embeddings``,
``with_options`` ...) is the wrapped client's own, unpersonalized.

The user is ``user=`` given to ``wrap``, or ``palign_user=`` given to ``create`` (taken out before the call is
sent); with neither, ``create`` raises ``UsageError`` (``require_user=False`` forwards such calls
unpersonalized instead). The OpenAI API's own ``user`` field is never read: apps fill it with hashed or shared
ids for abuse tracking, and reading it as the palign user would let users who share one id share memories.

``with_options(...)`` and ``copy(...)`` return wrapped clients. Calls on ``chat.completions`` that are not
personalized yet (``parse``, ``stream``, ``with_raw_response``, ``with_streaming_response``) raise
``UsageError`` rather than reach the backend unpersonalized; ``wrapped.unwrapped`` is the plain client.

The trace of the latest call made in the current thread or task is ``wrapped.last_trace``
(``trace.id`` is what the proxy returns as ``X-Palign-Trace-Id``).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

from ..capture import EXIT_WAIT, CaptureQueue
from ..errors import UsageError

if TYPE_CHECKING:
    from ..personalizer import Personalizer
    from ..types import Trace

__all__ = ["PersonalizedAsyncOpenAI", "PersonalizedOpenAI", "wrap"]

logger = logging.getLogger(__name__)


class _Call:
    """What one ``create`` call personalizes: the composed arguments, and who to capture for."""

    def __init__(self, owner: _Wrapped, kwargs: dict[str, Any]) -> None:
        self.kwargs = dict(kwargs)
        self.user: str | None = self.kwargs.pop("palign_user", None) or owner.user
        self.original: list[dict[str, Any]] = [dict(m) for m in self.kwargs.get("messages") or []]
        self.owner = owner

    def compose(self) -> tuple[dict[str, Any], Trace | None]:
        """The arguments to send, and the trace of what was composed (``None`` when unpersonalized)."""
        if self.user is None:
            if self.owner.require_user:
                raise UsageError(
                    "No user to personalize for: pass user=... to wrap(client, personalizer, user=...) or "
                    "palign_user=... to create(...), or wrap with require_user=False to forward such calls "
                    "unpersonalized."
                )
            return self.kwargs, None
        composed = self.owner.personalizer.compose(self.user, self.original)
        return {**self.kwargs, "messages": composed.messages}, composed.trace

    def captured(self) -> None:
        if self.user is not None and self.owner.capture_turns:
            self.owner._capture.submit(self.owner.personalizer, self.user, self.original)


class _Wrapped:
    def __init__(
        self,
        client: Any,
        personalizer: Personalizer,
        user: str | None,
        require_user: bool,
        capture: bool,
        max_pending_captures: int = 1000,
    ):
        self._client = client
        self.personalizer = personalizer
        self.user = user
        self.require_user = require_user
        self.capture_turns = capture
        self._capture = CaptureQueue(capacity=max_pending_captures)
        self._last_trace: contextvars.ContextVar[Trace | None] = contextvars.ContextVar("palign_trace", default=None)

    @property
    def last_trace(self) -> Trace | None:
        """The trace of the latest personalized call made in this thread or task."""
        return self._last_trace.get()

    @property
    def unwrapped(self) -> Any:
        """The client this one wraps."""
        return self._client

    @property
    def captures(self) -> CaptureQueue:
        """The worker storing this client's captures: ``pending``, ``dropped`` and ``failed`` counts."""
        return self._capture

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until the turns of finished calls are stored (``False`` if ``timeout`` came first)."""
        return self._capture.flush(timeout)

    def _drain(self) -> None:
        if not self.flush(EXIT_WAIT):
            logger.warning("closing with %d captures not yet stored (waited %.0f s)", self._capture.pending, EXIT_WAIT)

    def _rewrapped(self, client: Any) -> Any:
        twin = type(self).__new__(type(self))
        twin.__dict__.update(self.__dict__)  # the same personalizer, user and capture worker
        twin._client = client
        return twin

    def with_options(self, **options: Any) -> Any:
        """The wrapped client's ``with_options``, still personalized."""
        return self._rewrapped(self._client.with_options(**options))

    def copy(self, **options: Any) -> Any:
        """The wrapped client's ``copy``, still personalized."""
        return self._rewrapped(self._client.copy(**options))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


class PersonalizedOpenAI(_Wrapped):
    """An ``openai.OpenAI`` client whose chat completions are personalized (see ``wrap``)."""

    @property
    def chat(self) -> _Chat:
        return _Chat(self)

    def close(self) -> None:
        """Store the turns still queued, then close the client."""
        self._drain()
        self._client.close()

    def __enter__(self) -> PersonalizedOpenAI:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class PersonalizedAsyncOpenAI(_Wrapped):
    """An ``openai.AsyncOpenAI`` client whose chat completions are personalized (see ``wrap``)."""

    @property
    def chat(self) -> _AsyncChat:
        return _AsyncChat(self)

    async def close(self) -> None:
        """Store the turns still queued, then close the client."""
        await asyncio.to_thread(self._drain)
        await self._client.close()

    async def __aenter__(self) -> PersonalizedAsyncOpenAI:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


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


def _not_personalized(name: str) -> UsageError:
    return UsageError(
        f"chat.completions.{name} is not personalized by wrap() yet: use create(...) (stream=True streams), or "
        "call it on wrapped.unwrapped to send it without personalization."
    )


_REFUSED = ("parse", "stream", "with_raw_response", "with_streaming_response")


class _Completions:
    def __init__(self, owner: PersonalizedOpenAI) -> None:
        self._owner = owner

    def create(self, **kwargs: Any) -> Any:
        """``client.chat.completions.create`` with the user's composed system prompt (same arguments)."""
        call = _Call(self._owner, kwargs)
        arguments, trace = call.compose()
        if trace is not None:
            self._owner._last_trace.set(trace)
        answer = self._owner.unwrapped.chat.completions.create(**arguments)
        if arguments.get("stream"):
            return _Stream(answer, call)
        call.captured()
        return answer

    def __getattr__(self, name: str) -> Any:
        if name in _REFUSED:
            raise _not_personalized(name)
        return getattr(self._owner.unwrapped.chat.completions, name)


class _AsyncCompletions:
    def __init__(self, owner: PersonalizedAsyncOpenAI) -> None:
        self._owner = owner

    async def create(self, **kwargs: Any) -> Any:
        """``await client.chat.completions.create`` with the user's composed system prompt (same arguments)."""
        call = _Call(self._owner, kwargs)
        arguments, trace = await asyncio.to_thread(call.compose)
        if trace is not None:  # set here: a context variable set inside to_thread stays in the worker's copy
            self._owner._last_trace.set(trace)
        answer = await self._owner.unwrapped.chat.completions.create(**arguments)
        if arguments.get("stream"):
            return _AsyncStream(answer, call)
        call.captured()
        return answer

    def __getattr__(self, name: str) -> Any:
        if name in _REFUSED:
            raise _not_personalized(name)
        return getattr(self._owner.unwrapped.chat.completions, name)


def _finished(chunk: Any) -> bool:
    """Whether a chunk closes a choice (a stream that ends without one was cut short)."""
    return any(getattr(choice, "finish_reason", None) for choice in getattr(chunk, "choices", None) or ())


class _Stream:
    """The client's stream, unchanged; the turns are captured when it ran to its end, closed by a chunk with a
    ``finish_reason``, without an error."""

    def __init__(self, inner: Any, call: _Call) -> None:
        self._inner = inner
        self._call = call
        self._finished = False
        self._iterator: Iterator[Any] | None = None

    def __iter__(self) -> Iterator[Any]:
        return self

    def __next__(self) -> Any:
        if self._iterator is None:
            self._iterator = iter(self._inner)
        try:
            chunk = next(self._iterator)
        except StopIteration:
            if self._finished:
                self._finished = False  # captured once
                self._call.captured()
            raise
        self._finished = self._finished or _finished(chunk)
        return chunk

    def __enter__(self) -> _Stream:
        return self

    def __exit__(self, *exc: object) -> None:
        self._inner.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class _AsyncStream:
    """The async client's stream, unchanged; captured as ``_Stream`` is."""

    def __init__(self, inner: Any, call: _Call) -> None:
        self._inner = inner
        self._call = call
        self._finished = False
        self._iterator: AsyncIterator[Any] | None = None

    def __aiter__(self) -> AsyncIterator[Any]:
        return self

    async def __anext__(self) -> Any:
        if self._iterator is None:
            self._iterator = self._inner.__aiter__()
        try:
            chunk = await self._iterator.__anext__()
        except StopAsyncIteration:
            if self._finished:
                self._finished = False
                self._call.captured()
            raise
        self._finished = self._finished or _finished(chunk)
        return chunk

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
    max_pending_captures: int = 1000,
) -> PersonalizedOpenAI | PersonalizedAsyncOpenAI:
    """Personalize every chat completion made through ``client`` (an ``openai.OpenAI`` or ``AsyncOpenAI``).

    ``user`` is whose memories are used and grown (``create(palign_user=...)`` overrides it per call);
    ``capture=False`` composes but never stores the user's turns; ``max_pending_captures`` is how many captures
    may wait for the worker before new ones are dropped (``wrapped.captures.dropped`` counts them).
    """
    import openai

    if isinstance(client, _Wrapped):
        raise UsageError("This client is wrapped already: wrap the original client (wrapped.unwrapped).")
    if isinstance(client, openai.AsyncOpenAI):
        return PersonalizedAsyncOpenAI(client, personalizer, user, require_user, capture, max_pending_captures)
    if isinstance(client, openai.OpenAI):
        return PersonalizedOpenAI(client, personalizer, user, require_user, capture, max_pending_captures)
    raise UsageError(
        f"wrap() takes an openai.OpenAI or openai.AsyncOpenAI client, not {type(client).__name__}. "
        "For LangChain chat models use palign_rag.integrations.langchain."
    )
