"""Evaluate a checkpoint (or a folder of per-seed checkpoints) on a split of an MMSA pickle.

    python -m dmsil.evaluate runs/mosi --data mosi.pkl --split test [--json]

Fused-head metrics are at the top level of the JSON; the unimodal heads' are under ``T``, ``A``, ``V``,
scored against ``regression_labels_T/A/V`` where the data has them (CH-SIMS), else the fused label.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch

from dmsil import checkpoint, devices, metrics
from dmsil.cli import add_device_argument, add_verbosity, setup_logging
from dmsil.data import MMSAData, load
from dmsil.data.batches import Batcher
from dmsil.errors import DmsilError
from dmsil.model import DMSIL, HEADS

log = logging.getLogger(__name__)
B = TypeVar("B")


@torch.no_grad()
def gather(
    model: torch.nn.Module,
    outputs: Callable[[B], dict[str, torch.Tensor]],
    batches: Iterable[B],
    heads: Sequence[str] = HEADS,
) -> dict[str, np.ndarray]:
    """``heads`` of ``outputs(batch)`` (a forward pass of ``model``) over every batch, concatenated in order.

    The model runs in eval mode and is put back in the mode it was in; any recipe's batches fit.
    """
    was_training = model.training
    model.eval()
    parts: dict[str, list[np.ndarray]] = {h: [] for h in heads}
    for batch in batches:
        out = outputs(batch)
        for h in heads:
            parts[h].append(out[h].cpu().numpy())
    model.train(was_training)
    return {h: np.concatenate(v) if v else np.zeros(0, np.float32) for h, v in parts.items()}


def predict(model: DMSIL, batcher: Batcher, batch_size: int = 64) -> dict[str, np.ndarray]:
    """Scores of the four heads for every sample of the batcher's split, in order."""
    device = next(model.parameters()).device
    return gather(
        model, lambda inputs: model(**devices.to(inputs, device)), (x for _, x in batcher.batches(batch_size))
    )


def text_batches(
    model: DMSIL, texts: list[str], batch_size: int = 64
) -> list[tuple[np.ndarray, torch.Tensor, torch.Tensor]]:
    """``texts`` tokenized for a model with its own text encoder, in batches of similar length (little
    padding), each cut to its longest text: (the texts' positions, ids, mask) per batch."""
    from dmsil.features.text import encode, load_tokenizer

    ids, mask = encode(load_tokenizer(model.config.text_model), texts, model.config.text_max_length)
    order = np.argsort(mask.sum(1), kind="stable")
    batches = []
    for start in range(0, len(texts), batch_size):
        idx = order[start : start + batch_size]
        width = max(1, int(mask[idx].sum(1).max()))
        batches.append((idx, torch.from_numpy(ids[idx, :width]), torch.from_numpy(mask[idx, :width])))
    return batches


def score_texts(model: DMSIL, texts: list[str], batch_size: int = 64) -> dict[str, np.ndarray]:
    """Text-only scores of the four heads (no audio, no face) for raw sentences, in order."""
    c = model.config

    def text_only(batch: tuple[np.ndarray, torch.Tensor, torch.Tensor]) -> dict[str, torch.Tensor]:
        _, ids, mask = batch
        n = len(ids)
        return model(ids, mask, torch.zeros(n, 1, c.audio_dim), torch.zeros(n, dtype=torch.long),
                     torch.zeros(n, 1, c.video_dim), torch.zeros(n, dtype=torch.long))  # fmt: skip

    batches = text_batches(model, texts, batch_size)
    scores = gather(model, text_only, batches)
    order = np.concatenate([idx for idx, _, _ in batches]) if batches else np.zeros(0, np.int64)
    out = {h: np.zeros(len(texts), np.float32) for h in HEADS}
    for h in HEADS:
        out[h][order] = scores[h]
    return out


def evaluate_model(model: DMSIL, data: MMSAData, split: str, dataset: str, batch_size: int = 64) -> dict:
    """MMSA metrics of the fused head at top level, and of each unimodal head under its letter."""
    s = data.splits[split]
    batcher = Batcher(s, model.config.text_model, model.config.text_max_length, f"{data.path} [{split}]")
    preds = predict(model, batcher, batch_size)
    result: dict = metrics.compute(preds["M"], s.labels, dataset)
    for m in "TAV":
        truth = s.unimodal_labels.get(m, s.labels)
        result[m] = metrics.compute(preds[m], truth, dataset)
        result[m]["truth"] = f"regression_labels_{m}" if m in s.unimodal_labels else "regression_labels"
    return result


