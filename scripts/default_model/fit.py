"""The default model's training: the cached frozen text states and face clips through :func:`dmsil.train.fit`.

Each epoch shows every training sentence (some with a face clip beside them) and every clip alone, in
batches of similar text length. The loop, early stopping and optimizer steps are :mod:`dmsil.train`'s;
this recipe adds what differs: a per-epoch random stream (so a resumed run draws the same batches),
mean-squared loss on graded targets per head, and a resume point after every epoch.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from dmsil import metrics
from dmsil.calibration import Calibration
from dmsil.config import TrainConfig
from dmsil.data.store import pad_frames
from dmsil.evaluate import gather
from dmsil.features import normalize
from dmsil.features.face import FACE_DIM
from dmsil.features.text import encode, load_tokenizer
from dmsil.losses import total_loss, weighted_mse
from dmsil.model import DMSIL
from dmsil.train import EarlyStopping, LoopState, Recipe, build_optimizer, fit, run_epoch
from scripts.default_model.faces import FaceClip
from scripts.default_model.options import ENCODERS, DefaultOptions
from scripts.default_model.sentences import Sentence
from scripts.default_model.text_cache import FrozenTextStates, StackedStates, cache_key

log = logging.getLogger(__name__)


@dataclass
class TrainingData:
    """What the epochs read: sentences with their cached frozen states, and face clips with their statistics."""

    texts: list[Sentence]
    """Training, validation and spoken sentences, in the cache's order."""
    cache: StackedStates
    train: np.ndarray
    """Cache indices trained on: written sentences and their spoken copies."""
    valid: np.ndarray
    clips: dict[str, list[FaceClip]]
    """Per split."""
    stats: dict
    """Normalization of the face features (from the training clips)."""


@dataclass
class Rows:
    """One epoch's inputs: text rows (index into the cache, maybe a clip) and face-only rows."""

    text: np.ndarray
    """Cache index per row, -1 for a face-only row."""
    clip: np.ndarray
    """Clip index per row, -1 for none."""


def epoch_rows(text: np.ndarray, n_clips: int, face_share: float, rng: np.random.Generator) -> Rows:
    """Every training text (cache indices ``text``), some with a face clip, and every clip alone."""
    n_text = len(text)
    with_face = rng.random(n_text) < face_share
    clip = np.where(with_face, rng.integers(0, max(n_clips, 1), n_text), -1) if n_clips else np.full(n_text, -1)
    return Rows(
        np.concatenate([text, np.full(n_clips, -1)]),
        np.concatenate([clip, np.arange(n_clips)]),
    )


