"""Training with Self-MM's recipe plus the alignment terms, early-stopped on validation loss.

python -m dmsil.train --data mosi.pkl --dataset mosi --out runs/mosi --seeds 1111,1112,1113,1114,1115
python -m dmsil.train --data mosi.pkl --dataset mosi --out runs/selfmm --no-align   # Self-MM baseline
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import math
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from dmsil import checkpoint, devices, distributed
from dmsil.cli import add_device_argument, add_verbosity, setup_logging
from dmsil.config import AlignmentConfig, FeatureSpec, ModelConfig, TrainConfig, parse_pairs
from dmsil.data import MMSAData, load
from dmsil.data.batches import Batcher
from dmsil.data.mmsa import Split
from dmsil.errors import DataError, DmsilError
from dmsil.evaluate import evaluate_model, predict, summarize_seeds
from dmsil.labels import FEATURE_KEYS, LabelGenerator
from dmsil.losses import LOSSES, total_loss
from dmsil.model import DMSIL, HEADS

log = logging.getLogger(__name__)
B = TypeVar("B")


@dataclass
class EpochStats:
    epoch: int
    train_loss: float
    alignment: dict[str, float]
    """Mean weighted CORAL term per pair over the epoch's batches."""
    valid_mae: float
    seconds: float
    steps: int = 0
    """Optimizer steps taken (one per ``update_every`` batches)."""


@dataclass
class TrainResult:
    model: DMSIL
    best_epoch: int
    best_valid_mae: float
    history: list[EpochStats] = field(default_factory=list)


