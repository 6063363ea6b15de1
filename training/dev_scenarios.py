"""Write dev scenario suites drawn from the training corpus and pairs, for choices made end to end.

The project's scenario suites (``training/scenarios``) only measure. To look at why a case fails (reading,
retrieval, budget) without reading them, draw suites of the same shape from texts the layer was trained on:

- ``always_on.jsonl``: a preference labelled ``scope: always`` and a question (a non-preference text ending in
  "?" with a topical subject);
- ``topical.jsonl``: a topical preference, a question on its subject and a question on another subject;
- ``changes_of_mind.jsonl``: a ``change`` pair of ``training/pairs`` and a question on the pair's subject.

Figures on them are optimistic for reading (the heads saw these texts) and honest for what comes after.

    .venv/bin/python training/dev_scenarios.py --out /tmp/dev-scenarios
    .venv/bin/palign eval scenarios --data /tmp/dev-scenarios --json
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from palign_rag.understand.corpus import LabelledText, read_labelled, read_pairs  # noqa: E402
from palign_rag.understand.labels import TOPIC_SUBJECTS  # noqa: E402


def questions(items: list[LabelledText]) -> dict[str, list[str]]:
    """Questions by topical subject: texts that state nothing standing and end in a question mark."""
    by: dict[str, list[str]] = {}
    for item in items:
        labels = item.labels
        standing = any(labels.get(k) for k in ("preference", "instruction", "fact"))
        if not standing and labels.get("subject") in TOPIC_SUBJECTS and item.text.rstrip().endswith("?"):
            by.setdefault(labels["subject"], []).append(item.text)
    return by


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="folder to write the three suites to")
    parser.add_argument("--count", type=int, default=200, help="scenarios per suite")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    items = read_labelled(sorted((ROOT / "training" / "corpus" / "train").glob("*.jsonl")))
    asked = questions(items)
    subjects = sorted(asked)
    plain = [i for i in items if i.labels.get("preference") and not i.labels.get("conflict")]
    always = [i for i in plain if i.labels.get("scope") == "always"]
    topical = [i for i in plain if i.labels.get("scope") == "topical" and i.labels.get("subject") in asked]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for n, item in enumerate(rng.sample(always, min(args.count, len(always)))):
        rows.append(
            {"id": f"dev-aon-{n}", "preference": item.text, "question": rng.choice(asked[rng.choice(subjects)])}
        )
    (out / "always_on.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    rows = []
    for n, item in enumerate(rng.sample(topical, min(args.count, len(topical)))):
        other = rng.choice([s for s in subjects if s != item.labels["subject"]])
        rows.append(
            {
                "id": f"dev-top-{n}",
                "preference": item.text,
                "related_question": rng.choice(asked[item.labels["subject"]]),
                "unrelated_question": rng.choice(asked[other]),
            }
        )
    (out / "topical.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    pairs = read_pairs(sorted((ROOT / "training" / "pairs").glob("*.jsonl")))
    changes = [p for p in pairs if p.relation == "change" and p.subject in asked]
    rows = []
    for n, pair in enumerate(rng.sample(changes, min(args.count, len(changes)))):
        rows.append(
            {
                "id": f"dev-com-{n}",
                "earlier": pair.older,
                "later": pair.newer,
                "question": rng.choice(asked[pair.subject or ""]),
            }
        )
    (out / "changes_of_mind.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    print(f"wrote {out}: always_on, topical, changes_of_mind")


if __name__ == "__main__":
    main()
