"""Scores of whole talks against the sentences that were said: windows, utterances, smoothing, recognizers.

    .venv/bin/python scripts/bench_utterances.py [--asr-models tiny.en,base] [--voices en-us,en-gb-x-rp,en-us+f3]

Per voice, the spoken benchmark's whole sentences (``scripts/data/spoken_benchmark.json``: plain opinions,
negation/contrast, neutral; the fragments are left out, a talk is made of sentences) are shuffled so the
polarity keeps changing, joined into one talk with 0.6 s pauses over the moving face (espeak-ng, ffmpeg),
and scored by ``python -m realtime score`` with the default window (4 s) and hop (1 s), once per
recognizer. Against each sentence's known span and polarity:

* **windows inside a sentence** (ending from 1 s after its start to 0.5 s after its end): share whose sign
  agrees with the sentence (plain; negation/contrast), share of sign flips between adjacent ones, share of
  windows inside neutral sentences within +-1 -- for the raw text and fused scores and the fused score
  smoothed with each time constant (recomputed from the raw rows by :class:`realtime.smoothing.Smoother`);
* **utterance rows**: share of sentences that got exactly one row of their own, the recognizer's word
  error rate, sign accuracy of the rows' text scores;
* **cost**: real-time factor of scoring (wall time less start-up, over talk time); start-up apart;
* **live** (``--live-voice``, the default recognizer): the first voice's talk played at real-time pace
  through the live pipeline, where the utterance being spoken is scored as it grows: the same window
  metrics over every result shown, raw and smoothed with each time constant (the smoothing default is
  chosen here, where it matters); the utterance metrics of its utterance rows; and the live recognizer
  alone, its talk's audio pushed as fast as it decodes (``incremental_wer``: the same words, without the clock);
* **what a live gauge could show at best** (``ceiling``, :func:`causal_ceiling`): at each live window's end, the
  text head's score of the words of the sentence already said, with perfect and instant hearing. A gauge
  cannot know a sentence's opinion before its words are said, so this bounds what the live window metrics
  can reach for a gauge led by the words.

Writes ``scripts/results/bench_utterances.json`` and prints the tables.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from dmsil.cli import add_verbosity, setup_logging
from realtime.modalities import SCORES
from realtime.outputs import EVIDENCE
from realtime.smoothing import Smoother

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "scripts" / "results" / "bench_utterances.json"
SPOKEN = json.loads((ROOT / "scripts" / "data" / "spoken_benchmark.json").read_text())["groups"]
TAUS = (0.0, 1.0, 2.0, 3.0, 5.0)
VOICE_WEIGHTS = (0.1, 0.25, 0.5)
"""Extra weights of the voice's valence tried on top of the fused score (measured, not used)."""
NUMBERS = ("start", "end", *SCORES, *EVIDENCE)
"""The CSV columns read as numbers (empty: None)."""
log = logging.getLogger("bench_utterances")


def talk_sentences(seed: int) -> list[dict]:
    rows = [
        {"text": t, "polarity": g["polarity"], "group": g["group"]}
        for g in SPOKEN
        if g["group"] != "fragment"
        for t in g["sentences"]
    ]
    random.Random(seed).shuffle(rows)
    return rows


def make_talk(folder: Path, voice: str, seed: int) -> tuple[Path, list[dict], float]:
    import soundfile as sf

    from realtime import demo

    rows = talk_sentences(seed)
    wav, spans = demo.join_speech([r["text"] for r in rows], folder / f"talk-{voice}.wav", voice=voice)
    for r, (start, end) in zip(rows, spans, strict=True):
        r["start"], r["end"] = start, end
    seconds = sf.info(str(wav)).duration
    return demo.video(folder / f"talk-{voice.replace('+', '_')}.mp4", wav, seconds), rows, seconds


def score(path: Path, out: Path, asr_model: str) -> float:
    cmd = [sys.executable, "-m", "realtime", "score", str(path), "--out", str(out), "--quiet", "--format", "csv"]
    start = time.perf_counter()
    subprocess.run([*cmd, "--asr-model", asr_model], check=True)
    return time.perf_counter() - start


def read(path: Path) -> list[dict]:
    with path.open() as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        for k in NUMBERS:
            if k in r:
                r[k] = float(r[k]) if r[k] != "" else None
    return rows


def words(text: str) -> list[str]:
    return re.sub(r"[^a-z0-9' ]", " ", text.lower().replace("-", " ")).split()


def wer(ref: list[str], hyp: list[str]) -> float:
    """Word error rate: edit distance over words / reference length."""
    d = np.arange(len(hyp) + 1)
    for i, r in enumerate(ref, 1):
        prev, d[0] = d.copy(), i
        for j, h in enumerate(hyp, 1):
            d[j] = min(prev[j] + 1, d[j - 1] + 1, prev[j - 1] + (r != h))
    return float(d[-1]) / max(1, len(ref))