def summarize_seeds(per_seed: dict[int, dict]) -> dict:
    """Per-seed results plus mean and standard deviation of every numeric metric (fused and per head)."""

    def numeric(d: dict) -> dict[str, float]:
        return {k: v for k, v in d.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}

    runs = list(per_seed.values())
    keys = list(numeric(runs[0]))
    mean = {k: float(np.mean([r[k] for r in runs])) for k in keys}
    std = {k: float(np.std([r[k] for r in runs])) for k in keys}
    for m in "TAV":
        if m in runs[0]:
            mean[m] = {k: float(np.mean([r[m][k] for r in runs])) for k in numeric(runs[0][m])}
    return {"seeds": {str(k): v for k, v in per_seed.items()}, "mean": mean, "std": std}


def checkpoint_dirs(path: Path) -> list[Path]:
    """The checkpoint itself, or its ``seed-*`` sub-checkpoints when it holds several."""
    if (path / checkpoint.CONFIG).is_file():
        return [path]
    seeds = sorted(p for p in path.glob("seed-*") if (p / checkpoint.CONFIG).is_file())
    if not seeds:
        checkpoint.read_config(path)  # raises the one-line reason
    return seeds


def format_table(result: dict) -> str:
    """Metric rows, head columns (M = fused)."""
    keys = [k for k, v in result.items() if isinstance(v, float)]
    heads = ["M"] + [m for m in "TAV" if isinstance(result.get(m), dict)]
    lines = [f"{'metric':<15}" + "".join(f"{h:>10}" for h in heads)]
    for k in keys:
        row = [result[k]] + [result[m].get(k, math.nan) for m in heads[1:]]
        lines.append(f"{k:<15}" + "".join(f"{v:>10.4f}" for v in row))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m dmsil.evaluate", description="Evaluate a dmsil checkpoint.")
    p.add_argument(
        "checkpoint",
        nargs="?",
        help="checkpoint directory, or a training output with seed-* checkpoints (default: the shipped default model)",
    )
    p.add_argument(
        "--data", required=True, help="MMSA pickle (pickle runs code: use files you trust) or a dmsil.prepare store"
    )
    p.add_argument("--split", choices=("train", "valid", "test"), default="test")
    p.add_argument(
        "--dataset", choices=("mosi", "mosei", "sims"), help="default: the one the checkpoint was trained for"
    )
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    add_device_argument(p)
    add_verbosity(p)
    args = p.parse_args(argv)
    setup_logging(args, logging.WARNING)
    try:
        from dmsil import default_checkpoint

        dirs = checkpoint_dirs(Path(args.checkpoint) if args.checkpoint else default_checkpoint())
        dataset = args.dataset or checkpoint.read_config(dirs[0]).get("train", {}).get("dataset", "mosi")
        device = devices.resolve(args.device)
        models = {d: checkpoint.load(d, device) for d in dirs}
        data = load(args.data)
        per_seed = {}
        for d, model in models.items():
            _check_dims(model, data, d)
            per_seed[d.name] = evaluate_model(model, data, args.split, dataset)
    except DmsilError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    result = per_seed[dirs[0].name] if len(dirs) == 1 else summarize_seeds(per_seed)
    if args.json:
        print(json.dumps(result, indent=2))
    elif len(dirs) == 1:
        print(format_table(result))
    else:
        print(f"mean over {len(dirs)} seeds")
        print(format_table(result["mean"]))
    return 0


def _check_dims(model: DMSIL, data: MMSAData, where: Path) -> None:
    dt, da, dv = data.dims
    c = model.config
    expected = (None if c.text_model else c.text_dim, c.audio_dim, c.video_dim)
    found = (None if c.text_model else dt, da, dv)
    if expected != found:
        raise DmsilError(f"{data.path}: feature sizes {found} do not match the checkpoint {where} ({expected})")


if __name__ == "__main__":
    sys.exit(main())
