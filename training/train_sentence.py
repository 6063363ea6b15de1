"""Train the sentence reader (``palign_rag/understand/sentence.py``): the bundled all-MiniLM-L6-v2 fine-tuned with
low-rank deltas (LoRA) to read which way a preference pushes: whether honouring it drops one of the policy's
values (``conflict``: none, honesty, safety, privacy), and whether it is about how to answer or a subject
(``applies``: always, topical; trained on preferences only).

Data: the training corpus (``training/corpus/train``). Fold ``--dev-fold`` of five, by each text's hash
(``text_fold``), is held out: the model shipped is trained on the other four folds, and the dev fold's predictions
choose the conflict threshold (the most conflicts found while at most ``--max-fp`` of the ordinary preferences and
``--max-look-alike`` of the look-alikes, preferences within the values written to look like conflicts, are flagged) and give the figures in the card. The dev fold shares its writers with the training folds, so its figures
are optimistic; the test split (``palign eval understanding``) is the measure.

    .venv/bin/python training/train_sentence.py              # the shipped one (rank 16, 6 epochs), ~21 min
    .venv/bin/python training/train_sentence.py --no-write   # figures only
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "training")]

from train_relation import export_deltas, fit, lora_encoder, training_arguments  # noqa: E402

from palign_rag.understand.corpus import LabelledText, read_labelled  # noqa: E402
from palign_rag.understand.lora import MAX_TOKENS, TARGETS, base_model_path, mean_pool  # noqa: E402
from palign_rag.understand.sentence import APPLIES_CLASSES, CONFLICT_CLASSES, DEFAULT_SENTENCE_WEIGHTS  # noqa: E402

IGNORE = -100


def text_fold(text: str, folds: int = 5) -> int:
    """The fold of a text, by its hash."""
    return int(hashlib.sha256(text.encode()).hexdigest(), 16) % folds


class SentenceModel(nn.Module):
    def __init__(self, rank: int, alpha: float, dropout: float) -> None:
        super().__init__()
        self.encoder = lora_encoder(rank, alpha, dropout)
        size = self.encoder.config.hidden_size
        self.conflict = nn.Linear(size, len(CONFLICT_CLASSES))
        self.applies = nn.Linear(size, len(APPLIES_CLASSES))

    def forward(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        pooled = mean_pool(self.encoder(**batch).last_hidden_state, batch["attention_mask"])
        return self.conflict(pooled), self.applies(pooled)

    def export(self) -> dict[str, np.ndarray]:
        arrays = export_deltas(self.encoder)
        for name in ("conflict", "applies"):
            layer = getattr(self, name)
            arrays[f"{name}.w"] = layer.weight.detach().numpy().T.astype(np.float32)
            arrays[f"{name}.b"] = layer.bias.detach().numpy().astype(np.float32)
        return arrays


def targets(items: list[LabelledText]) -> tuple[torch.Tensor, torch.Tensor]:
    """Per text: its conflict class, and its applies class when it is a preference with a scope (else ignored)."""
    conflict, applies = [], []
    for item in items:
        labels = item.labels
        conflict.append(CONFLICT_CLASSES.index(labels["conflict"] or "none") if "conflict" in labels else IGNORE)
        scope = labels.get("scope") if labels.get("preference") else None
        applies.append(APPLIES_CLASSES.index(scope) if scope in APPLIES_CLASSES else IGNORE)
    return torch.tensor(conflict), torch.tensor(applies)


def tokenize(tokenizer: Any, texts: list[str]) -> dict[str, torch.Tensor]:
    return dict(tokenizer(texts, padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt"))


def train(items: list[LabelledText], args: argparse.Namespace, tokenizer: Any) -> SentenceModel:
    torch.manual_seed(args.seed)
    model = SentenceModel(args.rank, args.alpha, args.dropout)
    conflict, applies = targets(items)
    loss_fn = nn.CrossEntropyLoss(ignore_index=IGNORE)

    def batch_loss(rows: list[int]) -> torch.Tensor:
        out_conflict, out_applies = model(tokenize(tokenizer, [items[r].text for r in rows]))
        loss: torch.Tensor = loss_fn(out_conflict, conflict[rows])
        if (applies[rows] != IGNORE).any():
            loss = loss + loss_fn(out_applies, applies[rows])
        return loss

    fit(model, [len(i.text) for i in items], args, batch_loss)
    return model


def predict(model: SentenceModel, texts: list[str], tokenizer: Any) -> tuple[np.ndarray, np.ndarray]:
    conflict, applies = [], []
    with torch.inference_mode():
        for start in range(0, len(texts), 64):
            a, b = model(tokenize(tokenizer, texts[start : start + 64]))
            conflict.append(torch.softmax(a, dim=1).numpy())
            applies.append(torch.softmax(b, dim=1).numpy())
    return np.vstack(conflict), np.vstack(applies)


LOOK_ALIKE_WRITERS = ("w6", "w7", "w8", "w12", "w16", "w17")
"""Writers who wrote value-dropping preferences together with preferences on the same topics that stay within
the values, written to look like them (training/README.md)."""


def writer(item: LabelledText) -> str:
    return Path(item.origin.split(":")[0]).name.split("_")[0]


def choose(
    conflict: np.ndarray, applies: np.ndarray, items: list[LabelledText], max_fp: float, max_look_alike: float
) -> dict[str, Any]:
    """The conflict threshold and the dev figures at it: the lowest threshold at which at most ``max_fp`` of the
    ordinary preferences (of writers who did not write look-alikes) and at most ``max_look_alike`` of the
    look-alikes (the other writers' preferences within the values) are flagged."""
    labelled = np.array([i.labels.get("conflict") is not None for i in items])
    preference = np.array([bool(i.labels.get("preference")) and i.labels.get("conflict") is None for i in items])
    look_alike = preference & np.isin([writer(i) for i in items], LOOK_ALIKE_WRITERS)
    ordinary = preference & ~look_alike
    p_any = 1.0 - conflict[:, CONFLICT_CLASSES.index("none")]
    threshold = 0.99
    for t in np.round(np.arange(0.05, 0.991, 0.01), 2):
        if (p_any[ordinary] >= t).mean() <= max_fp and (p_any[look_alike] >= t).mean() <= max_look_alike:
            threshold = float(t)
            break
    found = p_any >= threshold
    truth = [i.labels.get("conflict") for i in items]
    picked = [CONFLICT_CLASSES[1 + int(np.argmax(row[1:]))] for row in conflict]
    right = [picked[k] == truth[k] for k in np.flatnonzero(found & labelled)]
    scoped = [k for k, i in enumerate(items) if i.labels.get("preference") and i.labels.get("scope")]
    applies_right = [APPLIES_CLASSES[int(np.argmax(applies[k]))] == items[k].labels["scope"] for k in scoped]
    return {
        "conflict_threshold": threshold,
        "conflict_recall": round(float(found[labelled].mean()), 4),
        "conflict_fp_on_ordinary_preferences": round(float(found[ordinary].mean()), 4),
        "conflict_fp_on_look_alikes": round(float(found[look_alike].mean()), 4),
        "conflict_fp_on_non_preferences": round(float(found[~labelled & ~preference].mean()), 4),
        "conflict_category_accuracy": round(float(np.mean(right)), 4) if right else None,
        "applies_accuracy": round(float(np.mean(applies_right)), 4) if applies_right else None,
        "conflicts": int(labelled.sum()),
        "ordinary_preferences": int(ordinary.sum()),
        "look_alikes": int(look_alike.sum()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dev-fold", type=int, default=0, help="the fold held out to choose the threshold (0-4)")
    parser.add_argument("--max-fp", type=float, default=0.015, help="most ordinary preferences flagged on dev")
    parser.add_argument("--max-look-alike", type=float, default=0.10, help="most look-alikes flagged on dev")
    parser.add_argument("--dev-out", help="also save the dev fold's predictions here (.npz)")
    training_arguments(parser, epochs=6, rank=16)  # chosen on the dev fold over rank 8, 4 epochs
    parser.add_argument("--no-write", action="store_true", help="figures only; write no weights")
    parser.add_argument("--out", default=str(ROOT / "palign_rag" / "understand" / "weights" / DEFAULT_SENTENCE_WEIGHTS))
    args = parser.parse_args()
    from transformers import AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    tokenizer = AutoTokenizer.from_pretrained(base_model_path())
    started = time.perf_counter()
    files = sorted((ROOT / "training" / "corpus" / "train").glob("*.jsonl"))
    items = read_labelled(files)
    dev = [i for i in items if text_fold(i.text) == args.dev_fold]
    rest = [i for i in items if text_fold(i.text) != args.dev_fold]
    print(f"training on {len(rest)} texts, fold {args.dev_fold} ({len(dev)}) held out", flush=True)
    model = train(rest, args, tokenizer)
    conflict, applies = predict(model, [i.text for i in dev], tokenizer)
    if args.dev_out:
        np.savez(args.dev_out, conflict=conflict, applies=applies, texts=np.array([i.text for i in dev]))
    figures = choose(conflict, applies, dev, args.max_fp, args.max_look_alike)
    figures["dev_fold"] = args.dev_fold
    print(json.dumps(figures, indent=2), flush=True)
    if args.no_write:
        return
    out = Path(args.out)
    np.savez_compressed(out.with_suffix(".npz"), **model.export())
    card = {
        "base": "all-MiniLM-L6-v2",
        "heads": {"conflict": list(CONFLICT_CLASSES), "applies": list(APPLIES_CLASSES)},
        "rank": args.rank,
        "alpha": args.alpha,
        "targets": list(TARGETS),
        "training": {
            k: getattr(args, k) for k in ("epochs", "batch", "lr", "dropout", "seed", "max_fp", "max_look_alike")
        },
        "trained_on": {"texts": len(rest), "held_out": len(dev), "files": [f.name for f in files]},
        "thresholds": {"conflict": figures["conflict_threshold"]},
        "dev_figures": figures,
        "seconds": round(time.perf_counter() - started, 1),
    }
    out.with_suffix(".json").write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out.with_suffix('.json')} and {out.with_suffix('.npz')}", flush=True)


if __name__ == "__main__":
    main()
