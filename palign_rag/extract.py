"""Turning chat history into candidate memories, with rules (no model needed).

A user turn is split into sentences. A sentence that states a preference in the first person
("I prefer ...", "I'm allergic to ...", "please don't ...") becomes a preference; a turn with
anything else in it is also kept whole as an episode, so context is not lost.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .messages import message_text
from .types import MemoryKind

__all__ = ["Extracted", "extract", "is_preference", "split_sentences"]

_ADVERB = r"(?:really |strongly |strictly |definitely |absolutely |always |usually |generally |much |only |mostly |truly |just |also |deeply |particularly |especially )*"
_PREF_VERBS = (
    r"prefer|like|love|enjoy|adore|hate|dislike|detest|loathe|avoid|despise|favou?r|appreciate|"
    r"value|cherish|abhor|fancy|stick to|stay away from|steer clear of|go for|opt for|lean towards"
)
_NEGATED_VERBS = (
    r"like|love|enjoy|eat|drink|want|care for|tolerate|stand|handle|bear|use|consume|watch|read|"
    r"listen to|play|wear|fly|drive|travel|do|trust|mind|support|appreciate|fancy"
)
_STATES = (
    r"allergic|intolerant|vegan|vegetarian|pescatarian|lactose|gluten|a vegan|a vegetarian|a pescatarian|"
    r"not (?:a )?(?:big )?fan|a (?:big |huge )?fan|into|fond of|sensitive to|afraid of|scared of|terrified of|"
    r"(?:not )?interested in|(?:not )?keen on|passionate about|obsessed with|averse to|tired of|sick of|"
    r"uncomfortable with|allergic to"
)
_PATTERNS = [
    rf"\bI {_ADVERB}(?:{_PREF_VERBS})\b",
    r"\bI(?:'d| would) (?:much |really )?(?:rather|prefer|like|love|hate)\b",
    rf"\bI {_ADVERB}(?:don't|do not|never|can't|cannot|can not|won't|will not|refuse to|no longer) {_ADVERB}(?:{_NEGATED_VERBS})\b",
    rf"\bI(?:'m| am) {_ADVERB}(?:{_STATES})\b",
    r"\bI have (?:a |an )?(?:\w+ ){0,2}(?:allergy|allergies|intolerance|aversion|phobia|fear|sensitivity)\b",
    r"\bI (?:follow|keep|maintain|stick to|observe) (?:a |an )?(?:\w+ ){0,2}(?:diet|lifestyle|routine)\b",
    r"\bmy (?:favou?rites?|preferred|go-to)\b",
    r"^(?:please |kindly )?(?:don't|do not|never|always|avoid)\b",
    r"\b(?:please )(?:don't|do not|never|always|avoid|use|keep|stop)\b",
]
_PREFERENCE = re.compile("|".join(f"(?:{p})" for p in _PATTERNS), re.IGNORECASE)
# A first-person sentence that carries preference or aversion vocabulary anywhere in it
# ("I have a strong dislike for ...", "I find X off-putting", "I learn best with ...").
_FIRST_PERSON = re.compile(r"\b(?:I|I'm|I've|I'd|my|me)\b")
_LEXICON = re.compile(
    r"\b(?:prefer\w*|preference\w*|favou?rites?|avoid\w*|dislike\w*|distaste|hate\w*|loathe|detest|"
    r"love|enjoy\w*|fond|fan of|allerg\w*|intoleran\w*|refus\w*|opposed|against|can't stand|"
    r"(?:un)?comfortable|off-putting|unpleasant|annoying|ineffective|disorienting|overwhelming|"
    r"(?:learn|work|focus|sleep|feel) best|best for me|rather than|instead of|prioriti[sz]e\w*|"
    r"strict(?:ly)?|only (?:eat|use|want|buy|drink|watch|read|listen|wear|travel|stay|fly|own|adopt|play)|"
    r"firmly|must avoid|never|exclusively|no interest|interests? me|not into|objection|aversion|unsettling|"
    r"tedious|boring|priority|diet|adhere to|fascinated|passionate|I find|I only|can't|cannot|won't|don't (?:like|want|eat|drink|enjoy|use)|not a fan)\b",
    re.IGNORECASE,
)
# "I'd like you to ..." asks for a one-off task; it is not a standing preference.
_REQUEST = re.compile(r"\b(?:I(?:'d| would) (?:like|love|want)|I (?:want|need)) (?:you|u) to\b", re.IGNORECASE)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
_MAX_PREFERENCE_CHARS = 400
_MAX_CONTEXT_CHARS = 400


@dataclass(frozen=True)
class Extracted:
    """A candidate memory found in a message."""

    text: str
    kind: MemoryKind
    role: str
    message_index: int
    context: str | None = None
    """For an episode that answers the assistant: what the assistant had said (shortened)."""


def split_sentences(text: str) -> list[str]:
    """Split text into sentences on end punctuation and line breaks."""
    return [s.strip() for s in _SENTENCE_END.split(text) if s and s.strip()]


def is_preference(sentence: str) -> bool:
    """Whether a sentence states a first-person preference (or asks for a standing behaviour)."""
    if len(sentence) > _MAX_PREFERENCE_CHARS:
        return False
    if _REQUEST.search(sentence):
        return False
    if _PREFERENCE.search(sentence):
        return True
    return _FIRST_PERSON.search(sentence) is not None and _LEXICON.search(sentence) is not None


def _answered(messages: Sequence[dict[str, Any]], index: int) -> str | None:
    """The assistant turn a user turn replies to, shortened: "sounds good" means little without it."""
    if index == 0 or messages[index - 1]["role"] != "assistant":
        return None
    text = " ".join(message_text(messages[index - 1]).split())
    if not text:
        return None
    return text if len(text) <= _MAX_CONTEXT_CHARS else text[:_MAX_CONTEXT_CHARS].rsplit(" ", 1)[0] + " ..."


def extract(messages: Sequence[dict[str, Any]], *, include_assistant: bool = False) -> list[Extracted]:
    """Candidate memories from validated OpenAI-format messages, in message order.

    User turns give preferences (one per preference sentence) and an episode (the whole turn) when
    the turn says anything beyond its preferences; an episode that replies to the assistant keeps
    what the assistant said as its context. Assistant turns become episodes only when
    ``include_assistant`` is set; system and tool messages are never stored.
    """
    found: list[Extracted] = []
    for index, message in enumerate(messages):
        role = message["role"]
        text = message_text(message).strip()
        if not text:
            continue
        if role == "user":
            sentences = split_sentences(text)
            preferences = [s for s in sentences if is_preference(s)]
            found.extend(Extracted(s, MemoryKind.PREFERENCE, role, index) for s in preferences)
            if len(preferences) < len(sentences):
                found.append(Extracted(text, MemoryKind.EPISODE, role, index, _answered(messages, index)))
        elif role == "assistant" and include_assistant:
            found.append(Extracted(text, MemoryKind.EPISODE, role, index))
    return found
