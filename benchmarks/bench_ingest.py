"""Ingest time of this checkout against another (e.g. the commit before the understanding layer), in one run.

    .venv/bin/python benchmarks/bench_ingest.py --baseline /tmp/palign-before --data ../shared/bench/prefeval

Both checkouts ingest the same chat histories into fresh in-memory Chroma with the bundled model (each run by its
checkout's default embedder: onnxruntime here when installed, ``--runtime torch`` for sentence-transformers), in alternating
rounds (each in its own subprocess, so imports and caches do not leak between them); reported: the median
seconds per round of each and their ratio. The histories are built from PrefEval's filler conversations
(real chat traffic, read from ``--data``; nothing is copied) cut into users of ``--turns`` messages.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

_CHILD = r"""
import importlib.util, json, sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
# each checkout renders with its own templates (the editable install maps palign_rag.prompts to this one's)
prompts = Path(sys.argv[1]) / "prompts"
spec = importlib.util.spec_from_file_location(
    "palign_rag.prompts", prompts / "__init__.py", submodule_search_locations=[str(prompts)]
)
sys.modules["palign_rag.prompts"] = importlib.util.module_from_spec(spec)
spec.loader.exec_module(sys.modules["palign_rag.prompts"])
from palign_rag import Personalizer, SentenceTransformerEmbedder
from palign_rag.store import ChromaStore
from palign_rag.eval.datasets import filler_messages
messages = filler_messages(sys.argv[2])
users, turns = int(sys.argv[3]), int(sys.argv[4])
if sys.argv[5] == "torch":
    embedder = SentenceTransformerEmbedder()
else:  # the checkout's default embedder
    try:
        from palign_rag.onnx_embed import default_embedder
        embedder = default_embedder()
    except ImportError:  # a checkout from before the ONNX path
        embedder = SentenceTransformerEmbedder()
embedder.load()
personalizer = Personalizer(store=ChromaStore.in_memory(), embedder=embedder)
personalizer.ingest("warm-up", messages[:8])
started = time.perf_counter()
for u in range(users):
    personalizer.ingest(f"user-{u}", messages[u * turns : (u + 1) * turns])
print(json.dumps({"seconds": time.perf_counter() - started}))
"""


def run(checkout: Path, data: str, users: int, turns: int, runtime: str = "default") -> float:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(checkout)}
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, str(checkout), data, str(users), str(turns), runtime],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return float(json.loads(out.stdout.strip().splitlines()[-1])["seconds"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", required=True, help="another checkout of palign-rag to compare against")
    parser.add_argument("--data", required=True, help="the PrefEval folder (for its filler conversations)")
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--turns", type=int, default=200, help="messages per user")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--runtime",
        choices=("default", "torch"),
        default="default",
        help="this checkout's embedder: its default (onnxruntime when installed) or sentence-transformers; "
        "the baseline always runs its own default",
    )
    args = parser.parse_args()
    here = Path(__file__).resolve().parent.parent
    ours: list[float] = []
    theirs: list[float] = []
    for _ in range(args.rounds):
        theirs.append(run(Path(args.baseline).resolve(), args.data, args.users, args.turns))
        ours.append(run(here, args.data, args.users, args.turns, args.runtime))
    figures = {
        "messages_per_round": args.users * args.turns,
        "baseline_seconds": [round(t, 2) for t in theirs],
        "this_seconds": [round(t, 2) for t in ours],
        "baseline_median": round(statistics.median(theirs), 2),
        "this_median": round(statistics.median(ours), 2),
        "ratio": round(statistics.median(ours) / statistics.median(theirs), 3),
        "this_runtime": args.runtime,
    }
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
