"""The web page (Gradio): the camera picture, the transcript, the fused score and one per modality, a
timeline that moves every hop, and a tab that scores an uploaded file.

Two ways to capture: server-side (the pipeline owns this machine's camera and microphone) or, with
``--browser``, the viewer's own webcam and microphone streamed from the page. The page listens on
127.0.0.1 unless ``--host`` says otherwise; a public share link exists only with ``--share``.
"""

from __future__ import annotations

import logging
import queue
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

import numpy as np

from dmsil.features.audio import SAMPLE_RATE, to_mono_16k
from realtime.modalities import MODALITIES
from realtime.pipeline import Pipeline, PipelineOptions
from realtime.scorer import Scorer, Scores
from realtime.sources import AudioChunk, Frame

log = logging.getLogger(__name__)
HISTORY = 300
"""Windows kept for the timeline (five minutes at the default hop)."""
UPLOAD_TYPES = [".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v", ".wav", ".mp3", ".m4a", ".flac", ".ogg"]
MAX_UPLOAD = "500mb"


def verdict(score: float | None) -> str:
    """Words for a MOSI-scale score."""
    if score is None:
        return ""
    for edge, word in ((-2.0, "strongly negative"), (-0.5, "negative"), (0.5, "neutral"), (2.0, "positive")):
        if score < edge:
            return word
    return "strongly positive"


def score_card(name: str, score: float | None, why: str | None) -> str:
    if score is None:
        return f"**{name}**: unavailable ({why or 'no data'})"
    return f"**{name}**: {score:+.2f} on [-3, +3], {verdict(score)}"


class BrowserSource:
    """Frames and sound pushed from the page (``--browser``), stamped on the pipeline's clock on arrival."""

    name = "browser"
    has_audio = has_video = True

    def __init__(self, clock_start: float):
        self.start = clock_start
        self.status: str | None = None
        self._queue: queue.Queue = queue.Queue(maxsize=200)
        self._stop = threading.Event()

    def push_frame(self, rgb: np.ndarray) -> None:
        self._offer(Frame(time.monotonic() - self.start, np.ascontiguousarray(rgb[..., :3])))

    def push_audio(self, sr: int, samples: np.ndarray) -> None:
        x = samples.astype(np.float32) / 32768.0 if samples.dtype == np.int16 else samples.astype(np.float32)
        x = to_mono_16k(x, sr)
        self._offer(AudioChunk(time.monotonic() - self.start - x.size / SAMPLE_RATE, x))

    def _offer(self, item) -> None:
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            pass  # the pipeline is stopped or far behind: the page must never block

    def stop(self) -> None:
        self._stop.set()

    def __iter__(self):
        while not self._stop.is_set():
            try:
                yield self._queue.get(timeout=0.2)
            except queue.Empty:
                continue


