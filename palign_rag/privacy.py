"""Personal data at write time: what happens to emails, phone numbers, card numbers, IBANs, IP addresses and
national ids in text about to be stored (detection: ``pii``).

``redact`` (the default) stores ``[email]``, ``[card]`` ... in their place; ``keep`` stores the text as
written; ``refuse`` stores nothing from a call that holds any and raises ``PersonalDataError`` naming the
message and the kinds found (never the values). Only what would be stored is checked: user turns (and
assistant turns when they are ingested, and the assistant words a user turn answers).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, get_args

from .config import PiiMode
from .errors import PersonalDataError
from .pii import find_pii, redact

__all__ = ["Privacy"]

PII_MODES: tuple[str, ...] = get_args(PiiMode)


class Privacy:
    """Applies one ``PiiMode`` to text and chat messages."""

    def __init__(self, mode: PiiMode = "redact") -> None:
        if mode not in PII_MODES:
            raise PersonalDataError(f"Unknown PII mode {mode!r}: use one of {', '.join(PII_MODES)}.")
        self.mode = mode

    def text(self, text: str, where: str = "text") -> tuple[str, int]:
        """``text`` as it may be stored, and how many pieces of personal data were redacted."""
        if self.mode == "keep":
            return text, 0
        found = find_pii(text)
        if not found:
            return text, 0
        if self.mode == "refuse":
            kinds = ", ".join(dict.fromkeys(m.describe() for m in found))
            raise PersonalDataError(
                f"{where} holds {kinds}; this store refuses personal data (pii mode 'refuse'). Remove it, or "
                "configure pii='redact' to store it redacted."
            )
        return redact(text, found), len(found)

    def messages(self, messages: Sequence[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
        """The messages with personal data handled in every part that may be stored (user and assistant
        text); a ``refuse`` raises before anything is returned. Messages are copied, never changed in place."""
        if self.mode == "keep":
            return list(messages), 0
        out: list[dict[str, Any]] = []
        total = 0
        for index, message in enumerate(messages):
            stored = message["role"] in ("user", "assistant")
            content = message.get("content")
            if not stored or content is None:
                out.append(message)
                continue
            where = f"messages[{index}] ({message['role']})"
            if isinstance(content, str):
                clean, count = self.text(content, where)
                out.append({**message, "content": clean})
            else:
                parts = []
                count = 0
                for part in content:
                    if isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str):
                        clean_part, n = self.text(part["text"], where)
                        parts.append({**part, "text": clean_part})
                        count += n
                    else:
                        parts.append(part)
                out.append({**message, "content": parts})
            total += count
        return out, total
