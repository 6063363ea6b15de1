"""``LocalUnderstander``: the shipped heads over the sentence embeddings ingest already computes.

Offline, on CPU, no model of its own when the store's embedder is the one the heads were trained over
(the bundled all-MiniLM-L6-v2): it reads the vectors ingest computed anyway. With another embedder it
embeds the texts once more with the bundled model (one extra pass, only for the sentences it reads).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, cast

import numpy as np

from .cross import PairReader
from .features import Matrix, always_share, hashed_words, pair_features, sentence_features, turn_vectors
from .heads import HeadSet
from .labels import ALWAYS_SUBJECTS, CONFLICTS, SUBJECTS, TOPIC_SUBJECTS, Applies, Relation, Stance, Understanding
from .sentence import CONFLICT_CLASSES, SentenceReader

if TYPE_CHECKING:
    from ..embed import Embedder

__all__ = ["SHORTLIST", "LocalUnderstander", "RelationJudgement"]

SHORTLIST = 16
"""How many (older, newer) pairs of one new memory the pair reader reads at most: the relation head's likeliest."""


@dataclass(frozen=True)
class RelationJudgement:
    """How a newer preference relates to an older one, with the head's confidence."""

    relation: Relation
    confidence: float
    supersedes: float
    """Probability that the newer replaces the older: ``change`` and ``restate`` together."""


