"""Splitting chat history into what the write path reads: turns, and the sentences of user turns.

Nothing here decides what a sentence *is*; that is the understanding layer's job (``palign_rag.understand``).
A user turn is split into sentences on end punctuation and line breaks; its first and last sentences (see
``READ_FIRST``), when short enough to state a preference, are what the understanding layer reads, and the turn
itself is kept whole as an episode when it says anything beyond its preferences, so context is not lost.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .messages import message_text
from .normalize import normalize

__all__ = [
    "MAX_SENTENCES",
    "MAX_SENTENCE_CHARS",
    "READ_FIRST",
    "READ_LAST",
    "Turn",
    "readable",
    "split_sentences",
    "turns",
]

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
MAX_SENTENCE_CHARS = 400
"""Longer sentences (pasted text, code, logs) are not read as preferences; the turn is still stored."""
READ_FIRST = 2
"""Of a longer turn, only the first ``READ_FIRST`` and the last ``READ_LAST`` sentences are read: a wish is said
before or after what the turn is about, not inside a pasted document or code. Why a cap at all: every sentence
read is embedded, and reading every sentence of real chat turns (PrefEval's filler conversations: 316 user
turns held 1,012 sentences) made ingest 1.49x slower than before the understanding layer
(``benchmarks/bench_ingest.py``; the issue allows 1.25x); three first sentences and a words-only screen, 1.27x;
two, 1.21x."""
READ_LAST = 1
MAX_SENTENCES = READ_FIRST + READ_LAST
_MAX_CONTEXT_CHARS = 400


@dataclass(frozen=True)
class Turn:
    """One message that may become memories."""

    text: str
    role: str
    message_index: int
    sentences: tuple[str, ...] = ()
    """For a user turn: the sentences the understanding layer reads."""
    context: str | None = None
    """For a user turn that answers the assistant: what the assistant had said (shortened)."""
    sentence_count: int = 0
    """How many sentences the turn has in all (some may be too long to read)."""


def split_sentences(text: str) -> list[str]:
    """Split text into sentences on end punctuation and line breaks."""
    return [s.strip() for s in _SENTENCE_END.split(text) if s and s.strip()]


def readable(text: str) -> list[str]:
    """The sentences of a user turn that the understanding layer reads (see ``READ_FIRST``)."""
    return _chosen(split_sentences(text))


def _chosen(sentences: list[str]) -> list[str]:
    chosen = sentences if len(sentences) <= MAX_SENTENCES else sentences[:READ_FIRST] + sentences[-READ_LAST:]
    return [s for s in chosen if len(s) <= MAX_SENTENCE_CHARS]


def _answered(messages: Sequence[dict[str, Any]], index: int) -> str | None:
    """The assistant turn a user turn replies to, shortened: "sounds good" means little without it."""
    if index == 0 or messages[index - 1]["role"] != "assistant":
        return None
    text = " ".join(normalize(message_text(messages[index - 1])).split())
    if not text:
        return None
    return text if len(text) <= _MAX_CONTEXT_CHARS else text[:_MAX_CONTEXT_CHARS].rsplit(" ", 1)[0] + " ..."


def turns(messages: Sequence[dict[str, Any]], *, include_assistant: bool = False) -> list[Turn]:
    """The turns of validated OpenAI-format messages that may become memories, in message order.

    User turns always (with their sentences and, when they reply to the assistant, its words); assistant
    turns only when ``include_assistant`` is set; system and tool messages never. Text is normalized
    (``normalize``): what is stored and read is what a person sees.
    """
    found: list[Turn] = []
    for index, message in enumerate(messages):
        role = message["role"]
        text = normalize(message_text(message)).strip()
        if not text:
            continue
        if role == "user":
            sentences = split_sentences(text)
            found.append(Turn(text, role, index, tuple(_chosen(sentences)), _answered(messages, index), len(sentences)))
        elif role == "assistant" and include_assistant:
            found.append(Turn(text, role, index))
    return found