def inside(windows: list[dict], s: dict) -> list[dict]:
    return [w for w in windows if s["start"] + 1.0 <= w["end"] <= s["end"] + 0.5]


def window_metrics(windows: list[dict], sentences: list[dict], key: str) -> dict:
    """Agreement, flips and neutral spread of one score column over the windows inside each sentence."""
    agree = {"plain": [], "negation/contrast": []}
    flips, neutral = [], []
    for s in sentences:
        values = [w[key] for w in inside(windows, s) if w[key] is not None]
        sign = 1 if s["polarity"] == "positive" else -1
        if s["group"] in agree:
            agree[s["group"]] += [np.sign(v) == sign for v in values]
        else:
            neutral += [abs(v) <= 1.0 for v in values]
        flips += sign_flips(values)
    return {
        "plain_agree": float(np.mean(agree["plain"])),
        "negation_contrast_agree": float(np.mean(agree["negation/contrast"])),
        "flips": float(np.mean(flips)) if flips else 0.0,
        "neutral_within_1": float(np.mean(neutral)) if neutral else float("nan"),
        "windows": sum(len(inside(windows, s)) for s in sentences),
    }


def sign_flips(values: list[float]) -> list[bool]:
    """For each adjacent pair of non-zero values in a sentence: whether the sign flipped."""
    return [np.sign(a) != np.sign(b) for a, b in zip(values, values[1:], strict=False) if a and b]


def smoothed(windows: list[dict], tau: float) -> list[dict]:
    smoother = Smoother(tau)
    out = []
    for w in windows:
        s = SimpleNamespace(end=w["end"], smooth={}, confidence={"fused": w.get("fused_confidence", 1.0)},
                            **{**dict.fromkeys(SCORES), "fused": w["fused"], "text": w["text"]})  # fmt: skip
        out.append({**w, "fused": smoother(s).smooth["fused"]})
    return out


def live_windows(path: Path, asr_model: str) -> tuple[list[dict], list[dict]]:
    """Every window result of ``path`` played at real-time pace through the live pipeline, raw (unsmoothed),
    and its utterance rows."""
    from dmsil.features.asr import ASROptions
    from realtime.events import Record
    from realtime.outputs import row, utterance_row
    from realtime.pipeline import Pipeline, PipelineOptions
    from realtime.scorer import Scorer
    from realtime.sources import FileSource
    from realtime.windows import WindowOptions

    record = Record()
    options = PipelineOptions(
        WindowOptions(live=True), smooth=0.0, asr=ASROptions(model=asr_model, beam_size=1, threads=1)
    )
    Pipeline(Scorer(), options).run([FileSource(path, pace=True)], record)
    return [row(s) for s in record.windows], [utterance_row(s) for s in record.utterances]