class LocalUnderstander:
    """Decisions from the shipped classification heads (see ``training/LABELS.md`` for the labels).

    ``weights`` is a path to another trained ``.npz`` (its ``.json`` card beside it); ``embedder`` is the
    model the heads read when the caller's vectors come from another one (default: the bundled model).
    """

    source = "local"

    def __init__(
        self,
        weights: str | Path | None = None,
        *,
        embedder: Embedder | None = None,
        pair_reader: PairReader | str | Path | bool | None = None,
        sentence_reader: SentenceReader | str | Path | bool | None = True,
    ) -> None:
        self.heads = HeadSet.load(weights)
        self._embedder = embedder
        self._lock = threading.Lock()
        if pair_reader is True:
            pair_reader = PairReader()
        elif isinstance(pair_reader, (str, Path)):
            pair_reader = PairReader(pair_reader)
        self.pair_reader: PairReader | None = pair_reader or None
        """Reads (older, newer) pairs as a cross-encoder for ``relate`` (``pair_reader=True``: the shipped one);
        ``None`` (the default): the relation head alone. The reader finds more changes of mind and costs ingest
        time; the figures are in BENCHMARKS.md."""
        if sentence_reader is True:
            sentence_reader = SentenceReader()
        elif isinstance(sentence_reader, (str, Path)):
            sentence_reader = SentenceReader(sentence_reader)
        self.sentence_reader: SentenceReader | None = sentence_reader or None
        """Reads once more, as a fine-tuned MiniLM, each sentence the heads find possibly a preference or a fact
        (their card's ``gate``), and decides in one pass whether it is a preference (with the heads), a fact, and
        whether it asks to drop a value (``sentence_reader=True``, the default: the shipped one). Weights from
        before session 8 read only conflicts, of the sentences the heads took as preferences. ``None``: the heads
        alone. The figures are in BENCHMARKS.md."""

    @property
    def name(self) -> str:
        readers = [r.name for r in (self.sentence_reader, self.pair_reader) if r is not None]
        return f"local:{'+'.join([self.heads.name, *readers])}"

    @property
    def embedder_name(self) -> str:
        """The embedder whose vectors the heads read."""
        return self.heads.embedder

    def threshold(self, name: str, default: float = 0.5) -> float:
        """A decision threshold from the card (``preference``, ``turn``, ``screen``, ``instruction``, ``fact``,
        ``conflict``, ``supersede``, ``applies_subject_weight``), or ``default`` when the card has none.
        ``supersede`` is the pair reader's when there is one (it judges the relations), ``conflict`` the sentence
        reader's when there is one (it decides conflicts for preferences). With a sentence reader that reads
        preferences and facts, ``preference`` and ``fact`` here are still the heads' own, which then decide nothing:
        the reader's are in ``sentence_reader.thresholds``."""
        if name == "supersede" and self.pair_reader is not None:
            return self.pair_reader.thresholds.get(name, default)
        if name == "conflict" and self.sentence_reader is not None:
            return self.sentence_reader.thresholds.get(name, default)
        return self.heads.thresholds.get(name, default)

    def _own_vectors(self, texts: Sequence[str]) -> Matrix:
        with self._lock:
            if self._embedder is None:
                from ..embed import CachedEmbedder
                from ..onnx_embed import default_embedder

                # cached: with another store embedder, the same stored preferences are read on every write
                self._embedder = CachedEmbedder(default_embedder(), max_items=20_000)
            embedder = self._embedder
        if embedder.name != self.heads.embedder:
            from ..errors import InvalidInputError

            raise InvalidInputError(
                f"The understanding heads {self.heads.name} read {self.heads.embedder} vectors, but the "
                f"embedder given to LocalUnderstander is {embedder.name}: give it that model, or train heads "
                "for yours with training/train_understanding.py --embedder DIR."
            )
        return embedder.embed(list(texts))

    def vectors_for(self, texts: Sequence[str], vectors: Matrix | None, embedder_name: str | None) -> Matrix:
        """``vectors`` when they come from the heads' embedder, else the texts embedded with it."""
        if vectors is not None and embedder_name == self.heads.embedder:
            return np.asarray(vectors, dtype=np.float32)
        return self._own_vectors(texts)

    @property
    def local(self) -> LocalUnderstander:
        """Itself (the ``Understander`` protocol's heads for relations and questions)."""
        return self

    def screen(self, turn_texts: Sequence[str]) -> list[bool]:
        """For each turn (its readable sentences joined), whether it may state a preference or carry
        instruction-like text: a words-only head, no embedding, set to let through nearly every turn that
        does (see the card's ``screen`` threshold). Ingest embeds and reads only the sentences of turns that
        pass."""
        if "screen" not in self.heads.heads or not turn_texts:
            return [True] * len(turn_texts)
        p = self.heads["screen"].proba(hashed_words(turn_texts, self.heads.word_dim))[:, 1]
        return [bool(v >= self.threshold("screen", 0.0)) for v in p]

    def understand(
        self,
        texts: Sequence[str],
        vectors: Matrix | None = None,
        *,
        embedder_name: str | None = None,
        force_preference: bool = False,
        user: str | None = None,
        turns: Sequence[int] | None = None,
    ) -> list[Understanding]:
        """One ``Understanding`` per text. ``vectors`` are reused when ``embedder_name`` is the heads' embedder;
        ``force_preference`` takes the texts as preferences (the caller says so) and decides the rest.

        ``turns[i]`` is the turn text ``i`` was said in (default: each text is a turn of its own). A sentence is
        a preference when it reads as one and, in a turn of several sentences, the turn reads as stating one:
        "Use a formal tone." inside "Write a cover letter for a nursing job. Use a formal tone." is part of a
        task, not a standing wish."""
        if not texts:
            return []
        v = self.vectors_for(texts, vectors, embedder_name)
        x = sentence_features(v, texts, self.heads.word_dim)
        p_instruction = self.heads["instruction"].proba(x)[:, 1]
        p_preference = self.heads["preference"].proba(x)[:, 1]
        if "turn" in self.heads.heads:
            groups = list(turns) if turns is not None else list(range(len(texts)))
            turn_v, order = turn_vectors(v, groups)
            joined = [" ".join(t for t, g in zip(texts, groups) if g == group) for group in order]
            turn_p = self.heads["turn"].proba(sentence_features(turn_v, joined, self.heads.word_dim))[:, 1]
            sizes = Counter(groups)
            # a one-sentence turn has no task around it to read: the sentence alone decides
            p_turn_of = {g: (float(p) if sizes[g] > 1 else 1.0) for g, p in zip(order, turn_p)}
            p_turn = np.array([p_turn_of[g] for g in groups], dtype=np.float32)
        else:
            p_turn = np.ones(len(texts), dtype=np.float32)
        p_fact = (
            self.heads["fact"].proba(x)[:, 1] if "fact" in self.heads.heads else np.zeros(len(texts), dtype=np.float32)
        )
        p_always = self.heads["applies"].proba(x)[:, list(self.heads["applies"].classes).index("always")]
        p_subject = self._subject_columns(self.heads["subject"].proba(x))
        # a how-to-answer subject means always-on: the applies head is blended with what the subject head reads
        weight = self.threshold("applies_subject_weight", 0.0)
        if weight > 0:
            p_always = (1 - weight) * p_always + weight * always_share(p_subject, len(ALWAYS_SUBJECTS))
        p_negative = self.heads["stance"].proba(x)[:, list(self.heads["stance"].classes).index("negative")]
        instruction_of = p_instruction >= self.threshold("instruction")
        turn_ok = p_turn >= self.threshold("turn", 0.0)
        reader = self.sentence_reader
        if reader is not None and reader.reads_preferences:
            # the preference head is a gate: the reader decides preference, fact and conflict for the sentences
            # it lets through, in one pass; the others are no preference, and a fact when the fact head says so
            gate = reader.thresholds["gate"]
            may_prefer = (((p_preference >= gate) & turn_ok) | force_preference) & ~instruction_of
            read_rows = np.flatnonzero(may_prefer | ((p_fact >= gate) & ~instruction_of))
            read = reader.read([texts[int(i)] for i in read_rows])
            # the mean of the two readings: on the dev fold as good as the reader alone (F1 0.956 both behind the
            # gate), and it keeps short plain statements the reader alone misreads ("Big fan of sushi.": head 0.94,
            # reader 0.29). Only the preference gate opens the way to a preference (the fact gate reads for facts).
            p_read = (p_preference[read_rows] + read["preference"][:, 1]) / 2
            p_preference = np.zeros(len(texts), dtype=np.float32)
            p_preference[read_rows] = np.where(may_prefer[read_rows], p_read, 0.0)
            fact_threshold = np.full(len(texts), self.threshold("fact"), dtype=np.float32)
            p_fact = p_fact.copy()
            p_fact[read_rows] = read["fact"][:, 1]
            fact_threshold[read_rows] = reader.thresholds["fact"]
            thresholds = {"preference": reader.thresholds["preference"]}
            p_conflict = np.zeros((len(texts), len(CONFLICT_CLASSES)), dtype=np.float32)
            p_conflict[:, 0] = 1.0
            p_conflict[read_rows] = read["conflict"]
            preference_of = ((p_preference >= thresholds["preference"]) & turn_ok | force_preference) & ~instruction_of
        else:
            thresholds = {"preference": self.threshold("preference")}
            fact_threshold = np.full(len(texts), self.threshold("fact"), dtype=np.float32)
            said_of = (p_preference >= thresholds["preference"]) & turn_ok
            preference_of = (said_of | force_preference) & ~instruction_of
            p_conflict = self._conflict_proba(x, texts, np.flatnonzero(preference_of).tolist())
        none_column = 0
        value_columns = [CONFLICT_CLASSES.index(c) for c in CONFLICTS]
        out = []
        for i in range(len(texts)):
            instruction = bool(instruction_of[i])
            confidence = {"instruction": round(float(max(p_instruction[i], 1 - p_instruction[i])), 3)}
            preference = bool(preference_of[i])
            p_both = float(min(p_preference[i], p_turn[i]))
            confidence["preference"] = round(max(p_both, 1 - p_both), 3)
            if not preference:
                subject = self._best(p_subject[i], SUBJECTS, none=True)
                reads_fact = not instruction and "fact" in self.heads.heads
                fact = reads_fact and bool(p_fact[i] >= fact_threshold[i])
                if reads_fact:
                    confidence["fact"] = round(float(max(p_fact[i], 1 - p_fact[i])), 3)
                out.append(
                    Understanding(
                        preference=False, instruction=instruction, fact=fact, subject=subject, confidence=confidence
                    )
                )
                continue
            applies: Applies = "always" if p_always[i] >= 0.5 else "topical"
            confidence["applies"] = round(float(max(p_always[i], 1 - p_always[i])), 3)
            pool = ALWAYS_SUBJECTS if applies == "always" else TOPIC_SUBJECTS
            columns = [SUBJECTS.index(s) for s in pool]
            within = p_subject[i, columns]
            best = int(np.argmax(within))
            confidence["subject"] = round(float(within[best] / max(float(within.sum()), 1e-9)), 3)
            stance: Stance = "negative" if p_negative[i] >= 0.5 else "positive"
            confidence["stance"] = round(float(max(p_negative[i], 1 - p_negative[i])), 3)
            p_any = 1.0 - float(p_conflict[i, none_column])
            conflict = None
            if p_any >= self.threshold("conflict"):
                conflict = CONFLICTS[int(np.argmax(p_conflict[i, value_columns]))]
            confidence["conflict"] = round(max(p_any, 1 - p_any), 3)
            out.append(
                Understanding(
                    preference=True,
                    instruction=False,
                    applies=applies,
                    subject=pool[best],
                    stance=stance,
                    conflict=conflict,
                    confidence=confidence,
                )
            )
        return out

    def _conflict_proba(self, x: Matrix, texts: Sequence[str], preferences: Sequence[int]) -> Matrix:
        """Conflict probabilities in ``CONFLICT_CLASSES`` order for every text: the sentence reader's for the texts
        read as preferences when there is one (``threshold("conflict")`` is then its threshold), else the head's."""
        head = self.heads["conflict"]
        order = [list(head.classes).index(c) for c in CONFLICT_CLASSES]
        if self.sentence_reader is None:
            by_head: Matrix = head.proba(x)[:, order]
            return by_head
        proba = np.zeros((len(texts), len(CONFLICT_CLASSES)), dtype=np.float32)
        proba[:, 0] = 1.0  # only preferences can conflict; the others are never read for it
        if len(preferences):
            read, _ = self.sentence_reader.proba([texts[i] for i in preferences])
            proba[list(preferences)] = read
        return proba

    def _subject_columns(self, proba: Matrix) -> Matrix:
        """Subject probabilities in ``SUBJECTS`` order, then ``none``."""
        classes = list(self.heads["subject"].classes)
        order = [classes.index(s) for s in (*SUBJECTS, "none")]
        return proba[:, order]

    @staticmethod
    def _best(row: Matrix, names: Sequence[str], *, none: bool) -> str | None:
        best = int(np.argmax(row))
        return None if none and best >= len(names) else names[best]

    def subject_proba(self, vectors: Matrix, texts: Sequence[str]) -> Matrix:
        """For questions: probability of each subject in ``SUBJECTS`` order, then ``none`` (vectors must be
        the heads' embedder's)."""
        x = sentence_features(np.asarray(vectors, dtype=np.float32), texts, self.heads.word_dim)
        return self._subject_columns(self.heads["subject"].proba(x))

    def read(self, vectors: Matrix, texts: Sequence[str]) -> Matrix:
        """What the sentence heads read in each text, as the relation head takes it: stance, subject and
        applies probabilities (each head's classes in its own order)."""
        first = {text: row for row, text in reversed(list(enumerate(texts)))}  # each distinct text read once
        rows = sorted(set(first.values()))
        x = sentence_features(
            np.asarray(vectors, dtype=np.float32)[rows], [texts[r] for r in rows], self.heads.word_dim
        )
        out = np.hstack([self.heads[h].proba(x) for h in ("stance", "subject", "applies")]).astype(np.float32)
        at = {r: i for i, r in enumerate(rows)}
        result: Matrix = out[[at[first[t]] for t in texts]]
        return result

    def relate(
        self,
        older: Matrix,
        newer: Matrix,
        older_texts: Sequence[str],
        newer_texts: Sequence[str],
        *,
        groups: Sequence[int] | None = None,
    ) -> list[RelationJudgement]:
        """How each newer preference relates to the older one on the same row (vectors of the heads' embedder).

        ``supersedes`` is the probability that the newer replaces the older (a change of mind or a
        restatement); ``relation`` the most likely of the four relations. With a pair reader, the relation
        head is a gate: the reader judges the ``SHORTLIST`` likeliest pairs of each group (``groups[i]``: the
        new memory of row ``i``; default: one group) among those the head gives at least the card's
        ``head_floor``, all in one pass; the pairs it does not read replace nothing."""
        if len(newer_texts) == 0:
            return []
        by_head = self._relate_by_head(older, newer, older_texts, newer_texts)
        if self.pair_reader is None:
            return by_head
        floor = self.pair_reader.thresholds.get("head_floor", 0.0)
        gated: dict[int, list[int]] = {}
        for i, by_one in enumerate(by_head):
            if by_one.supersedes >= floor:
                gated.setdefault(groups[i] if groups is not None else 0, []).append(i)
        shortlist = [
            i for rows in gated.values() for i in sorted(rows, key=lambda i: -by_head[i].supersedes)[:SHORTLIST]
        ]
        if not shortlist:
            return [RelationJudgement(j.relation, j.confidence, 0.0) for j in by_head]
        proba = self.pair_reader.proba([older_texts[i] for i in shortlist], [newer_texts[i] for i in shortlist])
        judged = dict(zip(shortlist, self._judgements(proba, self.pair_reader.classes)))
        # a pair the reader did not read keeps the head's relation, and cannot replace anything
        return [judged.get(i, RelationJudgement(j.relation, j.confidence, 0.0)) for i, j in enumerate(by_head)]

    def _relate_by_head(
        self, older: Matrix, newer: Matrix, older_texts: Sequence[str], newer_texts: Sequence[str]
    ) -> list[RelationJudgement]:
        head = self.heads["relation"]
        features = pair_features(
            older,
            newer,
            older_texts,
            newer_texts,
            self.heads.word_dim,
            self.read(older, older_texts),
            self.read(newer, newer_texts),
        )
        return self._judgements(head.proba(features), head.classes)

    @staticmethod
    def _judgements(proba: Matrix, names: Sequence[str]) -> list[RelationJudgement]:
        classes = list(names)
        change, restate = classes.index("change"), classes.index("restate")
        out = []
        for row in proba:
            best = int(np.argmax(row))
            out.append(
                RelationJudgement(
                    cast(Relation, classes[best]),
                    round(float(row[best]), 3),
                    round(float(row[change] + row[restate]), 3),
                )
            )
        return out
