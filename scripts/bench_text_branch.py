"""Latency of the whole fusion model at batch 1 on a 30-token utterance, per text encoder, fp32 and INT8.

    .venv/bin/python -m scripts.bench_text_branch [--checkpoint DIR] [--repeats 100]

The budget (issue: text understanding) is <= 60 ms median on one thread with ONNX Runtime. Latency depends
on shapes, not on training, so without ``--checkpoint`` each packaged encoder is measured in a model
with untrained heads and the configuration the training script uses (top layers stored, the rest read
from the package). INT8 is ONNX Runtime's dynamic quantization of the exported graph's MatMuls. Eager
PyTorch on one thread runs beside it in the same process, for the ratio. With ``--checkpoint``, the INT8
recipes are also compared on held-out human-rated sentences: how far each moves the float graph's scores.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a file, it still imports scripts.default_model from this checkout

from dmsil import checkpoint, metrics  # noqa: E402
from dmsil.cli import add_verbosity, setup_logging  # noqa: E402
from dmsil.config import AlignmentConfig, ModelConfig  # noqa: E402
from dmsil.features.text import MINILM, MPNET, packaged_text_model  # noqa: E402
from dmsil.model import DMSIL  # noqa: E402
from engines.base import example_batch  # noqa: E402
from engines.onnx_export import export  # noqa: E402
from engines.ort_engine import OrtEngine  # noqa: E402
from engines.quantize import Smoothing, quantize  # noqa: E402
from engines.torch_engine import TorchEngine  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "bench_text_branch.json"
LENGTHS = (30, 1, 60)
"""30 tokens, no audio (the default model's audio head is untrained), 4 s of face frames at 15 Hz."""


def model_for(encoder: str, layers: int, out: Path) -> Path:
    config = ModelConfig(
        audio_dim=38,
        video_dim=19,
        text_model=packaged_text_model(encoder),
        text_pooling="mean",
        text_train_layers=layers,
        alignment=AlignmentConfig(pairs=("TV",), weights=(1.0,)),
    )
    return checkpoint.save(DMSIL(config).eval(), out, half=True)


def timed(engine, batch: dict, repeats: int) -> float:
    for _ in range(5):
        engine(batch)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        engine(batch)
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


RECIPES = {
    "int8 per-tensor, all MatMuls": {"per_channel": False, "float_down_projections": False},
    "int8 per-channel, all MatMuls": {"per_channel": True, "float_down_projections": False},
    "int8 per-channel, down-projections float": {"per_channel": True, "float_down_projections": True},
}
SMOOTHED = "int8 per-channel, smoothed, all MatMuls"
"""The recipe of a checkpoint with activation ranges (:mod:`engines.quantize`); the one above it otherwise."""
PER_SLICE = 80


def recipes(ckpt: Path, fp32: Path, repeats: int, batch: dict) -> dict:
    """Each INT8 recipe beside the float graph: latency, and its scores on held-out human-rated sentences."""
    from realtime.scorer import Scorer, TextScores
    from scripts.default_model import sentences

    archives = sentences.download(Path(__file__).resolve().parent.parent / ".data" / "packages")
    slices = sentences.held_out_slices(sentences.human_rated(archives))
    rows = [s for name, v in slices.items() if name != "rotten-tomatoes" for s in sentences.sample(v, PER_SLICE, 3)]
    texts, y = [s.text for s in rows], np.array([s.target for s in rows])
    scorer = Scorer(ckpt, "onnxruntime-fp32", threads=1)
    base = scorer.text_scores(texts)
    out = {
        "sentences": len(rows),
        "float": {"ms": timed(OrtEngine(fp32, threads=1), batch, repeats), **metrics.graded(base, y)},
    }
    smoothing = Smoothing.of(ckpt)
    shipped = {SMOOTHED: {"smoothing": smoothing}} if smoothing else {}
    for name, recipe in {**RECIPES, **shipped}.items():
        scorer.engine = OrtEngine(quantize(fp32, **recipe), threads=1)
        scorer.text_scores_cache = TextScores()  # a scorer keeps the scores it has given
        got = scorer.text_scores(texts)
        out[name] = {
            "ms": timed(scorer.engine, batch, repeats),
            "r_with_float": float(np.corrcoef(got, base)[0, 1]),
            "mean_abs_change": float(np.mean(np.abs(got - base))),
            **metrics.graded(got, y),
        }
    return out


def measure(ckpt: Path, repeats: int, compare: bool = False) -> dict:
    model = checkpoint.load(ckpt)
    batch = example_batch(model, batch=1, lengths=LENGTHS, seed=0)
    fp32 = export(ckpt)
    int8 = quantize(fp32, Smoothing.of(ckpt))
    torch.set_num_threads(1)
    row = {
        "ort_fp32_ms": timed(OrtEngine(fp32, threads=1), batch, repeats),
        "ort_int8_ms": timed(OrtEngine(int8, threads=1), batch, repeats),
        "torch_1thread_ms": timed(TorchEngine(model), batch, repeats),
        "weights_mb": (ckpt / checkpoint.WEIGHTS).stat().st_size / 1e6,
        "int8_onnx_mb": int8.stat().st_size / 1e6,
    }
    ref, got = TorchEngine(model)(batch), OrtEngine(int8, threads=1)(batch)
    row["int8_max_abs_diff"] = float(max(np.abs(ref[k] - got[k]).max() for k in ref))
    if compare:
        row["recipes"] = recipes(ckpt, fp32, repeats, batch)
    return row


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--checkpoint", type=Path)
    p.add_argument("--repeats", type=int, default=100)
    add_verbosity(p)
    args = p.parse_args()
    setup_logging(args, logging.WARNING)
    report = {"lengths": {"text_tokens": LENGTHS[0], "video_frames": LENGTHS[2]}, "models": {}}
    with tempfile.TemporaryDirectory() as tmp:
        if args.checkpoint:
            report["models"][str(args.checkpoint)] = measure(args.checkpoint, args.repeats, compare=True)
        else:
            for encoder, layers in ((MINILM, 4), (MPNET, 2)):
                ckpt = model_for(encoder, layers, Path(tmp) / encoder.split(":")[1])
                report["models"][encoder] = measure(ckpt, args.repeats)
    print(f"\n{'model':40s} {'ORT fp32 ms':>12s} {'ORT int8 ms':>12s} {'torch 1t ms':>12s} {'weights MB':>11s}")
    for name, r in report["models"].items():
        print(
            f"{name:40s} {r['ort_fp32_ms']:12.1f} {r['ort_int8_ms']:12.1f} {r['torch_1thread_ms']:12.1f} "
            f"{r['weights_mb']:11.1f}"
        )
        if "recipes" in r:
            print(
                f"\n{'graph (' + str(r['recipes']['sentences']) + ' held-out sentences)':52s} {'ms':>6s} {'r float':>8s} {'mean abs change':>16s} {'r human':>8s} {'3-class':>8s}"
            )
            for recipe, v in r["recipes"].items():
                if recipe != "sentences":
                    print(
                        f"{recipe:52s} {v['ms']:6.1f} {v.get('r_with_float', 1.0):8.3f} {v.get('mean_abs_change', 0.0):16.3f} "
                        f"{v['r']:8.3f} {v['acc3']:8.3f}"
                    )
    out = RESULTS if not args.checkpoint else RESULTS.with_name("bench_text_branch_default.json")
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
