"""Speed of the realtime pipeline on a generated 640x480 talk video (real face, espeak-ng speech).

    .venv/bin/python scripts/bench_realtime.py [--sentences 12] [--rounds 2]

1. Offline real-time factor (wall time / media time) of the parallel pipeline and of the same stages run
   one after another (read all, then faces, then ASR, then windows), interleaved in one run.
2. Live latency: the file played at real-time pace through the live pipeline (a file-backed camera and
   microphone); time from each window's end to its result, p50/p95, and video frames dropped.

Writes scripts/results/bench_realtime.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results" / "bench_realtime.json"
SENTENCES = [
    "Good morning everyone, thank you for coming to this talk.",
    "I have to say the last few months were really difficult for our team.",
    "We lost two big customers and the budget was cut.",
    "But I am proud of what we built anyway, it is the best work we have done.",
    "The new system is fast, reliable and people love using it.",
    "Of course, not everything went well.",
    "The first release was a disaster and nobody wanted to use it.",
    "We listened, we fixed it, and now the feedback is wonderful.",
    "I am not worried about next year at all.",
    "Honestly, it has never been a better time to join us.",
    "Thank you, and I am happy to take your questions.",
    "That was not bad at all, was it?",
]


def make_talk(folder: Path, n: int) -> tuple[Path, float]:
    import soundfile as sf

    from realtime import demo

    sentences = (SENTENCES * (n // len(SENTENCES) + 1))[:n]
    wav, _ = demo.join_speech(sentences, folder / "talk.wav")
    seconds = sf.info(str(wav)).duration
    return demo.video(folder / "talk.mp4", wav, seconds), seconds


def offline(scorer, path: Path, sequential: bool) -> dict:
    from realtime.pipeline import Pipeline, PipelineOptions
    from realtime.sources import FileSource

    results = []
    start = time.perf_counter()
    stats = Pipeline(scorer, PipelineOptions(sequential=sequential)).run([FileSource(path)], results.append)
    return {"seconds": time.perf_counter() - start, "windows": len(results), "stages": stats.stage_seconds}


def live(scorer, path: Path) -> dict:
    from realtime.pipeline import Pipeline, PipelineOptions
    from realtime.sources import FileSource

    stats = Pipeline(scorer, PipelineOptions(live=True)).run([FileSource(path, pace=True)], lambda s: None)
    lat = np.array(stats.latencies)
    return {
        "windows": int(lat.size),
        "latency_p50_s": float(np.percentile(lat, 50)),
        "latency_p95_s": float(np.percentile(lat, 95)),
        "latency_max_s": float(lat.max()),
        "frames": stats.frames,
        "frames_dropped": stats.frames_dropped,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sentences", type=int, default=12, help="sentences in the generated talk")
    p.add_argument("--rounds", type=int, default=2, help="offline runs per mode (interleaved)")
    p.add_argument("--engine", default="auto")
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    from realtime.scorer import Scorer

    scorer = Scorer(engine=args.engine)
    with tempfile.TemporaryDirectory() as tmp:
        path, seconds = make_talk(Path(tmp), args.sentences)
        runs: dict[str, list[dict]] = {"parallel": [], "sequential": []}
        for _ in range(args.rounds):
            for mode in runs:
                runs[mode].append(offline(scorer, path, mode == "sequential"))
        live_result = live(scorer, path)
    best = {m: min(r["seconds"] for r in rs) for m, rs in runs.items()}
    result = {
        "media_seconds": seconds,
        "resolution": "640x480",
        "engine": scorer.engine.name,
        "cores": len(os.sched_getaffinity(0)),
        "offline": {m: {"best_seconds": best[m], "rtf": best[m] / seconds, "runs": rs} for m, rs in runs.items()},
        "parallel_speedup": best["sequential"] / best["parallel"],
        "live": live_result,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"talk video: {seconds:.1f} s, 640x480, engine {scorer.engine.name}, {result['cores']} cores")
    print(f"{'offline mode':<14}{'wall s':>8}{'RTF':>8}")
    for m in runs:
        print(f"{m:<14}{best[m]:>8.2f}{best[m] / seconds:>8.3f}")
    print(f"parallel speed-up: {result['parallel_speedup']:.2f}x")
    lv = live_result
    print(
        f"live at real-time pace: {lv['windows']} windows, latency p50 {lv['latency_p50_s']:.3f} s, "
        f"p95 {lv['latency_p95_s']:.3f} s, max {lv['latency_max_s']:.3f} s; "
        f"{lv['frames_dropped']} of {lv['frames']} frames dropped"
    )
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
