"""Synthetic MMSA-format data with a planted shared/private structure, for tests and benchmarks.

Each sample has a *shared* factor ``s`` seen by all three modalities and a *private* factor per
modality ``p_T, p_A, p_V`` seen by that modality only. The sentiment label mixes all four, so a model
must read every modality to predict it well, and what the modalities have in common is exactly ``s``.
Text comes as BERT-like token states (the [CLS] position summarises the sentence) and as words whose
polarity follows the text's view; audio and video are variable-length frame sequences, zero-padded.

    python -m dmsil.data.synthetic --out synth.pkl --n 2000 --seed 1
"""

from __future__ import annotations

import argparse
import logging
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dmsil.cli import add_verbosity, setup_logging

log = logging.getLogger(__name__)

POSITIVE = ("great", "wonderful", "good", "enjoyed", "loved", "brilliant", "fun", "moving")
NEGATIVE = ("bad", "boring", "awful", "hated", "dull", "terrible", "weak", "annoying")
NEUTRAL = ("the", "movie", "it", "was", "story", "and", "then", "actors", "a", "plot", "i", "think")


@dataclass(frozen=True)
class SyntheticSpec:
    """Shapes and strengths of the planted structure (defaults: MOSI-like sizes)."""

    n: int = 2000
    seed: int = 1
    dims: tuple[int, int, int] = (768, 5, 20)
    max_lengths: tuple[int, int, int] = (50, 500, 375)
    shared_weight: float = 1.0
    private_weights: tuple[float, float, float] = (0.6, 0.5, 0.5)
    noise: float = 0.2
    feature_noise: float = 1.0
    dataset: str = "mosi"
    """``mosi`` labels in [-3, 3] rounded to 0.2 (annotator means); ``sims`` in [-1, 1] with T/A/V labels."""
    split_fractions: tuple[float, float, float] = (0.6, 0.15, 0.25)


def _frames(rng: np.random.Generator, factors: np.ndarray, dim: int, max_len: int, lengths: np.ndarray, noise: float):
    """Frames whose mean over valid time encodes ``factors`` through a random mixing, zero after length."""
    n = len(factors)
    mixing = rng.normal(size=(factors.shape[1], dim)) / np.sqrt(factors.shape[1])
    gain = rng.uniform(0.5, 1.5, size=(n, max_len, 1))
    x = gain * (factors @ mixing)[:, None, :] + noise * rng.normal(size=(n, max_len, dim))
    x[np.arange(max_len)[None, :] >= lengths[:, None]] = 0.0
    return x.astype(np.float32)


def _words(rng: np.random.Generator, view: float, n_words: int) -> list[str]:
    """A sentence whose sentiment words follow the sign and size of the text's view of the label."""
    k = min(n_words, int(round(abs(view) * 2)) + 1)
    lexicon = POSITIVE if view >= 0 else NEGATIVE
    words = list(rng.choice(NEUTRAL, size=n_words - k)) + list(rng.choice(lexicon, size=k))
    rng.shuffle(words)
    return [str(w) for w in words]


