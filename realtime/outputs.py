"""What a scored recording or session is written as: the window timeline (``NAME.csv``, ``NAME.json``,
``NAME.png``) and one row per utterance (``NAME.utterances.csv``, and ``utterances`` in the JSON).

Every window row holds the raw scores, the words' likeliest class (``text_class``: negative, neutral or
positive, with its probability ``text_class_p``) and the smoothed scores (``*_smooth``), then the face's
absolute reading (``video_raw``) and how far each score can be trusted (``*_confidence``); an utterance row
scores the utterance's text alone, fused with the frames of its own span. The columns come from the
modality declarations (:mod:`realtime.modalities`), so a new modality is a new column everywhere at once.
"""

from __future__ import annotations

import csv
import itertools
import json
import math
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from dmsil.model import POLARITY_CLASSES
from realtime.modalities import COLOURS, DIMENSION, FUSED, MODALITIES, SCORES
from realtime.scorer import Scorer, Scores
from realtime.speakers import colour_of

if TYPE_CHECKING:
    from realtime.sources import Damage

CONFIDENT = (FUSED.name, *MODALITIES)
"""The scores that carry a confidence."""
EVIDENCE = ("video_raw", *(f"{k}_confidence" for k in CONFIDENT))
CLASS = ("text_class", "text_class_p")
"""The words' likeliest class (negative, neutral, positive) and its probability, where the model reads them."""
COLUMNS = ("start", "end", "speaker", "face", "transcript", *SCORES, *CLASS, *(f"{k}_smooth" for k in SCORES), "provisional",
           "present", *EVIDENCE)  # fmt: skip
UTTERANCE_COLUMNS = ("start", "end", "speaker", "face", "transcript", *SCORES, *CLASS, "present", *EVIDENCE)
SPEAKER_COLUMNS = ("speaker", "talk_seconds", "turns", "utterances", *(f"{c}_utterances" for c in POLARITY_CLASSES),
                   *(f"{k}_{stat}" for k in SCORES for stat in ("mean", "min", "max")))  # fmt: skip
FORMATS = ("csv", "json", "png")
DPI = 110
LEFT, RIGHT = 0.105, 0.99


@dataclass
class FileResult:
    """One recording (or live session) scored: its windows and utterances, and how it ended."""

    path: Path
    rows: list[Scores] = field(default_factory=list)
    utterances: list[Scores] = field(default_factory=list)
    error: str | None = None
    outputs: list[Path] = field(default_factory=list)
    damage: list[Damage] = field(default_factory=list)
    """Spans of the file that could not be decoded and were skipped (the rest was scored)."""


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


def row(s: Scores) -> dict:
    return {
        "start": round(s.start, 3),
        "end": round(s.end, 3),
        "speaker": s.speaker or "",
        "face": s.face or "",
        "transcript": s.transcript,
        **{k: _round(getattr(s, k)) for k in SCORES},
        **words_class(s),
        **{f"{k}_smooth": _round(s.smooth.get(k)) for k in SCORES},
        "provisional": s.provisional,
        "present": "+".join(s.present),
        **evidence(s),
    }


def words_class(s: Scores) -> dict:
    name, p = s.text_class or ("", None)
    return dict(zip(CLASS, (name, _round(p)), strict=True))


def evidence(s: Scores) -> dict:
    """The face's absolute reading and each score's confidence (empty where there is no score)."""
    return {"video_raw": _round(s.video_raw), **{f"{k}_confidence": _round(s.confidence.get(k)) for k in CONFIDENT}}


def missing(s: Scores) -> dict[str, str]:
    """Modality -> why it has no score, as words."""
    return {m: str(reason) for m, reason in s.missing.items()}


def utterance_row(s: Scores) -> dict:
    return {
        "start": round(s.start, 3),
        "end": round(s.end, 3),
        "speaker": s.speaker or "",
        "face": s.face or "",
        "transcript": s.transcript,
        **{k: _round(getattr(s, k)) for k in SCORES},
        **words_class(s),
        "present": "+".join(s.present),
        **evidence(s),
    }


