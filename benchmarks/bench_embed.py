"""The bundled model through onnxruntime (``OnnxEmbedder``) against sentence-transformers, in one run.

    .venv/bin/python benchmarks/bench_embed.py --data ../shared/bench/prefeval

Texts: PrefEval's filler user messages (real chat traffic, read from ``--data``; nothing is copied). Reported,
for each embedder: the median and p95 of one text embedded alone (a query), in alternating order so that
neither gets a warmer machine; the seconds to embed ``--batch-texts`` texts in one call (median of rounds); the
largest difference between the two embedders' vectors; and the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from palign_rag import OnnxEmbedder, SentenceTransformerEmbedder
from palign_rag.eval.datasets import filler_messages


def p95(values: list[float]) -> float:
    return float(np.percentile(values, 95))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="the PrefEval folder (for its filler conversations)")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--batch-texts", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    messages = [m["content"] for m in filler_messages(args.data) if m.get("role") == "user" and m.get("content")]
    queries = messages[: args.queries]
    batch = messages[args.queries : args.queries + args.batch_texts]
    embedders = {"torch": SentenceTransformerEmbedder(), "onnx": OnnxEmbedder()}
    for embedder in embedders.values():
        embedder.load()
        embedder.embed(queries[:16])  # warm
    single: dict[str, list[float]] = {name: [] for name in embedders}
    for n, text in enumerate(queries):
        names = list(embedders) if n % 2 == 0 else list(reversed(embedders))
        for name in names:
            started = time.perf_counter()
            embedders[name].embed([text])
            single[name].append((time.perf_counter() - started) * 1000)
    bulk: dict[str, list[float]] = {name: [] for name in embedders}
    for _ in range(args.rounds):
        for name, embedder in embedders.items():
            started = time.perf_counter()
            embedder.embed(batch)
            bulk[name].append(time.perf_counter() - started)
    sample = batch[:200]
    difference = float(np.abs(embedders["onnx"].embed(sample) - embedders["torch"].embed(sample)).max())
    figures = {
        "texts": {"queries": len(queries), "batch": len(batch)},
        **{
            name: {
                "query_ms_median": round(statistics.median(single[name]), 2),
                "query_ms_p95": round(p95(single[name]), 2),
                "batch_seconds_median": round(statistics.median(bulk[name]), 2),
                "batch_seconds": [round(v, 2) for v in bulk[name]],
            }
            for name in embedders
        },
        "query_ratio_onnx_over_torch": round(statistics.median(single["onnx"]) / statistics.median(single["torch"]), 3),
        "batch_ratio_onnx_over_torch": round(statistics.median(bulk["onnx"]) / statistics.median(bulk["torch"]), 3),
        "max_abs_difference": difference,
    }
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
