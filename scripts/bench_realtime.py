"""Speed of the realtime pipeline on a generated 640x480 talk video (real face, espeak-ng speech).

    .venv/bin/python -m scripts.bench_realtime [--sentences 23] [--rounds 2] [--against REV] [--sequential]

1. Offline, side by side with an earlier version of the project (``--against``, a git revision, unpacked
   with ``git archive``) in alternating rounds, each in a fresh process with the default model, the voice
   and the speakers on: the whole command (``python -m realtime score``, start to exit: real-time factor
   = wall time / media time), and, apart, the start-up (imports, models) and the processing (one
   file's scoring, models loaded) with the time to the first result. With ``--sequential``, also the
   pipeline's stages run one after another, the baseline its parallel speed-up is measured against.
2. Live latency: the file played at real-time pace through the live pipeline (a file-backed camera and
   microphone); time from each window's end to its result, p50/p95, and video frames dropped.
3. Speech-to-score delay, in the same live run: for each sentence, from the moment its last word has
   been said (the sentence's end in the generated audio) to the first result whose scored text holds
   that word -- what a person watching the gauge waits.
4. The face rate offline: the face head's window scores with faces read at ``VIDEO_RATE`` and at the
   offline ``face_rate`` (each reading held for the frames until the next), on a video that cuts between
   the packaged face photos every 2 s, beside two runs at the full rate (the face threads take turns on
   the frames, so two runs differ a little): how far the cheaper reading moves what the gauge shows.

Writes scripts/results/bench_realtime.json.
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from dmsil.cli import benchmark_parser, setup_logging
from engines import KINDS

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "scripts" / "results" / "bench_realtime.json"
PHASES = """
import json, sys, time
start = time.perf_counter()
from pathlib import Path
from realtime.offline import FileScorer, score_file
from realtime.pipeline import PipelineOptions
talk, out = Path(sys.argv[1]), Path(sys.argv[2])
files = FileScorer(None, "auto", PipelineOptions(), out, ("csv", "json", "png"))
loaded = time.perf_counter()
first = []
kept = {"load_transcriber": files.load_transcriber} if hasattr(files, "load_transcriber") else {}
result = score_file(talk, files.scorer, files.options, out, files.formats, progress=False,
                    on_progress=lambda end, total: first or first.append(time.perf_counter()), **kept)
done = time.perf_counter()
print(json.dumps({"startup_s": loaded - start, "processing_s": done - loaded,
                  "first_result_s": first[0] - start, "windows": len(result.rows)}))
"""
"""Run in a version's own tree: its start-up, its processing of one file, and its first result."""
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


def unpack(rev: str, into: Path) -> Path:
    """The project at git revision ``rev`` (its shipped model's cached ONNX export shared with this tree's)."""
    into.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    onnx = ROOT / "dmsil" / "default_model" / "onnx"
    if onnx.is_dir():
        (into / "dmsil" / "default_model" / "onnx").symlink_to(onnx)
    return into


def command(tree: Path, talk: Path, out: Path) -> dict:
    """``python -m realtime score`` of ``talk`` run in ``tree``: wall seconds, start to exit, and its phases
    measured in a second process of that tree."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "realtime", "score", str(talk), "--out", str(out), "-q"],
                   cwd=tree, env=env, check=True, capture_output=True)  # fmt: skip
    whole = time.perf_counter() - start
    phases = subprocess.run([sys.executable, "-c", PHASES, str(talk), str(out)], cwd=tree, env=env, check=True,
                            capture_output=True, text=True)  # fmt: skip
    return {"command_s": whole, **json.loads(phases.stdout.strip().splitlines()[-1])}


def versions(trees: dict[str, Path], talk: Path, seconds: float, rounds: int, out: Path) -> dict:
    """Each version's best of ``rounds`` alternating runs, with its real-time factors."""
    runs: dict[str, list[dict]] = {name: [] for name in trees}
    for _ in range(rounds):
        for name, tree in trees.items():
            runs[name].append(command(tree, talk, out / name))
    result = {}
    for name, rs in runs.items():
        best = {k: min(r[k] for r in rs) for k in ("command_s", "startup_s", "processing_s", "first_result_s")}
        result[name] = {**best, "command_rtf": best["command_s"] / seconds,
                        "processing_rtf": best["processing_s"] / seconds, "windows": rs[0]["windows"], "runs": rs}  # fmt: skip
    return result


