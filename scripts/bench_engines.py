"""Engines side by side on this machine: eager PyTorch vs ONNX Runtime (and GPU engines where they run).

    .venv/bin/python scripts/bench_engines.py [--checkpoint DIR | --shipped] [--repeats 200] [--batch 1,8,32]

Without ``--checkpoint`` a MOSI-shaped model (768-d text states, 5-d audio, 20-d video) is trained for
one epoch on synthetic data: latency depends on shapes, not on how well the model was trained;
``--shipped``: the default model (its all-mpnet-base-v2 text encoder inside), written to
``bench_engines_default.json``. Eager torch and ONNX Runtime are measured on equal threads, torch's
default and one, in the same run. Beside them, the float32 floor: the model's Linear-layer FLOPs at batch 1 over
the best rate this machine multiplies float32 matrices at (torch, 2048 x 2048): no exact float32 engine can
run the model faster than that.
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from dmsil import checkpoint
from dmsil.cli import add_verbosity, setup_logging
from dmsil.config import ModelConfig, TrainConfig
from dmsil.data.mmsa import from_dict
from dmsil.data.synthetic import SyntheticSpec, make
from dmsil.train import train
from engines.__main__ import bench, print_table
from engines.base import example_batch, to_torch


def quick_checkpoint(out: Path) -> Path:
    data = from_dict(make(SyntheticSpec(n=400, seed=1)), "synthetic")
    result = train(data, ModelConfig.for_dataset("mosi"), TrainConfig(max_epochs=1), progress=False)
    return checkpoint.save(result.model, out)


def gemm_gflops(size: int = 2048, repeats: int = 20) -> float:
    """The float32 matrix-multiply rate torch reaches here on a large square product (median of ``repeats``)."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    for _ in range(3):
        a @ b
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - start)
    return 2 * size**3 / float(np.median(times)) / 1e9


@torch.no_grad()
def linear_gflop(ckpt: str, lengths: tuple[int, int, int]) -> float:
    """Multiply-adds (x2) of every Linear layer in one batch-1 forward of the checkpoint's model."""
    model, total = checkpoint.load(ckpt), [0]

    def count(module, inputs):
        total[0] += 2 * inputs[0].numel() * module.out_features

    handles = [m.register_forward_pre_hook(count) for m in model.modules() if isinstance(m, torch.nn.Linear)]
    model(*to_torch(example_batch(model, 1, lengths)))
    for handle in handles:
        handle.remove()
    return total[0] / 1e9


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--checkpoint")
    p.add_argument("--shipped", action="store_true", help="the shipped default model")
    p.add_argument("--repeats", type=int, default=200)
    p.add_argument("--batch", default="1,8,32", help="comma-separated batch sizes")
    p.add_argument("--json-out", help="default: results/bench_engines.json (--shipped: bench_engines_default.json)")
    add_verbosity(p)
    args = p.parse_args()
    setup_logging(args, logging.WARNING)
    name = "bench_engines_default.json" if args.shipped else "bench_engines.json"
    args.json_out = args.json_out or str(Path(__file__).parent / "results" / name)
    batches = [int(b) for b in args.batch.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        if args.shipped:
            from dmsil import default_checkpoint

            args.checkpoint = str(default_checkpoint())
        ckpt = args.checkpoint or str(quick_checkpoint(Path(tmp) / "ckpt"))
        default_threads = torch.get_num_threads()
        report = {"machine": {"cpu": platform.processor() or platform.machine(), "torch": torch.__version__}}
        for label, threads in ((f"torch {default_threads} threads (default)", default_threads), ("torch 1 thread", 1)):
            torch.set_num_threads(threads)
            result = bench(ckpt, batches, (50, 500, 375), args.repeats, threads=threads)
            gflop, rate = linear_gflop(ckpt, (50, 500, 375)), gemm_gflops()
            result["float32_floor"] = {"linear_gflop": gflop, "gemm_gflops": rate, "ms": 1000 * gflop / rate}
            print(f"\n== {label}; ONNX Runtime {threads} thread(s) ==")
            print_table(result)
            print(
                f"float32 floor at batch 1: {gflop:.2f} GFLOP of Linear layers at {rate:.0f} GFLOPS (torch, 2048^3) = "
                f"{1000 * gflop / rate:.1f} ms; a third of eager torch's: {result['torch_ms'] / 3:.1f} ms"
            )
            report[label] = result
    Path(args.json_out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json_out).write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwrote {args.json_out}", file=sys.stderr)


if __name__ == "__main__":
    main()
