"""Whole evaluations as the ``palign eval`` command runs them: data in, figures (and a report) out."""

from __future__ import annotations

import time
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

from ..personalizer import Personalizer
from .datasets import Variant, filler_messages, load_locomo, load_prefeval
from .locomo import run_locomo
from .prefeval import reference_embedder, run_prefeval
from .report import bar_chart, line_chart, write_report
from .understanding import ReadsTexts, evaluate_understanding

__all__ = ["evaluate_locomo", "evaluate_prefeval", "evaluate_understanding_files"]

CROWDED_BUDGET = 400


def _bar(total: int, desc: str, show: bool) -> AbstractContextManager[Any]:
    if not show:
        return nullcontext(None)
    from tqdm import tqdm

    bar: AbstractContextManager[Any] = tqdm(total=total, desc=desc, unit="rec", leave=False)
    return bar


def evaluate_prefeval(
    personalizer: Personalizer,
    data: str | Path,
    *,
    variant: Variant = "explicit",
    turns: Sequence[int] = (10, 100, 300),
    memory_budget: int | None = None,
    topics: list[str] | None = None,
    limit: int | None = None,
    report: str | Path | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """PrefEval for each T in ``turns``; returns the figures (and writes an HTML report if asked)."""
    records = load_prefeval(data, variant, topics=topics, limit=limit)
    filler = filler_messages(data)
    budget = memory_budget or (CROWDED_BUDGET if variant == "crowded" else personalizer.settings.memory_budget)
    pool = load_prefeval(data, variant, topics=topics) if variant == "crowded" else []
    results = []
    started = time.perf_counter()
    for t in turns:
        with _bar(len(records), f"prefeval {variant} T={t}", progress) as bar:
            result = run_prefeval(
                personalizer,
                records,
                filler,
                variant=variant,
                turns=t,
                memory_budget=budget,
                distractor_pool=pool,
                progress=bar.update if bar is not None else None,
            )
        results.append(result.as_dict())
    figures: dict[str, Any] = {
        "benchmark": "prefeval",
        "variant": variant,
        "embedder": personalizer.embedder.name,
        **({"gold_reference": reference_embedder().name} if variant == "persona" else {}),
        "seconds": round(time.perf_counter() - started, 1),
        "results": results,
    }
    if report:
        groups = [f"T={r['turns']}" for r in results]
        chart = bar_chart(
            f"PrefEval {variant}: preference in prompt ({len(records)} records, budget {budget} tokens)",
            groups,
            {
                "palign in prompt": [float(r["in_prompt"]) for r in results],
                "palign hit@5": [float(r["hit@5"]) for r in results],
                "naive dense hit@5": [float(r["baseline_hit@5"]) for r in results],
            },
        )
        figures["report"] = str(write_report(report, f"palign eval prefeval ({variant})", [chart], figures))
    return figures


def evaluate_locomo(
    personalizer: Personalizer,
    data: str | Path,
    *,
    ks: Sequence[int] = (5, 10, 25, 50),
    limit: int | None = None,
    report: str | Path | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """LoCoMo recall@k overall and per category; returns the figures (and writes an HTML report if asked)."""
    conversations = load_locomo(data, limit=limit)
    started = time.perf_counter()
    with _bar(sum(len(c.questions) for c in conversations), "locomo", progress) as bar:
        result = run_locomo(personalizer, conversations, ks=ks, progress=bar.update if bar is not None else None)
    figures: dict[str, Any] = {
        "benchmark": "locomo",
        "conversations": len(conversations),
        "embedder": personalizer.embedder.name,
        "seconds": round(time.perf_counter() - started, 1),
        **result.as_dict(),
    }
    if report:
        ks_sorted = sorted(ks)
        curve = line_chart(
            f"LoCoMo recall@k ({result.questions} questions)",
            ks_sorted,
            {
                "palign": [result.recall[k] for k in ks_sorted],
                "naive dense": [result.baseline_recall[k] for k in ks_sorted],
            },
        )
        k_mid = 10 if 10 in ks_sorted else ks_sorted[0]
        names = list(result.by_category)
        bars = bar_chart(
            f"LoCoMo recall@{k_mid} by category",
            names,
            {
                "palign": [result.by_category[n][k_mid] for n in names],
                "naive dense": [result.baseline_by_category[n][k_mid] for n in names],
            },
        )
        figures["report"] = str(write_report(report, "palign eval locomo", [curve, bars], figures))
    return figures


def evaluate_understanding_files(
    data: Sequence[str | Path], *, understander: ReadsTexts | None = None
) -> dict[str, Any]:
    """The understanding layer (default: ``LocalUnderstander()``, the shipped heads) scored on labelled JSONL
    files (``training/LABELS.md``); returns the figures, each with the number of items it is computed over."""
    from ..understand.corpus import read_labelled

    items = read_labelled(data)
    if understander is None:
        from ..understand import LocalUnderstander

        understander = LocalUnderstander()
    started = time.perf_counter()
    result = evaluate_understanding(understander, items)
    return {
        "benchmark": "understanding",
        "understander": str(getattr(understander, "name", type(understander).__name__)),
        "files": [str(path) for path in data],
        "seconds": round(time.perf_counter() - started, 1),
        **result.as_dict(),
    }
