"""Personal data at write time: what happens to emails, phone numbers, card numbers, IBANs, IP addresses and
national ids in text about to be stored (detection: ``pii``).

``redact`` (the default) stores ``[email]``, ``[card]`` ... in their place; ``keep`` stores the text as
written; ``refuse`` stores nothing from a call that holds any and raises ``PersonalDataError`` naming the
message and the kinds found (never the values). Only what would be stored is checked, once normalized: user
turns, the sentences read from them, the assistant words a user turn answers, and assistant turns when they
are ingested.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import get_args

from .config import PiiMode
from .errors import PersonalDataError
from .extract import Turn
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

    def scrub(self, text: str) -> str:
        """``text`` with personal data redacted, unless the mode is ``keep`` (for what is shown, never stored:
        the query in a trace)."""
        return text if self.mode == "keep" else redact(text)

    def turns(self, found: Sequence[Turn]) -> tuple[list[Turn], int]:
        """The turns about to be stored, with personal data handled in every string that is stored: the turn's
        text, the sentences read from it, and the assistant words it answers. These are the normalized strings
        (full-width digits and zero-width characters no longer hide a card number). A ``refuse`` raises before
        anything is returned."""
        if self.mode == "keep":
            return list(found), 0
        out: list[Turn] = []
        total = 0
        for turn in found:
            where = f"messages[{turn.message_index}] ({turn.role})"
            text, count = self.text(turn.text, where)
            sentences = tuple(self.text(s, where)[0] for s in turn.sentences)
            context = None
            if turn.context is not None:
                context, answered = self.text(turn.context, f"the assistant message before {where}")
                count += answered
            total += count
            out.append(dataclasses.replace(turn, text=text, sentences=sentences, context=context))
        return out, total
