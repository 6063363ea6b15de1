"""Readers for the evaluation data sets (PrefEval, LoCoMo). They read from a path; nothing is bundled."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from ..errors import InvalidInputError

__all__ = [
    "LocomoConversation",
    "LocomoQuestion",
    "LocomoTurn",
    "PrefEvalRecord",
    "Variant",
    "filler_messages",
    "load_locomo",
    "load_prefeval",
]

Variant = Literal["explicit", "choice", "persona", "crowded"]
_FOLDERS: dict[str, str] = {
    "explicit": "explicit_preference",
    "crowded": "explicit_preference",
    "choice": "implicit_preference/choice-based",
    "persona": "implicit_preference/persona-driven",
}


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidInputError(f"Cannot read {path}: {exc.strerror or exc}. Check the --data path.") from exc
    except json.JSONDecodeError as exc:
        raise InvalidInputError(f"{path} is not valid JSON ({exc.msg} at line {exc.lineno}).") from exc


@dataclass(frozen=True)
class PrefEvalRecord:
    """One PrefEval record: a preference, a question that should be answered in its light, and how it was revealed."""

    topic: str
    index: int
    preference: str
    question: str
    conversation: list[dict[str, str]] = field(default_factory=list)
    """For implicit variants: the messages that reveal the preference (OpenAI format)."""

    @property
    def key(self) -> str:
        return f"{self.topic}-{self.index}"


def _implicit_conversation(variant: str, raw: Any) -> list[dict[str, str]]:
    if variant == "choice":
        return [
            {"role": "user", "content": raw["query"]},
            {"role": "assistant", "content": raw["assistant_options"]},
            {"role": "user", "content": raw["user_selection"]},
            {"role": "assistant", "content": raw["assistant_acknowledgment"]},
        ]
    messages: list[dict[str, str]] = []
    for turn_key in sorted(raw, key=lambda k: int(k)):
        turn = raw[turn_key]
        messages.append({"role": "user", "content": turn["user"]})
        messages.append({"role": "assistant", "content": turn["assistant"]})
    return messages


def load_prefeval(
    data: str | Path, variant: Variant, *, topics: list[str] | None = None, limit: int | None = None
) -> list[PrefEvalRecord]:
    """Records of one variant, topics in name order; ``limit`` keeps the first N records of each topic."""
    if variant not in _FOLDERS:
        raise InvalidInputError(f"Unknown variant {variant!r}: use one of {', '.join(_FOLDERS)}.")
    folder = Path(data).expanduser() / _FOLDERS[variant]
    files = sorted(folder.glob("*.json"))
    if not files:
        raise InvalidInputError(
            f"No PrefEval files in {folder}: pass --data pointing at the prefeval folder "
            "(the one holding explicit_preference/ and filtered_inter_turns.json)."
        )
    wanted = set(topics or [])
    records: list[PrefEvalRecord] = []
    for path in files:
        if wanted and path.stem not in wanted:
            continue
        rows = _read_json(path)
        for index, row in enumerate(rows[:limit] if limit else rows):
            conversation = _implicit_conversation(variant, row["conversation"]) if "conversation" in row else []
            if variant in ("choice", "persona") and not conversation:
                raise InvalidInputError(f"{path} record {index} has no conversation for the {variant} variant.")
            records.append(
                PrefEvalRecord(
                    topic=path.stem,
                    index=index,
                    preference=row["preference"],
                    question=row["question"],
                    conversation=conversation if variant in ("choice", "persona") else [],
                )
            )
    return records


def filler_messages(data: str | Path) -> list[dict[str, str]]:
    """The LMSYS filler conversations, flattened in order into one list of messages."""
    path = Path(data).expanduser() / "filtered_inter_turns.json"
    conversations = _read_json(path)
    messages: list[dict[str, str]] = []
    for conversation in conversations:
        for message in conversation["conversation"]:
            if message.get("role") in ("user", "assistant") and str(message.get("content", "")).strip():
                messages.append({"role": message["role"], "content": message["content"]})
    return messages


@dataclass(frozen=True)
class LocomoTurn:
    dia_id: str
    speaker: str
    text: str
    session_time: str
    when: datetime | None

    @property
    def indexed_text(self) -> str:
        """The text indexed for retrieval, as the LoCoMo paper does."""
        return f'({self.session_time}) {self.speaker} said, "{self.text}"'


@dataclass(frozen=True)
class LocomoQuestion:
    question: str
    evidence: tuple[str, ...]
    category: int


@dataclass(frozen=True)
class LocomoConversation:
    sample_id: str
    turns: list[LocomoTurn]
    questions: list[LocomoQuestion]


def _parse_session_time(value: str) -> datetime | None:
    for pattern in ("%I:%M %p on %d %B, %Y", "%I:%M %p on %d %b, %Y"):
        try:
            return datetime.strptime(value.strip(), pattern).replace(tzinfo=timezone.utc)
        except ValueError:
            continue
    return None


def _sessions(conversation: dict[str, Any]) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    numbers = sorted(int(m.group(1)) for k in conversation if (m := re.fullmatch(r"session_(\d+)", k)))
    for number in numbers:
        yield str(conversation.get(f"session_{number}_date_time", "")), conversation[f"session_{number}"]


def load_locomo(path: str | Path, *, limit: int | None = None) -> list[LocomoConversation]:
    """LoCoMo conversations with their turns (in order) and questions; ``limit`` keeps the first N conversations."""
    raw = _read_json(Path(path).expanduser())
    if not isinstance(raw, list):
        raise InvalidInputError(f"{path} is not a LoCoMo file (expected a list of conversations).")
    conversations: list[LocomoConversation] = []
    for item in raw[:limit] if limit else raw:
        turns = [
            LocomoTurn(
                dia_id=str(turn["dia_id"]),
                speaker=str(turn["speaker"]),
                text=str(turn.get("text", "")),
                session_time=session_time,
                when=_parse_session_time(session_time),
            )
            for session_time, session in _sessions(item["conversation"])
            for turn in session
            if str(turn.get("text", "")).strip()
        ]
        questions = [
            LocomoQuestion(
                question=str(qa["question"]),
                evidence=tuple(e for ev in qa.get("evidence", []) for e in re.split(r"[;,\s]+", str(ev)) if e),
                category=int(qa["category"]),
            )
            for qa in item["qa"]
        ]
        conversations.append(LocomoConversation(str(item.get("sample_id", len(conversations))), turns, questions))
    return conversations