def speakers(utterances: list[Scores]) -> list[dict]:
    """One row per speaker of the utterances, in order of first speech: talk time, turns (runs of their
    utterances), how many of their utterances' words read negative, neutral and positive (empty where the model
    has no classes), and the mean and range of each score over their utterances. Empty when no utterance has
    a speaker."""
    rows: dict[str, dict] = {}
    said: dict[str, list[Scores]] = {}
    last = None
    for s in utterances:
        if s.speaker:
            r = rows.setdefault(s.speaker, {"speaker": s.speaker, "talk_seconds": 0.0, "turns": 0})
            r["talk_seconds"] += s.end - s.start
            r["turns"] += s.speaker != last
            said.setdefault(s.speaker, []).append(s)
        last = s.speaker
    for name, r in rows.items():
        r["utterances"], r["talk_seconds"] = len(said[name]), round(r["talk_seconds"], 3)
        classes = [s.text_class[0] for s in said[name] if s.text_class is not None]
        r.update({f"{c}_utterances": classes.count(c) if classes else None for c in POLARITY_CLASSES})
        for k in SCORES:
            values = [getattr(s, k) for s in said[name] if getattr(s, k) is not None]
            stats = (sum(values) / len(values), min(values), max(values)) if values else (None, None, None)
            r.update({f"{k}_{stat}": _round(v) for stat, v in zip(("mean", "min", "max"), stats, strict=True)})
    return list(rows.values())


FACE_COLUMNS = ("start", "end", "face", "video", "video_raw")


def faces(rows: list[Scores]) -> list[dict]:
    """A row per window per face in the picture; empty unless more than one face was ever seen."""
    if len({name for s in rows for name in s.faces}) < 2:
        return []
    return [{"start": round(s.start, 3), "end": round(s.end, 3), "face": name, "video": _round(rel), "video_raw": _round(raw)}
            for s in rows for name, (rel, raw) in sorted(s.faces.items())]  # fmt: skip


def _csv(path: Path, columns: tuple[str, ...], rows) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=columns)
        w.writeheader()
        w.writerows(rows)
    return path


