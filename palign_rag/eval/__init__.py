"""Evaluation on public benchmarks (PrefEval, LoCoMo), through the real ingest / compose path.

The data is read from a path (it is licensed non-commercial and never bundled).
"""

from .datasets import load_locomo, load_prefeval
from .locomo import LocomoResult, run_locomo
from .prefeval import PrefEvalResult, run_prefeval
from .run import evaluate_locomo, evaluate_prefeval

__all__ = [
    "LocomoResult",
    "PrefEvalResult",
    "evaluate_locomo",
    "evaluate_prefeval",
    "load_locomo",
    "load_prefeval",
    "run_locomo",
    "run_prefeval",
]
