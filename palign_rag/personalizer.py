"""``Personalizer``: the one entry point of palign-rag."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from .backends import Backend, LocalBackend, OpenAIBackend
from .capture import new_turns_start
from .compose import Composer
from .config import Settings
from .embed import Embedder, Matrix
from .errors import InvalidInputError, PolicyViolationError
from .extract import Turn, turns
from .messages import check_text, check_user_id, message_text, validate_messages
from .normalize import detection_views, normalize
from .onnx_embed import default_embedder
from .policy import Policy
from .privacy import Privacy
from .reconcile import Replacement, may_replace_others, replaceable, replacements
from .retrieve import SelectionConfig, rank, select
from .store import ChromaStore, MemoryStore
from .timecues import TimeCue, find_time_cue
from .types import (
    Candidate,
    ChatResult,
    ComposedPrompt,
    Memory,
    MemoryKind,
    MemorySource,
    MemoryStatus,
    Scope,
    Trace,
    memory_id_for,
    utcnow,
)
from .understand import SUBJECTS, LocalUnderstander, Understanding
from .understand.llm import Understander

__all__ = ["IngestReport", "Personalizer"]

logger = logging.getLogger("palign_rag")
_INGEST_CHUNK = 256


class IngestReport(BaseModel):
    """What ``ingest`` stored."""

    added: int = 0
    """New memories."""
    refreshed: int = 0
    """Memories that were already stored (same text) and had their timestamp refreshed."""
    preferences: int = 0
    facts: int = 0
    """Standing facts about the user read in their turns ("I'm a nurse"), kept as memories of their own."""
    episodes: int = 0
    quarantined: int = 0
    """Memories held back by the policy gate: stored for audit, never composed."""
    blocked: int = 0
    """Preferences that ask the assistant to drop a principle of the policy: stored, never composed."""
    superseded: int = 0
    """Stored or new preferences and facts replaced by a newer one (a change of mind or a restatement)."""
    redacted: int = 0
    """Pieces of personal data (emails, card numbers, ...) replaced by their kind before storing."""
    memory_ids: list[str] = Field(default_factory=list)


_TIME_FIELDS = ("created_at", "timestamp")
_SHORT_FOLLOW_UP_WORDS = 5
_FOLLOW_UP_START = re.compile(r"^(?:and|or|but|also|then|what about|how about|same for)\b", re.IGNORECASE)


def _latest_user_text(messages: Sequence[dict[str, Any]]) -> str:
    """The retrieval query: the latest user turn, read in the light of the one before when it is a
    short follow-up ("and for dinner?", "what about Tuesday?") that means little on its own."""
    turns = [message_text(m).strip() for m in messages if m["role"] == "user" and message_text(m).strip()]
    latest = turns[-1]
    if len(turns) > 1 and (len(latest.split()) < _SHORT_FOLLOW_UP_WORDS or _FOLLOW_UP_START.match(latest)):
        return f"{turns[-2]}\n{latest}"
    return latest


def _query(messages: Sequence[dict[str, Any]]) -> tuple[str, TimeCue | None]:
    """The retrieval query and its time cue. Relative cues ("last week") are read from when the latest
    user turn was written (its ``created_at``, else now)."""
    index, latest = next((i, m) for i, m in reversed(list(enumerate(messages))) if m["role"] == "user")
    text = normalize(_latest_user_text(messages))
    return text, find_time_cue(text, now=_message_time(latest, index, utcnow()))


def _message_time(message: dict[str, Any], index: int, default: datetime) -> datetime:
    raw = message.get("created_at", message.get("timestamp"))
    if raw is None:
        return default
    try:
        if isinstance(raw, (int, float)) and not isinstance(raw, bool):
            return datetime.fromtimestamp(float(raw), tz=timezone.utc)
        if isinstance(raw, str):
            parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
    except (ValueError, OverflowError, OSError):
        pass
    raise InvalidInputError(
        f"messages[{index}] has timestamp {raw!r}: use an ISO 8601 string (2026-11-24T09:30:00Z) or Unix seconds."
    )


class Personalizer:
    """Personalized prompts for any LLM: remember, ingest, compose, chat, forget.

    ``Personalizer()`` opens the embedded store in ``$PALIGN_HOME`` (default ``~/.palign``), the bundled
    embedding model, the default policy, and the backend named by ``PALIGN_BACKEND`` (the bundled local
    model when nothing is configured). Every part can be passed in instead.
    """

    def __init__(
        self,
        home: str | Path | None = None,
        *,
        store: MemoryStore | None = None,
        embedder: Embedder | None = None,
        backend: Backend | None = None,
        policy: Policy | str | Path | None = None,
        settings: Settings | None = None,
        tenant: str = "default",
        memory_budget: int | None = None,
        selection: SelectionConfig | None = None,
        understander: Understander | None = None,
    ) -> None:
        """``selection`` tunes ranking and selection (the episode similarity floor, when a topical preference
        counts as relevant, ...); ``memory_budget``, when given, overrides its budget. ``understander``
        reads what users write (default: ``LocalUnderstander()``, the shipped heads; ``LLMUnderstander``
        asks a backend)."""
        self.settings = settings or Settings.resolve(home=home)
        if memory_budget is not None:
            self.settings = self.settings.model_copy(update={"memory_budget": memory_budget})
        if not tenant or not tenant.strip():
            raise InvalidInputError("tenant must be a non-empty string (the default is 'default').")
        self.tenant = tenant
        self.embedder: Embedder = embedder or default_embedder()
        self.store: MemoryStore = store if store is not None else ChromaStore.embedded(self.settings.home)
        bind = getattr(self.store, "bind_embedder", None)
        if callable(bind):
            bind(self.embedder.name, self.embedder.dimension)
        if policy is None:
            self.policy = Policy.default()
        elif isinstance(policy, Policy):
            self.policy = policy
        else:
            self.policy = Policy.from_file(policy)
        self._backend = backend
        self._backend_lock = threading.Lock()
        self.composer = Composer()
        self.privacy = Privacy(self.settings.pii)
        self.understander: Understander = understander or LocalUnderstander()
        self._selection = selection
        if selection is not None and memory_budget is not None:
            self._selection = dataclasses.replace(selection, memory_budget=memory_budget)

    # -- configuration ------------------------------------------------------------------------
    @property
    def backend(self) -> Backend:
        """The backend, created from the settings on first use."""
        with self._backend_lock:
            if self._backend is None:
                if self.settings.backend == "openai":
                    self._backend = OpenAIBackend(
                        model=self.settings.model, base_url=self.settings.base_url, api_key=self.settings.api_key
                    )
                else:
                    self._backend = LocalBackend(self.settings.model)
            return self._backend

    @property
    def selection(self) -> SelectionConfig:
        """The ranking and selection settings in force (from ``selection=`` or the settings)."""
        if self._selection is not None:
            return self._selection
        return SelectionConfig(
            memory_budget=self.settings.memory_budget,
            max_episodes=self.settings.max_episodes,
            min_episode_similarity=self.settings.min_episode_similarity,
        )

    def _scope(self, user_id: object, operation: str) -> Scope:
        return Scope(tenant=self.tenant, user_id=check_user_id(user_id, operation))

    # -- writing ------------------------------------------------------------------------------
    def remember(
        self,
        user_id: str,
        text: str,
        *,
        kind: MemoryKind | str = MemoryKind.PREFERENCE,
        source: MemorySource | str = MemorySource.STATED,
        confidence: float = 1.0,
        origin: str | None = "remember",
    ) -> Memory:
        """Store one stated preference or fact for ``user_id`` and return it.

        Remembering the same text again refreshes it instead of storing a duplicate; a preference that
        restates or changes an older one supersedes it (see ``reconcile``). Raises ``PolicyViolationError``
        (storing nothing) when the text is instruction-like. A preference that asks the assistant to drop a
        principle of the policy is stored but never composed: the returned memory has status ``blocked``,
        ``blocked_by`` names the principle and ``status_reason`` says why.
        """
        scope = self._scope(user_id, "remember")
        body = check_text(normalize(check_text(text)), "text (once invisible characters are removed)")
        body, _ = self.privacy.text(body)
        try:
            kind = MemoryKind(kind)
            source = MemorySource(source)
        except ValueError as exc:
            raise InvalidInputError(
                f"{exc}: kind is one of {[k.value for k in MemoryKind]}, source one of {[s.value for s in MemorySource]}."
            ) from None
        if not 0.0 <= confidence <= 1.0:
            raise InvalidInputError(f"confidence must be between 0 and 1, got {confidence}.")
        violation = self.policy.violation(body)
        if violation is not None:
            raise PolicyViolationError(violation)
        vector = self.embedder.embed([body])
        understood = self.understander.understand(
            [body], vector, embedder_name=self.embedder.name, force_preference=kind is not MemoryKind.EPISODE
        )[0]
        if not understood.instruction:
            understood = self._hidden_instructions(scope, [body]).get(body, understood)
        if understood.instruction:
            raise PolicyViolationError(
                f"instruction-like text: {understood.reason}. Store what the user wants, not commands to the model."
            )
        now = utcnow()
        memory = self._with_understanding(
            Memory(
                id=memory_id_for(scope, kind, body),
                tenant=scope.tenant,
                user_id=scope.user_id,
                text=body,
                kind=kind,
                source=source,
                confidence=confidence,
                origin=origin,
                created_at=now,
                updated_at=now,
            ),
            understood,
        )
        existing = self.store.get(scope, [memory.id])
        if existing:  # said again: a new saying of the stored memory, reconciled afresh
            memory = self._merge(memory, existing[0])
        written = self._reconcile(scope, [(memory, vector[0])])
        self._write(written)
        logger.info("remembered a %s for a user (%s)", kind.value, "refreshed" if existing else "new")
        return next(m for m, _ in written if m.id == memory.id)

    def _with_understanding(self, memory: Memory, understood: Understanding) -> Memory:
        """The memory with what was understood of it; a preference the policy forbids becomes blocked."""
        update: dict[str, Any] = {"understanding": understood}
        if memory.kind is MemoryKind.FACT:
            update.update(subject=understood.subject)
        elif memory.kind is not MemoryKind.EPISODE:
            update.update(applies=understood.applies, subject=understood.subject, stance=understood.stance)
            principle = self.policy.principle(understood.conflict)
            if principle is not None and memory.status is MemoryStatus.ACTIVE:
                update.update(
                    status=MemoryStatus.BLOCKED,
                    blocked_by=principle,
                    status_reason=f"asks the assistant to drop {principle} ({understood.reason})",
                )
        return memory.model_copy(update=update)

    def ingest(
        self,
        user_id: str,
        messages: Sequence[dict[str, Any]],
        *,
        origin: str | None = None,
        include_assistant: bool = False,
        at: datetime | None = None,
        since: int = 0,
    ) -> IngestReport:
        """Store a chat history (OpenAI format): the preferences users state, and their turns as episodes.

        User turns are read by the understanding layer (their first and last sentences, for turns its screen
        lets through; see ``extract.READ_FIRST``): preferences become memories of their own
        (always-on or topical, with subject and stance), and the turn is kept whole as an episode when it
        says anything else. Messages may carry ``created_at`` (ISO 8601 or Unix seconds); otherwise ``at``
        (default now) is used. Everything is validated before anything is written. Instruction-like text is
        quarantined (stored for audit, never composed); a preference asking to drop a principle of the
        policy is blocked; a preference that changes or restates an older one supersedes it.

        ``since`` stores only the messages from that index on; the ones before are read only as the context a
        reply answers (``capture`` uses it to store just what a resent conversation adds).
        """
        scope = self._scope(user_id, "ingest")
        checked = validate_messages(messages)
        if since < 0:
            raise InvalidInputError(f"since must be a message index (0 or more), got {since}.")
        default_time = at or utcnow()
        times = [_message_time(m, i, default_time) for i, m in enumerate(checked)]
        read = [t for t in turns(checked, include_assistant=include_assistant) if t.message_index >= since]
        found, redacted = self.privacy.turns(read)
        report = IngestReport(redacted=redacted)
        new: dict[str, tuple[Memory, Matrix]] = {}
        resaid: set[str] = set()
        # Embedding and understanding (CPU-bound) of one chunk overlaps the store write of the previous one.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="palign-write") as writer:
            pending: Future[None] | None = None
            for start in range(0, len(found), _INGEST_CHUNK):
                chunk = self._memories_of(scope, found[start : start + _INGEST_CHUNK], times, origin)
                known = {m.id: m for m in self.store.get(scope, list(dict.fromkeys(m.id for m, _ in chunk)))}
                first: dict[str, tuple[Memory, Matrix]] = {}
                for memory, vector in chunk:  # a text said twice is one memory, as new as its latest saying
                    home = first if memory.id in first or memory.id not in new else new
                    earlier = home.get(memory.id)
                    if earlier is None:
                        first[memory.id] = (self._merge(memory, known.get(memory.id)), vector)
                    elif memory.updated_at > earlier[0].updated_at:
                        home[memory.id] = (earlier[0].model_copy(update={"updated_at": memory.updated_at}), vector)
                        if home is new:  # already written with an earlier chunk: write it again
                            resaid.add(memory.id)
                batch = list(first.values())
                for memory, vector in batch:
                    new[memory.id] = (memory, vector)
                    report.memory_ids.append(memory.id)
                    if memory.id in known:
                        report.refreshed += 1
                    else:
                        report.added += 1
                if pending is not None:
                    pending.result()
                if batch:
                    pending = writer.submit(self._write, batch)
            if pending is not None:
                pending.result()
        # Changes of mind: written again only for the memories whose status changed (or said again later).
        changed = self._reconcile(scope, list(new.values()), only_changed=True)
        rewritten = {m.id for m, _ in changed}
        self._write(changed + [new[i] for i in resaid if i not in rewritten])
        for memory, _ in changed:
            if memory.id in new:
                new[memory.id] = (memory, new[memory.id][1])
        for memory, _ in new.values():
            if memory.status is MemoryStatus.QUARANTINED:
                report.quarantined += 1
            elif memory.status is MemoryStatus.BLOCKED:
                report.blocked += 1
            elif memory.kind is MemoryKind.EPISODE:
                report.episodes += 1
            elif memory.kind is MemoryKind.FACT:
                report.facts += 1
            else:
                report.preferences += 1
        report.superseded = sum(1 for m, _ in changed if m.status is MemoryStatus.SUPERSEDED)
        logger.info(
            "ingested %d messages for a user: %d new, %d refreshed, %d quarantined, %d blocked, %d superseded",
            len(checked),
            report.added,
            report.refreshed,
            report.quarantined,
            report.blocked,
            report.superseded,
        )
        return report

    def capture(self, user_id: str, messages: Sequence[dict[str, Any]], *, origin: str | None = None) -> IngestReport:
        """Store what a chat request adds to its conversation, once its answer arrived: the user turns after the
        request's last assistant message (``capture.new_turns_start``).

        Clients resend the whole history with every request; only its new turns are stored, so older memories
        keep their times and a memory the user deleted does not come back. What the proxy and ``wrap()`` run.
        """
        return self.ingest(user_id, messages, origin=origin, since=new_turns_start(messages))

    def _memories_of(
        self, scope: Scope, chunk: Sequence[Turn], times: Sequence[datetime], origin: str | None
    ) -> list[tuple[Memory, Matrix]]:
        """Understand the sentences of these turns and make their memories, each with its vector."""
        passed = self.understander.screen([" ".join(turn.sentences) for turn in chunk])
        said = [(t, s) for t, turn in enumerate(chunk) if passed[t] for s in turn.sentences]
        unique = list(dict.fromkeys(s for _, s in said))
        vectors: dict[str, Matrix] = {}
        understood: dict[tuple[int, str], Understanding] = {}
        # a decoded form of a sentence read, or of anything else in the turn, may be an instruction: one pass
        # over both (a one-sentence turn is its own sentence)
        hidden = self._hidden_instructions(scope, [*unique, *(turn.text for turn in chunk)])
        if unique:
            vectors.update(zip(unique, self.embedder.embed(unique)))
            judged = self.understander.understand(
                [s for _, s in said],
                np.stack([vectors[s] for _, s in said]),
                embedder_name=self.embedder.name,
                user=scope.key,
                turns=[t for t, _ in said],
            )
            understood.update(zip(said, judged))
            for t, sentence in said:
                if sentence in hidden:
                    understood[(t, sentence)] = hidden[sentence]
        out: list[tuple[Memory, Matrix | None]] = []
        for t, turn in enumerate(chunk):
            when = times[turn.message_index]
            read = {s: understood[(t, s)] for s in turn.sentences if (t, s) in understood}
            preferences = [s for s in read if read[s].preference]
            instruction = next((u for u in read.values() if u.instruction), hidden.get(turn.text))
            # facts about the user are kept as memories of their own (one can replace a preference it
            # overturns), unless the turn also carries instruction-like text
            facts = [s for s in read if read[s].fact and not read[s].preference] if instruction is None else []
            blocked: Memory | None = None
            for sentence in dict.fromkeys(preferences + facts):
                kind = MemoryKind.PREFERENCE if read[sentence].preference else MemoryKind.FACT
                memory = self._memory(scope, turn, sentence, kind, when, origin)
                violation = self.policy.violation(sentence)
                if violation is not None:  # kept for audit, never composed, replaces nothing
                    memory = memory.model_copy(
                        update={"status": MemoryStatus.QUARANTINED, "quarantine_reason": violation}
                    )
                memory = self._with_understanding(memory, read[sentence])
                if memory.status is MemoryStatus.BLOCKED:
                    blocked = memory
                out.append((memory, vectors[sentence]))
            # The turn is kept whole when it says more than its preferences, or answers the assistant
            # ("the first one sounds good" means little without what was offered).
            kept = len(preferences) + len(facts)
            if turn.role != "user" or kept < turn.sentence_count or turn.context is not None:
                episode = self._memory(scope, turn, turn.text, MemoryKind.EPISODE, when, origin)
                violation = self.policy.violation(turn.text)
                if violation is None and turn.context is not None:  # the assistant words it answers are shown too
                    violation = self.policy.violation(turn.context)
                if violation is None and instruction is not None:
                    violation = instruction.reason
                if violation is not None:
                    episode = episode.model_copy(
                        update={"status": MemoryStatus.QUARANTINED, "quarantine_reason": violation}
                    )
                if instruction is not None:
                    episode = episode.model_copy(update={"understanding": instruction})
                if blocked is not None and episode.status is MemoryStatus.ACTIVE:  # its words must not leak back in
                    episode = episode.model_copy(
                        update={
                            "status": MemoryStatus.BLOCKED,
                            "blocked_by": blocked.blocked_by,
                            "status_reason": f"holds {blocked.id}, which asks the assistant to drop {blocked.blocked_by}",
                        }
                    )
                out.append((episode, vectors.get(episode.search_text)))
        missing = list(dict.fromkeys(m.search_text for m, v in out if v is None))
        if missing:
            vectors.update(zip(missing, self.embedder.embed(missing)))
        return [(m, v if v is not None else vectors[m.search_text]) for m, v in out]

    def _hidden_instructions(self, scope: Scope, sentences: Sequence[str]) -> dict[str, Understanding]:
        """The sentences whose decoded or look-alike forms (``normalize.detection_views``: base64, URL-encoded or
        hex spans, Cyrillic look-alike letters) read as instruction-like, with that reading."""
        views = {s: detection_views(s)[1:] for s in dict.fromkeys(sentences)}
        hidden = [(s, v) for s, vs in views.items() for v in vs]
        if not hidden:
            return {}
        texts = [v for _, v in hidden]
        judged = self.understander.understand(
            texts, self.embedder.embed(texts), embedder_name=self.embedder.name, user=scope.key
        )
        found: dict[str, Understanding] = {}
        for (sentence, _), reading in zip(hidden, judged):
            if reading.instruction and sentence not in found:
                found[sentence] = reading
        return found

    @staticmethod
    def _memory(scope: Scope, turn: Turn, text: str, kind: MemoryKind, when: datetime, origin: str | None) -> Memory:
        context = turn.context if kind is MemoryKind.EPISODE else None
        return Memory(
            id=memory_id_for(scope, kind, text if context is None else f"{context}\x1f{text}"),
            tenant=scope.tenant,
            user_id=scope.user_id,
            text=text,
            kind=kind,
            source=MemorySource.EXTRACTED,
            role=turn.role,
            origin=origin,
            message_index=turn.message_index,
            context=context,
            created_at=when,
            updated_at=when,
        )

    @staticmethod
    def _merge(new: Memory, old: Memory | None) -> Memory:
        """A memory written again: the stored one with its first time and provenance, as new as its latest
        saying, and read afresh. A superseded preference said again is active again until reconciling says
        otherwise (re-ingesting the same history supersedes it again)."""
        if old is None:
            return new
        if old.kind is not new.kind:  # a turn that became a preference by replacing one, said again
            return old.model_copy(update={"updated_at": max(old.updated_at, new.updated_at)})
        return old.model_copy(
            update={
                "updated_at": max(old.updated_at, new.updated_at),
                "status": new.status,
                "quarantine_reason": new.quarantine_reason,
                "status_reason": new.status_reason,
                "blocked_by": new.blocked_by,
                "superseded_by": None,
                "understanding": new.understanding,
                "applies": new.applies,
                "subject": new.subject,
                "stance": new.stance,
            }
        )

    def _write(self, batch: Sequence[tuple[Memory, Matrix]]) -> None:
        if batch:
            self.store.upsert([m for m, _ in batch], np.stack([v for _, v in batch]).astype(np.float32))

    def _stored_preferences(self, scope: Scope) -> list[tuple[Memory, Matrix]]:
        """Every stored preference and fact of ``scope`` with its vector."""
        probe = np.zeros(self.embedder.dimension or 1, dtype=np.float32)
        hits = self.store.recall(scope, probe, k=0).hits
        prefs = [h for h in hits if h.memory.kind is not MemoryKind.EPISODE]
        without = [h.memory.text for h in prefs if h.vector is None]
        fresh = iter(self.embedder.embed(without)) if without else iter(())
        return [(h.memory, h.vector if h.vector is not None else next(fresh)) for h in prefs]

    def _reconcile(
        self, scope: Scope, new: Sequence[tuple[Memory, Matrix]], *, only_changed: bool = False
    ) -> list[tuple[Memory, Matrix]]:
        """Apply changes of mind between ``new`` memories and the stored preferences of ``scope``.

        Returns the memories to write: every one of ``new`` (or, with ``only_changed``, only those whose
        status changed) and the stored ones that a new one superseded."""
        # a turn that also gave a preference or a fact speaks through those: its episode replaces nothing
        stated = {(m.created_at, m.message_index) for m, _ in new if m.kind is not MemoryKind.EPISODE}
        candidates = [
            (m, v)
            for m, v in new
            if may_replace_others(m)
            and not (m.kind is MemoryKind.EPISODE and (m.created_at, m.message_index) in stated)
        ]
        result = {m.id: (m, v) for m, v in new} if not only_changed else {}
        if not candidates:
            return list(result.values())
        new_ids = {m.id for m, _ in new}
        # only what may be replaced (preferences and facts, see reconcile) is read against the new ones
        stored = [(m, v) for m, v in self._stored_preferences(scope) if m.id not in new_ids and replaceable(m)]
        local = self.understander.local
        related_new, related_stored = candidates, stored
        if self.embedder.name != local.embedder_name:  # the relation head reads its own embedder's vectors
            related_new = self._local_vectors(candidates)
            related_stored = self._local_vectors(stored)
        found = replacements(related_new, related_stored, local, threshold=local.threshold("supersede", 0.7))
        everything = {m.id: (m, v) for m, v in [*new, *stored]}
        # a turn that replaces a preference becomes one: read it as one first, and a turn that would ask the
        # assistant to drop a value replaces nothing (it stays an episode)
        turns_in = [r for r in found if everything[r.newer][0].kind is MemoryKind.EPISODE]
        readings = local.understand(
            [everything[r.newer][0].text for r in turns_in],
            np.stack([everything[r.newer][1] for r in turns_in]) if turns_in else None,
            embedder_name=self.embedder.name,  # their vectors are reused when they are the heads' embedder's
            force_preference=True,
        )
        as_preference = dict(zip((r.newer for r in turns_in), readings))
        for replacement in found:
            reading = as_preference.get(replacement.newer)
            if reading is not None and self.policy.principle(reading.conflict) is not None:
                continue
            self._apply(replacement, everything, result, reading)
        return list(result.values())

    def _local_vectors(self, memories: Sequence[tuple[Memory, Matrix]]) -> list[tuple[Memory, Matrix]]:
        if not memories:
            return []
        texts = [m.text for m, _ in memories]
        vectors = self.understander.local.vectors_for(texts, None, None)
        return [(m, v) for (m, _), v in zip(memories, vectors)]

    @staticmethod
    def _apply(
        replacement: Replacement,
        everything: dict[str, tuple[Memory, Matrix]],
        result: dict[str, tuple[Memory, Matrix]],
        reading: Understanding | None = None,
    ) -> None:
        """Mark the older memory superseded by the newer; a turn kept whole (``reading``: it read as a preference)
        becomes the preference on the older one's subject and scope."""
        older, older_vector = everything[replacement.older]
        newer, newer_vector = everything[replacement.newer]
        older = older.model_copy(
            update={
                "status": MemoryStatus.SUPERSEDED,
                "superseded_by": newer.id,
                "status_reason": replacement.describe(),
            }
        )
        update: dict[str, Any] = {"supersedes": older.id}
        if older.kind is MemoryKind.PREFERENCE and newer.kind is MemoryKind.EPISODE and reading is not None:
            # what replaces a preference is the user's wish on that subject now ("Cancelled the gym, climbing is
            # my new obsession" after "Gym rat here"): it is composed where the older one would have been
            confidence = {k: v for k, v in reading.confidence.items() if k in ("instruction", "stance", "conflict")}
            update.update(
                kind=MemoryKind.PREFERENCE,
                applies=older.applies,
                subject=older.subject,
                stance=reading.stance,
                understanding=reading.model_copy(
                    update={"applies": older.applies, "subject": older.subject, "confidence": confidence}
                ),
                status_reason=f"read as a preference because it replaces {older.id}: {replacement.how}",
            )
        newer = newer.model_copy(update=update)
        everything[older.id] = result[older.id] = (older, older_vector)
        everything[newer.id] = result[newer.id] = (newer, newer_vector)

    # -- reading ------------------------------------------------------------------------------
    def compose(
        self, user_id: str, messages: Sequence[dict[str, Any]], *, memory_budget: int | None = None
    ) -> ComposedPrompt:
        """Build the personalized messages for the latest user turn, with a trace of every decision."""
        scope = self._scope(user_id, "compose")
        checked = validate_messages(messages, require_user_turn=True)
        if memory_budget is not None and memory_budget <= 0:
            raise InvalidInputError(f"memory_budget must be a positive number of tokens, got {memory_budget}.")
        config = self.selection
        if memory_budget is not None:
            config = dataclasses.replace(config, memory_budget=memory_budget)
        query, cue = _query(checked)
        query = self.privacy.scrub(query)
        timings: dict[str, float] = {}
        started = time.perf_counter()
        candidates = self._candidates(scope, query, cue, max(config.max_episodes * 3, 10), timings)
        mark = time.perf_counter()
        marker = self.composer.marker_for(candidates)
        used = select(
            candidates,
            config,
            cost=self.composer.line_cost,
            section_overhead=lambda tier: self.composer.section_overhead(tier, marker),
        )
        rendered = self.composer.render(self.policy, used, Composer.app_prompt(checked), marker=marker)
        timings["compose"] = (time.perf_counter() - mark) * 1000
        timings["total"] = (time.perf_counter() - started) * 1000
        trace = Trace(
            tenant=scope.tenant,
            user_id=scope.user_id,
            query=query,
            time_cue=cue.describe() if cue is not None else None,
            policy_id=self.policy.id,
            policy_hash=self.policy.hash,
            data_marker=rendered.marker,
            embedder=self.embedder.name,
            tokenizer=self.composer.counter.name,
            memory_budget=config.memory_budget,
            candidates=candidates,
            tokens=rendered.tokens,
            timings_ms={k: round(v, 3) for k, v in timings.items()},
        )
        out = [{"role": "system", "content": rendered.text}]
        # Timestamps are for palign-rag; OpenAI-style APIs reject unknown message fields.
        out.extend(
            {key: value for key, value in m.items() if key not in _TIME_FIELDS}
            for m in checked
            if m["role"] not in ("system", "developer")
        )
        return ComposedPrompt(messages=out, system_prompt=rendered.text, trace=trace)

    def retrieve(self, user_id: str, messages: Sequence[dict[str, Any]], *, k: int = 10) -> list[Candidate]:
        """The ``k`` memories most relevant to the latest user turn, best first, before any budget.

        This is the ranking ``compose`` selects from, across tiers; memories the policy blocks, quarantined,
        inactive or superseded ones, and topical preferences the question does not touch are left out.
        """
        scope = self._scope(user_id, "retrieve")
        checked = validate_messages(messages, require_user_turn=True)
        if k <= 0:
            raise InvalidInputError(f"k must be a positive number of memories, got {k}.")
        candidates = self._candidates(scope, *_query(checked), k, {})
        # what ``rank`` set aside never reaches a prompt: blocked, quarantined, superseded, inactive, and topical
        # preferences the question does not touch
        usable = [c for c in candidates if not c.reason]
        usable.sort(key=lambda c: (-c.score, c.memory.id))
        return usable[:k]

    def _candidates(
        self, scope: Scope, query: str, cue: TimeCue | None, k: int, timings: dict[str, float]
    ) -> list[Candidate]:
        mark = time.perf_counter()
        vector = self.embedder.embed([query])[0]
        timings["embed"] = (time.perf_counter() - mark) * 1000
        mark = time.perf_counter()
        recalled = self.store.recall(scope, vector, k=k, text=query, when=cue)
        timings["retrieve"] = (time.perf_counter() - mark) * 1000
        # a topical preference, and a fact on a subject, is relevant when the question is on its subject
        on_subjects = any(
            h.memory.applies == "topical" or (h.memory.kind is MemoryKind.FACT and h.memory.subject is not None)
            for h in recalled.hits
        )
        subjects = self._query_subjects(query, vector) if on_subjects else None
        return rank(recalled.hits, policy=self.policy, now=utcnow(), config=self.selection, query_subjects=subjects)

    def _query_subjects(self, query: str, vector: Matrix) -> dict[str, float]:
        """How likely the question is about each subject, read by the understanding layer's subject head."""
        local = self.understander.local
        vectors = local.vectors_for([query], vector.reshape(1, -1), self.embedder.name)
        proba = local.subject_proba(vectors, [query])[0]
        return {name: float(p) for name, p in zip(SUBJECTS, proba)}

    def chat(self, user_id: str, messages: Sequence[dict[str, Any]], **kwargs: Any) -> ChatResult:
        """Compose, forward to the backend, and return its reply with the trace."""
        composed = self.compose(user_id, messages)
        completion = self.backend.complete(composed.messages, **kwargs)
        return self._result(composed, completion)

    @staticmethod
    def _result(composed: ComposedPrompt, completion: Any) -> ChatResult:
        return ChatResult(
            content=completion.content,
            model=completion.model,
            trace_id=composed.trace.id,
            trace=composed.trace,
            prompt_tokens=completion.prompt_tokens,
            completion_tokens=completion.completion_tokens,
        )

    def memories(self, user_id: str) -> list[Memory]:
        """Every memory of ``user_id``, oldest first (quarantined and superseded ones included)."""
        return self.store.list_all(self._scope(user_id, "memories"))

    def forget(self, user_id: str, memory_id: str | None = None) -> int:
        """Delete one memory of ``user_id`` (or all of them); return how many were deleted.

        A preference or fact that the forgotten one had superseded becomes active again."""
        scope = self._scope(user_id, "forget")
        if memory_id is None:
            return self.store.delete(scope)
        check_text(memory_id, "memory_id")
        stored = self._stored_preferences(scope)
        gone = next((m for m, _ in stored if m.id == memory_id), None)
        successor = gone.superseded_by if gone is not None and gone.status is MemoryStatus.SUPERSEDED else None
        restored = []
        for m, v in stored:
            if m.superseded_by != memory_id or m.status is not MemoryStatus.SUPERSEDED:
                continue
            if successor is not None:  # A -> B -> C and B is forgotten: A stays replaced, now by C
                update: dict[str, Any] = {"superseded_by": successor}
            else:
                update = {"status": MemoryStatus.ACTIVE, "superseded_by": None, "status_reason": None}
            restored.append((m.model_copy(update=update), v))
        removed = self.store.delete(scope, [memory_id])
        if removed == 0:
            raise InvalidInputError(
                f"User {user_id!r} has no memory {memory_id!r}: list them with memories() or `palign memories --user ...`."
            )
        self._write(restored)
        return removed

    # -- async twins --------------------------------------------------------------------------
    async def aremember(self, user_id: str, text: str, **kwargs: Any) -> Memory:
        """Async ``remember``."""
        return await asyncio.to_thread(self.remember, user_id, text, **kwargs)

    async def aingest(self, user_id: str, messages: Sequence[dict[str, Any]], **kwargs: Any) -> IngestReport:
        """Async ``ingest``."""
        return await asyncio.to_thread(self.ingest, user_id, messages, **kwargs)

    async def acapture(
        self, user_id: str, messages: Sequence[dict[str, Any]], *, origin: str | None = None
    ) -> IngestReport:
        """Async ``capture``."""
        return await asyncio.to_thread(self.capture, user_id, messages, origin=origin)

    async def acompose(
        self, user_id: str, messages: Sequence[dict[str, Any]], *, memory_budget: int | None = None
    ) -> ComposedPrompt:
        """Async ``compose``."""
        return await asyncio.to_thread(self.compose, user_id, messages, memory_budget=memory_budget)

    async def achat(self, user_id: str, messages: Sequence[dict[str, Any]], **kwargs: Any) -> ChatResult:
        """Async ``chat``: the backend call itself is awaited natively."""
        composed = await self.acompose(user_id, messages)
        completion = await self.backend.acomplete(composed.messages, **kwargs)
        return self._result(composed, completion)

    async def amemories(self, user_id: str) -> list[Memory]:
        """Async ``memories``."""
        return await asyncio.to_thread(self.memories, user_id)

    async def aforget(self, user_id: str, memory_id: str | None = None) -> int:
        """Async ``forget``."""
        return await asyncio.to_thread(self.forget, user_id, memory_id)
