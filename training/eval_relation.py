"""Measure the shipped relation reader on labelled pairs it was not trained on (``training/pairs_test/``).

    .venv/bin/python training/eval_relation.py                       # the test pairs, the card's threshold
    .venv/bin/python training/eval_relation.py --threshold 0.8 --threshold 0.9 --data my_pairs.jsonl

For each pair (older, newer, relation) it reads the probability that the newer replaces the older (a change or
a restatement), the relation head's probability before ``reconcile``'s other gates (``RELATED``, ``SURE``),
and reports, at each threshold: the share of changes and restatements
that would replace (recall), the share of replacements that are right (precision), and the share of compatible
pairs (both hold: a new instance, someone else's news, a reply, a one-off, a memory) that would wrongly replace
one. ``training/pairs_test`` was written by helpers who saw none of ``training/pairs``; no choice is made on it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from palign_rag.understand.corpus import read_pairs  # noqa: E402
from palign_rag.understand.local import LocalUnderstander  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", nargs="*", help="pairs files (default: training/pairs_test/*.jsonl)")
    parser.add_argument("--threshold", type=float, action="append", help="default: the card's supersede")
    parser.add_argument("--weights", help="a heads .npz to measure instead of the shipped one")
    args = parser.parse_args()
    files = [Path(f) for f in args.data] if args.data else sorted((ROOT / "training" / "pairs_test").glob("*.jsonl"))
    pairs = read_pairs(files)
    local = LocalUnderstander(args.weights, sentence_reader=None)
    older = [p.older for p in pairs]
    newer = [p.newer for p in pairs]
    judged = local.relate(local.vectors_for(older, None, None), local.vectors_for(newer, None, None), older, newer)
    score = np.array([j.supersedes for j in judged])
    truth = np.array([p.relation for p in pairs])
    replaces = np.isin(truth, ["change", "restate"])
    out: dict[str, object] = {"pairs": len(pairs), "by_relation": {r: int((truth == r).sum()) for r in set(truth)}}
    for t in args.threshold or [local.threshold("supersede")]:
        chosen = score >= t
        out[f"at {t:.2f}"] = {
            "recall": round(float(chosen[replaces].mean()), 3),
            "change_recall": round(float(chosen[truth == "change"].mean()), 3),
            "precision": round(float(replaces[chosen].mean()), 3) if chosen.any() else None,
            "compatible_replaced": round(float(chosen[truth == "compatible"].mean()), 3),
        }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
