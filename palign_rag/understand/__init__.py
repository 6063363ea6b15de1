"""The understanding layer: what a user's sentence or turn *is*, decided once on the write path.

For each text: preference or not; for a preference, whether it applies to every answer (``always``: language,
length, tone, format, units, accessibility, spelling, style) or to one subject (``topical``), its subject and
its stance; whether it is instruction-like text aimed at the model; and whether it asks the assistant to
drop one of the policy's values. Each decision carries a confidence, and ``Understanding.reason`` says it in
words. The labels are defined in ``training/LABELS.md``.

- ``LocalUnderstander`` (the default): small classification heads shipped in the package, run with numpy
  over the sentence embeddings ingest computes anyway; offline, on CPU, nothing downloaded.
- ``LLMUnderstander``: the same decisions from an LLM backend with structured output, validated, retried
  once, falling back to the local heads; batched and capped per user.
"""

from .labels import (
    ALWAYS_SUBJECTS,
    CONFLICTS,
    RELATIONS,
    SUBJECTS,
    TOPIC_SUBJECTS,
    Applies,
    Relation,
    Stance,
    Understanding,
)
from .local import LocalUnderstander, RelationJudgement

__all__ = [
    "ALWAYS_SUBJECTS",
    "CONFLICTS",
    "RELATIONS",
    "SUBJECTS",
    "TOPIC_SUBJECTS",
    "Applies",
    "LocalUnderstander",
    "Relation",
    "RelationJudgement",
    "Stance",
    "Understanding",
]
