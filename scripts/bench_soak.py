"""Soak: the live pipeline fed a talk video in a loop at real-time pace, watched for growth.

    .venv/bin/python scripts/bench_soak.py [--minutes 30] [--sample 10]

Samples the process's resident memory, the stage queues, dropped frames and window latency every
``--sample`` seconds; memory must stay flat after warm-up (< 5% growth from the end of the first tenth
of the run to the end). Writes scripts/results/bench_soak.json and bench_soak.png.
"""

from __future__ import annotations

import json
import logging
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from dmsil.cli import benchmark_parser, setup_logging
from engines import KINDS

RESULTS = Path(__file__).resolve().parent / "results"


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 1e6


def sample(pipeline, start: float, every: float) -> dict:
    """One sample of the running pipeline: memory, queues, frames, windows and recent latency."""
    stats = pipeline.stats
    recent = stats.latencies[-int(every) :] or [float("nan")]
    return {
        "t_s": round(time.monotonic() - start, 1),
        "rss_mb": round(rss_mb(), 1),
        "queues": {k: q.qsize() for k, q in pipeline.queues.items()},
        "frames": stats.frames,
        "dropped": stats.frames_dropped,
        "windows": stats.windows,
        "latency_p95_s": float(np.percentile(recent, 95)),
    }


def soak(pipeline, minutes: float, every: float) -> list[dict]:
    """Feed the demo talk in a loop at real-time pace for ``minutes``, sampling every ``every`` seconds."""
    from realtime import demo
    from realtime.sources import FileSource

    samples: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        source = FileSource(demo.talk(Path(tmp) / "talk.mp4"), pace=True, loops=0)
        runner = threading.Thread(target=pipeline.run, args=([source], lambda s: None), daemon=True)
        start = time.monotonic()
        runner.start()
        while time.monotonic() - start < minutes * 60:
            time.sleep(every)
            samples.append(sample(pipeline, start, every))
            print(json.dumps(samples[-1]), flush=True)
        pipeline.stop()
        runner.join(timeout=10)
    return samples


def summary(pipeline, engine: str, minutes: float, samples: list[dict]) -> dict:
    """Memory growth after warm-up (the end of the first tenth of the run), latency, drops and errors."""
    rss = np.array([s["rss_mb"] for s in samples])
    warm = rss[max(1, len(rss) // 10) - 1]
    lat = np.array(pipeline.stats.latencies)
    return {
        "minutes": minutes,
        "engine": engine,
        "rss_after_warmup_mb": float(warm),
        "rss_end_mb": float(rss[-1]),
        "rss_max_mb": float(rss.max()),
        "growth_after_warmup_pct": float(100 * (rss[-1] - warm) / warm),
        "windows": pipeline.stats.windows,
        "latency_p50_s": float(np.percentile(lat, 50)),
        "latency_p95_s": float(np.percentile(lat, 95)),
        "frames": pipeline.stats.frames,
        "frames_dropped": pipeline.stats.frames_dropped,
        "max_queue": max(max(s["queues"].values(), default=0) for s in samples),
        "errors": pipeline.stats.errors,
        "samples": samples,
    }


def main(argv: list[str] | None = None) -> int:
    p = benchmark_parser(__doc__, RESULTS, KINDS)
    p.add_argument("--minutes", type=float, default=30.0)
    p.add_argument("--sample", type=float, default=10.0, help="seconds between samples")
    args = p.parse_args(argv)
    setup_logging(args, logging.WARNING)
    from realtime.pipeline import Pipeline, PipelineOptions
    from realtime.scorer import Scorer

    scorer = Scorer(engine=args.engine)
    pipeline = Pipeline(scorer, PipelineOptions.make(live=True))
    samples = soak(pipeline, args.minutes, args.sample)
    result = summary(pipeline, scorer.engine.name, args.minutes, samples)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bench_soak.json").write_text(json.dumps(result, indent=1) + "\n")
    plot(samples, args.out / "bench_soak.png")
    print(
        f"{args.minutes:g} min at real-time pace: RSS {result['rss_after_warmup_mb']:.0f} MB after warm-up -> "
        f"{result['rss_end_mb']:.0f} MB at the end ({result['growth_after_warmup_pct']:+.1f}%), max "
        f"{result['rss_max_mb']:.0f} MB; {result['windows']} windows, latency p50 "
        f"{result['latency_p50_s'] * 1000:.0f} ms p95 {result['latency_p95_s'] * 1000:.0f} ms; "
        f"{result['frames_dropped']} of {result['frames']} frames dropped; largest queue {result['max_queue']}"
    )
    return 0


def plot(samples: list[dict], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = [s["t_s"] / 60 for s in samples]
    fig, (a, b) = plt.subplots(2, 1, figsize=(9, 5), sharex=True)
    a.plot(t, [s["rss_mb"] for s in samples], color="k")
    a.set_ylabel("RSS (MB)")
    a.set_ylim(bottom=0)
    b.plot(t, [s["latency_p95_s"] * 1000 for s in samples], label="latency p95 (ms)")
    b.plot(t, [max(s["queues"].values(), default=0) for s in samples], label="largest queue")
    b.set_xlabel("minutes")
    b.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
