"""Core benchmark: compose latency against the embedding floor, and ingest against raw embedding.

    .venv/bin/python benchmarks/bench_core.py            # 100 users x 1,000 memories (100k), as in BENCHMARKS.md
    .venv/bin/python benchmarks/bench_core.py --users 10 --per-user 200 --queries 20   # a quick look

Everything runs on the real stack: embedded Chroma in a temp dir, the bundled all-MiniLM-L6-v2.
The other 99 users share the target user's texts (real users repeat each other), so the store holds
100k vectors with many duplicates across users.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")


from palign_rag import Memory, MemoryKind, MemorySource, Personalizer, Scope, SentenceTransformerEmbedder
from palign_rag.types import memory_id_for

SUBJECTS = ["my sister", "the team", "our landlord", "my doctor", "a colleague", "the kids", "my partner", "the coach"]
VERBS = ["talked about", "asked me about", "recommended", "complained about", "planned", "booked", "cancelled", "fixed"]
OBJECTS = [
    "the trip to Porto",
    "a new laptop",
    "the garden fence",
    "a pasta recipe",
    "the quarterly report",
    "a yoga class",
    "the car insurance",
    "a birthday party",
    "the leaking tap",
    "a chess tournament",
    "the vaccination schedule",
    "a jazz concert",
    "the tax return",
    "a hiking route",
    "the wifi router",
]
WHEN = ["on Monday", "last week", "yesterday", "this morning", "in March", "after lunch", "before the holidays"]
QUERIES = [
    "What should I cook for dinner?",
    "Can you help me plan a weekend trip?",
    "How do I fix a leaking tap?",
    "Any ideas for a birthday party?",
    "Which laptop should I buy?",
    "How do I prepare for a chess tournament?",
    "What do I need for my tax return?",
    "Suggest a hiking route near me",
    "How can I speed up my wifi?",
    "Recommend a jazz album",
    "When is my next vaccination?",
    "Write a short note to my landlord",
]


def texts(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        subject, verb, obj, when = (rng.choice(x) for x in (SUBJECTS, VERBS, OBJECTS, WHEN))
        out.append(f"{when.capitalize()} {subject} {verb} {obj} (note {seed}-{i}).")
    return out


def median_p95(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--per-user", type=int, default=1000)
    parser.add_argument("--queries", type=int, default=60, help="compose calls timed (queries cycle)")
    parser.add_argument("--ingest", type=int, default=2000, help="messages per ingest round")
    parser.add_argument("--rounds", type=int, default=3, help="alternating raw-embedding / ingest rounds")
    parser.add_argument("--home", help="store directory (default: a fresh temp dir)")
    parser.add_argument("--out", help="write the figures as JSON here too")
    args = parser.parse_args()

    home = Path(args.home or tempfile.mkdtemp(prefix="palign-bench-"))
    embedder = SentenceTransformerEmbedder()
    embedder.load()
    personalizer = Personalizer(home, embedder=embedder)
    store = personalizer.store

    # Fill: one set of texts embedded once, stored for every user (10% of them preferences).
    corpus = texts(args.per_user, seed=1)
    started = time.perf_counter()
    vectors = embedder.embed(corpus)
    for u in range(args.users):
        scope = Scope(user_id=f"user-{u:04d}")
        memories = []
        for i, text in enumerate(corpus):
            kind = MemoryKind.PREFERENCE if i % 10 == 0 else MemoryKind.EPISODE
            memories.append(
                Memory(
                    id=memory_id_for(scope, kind, text),
                    user_id=scope.user_id,
                    text=text,
                    kind=kind,
                    source=MemorySource.EXTRACTED,
                    message_index=i,
                )
            )
        for start in range(0, len(memories), 1000):
            store.upsert(memories[start : start + 1000], vectors[start : start + 1000])
    fill_s = time.perf_counter() - started
    target = f"user-{args.users // 2:04d}"

    queries = [QUERIES[i % len(QUERIES)] + ("" if i < len(QUERIES) else f" ({i})") for i in range(args.queries)]
    embedder.embed(["warm-up"])
    first = time.perf_counter()
    personalizer.compose(target, [{"role": "user", "content": "warm-up question"}])
    cold_ms = (time.perf_counter() - first) * 1000

    # Interleave floor and compose so both see the same machine conditions.
    floor_ms: list[float] = []
    compose_ms: list[float] = []
    used = 0
    for query in queries:
        t = time.perf_counter()
        embedder.embed([query])
        floor_ms.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        composed = personalizer.compose(target, [{"role": "user", "content": query}])
        compose_ms.append((time.perf_counter() - t) * 1000)
        used += len(composed.trace.used())
    floor_med, floor_p95 = median_p95(floor_ms)
    comp_med, comp_p95 = median_p95(compose_ms)

    # Ingest vs raw batched embedding of the same number of new, unique messages, in alternating rounds.
    raw_rates: list[float] = []
    ingest_rates: list[float] = []
    for round_ in range(args.rounds):
        fresh = texts(args.ingest, seed=100 + round_)
        t = time.perf_counter()
        embedder.embed(fresh)
        raw_rates.append(len(fresh) / (time.perf_counter() - t))
        messages = [{"role": "user", "content": text} for text in texts(args.ingest, seed=200 + round_)]
        t = time.perf_counter()
        report = personalizer.ingest(f"ingest-user-{round_}", messages)
        ingest_rates.append(report.added / (time.perf_counter() - t))
    raw_rate = statistics.median(raw_rates)
    ingest_rate = statistics.median(ingest_rates)

    figures = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "store": f"{args.users} users x {args.per_user} memories = {args.users * args.per_user} vectors",
        "fill_seconds": round(fill_s, 1),
        "compose_cold_ms": round(cold_ms, 2),
        "compose_median_ms": round(comp_med, 2),
        "compose_p95_ms": round(comp_p95, 2),
        "floor_embed_median_ms": round(floor_med, 2),
        "floor_embed_p95_ms": round(floor_p95, 2),
        "compose_over_floor": round(comp_med / floor_med, 2),
        "memories_used_per_prompt": round(used / len(queries), 1),
        "raw_embed_per_s": round(raw_rate, 1),
        "ingest_memories_per_s": round(ingest_rate, 1),
        "ingest_over_raw": round(ingest_rate / raw_rate, 2),
        "ingest_over_raw_per_round": [round(i / r, 2) for i, r in zip(ingest_rates, raw_rates)],
    }
    print(json.dumps(figures, indent=2))
    if args.out:
        Path(args.out).write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