def in_process(path: Path, seconds: float, engine: str, rounds: int) -> dict:
    """The pipeline alone (no diarization, nothing written), its stages in parallel and one after another."""
    from realtime.events import Record
    from realtime.pipeline import Pipeline, PipelineOptions
    from realtime.scorer import Scorer
    from realtime.sources import FileSource

    scorer = Scorer(engine=engine)
    runs: dict[str, list[dict]] = {"parallel": [], "sequential": []}
    for _ in range(rounds):
        for mode, rs in runs.items():
            record, start = Record(), time.perf_counter()
            stats = Pipeline(scorer, PipelineOptions(sequential=mode == "sequential")).run([FileSource(path)], record)
            rs.append({"seconds": time.perf_counter() - start, "windows": len(record.windows),
                       "stages": stats.stage_seconds})  # fmt: skip
    best = {m: min(r["seconds"] for r in rs) for m, rs in runs.items()}
    return {m: {"best_seconds": best[m], "rtf": best[m] / seconds, "runs": rs} for m, rs in runs.items()}


def live(path: Path, ends: list[tuple[str, float]], engine: str) -> dict:
    from realtime.events import WindowScored
    from realtime.pipeline import Pipeline, PipelineOptions
    from realtime.scorer import Scorer
    from realtime.sources import FileSource

    results: list[tuple[float, object]] = []
    loading = time.monotonic()
    scorer = Scorer(engine=engine)  # start-up to the first result counts the model's loading
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
        "startup_s": clock - loading,
        "first_result_s": results[0][0] + clock - loading,
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


