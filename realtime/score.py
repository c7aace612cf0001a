"""Offline scoring of video (or audio) files: a timeline (``NAME.csv``, ``NAME.json``, ``NAME.png``) and one
row per utterance (``NAME.utterances.csv``, and ``utterances`` in the JSON).

The files go through the same pipeline as the live app, with nothing dropped. Every window row holds
the raw scores and the smoothed ones beside them (``*_smooth``); an utterance row scores the utterance's
text alone and fuses it with the frames of its own span, which is what the research datasets label.
Damaged parts of a file are skipped as ffmpeg skips them and listed under ``damaged`` in the JSON (the
windows mostly inside one say ``damaged`` for the modality they lost); the rest is scored and the file
counts as done. A file that fails in another way keeps every finished window, counts as failed (one
line saying where it broke) and makes the command exit non-zero once the batch is done.
"""

from __future__ import annotations

import csv
import json
import logging
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from dmsil.errors import DmsilError
from realtime.pipeline import Pipeline, PipelineOptions
from realtime.scorer import Scorer, Scores, usable_checkpoint
from realtime.sources import Damage, FileSource, SourceError

log = logging.getLogger(__name__)
SCORES = ("fused", "text", "audio", "video")
COLUMNS = ("start", "end", "transcript", *SCORES, *(f"{k}_smooth" for k in SCORES), "provisional", "present")
UTTERANCE_COLUMNS = ("start", "end", "transcript", *SCORES, "present")
FORMATS = ("csv", "json", "png")
MEDIA = {".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v", ".mpg", ".mpeg", ".flv", ".wmv", ".3gp", ".ts"}
MEDIA |= {".wav", ".mp3", ".m4a", ".aac", ".flac", ".ogg", ".opus", ".wma"}


@dataclass
class FileResult:
    path: Path
    rows: list[Scores] = field(default_factory=list)
    utterances: list[Scores] = field(default_factory=list)
    error: str | None = None
    outputs: list[Path] = field(default_factory=list)
    damage: list[Damage] = field(default_factory=list)
    """Spans of the file that could not be decoded and were skipped (the rest was scored)."""


def expand(inputs: list[str]) -> list[Path]:
    """Files as given; a directory contributes its media files (by extension), sorted."""
    found = []
    for raw in inputs:
        p = Path(raw)
        if p.is_dir():
            found += sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in MEDIA)
        else:
            found.append(p)
    return found


def score_file(
    path: Path,
    scorer: Scorer,
    options: PipelineOptions,
    out_dir: Path,
    formats: tuple[str, ...],
    progress: bool = True,
    on_progress: Callable[[float, float | None], None] | None = None,
) -> FileResult:
    """Scores one file into ``out_dir``; ``progress`` draws a bar on stderr, ``on_progress(seconds done,
    duration or None)`` hears of each window (the page's progress bar)."""
    result = FileResult(path)
    try:
        source = FileSource(path)
    except SourceError as exc:
        result.error = str(exc)
        return result
    total = source.duration or None
    bar = tqdm(total=total, desc=path.name, unit="s", disable=not progress, file=sys.stderr, leave=False)

    def on_result(s: Scores) -> None:
        if s.kind == "utterance":
            result.utterances.append(s)
            return
        result.rows.append(s)
        bar.update(max(0.0, s.end - bar.n) if total is None or s.end <= total else max(0.0, total - bar.n))
        if on_progress is not None:
            on_progress(s.end, total)

    stats = Pipeline(scorer, options).run([source], on_result)
    bar.close()
    result.damage = source.damage
    if stats.errors:
        result.error = stats.errors[0]
    if result.rows or result.error is None:
        result.outputs = write(result, scorer, out_dir, formats)
    return result


@dataclass
class FileSummary:
    """What a command prints of one scored file (small: it comes back from a Ray worker)."""

    path: Path
    windows: int
    error: str | None
    outputs: list[Path]

    @classmethod
    def of(cls, result: FileResult) -> FileSummary:
        return cls(result.path, len(result.rows), result.error, result.outputs)


class FileScorer:
    """A model loaded once, scoring files in turn into ``out_dir``: the main process, or one Ray worker."""

    def __init__(self, checkpoint: str | None, engine: str, options: PipelineOptions, out_dir: Path,
                 formats: tuple[str, ...]):  # fmt: skip
        self.scorer = Scorer(checkpoint, engine)
        self.options, self.out_dir, self.formats = options, out_dir, formats

    def __call__(self, path: Path, progress: bool = False) -> FileSummary:
        return FileSummary.of(score_file(path, self.scorer, self.options, self.out_dir, self.formats, progress))


