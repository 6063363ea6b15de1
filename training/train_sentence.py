"""Train the sentence reader (``palign_rag/understand/sentence.py``): the bundled all-MiniLM-L6-v2 fine-tuned with
low-rank deltas (LoRA) to read which way a preference pushes: whether honouring it drops one of the policy's
values (``conflict``: none, honesty, safety, privacy), whether it is about how to answer or a subject
(``applies``: always, topical; trained on preferences only), and whether it states a preference or a fact about
the user at all (``preference``, ``fact``: no, yes), which the understanding layer asks it when its heads are
unsure (``LocalUnderstander``).

Data: the training corpus (``training/corpus/train``). Fold ``--dev-fold`` of five, by each text's hash
(``text_fold``), is held out: the model shipped is trained on the other four folds, and the dev fold's predictions
choose the conflict threshold (the most conflicts found while at most ``--max-fp`` of the ordinary preferences and
``--max-look-alike`` of the look-alikes, preferences within the values written to look like conflicts, are flagged) and give the figures in the card. The dev fold shares its writers with the training folds, so its figures
are optimistic; the test split (``palign eval understanding``) is the measure.

    .venv/bin/python training/train_understanding.py --no-write --preference-oof /tmp/pref_oof.npz
    .venv/bin/python training/train_sentence.py --gate-oof /tmp/pref_oof.npz              # the shipped one, 33 min (shared cores)
    .venv/bin/python training/train_sentence.py --gate-oof /tmp/pref_oof.npz --no-write   # figures only
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
from palign_rag.understand.sentence import (  # noqa: E402
    APPLIES_CLASSES,
    CONFLICT_CLASSES,
    DEFAULT_SENTENCE_WEIGHTS,
    YES_NO,
)

IGNORE = -100
HEADS = ("conflict", "applies", "preference", "fact")


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
        self.preference = nn.Linear(size, len(YES_NO))
        self.fact = nn.Linear(size, len(YES_NO))

    def forward(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, ...]:
        pooled = mean_pool(self.encoder(**batch).last_hidden_state, batch["attention_mask"])
        return tuple(getattr(self, name)(pooled) for name in HEADS)

    def export(self) -> dict[str, np.ndarray]:
        arrays = export_deltas(self.encoder)
        for name in HEADS:
            layer = getattr(self, name)
            arrays[f"{name}.w"] = layer.weight.detach().numpy().T.astype(np.float32)
            arrays[f"{name}.b"] = layer.bias.detach().numpy().astype(np.float32)
        return arrays


def targets(items: list[LabelledText]) -> dict[str, torch.Tensor]:
    """Per text and head (``HEADS``): its conflict class; its applies class when it is a preference with a scope;
    whether it states a preference, and a fact (each ignored where the text has no such label)."""
    out: dict[str, list[int]] = {name: [] for name in HEADS}
    for item in items:
        labels = item.labels
        out["conflict"].append(CONFLICT_CLASSES.index(labels["conflict"] or "none") if "conflict" in labels else IGNORE)
        scope = labels.get("scope") if labels.get("preference") else None
        out["applies"].append(APPLIES_CLASSES.index(scope) if scope in APPLIES_CLASSES else IGNORE)
        for name in ("preference", "fact"):
            out[name].append(int(bool(labels[name])) if labels.get(name) is not None else IGNORE)
    return {name: torch.tensor(values) for name, values in out.items()}


def tokenize(tokenizer: Any, texts: list[str]) -> dict[str, torch.Tensor]:
    return dict(tokenizer(texts, padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt"))


def train(items: list[LabelledText], args: argparse.Namespace, tokenizer: Any) -> SentenceModel:
    torch.manual_seed(args.seed)
    model = SentenceModel(args.rank, args.alpha, args.dropout)
    wanted = targets(items)
    loss_fn = nn.CrossEntropyLoss(ignore_index=IGNORE)

    def batch_loss(rows: list[int]) -> torch.Tensor:
        outputs = model(tokenize(tokenizer, [items[r].text for r in rows]))
        loss = torch.zeros(())
        for name, out in zip(HEADS, outputs):
            if (wanted[name][rows] != IGNORE).any():
                loss = loss + loss_fn(out, wanted[name][rows])
        return loss

    fit(model, [len(i.text) for i in items], args, batch_loss)
    return model


def predict(model: SentenceModel, texts: list[str], tokenizer: Any) -> dict[str, np.ndarray]:
    """Each head's probabilities (``HEADS``), one row per text."""
    out: dict[str, list[np.ndarray]] = {name: [] for name in HEADS}
    with torch.inference_mode():
        for start in range(0, len(texts), 64):
            for name, logits in zip(HEADS, model(tokenize(tokenizer, texts[start : start + 64]))):
                out[name].append(torch.softmax(logits, dim=1).numpy())
    return {name: np.vstack(rows) for name, rows in out.items()}