def batches(rows: Rows, lengths: np.ndarray, size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Shuffled batches of rows of similar text length (little padding), in random order."""
    order = rng.permutation(len(rows.text))
    key = np.where(rows.text[order] >= 0, lengths[np.maximum(rows.text[order], 0)], 0)
    chunks = []
    for start in range(0, len(order), size * 50):
        part = order[start : start + size * 50]
        part = part[np.argsort(key[start : start + size * 50], kind="stable")]
        chunks += [part[i : i + size] for i in range(0, len(part), size)]
    return [chunks[i] for i in rng.permutation(len(chunks))]


def step_outputs(
    model: DMSIL, cache: FrozenTextStates, clips: list[FaceClip], stats: dict, rows: Rows, idx: np.ndarray
):
    """Model outputs for a batch of rows: cached text through the fine-tuned layers, clips through the LSTM."""
    text_rows = rows.text[idx]
    has_text = text_rows >= 0
    n = len(idx)
    t = torch.zeros(n, model.config.text_out)
    if has_text.any():
        states, mask = cache.batch(text_rows[has_text])
        t[torch.from_numpy(has_text)] = model.text_encoder.from_frozen(states, mask)
    frames = [
        normalize(clips[c].frames, stats) if c >= 0 else np.zeros((0, FACE_DIM), np.float32) for c in rows.clip[idx]
    ]
    video, lengths = pad_frames(frames, FACE_DIM)
    unimodal = {
        "T": t,
        "A": torch.zeros(n, model.config.audio_out),
        "V": model.video_encoder(torch.from_numpy(video), torch.from_numpy(lengths)),
    }
    return model.fuse(unimodal)


def targets(texts: list[Sentence], clips: list[FaceClip], rows: Rows, idx: np.ndarray, w: float) -> dict[str, tuple]:
    """Per head (target, weight) tensors; weight 0 where a head has no label for the row."""
    n = len(idx)
    text_t, text_w = np.zeros(n, np.float32), np.zeros(n, np.float32)
    face_t, face_w = np.zeros(n, np.float32), np.zeros(n, np.float32)
    for j, (ti, ci) in enumerate(zip(rows.text[idx], rows.clip[idx], strict=True)):
        if ti >= 0:
            text_t[j], text_w[j] = texts[ti].target, texts[ti].weight
        if ci >= 0:
            face_t[j], face_w[j] = clips[ci].teacher, 1.0
    both = (text_w > 0) & (face_w > 0)
    fused = np.where(both, (1 - w) * text_t + w * face_t, np.where(text_w > 0, text_t, face_t))
    fused_w = np.where(text_w > 0, text_w, face_w)
    as_t = torch.from_numpy
    return {
        "M": (as_t(fused.astype(np.float32)), as_t(fused_w.astype(np.float32))),
        "T": (as_t(text_t), as_t(text_w)),
        "V": (as_t(face_t), as_t(face_w)),
    }


def validate(model: DMSIL, data: TrainingData, w: float) -> float:
    """Mean of the fused, text and video heads' weighted MSE on the validation sentences and clips."""
    clips, n_text = data.clips["valid"], len(data.valid)
    rows = Rows(np.concatenate([data.valid, np.full(len(clips), -1)]),
                np.concatenate([np.full(n_text, -1), np.arange(len(clips))]))  # fmt: skip
    n = len(rows.text)
    chunks = [np.arange(start, min(start + 128, n)) for start in range(0, n, 128)]
    truth = targets(data.texts, clips, rows, np.arange(n), w)
    pred = gather(
        model, lambda idx: step_outputs(model, data.cache, clips, data.stats, rows, idx), chunks, tuple(truth)
    )
    return float(np.mean([metrics.mse(pred[h], t.numpy(), wt.numpy()) for h, (t, wt) in truth.items()]))


def save_resume(path: Path, model: DMSIL, optimizer: torch.optim.Optimizer, state: LoopState) -> None:
    """Trainable weights, optimizer moments (safetensors) and the loop's state (JSON): no pickle."""
    tensors = {f"model/{k}": v.detach().contiguous() for k, v in model.state_dict().items()}
    opt = optimizer.state_dict()
    for i, entry in opt["state"].items():
        for name, value in entry.items():
            tensors[f"opt/{i}/{name}"] = torch.as_tensor(value).detach().contiguous()
    save_file(tensors, str(path.with_suffix(".safetensors")))
    path.with_suffix(".json").write_text(json.dumps({**asdict(state), "param_groups": opt["param_groups"]}))


def load_resume(path: Path, model: DMSIL, optimizer: torch.optim.Optimizer) -> LoopState | None:
    """The state saved by :func:`save_resume`, with the model and optimizer restored; None when there is none."""
    if not path.with_suffix(".json").is_file():
        return None
    state = json.loads(path.with_suffix(".json").read_text())
    tensors = load_file(str(path.with_suffix(".safetensors")))
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model/")})
    opt_state: dict[int, dict] = {}
    for key, value in tensors.items():
        if key.startswith("opt/"):
            _, i, name = key.split("/", 2)
            opt_state.setdefault(int(i), {})[name] = value
    optimizer.load_state_dict({"state": opt_state, "param_groups": state.pop("param_groups")})
    return LoopState(**state)


class DefaultRecipe(Recipe):
    """One epoch of the default model: its own batches and targets inside :func:`dmsil.train.run_epoch`."""

    valid_name = "valid_mse"

    def __init__(self, opts: DefaultOptions, model: DMSIL, data: TrainingData, run_dir: Path):
        self.opts, self.model, self.data, self.run_dir = opts, model, data, run_dir
        cfg = TrainConfig(lr_text=opts.lr_text, lr_other=opts.lr_other, loss="mse", seed=opts.seed)
        self.optimizer = build_optimizer(model, cfg)

    def train_epoch(self, epoch: int) -> dict[str, float]:
        opts, data, clips = self.opts, self.data, self.data.clips["train"]
        rng = np.random.default_rng([opts.seed, epoch])  # one stream per epoch: a resumed run draws the same
        torch.manual_seed(opts.seed * 1000 + epoch)
        rows = epoch_rows(data.train, len(clips), opts.face_share, rng)
        plan = batches(rows, data.cache.lengths, opts.batch_size, rng)

        def loss_of(idx: np.ndarray) -> torch.Tensor:
            out = step_outputs(self.model, data.cache, clips, data.stats, rows, idx)
            labels = targets(data.texts, clips, rows, idx, opts.video_weight)
            return total_loss(
                {h: weighted_mse(out[h], *tw) for h, tw in labels.items()}, self.model.alignment_losses(out)
            )

        mean, _ = run_epoch(self.model, self.optimizer, plan, loss_of, f"epoch {epoch}")
        return {"train_loss": mean}

    def validate(self) -> float:
        return validate(self.model, self.data, self.opts.video_weight)

    def keep_best(self, epoch: int) -> None:
        save_file(
            {k: v.contiguous() for k, v in self.model.state_dict().items()}, str(self.run_dir / "best.safetensors")
        )

    def end_epoch(self, state: LoopState) -> None:
        save_resume(self.run_dir / "resume", self.model, self.optimizer, state)


def training_data(
    opts: DefaultOptions, split: dict[str, list[Sentence]], clips: dict[str, list[FaceClip]], stats: dict, model: DMSIL
) -> tuple[TrainingData, str]:
    """The sentences' frozen states, built once (or read back) per corpus and encoder; and the cache's key."""
    tokenizer = load_tokenizer(model.config.text_model)
    name = ENCODERS[opts.encoder]
    parts, keys = [], []
    # written sentences and their spoken copies are cached apart: adding copies keeps the big part's states
    for rows in (split["train"] + split["valid"], split["spoken"]):
        if rows:
            ids, mask = encode(tokenizer, [s.text for s in rows], opts.max_length)
            keys.append(
                cache_key(name, model.text_encoder.first_trained_layer, opts.max_length, [s.text for s in rows])
            )
            parts.append(FrozenTextStates.build(opts.work / "states", keys[-1], model.text_encoder, ids, mask))
    texts = split["train"] + split["valid"] + split["spoken"]
    n_train, n_valid = len(split["train"]), len(split["valid"])
    train_idx = np.concatenate([np.arange(n_train), np.arange(n_train + n_valid, len(texts))])
    valid_idx = np.arange(n_train, n_train + n_valid)
    return TrainingData(texts, StackedStates(parts), train_idx, valid_idx, clips, stats), "+".join(keys)


def fit_model(
    opts: DefaultOptions, split: dict[str, list[Sentence]], clips: dict[str, list[FaceClip]], stats: dict, model: DMSIL
) -> tuple[LoopState, dict[str, Calibration]]:
    """Train from the cached frozen states, resuming after the last finished epoch; the run and its calibration."""
    data, key = training_data(opts, split, clips, stats, model)
    warm = "-warm" if opts.warm_start else ""
    run_dir = opts.work / "runs" / f"{key}-{opts.seed}-{opts.lr_text:g}-{opts.train_layers}{warm}"
    run_dir.mkdir(parents=True, exist_ok=True)
    recipe = DefaultRecipe(opts, model, data, run_dir)
    state = load_resume(run_dir / "resume", model, recipe.optimizer) or LoopState()
    if state.epoch:
        log.info("resuming after epoch %d (best %d)", state.epoch, state.best_epoch)
    state = fit(recipe, EarlyStopping(opts.epochs, opts.early_stop), state)
    model.load_state_dict(load_file(str(run_dir / "best.safetensors")))
    model.eval()
    return state, fit_calibration(model, data)


def fit_calibration(model: DMSIL, data: TrainingData) -> dict[str, Calibration]:
    """Isotonic maps of the text and fused heads' text-only scores onto the validation targets."""
    valid = data.valid
    rows = Rows(valid, np.full(len(valid), -1))
    chunks = [np.arange(start, min(start + 256, len(valid))) for start in range(0, len(valid), 256)]
    raw = gather(model, lambda idx: step_outputs(model, data.cache, [], {}, rows, idx), chunks, ("T", "M"))
    y = np.array([data.texts[i].target for i in valid])
    w = np.array([data.texts[i].weight for i in valid])
    return {h: Calibration.fit(v, y, w) for h, v in raw.items()}
