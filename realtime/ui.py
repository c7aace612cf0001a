"""The web page (Gradio): the camera picture with what the face reader found, a gauge per score, the
transcript as tinted utterances, the whole session's timeline, saving, and a tab that scores a file.

Two ways to capture: server-side (the pipeline owns this machine's camera and microphone; every viewer
watches that one session) or, with ``--browser``, each visitor's own webcam and microphone streamed
from the page into a session of their own (:mod:`realtime.sessions`). The markup is drawn by
:mod:`realtime.view`; the live picture and timeline are fetched by the page script from addresses of
their own (:func:`add_routes`), so their markup never changes and a page left open does not grow. The page listens on 127.0.0.1 unless ``--host`` says otherwise, a public share link
exists only with ``--share``, and it reports nothing to Gradio's makers.
"""

# no `from __future__ import annotations`: Gradio finds the gr.Request parameters by their evaluated annotations

import dataclasses
import logging
import tempfile
from collections.abc import Callable
from pathlib import Path

from realtime import view
from realtime.offline import score_file
from realtime.outputs import FORMATS, UTTERANCE_COLUMNS, utterance_row
from realtime.pipeline import PipelineOptions
from realtime.scorer import Scorer
from realtime.sessions import LiveSession, Sessions
from realtime.sources import MEDIA_SUFFIXES

log = logging.getLogger(__name__)
MAX_UPLOAD = "500mb"


@dataclasses.dataclass(frozen=True)
class PageOptions:
    browser: bool = False
    """Capture from each visitor's browser instead of this machine's devices."""
    host: str = "127.0.0.1"
    port: int = 7860
    share: bool = False
    autostart: bool = True
    """Server-side capture starts with the server, before anyone opens the page."""
    max_sessions: int = 2
    """``--browser``: live sessions running at once (each takes about a core); later visitors wait."""

    def __post_init__(self) -> None:
        if self.max_sessions < 1:
            raise ValueError(f"--max-sessions must be at least 1, got {self.max_sessions}")


def build(sessions: Sessions, scorer: Scorer, options: PipelineOptions, browser: bool, out_root: Path):
    """The Gradio Blocks app: a live tab and a tab that scores a file."""
    import gradio as gr

    untrained = "; ".join(f"{m}: {why}" for m, why in scorer.untrained.items())
    # a page that sees faces and hears voices reports nothing to Gradio's makers (not left to GRADIO_ANALYTICS_ENABLED)
    with gr.Blocks(title="dmsil-live", analytics_enabled=False) as app:
        gr.Markdown(
            "# dmsil-live\nSentiment of the speaker on the MOSI scale: -3 strongly negative ... +3 strongly positive."
            + (f"\n\n_{untrained}_" if untrained else "")
        )
        with gr.Tab("Live"):
            _live_tab(sessions, options, browser, out_root)
        with gr.Tab("Score a file"):
            _file_tab(scorer, options, out_root)

        def leave(request: gr.Request) -> None:
            sessions.leave(request.session_hash)

        app.unload(leave)  # closing the page ends its visitor's session (the shared one: its last viewer's)
    return app


def _show(session: LiveSession, draw: bool, newest: str, shown: str, typed: str) -> tuple:
    """What the live tab's outputs show of ``session`` now: status, picture, gauges (the heads', then one
    per speaker), transcript, timeline; ``typed``: the viewer's names for the voices. The picture and the
    timeline are the same markup all session long (their data comes by :func:`add_routes`)."""
    latest, names = session.latest, view.parse_names(typed)
    speaking = latest if latest is not None and latest.provisional else None
    return (
        session.status(),
        view.live_picture(f"live/{session.token}/picture.jpg?draw={int(draw)}"),
        view.gauges(latest) + view.speakers(session.utterances, names),
        view.utterance_list(session.utterances, speaking, newest == "newest first", names),
        view.live_timeline(f"live/{session.token}/timeline.json?span={view.SPANS[shown] or 0:g}"),
    )


