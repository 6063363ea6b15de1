"""The data palign-rag passes around: memories, candidates, traces and composed prompts."""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime, timezone
from enum import Enum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .understand.labels import Applies, Stance, Understanding

__all__ = [
    "Candidate",
    "ChatResult",
    "ComposedPrompt",
    "Decision",
    "Memory",
    "MemoryKind",
    "MemorySource",
    "MemoryStatus",
    "Scope",
    "SectionTokens",
    "Tier",
    "Trace",
    "memory_id_for",
    "utcnow",
]


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(timezone.utc)


class MemoryKind(str, Enum):
    """What a memory is."""

    PREFERENCE = "preference"
    """Something the user wants or avoids ("I prefer short answers")."""
    FACT = "fact"
    """Something true about the user ("I live in Lyon")."""
    EPISODE = "episode"
    """A turn of past conversation, kept as context."""


class MemorySource(str, Enum):
    """How a memory got into the store."""

    STATED = "stated"
    """Given directly through ``remember``."""
    EXTRACTED = "extracted"
    """Pulled from chat history by the rule extractor."""
    INFERRED = "inferred"
    """Guessed from behaviour rather than stated."""
    FEEDBACK = "feedback"
    """Added from the user's feedback on a reply."""


class MemoryStatus(str, Enum):
    """Whether a memory may reach a prompt."""

    ACTIVE = "active"
    SUPERSEDED = "superseded"
    """Replaced by a newer memory; kept as history, never composed."""
    QUARANTINED = "quarantined"
    """Held back by the policy gate (e.g. instruction-like text); never composed."""
    BLOCKED = "blocked"
    """A preference that asks the assistant to drop one of the policy's principles (``blocked_by``); never composed."""


class Tier(str, Enum):
    """Selection priority under the token budget, highest first."""

    EXPLICIT = "explicit"
    INFERRED = "inferred"
    EPISODE = "episode"


class Scope(BaseModel):
    """Whose memories an operation touches. Both parts are required and non-empty."""

    model_config = ConfigDict(frozen=True)

    tenant: str = "default"
    user_id: str

    @property
    def key(self) -> str:
        """A stable, filesystem- and collection-safe key for this scope."""
        raw = f"{self.tenant}\x1f{self.user_id}".encode()
        return hashlib.sha256(raw).hexdigest()[:32]


def memory_id_for(scope: Scope, kind: MemoryKind, text: str) -> str:
    """Deterministic id: the same text of the same kind for the same user is one memory.

    This makes writes idempotent (a retried or replayed ingest stores nothing twice).
    """
    normalized = " ".join(text.lower().split())
    raw = f"{scope.tenant}\x1f{scope.user_id}\x1f{kind.value}\x1f{normalized}".encode()
    return "mem_" + hashlib.sha256(raw).hexdigest()[:24]


class Memory(BaseModel):
    """One stored memory of one user."""

    id: str
    tenant: str = "default"
    user_id: str
    text: str
    kind: MemoryKind = MemoryKind.PREFERENCE
    source: MemorySource = MemorySource.STATED
    status: MemoryStatus = MemoryStatus.ACTIVE
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    confidence: float = Field(default=1.0, ge=0.0, le=1.0)
    weight: float = Field(default=1.0, ge=0.0)
    role: str | None = None
    """For memories taken from chat history: the role of the message it came from."""
    origin: str | None = None
    """Where it came from: a file name, conversation id or ``remember`` (free text, no memory content)."""
    message_index: int | None = None
    context: str | None = None
    """For an episode that replied to the assistant: what the assistant had said (shortened)."""
    supersedes: str | None = None
    """For a memory that replaced an older one: the older one's id."""
    superseded_by: str | None = None
    """For a superseded preference or fact: the id of the newer one that replaced it."""
    quarantine_reason: str | None = None
    status_reason: str | None = None
    """Why a memory is superseded or blocked, in words."""
    blocked_by: str | None = None
    """For a blocked preference: the policy principle it asks to drop (``<policy id>/<principle>``)."""
    applies: Applies | None = None
    """For a preference: ``always`` (how to answer, every prompt) or ``topical`` (when its subject comes up)."""
    subject: str | None = None
    stance: Stance | None = None
    understanding: Understanding | None = None
    """What the understanding layer decided when the memory was written, with confidences and reason."""

    @property
    def scope(self) -> Scope:
        return Scope(tenant=self.tenant, user_id=self.user_id)

    @property
    def search_text(self) -> str:
        """What is embedded and matched for retrieval: the text, after its context when it has one."""
        return f"{self.context}\n{self.text}" if self.context else self.text

    @property
    def tier(self) -> Tier:
        """The selection tier this memory competes in. Facts about the user are remembered context, like the
        turns they were said in: they inform an answer but are no wish to honour."""
        if self.kind in (MemoryKind.EPISODE, MemoryKind.FACT):
            return Tier.EPISODE
        if self.source is MemorySource.INFERRED:
            return Tier.INFERRED
        return Tier.EXPLICIT


