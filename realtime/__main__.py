"""Command line: live sentiment from a camera and microphone, or offline scoring of files.

python -m realtime --camera 0 [--mic DEVICE] [--engine auto] [--asr faster-whisper] [--window 4 --hop 1] [--no-ui]
python -m realtime --camera talk.mp4 --no-ui        # a file played at its own pace, with its sound
python -m realtime score FILE_OR_DIR... [--out DIR] [--format csv,json,png] [--window 4 --hop 1]
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

from dmsil import cluster
from dmsil.cli import add_asr_arguments, add_engine_argument, add_verbosity, asr_options, setup_logging
from dmsil.errors import DmsilError
from engines import KINDS


def _common(p: argparse.ArgumentParser) -> None:
    from realtime.pipeline import PipelineOptions

    defaults, windows = PipelineOptions(), PipelineOptions().windows
    p.add_argument("--checkpoint", help="model directory (default: the shipped default model)")
    add_engine_argument(p, KINDS)
    add_asr_arguments(p)
    p.add_argument("--window", type=float, default=windows.window, help="seconds of context per result")
    p.add_argument("--hop", type=float, default=windows.hop, help="seconds between results")
    p.add_argument(
        "--smooth", type=float, default=defaults.smooth, help="time constant (s) of the smoothed scores; 0: off"
    )
    p.add_argument("--pause", type=float, default=windows.pause, help="silence (s) that ends an utterance")
    p.add_argument("--no-audio", action="store_true",
                   help="do not read the voice (the default model's voice head is trained on CC BY-NC-SA data)")  # fmt: skip
    p.add_argument("--no-speakers", action="store_true", help="do not tell voices apart: everyone heard is one speaker")
    add_verbosity(p)


def live_parser() -> argparse.ArgumentParser:
    from realtime import ui

    p = argparse.ArgumentParser(
        prog="python -m realtime", description="Live multimodal sentiment from a camera and mic."
    )
    p.add_argument("--camera", default="0", help="device index, device path, URL or video file; 'none' for no video")
    p.add_argument("--mic", help="sounddevice input (index or name); 'none' for no audio; default: the system's")
    p.add_argument("--no-ui", action="store_true", help="print one line per window instead of the web page")
    p.add_argument("--browser", action="store_true", help="capture from the viewer's browser (webcam + mic), not here")
    p.add_argument("--host", default="127.0.0.1", help="web UI address (127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=7860)
    p.add_argument("--share", action="store_true", help="also make a public gradio.live link (exposes the page)")
    p.add_argument("--no-autostart", action="store_true", help="web UI: wait for the Start button")
    p.add_argument("--max-sessions", type=int, default=ui.PageOptions.max_sessions,
                   help="--browser: live sessions at once (about a core each); later visitors wait")  # fmt: skip
    _common(p)
    return p


def score_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m realtime score", description="Score video or audio files offline.")
    p.add_argument(
        "inputs", nargs="+", help="media files, transcripts (.txt, .srt, .vtt), or directories of media files"
    )
    p.add_argument("--out", default="scores", help="output directory (default: ./scores)")
    p.add_argument("--format", default="csv,json,png", help="any of csv, json, png, comma-separated")
    cluster.add_argument(p)
    _common(p)
    return p


def _options(args, live: bool):
    from realtime.pipeline import PipelineOptions
    from realtime.speakers import SpeakerOptions
    from realtime.windows import WindowOptions

    # live decodes its rolling buffer every second: greedy search keeps it ahead of the speaker on a CPU
    asr = asr_options(args, beam_size=1 if live else 5, threads=1)
    windows = WindowOptions(window=args.window, hop=args.hop, live=live, pause=args.pause)
    speakers = None if args.no_speakers else SpeakerOptions()
    return PipelineOptions(windows, asr=asr, smooth=args.smooth, speakers=speakers)


def score_main(argv: list[str]) -> int:
    from realtime.offline import FileScorer, expand, score_on_ray
    from realtime.outputs import FORMATS

    args = score_parser().parse_args(argv)
    setup_logging(args, logging.WARNING)
    formats = tuple(f.strip() for f in args.format.split(",") if f.strip())
    bad = [f for f in formats if f not in FORMATS]
    if bad or not formats:
        print(f"error: --format {args.format!r}: use any of {', '.join(FORMATS)}", file=sys.stderr)
        return 2
    files = expand(args.inputs)
    if not files:
        print(f"error: no media files in {' '.join(args.inputs)}", file=sys.stderr)
        return 1
    out = Path(args.out)
    try:  # before the models load: a bad --out is told at once, not after the scoring
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        why = "a file, not a folder" if out.is_file() else f"cannot make the folder ({exc.strerror or exc})"
        print(f"error: --out {out}: {why}", file=sys.stderr)
        return 2
    cut, failed, scored = threading.Event(), 0, 0
    cut_on_signals(cut, "waiting for the files under way" if args.ray else "scoring what was read")
    try:
        options = _options(args, live=False)
        if args.ray:
            summaries = score_on_ray(files, args.ray, args.checkpoint, args.engine, options, out, formats,
                                     voice=not args.no_audio)  # fmt: skip
        else:
            scorer = FileScorer(args.checkpoint, args.engine, options, out, formats, voice=not args.no_audio, cut=cut)
            summaries = (scorer(path, progress=not args.quiet) for path in files if not cut.is_set())
        for summary in summaries:
            scored += 1
            if summary.error:
                failed += 1
                kept = f" ({summary.windows} windows before it written)" if summary.windows else ""
                print(f"error: {summary.error}{kept}", file=sys.stderr)
            if summary.outputs:
                print(summary)
            if cut.is_set():
                break
    except (DmsilError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # asked twice, outside a file's scoring (which keeps what it scored)
        cut.set()
    finally:
        if args.ray:
            cluster.shutdown()
    if cut.is_set() and (scored < len(files) or failed):  # (a signal after the last file changed nothing)
        if scored < len(files):
            print(f"error: interrupted: {len(files) - scored} of {len(files)} files not scored", file=sys.stderr)
        return 130
    return 1 if failed else 0


def live_sources(args, clock: float) -> list:
    """The sources the arguments ask for; a missing device is logged and left out, not fatal."""
    from realtime.sources import CameraSource, FileSource, MicSource, SourceError

    log = logging.getLogger("realtime")
    camera = None if args.camera.lower() == "none" else (int(args.camera) if args.camera.isdigit() else args.camera)
    if isinstance(camera, str) and Path(camera).is_file() and args.mic is None:
        return [FileSource(camera, pace=True)]  # a recording standing in for camera + mic, at its own pace
    sources = []
    if camera is not None:
        try:
            sources.append(CameraSource(camera, clock))
        except SourceError as exc:
            log.warning("%s; running without video", exc)
    if (args.mic or "").lower() != "none":
        mic = int(args.mic) if args.mic and args.mic.isdigit() else args.mic
        try:
            sources.append(MicSource(mic, clock))
        except SourceError as exc:
            log.warning("%s; running without audio", exc)
    if not sources:
        raise DmsilError("no camera and no microphone could be opened")
    return sources


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def stop_on_signals() -> None:
    """Ctrl-C (SIGINT) and SIGTERM (``kill``, a service manager, ``docker stop``) both end the live command
    through the same clean stop. SIGINT is set explicitly: a shell starts background jobs with it ignored,
    and Python then keeps ignoring it."""
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)


def cut_on_signals(cut: threading.Event, then: str) -> None:
    """Ctrl-C (SIGINT) or SIGTERM during ``realtime score``: the first sets ``cut`` (the file under way is
    read no further, what was read is scored and written, the batch stops), the second stops scoring now
    (what was scored is still written). ``then``: what happens after the first, as the command says it. With
    ``--ray`` the workers finish the files they have."""

    def handle(signum, frame) -> None:
        if cut.is_set():
            raise KeyboardInterrupt
        cut.set()
        # straight to the file descriptor: a handler that prints may land inside a write to stderr
        # (the progress bar's), and the buffered writer refuses a reentrant call
        os.write(sys.stderr.fileno(), f"\ninterrupted: {then} (again to stop now)\n".encode())

    signal.signal(signal.SIGINT, handle)
    signal.signal(signal.SIGTERM, handle)


def live_main(argv: list[str]) -> int:
    from realtime.console import Lines
    from realtime.pipeline import Pipeline
    from realtime.scorer import Scorer

    args = live_parser().parse_args(argv)
    setup_logging(args, logging.WARNING)
    stop_on_signals()
    if not args.no_ui:
        return ui_main(args)
    try:
        scorer = Scorer(args.checkpoint, args.engine, voice=not args.no_audio)
        pipeline = Pipeline(scorer, _options(args, live=True))
        clock = time.monotonic()
        sources = live_sources(args, clock)
    except (DmsilError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    lines = Lines(sys.stdout)
    lines.header(scorer, pipeline.options)
    try:
        stats = pipeline.run(sources, lines, clock_start=clock)
    except KeyboardInterrupt:
        pipeline.stop()
        stats = pipeline.stats
        print("stopped", file=sys.stderr)
    for line in stats.errors:
        print(f"error: {line}", file=sys.stderr)
    if stats.frames_dropped:
        print(f"dropped {stats.frames_dropped} of {stats.frames} video frames under load", file=sys.stderr)
    return 0


def ui_main(args) -> int:
    from realtime.scorer import Scorer
    from realtime.sources import BrowserSource
    from realtime.ui import PageOptions, serve

    try:
        page = PageOptions(args.browser, args.host, args.port, args.share, not args.no_autostart, args.max_sessions)
        scorer = Scorer(args.checkpoint, args.engine, voice=not args.no_audio)
        options = _options(args, live=True)
    except (DmsilError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1

    def make_sources(clock: float) -> list:
        return [BrowserSource(clock)] if args.browser else live_sources(args, clock)

    # uploads and results live in one temp dir, removed at exit; Gradio reads where from the environment,
    # so it is set here, once, before the page is built
    with tempfile.TemporaryDirectory(prefix="dmsil-live-", ignore_cleanup_errors=True) as workdir:
        os.environ["GRADIO_TEMP_DIR"] = str(Path(workdir) / "uploads")
        try:
            serve(scorer, options, make_sources, page, Path(workdir))
        except KeyboardInterrupt:
            pass
        except OSError as exc:  # the port is taken
            print(f"error: cannot serve on {args.host}:{args.port} ({exc})", file=sys.stderr)
            return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    from realtime.console import quiet

    quiet("--verbose" in argv or "-v" in argv)  # before the libraries load: they speak while loading
    if argv[:1] == ["score"]:
        return score_main(argv[1:])
    return live_main(argv)


def exit_now(code: int) -> None:
    """End the process without the interpreter's teardown.

    Everything is written and closed by the time :func:`main` returns, but tearing down the native
    libraries (MediaPipe graphs, CTranslate2, ONNX Runtime, torch) took another 1.6-2.4 s on a busy
    machine, which kept Ctrl-C from ending the live command within 2 s (scripts/bench_shutdown.py)."""
    sys.stdout.flush()
    sys.stderr.flush()
    logging.shutdown()
    os._exit(code)


def run() -> None:
    """The ``dmsil-live`` command (``python -m realtime``)."""
    exit_now(main())


def run_score() -> None:
    """The ``dmsil-live-score`` command (``python -m realtime score``)."""
    exit_now(main(["score", *sys.argv[1:]]))


if __name__ == "__main__":
    run()