def add_routes(app, sessions: Sessions) -> None:
    """The live picture (JPEG; 204 while there is none) and timeline data (JSON) of each session, at
    ``/live/TOKEN/...``, ahead of Gradio's own routes in the page's FastAPI ``app``."""
    from fastapi import Response
    from fastapi.responses import JSONResponse
    from fastapi.routing import APIRoute

    fresh = {"Cache-Control": "no-store"}

    def picture(token: str, draw: int = 1) -> Response:
        session = sessions.by_token(token)
        data = session.picture_jpeg(bool(draw)) if session is not None else None
        return Response(data, media_type="image/jpeg", headers=fresh) if data else Response(status_code=204)

    def timeline(token: str, span: float = 0.0) -> Response:
        session = sessions.by_token(token)
        if session is None:
            return Response(status_code=404)
        return JSONResponse(session.timeline(span or None), headers=fresh)

    routes = [APIRoute("/live/{token}/picture.jpg", picture, methods=["GET"]),
              APIRoute("/live/{token}/timeline.json", timeline, methods=["GET"])]  # fmt: skip
    app.router.routes[:0] = routes


def _live_tab(sessions: Sessions, options: PipelineOptions, browser: bool, out_root: Path) -> None:
    import gradio as gr

    who = (
        "Your own webcam and microphone: nobody else sees this session, and it ends when you close the page."
        if browser
        else "Server-side capture: **every viewer of this page sees and hears the same camera and microphone**."
    )
    gr.Markdown(who, elem_id="who")
    status = gr.Markdown("", elem_id="status")
    with gr.Row():
        start = gr.Button("Start", variant="primary", elem_id="start")
        stop = gr.Button("Stop", elem_id="stop")
        save = gr.Button("Save session", elem_id="save")
    with gr.Row():
        with gr.Column(scale=1):
            if browser:
                webcam = gr.Image(sources=["webcam"], streaming=True, label="your camera", elem_id="webcam")
                mic = gr.Audio(sources=["microphone"], streaming=True, label="your microphone", elem_id="mic")
            picture = gr.HTML(view.live_picture(""), elem_id="picture")
            draw_face = gr.Checkbox(True, label="draw the face reader's box and landmarks", elem_id="draw-face")
        with gr.Column(scale=1):
            gauges = gr.HTML(view.gauges(None) + view.speakers([]), elem_id="gauges")
            names = gr.Textbox(label="name the voices", placeholder="S1=Ann, S2=Bob", elem_id="names", max_lines=1)
            utterances = gr.HTML(view.utterance_list([]), label="transcript", elem_id="utterances")
            order = gr.Radio(list(view.ORDERS), value=view.ORDERS[0], label="transcript order", elem_id="order")
    timeline = gr.HTML(view.live_timeline(""), elem_id="timeline")
    span = gr.Radio(list(view.SPANS), value="whole session", label="timeline shows", elem_id="span")
    saved = gr.File(label="saved session: CSV, JSON, PNG", file_count="multiple", interactive=False,
                    elem_id="saved", visible=False)  # fmt: skip

    def act(do: Callable[[str], LiveSession]) -> Callable:
        def handler(draw: bool, newest: str, shown: str, typed: str, request: gr.Request) -> tuple:
            return _show(do(request.session_hash), draw, newest, shown, typed)

        return handler

    def on_save(typed: str, request: gr.Request):
        session = sessions.get(request.session_hash)
        if not session.windows:
            gr.Warning("nothing to save yet: no window has been scored")
            return gr.update(visible=False)
        files = session.save(Path(tempfile.mkdtemp(dir=out_root)), view.parse_names(typed))
        return gr.update(value=[str(p) for p in files], visible=True)

    inputs, outputs = [draw_face, order, span, names], [status, picture, gauges, utterances, timeline]
    # no progress overlay on any of them: an overlay over the page while an update is pending would take the
    # pointer from the buttons (on a busy machine, for as long as the updates queue up)
    quiet = {"inputs": inputs, "outputs": outputs, "show_progress": "hidden", "queue": False}
    gr.Timer(min(1.0, options.windows.hop)).tick(act(sessions.get), **quiet)
    start.click(act(sessions.start), **quiet)
    stop.click(act(sessions.stop), **quiet)
    save.click(on_save, inputs=names, outputs=saved, show_progress="hidden")
    if browser:
        _stream_into(sessions, webcam, mic)


