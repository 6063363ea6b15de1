"""Train the pair reader (``palign_rag/understand/cross.py``): the bundled all-MiniLM-L6-v2 read as a
cross-encoder over (older, newer) pairs, with low-rank deltas (LoRA) on its linear layers and a classifier over
the mean of its token states: change, restate, compatible or unrelated.

Data: the project's pairs (``training/pairs/``), both orders, plus unrelated pairs of preferences on different
subjects drawn from the training corpus (the same set, drawn the same way, and the same 5 folds by the pair's
texts as the relation head of ``train_understanding.py``), plus drawn pairs of a preference and a request on its
subject (``request_pairs``, drawn by ``relation_pairs`` for both readers).

    .venv/bin/python training/train_understanding.py --no-write --relation-oof /tmp/head_oof.npz
    .venv/bin/python training/train_relation.py --head-oof /tmp/head_oof.npz    # ~25 min on 2 cores
    .venv/bin/python training/train_relation.py --head-oof /tmp/head_oof.npz --cv --no-write   # 5-fold figures

The model shipped is the one trained without the dev fold (fold 0 by default). Its predictions on that fold,
with the relation head's held-out predictions, choose the gate (``choose_gate``: the head's floor and the
reader's threshold) and give the figures in the card.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from palign_rag.understand.corpus import (  # noqa: E402
    LabelledPair,
    pair_fold,
    read_labelled,
    read_pairs,
    relation_pairs,
)
from palign_rag.understand.cross import DEFAULT_PAIR_WEIGHTS  # noqa: E402
from palign_rag.understand.lora import (  # noqa: E402
    MAX_TOKENS,
    TARGETS,
    base_model_path,
    mean_pool,
    targeted,
)

CLASSES = ("change", "compatible", "restate", "unrelated")


class LoraLinear(nn.Module):
    """A frozen linear layer plus a trainable low-rank delta ``B @ A`` (``B`` starts at zero)."""

    def __init__(self, base: nn.Linear, rank: int, alpha: float, dropout: float) -> None:
        super().__init__()
        self.base = base
        self.a = nn.Parameter(torch.randn(rank, base.in_features) / math.sqrt(base.in_features))
        self.b = nn.Parameter(torch.zeros(base.out_features, rank))
        self.scale = alpha / rank
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x) + (self.drop(x) @ self.a.T @ self.b.T) * self.scale


def lora_encoder(rank: int, alpha: float, dropout: float) -> nn.Module:
    """The bundled MiniLM, frozen, with a trainable low-rank delta on each ``TARGETS`` layer."""
    from transformers import AutoModel

    encoder = AutoModel.from_pretrained(base_model_path())
    for p in encoder.parameters():
        p.requires_grad = False
    for name, module in list(encoder.named_modules()):
        if targeted(name) and isinstance(module, nn.Linear):
            parent_name, _, child = name.rpartition(".")
            setattr(encoder.get_submodule(parent_name), child, LoraLinear(module, rank, alpha, dropout))
    return encoder


def export_deltas(encoder: nn.Module) -> dict[str, np.ndarray]:
    """The low-rank factors of ``encoder``, as ``lora.py`` reads them (float16)."""
    arrays: dict[str, np.ndarray] = {}
    for name, module in encoder.named_modules():
        if isinstance(module, LoraLinear):
            arrays[f"{name}.lora_a"] = module.a.detach().numpy().astype(np.float16)
            arrays[f"{name}.lora_b"] = module.b.detach().numpy().astype(np.float16)
    return arrays


class PairModel(nn.Module):
    def __init__(self, rank: int, alpha: float, dropout: float) -> None:
        super().__init__()
        self.encoder = lora_encoder(rank, alpha, dropout)
        self.head = nn.Linear(self.encoder.config.hidden_size, len(CLASSES))

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        states = self.encoder(**batch).last_hidden_state
        return self.head(mean_pool(states, batch["attention_mask"]))

    def export(self) -> dict[str, np.ndarray]:
        arrays = export_deltas(self.encoder)
        arrays["head.w"] = self.head.weight.detach().numpy().T.astype(np.float32)
        arrays["head.b"] = self.head.bias.detach().numpy().astype(np.float32)
        return arrays


def pair_set() -> tuple[list[LabelledPair], int]:
    """The pairs, their reverses and drawn unrelated pairs; and how many come first in original order."""
    pairs = read_pairs(sorted((ROOT / "training" / "pairs").glob("*.jsonl")))
    items = read_labelled(sorted((ROOT / "training" / "corpus" / "train").glob("*.jsonl")))
    return relation_pairs(pairs, items), len(pairs)


def fit(model: nn.Module, lengths: list[int], args: argparse.Namespace, batch_loss: Any) -> None:
    """Train ``model``'s trainable parameters (AdamW, one-cycle schedule) for ``args.epochs`` epochs over batches of
    inputs of like length (less padding) in random order; ``batch_loss(rows)`` is the loss of one batch."""
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.01)
    steps = args.epochs * math.ceil(len(lengths) / args.batch)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=args.lr, total_steps=steps, pct_start=0.1)
    rng = random.Random(args.seed)
    model.train()
    for epoch in range(args.epochs):
        order = list(range(len(lengths)))
        rng.shuffle(order)
        batches = []
        for start in range(0, len(order), args.batch * 20):
            pool = sorted(order[start : start + args.batch * 20], key=lambda i: lengths[i])
            batches += [pool[i : i + args.batch] for i in range(0, len(pool), args.batch)]
        rng.shuffle(batches)
        total = 0.0
        for rows in batches:
            loss = batch_loss(rows)
            loss.backward()
            optimizer.step()
            schedule.step()
            optimizer.zero_grad()
            total += loss.item() * len(rows)
        print(f"  epoch {epoch + 1}: loss {total / len(lengths):.4f}", flush=True)
    model.eval()


def train(pairs: list[LabelledPair], args: argparse.Namespace, tokenizer: Any) -> PairModel:
    torch.manual_seed(args.seed)
    model = PairModel(args.rank, args.alpha, args.dropout)
    labels = torch.tensor([CLASSES.index(p.relation) for p in pairs])
    loss_fn = nn.CrossEntropyLoss()

    def batch_loss(rows: list[int]) -> torch.Tensor:
        batch = tokenizer(
            [pairs[r].older for r in rows],
            [pairs[r].newer for r in rows],
            padding=True,
            truncation=True,
            max_length=MAX_TOKENS,
            return_tensors="pt",
        )
        loss: torch.Tensor = loss_fn(model(dict(batch)), labels[rows])
        return loss

    fit(model, [len(p.older) + len(p.newer) for p in pairs], args, batch_loss)
    return model


def predict(model: PairModel, pairs: list[LabelledPair], tokenizer: Any) -> np.ndarray:
    out = []
    with torch.inference_mode():
        for start in range(0, len(pairs), 64):
            chunk = pairs[start : start + 64]
            batch = tokenizer(
                [p.older for p in chunk],
                [p.newer for p in chunk],
                padding=True,
                truncation=True,
                max_length=MAX_TOKENS,
                return_tensors="pt",
            )
            out.append(torch.softmax(model(dict(batch)), dim=1).numpy())
    return np.vstack(out)


def figures_of(proba: np.ndarray, pairs: list[LabelledPair], original: np.ndarray) -> dict[str, Any]:
    truth_rel = np.array([p.relation for p in pairs])
    predicted = np.array([CLASSES[int(np.argmax(row))] for row in proba])
    figures: dict[str, Any] = {}
    for relation in CLASSES:
        sel = original & (truth_rel == relation)
        figures[f"relation_{relation}_recall_oof"] = float((predicted[sel] == relation).mean())
    supersede = proba[:, CLASSES.index("change")] + proba[:, CLASSES.index("restate")]
    truth = np.isin(truth_rel, ["change", "restate"])
    threshold = 0.995
    for t in np.arange(0.5, 0.996, 0.005):  # the lowest threshold at which 95% of what it replaces should go
        chosen = original & (supersede >= t)
        if chosen.any() and truth[chosen].mean() >= 0.95:
            threshold = float(t)
            break
    chosen = supersede >= threshold
    figures["supersede_threshold"] = round(threshold, 3)
    figures["supersede_recall_oof"] = float(chosen[original & truth].mean())
    figures["supersede_precision_oof"] = float(truth[original & chosen].mean())
    figures["compatible_superseded_oof"] = float(chosen[original & (truth_rel == "compatible")].mean())
    figures["unrelated_superseded_oof"] = float(chosen[original & (truth_rel == "unrelated")].mean())
    return figures


def choose_gate(
    reader: np.ndarray, head: np.ndarray, pairs: list[LabelledPair], original: np.ndarray
) -> dict[str, Any]:
    """The head floor and reader threshold of the gated rule (a pair replaces when the relation head's
    supersede probability is at least the floor and the reader's at least the threshold), chosen on the dev
    fold: the most changes and restatements recovered while at least 95% of what is replaced should be, at most
    1% of the unrelated and 5% of the compatible pairs are replaced (the relation head's own rates), and at most
    0.5% of the drawn pairs of different subjects. Ties go to the higher floor (fewer pairs to read)."""
    relation = np.array([p.relation for p in pairs])
    truth = np.isin(relation, ["change", "restate"])
    drawn = ~original & np.array([p.origin == "corpus" for p in pairs])
    requests = np.array([p.origin == "request" for p in pairs])
    best: dict[str, Any] = {}
    for floor in np.round(np.arange(0.0, 0.61, 0.02), 2):
        gate = head >= floor
        for t in np.round(np.arange(0.5, 0.996, 0.005), 3):
            chosen = gate & (reader >= t)
            picked = original & chosen
            if not picked.any() or truth[picked].mean() < 0.95:
                continue
            if chosen[original & (relation == "unrelated")].mean() > 0.01:
                continue
            if chosen[original & (relation == "compatible")].mean() > 0.05 or chosen[drawn].mean() > 0.005:
                continue
            if requests.any() and chosen[requests].mean() > 0.005:
                continue
            recall = float(chosen[original & truth].mean())
            if recall > best.get("recall", -1.0) or (recall == best.get("recall") and floor > best["head_floor"]):
                best = {
                    "head_floor": float(floor),
                    "supersede": float(t),
                    "recall": recall,
                    "precision": float(truth[picked].mean()),
                    "unrelated_superseded": float(chosen[original & (relation == "unrelated")].mean()),
                    "compatible_superseded": float(chosen[original & (relation == "compatible")].mean()),
                    "drawn_superseded": float(chosen[drawn].mean()),
                    "pairs_read": float(gate.mean()),
                    "drawn_read": float(gate[drawn].mean()),
                    "requests_superseded": float(chosen[requests].mean()) if requests.any() else None,
                }
    return best


def head_supersede(path: str, pairs: list[LabelledPair]) -> np.ndarray:
    """The relation head's held-out supersede probability for each pair: ``train_understanding.py
    --relation-oof`` for the pairs it was trained on (the same pairs in the same order, checked), and the
    shipped head for any pairs after them (an older ``--relation-oof`` file, saved before the head trained on
    the request pairs too)."""
    with np.load(path) as saved:
        classes = [str(c) for c in saved["classes"]]
        known = len(saved["older"])
        if list(saved["older"]) != [p.older for p in pairs[:known]] or list(saved["newer"]) != [
            p.newer for p in pairs[:known]
        ]:
            raise SystemExit(f"{path} holds other pairs: run train_understanding.py --relation-oof again")
        proba = saved["proba"]
    scores = proba[:, classes.index("change")] + proba[:, classes.index("restate")]
    rest = pairs[known:]
    if not rest:
        return np.asarray(scores)
    from palign_rag.understand import LocalUnderstander

    head = LocalUnderstander(pair_reader=None)
    older = head.vectors_for([p.older for p in rest], None, None)
    newer = head.vectors_for([p.newer for p in rest], None, None)
    judged = head.relate(older, newer, [p.older for p in rest], [p.newer for p in rest])
    return np.concatenate([scores, [j.supersedes for j in judged]])


def training_arguments(parser: argparse.ArgumentParser, *, epochs: int, rank: int) -> None:
    """The options of a LoRA fit (``fit``); alpha defaults to twice the rank."""
    parser.add_argument("--epochs", type=int, default=epochs)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--rank", type=int, default=rank)
    parser.add_argument("--alpha", type=float, default=2.0 * rank)
    parser.add_argument("--dropout", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dev-fold", type=int, default=0, help="the fold held out to choose the threshold (0-4)")
    parser.add_argument("--cv", action="store_true", help="also report 5-fold figures (five more fits)")
    training_arguments(parser, epochs=4, rank=8)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's choice)")
    parser.add_argument("--no-write", action="store_true", help="figures only; write no weights")
    parser.add_argument("--dev-out", help="also save the dev fold's predictions here (.npz: rows, proba)")
    parser.add_argument(
        "--head-oof",
        required=True,
        help="the relation head's held-out predictions (train_understanding.py --relation-oof FILE)",
    )
    parser.add_argument(
        "--choose-only",
        metavar="DEV_NPZ",
        help="no training: choose the gate from saved dev predictions, rewrite the card",
    )
    parser.add_argument("--out", default=str(ROOT / "palign_rag" / "understand" / "weights" / DEFAULT_PAIR_WEIGHTS))
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    from transformers import AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    tokenizer = AutoTokenizer.from_pretrained(base_model_path())
    started = time.perf_counter()
    pairs, n_original = pair_set()
    folds = np.array([pair_fold(p) for p in pairs])
    original = np.arange(len(pairs)) < n_original
    held = np.flatnonzero(folds == args.dev_fold)
    head = head_supersede(args.head_oof, pairs)
    if args.choose_only:
        with np.load(args.choose_only) as saved:
            if not np.array_equal(saved["rows"], held):
                raise SystemExit(f"{args.choose_only} holds another fold's predictions")
            dev = saved["proba"]
        model = None
    else:
        print(f"training on {len(pairs) - len(held)} pairs, fold {args.dev_fold} ({len(held)}) held out", flush=True)
        model = train([p for p, f in zip(pairs, folds) if f != args.dev_fold], args, tokenizer)
        dev = predict(model, [pairs[i] for i in held], tokenizer)
    figures = figures_of(dev, [pairs[i] for i in held], original[held])
    reader = dev[:, CLASSES.index("change")] + dev[:, CLASSES.index("restate")]
    figures["gate"] = choose_gate(reader, head[held], [pairs[i] for i in held], original[held])
    head_alone = choose_gate(head[held], np.ones(len(held)), [pairs[i] for i in held], original[held])
    figures["head_alone_same_rule"] = head_alone
    figures["dev_fold"] = args.dev_fold
    figures["pairs"] = len(pairs)
    if args.dev_out and model is not None:
        np.savez(args.dev_out, rows=held, proba=dev)
    if args.cv:
        oof = np.zeros((len(pairs), len(CLASSES)), dtype=np.float32)
        oof[held] = dev
        for fold in sorted(set(range(5)) - {args.dev_fold}):
            print(f"cv: fold {fold} held out", flush=True)
            rest = np.flatnonzero(folds == fold)
            fitted = train([p for p, f in zip(pairs, folds) if f != fold], args, tokenizer)
            oof[rest] = predict(fitted, [pairs[i] for i in rest], tokenizer)
        figures["cv"] = figures_of(oof, pairs, original)
    print(json.dumps(figures, indent=2), flush=True)
    if args.no_write or not figures["gate"]:
        return
    out = Path(args.out)
    if model is not None:
        np.savez_compressed(out.with_suffix(".npz"), **model.export())
    card = {
        "base": "all-MiniLM-L6-v2",
        "classes": list(CLASSES),
        "rank": args.rank,
        "alpha": args.alpha,
        "targets": list(TARGETS),
        "training": {k: getattr(args, k) for k in ("epochs", "batch", "lr", "dropout", "seed")},
        "trained_on": {"pairs": len(pairs) - len(held), "held_out": len(held), "original_pairs": n_original},
        "thresholds": {"supersede": figures["gate"]["supersede"], "head_floor": figures["gate"]["head_floor"]},
        "oof_figures": figures,
        "seconds": round(time.perf_counter() - started, 1),
    }
    if model is None:  # the weights stay: only the choice made on their dev predictions changes
        previous = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))
        card = {**previous, "thresholds": card["thresholds"], "oof_figures": figures}
    out.with_suffix(".json").write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    print(
        f"wrote {out.with_suffix('.json')}" + ("" if model is None else f" and {out.with_suffix('.npz')}"), flush=True
    )


if __name__ == "__main__":
    main()
