"""Scoring and selection of memories for one prompt: pure functions, no I/O.

``rank`` turns what the store returned into scored ``Candidate`` objects; ``select`` decides which
fit the token budget, highest tier first (explicit preferences, then inferred ones, then episodes).
Within a tier, always-on preferences (how to answer) come first and reach every prompt the budget allows;
a topical preference reaches the prompt only when the question touches its subject: the question is close
to it in meaning, or the understanding layer reads the question as being about the preference's subject.
Every decision is written on the candidate, so the trace shows why each memory was used or not.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from .errors import InvalidInputError
from .policy import Policy
from .store.base import Hit
from .types import Candidate, MemoryKind, MemoryStatus, Tier

__all__ = ["SelectionConfig", "rank", "select"]

_WORD = re.compile(r"\w+")
_TIER_ORDER = {Tier.EXPLICIT: 0, Tier.INFERRED: 1, Tier.EPISODE: 2}
_RECENCY_HALF_LIFE_DAYS = 90.0
_RECENCY_WEIGHT = 0.01
_FEEDBACK_WEIGHT = 0.1
RRF_K = 10
"""Reciprocal rank fusion constant. Measured on LoCoMo dev (each half of the conversations checked against
the other) and a PrefEval slice: k = 5 to 10 beat the customary 60 at every cut-off, and ranking
preferences on cosine alone lifted PrefEval hit@5 (T = 100) from 0.65 to 0.95 at equal LoCoMo recall."""
TIME_CUE_WEIGHT = 1.0
"""How much a memory that fits the query's time cue ("in June 2023", "last week") is raised: relevance is
multiplied by ``1 + TIME_CUE_WEIGHT * match`` for every kind, so memories that all fit equally keep their
order. Measured on LoCoMo dev: 0.25 to 2.0 all lift recall@5 on each half of the conversations (0.563 to
0.587 overall at 1.0, before superseding); 1.0 was best on the first half."""
TOPICAL_SIMILARITY = 0.29
TOPICAL_SUBJECT = 0.08
"""When a topical preference (or a fact) counts as relevant to a question: cosine at least
``TOPICAL_SIMILARITY``, or the subject head gives the question's being about the memory's subject at least
``TOPICAL_SUBJECT`` (a question often touches several subjects: "plan a trip with good food" is travel first,
food second). Chosen by ``training/train_understanding.py`` (``choose_topical``) on the project's training
corpus, with subject probabilities predicted for each writer by heads trained on the others: every
question-like text (3,680) against every topical preference of other writers (3,169), related when both carry
the same subject label; the pair lets through the most related pairs (0.901) with at most 5% of the unrelated
ones (0.049). Benchmark data played no part."""
LEXICAL_RESCUE_RANK = 3
"""An episode below the similarity floor is still used when it is among this many best word matches."""


@dataclass(frozen=True)
class SelectionConfig:
    """Knobs of selection."""

    memory_budget: int = 600
    """Tokens the preference and memory sections may take, headers included."""
    max_episodes: int = 8
    min_episode_similarity: float = 0.25
    topical_similarity: float = TOPICAL_SIMILARITY
    """A topical preference at least this similar to the question (cosine) is relevant to it."""
    topical_subject: float = TOPICAL_SUBJECT
    """A topical preference is also relevant when the question is read as about its subject with at least this
    probability."""
    always_on_share: float = 0.5
    """The share of ``memory_budget`` always-on preferences may take (they come first); the rest is left for
    the topical preferences and episodes that fit the question, so a user with many always-on preferences
    (or text misread as such) never crowds the relevant ones out."""
    duplicate_overlap: float = 0.8
    """An episode sharing this share of its words (Jaccard) with one already in the prompt is left out."""

    def __post_init__(self) -> None:
        if self.memory_budget <= 0 or self.max_episodes < 0:
            raise InvalidInputError(
                f"SelectionConfig needs memory_budget > 0 and max_episodes >= 0, got {self.memory_budget} and "
                f"{self.max_episodes}."
            )
        if not 0.0 < self.always_on_share <= 1.0:
            raise InvalidInputError(
                f"SelectionConfig.always_on_share is a share of the budget in (0, 1], got {self.always_on_share}."
            )
        for name in ("min_episode_similarity", "topical_similarity", "topical_subject", "duplicate_overlap"):
            value = getattr(self, name)
            if not -1.0 <= value <= 1.01:
                raise InvalidInputError(
                    f"SelectionConfig.{name} is a similarity between -1 and 1 (above 1 turns it off), got {value}."
                )


def _score(hit: Hit, now: datetime) -> float:
    """Relevance, then adjustments for confidence, feedback weight and recency.

    Relevance is reciprocal rank fusion over the signals that apply to the memory's kind, averaged and
    scaled so that rank 0 on every signal gives 1.0: remembered context (episodes and facts) uses the
    cosine rank and the BM25 rank; preferences, short statements whose words rarely repeat the question's,
    the cosine rank alone. Averaging keeps both kinds on one scale, so ``retrieve`` can rank them together.
    """
    memory = hit.memory
    parts = [1.0 / (RRF_K + hit.dense_rank + 1)]
    if memory.tier is Tier.EPISODE:
        parts.append(1.0 / (RRF_K + hit.lexical_rank + 1) if hit.lexical_rank is not None else 0.0)
    relevance = (RRF_K + 1) * sum(parts) / len(parts)
    if hit.temporal is not None:
        relevance *= 1.0 + TIME_CUE_WEIGHT * hit.temporal
    age_days = max((now - memory.updated_at).total_seconds(), 0.0) / 86400.0
    recency = math.exp(-math.log(2) * age_days / _RECENCY_HALF_LIFE_DAYS)
    return relevance * memory.confidence + _RECENCY_WEIGHT * recency + _FEEDBACK_WEIGHT * (memory.weight - 1.0)


def rank(
    hits: Sequence[Hit],
    *,
    policy: Policy,
    now: datetime,
    config: SelectionConfig | None = None,
    query_subjects: Mapping[str, float] | None = None,
) -> list[Candidate]:
    """Score every candidate; those that may not or need not reach the prompt get their decision and reason
    here (quarantined, blocked, superseded, inactive, or a topical preference the question does not touch)
    and are never selected. ``query_subjects`` is the probability of each subject for the question.

    Returned in selection order: by tier (explicit, inferred, episode), always-on before topical, then by score.
    """
    config = config or SelectionConfig()
    candidates: list[Candidate] = []
    for hit in hits:
        memory = hit.memory
        candidate = Candidate(
            memory=memory,
            dense=hit.dense,
            dense_rank=hit.dense_rank,
            lexical=hit.lexical,
            lexical_rank=hit.lexical_rank,
            temporal=hit.temporal,
            score=_score(hit, now),
        )
        if memory.kind is not MemoryKind.EPISODE and memory.subject is not None and query_subjects is not None:
            candidate.on_subject = round(query_subjects.get(memory.subject, 0.0), 4)
        candidates.append(candidate)
    _inherit_subjects(candidates, config)
    for candidate in candidates:
        _exclude(candidate, policy, config)
    candidates.sort(key=lambda c: (_TIER_ORDER[c.memory.tier], c.memory.applies != "always", -c.score, c.memory.id))
    for position, candidate in enumerate(candidates, start=1):
        candidate.rank = position
    return candidates


def _exclude(candidate: Candidate, policy: Policy, config: SelectionConfig) -> None:
    """Set the decision and reason of a candidate that must not or need not be selected."""
    memory = candidate.memory
    status = memory.status
    if status is MemoryStatus.SUPERSEDED:
        candidate.decision, candidate.reason = (
            "superseded",
            memory.status_reason or f"superseded by {memory.superseded_by}",
        )
        return
    if status is MemoryStatus.QUARANTINED:
        candidate.decision, candidate.reason = (
            "quarantined",
            f"quarantined: {memory.quarantine_reason or 'by the gate'}",
        )
        return
    if status is MemoryStatus.BLOCKED and _still_blocked(memory.blocked_by, policy):
        candidate.decision, candidate.reason = "blocked", memory.status_reason or f"blocked by {memory.blocked_by}"
        return
    if status not in (MemoryStatus.ACTIVE, MemoryStatus.BLOCKED):
        candidate.decision, candidate.reason = "inactive", status.value
        return
    violation = policy.violation(memory.text)
    if violation is None and memory.context:  # an episode is shown with the assistant words it answered
        violation = policy.violation(memory.context)
    if violation is not None:
        candidate.decision, candidate.reason = "blocked", f"blocked by policy {policy.id}: {violation}"
        return
    understood = memory.understanding
    principle = (
        policy.principle(understood.conflict) if understood is not None and memory.tier is not Tier.EPISODE else None
    )
    if principle is not None:  # the policy in force now holds the value this preference asks to drop
        candidate.decision, candidate.reason = "blocked", f"asks the assistant to drop {principle}"
        return
    if memory.tier is Tier.EPISODE or memory.applies != "topical":
        return
    if _touches(candidate, config):
        return
    on_subject = candidate.on_subject or 0.0
    candidate.decision = "dropped_relevance"
    candidate.reason = (
        f"topical ({memory.subject}) and the question does not touch it: similarity {candidate.dense:.3f} "
        f"< {config.topical_similarity}, question on {memory.subject} {on_subject:.2f} < {config.topical_subject}"
    )


def _still_blocked(blocked_by: str | None, policy: Policy) -> bool:
    """A memory blocked for asking to drop a value stays blocked while the policy in force holds that value;
    a policy that no longer holds it (``principles``) lets it be used. Blocked for no named value: stays."""
    if not blocked_by:
        return True
    return blocked_by.rpartition("/")[2] in policy.principles


def _touches(candidate: Candidate, config: SelectionConfig) -> bool:
    """Whether the question touches a topical preference's or a fact's subject: close in meaning, read as
    being on that subject, or touching the subject of a memory this one replaced."""
    return (
        candidate.dense >= config.topical_similarity
        or (candidate.on_subject or 0.0) >= config.topical_subject
        or candidate.touched_via is not None
    )


def _inherit_subjects(candidates: Sequence[Candidate], config: SelectionConfig) -> None:
    """A memory that replaced another is on the older one's subject, so a question that touches the older one
    touches it too ("uber everywhere" replaced by "public transport only": a question about getting from the
    airport is close to the first and barely to the second). Followed down chains of replacements."""
    by_id = {c.memory.id: c for c in candidates}
    touched: dict[str, str] = {}
    for older in candidates:
        memory, first = older.memory, older.memory.superseded_by
        if memory.status is not MemoryStatus.SUPERSEDED or first is None or not _touches(older, config):
            continue
        successor = by_id.get(first)
        seen = {memory.id}
        while successor is not None and successor.memory.id not in seen:
            touched.setdefault(successor.memory.id, memory.id)
            seen.add(successor.memory.id)
            after = successor.memory.superseded_by
            successor = by_id.get(after) if after is not None else None
    for candidate in candidates:
        if candidate.memory.id in touched and not _touches(candidate, config):
            candidate.touched_via = touched[candidate.memory.id]


@functools.lru_cache(maxsize=4096)
def _words(text: str) -> frozenset[str]:
    return frozenset(_WORD.findall(text.lower()))


def _near_duplicate(episode: Candidate, used: Sequence[Candidate], threshold: float) -> Candidate | None:
    """A used episode that says nearly the same words as ``episode`` (Jaccard overlap at least ``threshold``)."""
    words = _words(episode.memory.text)
    if not words:
        return None
    for other in used:
        if other.memory.kind is not MemoryKind.EPISODE:
            continue
        theirs = _words(other.memory.text)
        if len(words & theirs) >= threshold * len(words | theirs):
            return other
    return None


def _covering(episode: Candidate, used: Sequence[Candidate]) -> list[Candidate]:
    """The used preferences and facts an episode mostly repeats (typically those taken from the same turn)."""
    if episode.memory.context:  # it also says what it answered, which no preference carries
        return []
    inside = [u for u in used if u.memory.kind is not MemoryKind.EPISODE and u.memory.text in episode.memory.text]
    rest = episode.memory.text
    for preference in inside:
        rest = rest.replace(preference.memory.text, " ")
    return inside if len(" ".join(rest.split())) < 0.5 * len(episode.memory.text) else []


def select(
    candidates: list[Candidate],
    config: SelectionConfig,
    *,
    cost: Callable[[Candidate], int],
    section_overhead: Callable[[Tier], int],
) -> list[Candidate]:
    """Mark candidates used or dropped under the budget; return the used ones in prompt order.

    ``cost`` is the token cost of a candidate's line; ``section_overhead`` the cost of the header
    of the section a tier renders into, paid once when the section gets its first line.
    """
    remaining = config.memory_budget
    always_cap = int(config.memory_budget * config.always_on_share)
    always_spent = 0
    opened: set[str] = set()
    episodes_taken = 0
    used: list[Candidate] = []
    for candidate in candidates:
        if candidate.reason:  # ``rank`` already decided it (blocked, superseded, topical and off-subject, ...)
            continue
        tier = candidate.memory.tier
        if tier is Tier.EPISODE:
            strong_lexical = candidate.lexical_rank is not None and candidate.lexical_rank < LEXICAL_RESCUE_RANK
            # a fact about the user is also relevant when the question is on its subject, as a topical
            # preference is ("lactose intolerant" for a question about café drinks)
            on_subject = candidate.memory.kind is MemoryKind.FACT and _touches(candidate, config)
            if candidate.dense < config.min_episode_similarity and not strong_lexical and not on_subject:
                candidate.decision = "dropped_relevance"
                candidate.reason = (
                    f"similarity {candidate.dense:.3f} below {config.min_episode_similarity} "
                    f"and not among the {LEXICAL_RESCUE_RANK} best word matches"
                    + (
                        f"; a fact on {candidate.memory.subject}, question on it {candidate.on_subject or 0.0:.2f}"
                        if candidate.memory.kind is MemoryKind.FACT
                        else ""
                    )
                )
                continue
            covering = _covering(candidate, used)
            if covering:
                candidate.decision = "dropped_duplicate"
                candidate.reason = "repeats " + ", ".join(c.memory.id for c in covering) + ", already in the prompt"
                continue
            twin = _near_duplicate(candidate, used, config.duplicate_overlap)
            if twin is not None:
                candidate.decision = "dropped_duplicate"
                candidate.reason = f"says nearly the same as {twin.memory.id}, already in the prompt"
                continue
            if episodes_taken >= config.max_episodes:
                candidate.decision = "dropped_relevance"
                candidate.reason = f"beyond the {config.max_episodes} most relevant episodes"
                continue
        section = "memories" if tier is Tier.EPISODE else "preferences"
        candidate.tokens = cost(candidate)
        needed = candidate.tokens + (0 if section in opened else section_overhead(tier))
        if needed > remaining:
            candidate.decision = "dropped_budget"
            candidate.reason = f"needs {needed} tokens, {remaining} left of {config.memory_budget}"
            continue
        always_on = tier is not Tier.EPISODE and candidate.memory.applies == "always"
        if always_on and always_spent + needed > always_cap:
            candidate.decision = "dropped_budget"
            candidate.reason = (
                f"always-on preferences may take {always_cap} of the {config.memory_budget} tokens; "
                f"{always_cap - always_spent} left, needs {needed}"
            )
            continue
        if always_on:
            always_spent += needed
        remaining -= needed
        opened.add(section)
        candidate.decision = "used"
        candidate.reason = f"{tier.value} tier, score {candidate.score:.3f}"
        if candidate.touched_via is not None:
            candidate.reason += f"; the question touches the subject of {candidate.touched_via}, which it replaced"
        if tier is Tier.EPISODE:
            episodes_taken += 1
        used.append(candidate)
    return used