class LiveSession:
    """One pipeline run at a time in a background thread; the page reads its latest state."""

    def __init__(self, scorer: Scorer, options: PipelineOptions, make_sources: Callable[[float], list]):
        self.scorer, self.options, self.make_sources = scorer, options, make_sources
        self.history: deque[Scores] = deque(maxlen=HISTORY)
        """Recent windows (their smoothed scores are what the page shows)."""
        self.utterances: deque[Scores] = deque(maxlen=HISTORY)
        self.pipeline: Pipeline | None = None
        self.sources: list = []
        self.error: str | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        with self._lock:
            if self.running:
                return
            self.history.clear()
            self.utterances.clear()
            self.error = None
            clock = time.monotonic()
            try:
                self.sources = self.make_sources(clock)
            except Exception as exc:  # no device at all: shown on the page, the server keeps running
                self.error = str(exc)
                return
            self.pipeline = Pipeline(self.scorer, self.options)
            self._thread = threading.Thread(
                target=self._run, args=(self.pipeline, self.sources, clock), name="live-session", daemon=True
            )
            self._thread.start()

    def _run(self, pipeline: Pipeline, sources: list, clock: float) -> None:
        try:
            pipeline.run(sources, self._keep, clock_start=clock)
        except Exception as exc:  # shown on the page; Start tries again
            log.exception("pipeline stopped")
            self.error = f"pipeline stopped: {type(exc).__name__}: {exc}"

    def _keep(self, s: Scores) -> None:
        (self.utterances if s.kind == "utterance" else self.history).append(s)

    def stop(self) -> None:
        with self._lock:
            if self.pipeline is not None:
                self.pipeline.stop()
            if self._thread is not None:
                self._thread.join(timeout=5.0)
            self._thread = None

    def status(self) -> str:
        p = self.pipeline
        parts = [
            f"engine **{self.scorer.engine.name}**",
            f"window {self.options.window:g} s, hop {self.options.hop:g} s",
        ]
        if self.running and p is not None:
            lat = p.stats.latencies[-20:]
            if lat:
                parts.append(f"latency {np.median(lat) * 1000:.0f} ms")
            if p.stats.frames_dropped:
                parts.append(f"{p.stats.frames_dropped} video frames dropped under load")
            parts.append("running")
        else:
            parts.append("stopped")
        for source in self.sources:
            if getattr(source, "status", None):
                parts.append(source.status)
        if p is not None and p.stats.errors:
            parts.append(p.stats.errors[-1])
        if self.error:
            parts.append(self.error)
        return " · ".join(parts)

    def frame(self) -> np.ndarray | None:
        return None if self.pipeline is None else self.pipeline.latest_frame

    def timeline(self):
        import pandas as pd

        rows = [
            {"time (s)": s.end, "score": value, "head": name}
            for s in list(self.history)
            for name in ("fused", "text", "audio", "video")
            if (value := s.smooth.get(name, getattr(s, name))) is not None
        ]
        return pd.DataFrame(rows, columns=["time (s)", "score", "head"])


