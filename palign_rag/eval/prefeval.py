"""PrefEval retrieval protocol: does the composed prompt carry the user's preference?

For each record one user is built: the preference (stated, or revealed in a conversation), then ``2*T``
filler messages, then the question. The history goes through the normal ``ingest``; the prompt through
the normal ``compose`` under the memory budget. Reported per T:

- ``in_prompt``: share of records whose composed prompt holds the memory carrying the preference;
- ``hit@1`` / ``hit@5``: share whose carrying memory ranks first / in the top 5 of ``retrieve``;
- the naive baseline, computed in the same run: dense top-k with the same embedder over the raw *user*
  messages, which are what ``ingest`` stores from a history (assistant turns are not ranked by either side);
  ``baseline_hit@5`` is also its in-prompt rate: it puts its top 5 in the prompt.

The carrying memory is found by provenance (the index of the message it came from), never by its text.

For the persona variant the preference is revealed over several user turns; the carrying turn (the gold) is
the user turn most similar to the gold preference under a fixed reference model, the bundled
all-MiniLM-L6-v2 (``default_embedder()``), loaded once per process. It does not depend on the
embedder being evaluated: ``--embedder`` changes what is measured, never what counts as right.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np

from ..embed import Embedder
from ..errors import InvalidInputError
from ..onnx_embed import default_embedder
from ..personalizer import Personalizer
from .baseline import naive_user_order
from .datasets import PrefEvalRecord, Variant
from .metrics import carrier_positions, first_carrier_rank, hit_at

__all__ = ["PrefEvalResult", "build_history", "persona_gold", "reference_embedder", "run_prefeval"]

ACK = "Got it, I'll keep that in mind."
Progress = Callable[[int], None]


@dataclass
class PrefEvalResult:
    variant: str
    turns: int
    records: int
    memory_budget: int
    in_prompt: float
    hit_at_1: float
    hit_at_5: float
    baseline_hit_at_1: float
    baseline_hit_at_5: float

    def as_dict(self) -> dict[str, float | int | str]:
        return {
            "variant": self.variant,
            "turns": self.turns,
            "records": self.records,
            "memory_budget": self.memory_budget,
            "in_prompt": round(self.in_prompt, 4),
            "hit@1": round(self.hit_at_1, 4),
            "hit@5": round(self.hit_at_5, 4),
            "baseline_hit@1": round(self.baseline_hit_at_1, 4),
            "baseline_hit@5": round(self.baseline_hit_at_5, 4),
        }


def build_history(
    record: PrefEvalRecord,
    variant: Variant,
    filler: Sequence[dict[str, str]],
    turns: int,
    *,
    distractors: Sequence[str] = (),
    seed: int = 0,
) -> tuple[list[dict[str, str]], list[int]]:
    """The user's history and the indexes of the messages that may carry the preference (for persona: every
    user turn of the conversation; ``run_prefeval`` keeps the one ``persona_gold`` picks)."""
    if variant in ("explicit", "crowded"):
        head = [{"role": "user", "content": record.preference}, {"role": "assistant", "content": ACK}]
        carriers = [0]
    else:
        head = list(record.conversation)
        carriers = [i for i, m in enumerate(head) if m["role"] == "user"]
        if variant == "choice":
            carriers = carriers[-1:]  # the user's selection among the offered options
    needed = 2 * turns
    body = [filler[i % len(filler)] for i in range(needed)] if filler else []
    if distractors:
        # Each distracting preference (with its acknowledgement) goes between two filler pairs, at random.
        pairs = [body[i : i + 2] for i in range(0, len(body), 2)]
        rng = random.Random(seed)
        slots = sorted(rng.randrange(len(pairs) + 1) for _ in distractors)
        mixed: list[dict[str, str]] = []
        pending = list(zip(slots, distractors))
        for position in range(len(pairs) + 1):
            while pending and pending[0][0] == position:
                mixed += [{"role": "user", "content": pending.pop(0)[1]}, {"role": "assistant", "content": ACK}]
            if position < len(pairs):
                mixed += pairs[position]
        body = mixed
    return head + body, carriers


@cache
def reference_embedder() -> Embedder:
    """The fixed model that picks the persona variant's gold turn: the bundled one, loaded once per process."""
    return default_embedder()


def persona_gold(record: PrefEvalRecord, reference: Embedder) -> int:
    """Index (in ``record.conversation``, which opens the history) of the user turn most similar to the gold
    preference under ``reference``: the turn that carries the preference. Ties go to the earlier turn."""
    users = [i for i, message in enumerate(record.conversation) if message["role"] == "user"]
    if not users:
        raise InvalidInputError(f"PrefEval record {record.key} has no user turn to carry its preference.")
    turns = reference.embed([record.conversation[i]["content"] for i in users])
    scores = turns @ reference.embed([record.preference])[0]
    return users[int(np.argmax(scores))]


def run_prefeval(
    personalizer: Personalizer,
    records: Sequence[PrefEvalRecord],
    filler: Sequence[dict[str, str]],
    *,
    variant: Variant,
    turns: int,
    memory_budget: int,
    distractor_pool: Sequence[PrefEvalRecord] = (),
    distractors: int = 19,
    reference: Embedder | None = None,
    progress: Progress | None = None,
) -> PrefEvalResult:
    """Run the protocol for one T over ``records``; every user is forgotten afterwards.

    ``reference`` picks the persona variant's gold turn (default: ``reference_embedder()``, the bundled model),
    whatever the personalizer's embedder is."""
    embedder = personalizer.embedder
    gold_reference = (reference or reference_embedder()) if variant == "persona" else None
    in_prompt = hit1 = hit5 = base1 = base5 = 0
    for number, record in enumerate(records):
        others: list[str] = []
        if variant == "crowded":
            rng = random.Random(f"{record.key}-{turns}")
            pool = [r.preference for r in distractor_pool if r.key != record.key and r.preference != record.preference]
            others = rng.sample(pool, min(distractors, len(pool)))
        history, carriers = build_history(record, variant, filler, turns, distractors=others, seed=number)
        if gold_reference is not None:
            carriers = [persona_gold(record, gold_reference)]
        user = f"prefeval-{variant}-{turns}-{record.key}"
        personalizer.forget(user)
        personalizer.ingest(user, history, origin=f"prefeval:{record.key}")
        question = [{"role": "user", "content": record.question}]

        composed = personalizer.compose(user, question, memory_budget=memory_budget)
        used = [c.memory.message_index for c in composed.trace.used()]
        in_prompt += bool(carrier_positions(used, carriers))
        ranked = personalizer.retrieve(user, question, k=5)
        rank = first_carrier_rank([c.memory.message_index for c in ranked], carriers)
        hit1 += hit_at(rank, 1)
        hit5 += hit_at(rank, 5)

        base_rank = first_carrier_rank(naive_user_order(embedder, history, record.question, depth=5), carriers)
        base1 += hit_at(base_rank, 1)
        base5 += hit_at(base_rank, 5)
        personalizer.forget(user)
        if progress is not None:
            progress(1)
    count = max(len(records), 1)
    return PrefEvalResult(
        variant=variant,
        turns=turns,
        records=len(records),
        memory_budget=memory_budget,
        in_prompt=in_prompt / count,
        hit_at_1=hit1 / count,
        hit_at_5=hit5 / count,
        baseline_hit_at_1=base1 / count,
        baseline_hit_at_5=base5 / count,
    )