def yes_no_figures(name: str, p_yes: np.ndarray, items: list[LabelledText]) -> dict[str, Any]:
    """The threshold of best F1 on the texts labelled for ``name``, and precision, recall and F1 there."""
    rows = [k for k, i in enumerate(items) if i.labels.get(name) is not None]
    truth = np.array([bool(items[k].labels[name]) for k in rows])
    p = p_yes[rows]
    best = (0.0, 0.5, 0.0, 0.0)
    for t in np.round(np.arange(0.05, 0.96, 0.01), 2):
        said = p >= t
        tp = int((said & truth).sum())
        precision = tp / max(int(said.sum()), 1)
        recall = tp / max(int(truth.sum()), 1)
        f1 = 2 * precision * recall / max(precision + recall, 1e-9)
        if f1 > best[0]:
            best = (f1, float(t), precision, recall)
    return {
        f"{name}_threshold": best[1],
        f"{name}_f1": round(best[0], 4),
        f"{name}_precision": round(best[2], 4),
        f"{name}_recall": round(best[3], 4),
        f"{name}_texts": len(rows),
    }


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


def choose_gate(
    p_reader: np.ndarray, items: list[LabelledText], head_oof: str, heads: dict[str, float], max_loss: float
) -> dict[str, Any]:
    """The preference head's gate and the reader's preference threshold behind it, on the dev fold.

    ``head_oof`` holds the heads' held-out (leave-one-writer-out) preference readings of the corpus
    (``train_understanding.py --preference-oof``); ``heads`` the heads' card thresholds. The gate is the highest
    head probability that loses at most ``max_loss`` of the dev fold's preferences against no gate (the turn head
    still applies; the reader never sees what the gate stops); the threshold on the mean of the head's and the
    reader's probabilities is then the one of best F1 over all the dev texts labelled for preference, those the
    gate stops counted as read "no". Also reported: the heads alone at their own threshold on the same texts, and the share of
    non-preferences the gate lets through (what the reader costs at ingest)."""
    with np.load(head_oof) as data:
        held = {str(t): (float(s), float(u)) for t, s, u in zip(data["texts"], data["sentence"], data["turn"])}
    rows = [k for k, i in enumerate(items) if i.labels.get("preference") is not None and i.text in held]
    truth = np.array([bool(items[k].labels["preference"]) for k in rows])
    sentence = np.array([held[items[k].text][0] for k in rows])
    turn_ok = np.array([held[items[k].text][1] >= heads["turn"] for k in rows])
    gate, ungated = 0.0, turn_ok[truth].mean()
    for t in np.round(np.arange(0.01, 0.5, 0.01), 2):
        if ((sentence >= t) & turn_ok)[truth].mean() < ungated - max_loss:
            break
        gate = float(t)
    passed = (sentence >= gate) & turn_ok
    # what ingest decides on: the mean of the head's and the reader's probabilities (see LocalUnderstander)
    p = np.where(passed, (p_reader[rows] + sentence) / 2, 0.0)

    def scores(said: np.ndarray) -> tuple[float, float, float]:
        tp = int((said & truth).sum())
        precision, recall = tp / max(int(said.sum()), 1), tp / max(int(truth.sum()), 1)
        return precision, recall, 2 * precision * recall / max(precision + recall, 1e-9)

    best = max((scores(p >= t)[2], float(t)) for t in np.round(np.arange(0.05, 0.96, 0.01), 2))
    precision, recall, f1 = scores(p >= best[1])
    with_heads = scores((sentence >= heads["preference"]) & turn_ok)
    return {
        "gate": gate,
        "gate_recall": round(float(passed[truth].mean()), 4),
        "gate_passes_non_preferences": round(float(passed[~truth].mean()), 4),
        "preference_threshold": best[1],
        "preference_precision": round(precision, 4),
        "preference_recall": round(recall, 4),
        "preference_f1": round(f1, 4),
        "heads_alone_f1": round(with_heads[2], 4),
        "heads_alone_precision": round(with_heads[0], 4),
        "heads_alone_recall": round(with_heads[1], 4),
        "texts": len(rows),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dev-fold", type=int, default=0, help="the fold held out to choose the threshold (0-4)")
    parser.add_argument("--max-fp", type=float, default=0.015, help="most ordinary preferences flagged on dev")
    parser.add_argument("--max-look-alike", type=float, default=0.10, help="most look-alikes flagged on dev")
    parser.add_argument("--dev-out", help="also save the dev fold's predictions here (.npz)")
    parser.add_argument(
        "--gate-oof",
        required=True,
        help="the heads' held-out preference readings (train_understanding.py --preference-oof), to choose the gate",
    )
    parser.add_argument(
        "--gate-loss", type=float, default=0.01, help="most dev preferences the gate may stop (against no gate)"
    )
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
    read = predict(model, [i.text for i in dev], tokenizer)
    if args.dev_out:
        np.savez(args.dev_out, **read, texts=np.array([i.text for i in dev]))
    figures = choose(read["conflict"], read["applies"], dev, args.max_fp, args.max_look_alike)
    for name in ("preference", "fact"):
        figures.update(yes_no_figures(name, read[name][:, 1], dev))
    heads_card = json.loads((ROOT / "palign_rag" / "understand" / "weights" / "minilm-l6-v2.json").read_text())
    gated = choose_gate(read["preference"][:, 1], dev, args.gate_oof, heads_card["thresholds"], args.gate_loss)
    figures.update({f"gated_{k}": v for k, v in gated.items()})
    figures["dev_fold"] = args.dev_fold
    print(json.dumps(figures, indent=2), flush=True)
    if args.no_write:
        return
    out = Path(args.out)
    np.savez_compressed(out.with_suffix(".npz"), **model.export())
    card = {
        "base": "all-MiniLM-L6-v2",
        "heads": {
            "conflict": list(CONFLICT_CLASSES),
            "applies": list(APPLIES_CLASSES),
            "preference": list(YES_NO),
            "fact": list(YES_NO),
        },
        "rank": args.rank,
        "alpha": args.alpha,
        "targets": list(TARGETS),
        "training": {
            k: getattr(args, k) for k in ("epochs", "batch", "lr", "dropout", "seed", "max_fp", "max_look_alike")
        },
        "trained_on": {"texts": len(rest), "held_out": len(dev), "files": [f.name for f in files]},
        "thresholds": {
            "conflict": figures["conflict_threshold"],
            "preference": figures["gated_preference_threshold"],
            "fact": figures["fact_threshold"],
            "gate": figures["gated_gate"],
        },
        "dev_figures": figures,
        "seconds": round(time.perf_counter() - started, 1),
    }
    out.with_suffix(".json").write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out.with_suffix('.json')} and {out.with_suffix('.npz')}", flush=True)


if __name__ == "__main__":
    main()
