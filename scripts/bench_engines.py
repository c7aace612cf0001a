"""Engines side by side on this machine: eager PyTorch vs ONNX Runtime (and GPU engines where they run).

    .venv/bin/python scripts/bench_engines.py [--checkpoint DIR | --shipped] [--repeats 200] [--batch 1,8,32]

Without ``--checkpoint`` a MOSI-shaped model (768-d text states, 5-d audio, 20-d video) is trained for
one epoch on synthetic data: latency depends on shapes, not on how well the model was trained;
``--shipped``: the default model (its all-mpnet-base-v2 text encoder inside), written to
``bench_engines_default.json``. Eager torch and ONNX Runtime are measured on equal threads, torch's
default and one, in the same run. Beside them, the float32 floor: the model's Linear products at batch 1 alone,
each timed as torch multiplies its shape here: no exact float32 engine can run the model faster than that.
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


@torch.no_grad()
def linear_products(ckpt: str, lengths: tuple[int, int, int]) -> list[tuple[int, int, int]]:
    """(rows, in, out) of every Linear layer's product in one batch-1 forward of the checkpoint's model."""
    model, shapes = checkpoint.load(ckpt), []

    def record(module, inputs):
        shapes.append((inputs[0].numel() // module.in_features, module.in_features, module.out_features))

    handles = [m.register_forward_pre_hook(record) for m in model.modules() if isinstance(m, torch.nn.Linear)]
    model(*to_torch(example_batch(model, 1, lengths)))
    for handle in handles:
        handle.remove()
    return shapes


def float32_floor(shapes: list[tuple[int, int, int]], repeats: int = 20) -> dict:
    """The model's Linear products alone, timed one by one as torch multiplies them here (median of ``repeats``
    each): no exact float32 engine does the model in less. Beside it, the rate of a large square product."""

    def seconds(rows: int, k: int, n: int) -> float:
        a, w = torch.randn(rows, k), torch.randn(k, n)
        for _ in range(3):
            a @ w
        runs = []
        for _ in range(repeats):
            start = time.perf_counter()
            a @ w
            runs.append(time.perf_counter() - start)
        return float(np.median(runs))

    times = {shape: seconds(*shape) for shape in set(shapes)}
    flop = sum(2 * r * k * n for r, k, n in shapes)
    ms = 1000 * sum(times[s] for s in shapes)
    peak = 2 * 2048**3 / seconds(2048, 2048, 2048) / 1e9
    return {"linear_gflop": flop / 1e9, "products_ms": ms, "products_gflops": flop / ms / 1e6, "peak_gflops": peak}


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
        lengths = (50, 500, 375)
        products = linear_products(ckpt, lengths)  # the same at any thread count; the time they take is not
        for label, threads in ((f"torch {default_threads} threads (default)", default_threads), ("torch 1 thread", 1)):
            torch.set_num_threads(threads)
            result = bench(ckpt, batches, lengths, args.repeats, threads=threads)
            floor = result["float32_floor"] = float32_floor(products)
            print(f"\n== {label}; ONNX Runtime {threads} thread(s) ==")
            print_table(result)
            print(
                f"float32 floor at batch 1: the {floor['linear_gflop']:.2f} GFLOP of Linear products alone take "
                f"{floor['products_ms']:.1f} ms in torch ({floor['products_gflops']:.0f} GFLOPS; a 2048^3 product: "
                f"{floor['peak_gflops']:.0f}); a third of eager torch's whole model: {result['torch_ms'] / 3:.1f} ms"
            )
            report[label] = result
    Path(args.json_out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json_out).write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwrote {args.json_out}", file=sys.stderr)


if __name__ == "__main__":
    main()