def incremental_wer(wav: Path, sentences: list[dict], asr_model: str) -> float:
    """Word error rate of the words the live recognizer gives out (:class:`dmsil.features.asr.IncrementalTranscriber`,
    beam 1, one thread) when ``wav`` is pushed in 0.5 s pieces, as fast as it decodes: the live recognizer
    alone, without the clock."""
    import soundfile as sf

    from dmsil.features.asr import ASROptions, IncrementalTranscriber, load_transcriber

    audio, sr = sf.read(str(wav), dtype="float32")
    live = IncrementalTranscriber(load_transcriber(ASROptions(model=asr_model, beam_size=1, threads=1)))
    heard = [w for i in range(0, len(audio), sr // 2) for w in live.push(audio[i : i + sr // 2], sr)] + live.flush()
    return wer([w for s in sentences for w in words(s["text"])], [w for x in heard for w in words(x.text)])


def causal_ceiling(ends: list[float], sentences: list[dict], scores=None) -> dict:
    """The window metrics of the text head's score of exactly the words already said at each of ``ends``,
    each word taken as said when the sentence has reached its last character (characters spread evenly over
    the sentence's span: espeak-ng speaks at an even pace). Between sentences and before a sentence's first
    word, ``hold`` shows the last whole sentence's score (a gauge that always shows something: every window
    counts, as in the benchmark) and ``from_N_words`` shows nothing until N words are said (those windows
    leave the metrics; ``shown`` is the share left). ``scores``: texts -> scores (default: the shipped text
    head through :class:`realtime.scorer.Scorer`)."""
    if scores is None:
        from realtime.scorer import Scorer

        scores = Scorer(voice=False).text_scores
    plan = []
    for t in ends:
        said = [s for s in sentences if s["start"] <= t]
        now = said[-1] if said and t <= said[-1]["end"] + 0.5 else None
        before = [s for s in said if s is not now]
        plan.append((t, spoken_by(now, t) if now else [], before[-1]["text"] if before else ""))
    texts = sorted({" ".join(w) for _, w, _ in plan} | {b for *_, b in plan} - {""})
    value = dict(zip(texts, map(float, scores(texts)), strict=True))
    out = {}
    for name, least, hold in (("hold", 1, True), ("from_3_words", 3, False), ("from_6_words", 6, False)):
        shown = [{"end": t, "fused": value[" ".join(w)] if len(w) >= least else (value.get(b) if hold else None)}
                 for t, w, b in plan]  # fmt: skip
        inner = [w for s in sentences for w in inside(shown, s)]
        out[name] = {**window_metrics(shown, sentences, "fused"),
                     "shown": float(np.mean([w["fused"] is not None for w in inner])) if inner else float("nan")}  # fmt: skip
    return out


def spoken_by(sentence: dict, t: float) -> list[str]:
    """The words of ``sentence`` said by time ``t`` (characters spread evenly over its span)."""
    text = sentence["text"].split()
    total, reached, out = sum(len(w) + 1 for w in text), 0, []
    for w in text:
        reached += len(w) + 1
        if sentence["start"] + (sentence["end"] - sentence["start"]) * reached / total <= t:
            out.append(w)
    return out


def all_metrics(windows: list[dict], sentences: list[dict]) -> dict:
    """Window metrics of the raw text and fused scores and of the fused score smoothed with each time constant."""
    out = {key: window_metrics(windows, sentences, key) for key in ("text", "fused")}
    for tau in TAUS:
        out[f"fused_smooth_{tau:g}s"] = window_metrics(smoothed(windows, tau), sentences, "fused")
    for weight in VOICE_WEIGHTS:  # more voice on top of the fused score (which weighs it by confidence already)
        voiced = [{**w, "fused": with_voice(w, weight)} for w in windows]
        out[f"fused_plus_{weight:g}_voice"] = window_metrics(voiced, sentences, "fused")
    return out


def with_voice(w: dict, weight: float) -> float | None:
    """The fused score plus ``weight`` x the voice's valence where both are there."""
    if w["fused"] is None or w.get("audio") is None:
        return w["fused"]
    return w["fused"] + weight * w["audio"]


def utterance_metrics(utterances: list[dict], sentences: list[dict]) -> dict:
    """Per sentence with one utterance row of its own: its text score's sign (opinions), and its class
    (``text_class``, and the text score through the recipe's neutral band beside it) against the sentence's:
    its polarity, or neutral."""
    from dmsil.model import POLARITY_CLASSES
    from scripts.default_model.sentences import three_class

    own, signs, classes, banded = 0, [], [], []
    for s in sentences:
        rows = [
            u
            for u in utterances
            if min(u["end"], s["end"]) - max(u["start"], s["start"]) > 0.5 * (u["end"] - u["start"])
        ]
        own += len(rows) == 1
        if len(rows) == 1 and s["group"] != "neutral" and rows[0]["text"] is not None:
            signs.append(np.sign(rows[0]["text"]) == (1 if s["polarity"] == "positive" else -1))
        if len(rows) == 1 and rows[0]["text"] is not None:
            said = "neutral" if s["group"] == "neutral" else s["polarity"]
            classes.append(rows[0].get("text_class") == said)
            banded.append(POLARITY_CLASSES[int(three_class([rows[0]["text"]])[0]) + 1] == said)
    ref = [w for s in sentences for w in words(s["text"])]
    hyp = [w for u in utterances for w in words(u["transcript"])]
    return {
        "one_row_per_sentence": own / len(sentences),
        "wer": wer(ref, hyp),
        "opinion_sign_accuracy": float(np.mean(signs)),
        "class_accuracy": float(np.mean(classes)),
        "band_class_accuracy": float(np.mean(banded)),
    }


def side_by_side(talks: list, tmp: Path, model: str, startup: float) -> tuple[list, list, list, float]:
    """Score every talk offline with ``model``: windows, utterances and sentences on one time axis (talks far
    apart), and the seconds spent beyond start-up."""
    windows, utterances, sentences, seconds = [], [], [], 0.0
    for k, (path, said, _) in enumerate(talks):
        out = tmp / f"{model}-{k}"
        seconds += score(path, out, model) - startup
        offset = 1000.0 * k
        for rows, into in (
            (read(out / f"{path.stem}.csv"), windows),
            (read(out / f"{path.stem}.utterances.csv"), utterances),
        ):
            into += [{**r, "start": r["start"] + offset, "end": r["end"] + offset} for r in rows]
        sentences += [{**s, "start": s["start"] + offset, "end": s["end"] + offset} for s in said]
    return windows, utterances, sentences, seconds


def print_tables(report: dict) -> None:
    print(f"\n{len(report['voices'])} talks, {report['talk_seconds']:.0f} s of speech")
    print(
        f"{'recognizer':10s} {'WER':>6s} {'own row':>8s} {'utt. sign':>10s} {'class (band)':>14s} {'RTF':>6s} {'start-up s':>11s}"
    )
    for model, e in report["models"].items():
        u = e["utterances"]
        print(
            f"{model:10s} {u['wer']:6.3f} {u['one_row_per_sentence']:8.3f} {u['opinion_sign_accuracy']:10.3f} "
            f"{u['class_accuracy']:7.3f} ({u['band_class_accuracy']:.3f}) {e['rtf']:6.3f} {e['startup_s']:11.1f}"
        )
    if "live" in report and "utterances" in report["live"]:
        u = report["live"]["utterances"]
        print(f"{'live ' + report['live']['asr_model']:10s} {u['wer']:6.3f} {u['one_row_per_sentence']:8.3f} {u['opinion_sign_accuracy']:10.3f}"
              f" {u['class_accuracy']:7.3f} ({u['band_class_accuracy']:.3f})"
              f"   (recognizer alone, without the clock: WER {report['live']['incremental_wer']:.3f})")  # fmt: skip
    print(
        f"\n{'recognizer':10s} {'score':22s} {'plain agree':>12s} {'neg/contr. agree':>17s} {'flips':>7s} {'neutral in +-1':>15s}"
    )
    rows = [(model, e["windows"]) for model, e in report["models"].items()]
    rows += [(f"live {report['live']['asr_model']}", report["live"]["windows"])] if "live" in report else []
    for model, metrics in rows:
        for name, m in metrics.items():
            print(
                f"{model:10s} {name:22s} {m['plain_agree']:12.3f} {m['negation_contrast_agree']:17.3f} {m['flips']:7.3f} {m['neutral_within_1']:15.3f}"
            )
    if "live" in report and "ceiling" in report["live"]:
        print("\nat best, live (the text head on the words already said, heard perfectly and at once; raw):")
        for name, m in report["live"]["ceiling"].items():
            print(f"{'ceiling':10s} {name:22s} {m['plain_agree']:12.3f} {m['negation_contrast_agree']:17.3f} "
                  f"{m['flips']:7.3f} {m['neutral_within_1']:15.3f}   shown {m['shown']:.3f}")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--asr-models", default="tiny.en,base")
    p.add_argument("--voices", default="en-us,en-gb-x-rp,en-us+f3")
    p.add_argument("--seed", type=int, default=5)
    p.add_argument("--live-voice", default="en-us", help="voice whose talk is also played live ('' for none)")
    p.add_argument("--out", type=Path, default=RESULTS)
    p.add_argument(
        "--rows",
        type=Path,
        help="also write every window (offline per recognizer, and live) and the "
        "sentences here (JSON): what scripts/bench_fusion.py --spoken re-fuses by other rules",
    )
    add_verbosity(p)
    args = p.parse_args(argv)
    setup_logging(args, logging.INFO)
    from realtime import demo

    voices, models = args.voices.split(","), args.asr_models.split(",")
    report: dict = {"voices": voices, "taus": TAUS, "models": {}}
    kept: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        talks = [make_talk(tmp, v, args.seed + i) for i, v in enumerate(voices)]
        report["talk_seconds"] = sum(t[2] for t in talks)
        blank = demo.video(tmp / "blank.mp4", None, 1.0)
        for model in models:
            startup = score(blank, tmp / "startup", model)
            windows, utterances, sentences, seconds = side_by_side(talks, tmp, model, startup)
            entry = {
                "startup_s": startup,
                "rtf": seconds / report["talk_seconds"],
                "utterances": utterance_metrics(utterances, sentences),
                "windows": all_metrics(windows, sentences),
            }
            report["models"][model] = entry
            kept["offline " + model] = {"rows": windows, "sentences": sentences}
            log.info("%s: %s", model, json.dumps(entry)[:400])
        if args.live_voice:
            path, said, seconds = talks[voices.index(args.live_voice)]
            log.info("live, %s, %.0f s at real-time pace", args.live_voice, seconds)
            live, spoken = live_windows(path, models[0])
            report["live"] = {"voice": args.live_voice, "asr_model": models[0], "seconds": seconds,
                              "windows": all_metrics(live, said), "utterances": utterance_metrics(spoken, said),
                              "incremental_wer": incremental_wer(tmp / f"talk-{args.live_voice}.wav", said, models[0]),
                              "ceiling": causal_ceiling([w["end"] for w in live], said)}  # fmt: skip
            kept["live " + models[0]] = {"rows": live, "sentences": said}
    if args.rows:
        args.rows.write_text(json.dumps(kept) + "\n")
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    print_tables(report)
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