def _stream_into(sessions: Sessions, webcam, mic) -> None:
    """The visitor's webcam frames and microphone chunks go to their own session."""
    import gradio as gr

    def pusher(kind: str) -> Callable:
        def push(data, request: gr.Request) -> None:
            sessions.get(request.session_hash).push(kind, data)

        return push

    # five frames a second: each is a queue event of its own, and two visitors' frames at ten a second starved
    # their microphones' chunks on a busy 2-core machine (no words in 240 s); a face changes slower than that
    webcam.stream(pusher("frame"), inputs=webcam, outputs=None, stream_every=0.2, show_progress="hidden")
    mic.stream(pusher("audio"), inputs=mic, outputs=None, stream_every=0.5, show_progress="hidden")


def _file_tab(scorer: Scorer, options: PipelineOptions, out_root: Path) -> None:
    import gradio as gr

    upload = gr.File(label="video or audio file", file_types=list(MEDIA_SUFFIXES), type="filepath", elem_id="upload")
    go = gr.Button("Score", variant="primary", elem_id="score")
    message = gr.Markdown("", elem_id="file-status")
    file_timeline = gr.HTML("", elem_id="file-timeline")
    table = gr.Dataframe(label="utterances", interactive=False, wrap=True, elem_id="file-utterances")
    downloads = gr.File(label="CSV, JSON and PNG", file_count="multiple", interactive=False, elem_id="downloads")
    # the live page's window, hop and recognizer, scored offline
    offline = dataclasses.replace(options, windows=dataclasses.replace(options.windows, live=False))

    def score_upload(path, progress=gr.Progress()):  # noqa: B008 (Gradio's way to ask for a bar)
        import pandas as pd

        if not path:
            return "choose a file first", "", None, None
        name = Path(path).name
        progress(0.0, desc=f"scoring {name}")

        def advance(done: float, total: float | None) -> None:
            seconds = (round(min(done, total)), round(total)) if total else (round(done), None)
            progress(seconds, desc=f"scoring {name}", unit="s of the file")

        out = Path(tempfile.mkdtemp(dir=out_root))
        result = score_file(Path(path), scorer, offline, out, FORMATS, progress=False, on_progress=advance)
        note = f"{len(result.rows)} windows, {len(result.utterances)} utterances"
        note += f" · error: {result.error}" if result.error else ""
        rows = pd.DataFrame([utterance_row(s) for s in result.utterances], columns=list(UTTERANCE_COLUMNS))
        return (note, view.timeline(result.rows, result.utterances),
                [str(p) for p in result.outputs] or None, rows)  # fmt: skip

    # one file at a time: scoring takes every core
    go.click(score_upload, inputs=upload, outputs=[message, file_timeline, downloads, table], concurrency_limit=1)


def serve(scorer: Scorer, options: PipelineOptions, make_sources: Callable[[float], list], page: PageOptions,
          workdir: Path) -> None:  # fmt: skip
    """Build the page and serve it until Ctrl-C; results are written under ``workdir`` (the caller's, who
    also points Gradio's uploads there and removes it)."""
    if page.host not in ("127.0.0.1", "localhost", "::1"):
        log.warning("the page listens on %s: anyone who can reach this machine can watch and use it", page.host)
    if page.share:
        log.warning("--share: a public gradio.live link will expose your camera and microphone to the internet")
    sessions = Sessions(lambda: LiveSession(scorer, options, make_sources), shared=not page.browser,
                        limit=page.max_sessions)  # fmt: skip
    app = build(sessions, scorer, options, page.browser, workdir)
    if page.autostart and sessions.shared is not None:
        sessions.shared.start()
    try:
        app.queue(default_concurrency_limit=None).launch(
            server_name=page.host, server_port=page.port, share=page.share, max_file_size=MAX_UPLOAD,
            show_error=True, quiet=False, css=view.CSS, head=view.live_js(), prevent_thread_lock=True,
        )  # fmt: skip
        add_routes(app.app, sessions)
        app.block_thread()
    finally:
        sessions.close()
