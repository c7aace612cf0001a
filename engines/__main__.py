"""Command line: export a checkpoint to ONNX, or benchmark every engine that can run here side by side.

python -m engines export CHECKPOINT [--to FILE.onnx]
python -m engines bench --checkpoint CHECKPOINT [--batch 1,8,32] [--seq 50,500,375] [--json]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np

from dmsil import checkpoint, default_checkpoint
from dmsil.cli import add_verbosity, setup_logging
from dmsil.errors import DmsilError
from engines import EngineUnavailable, build
from engines.base import KINDS, example_batch, parity_tolerance


def bench(ckpt: str, batches: list[int], seq: tuple[int, int, int], repeats: int, threads: int | None) -> dict:
    """Median/p95 ms per engine and batch, calls interleaved across engines; max abs diff to eager torch. The first
    batch size is also run without words (every text mask empty), as the scorer reads faces and voices."""
    engines, skipped = {}, {}
    for kind in sorted(KINDS[1:], key=lambda k: k != "torch"):  # torch first: the reference
        try:
            engines[kind] = build(kind, Path(ckpt), threads)
        except EngineUnavailable as exc:
            skipped[kind] = str(exc)
    model = checkpoint.load(ckpt)
    result: dict = {"seq": list(seq), "skipped": skipped, "engines": {}}
    cases = [(str(b), example_batch(model, b, seq)) for b in batches]
    wordless = {k: v.copy() for k, v in cases[0][1].items()}
    wordless["text_mask"][:] = 0
    for label, batch in [*cases, (f"{batches[0]} no words", wordless)]:
        reference = engines["torch"](batch)
        result.setdefault("parity_tolerance", parity_tolerance(model, reference))  # the first batch's, as max_abs_diff
        times: dict[str, list[float]] = {k: [] for k in engines}
        for engine in engines.values():
            engine.warmup()
            engine(batch)
        for _ in range(repeats):
            for kind, engine in engines.items():
                start = time.perf_counter()
                engine(batch)
                times[kind].append((time.perf_counter() - start) * 1000)
        for kind, engine in engines.items():
            out = engine(batch)
            diff = max(float(np.abs(out[k] - reference[k]).max()) for k in reference)
            result["engines"].setdefault(kind, {})[label] = {
                "median_ms": float(np.median(times[kind])),
                "p95_ms": float(np.percentile(times[kind], 95)),
                "max_abs_diff": diff,
            }
    first = str(batches[0])
    for kind, per_batch in result["engines"].items():
        result[f"{kind.replace('-', '_')}_ms"] = per_batch[first]["median_ms"]
    # parity of the exact engines; the INT8 graph is approximate by design and lists its own difference
    result["max_abs_diff"] = max(
        per[first]["max_abs_diff"] for k, per in result["engines"].items() if k != "onnxruntime-int8"
    )
    if "onnxruntime" in result["engines"]:
        result["speedup_onnxruntime_vs_torch"] = result["torch_ms"] / result["onnxruntime_ms"]
    return result


def print_table(result: dict) -> None:
    print(f"sequence lengths text/audio/video: {result['seq']}")
    print(f"{'engine':<15}{'batch':>12}{'median ms':>11}{'p95 ms':>9}{'vs torch':>10}{'max |diff|':>12}")
    torch_ms = result["engines"]["torch"]
    for kind, per_batch in result["engines"].items():
        for b, r in per_batch.items():
            speed = torch_ms[b]["median_ms"] / r["median_ms"]
            print(
                f"{kind:<15}{b:>12}{r['median_ms']:>11.3f}{r['p95_ms']:>9.3f}{speed:>9.2f}x{r['max_abs_diff']:>12.2e}"
            )
    for kind, why in result["skipped"].items():
        print(f"{kind:<15} not run: {why}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m engines", description="Export and benchmark dmsil engines.")
    sub = p.add_subparsers(dest="command", required=True)
    e = sub.add_parser("export", help="write the fusion model as ONNX (parity-checked)")
    e.add_argument("checkpoint", nargs="?", help="checkpoint directory (default: the shipped default model)")
    e.add_argument("--to", help="output .onnx (default: cached beside the checkpoint)")
    b = sub.add_parser("bench", help="latency of every engine available here, side by side")
    b.add_argument("--checkpoint", help="checkpoint directory (default: the shipped default model)")
    b.add_argument("--batch", default="1,8,32", help="comma-separated batch sizes")
    b.add_argument("--seq", default="50,500,375", help="text,audio,video lengths (MOSI-sized by default)")
    b.add_argument("--repeats", type=int, default=100)
    b.add_argument(
        "--threads",
        type=int,
        help="ONNX Runtime threads (default: torch's, so that the two are "
        "compared on equal threads; the app itself leaves one core to the extractors)",
    )
    b.add_argument("--torch-threads", type=int, help="torch intra-op threads (default: torch's own choice)")
    b.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    add_verbosity(p)
    args = p.parse_args(argv)
    setup_logging(args, logging.WARNING)
    try:
        args.checkpoint = args.checkpoint or default_checkpoint()
        if args.command == "export":
            from engines.onnx_export import export

            print(export(args.checkpoint, args.to))
            return 0
        batches = [int(x) for x in args.batch.split(",")]
        seq = tuple(int(x) for x in args.seq.split(","))
        if len(seq) != 3 or min(batches) < 1:
            p.error("--seq takes three lengths and --batch positive sizes")
        if args.torch_threads:
            import torch

            torch.set_num_threads(args.torch_threads)
        if args.threads is None:
            import torch

            args.threads = torch.get_num_threads()
        result = bench(args.checkpoint, batches, seq, args.repeats, args.threads)
        result["threads"] = args.threads
    except DmsilError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print_table(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
