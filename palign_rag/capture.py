"""Capturing a conversation after an answer: which turns of a request are new, and the worker that stores them.

Chat clients resend the whole history with every request. Storing all of it each time would refresh old
memories' times to now and bring back memories the user deleted, so a capture stores only what the request
adds: the user turns after its last assistant message (``new_turns_start``). The assistant message before
them is still read, as the context a short reply answers ("the first one sounds good").

``CaptureQueue`` stores captures off the caller's path: one worker thread, in submission order, at most
``capacity`` waiting. When it is full a capture is dropped (and counted, and logged without its text) rather
than letting memory grow without bound or slowing answers down. The proxy and ``wrap()`` both use it; captures
still queued when the program exits are finished first (up to ``EXIT_WAIT`` seconds).
"""

from __future__ import annotations

import concurrent.futures.thread  # noqa: F401  (registers its exit hook before ours: see the end of this module)
import logging
import threading
import time
import weakref
from collections import deque
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .personalizer import Personalizer

__all__ = ["EXIT_WAIT", "CaptureQueue", "new_turns_start"]

logger = logging.getLogger("palign_rag")

EXIT_WAIT = 30.0
"""Seconds the program's exit waits for captures still queued (all queues together)."""
_IDLE = 2.0
"""Seconds the worker thread waits for work before it ends (the next capture starts another)."""
_LOG_EVERY = 100
"""After the first drop, one drop in this many is logged."""


def new_turns_start(messages: Sequence[Any]) -> int:
    """Index of the first message a request adds to its conversation: the one after its last assistant message
    (0 when it has none). Messages before it were captured with an earlier request of the same conversation."""
    for index in range(len(messages) - 1, -1, -1):
        message = messages[index]
        if isinstance(message, Mapping) and message.get("role") == "assistant":
            return index + 1
    return 0


def _has_user_turn(messages: Sequence[Any]) -> bool:
    return any(isinstance(m, Mapping) and m.get("role") == "user" for m in messages)


class CaptureQueue:
    """Stores captured conversations on one worker thread, in the order submitted, with at most ``capacity``
    waiting.

    ``submit`` never blocks: when ``capacity`` captures are already waiting, the new one is dropped, counted in
    ``dropped`` and logged at WARNING (never its text). A capture that fails is counted in ``failed`` and
    logged by error type only; the answer it followed is already the caller's.
    """

    def __init__(self, *, capacity: int = 1000, name: str = "palign-capture") -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, got {capacity}.")
        self.capacity = capacity
        self.name = name
        self._jobs: deque[tuple[Personalizer, str, list[dict[str, Any]]]] = deque()
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._submitted = 0
        self._finished = 0
        self._dropped = 0
        self._failed = 0
        _QUEUES.add(self)

    @property
    def pending(self) -> int:
        """Captures waiting or being stored."""
        with self._changed:
            return self._submitted - self._finished

    @property
    def dropped(self) -> int:
        """Captures dropped because the queue was full or closed."""
        with self._changed:
            return self._dropped

    @property
    def failed(self) -> int:
        """Captures whose storing raised (logged by error type)."""
        with self._changed:
            return self._failed

    def submit(self, personalizer: Personalizer, user: str, messages: Sequence[dict[str, Any]]) -> bool:
        """Queue the new turns of ``messages`` (see ``new_turns_start``) to be stored for ``user``.

        Returns at once: ``True`` when queued or when there was nothing new to store, ``False`` when dropped.
        """
        if not _has_user_turn(messages[new_turns_start(messages) :]):
            return True
        with self._changed:
            if self._closed or len(self._jobs) >= self.capacity:
                self._dropped += 1
                dropped, closed = self._dropped, self._closed
            else:
                self._jobs.append((personalizer, user, [dict(m) for m in messages]))
                self._submitted += 1
                if self._thread is None:
                    self._thread = threading.Thread(target=self._work, name=self.name, daemon=True)
                    self._thread.start()
                self._changed.notify_all()
                return True
        if dropped == 1 or dropped % _LOG_EVERY == 0:
            why = "the queue is closed" if closed else f"{self.capacity} captures are already waiting"
            logger.warning("dropped a capture: %s (%d dropped so far)", why, dropped)
        return False

    def _work(self) -> None:
        while True:
            with self._changed:
                if not self._jobs:
                    self._changed.wait(_IDLE)
                if not self._jobs:
                    self._thread = None
                    return
                personalizer, user, messages = self._jobs.popleft()
            failed = False
            try:
                personalizer.capture(user, messages)
            except Exception as exc:  # the answer is already the caller's; the text stays out of the log
                failed = True
                logger.warning("capturing a conversation failed: %s", type(exc).__name__)
            with self._changed:
                self._finished += 1
                self._failed += failed
                self._changed.notify_all()

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until the captures submitted so far are stored; ``False`` if some were not at ``timeout``."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._changed:
            target = self._submitted
            while self._finished < target:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._changed.wait(left)
            return True

    def close(self, timeout: float | None = EXIT_WAIT) -> bool:
        """Take no more captures (later ones are dropped) and wait up to ``timeout`` for those queued.

        Returns ``False``, and logs how many were left unstored, when some were still pending at ``timeout``.
        """
        with self._changed:
            self._closed = True
        if self.flush(timeout):
            return True
        logger.warning("%d captures were not stored before shutdown (waited %.0f s)", self.pending, timeout or 0)
        return False


_QUEUES: weakref.WeakSet[CaptureQueue] = weakref.WeakSet()


def _finish_at_exit() -> None:
    deadline = time.monotonic() + EXIT_WAIT
    for queue in list(_QUEUES):
        if not queue.flush(max(0.0, deadline - time.monotonic())):
            logger.warning("exiting with %d captures not yet stored (waited %.0f s)", queue.pending, EXIT_WAIT)


# captures still queued when the program ends are finished first. Exit hooks run last registered first, so this
# one runs before the hook of ``concurrent.futures.thread`` (imported above), which makes the thread pools that
# ingest and the store use refuse new work. ``flush()`` is the portable way.
_register_exit = getattr(threading, "_register_atexit", None)
if _register_exit is not None:
    _register_exit(_finish_at_exit)
