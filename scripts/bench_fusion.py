"""Conflicting cues: does the fused gauge follow the words over a face that disagrees with them, and the
voice where the words say nothing? The benchmark that chose :class:`realtime.fusion.FusionOptions`.

    .venv/bin/python -m scripts.bench_fusion --ravdess DIR [--live] [--spoken ROWS.json]

Two sets, each scored once offline by ``python -m realtime score`` (4 s windows, 1 s hop):

* **faces**: the spoken benchmark's plain and neutral sentences (``scripts/data/spoken_benchmark.json``,
  shuffled into one talk, espeak-ng ``en-us``) over three faces held still in expression throughout: of the
  packaged photos (:func:`scripts.default_model.packaged.face_images`), the one the shipped face head reads
  happiest, the unhappiest and the one closest to neutral (their readings are printed). Negative sentences
  over the smiling face should come out negative, positive ones over the frowning face positive.
* **voices**: RAVDESS actors 23 and 24 (held out from the shipped voice head's training and early stopping)
  saying its two neutral sentences in all eight emotions, each actor's clips shuffled into one talk over
  the neutral face. The words are the same every time; windows inside happy clips should lean positive,
  inside sad ones negative.

Every window's head scores and confidences are read back from the CSV and the fused score recomputed for
each rule of a grid of weights, so one scoring serves every rule; the rules with the best worst-case
criterion are printed beside the shipped one, ordered (with ``--live``) by the live smoothed agreement. With
``--spoken`` (the windows ``scripts/bench_utterances.py --rows`` kept), the rules no worse than the shipped
one on the spoken benchmark (within :data:`SPOKEN_SLACK` on every figure, offline and live, smoothed 1 s)
come first: the conflicting cues alone chose a rule that doubled the spoken talks' flips. The media and
scores are kept in ``--work`` (a rerun reuses them). ``--live`` also plays the smiling-face talk at
real-time pace through the live pipeline (raw and smoothed, with the shipped rule). Writes
``scripts/results/bench_fusion.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import logging
import random
import sys
from pathlib import Path

import numpy as np

from dmsil.cli import add_verbosity, setup_logging
from realtime.fusion import FusionOptions
from realtime.modalities import MODALITIES
from scripts.bench_utterances import SPOKEN, inside, live_windows, read, score, sign_flips, smoothed, window_metrics

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "scripts" / "results" / "bench_fusion.json"
HELD_OUT_ACTORS = (23, 24)
GRID = {"text": (0.25, 0.5, 1.0), "text_gain": (1.0, 2.0, 3.0), "voice": (0.25, 0.5, 1.0), "voice_gain": (0.0, 0.5),
        "face": (0.25, 0.5, 1.0), "face_gain": (0.5, 1.0), "text_band": (0.0, 0.25)}  # fmt: skip
log = logging.getLogger("bench_fusion")


def face_readings() -> list[tuple[str, float, np.ndarray]]:
    """(name, the shipped face head's reading, image) of every packaged face photo the face mesh finds."""
    from dmsil.features.face import FaceExtractor
    from realtime import demo
    from realtime.scorer import Scorer
    from realtime.windows import Window
    from scripts.default_model.packaged import face_images

    scorer, extractor, out = Scorer(voice=False), FaceExtractor(), []
    for name, image in face_images():
        frame = extractor(demo.face_frames(1, face=image)[0])
        if not frame.present:
            continue
        (s,) = scorer([Window(0.0, 4.0, video=np.repeat(frame.vector[None], 60, axis=0))])
        out.append((name, s.video_raw, image))
    return out


def three_faces() -> dict[str, tuple[str, float, np.ndarray]]:
    faces = face_readings()
    return {
        "smiling": max(faces, key=lambda f: f[1]),
        "frowning": min(faces, key=lambda f: f[1]),
        "neutral": min(faces, key=lambda f: abs(f[1])),
    }


def spoken_talk(folder: Path, seed: int) -> tuple[Path, list[dict]]:
    from realtime import demo

    rows = [{"text": t, "polarity": g["polarity"], "group": g["group"]}
            for g in SPOKEN if g["group"] in ("plain", "neutral") for t in g["sentences"]]  # fmt: skip
    random.Random(seed).shuffle(rows)
    wav, spans = demo.join_speech([r["text"] for r in rows], folder / "spoken.wav")
    for r, (start, end) in zip(rows, spans, strict=True):
        r["start"], r["end"] = start, end
    return wav, rows


def ravdess_talk(folder: Path, ravdess: Path, actor: int, seed: int) -> tuple[Path, list[dict]]:
    """One actor's clips, shuffled, joined with 0.3 s pauses (the clips hold silence of their own)."""
    import soundfile as sf

    from scripts.default_model.voice import clips

    mine = [c for c in clips(ravdess) if c.actor == actor]
    random.Random(seed).shuffle(mine)
    parts, rows, t, rate = [], [], 0.0, 48000
    for c in mine:
        audio, rate = sf.read(str(c.path), dtype="float32", always_2d=True)
        audio = audio.mean(1)
        rows.append({"emotion": c.emotion, "strong": c.strong, "start": t, "end": t + len(audio) / rate})
        parts += [audio, np.zeros(int(0.3 * rate), np.float32)]
        t += len(audio) / rate + 0.3
    sf.write(folder / f"actor{actor}.wav", np.concatenate(parts), rate)
    return folder / f"actor{actor}.wav", rows


def scored(video: Path, folder: Path) -> list[dict]:
    if not (folder / f"{video.stem}.csv").is_file():
        score(video, folder, "tiny.en")
    return read(folder / f"{video.stem}.csv")


def refused(rows: list[dict], rule: FusionOptions | None) -> list[dict]:
    """The rows with the fused score recomputed by ``rule`` from their head scores and confidences (None:
    as they are)."""
    if rule is None:
        return rows
    out = []
    for r in rows:
        confidence = {m: r[f"{m}_confidence"] or 0.0 for m in MODALITIES}
        fused, sure = rule({m: r[m] for m in MODALITIES}, confidence)
        out.append({**r, "fused": fused, "fused_confidence": sure})
    return out


def share(values: list[bool]) -> float:
    return float(np.mean(values)) if values else float("nan")


def face_metrics(rows: list[dict], sentences: list[dict], face: str, key: str = "fused") -> dict:
    agree, against, neutral = [], [], []
    for s in sentences:
        values = [w[key] for w in inside(rows, s) if w[key] is not None]
        if s["group"] == "neutral":
            neutral += [abs(v) <= 1.0 for v in values]
            continue
        sign = 1 if s["polarity"] == "positive" else -1
        agree += [np.sign(v) == sign for v in values]
        if (face, sign) in (("smiling", -1), ("frowning", 1)):
            against += [np.sign(v) == sign for v in values]
    return {"plain_agree": share(agree), "against_the_face": share(against), "neutral_within_1": share(neutral)}


def voice_metrics(rows: list[dict], clips: list[dict], key: str = "fused") -> dict:
    out = {}
    for emotion, sign in (("happy", 1), ("sad", -1)):
        values = [w[key] for c in clips if c["emotion"] == emotion for w in inside(rows, c) if w[key] is not None]
        out[f"{emotion}_leans"] = share([np.sign(v) == sign for v in values])
    return out


def evaluate(sets: dict, rule: FusionOptions) -> dict:
    out = {}
    for face, (rows, sentences) in sets["faces"].items():
        out[face] = face_metrics(refused(rows, rule), sentences, face)
    voiced = [(refused(rows, rule), clips) for rows, clips in sets["voices"]]
    out["voices"] = voice_metrics([w for rows, _ in voiced for w in rows], [c for _, cs in voiced for c in cs])
    return out


def criteria(m: dict) -> list[float]:
    """What a rule is judged by: words lead over every face, voices lead over neutral words."""
    faces = [m[f]["plain_agree"] for f in ("smiling", "frowning", "neutral")]
    faces += [m["smiling"]["against_the_face"], m["frowning"]["against_the_face"]]
    faces += [m[f]["neutral_within_1"] for f in ("smiling", "frowning", "neutral")]
    return faces + [m["voices"]["happy_leans"], m["voices"]["sad_leans"]]


def offset(rows: list[dict], spans: list[dict], by: float) -> tuple[list[dict], list[dict]]:
    """Rows and spans moved ``by`` seconds (several talks on one time axis)."""
    move = lambda x: {**x, "start": x["start"] + by, "end": x["end"] + by}  # noqa: E731
    return [move(r) for r in rows], [move(s) for s in spans]


def build_sets(tmp: Path, ravdess: Path, seed: int) -> tuple[dict, dict]:
    import soundfile as sf

    from realtime import demo

    faces = three_faces()
    log.info("faces: %s", {k: (n, round(v, 2)) for k, (n, v, _) in faces.items()})
    wav, sentences = spoken_talk(tmp, seed)
    seconds = sf.info(str(wav)).duration
    sets: dict = {"faces": {}, "voices": []}
    for kind, (_, _, image) in faces.items():
        video = tmp / f"spoken-{kind}.mp4"
        if not video.is_file():
            demo.video(video, wav, seconds, face=image)
        sets["faces"][kind] = (scored(video, tmp / kind), sentences)
    for k, actor in enumerate(HELD_OUT_ACTORS):
        wav, clips = ravdess_talk(tmp, ravdess, actor, seed + k)
        video = tmp / f"actor{actor}.mp4"
        if not video.is_file():
            demo.video(video, wav, sf.info(str(wav)).duration, face=faces["neutral"][2])
        sets["voices"].append(offset(scored(video, tmp / f"actor{actor}"), clips, 1000.0 * k))
    return sets, {k: {"face": n, "reading": v} for k, (n, v, _) in faces.items()}


def grid_search(sets: dict) -> list[dict]:
    shipped = FusionOptions()
    out = []
    for values in itertools.product(*GRID.values()):
        rule = dataclasses.replace(shipped, **dict(zip(GRID, values, strict=True)))
        m = evaluate(sets, rule)
        c = criteria(m)
        out.append({"rule": dict(zip(GRID, values, strict=True)), "worst": min(c), "mean": float(np.mean(c)),
                    "metrics": m})  # fmt: skip
    return sorted(out, key=lambda r: (r["worst"], r["mean"]), reverse=True)


def live(rows: list[dict], sentences: list[dict], rule: FusionOptions) -> dict:
    """The live rows re-fused by ``rule``: raw and smoothed (1 s, the default) agreement and flips."""
    shown = {"raw": refused(rows, rule)}
    shown["smooth_1s"] = smoothed(shown["raw"], 1.0)
    out = {}
    for name, windows in shown.items():
        out[name] = face_metrics(windows, sentences, "smiling")
        values = ([w["fused"] for w in inside(windows, s) if w["fused"]] for s in sentences)
        out[name]["flips"] = share([f for v in values for f in sign_flips(v)])
    return out


SPOKEN_SLACK = 0.01
"""How much worse than the shipped rule a rule may do on any spoken-benchmark figure (about one window in
a hundred) and still be chosen."""


def spoken(kept: dict, rule: FusionOptions) -> dict:
    """The spoken benchmark's windows (``scripts/bench_utterances.py --rows``: offline per recognizer, and
    live) re-fused by ``rule`` and smoothed as the gauge shows them (1 s)."""
    return {name: window_metrics(smoothed(refused(s["rows"], rule), 1.0), s["sentences"], "fused")
            for name, s in kept.items()}  # fmt: skip


def keeps_spoken(m: dict, shipped: dict) -> bool:
    """No figure of the spoken benchmark more than :data:`SPOKEN_SLACK` worse than the shipped rule's."""
    better = ("plain_agree", "negation_contrast_agree", "neutral_within_1")
    return all(m[s][k] >= shipped[s][k] - SPOKEN_SLACK for s in shipped for k in better) and all(
        m[s]["flips"] <= shipped[s]["flips"] + SPOKEN_SLACK for s in shipped
    )


def print_report(report: dict) -> None:
    def line(name: str, m: dict) -> None:
        cells = [m[f]["plain_agree"] for f in ("smiling", "frowning", "neutral")]
        cells += [m["smiling"]["against_the_face"], m["frowning"]["against_the_face"]]
        cells += [min(m[f]["neutral_within_1"] for f in ("smiling", "frowning", "neutral"))]
        cells += [m["voices"]["happy_leans"], m["voices"]["sad_leans"]]
        print(f"{name:44s}" + "".join(f"{c:9.3f}" for c in cells))

    print(f"faces: {report['faces']}")
    print(f"{'rule':44s}{'agr:sm':>9s}{'agr:fr':>9s}{'agr:ne':>9s}{'neg/sm':>9s}{'pos/fr':>9s}"
          f"{'neu+-1':>9s}{'happy':>9s}{'sad':>9s}")  # fmt: skip
    for name, m in report["heads"].items():
        line(f"{name} alone", m)
    line("shipped " + json.dumps(report["shipped"]["rule"]), report["shipped"]["metrics"])
    for r in report["grid"][:5]:
        line(json.dumps(r["rule"]), r["metrics"])
    if "live" in report:
        print("live, smiling face: plain agree, flips, neutral within 1 (raw; smoothed 1 s)")
        lives = [("shipped", report["live"]["shipped"]), ("text alone", report["live"]["text alone"])]
        for name, m in lives + [(json.dumps(r["rule"]), r["live"]) for r in report["grid"][:5] if "live" in r]:
            cells = [m[k][c] for k in ("raw", "smooth_1s") for c in ("plain_agree", "flips", "neutral_within_1")]
            print(f"{name:44s}" + "".join(f"{c:9.3f}" for c in cells))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--ravdess", type=Path, required=True, help="RAVDESS speech folder (Actor_01 .. Actor_24)")
    p.add_argument("--seed", type=int, default=11)
    p.add_argument("--live", action="store_true", help="also play the smiling-face talk live")
    p.add_argument("--out", type=Path, default=RESULTS)
    p.add_argument("--work", type=Path, default=ROOT / ".data" / "bench_fusion", help="media and scores, kept")
    p.add_argument(
        "--spoken",
        type=Path,
        help="the spoken benchmark's windows (scripts/bench_utterances.py --rows): "
        "a rule chosen must be no worse than the shipped one there",
    )
    add_verbosity(p)
    args = p.parse_args(argv)
    setup_logging(args, logging.INFO)
    args.work.mkdir(parents=True, exist_ok=True)

    sets, faces = build_sets(args.work, args.ravdess, args.seed)
    grid = grid_search(sets)
    shipped = FusionOptions()
    if args.spoken:  # rules that cost the spoken benchmark go last
        kept = json.loads(args.spoken.read_text())
        base = spoken(kept, shipped)
        for r in grid:
            r["spoken"] = spoken(kept, dataclasses.replace(shipped, **r["rule"]))
            r["keeps_spoken"] = keeps_spoken(r["spoken"], base)
        grid.sort(key=lambda r: (r["keeps_spoken"], r["worst"], r["mean"]), reverse=True)
    report = {
        "faces": faces,
        "shipped": {"rule": {k: getattr(shipped, k) for k in GRID}, "metrics": evaluate(sets, shipped)},
        "heads": {m: head_alone(sets, m) for m in MODALITIES},
        "grid": grid,
        **({"spoken": base} if args.spoken else {}),
    }
    if args.live:
        played = args.work / "live.json"  # the heads' scores and confidences: any rule re-fuses them
        if not played.is_file():
            played.write_text(json.dumps(live_windows(args.work / "spoken-smiling.mp4", "tiny.en")[0]))
        rows = json.loads(played.read_text())
        sentences = sets["faces"]["smiling"][1]
        report["live"] = {
            "shipped": live(rows, sentences, shipped),
            "text alone": live(
                [{**w, "fused": w["text"], "fused_confidence": w["text_confidence"]} for w in rows], sentences, None
            ),
        }
        top = lambda r: (r.get("keeps_spoken"), r["worst"])  # noqa: E731
        best = [r for r in grid if top(r) == top(grid[0])]  # tied offline: live decides
        for r in best:
            r["live"] = live(rows, sentences, dataclasses.replace(shipped, **r["rule"]))
        grid[: len(best)] = sorted(best, key=lambda r: r["live"]["smooth_1s"]["plain_agree"], reverse=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    print_report(report)
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


def head_alone(sets: dict, head: str) -> dict:
    """The metrics with one head's score in place of the fused one (what each cue says on its own)."""
    out = {face: face_metrics(rows, sentences, face, head) for face, (rows, sentences) in sets["faces"].items()}
    rows = [w for r, _ in sets["voices"] for w in r]
    out["voices"] = voice_metrics(rows, [c for _, cs in sets["voices"] for c in cs], head)
    return out


if __name__ == "__main__":
    sys.exit(main())
