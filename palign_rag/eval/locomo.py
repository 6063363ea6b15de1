"""LoCoMo retrieval protocol (paper, Table 3): recall@k of the evidence turns for each question.

One conversation is one user's memory. Every turn is ingested, through the normal ``ingest``, as
``(<session date_time>) <speaker> said, "<text>"`` with the session time as its timestamp; questions are
asked at the time of the last turn (what "last year" is read from). For each question, ``retrieve`` ranks
the user's memories; memories map back to turns by provenance (the index of the message they came from).
recall@k = share of a question's evidence turns among the first k distinct turns retrieved (a question
without evidence counts 1), averaged over questions.
The naive baseline, in the same run: dense top-k over the raw indexed turns with the same embedder (every
turn is ingested as a user message, so the baseline ranks exactly what palign stores).
The metrics themselves are the pure functions of ``metrics.py``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ..personalizer import Personalizer
from .baseline import dense_order
from .datasets import LocomoConversation
from .metrics import recall_at_k, turn_order

__all__ = ["CATEGORIES", "LocomoResult", "run_locomo"]

CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop", 5: "adversarial"}
Progress = Callable[[int], None]


@dataclass
class LocomoResult:
    ks: list[int]
    questions: int
    recall: dict[int, float]
    baseline_recall: dict[int, float]
    by_category: dict[str, dict[int, float]] = field(default_factory=dict)
    baseline_by_category: dict[str, dict[int, float]] = field(default_factory=dict)
    category_counts: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        def fmt(values: dict[int, float]) -> dict[str, float]:
            return {f"recall@{k}": round(v, 4) for k, v in values.items()}

        return {
            "questions": self.questions,
            "ours": fmt(self.recall),
            "baseline": fmt(self.baseline_recall),
            "by_category": {
                name: {
                    "questions": self.category_counts[name],
                    "ours": fmt(v),
                    "baseline": fmt(self.baseline_by_category[name]),
                }
                for name, v in self.by_category.items()
            },
        }


def run_locomo(
    personalizer: Personalizer,
    conversations: Sequence[LocomoConversation],
    *,
    ks: Sequence[int] = (5, 10, 25, 50),
    progress: Progress | None = None,
) -> LocomoResult:
    """Run the protocol; each conversation's user is forgotten afterwards."""
    ks = sorted(ks)
    depth = max(ks)
    embedder = personalizer.embedder
    sums: dict[int, float] = defaultdict(float)
    base_sums: dict[int, float] = defaultdict(float)
    cat_sums: dict[str, dict[int, float]] = defaultdict(lambda: defaultdict(float))
    cat_base: dict[str, dict[int, float]] = defaultdict(lambda: defaultdict(float))
    cat_counts: dict[str, int] = defaultdict(int)
    total = 0
    for conversation in conversations:
        user = f"locomo-{conversation.sample_id}"
        messages = []
        for turn in conversation.turns:
            message: dict[str, str] = {"role": "user", "content": turn.indexed_text}
            if turn.when is not None:
                message["created_at"] = turn.when.isoformat()
            messages.append(message)
        personalizer.forget(user)
        personalizer.ingest(user, messages, origin=f"locomo:{conversation.sample_id}")
        dia_ids = [turn.dia_id for turn in conversation.turns]
        turn_vectors = embedder.embed([turn.indexed_text for turn in conversation.turns])
        # Questions are asked when the conversation is over: relative time ("last year") is read from then.
        times = [turn.when for turn in conversation.turns if turn.when is not None]
        asked = {"created_at": max(times).isoformat()} if times else {}
        for qa in conversation.questions:
            question = [{"role": "user", "content": qa.question, **asked}]
            # Several memories may come from one turn: ask for twice the depth, keep each turn once.
            ranked = personalizer.retrieve(user, question, k=depth * 2)
            order = turn_order([c.memory.message_index for c in ranked], dia_ids)
            base_order = [dia_ids[i] for i in dense_order(turn_vectors, embedder.embed([qa.question]), depth=depth)]
            name = CATEGORIES.get(qa.category, str(qa.category))
            cat_counts[name] += 1
            for k in ks:
                ours = recall_at_k(order, qa.evidence, k)
                base = recall_at_k(base_order, qa.evidence, k)
                sums[k] += ours
                base_sums[k] += base
                cat_sums[name][k] += ours
                cat_base[name][k] += base
            total += 1
            if progress is not None:
                progress(1)
        personalizer.forget(user)
    count = max(total, 1)
    return LocomoResult(
        ks=list(ks),
        questions=total,
        recall={k: sums[k] / count for k in ks},
        baseline_recall={k: base_sums[k] / count for k in ks},
        by_category={n: {k: v[k] / cat_counts[n] for k in ks} for n, v in sorted(cat_sums.items())},
        baseline_by_category={n: {k: v[k] / cat_counts[n] for k in ks} for n, v in sorted(cat_base.items())},
        category_counts=dict(cat_counts),
    )