def build(session: LiveSession, browser: bool, out_root: Path):
    """The Gradio Blocks app."""
    import gradio as gr

    from realtime.score import score_file

    untrained = "; ".join(f"{m}: {why}" for m, why in session.scorer.untrained.items())
    # a page that sees faces and hears voices reports nothing to Gradio's makers (not left to GRADIO_ANALYTICS_ENABLED)
    with gr.Blocks(title="dmsil-live", analytics_enabled=False) as app:
        gr.Markdown(
            "# dmsil-live\nSentiment of the speaker on the MOSI scale: -3 strongly negative ... +3 strongly positive."
            + (f"\n\n_{untrained}_" if untrained else "")
        )
        with gr.Tab("Live"):
            status = gr.Markdown(session.status(), elem_id="status")
            with gr.Row():
                start = gr.Button("Start", variant="primary", elem_id="start")
                stop = gr.Button("Stop", elem_id="stop")
            with gr.Row():
                with gr.Column(scale=1):
                    if browser:
                        webcam = gr.Image(sources=["webcam"], streaming=True, label="your camera", elem_id="webcam")
                        mic = gr.Audio(sources=["microphone"], streaming=True, label="your microphone", elem_id="mic")
                    picture = gr.Image(label="what the pipeline sees", interactive=False, elem_id="picture")
                with gr.Column(scale=1):
                    fused = gr.Markdown("**fused**: waiting", elem_id="fused")
                    heads = gr.Markdown("", elem_id="heads")
                    present = gr.Markdown("", elem_id="present")
                    transcript = gr.Textbox(label="transcript", lines=3, interactive=False, elem_id="transcript")
            plot = gr.LinePlot(
                session.timeline(),
                x="time (s)",
                y="score",
                color="head",
                y_lim=[-3, 3],
                title="timeline",
                elem_id="timeline",
            )

            def view():
                latest = session.history[-1] if session.history else None
                if latest is None:
                    cards = ("**fused**: waiting for the first window", "", "", "")
                else:
                    cards = (
                        score_card("fused", latest.smooth.get("fused", latest.fused), "no trained modality present"),
                        "  \n".join(
                            score_card(m, latest.smooth.get(m, getattr(latest, m)), latest.missing.get(m))
                            for m in MODALITIES
                        ),
                        "present: "
                        + (", ".join(latest.present) or "none")
                        + "".join(
                            f"  \n{m}: {why}" for m, why in latest.missing.items() if m != "audio" or not untrained
                        ),
                        latest.transcript,
                    )
                return (session.status(), session.frame(), *cards, session.timeline())

            outputs = [status, picture, fused, heads, present, transcript, plot]
            gr.Timer(min(1.0, session.options.hop)).tick(view, outputs=outputs, show_progress="hidden")
            start.click(lambda: (session.start(), view())[1], outputs=outputs)
            stop.click(lambda: (session.stop(), view())[1], outputs=outputs)
            if browser:

                def take_frame(rgb):
                    source = next((s for s in session.sources if hasattr(s, "push_frame")), None)
                    if rgb is not None and source is not None and session.running:
                        source.push_frame(rgb)

                def take_audio(chunk):
                    source = next((s for s in session.sources if hasattr(s, "push_audio")), None)
                    if chunk is not None and source is not None and session.running:
                        source.push_audio(*chunk)

                webcam.stream(take_frame, inputs=webcam, outputs=None, stream_every=0.1, show_progress="hidden")
                mic.stream(take_audio, inputs=mic, outputs=None, stream_every=0.5, show_progress="hidden")

        with gr.Tab("Score a file"):
            upload = gr.File(label="video or audio file", file_types=UPLOAD_TYPES, type="filepath", elem_id="upload")
            go = gr.Button("Score", variant="primary", elem_id="score")
            message = gr.Markdown("", elem_id="file-status")
            image = gr.Image(label="timeline", interactive=False, elem_id="file-plot")
            downloads = gr.File(label="CSV and JSON", file_count="multiple", interactive=False, elem_id="downloads")
            table = gr.Dataframe(label="windows", interactive=False, elem_id="file-table")

            def score_upload(path):
                import pandas as pd

                from realtime.score import row

                if not path:
                    return "choose a file first", None, None, None
                out = Path(tempfile.mkdtemp(dir=out_root))
                options = PipelineOptions(
                    window=session.options.window, hop=session.options.hop, asr=session.options.asr
                )
                result = score_file(Path(path), session.scorer, options, out, ("csv", "json", "png"), progress=False)
                note = f"error: {result.error}" if result.error else f"{len(result.rows)} windows"
                png = next((str(p) for p in result.outputs if p.suffix == ".png"), None)
                files = [str(p) for p in result.outputs if p.suffix in (".csv", ".json")]
                return note, png, files or None, pd.DataFrame([row(s) for s in result.rows])

            go.click(score_upload, inputs=upload, outputs=[message, image, downloads, table])
        app.unload(session.stop)  # closing the page stops the capture (a local, single-viewer tool)
    return app


def serve(
    scorer: Scorer,
    options: PipelineOptions,
    make_sources: Callable[[float], list],
    browser: bool,
    host: str,
    port: int,
    share: bool,
    autostart: bool,
    workdir: Path,
) -> None:
    """Build the page and serve it until Ctrl-C; results are written under ``workdir`` (the caller's, who
    also points Gradio's uploads there and removes it)."""
    if host not in ("127.0.0.1", "localhost", "::1"):
        log.warning("the page listens on %s: anyone who can reach this machine can watch and use it", host)
    if share:
        log.warning("--share: a public gradio.live link will expose your camera and microphone to the internet")
    session = LiveSession(scorer, options, make_sources)
    app = build(session, browser, workdir)
    if autostart:
        session.start()
    try:
        app.queue().launch(
            server_name=host, server_port=port, share=share, max_file_size=MAX_UPLOAD, show_error=True, quiet=False
        )
    finally:
        session.stop()