def write(result: FileResult, scorer: Scorer, out_dir: Path, formats: tuple[str, ...]) -> list[Path]:
    """``result`` as the ``formats`` asked for, named after its file, into ``out_dir``; returns the paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = out_dir / result.path.stem
    written = []
    who, seen = speakers(result.utterances), faces(result.rows)
    if "csv" in formats:
        written.append(_csv(stem.with_suffix(".csv"), COLUMNS, (row(s) for s in result.rows)))
        utterances = stem.with_name(stem.name + ".utterances.csv")
        written.append(_csv(utterances, UTTERANCE_COLUMNS, (utterance_row(s) for s in result.utterances)))
        if who:
            written.append(_csv(stem.with_name(stem.name + ".speakers.csv"), SPEAKER_COLUMNS, who))
        if seen:
            written.append(_csv(stem.with_name(stem.name + ".faces.csv"), FACE_COLUMNS, seen))
    if "json" in formats:
        document = {
            "file": str(result.path),
            "checkpoint": str(scorer.ckpt),
            "engine": scorer.engine.name,
            "complete": result.error is None,
            "error": result.error,
            "untrained": scorer.untrained,
            "damaged": [{"start": round(d.t, 3), "end": round(d.end, 3), "stream": d.stream} for d in result.damage],
            "windows": [
                {
                    **row(s),
                    "missing": missing(s),
                    "faces": {k: {"video": _round(rel), "video_raw": _round(raw)} for k, (rel, raw) in s.faces.items()},
                }
                for s in result.rows
            ],  # fmt: skip
            "utterances": [{**utterance_row(s), "missing": missing(s)} for s in result.utterances],
            "speakers": who,
        }
        stem.with_suffix(".json").write_text(
            json.dumps(document, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        written.append(stem.with_suffix(".json"))
    if "png" in formats:
        written.append(plot(result, stem.with_suffix(".png")))
    return written


def _speakers(ax, tx, utterances: list[Scores]) -> None:
    """Each speaker's utterances: their fused score as a bar over the utterance, and who spoke when as a
    band under the transcript."""
    seen: set[str] = set()
    for s in utterances:
        if not s.speaker:
            continue
        colour, label = colour_of(s.speaker), None if s.speaker in seen else s.speaker
        seen.add(s.speaker)
        if s.fused is not None:
            ax.plot([s.start, s.end], [s.fused, s.fused], color=colour, lw=5, alpha=0.55, solid_capstyle="butt",
                    label=label)  # fmt: skip
        tx.axvspan(s.start, s.end, ymin=0.0, ymax=0.08, color=colour, lw=0)


def import_plotting() -> None:
    """Imports what :func:`plot` draws with (matplotlib's figure and Agg canvas: 0.25-0.5 s, holding the GIL).
    Offline scoring calls it on a thread of its own while a file is scored, where the cores have room; at
    the end, the plot would wait for it with every stage done. A failure is left to :func:`plot` to report."""
    try:
        import matplotlib.backends.backend_agg  # noqa: F401
        import matplotlib.figure  # noqa: F401
    except Exception:  # noqa: S110
        pass


def plot(result: FileResult, out: Path) -> Path:
    """The smoothed scores over time (untrained or absent ones left out; the raw fused score thin), the
    transcript under them."""
    figure(result).savefig(out, dpi=DPI)
    return out


def figure(result: FileResult):
    """The figure :func:`plot` saves."""
    from matplotlib.figure import Figure  # no pyplot: no global backend or figure registry to touch

    rows = result.rows
    fig = Figure(figsize=(12, 5.5))
    ax, tx = fig.subplots(2, 1, height_ratios=(3, 1.2), sharex=True)
    t = [s.end for s in rows]
    for name in SCORES:
        color, width = COLOURS[name], 2.5 if name == FUSED.name else 1.2
        y = [s.smooth.get(name, getattr(s, name)) for s in rows]
        y = [float("nan") if v is None else v for v in y]
        d = DIMENSION.get(name)
        label, style = (f"{name} (− {d.low}, + {d.high})", "--") if d else (name, "-")
        if any(v == v for v in y):
            ax.plot(t, y, color=color, lw=width, ls=style, label=label, marker="." if len(rows) < 40 else None)
    _speakers(ax, tx, result.utterances)
    raw = [float("nan") if s.fused is None else s.fused for s in rows]
    if any(v == v for v in raw):
        ax.plot(t, raw, color=COLOURS[FUSED.name], lw=0.6, ls=":", label="fused (raw)")
    ax.axhline(0, color="grey", lw=0.6)
    ax.set_ylim(-3.2, 3.2)
    ax.set_yticks([-3, -2, -1, 0, 1, 2, 3], ["-3 very neg.", "-2", "-1", "0 neutral", "+1", "+2", "+3 very pos."])
    ax.set_ylabel("sentiment (MOSI scale)")
    if ax.get_legend_handles_labels()[0]:  # a file too short to score has nothing to name
        ax.legend(loc="upper right", ncol=4, fontsize=8)
    why = None if result.error is None else result.error.removeprefix(f"{result.path}: ")
    title = result.path.name + ("" if why is None else f"  (incomplete: {why})")
    ax.set_title(title)
    tx.set_ylim(0, 1)
    tx.set_yticks([])
    for side in ("left", "right", "top"):
        tx.spines[side].set_visible(False)
    tx.set_xlabel("time (s)")
    # fixed margins that fit the labels above: tight_layout measured every transcript line's extent, a
    # tenth of the CPU time of scoring a short file
    fig.subplots_adjust(left=LEFT, right=RIGHT, top=0.94, bottom=0.09, hspace=0.06)
    _transcript(tx, result.utterances, fig.get_figwidth() * DPI * (RIGHT - LEFT))
    return fig


CHAR_PX = 6.5
"""Room for a character of the transcript (7 pt at :data:`DPI`; DejaVu Sans averages about 5.5 on English,
wide letters more)."""


def _fitted(text: str, width: int, lines: int) -> list[str]:
    """``text`` in at most ``lines`` lines of ``width`` characters, cut with "…" at the first that cannot
    hold its words (a word longer than a line is cut there too: the rest would read out of order)."""
    out = []
    for line in textwrap.wrap(text, width, max_lines=lines, placeholder=" …", break_long_words=False):
        if len(line) > width:
            return [*out, line[: width - 1] + "…"]
        out.append(line)
    return out


def _transcript(tx, utterances: list[Scores], width_px: float) -> None:
    """Each utterance's words from its start up to the next one's, wrapped to that width and cut with "…"
    where they do not fit: the last words of every window, labelled at its end, overlapped one another and
    read out of order on a long file. Utterances at the same time (two voices) take a second lane."""
    said = sorted((u for u in utterances if u.transcript.strip()), key=lambda u: u.start)
    lo, hi = tx.get_xlim()
    chars_per_s = width_px / (hi - lo) / CHAR_PX
    overlap = any(b.start < a.end for a, b in zip(said, said[1:], strict=False))
    lanes = [-math.inf, -math.inf] if overlap else [-math.inf]
    lines = 6 // len(lanes)
    for i, u in enumerate(said):
        lane = next((k for k, free in enumerate(lanes) if free <= u.start + 1e-6), None)
        until = min(next((v.start for v in itertools.islice(said, i + 1, None) if v.start >= u.end), hi), hi)
        width = int((until - max(u.start, lo)) * chars_per_s) - 1  # a space before the next label
        if lane is None or width < 4:  # a third voice at once, or too short to read here: the CSV has it
            continue
        lanes[lane] = until
        text = "\n".join(_fitted(u.transcript, width, lines))
        tx.text(max(u.start, lo), 0.95 - 0.45 * lane, text, fontsize=7, ha="left", va="top", clip_on=True)