def make(spec: SyntheticSpec) -> dict:
    """An MMSA-format dict (train/valid/test) drawn from ``spec``."""
    rng = np.random.default_rng(spec.seed)
    n = spec.n
    dt, da, dv = spec.dims
    lt_max, la_max, lv_max = spec.max_lengths
    shared = rng.normal(size=n)
    private = rng.normal(size=(n, 3))
    raw = spec.shared_weight * shared + private @ np.asarray(spec.private_weights) + spec.noise * rng.normal(size=n)
    raw = raw / raw.std()

    lengths_t = rng.integers(max(3, lt_max // 5), lt_max + 1, size=n)
    lengths_a = rng.integers(max(2, la_max // 5), la_max + 1, size=n)
    lengths_v = rng.integers(max(2, lv_max // 5), lv_max + 1, size=n)
    views = (
        np.stack([shared, private[:, 0]], 1),
        np.stack([shared, private[:, 1]], 1),
        np.stack([shared, private[:, 2]], 1),
    )

    text = _frames(rng, views[0], dt, lt_max, lengths_t, spec.feature_noise)
    text[:, 0] = (views[0] @ rng.normal(size=(2, dt)) + 0.3 * spec.feature_noise * rng.normal(size=(n, dt))).astype(
        np.float32
    )
    audio = _frames(rng, views[1], da, la_max, lengths_a, spec.feature_noise)
    vision = _frames(rng, views[2], dv, lv_max, lengths_v, spec.feature_noise)

    text_view = views[0] @ np.array([spec.shared_weight, spec.private_weights[0]])
    raw_text, text_bert = _transcripts(rng, text_view, lengths_t, lt_max)
    labels, unimodal = _labels(spec, raw, views)
    columns = {
        "id": [f"synthetic_{i:06d}" for i in range(n)],
        "raw_text": raw_text,
        "text": text,
        "text_bert": text_bert,
        "audio": audio,
        "audio_lengths": lengths_a.astype(np.int64),
        "vision": vision,
        "vision_lengths": lengths_v.astype(np.int64),
        "regression_labels": labels.astype(np.float32),
        **{f"regression_labels_{m}": values.astype(np.float32) for m, values in unimodal.items()},
    }
    return _split(rng, columns, n, spec.split_fractions)


def _transcripts(rng, text_view: np.ndarray, lengths: np.ndarray, max_len: int) -> tuple[list[str], np.ndarray]:
    """Words whose polarity follows each sample's text view, and their BERT-style ids, mask and segments."""
    raw_text, text_bert = [], np.zeros((len(lengths), 3, max_len), dtype=np.float32)
    for i, length in enumerate(lengths):
        words = _words(rng, text_view[i], int(length) - 2)
        raw_text.append(" ".join(words))
        ids = [101] + [1000 + (sum(map(ord, w)) * 7919) % 28000 for w in words] + [102]
        text_bert[i, 0, : len(ids)] = ids
        text_bert[i, 1, : len(ids)] = 1
    return raw_text, text_bert


def _labels(spec: SyntheticSpec, raw: np.ndarray, views) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Labels on the dataset's scale in steps of 0.2 (SIMS: [-1, 1] with per-modality labels; else [-3, 3])."""
    if spec.dataset == "sims":
        labels = np.round(np.clip(raw / 2.0, -1, 1) * 5) / 5
        unimodal = {
            m: np.round(np.clip(v @ [1.0, 1.0] / 2.5, -1, 1) * 5) / 5 for m, v in zip("TAV", views, strict=True)
        }
        return labels, unimodal
    return np.round(np.clip(raw * 1.5, -3, 3) * 5) / 5, {}


def _split(rng, columns: dict, n: int, fractions) -> dict:
    """Train/valid/test of a random order of the ``n`` samples (every column indexed the same way)."""
    order = rng.permutation(n)
    cuts = np.cumsum([int(round(f * n)) for f in fractions[:2]])
    return {
        name: {k: [v[i] for i in idx] if isinstance(v, list) else v[idx] for k, v in columns.items()}
        for name, idx in zip(("train", "valid", "test"), np.split(order, cuts), strict=True)
    }


def write(spec: SyntheticSpec, out: str | Path) -> Path:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("wb") as f:
        pickle.dump(make(spec), f, protocol=4)
    return out


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(v) for v in text.split(","))


def cli(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m dmsil.data.synthetic", description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, help="pickle file to write")
    parser.add_argument("--n", type=int, default=2000, help="number of samples (all splits)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--dataset", choices=("mosi", "sims"), default="mosi", help="label range and label keys")
    parser.add_argument("--dims", type=_ints, default=(768, 5, 20), help="text,audio,video feature sizes")
    parser.add_argument("--max-lengths", type=_ints, default=(50, 500, 375), help="text,audio,video padded lengths")
    add_verbosity(parser)
    args = parser.parse_args(argv)
    setup_logging(args, logging.INFO)
    if args.n < 20:
        parser.error("--n must be at least 20 (three splits)")
    if len(args.dims) != 3 or len(args.max_lengths) != 3:
        parser.error("--dims and --max-lengths take three comma-separated values")
    spec = SyntheticSpec(n=args.n, seed=args.seed, dims=args.dims, max_lengths=args.max_lengths, dataset=args.dataset)
    path = write(spec, args.out)
    log.info("wrote %d samples to %s", args.n, path)


if __name__ == "__main__":
    cli()
