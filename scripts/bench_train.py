"""Training and inference speed on MOSI-sized shapes, alignment on vs off, plus quality on synthetic data.

    .venv/bin/python scripts/bench_train.py [--n 2199] [--epochs 2] [--quality-seeds 3] [--json-out FILE]

Speed: samples/s of training (Self-MM batch 16, gradient step every 4 batches) and of inference
(batch 1 and 64), for the Self-MM baseline (no alignment) and dmsil (all three pairs), measured in one
run with the configurations interleaved per epoch so machine noise hits both alike. Quality: test
metrics after early-stopped training on the planted-structure data, against the mean predictor.
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import time
from pathlib import Path

import numpy as np
import torch

from dmsil import metrics
from dmsil.cli import add_verbosity, setup_logging
from dmsil.config import AlignmentConfig, ModelConfig, TrainConfig
from dmsil.data.batches import Batcher
from dmsil.data.mmsa import MMSAData, from_dict
from dmsil.data.synthetic import SyntheticSpec, make
from dmsil.evaluate import evaluate_model
from dmsil.train import train

log = logging.getLogger("bench_train")
VARIANTS = {
    "self-mm (no alignment)": AlignmentConfig(pairs=(), weights=()),
    "dmsil (TA,TV,AV)": AlignmentConfig(),
}


def time_training(data: MMSAData, epochs: int) -> dict[str, float]:
    """Seconds per training epoch for each variant, epochs interleaved across variants."""
    seconds: dict[str, list[float]] = {k: [] for k in VARIANTS}
    for _ in range(epochs):
        for name, alignment in VARIANTS.items():
            cfg = ModelConfig.for_dataset("mosi", alignment=alignment)
            result = train(data, cfg, TrainConfig(max_epochs=1, seed=1111), progress=False)
            seconds[name].append(result.history[0].seconds)
    n = len(data.splits["train"])
    return {k: n / float(np.median(v)) for k, v in seconds.items()}


@torch.no_grad()
def time_inference(data: MMSAData, batch: int, repeats: int) -> dict[str, float]:
    batcher = Batcher(data.splits["test"])
    inputs = batcher.inputs(np.arange(batch))
    models = {k: train_free_model(a) for k, a in VARIANTS.items()}
    times: dict[str, list[float]] = {k: [] for k in VARIANTS}
    for model in models.values():
        model(**inputs)  # warm-up
    for _ in range(repeats):
        for name, model in models.items():
            start = time.perf_counter()
            model(**inputs)
            times[name].append(time.perf_counter() - start)
    return {k: batch / float(np.median(v)) for k, v in times.items()}


def train_free_model(alignment: AlignmentConfig):
    from dmsil.model import DMSIL

    torch.manual_seed(0)
    return DMSIL(ModelConfig.for_dataset("mosi", alignment=alignment)).eval()


def quality(data: MMSAData, seeds: list[int], max_epochs: int) -> dict[str, dict[str, float]]:
    test = data.splits["test"]
    mean_pred = np.full_like(test.labels, data.splits["train"].labels.mean())
    out = {"mean predictor": {k: metrics.compute(mean_pred, test.labels)[k] for k in ("MAE", "Has0_acc_2")}}
    for name, alignment in VARIANTS.items():
        runs = []
        for seed in seeds:
            cfg = ModelConfig.for_dataset("mosi", alignment=alignment)
            result = train(data, cfg, TrainConfig(max_epochs=max_epochs, seed=seed), progress=False)
            m = evaluate_model(result.model, data, "test", "mosi")
            runs.append(
                {
                    "MAE": m["MAE"],
                    "Corr": m["Corr"],
                    "Has0_acc_2": m["Has0_acc_2"],
                    "Non0_acc_2": m["Non0_acc_2"],
                    "Mult_acc_7": m["Mult_acc_7"],
                    "epochs": len(result.history),
                }
            )
        out[name] = {k: float(np.mean([r[k] for r in runs])) for k in runs[0]}
        out[name]["MAE_std"] = float(np.std([r["MAE"] for r in runs]))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=2199, help="samples (MOSI has 1284/229/686)")
    p.add_argument("--epochs", type=int, default=2, help="timed training epochs per variant")
    p.add_argument("--repeats", type=int, default=30, help="timed inference calls per variant and batch")
    p.add_argument("--quality-seeds", type=int, default=3, help="seeds per variant for the quality table (0 = skip)")
    p.add_argument("--max-epochs", type=int, default=30)
    p.add_argument("--json-out", default=str(Path(__file__).parent / "results" / "bench_train.json"))
    add_verbosity(p)
    args = p.parse_args()
    setup_logging(args, logging.WARNING)
    data = from_dict(
        make(SyntheticSpec(n=args.n, seed=1, split_fractions=(1284 / 2199, 229 / 2199, 686 / 2199))), "synthetic"
    )
    report: dict = {
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "threads": torch.get_num_threads(),
            "torch": torch.__version__,
        },
        "shapes": {"dims": [768, 5, 20], "max_lengths": [50, 500, 375], "train": len(data.splits["train"])},
        "train_samples_per_s": time_training(data, args.epochs),
        "inference_samples_per_s": {str(b): time_inference(data, b, args.repeats) for b in (1, 64)},
    }
    print(f"\nSpeed on MOSI-sized shapes ({report['machine']['threads']} torch threads, torch {torch.__version__})")
    print(f"{'variant':<26}{'train samples/s':>17}{'infer b=1 /s':>14}{'infer b=64 /s':>15}")
    for name in VARIANTS:
        inf = report["inference_samples_per_s"]
        print(f"{name:<26}{report['train_samples_per_s'][name]:>17.0f}{inf['1'][name]:>14.0f}{inf['64'][name]:>15.0f}")
    if args.quality_seeds:
        seeds = list(range(1111, 1111 + args.quality_seeds))
        report["quality"] = quality(data, seeds, args.max_epochs)
        report["quality_seeds"] = seeds
        print(
            f"\nTest metrics on synthetic MOSI-shaped data, mean of seeds {seeds} (early stop 8, max {args.max_epochs} epochs)"
        )
        print(f"{'model':<26}{'MAE':>8}{'Corr':>8}{'Acc2':>8}{'Acc2 non0':>11}{'Acc7':>8}")
        for name, q in report["quality"].items():
            print(
                f"{name:<26}{q['MAE']:>8.4f}{q.get('Corr', float('nan')):>8.4f}{q['Has0_acc_2']:>8.4f}"
                f"{q.get('Non0_acc_2', float('nan')):>11.4f}{q.get('Mult_acc_7', float('nan')):>8.4f}"
            )
    Path(args.json_out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json_out).write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwrote {args.json_out}")


if __name__ == "__main__":
    main()