@dataclass
class GivenLabels:
    """A head's own labels from the data; NaN (no label) becomes weight 0."""

    labels: torch.Tensor
    weights: torch.Tensor

    def batch(self, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.labels[idx], self.weights[idx]


def given_labels(split: Split, heads: tuple[str, ...], where: str) -> dict[str, GivenLabels]:
    found = {}
    for head in heads:
        if head not in split.unimodal_labels:
            raise DataError(f"{where}: given labels for head {head} requested but 'regression_labels_{head}' is absent")
        raw = torch.from_numpy(np.asarray(split.unimodal_labels[head], dtype=np.float32))
        known = torch.isfinite(raw)
        found[head] = GivenLabels(torch.where(known, raw, torch.zeros_like(raw)), known.float())
    return found


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def build_optimizer(model: DMSIL, cfg: TrainConfig) -> torch.optim.Adam:
    """Self-MM's parameter groups: transformer (no decay on biases/LayerNorm), audio, video, the rest."""
    groups: dict[str, list[torch.nn.Parameter]] = {
        "text": [],
        "text_no_decay": [],
        "audio": [],
        "video": [],
        "other": [],
    }
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        if name.startswith("text_encoder.transformer."):
            no_decay = name.endswith("bias") or "LayerNorm" in name or "layer_norm" in name
            groups["text_no_decay" if no_decay else "text"].append(param)
        elif name.startswith("audio_encoder."):
            groups["audio"].append(param)
        elif name.startswith("video_encoder."):
            groups["video"].append(param)
        else:
            groups["other"].append(param)
    settings = {
        "text": (cfg.lr_text, cfg.weight_decay_text),
        "text_no_decay": (cfg.lr_text, 0.0),
        "audio": (cfg.lr_audio, cfg.weight_decay_audio),
        "video": (cfg.lr_video, cfg.weight_decay_video),
        "other": (cfg.lr_other, cfg.weight_decay_other),
    }
    return torch.optim.Adam(
        [{"params": p, "lr": settings[k][0], "weight_decay": settings[k][1]} for k, p in groups.items() if p]
    )


@dataclass
class LoopState:
    """Where an early-stopped run stands, JSON-able so a recipe can keep it beside a resume point."""

    epoch: int = 0
    """The last finished epoch."""
    best_epoch: int = 0
    best_valid: float = math.inf
    history: list[dict[str, Any]] = field(default_factory=list)
    """Per epoch: ``epoch``, what :meth:`Recipe.train_epoch` returned, the validation loss, ``seconds``."""


@dataclass(frozen=True)
class EarlyStopping:
    max_epochs: int
    patience: int
    """Epochs without validation gain before stopping."""
    min_delta: float = 1e-6
    """A gain smaller than this is no gain."""


class Recipe:
    """What :func:`fit` asks of a training recipe: one epoch, one validation loss, keeping the best weights."""

    valid_name = "valid_loss"
    """The validation loss's key in the history (and, upper-cased after ``valid_``, its name in the log)."""

    def train_epoch(self, epoch: int) -> dict[str, Any]:
        """Train one epoch; returns at least ``train_loss``, and anything else the history should keep."""
        raise NotImplementedError

    def validate(self) -> float:
        """Validation loss of the model as it is now: lower is better."""
        raise NotImplementedError

    def keep_best(self, epoch: int) -> None:
        """The model just reached its best validation loss: keep its weights to restore at the end."""
        raise NotImplementedError

    def end_epoch(self, state: LoopState) -> None:
        """Called after every epoch's bookkeeping (e.g. to save a resume point)."""

    def describe(self, record: dict[str, Any]) -> str:
        """Extra text for an epoch's log line."""
        return ""


def fit(recipe: Recipe, stop: EarlyStopping, state: LoopState | None = None) -> LoopState:
    """Epochs until ``stop.max_epochs`` or ``stop.patience`` epochs without gain; resumes after ``state.epoch``.

    Returns the new state (``state`` itself is left as it was).
    """
    state = copy.deepcopy(state) if state else LoopState()
    label = recipe.valid_name.removeprefix("valid_").upper()
    for epoch in range(state.epoch + 1, stop.max_epochs + 1):
        if state.epoch > state.best_epoch and state.epoch - state.best_epoch >= stop.patience:
            log.info("early stop: no validation gain for %d epochs", stop.patience)
            break
        start = time.perf_counter()
        record: dict[str, Any] = {"epoch": epoch, **recipe.train_epoch(epoch)}
        valid = recipe.validate()
        record[recipe.valid_name], record["seconds"] = valid, time.perf_counter() - start
        state.history.append(record)
        improved = valid <= state.best_valid - stop.min_delta
        log.info(
            "epoch %d  train loss %.4f%s  valid %s %.4f%s  (%.1fs)",
            epoch,
            record["train_loss"],
            recipe.describe(record),
            label,
            valid,
            "  *" if improved else "",
            record["seconds"],
        )
        state.epoch = epoch
        if improved:
            state.best_epoch, state.best_valid = epoch, valid
            recipe.keep_best(epoch)
        recipe.end_epoch(state)
    return state


@dataclass(frozen=True)
class StepOptions:
    update_every: int = 1
    """Batches whose gradients add up to one optimizer step."""
    step_partial_group: bool = False
    """Also step on the epoch's trailing batches when they are fewer than ``update_every``."""
    progress: bool = True
    leave: bool = True
    """Leave the epoch's progress bar on screen when it ends."""


def run_epoch(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    batches: Sequence[B],
    loss_of: Callable[[B], torch.Tensor],
    desc: str,
    options: StepOptions | None = None,
    scaler: torch.amp.GradScaler | None = None,
) -> tuple[float, int]:
    """One pass over ``batches`` (backward on ``loss_of(batch)``); returns the mean loss and the optimizer steps."""
    options = options or StepOptions()
    scaler = scaler or torch.amp.GradScaler("cuda", enabled=False)
    model.train()
    optimizer.zero_grad()
    total, steps = 0.0, 0
    bar = tqdm(batches, desc=desc, disable=not options.progress, leave=options.leave, file=sys.stderr)
    for step, batch in enumerate(bar, 1):
        loss = loss_of(batch)
        scaler.scale(loss).backward()
        total += loss.item()
        if step % options.update_every == 0 or (step == len(batches) and options.step_partial_group):
            scaler.step(optimizer)
            scaler.update()
            optimizer.zero_grad()
            steps += 1
        bar.set_postfix(loss=f"{total / step:.3f}", refresh=False)
    bar.close()
    return total / len(batches), steps


class SelfMM(Recipe):
    """Self-MM's recipe on an MMSA split: ULGM labels, the multi-task loss plus alignment, DDP when launched so."""

    valid_name = "valid_mae"

    def __init__(self, data: MMSAData, model_config: ModelConfig, cfg: TrainConfig, progress: bool = True):
        where = str(data.path)
        self.data, self.cfg, self.progress = data, cfg, progress
        t_model, t_len = model_config.text_model, model_config.text_max_length
        self.train_b = Batcher(data.splits["train"], t_model, t_len, f"{where} [train]")
        self.valid_b = Batcher(data.splits["valid"], t_model, t_len, f"{where} [valid]")
        device = devices.resolve(cfg.device)
        self.ranks = distributed.setup(device)
        self.device = device = distributed.local_device(device, self.ranks)
        self.amp = cfg.amp and device.type == "cuda"
        if cfg.amp and not self.amp:
            log.warning("--amp: mixed precision is for CUDA; training on %s in float32", device)
        self.model = model = DMSIL(model_config).to(device)
        cuda = [device.index] if device.type == "cuda" else None
        self.net = DistributedDataParallel(model, cuda) if self.ranks.active else model
        c = model.config
        self.ulgm = LabelGenerator(
            len(self.train_b),
            {"M": c.post_fusion_dim, "T": c.post_text_dim, "A": c.post_audio_dim, "V": c.post_video_dim},
            bound=c.label_bound,
            exclude_zero=cfg.exclude_zero,
            device=device,
        )
        labels = torch.from_numpy(data.splits["train"].labels).to(device)
        self.ulgm.init_labels(torch.arange(len(self.train_b), device=device), labels)
        self.given = {h: GivenLabels(g.labels.to(device), g.weights.to(device))
                      for h, g in given_labels(data.splits["train"], cfg.given_labels, where).items()}  # fmt: skip
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp)
        self.loss_fn = LOSSES[cfg.loss]
        self.optimizer = build_optimizer(model, cfg)
        self.rng = np.random.default_rng(cfg.seed)
        self.best_state = copy.deepcopy(model.state_dict())

    def train_epoch(self, epoch: int) -> dict[str, Any]:
        ranks, device = self.ranks, self.device
        # every rank needs a share of every global batch: a last batch smaller than the number of ranks is left out
        batches = [b for b in self.train_b.order(self.cfg.batch_size, True, self.rng) if len(b) >= ranks.world]
        align_sums = dict.fromkeys(self.model.config.alignment.pairs, 0.0)
        options = StepOptions(self.cfg.update_every, self.cfg.step_partial_group, self.progress and ranks.main, False)

        def loss_of(batch: np.ndarray) -> torch.Tensor:
            loss, aligns = self.batch_loss(batch, epoch)
            for pair, value in aligns.items():
                align_sums[pair] += value
            return loss

        mean, steps = run_epoch(self.model, self.optimizer, batches, loss_of, f"epoch {epoch}", options, self.scaler)
        n = len(batches)
        return {
            "train_loss": distributed.mean(mean, ranks, device),
            "alignment": {p: distributed.mean(s / n, ranks, device) for p, s in align_sums.items()},
            "steps": steps,
        }

    def batch_loss(self, batch: np.ndarray, epoch: int) -> tuple[torch.Tensor, dict[str, float]]:
        """The batch's loss and alignment terms; ULGM's memories and labels take the batch in."""
        local = distributed.shard(batch, self.ranks)
        idx, inputs = torch.from_numpy(local).to(self.device), devices.to(self.train_b.inputs(local), self.device)
        with torch.autocast(self.device.type, dtype=torch.float16, enabled=self.amp):
            out = self.net(**inputs)
            tasks = {h: self.loss_fn(out[h], *self.head_labels(h, idx)) for h in HEADS}
            aligns = self.model.alignment_losses(out)
            loss = total_loss(tasks, aligns)
        # ULGM's memories see the whole global batch, gathered from every rank (identical on each); the loss
        # above holds copies of the labels it used, so updating them before its backward changes nothing
        seen = {k: distributed.gather_rows(out[k].detach(), self.ranks) for k in FEATURE_KEYS.values()}
        seen_idx = distributed.gather_rows(idx, self.ranks)
        if epoch > 1:
            self.ulgm.update_labels(seen, seen_idx, epoch)
        self.ulgm.update_features(seen, seen_idx)
        self.ulgm.update_centres()
        return loss, {pair: value.item() for pair, value in aligns.items()}

    def head_labels(self, head: str, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(labels, weights) of a head for the batch: given by the data, or ULGM's."""
        if head in self.given:
            return self.given[head].batch(idx)
        return self.ulgm.labels[head][idx], self.ulgm.weights(head, idx)

    def validate(self) -> float:
        pred = predict(self.model, self.valid_b, self.cfg.batch_size)["M"]
        valid_mae = float(np.mean(np.abs(pred - self.data.splits["valid"].labels)))
        return distributed.broadcast(valid_mae, self.ranks, self.device)  # early stopping: one decision, rank 0's

    def keep_best(self, epoch: int) -> None:
        self.best_state = copy.deepcopy(self.model.state_dict())

    def describe(self, record: dict[str, Any]) -> str:
        return f"  align { ({p: round(v, 5) for p, v in record['alignment'].items()}) }"


def train(data: MMSAData, model_config: ModelConfig, cfg: TrainConfig, progress: bool = True) -> TrainResult:
    """Train one seed; returns the model restored to its best validation epoch."""
    seed_everything(cfg.seed)
    if cfg.num_threads:
        torch.set_num_threads(cfg.num_threads)
    recipe = SelfMM(data, model_config, cfg, progress)
    state = fit(recipe, EarlyStopping(cfg.max_epochs, cfg.early_stop))
    recipe.model.load_state_dict(recipe.best_state)
    recipe.model.eval()
    history = [EpochStats(**record) for record in state.history]
    return TrainResult(recipe.model, state.best_epoch, state.best_valid, history)


def run_seeds(
    data: MMSAData,
    model_config: ModelConfig,
    train_configs: list[TrainConfig],
    out: Path,
    features: FeatureSpec,
    progress: bool = True,
) -> dict:
    """Train every seed, evaluate on test, save each checkpoint; returns the per-seed and mean metrics."""
    per_seed = {}
    for cfg in train_configs:
        log.info(
            "seed %d: training on %s (%d train / %d valid samples)",
            cfg.seed,
            data.path,
            len(data.splits["train"]),
            len(data.splits["valid"]),
        )
        result = train(data, copy.deepcopy(model_config), cfg, progress)
        if not distributed.current().main:  # under torchrun, rank 0 evaluates and writes
            continue
        metrics = evaluate_model(result.model, data, "test", cfg.dataset, cfg.batch_size)
        metrics["best_epoch"], metrics["valid_MAE"] = result.best_epoch, result.best_valid_mae
        result.model.cpu()  # checkpoints are written from the CPU, whatever trained them
        ckpt_dir = out if len(train_configs) == 1 else out / f"seed-{cfg.seed}"
        checkpoint.save(
            result.model,
            ckpt_dir,
            features,
            metrics,
            extra={
                "train": asdict(cfg),
                "processes": distributed.current().world,
                "data": str(data.path),
                "history": [asdict(h) for h in result.history],
            },
        )
        log.info("seed %d: test %s  -> %s", cfg.seed, _brief(metrics), ckpt_dir)
        per_seed[cfg.seed] = metrics
    if not per_seed:  # a rank other than 0: nothing of its own to report
        return {}
    summary = summarize_seeds(per_seed)
    if len(train_configs) > 1:
        (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def _brief(metrics: dict) -> str:
    return "  ".join(
        f"{k} {v:.4f}"
        for k, v in metrics.items()
        if isinstance(v, float) and k in ("MAE", "Corr", "Has0_acc_2", "Non0_acc_2", "Mult_acc_2", "Mult_acc_7")
    )


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m dmsil.train", description="Train the dmsil model on an MMSA pickle.")
    train, model = TrainConfig(), ModelConfig()  # the defaults below are theirs
    p.add_argument(
        "--data",
        required=True,
        help="MMSA pickle (pickle runs code: use files you trust) or a dmsil.prepare feature store",
    )
    p.add_argument(
        "--dataset", choices=("mosi", "mosei", "sims"), default=train.dataset, help="metrics, label range and presets"
    )
    p.add_argument("--out", required=True, help="checkpoint directory (one sub-directory per seed when several)")
    p.add_argument(
        "--epochs", type=int, default=train.max_epochs, help="maximum epochs (early stopping usually ends sooner)"
    )
    p.add_argument(
        "--early-stop", type=int, default=train.early_stop, help="epochs without validation gain before stopping"
    )
    p.add_argument("--batch-size", type=int, help="default: Self-MM's per-dataset value")
    p.add_argument("--seeds", default=str(train.seed), help="comma-separated seeds; Self-MM reports 1111-1115 averaged")
    p.add_argument(
        "--pairs", default=",".join(model.alignment.pairs), help="modality pairs whose covariances are aligned"
    )
    p.add_argument(
        "--align-weight", default=str(model.alignment.weights[0]), help="lambda per pair (one value, or one per pair)"
    )
    p.add_argument("--shared-dim", type=int, default=model.alignment.shared_dim, help="size of the shared space")
    p.add_argument("--no-align", action="store_true", help="the Self-MM baseline: no shared branch at all")
    p.add_argument("--text-model", help="local transformers model directory to fine-tune on raw_text")
    p.add_argument(
        "--text-max-length",
        type=int,
        default=model.text_max_length,
        help="tokens per utterance for --text-model (SIMS: 39)",
    )
    p.add_argument("--threads", type=int, default=train.num_threads, help="torch threads (0 = torch's default)")
    add_device_argument(p, train.device)
    p.add_argument("--amp", action="store_true", help="mixed precision on CUDA (float16 autocast)")
    add_verbosity(p)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args, logging.INFO)
    try:
        seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
        pairs = () if args.no_align else parse_pairs(args.pairs)
        weights = tuple(float(w) for w in args.align_weight.split(",")) if pairs else ()
        alignment = AlignmentConfig(pairs=pairs, weights=weights, shared_dim=args.shared_dim)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        devices.resolve(args.device)  # a device that is not here: one line, before any data is read
        data = load(args.data, args.dataset)
        dt, da, dv = data.dims
        model_config = ModelConfig.for_dataset(
            args.dataset,
            text_dim=dt or 768,
            audio_dim=da,
            video_dim=dv,
            text_model=args.text_model,
            text_max_length=args.text_max_length,
            alignment=alignment,
        )
        overrides = {"max_epochs": args.epochs, "early_stop": args.early_stop, "num_threads": args.threads,
                     "device": args.device, "amp": args.amp}  # fmt: skip
        if args.batch_size:
            overrides["batch_size"] = args.batch_size
        configs = [TrainConfig.for_dataset(args.dataset, seed=s, **overrides) for s in seeds]
        summary = run_seeds(
            data, model_config, configs, Path(args.out), data.features or FeatureSpec.from_pickle(data), not args.quiet
        )
    except DmsilError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        distributed.finish()
    if summary:
        print(_brief(summary["mean"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
