"""Errors raised by palign-rag.

Every error derives from one root, and every message says what to do about it::

    PalignError
    ├── UsageError                 a mistake in how the library is called; fix the call
    │   ├── MissingUserError       a read or write without a user id (the store fails closed)
    │   ├── InvalidInputError      empty text, malformed messages, unreadable files, bad settings
    │   └── PolicyViolationError   a memory the value policy refuses to store
    └── RuntimeFailure             something outside the caller's code failed; retry or reconfigure
        ├── ModelNotFoundError     a bundled or configured model file is missing
        ├── BackendError           the backing LLM failed or could not be reached
        └── StoreError             the vector store failed

Nothing already stored is lost when one of these is raised: writes validate everything
before touching the store.
"""

from __future__ import annotations

__all__ = [
    "BackendError",
    "InvalidInputError",
    "MissingUserError",
    "ModelNotFoundError",
    "PalignError",
    "PersonalDataError",
    "PolicyViolationError",
    "RuntimeFailure",
    "StoreError",
    "UsageError",
]


class PalignError(Exception):
    """Root of every error palign-rag raises."""


class UsageError(PalignError, ValueError):
    """The library was called wrongly; the message says how to call it."""


class MissingUserError(UsageError):
    """A store operation was attempted without a user id."""

    def __init__(self, operation: str) -> None:
        super().__init__(
            f"{operation} needs a user id: pass user_id='...' (a non-empty string). "
            "palign-rag never reads or writes memories outside a user's scope."
        )
        self.operation = operation


class InvalidInputError(UsageError):
    """Input that cannot be used as given (empty text, malformed messages, unreadable file)."""


class PolicyViolationError(UsageError):
    """The value policy refuses this memory; nothing was stored."""

    def __init__(self, reason: str) -> None:
        super().__init__(
            f"The value policy refused this memory ({reason}); nothing was stored. "
            "State the preference as a plain wish (e.g. 'I prefer short answers'), "
            "not as an instruction to the assistant."
        )
        self.reason = reason


class PersonalDataError(InvalidInputError):
    """Text holds personal data (an email, a card number, ...) and the PII mode is ``refuse``; nothing was
    stored. The message names the kinds found, never the values."""


class RuntimeFailure(PalignError, RuntimeError):
    """Something outside the caller's code failed."""


class ModelNotFoundError(RuntimeFailure):
    """A model file or package is missing."""


class BackendError(RuntimeFailure):
    """The backing LLM failed or was unreachable."""

    def __init__(self, message: str, *, backend: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.backend = backend
        self.status_code = status_code


class StoreError(RuntimeFailure):
    """The vector store failed."""