def face_rate(folder: Path, engine: str, seconds_per_face: float = 2.0, fps: int = 25) -> dict:
    """Per-window face head scores (absolute) at the full and the offline face rate, and a second full-rate run."""
    from dmsil.features.face import FaceExtractor
    from dmsil.features.media import VIDEO_RATE
    from realtime import demo
    from realtime.events import Record
    from realtime.pipeline import Pipeline, PipelineOptions
    from realtime.scorer import Scorer
    from realtime.sources import FileSource
    from scripts.default_model.packaged import face_images

    extractor, n = FaceExtractor(), int(seconds_per_face * fps)
    found = [image for _, image in face_images() if extractor(demo.face_frames(1, face=image)[0]).present]
    extractor.close()
    frames = np.concatenate([demo.face_frames(n, seed=i, face=image) for i, image in enumerate(found[:30])])
    path = demo.mux(folder / "faces.mp4", frames, fps=fps)
    scorer, options = Scorer(engine=engine, voice=False), PipelineOptions(speakers=None)
    runs = {}
    for name, rate in (("full", VIDEO_RATE), ("offline", options.face_rate), ("full again", VIDEO_RATE)):
        record = Record()
        Pipeline(scorer, options).run([FileSource(path, video_rate=rate)], record)
        runs[name] = np.array([np.nan if w.video_raw is None else w.video_raw for w in record.windows])

    def moved(other: str) -> dict:
        a, b = runs["full"], runs[other]
        both = ~np.isnan(a) & ~np.isnan(b)
        d = np.abs(a[both] - b[both])
        return {"windows": int(both.sum()), "r": float(np.corrcoef(a[both], b[both])[0, 1]),
                "mean_abs_diff": float(d.mean()), "max_abs_diff": float(d.max()),
                "sign_agree": float(np.mean(np.sign(a[both]) == np.sign(b[both])))}  # fmt: skip

    full = runs["full"][~np.isnan(runs["full"])]
    return {"faces": len(found[:30]), "video_s": len(frames) / fps, "full_rate": VIDEO_RATE,
            "offline_rate": options.face_rate, "windows_sd": float(full.std()), "offline_vs_full": moved("offline"),
            "full_vs_full": moved("full again")}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    p = benchmark_parser(__doc__, RESULTS, KINDS)
    p.add_argument("--sentences", type=int, default=23, help="sentences in the generated talk (23: about 100 s)")
    p.add_argument("--rounds", type=int, default=2, help="offline runs per version (alternating)")
    p.add_argument("--against", default="ee02efd", help="the earlier version (a git revision); '' for none")
    p.add_argument("--sequential", action="store_true", help="also the stages one after another, in process")
    p.add_argument("--only-face-rate", action="store_true", help="only part 4 (the face rate), kept with the rest")
    args = p.parse_args(argv)
    setup_logging(args, logging.WARNING)
    if args.only_face_rate:
        with tempfile.TemporaryDirectory() as tmp:
            kept = json.loads(args.out.read_text()) if args.out.is_file() else {}
            kept["face_rate"] = face_rate(Path(tmp), args.engine)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(kept, indent=2) + "\n")
        print_face_rate(kept["face_rate"])
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        path, seconds, ends = make_talk(Path(tmp), args.sentences)
        trees = {"this": ROOT, **({args.against: unpack(args.against, Path(tmp) / "against")} if args.against else {})}
        result = {
            "media_seconds": seconds,
            "resolution": "640x480",
            "cores": len(os.sched_getaffinity(0)),
            "versions": versions(trees, path, seconds, args.rounds, Path(tmp) / "scores"),
        }
        if args.sequential:
            result["in_process"] = in_process(path, seconds, args.engine, args.rounds)
        result["live"] = live_result = live(path, ends, args.engine)
        result["face_rate"] = face_rate(Path(tmp), args.engine)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"talk video: {seconds:.1f} s, 640x480, {result['cores']} cores; best of {args.rounds} alternating runs")
    print(
        f"{'version':<10}{'command s':>11}{'RTF':>7}{'start-up s':>12}{'processing s':>14}{'RTF':>7}{'first result s':>16}"
    )
    for name, v in result["versions"].items():
        print(f"{name:<10}{v['command_s']:>11.2f}{v['command_rtf']:>7.3f}{v['startup_s']:>12.2f}"
              f"{v['processing_s']:>14.2f}{v['processing_rtf']:>7.3f}{v['first_result_s']:>16.2f}")  # fmt: skip
    for mode, v in result.get("in_process", {}).items():
        print(f"in process, {mode}: {v['best_seconds']:.2f} s, RTF {v['rtf']:.3f}")
    lv = live_result
    print(
        f"live at real-time pace: {lv['windows']} windows, latency p50 {lv['latency_p50_s']:.3f} s, "
        f"p95 {lv['latency_p95_s']:.3f} s, max {lv['latency_max_s']:.3f} s; "
        f"{lv['frames_dropped']} of {lv['frames']} frames dropped"
    )
    print(
        f"speech to score (last word said -> first result holding it): p50 {lv['speech_to_score_p50_s']:.2f} s, "
        f"p90 {lv['speech_to_score_p90_s']:.2f} s ({lv['sentences_seen']} sentences); start-up "
        f"{lv['startup_s']:.1f} s, first result {lv['first_result_s']:.1f} s after it began"
    )
    print_face_rate(result["face_rate"])
    print(f"wrote {args.out}")
    return 0


def print_face_rate(f: dict) -> None:
    print(
        f"face head per window, {f['faces']} photos cut every 2 s ({f['video_s']:.0f} s; scores' sd {f['windows_sd']:.2f}):"
    )
    for name, rate in (
        ("offline_vs_full", f"{f['offline_rate']:g} held"),
        ("full_vs_full", f"{f['full_rate']:g} again"),
    ):
        m = f[name]
        print(
            f"  {rate:>10} vs {f['full_rate']:g}/s: r {m['r']:.3f}, mean |diff| {m['mean_abs_diff']:.3f}, "
            f"max {m['max_abs_diff']:.3f}, same sign {m['sign_agree']:.3f} ({m['windows']} windows)"
        )


if __name__ == "__main__":
    sys.exit(main())
