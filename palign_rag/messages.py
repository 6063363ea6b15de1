"""Validation of chat messages in the OpenAI format (``{"role": ..., "content": ...}``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .errors import InvalidInputError, MissingUserError

__all__ = ["ROLES", "check_text", "check_user_id", "message_text", "validate_messages"]

ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})


def check_user_id(user_id: object, operation: str) -> str:
    """Return ``user_id`` if it is a non-empty string; raise ``MissingUserError`` otherwise."""
    if not isinstance(user_id, str) or not user_id.strip():
        raise MissingUserError(operation)
    return user_id


def check_text(text: object, what: str = "text") -> str:
    """Return stripped ``text`` if it is a non-empty string."""
    if not isinstance(text, str):
        raise InvalidInputError(f"{what} must be a string, got {type(text).__name__}.")
    stripped = text.strip()
    if not stripped:
        raise InvalidInputError(f"{what} is empty: pass the words to remember, e.g. 'I prefer short answers'.")
    return stripped


def message_text(message: Mapping[str, Any]) -> str:
    """The plain text of a message; list content keeps only its text parts."""
    content = message.get("content")
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    parts: list[str] = []
    for part in content:
        if isinstance(part, Mapping) and part.get("type") == "text" and isinstance(part.get("text"), str):
            parts.append(part["text"])
    return "\n".join(parts)


def validate_messages(messages: object, *, require_user_turn: bool = False) -> list[dict[str, Any]]:
    """Check ``messages`` is a list of OpenAI chat messages and return it as a list of dicts.

    Raises ``InvalidInputError`` naming the first bad message and what is wrong with it.
    """
    if isinstance(messages, (str, bytes)) or not isinstance(messages, Sequence):
        raise InvalidInputError(
            "messages must be a list of {'role': ..., 'content': ...} dicts "
            f"(OpenAI chat format), got {type(messages).__name__}."
        )
    checked: list[dict[str, Any]] = []
    for index, message in enumerate(messages):
        if not isinstance(message, Mapping):
            raise InvalidInputError(
                f"messages[{index}] must be a dict with 'role' and 'content', got {type(message).__name__}."
            )
        role = message.get("role")
        if role not in ROLES:
            raise InvalidInputError(f"messages[{index}] has role {role!r}; use one of {', '.join(sorted(ROLES))}.")
        content = message.get("content")
        if content is not None and not isinstance(content, (str, list)):
            raise InvalidInputError(
                f"messages[{index}].content must be a string or a list of content parts, got {type(content).__name__}."
            )
        checked.append(dict(message))
    if require_user_turn and not any(m["role"] == "user" and message_text(m).strip() for m in checked):
        raise InvalidInputError(
            "messages hold no user turn with text: add {'role': 'user', 'content': '...'} to compose for."
        )
    return checked
