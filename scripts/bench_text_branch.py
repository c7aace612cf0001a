"""Latency of the whole fusion model at batch 1 on a 30-token utterance, per text encoder, fp32 and INT8.

    .venv/bin/python scripts/bench_text_branch.py [--checkpoint DIR] [--repeats 100]

The budget (issue: text understanding) is <= 60 ms median on one thread with ONNX Runtime. Latency depends
on shapes, not on training, so without ``--checkpoint`` each packaged encoder is measured in a model
with untrained heads and the configuration the training script uses (top layers stored, the rest read
from the package). INT8 is ONNX Runtime's dynamic quantization of the exported graph's MatMuls. Eager
PyTorch on one thread runs beside it in the same process, for the ratio.
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

from dmsil import checkpoint
from dmsil.config import AlignmentConfig, ModelConfig
from dmsil.features.text import MINILM, MPNET, packaged_text_model
from dmsil.model import DMSIL
from engines.base import example_batch
from engines.onnx_export import export, quantize
from engines.ort_engine import OrtEngine
from engines.torch_engine import TorchEngine

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


def measure(ckpt: Path, repeats: int) -> dict:
    model = checkpoint.load(ckpt)
    batch = example_batch(model, batch=1, lengths=LENGTHS, seed=0)
    fp32 = export(ckpt)
    int8 = quantize(fp32)
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
    return row


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--checkpoint", type=Path)
    p.add_argument("--repeats", type=int, default=100)
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    report = {"lengths": {"text_tokens": LENGTHS[0], "video_frames": LENGTHS[2]}, "models": {}}
    with tempfile.TemporaryDirectory() as tmp:
        if args.checkpoint:
            report["models"][str(args.checkpoint)] = measure(args.checkpoint, args.repeats)
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
    out = RESULTS if not args.checkpoint else RESULTS.with_name("bench_text_branch_default.json")
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
