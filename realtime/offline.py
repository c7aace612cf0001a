"""Offline scoring of video (or audio) files, written by :mod:`realtime.outputs`: a timeline of windows
and one row per utterance.

The files go through the same pipeline as the live app, with nothing dropped, and their results are kept
from the same events (:class:`realtime.events.Record`). Damaged parts of a file are skipped as ffmpeg
skips them and listed under ``damaged`` in the JSON (the windows mostly inside one say ``damaged`` for
the modality they lost); the rest is scored and the file counts as done. A file that fails in another way keeps every finished window, counts as failed (one
line saying where it broke) and makes the command exit non-zero once the batch is done. Interrupted
(``cut``: Ctrl-C), a file stops being read and what was read is scored and written.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from dmsil.errors import DmsilError
from dmsil.features.asr import ASROptions, Transcriber, load_transcriber
from realtime import transcripts
from realtime.events import Record, WindowScored
from realtime.outputs import FileResult, import_plotting, write
from realtime.pipeline import Pipeline, PipelineOptions
from realtime.scorer import Scorer, usable_checkpoint
from realtime.sources import MEDIA_SUFFIXES, FileSource, SourceError
from realtime.speakers import Turn, diarize_file

log = logging.getLogger(__name__)


def expand(inputs: list[str]) -> list[Path]:
    """Files as given; a directory contributes its media files (by extension), sorted."""
    found = []
    for raw in inputs:
        p = Path(raw)
        if p.is_dir():
            found += sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in MEDIA_SUFFIXES)
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
    cut: threading.Event | None = None,
    load_transcriber: Callable[[ASROptions], Transcriber] = load_transcriber,
) -> FileResult:
    """Scores one file into ``out_dir``; ``progress`` draws a bar on stderr, ``on_progress(seconds done,
    duration or None)`` hears of each window (the page's progress bar). Once ``cut`` is set the file is
    read no further; what was read is scored and written, and the result says where it was cut. Interrupted
    again (KeyboardInterrupt), what was scored by then is written. ``load_transcriber``: the recognizer
    (:class:`FileScorer` keeps one for all its files)."""
    result = FileResult(path)
    if path.suffix.lower() in transcripts.SUFFIXES:
        return _score_transcript(path, scorer, out_dir, formats, result)
    try:
        source = FileSource(path, video_rate=options.face_rate, audio_lead=options.audio_lead)
    except SourceError as exc:
        result.error = str(exc)
        return result
    total = source.duration or None
    bar = tqdm(total=total, desc=path.name, unit="s", disable=not progress, file=sys.stderr, leave=False)

    record = Record(result.rows, result.utterances)
    plotting = (
        threading.Thread(target=import_plotting, name="import-plotting", daemon=True) if "png" in formats else None
    )

    def on_event(event) -> None:
        record(event)
        if isinstance(event, WindowScored):
            if plotting is not None and plotting.ident is None:  # started at the first result, not before it
                plotting.start()
            end = event.scores.end
            bar.update(max(0.0, end - bar.n) if total is None or end <= total else max(0.0, total - bar.n))
            if on_progress is not None:
                on_progress(end, total)

    # the whole recording is diarized beside the other stages; its windows wait for the turns
    turns = (lambda: speakers_of(path, options)) if source.has_audio and options.speakers is not None else None
    pipeline, interrupted = Pipeline(scorer, options, load_transcriber), False
    try:
        stats = pipeline.run([source], on_event, turns=turns, cut=cut)
    except KeyboardInterrupt:  # asked twice: no more scoring, but what was scored is kept
        stats, interrupted = pipeline.stats, True
    finally:
        bar.close()
    result.damage = source.damage
    if interrupted or (cut is not None and cut.is_set()):
        result.error = _interrupted(result, total)
    elif stats.errors:
        result.error = stats.errors[0]
    if result.rows or result.error is None:
        _write(result, scorer, out_dir, formats)
    return result


def _interrupted(result: FileResult, total: float | None) -> str:
    """The one line for a file read no further: how far it was scored, of how long."""
    of = f" of {total:.1f} s" if total else ""
    scored = f"scored up to {result.rows[-1].end:.1f} s{of}" if result.rows else f"before anything was scored{of}"
    return f"{result.path}: interrupted, {scored}"


def _write(result: FileResult, scorer: Scorer, out_dir: Path, formats: tuple[str, ...]) -> None:
    """The outputs, or one line in ``result.error`` when they cannot be written (a full disk, no permission)."""
    try:
        result.outputs = write(result, scorer, out_dir, formats)
    except OSError as exc:
        result.error = f"{exc.filename or out_dir}: cannot write the results ({exc.strerror or exc})"


def _score_transcript(path: Path, scorer: Scorer, out_dir: Path, formats: tuple[str, ...], result: FileResult
                      ) -> FileResult:  # fmt: skip
    try:
        cues = transcripts.read(path)
    except transcripts.TranscriptError as exc:
        result.error = str(exc)
        return result
    transcripts.score(cues, scorer, Record(result.rows, result.utterances))
    _write(result, scorer, out_dir, formats)
    return result


def speakers_of(path: Path, options: PipelineOptions) -> list[Turn]:
    """The recording's turns (none when speakers are off, or when diarization fails: then the file is
    scored as one speaker and the log says why)."""
    if options.speakers is None:
        return []
    try:
        return diarize_file(path, options.speakers)
    except Exception as exc:  # a damaged sound track: scored as one speaker
        log.warning("%s: speakers not told apart (%s: %s)", path, type(exc).__name__, exc)
        return []


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

    def __str__(self) -> str:
        """The line ``realtime score`` prints for a file it wrote."""
        return f"{self.path}: {self.windows} windows -> {', '.join(str(o) for o in self.outputs)}"


class FileScorer:
    """The models loaded once, scoring files in turn into ``out_dir``: the main process, or one Ray worker.

    The stages' models are loaded here, beside the scorer's engine (ONNX Runtime builds its graph without
    holding the GIL), not by each file's stages: the recognizer is kept for every file (each file loaded it
    again, 0.3 s), the speaker models and the extractors' libraries are the process's. On a 100 s talk the
    first file took 12.5 s and the next 9.9 s when the stages loaded their own (``scripts/bench_realtime.py``
    measures start-up and processing apart)."""

    def __init__(self, checkpoint: str | None, engine: str, options: PipelineOptions, out_dir: Path,
                 formats: tuple[str, ...], voice: bool = True, cut: threading.Event | None = None):  # fmt: skip
        self.options, self.out_dir, self.formats = options, out_dir, formats
        with ThreadPoolExecutor(1, thread_name_prefix="load") as pool:
            stages = pool.submit(self._load_stages, voice)
            self.scorer = Scorer(checkpoint, engine, voice=voice)
            self.load_transcriber = stages.result()
        self.cut = cut
        """Set: the file being scored is read no further (:func:`score_file`)."""

    def __call__(self, path: Path, progress: bool = False) -> FileSummary:
        result = score_file(path, self.scorer, self.options, self.out_dir, self.formats, progress, cut=self.cut,
                            load_transcriber=self.load_transcriber)  # fmt: skip
        return FileSummary.of(result)

    def _load_stages(self, acoustic: bool) -> Callable[[ASROptions], Transcriber]:
        """Loads what the stages use and returns the recognizer's loader for the files' pipelines. A model that
        does not load here is left to its stage, which says why in the windows."""
        from dmsil.features.audio import AcousticExtractor
        from dmsil.features.face import FaceExtractor
        from realtime.speakers import diarizer

        transcriber = _tried(lambda: load_transcriber(self.options.asr))
        _tried(lambda: FaceExtractor().close())
        if acoustic:
            _tried(AcousticExtractor)
        if self.options.speakers is not None:
            _tried(diarizer)
        return lambda asr: transcriber if transcriber is not None and asr == self.options.asr else load_transcriber(asr)


def _tried(load: Callable[[], object]) -> object | None:
    """``load()``, or None when it fails (its stage tries again and says why in the windows)."""
    try:
        return load()
    except Exception as exc:
        log.debug("left to its stage: %s: %s", type(exc).__name__, exc)
        return None


def score_on_ray(
    files: list[Path], address: str, checkpoint: str | None, engine: str, options: PipelineOptions, out_dir: Path,
    formats: tuple[str, ...], voice: bool = True,
) -> Iterator[FileSummary]:  # fmt: skip
    """The files scored by one :class:`FileScorer` per CPU of the cluster, each summary as it finishes."""
    import ray
    from ray.util import ActorPool

    from dmsil import cluster

    usable_checkpoint(checkpoint)  # a bad checkpoint: one line here, not in a worker
    workers = min(len(files), cluster.connect(address))
    remote = ray.remote(num_cpus=1)(FileScorer)
    pool = ActorPool([remote.remote(checkpoint, engine, options, out_dir, formats, voice) for _ in range(workers)])
    try:
        yield from pool.map_unordered(lambda worker, path: worker.__call__.remote(path), files)
    except ray.exceptions.RayError as exc:  # a worker that died: one line, the files done so far are written
        raise DmsilError(f"ray: {type(exc).__name__}: {str(exc).strip().splitlines()[-1]}") from None