def score_on_ray(
    files: list[Path], address: str, checkpoint: str | None, engine: str, options: PipelineOptions, out_dir: Path,
    formats: tuple[str, ...],
) -> Iterator[FileSummary]:  # fmt: skip
    """The files scored by one :class:`FileScorer` per CPU of the cluster, each summary as it finishes."""
    import ray
    from ray.util import ActorPool

    from dmsil import cluster

    usable_checkpoint(checkpoint)  # a bad checkpoint: one line here, not in a worker
    workers = min(len(files), cluster.connect(address))
    remote = ray.remote(num_cpus=1)(FileScorer)
    pool = ActorPool([remote.remote(checkpoint, engine, options, out_dir, formats) for _ in range(workers)])
    try:
        yield from pool.map_unordered(lambda worker, path: worker.__call__.remote(path), files)
    except ray.exceptions.RayError as exc:  # a worker that died: one line, the files done so far are written
        raise DmsilError(f"ray: {type(exc).__name__}: {str(exc).strip().splitlines()[-1]}") from None


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


def row(s: Scores) -> dict:
    return {
        "start": round(s.start, 3),
        "end": round(s.end, 3),
        "transcript": s.transcript,
        **{k: _round(getattr(s, k)) for k in SCORES},
        **{f"{k}_smooth": _round(s.smooth.get(k)) for k in SCORES},
        "provisional": s.provisional,
        "present": "+".join(s.present),
    }


def utterance_row(s: Scores) -> dict:
    return {
        "start": round(s.start, 3),
        "end": round(s.end, 3),
        "transcript": s.transcript,
        **{k: _round(getattr(s, k)) for k in SCORES},
        "present": "+".join(s.present),
    }


def write(result: FileResult, scorer: Scorer, out_dir: Path, formats: tuple[str, ...]) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = out_dir / result.path.stem
    written = []
    if "csv" in formats:
        with stem.with_suffix(".csv").open("w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=COLUMNS)
            w.writeheader()
            w.writerows(row(s) for s in result.rows)
        written.append(stem.with_suffix(".csv"))
        path = stem.with_name(stem.name + ".utterances.csv")
        with path.open("w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=UTTERANCE_COLUMNS)
            w.writeheader()
            w.writerows(utterance_row(s) for s in result.utterances)
        written.append(path)
    if "json" in formats:
        document = {
            "file": str(result.path),
            "checkpoint": str(scorer.ckpt),
            "engine": scorer.engine.name,
            "complete": result.error is None,
            "error": result.error,
            "untrained": scorer.untrained,
            "damaged": [{"start": round(d.t, 3), "end": round(d.end, 3), "stream": d.stream} for d in result.damage],
            "windows": [{**row(s), "missing": s.missing} for s in result.rows],
            "utterances": [{**utterance_row(s), "missing": s.missing} for s in result.utterances],
        }
        stem.with_suffix(".json").write_text(
            json.dumps(document, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        written.append(stem.with_suffix(".json"))
    if "png" in formats:
        written.append(plot(result, stem.with_suffix(".png")))
    return written


def plot(result: FileResult, out: Path) -> Path:
    """The smoothed scores over time (untrained or absent ones left out; the raw fused score thin), the
    transcript under them."""
    from matplotlib.figure import Figure  # no pyplot: no global backend or figure registry to touch

    rows = result.rows
    fig = Figure(figsize=(12, 5.5))
    ax, tx = fig.subplots(2, 1, height_ratios=(3, 1.2), sharex=True)
    styles = {"fused": ("k", 2.5), "text": ("tab:blue", 1.2), "audio": ("tab:green", 1.2), "video": ("tab:orange", 1.2)}
    t = [s.end for s in rows]
    for name, (color, width) in styles.items():
        y = [s.smooth.get(name, getattr(s, name)) for s in rows]
        y = [float("nan") if v is None else v for v in y]
        if any(v == v for v in y):
            ax.plot(t, y, color=color, lw=width, label=name, marker="." if len(rows) < 40 else None)
    raw = [float("nan") if s.fused is None else s.fused for s in rows]
    if any(v == v for v in raw):
        ax.plot(t, raw, color="k", lw=0.6, ls=":", label="fused (raw)")
    ax.axhline(0, color="grey", lw=0.6)
    ax.set_ylim(-3.2, 3.2)
    ax.set_yticks([-3, -2, -1, 0, 1, 2, 3], ["-3 very neg.", "-2", "-1", "0 neutral", "+1", "+2", "+3 very pos."])
    ax.set_ylabel("sentiment (MOSI scale)")
    ax.legend(loc="upper right", ncol=4, fontsize=8)
    title = result.path.name + ("" if result.error is None else "  (incomplete: decoding stopped)")
    ax.set_title(title)
    tx.set_ylim(0, 1)
    tx.set_yticks([])
    for side in ("left", "right", "top"):
        tx.spines[side].set_visible(False)
    for i, s in enumerate(r for r in rows if r.recent):
        tx.text(s.end, 0.95 - 0.3 * (i % 3), s.recent, fontsize=7, ha="right", va="top", clip_on=True)
    tx.set_xlabel("time (s)")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    return out
