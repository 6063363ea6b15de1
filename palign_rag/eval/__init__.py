"""Evaluation on public benchmarks (PrefEval, LoCoMo), through the real ingest / compose path, and of the
understanding layer on labelled texts (``training/LABELS.md``).

The data is read from a path (the benchmarks are licensed non-commercial and never bundled).
"""

from .datasets import load_locomo, load_prefeval
from .locomo import LocomoResult, run_locomo
from .prefeval import PrefEvalResult, run_prefeval
from .run import evaluate_locomo, evaluate_prefeval, evaluate_understanding_files
from .understanding import UnderstandingResult, evaluate_understanding

__all__ = [
    "LocomoResult",
    "PrefEvalResult",
    "UnderstandingResult",
    "evaluate_locomo",
    "evaluate_prefeval",
    "evaluate_understanding",
    "evaluate_understanding_files",
    "load_locomo",
    "load_prefeval",
    "run_locomo",
    "run_prefeval",
]
