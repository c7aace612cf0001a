"""Speed of the realtime pipeline on a generated 640x480 talk video (real face, espeak-ng speech).

    .venv/bin/python scripts/bench_realtime.py [--sentences 12] [--rounds 2]

1. Offline real-time factor (wall time / media time) of the parallel pipeline and of the same stages run
   one after another (read all, then faces, then ASR, then windows), interleaved in one run.
2. Live latency: the file played at real-time pace through the live pipeline (a file-backed camera and
   microphone); time from each window's end to its result, p50/p95, and video frames dropped.
3. Speech-to-score delay, in the same live run: for each sentence, from the moment its last word has
   been said (the sentence's end in the generated audio) to the first result whose scored text holds
   that word -- what a person watching the gauge waits.

Writes scripts/results/bench_realtime.json.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from dmsil.cli import benchmark_parser, setup_logging
from engines import KINDS

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


def make_talk(folder: Path, n: int) -> tuple[Path, float, list[tuple[str, float]]]:
    """The talk video, its length, and each sentence's last word with the time it ends."""
    import soundfile as sf

    from realtime import demo

    sentences = (SENTENCES * (n // len(SENTENCES) + 1))[:n]
    wav, spans = demo.join_speech(sentences, folder / "talk.wav")
    seconds = sf.info(str(wav)).duration
    ends = [(last_word(t), end) for t, (_, end) in zip(sentences, spans, strict=True)]
    return demo.video(folder / "talk.mp4", wav, seconds), seconds, ends


def last_word(text: str) -> str:
    return re.sub(r"[^a-z']", "", text.lower().split()[-1])


def speech_to_score(results: list[tuple[float, object]], ends: list[tuple[str, float]]) -> list[float]:
    """Per sentence: first arrival of a window whose scored text holds its last word, less when it was said."""
    delays = []
    for word, said in ends:
        arrivals = [
            at for at, s in results
            if s.end >= said - 0.5 and word in [last_word(w) for w in (s.transcript or " ").split()] and s.text is not None
        ]  # fmt: skip
        if arrivals:
            delays.append(min(arrivals) - said)
    return delays


def offline(scorer, path: Path, sequential: bool) -> dict:
    from realtime.events import Record
    from realtime.pipeline import Pipeline, PipelineOptions
    from realtime.sources import FileSource

    record = Record()
    start = time.perf_counter()
    stats = Pipeline(scorer, PipelineOptions(sequential=sequential)).run([FileSource(path)], record)
    windows = len(record.windows) + len(record.utterances)  # as counted before the events had types
    return {"seconds": time.perf_counter() - start, "windows": windows, "stages": stats.stage_seconds}


def live(scorer, path: Path, ends: list[tuple[str, float]]) -> dict:
    from realtime.events import WindowScored
    from realtime.pipeline import Pipeline, PipelineOptions
    from realtime.sources import FileSource

    results: list[tuple[float, object]] = []
    clock = time.monotonic()
    live = PipelineOptions.make(live=True)
    options = replace(live, asr=replace(live.asr, beam_size=1))  # as `python -m realtime` runs live

    def arrived(event) -> None:
        if isinstance(event, WindowScored):
            results.append((time.monotonic() - clock, event.scores))

    stats = Pipeline(scorer, options).run([FileSource(path, pace=True)], arrived, clock_start=clock)
    lat = np.array(stats.latencies)
    delays = np.array(speech_to_score(results, ends))
    return {
        "speech_to_score_p50_s": float(np.median(delays)),
        "speech_to_score_p90_s": float(np.percentile(delays, 90)),
        "sentences_seen": f"{delays.size}/{len(ends)}",
        "windows": int(lat.size),
        "latency_p50_s": float(np.percentile(lat, 50)),
        "latency_p95_s": float(np.percentile(lat, 95)),
        "latency_max_s": float(lat.max()),
        "frames": stats.frames,
        "frames_dropped": stats.frames_dropped,
    }


def main(argv: list[str] | None = None) -> int:
    p = benchmark_parser(__doc__, RESULTS, KINDS)
    p.add_argument("--sentences", type=int, default=12, help="sentences in the generated talk")
    p.add_argument("--rounds", type=int, default=2, help="offline runs per mode (interleaved)")
    args = p.parse_args(argv)
    setup_logging(args, logging.WARNING)
    from realtime.scorer import Scorer

    scorer = Scorer(engine=args.engine)
    with tempfile.TemporaryDirectory() as tmp:
        path, seconds, ends = make_talk(Path(tmp), args.sentences)
        runs: dict[str, list[dict]] = {"parallel": [], "sequential": []}
        for _ in range(args.rounds):
            for mode in runs:
                runs[mode].append(offline(scorer, path, mode == "sequential"))
        live_result = live(scorer, path, ends)
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
    print(
        f"speech to score (last word said -> first result holding it): p50 {lv['speech_to_score_p50_s']:.2f} s, "
        f"p90 {lv['speech_to_score_p90_s']:.2f} s ({lv['sentences_seen']} sentences)"
    )
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