Decision = Literal[
    "used",
    "dropped_budget",
    "dropped_relevance",
    "dropped_duplicate",
    "superseded",
    "blocked",
    "quarantined",
    "inactive",
]


class Candidate(BaseModel):
    """A memory considered for one prompt, with its scores and what happened to it."""

    memory: Memory
    dense: float = 0.0
    """Cosine similarity between the query and the memory (higher is more similar)."""
    dense_rank: int | None = None
    """0-based rank by ``dense`` among all of the user's memories."""
    lexical: float = 0.0
    """BM25 score of the memory for the query text."""
    lexical_rank: int | None = None
    """0-based rank by ``lexical`` among all of the user's memories (None: no query word in it)."""
    temporal: float | None = None
    """How well the memory's time fits the query's time cue, 0.0 to 1.0 (None: the query has no time cue)."""
    on_subject: float | None = None
    """For a preference or fact with a subject: the probability that the question is about that subject, as
    the understanding layer reads the question (None: not read)."""
    touched_via: str | None = None
    """For a topical preference or fact the question does not touch by itself: the id of the memory it
    replaced whose subject the question touches (a memory that replaced another is on the same subject)."""
    score: float = 0.0
    """Final ranking score: relevance (rank fusion of cosine and, for episodes, BM25, raised for memories that
    fit the query's time cue), adjusted for confidence, feedback weight and recency."""
    rank: int = 0
    tokens: int = 0
    decision: Decision = "dropped_relevance"
    reason: str = ""


class SectionTokens(BaseModel):
    """Token counts of each section of the composed system prompt."""

    policy: int = 0
    preferences: int = 0
    memories: int = 0
    app: int = 0
    total: int = 0


class Trace(BaseModel):
    """Everything needed to see why a prompt looks the way it does."""

    id: str = Field(default_factory=lambda: "tr_" + uuid.uuid4().hex[:20])
    tenant: str = "default"
    user_id: str
    created_at: datetime = Field(default_factory=utcnow)
    query: str
    time_cue: str | None = None
    """The time expression read from the query and the stretch of time it was taken to mean, if any."""
    policy_id: str
    policy_hash: str
    """Hash of the policy in force; the policy section of the prompt depends on nothing else."""
    data_marker: str = ""
    """The random fence of this prompt's data blocks (preferences and remembered context)."""
    embedder: str
    tokenizer: str
    memory_budget: int
    candidates: list[Candidate] = Field(default_factory=list)
    tokens: SectionTokens = Field(default_factory=SectionTokens)
    timings_ms: dict[str, float] = Field(default_factory=dict)

    def used(self) -> list[Candidate]:
        """The candidates that made it into the prompt, in prompt order."""
        return [c for c in self.candidates if c.decision == "used"]


class ComposedPrompt(BaseModel):
    """The result of ``compose``: messages ready to forward, and the trace explaining them."""

    messages: list[dict[str, Any]]
    """OpenAI chat format: the composed system message first, then the app's other messages."""
    system_prompt: str
    trace: Trace


class ChatResult(BaseModel):
    """The result of ``chat``: the backend's reply and the trace of the prompt that produced it."""

    content: str
    model: str
    trace_id: str
    trace: Trace
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
