"""Check labelled corpus files against training/LABELS.md (standard library only).

    python3 training/validate_corpus.py training/corpus/train/*.jsonl
    python3 training/validate_corpus.py --pairs training/pairs/*.jsonl

Prints one line per problem and a summary per file; exits 1 when any line is invalid.
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
from pathlib import Path

ALWAYS = ("language", "length", "tone", "format", "units", "accessibility", "spelling", "style")
TOPICS = (
    "food_drink",
    "travel",
    "music",
    "film_tv",
    "books",
    "sports_fitness",
    "health",
    "technology",
    "shopping",
    "pets",
    "home_garden",
    "finance",
    "work",
    "education",
    "fashion_beauty",
    "games",
    "hobbies",
    "outdoors",
    "relationships",
    "transport",
)
SUBJECTS = ALWAYS + TOPICS
CONFLICTS = ("honesty", "safety", "privacy")
RELATIONS = ("change", "restate", "compatible", "unrelated")


def item_problems(item: object) -> list[str]:
    """What is wrong with one labelled item (empty when it is valid)."""
    if not isinstance(item, dict):
        return ["not a JSON object"]
    text, labels = item.get("text"), item.get("labels")
    problems = []
    if not isinstance(text, str) or not text.strip():
        problems.append("'text' must be a non-empty string")
    if not isinstance(labels, dict):
        return [*problems, "'labels' must be an object"]
    unknown = set(labels) - {"preference", "scope", "subject", "stance", "instruction", "conflict", "fact"}
    if unknown:
        problems.append(f"unknown labels {sorted(unknown)}")
    pref = labels.get("preference")
    if pref not in (True, False, None):
        problems.append("preference must be true or false")
    if labels.get("scope") not in ("always", "topical", None):
        problems.append("scope must be 'always', 'topical' or null")
    if labels.get("subject") not in (*SUBJECTS, None):
        problems.append(f"subject {labels.get('subject')!r} is not in the list")
    if labels.get("stance") not in ("positive", "negative", None):
        problems.append("stance must be 'positive', 'negative' or null")
    if labels.get("instruction") not in (True, False, None):
        problems.append("instruction must be true or false")
    if labels.get("fact") not in (True, False, None):
        problems.append("fact must be true or false")
    if labels.get("fact") is True and labels.get("instruction") is True:
        problems.append("instruction-like text is never a fact")
    if labels.get("conflict") not in (*CONFLICTS, None):
        problems.append(f"conflict must be one of {CONFLICTS} or null")
    if pref is True:
        if labels.get("scope") is None or labels.get("stance") is None or labels.get("subject") is None:
            problems.append("a preference needs scope, subject and stance")
        elif labels["scope"] == "always" and labels["subject"] not in ALWAYS:
            problems.append(f"scope 'always' needs a how-to-answer subject, got {labels['subject']!r}")
        elif labels["scope"] == "topical" and labels["subject"] not in TOPICS:
            problems.append(f"scope 'topical' needs a topic subject, got {labels['subject']!r}")
        if labels.get("instruction") is True:
            problems.append("instruction-like text is never a preference")
        if labels.get("fact") is True:
            problems.append("a preference is never also a fact (label the text a preference)")
    if pref is False:
        if labels.get("scope") is not None or labels.get("stance") is not None:
            problems.append("a non-preference has scope and stance null")
        if labels.get("conflict") is not None:
            problems.append("only a preference can conflict with the policy")
    return problems


def pair_problems(item: object) -> list[str]:
    if not isinstance(item, dict):
        return ["not a JSON object"]
    problems = [f"'{k}' must be a non-empty string" for k in ("older", "newer") if not str(item.get(k, "")).strip()]
    if item.get("relation") not in RELATIONS:
        problems.append(f"relation must be one of {RELATIONS}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="+")
    parser.add_argument("--pairs", action="store_true", help="the files are changes-of-mind pairs")
    args = parser.parse_args(argv)
    bad = 0
    for name in args.files:
        counts: collections.Counter[str] = collections.Counter()
        seen: set[str] = set()
        for number, line in enumerate(Path(name).read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError as exc:
                print(f"{name}:{number}: not valid JSON ({exc.msg})")
                bad += 1
                continue
            problems = pair_problems(item) if args.pairs else item_problems(item)
            for problem in problems:
                print(f"{name}:{number}: {problem}")
            bad += bool(problems)
            key = json.dumps(item, sort_keys=True) if args.pairs else str(item.get("text", "")).strip().lower()
            if key in seen:
                print(f"{name}:{number}: duplicate of an earlier line")
            seen.add(key)
            if args.pairs:
                counts[str(item.get("relation"))] += 1
            else:
                labels = item.get("labels", {}) if isinstance(item, dict) else {}
                if labels.get("instruction"):
                    counts["instruction"] += 1
                elif labels.get("conflict"):
                    counts["conflict"] += 1
                elif labels.get("preference"):
                    counts[f"pref-{labels.get('scope')}"] += 1
                else:
                    counts["not-preference"] += 1
        print(f"{name}: {sum(counts.values())} items " + ", ".join(f"{k}={v}" for k, v in sorted(counts.items())))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
