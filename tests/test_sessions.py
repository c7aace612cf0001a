"""Who gets which live session, and saving one: real pipelines on the real model and the generated talk."""

import csv
import json
import time

import pytest

from dmsil.features.audio import SAMPLE_RATE
from dmsil.features.media import AudioChunk, Frame
from realtime.outputs import COLUMNS, UTTERANCE_COLUMNS
from realtime.pipeline import PipelineOptions
from realtime.sessions import LiveSession, Sessions
from realtime.sources import BrowserSource, FileSource

LIVE = PipelineOptions.make(live=True)


def browser_sessions(scorer, limit: int) -> Sessions:
    return Sessions(lambda: LiveSession(scorer, LIVE, lambda clock: [BrowserSource(clock)]), shared=False, limit=limit)


def until(condition, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_each_visitor_has_a_session_and_those_beyond_the_limit_wait_their_turn(scorer):
    sessions = browser_sessions(scorer, limit=1)
    try:
        a = sessions.start("a")
        assert a.running and sessions.get("a") is a
        b = sessions.start("b")
        c = sessions.start("c")
        assert b is not a and not b.running and not c.running
        assert "you are next" in b.status() and "number 2 in line" in c.status() and "waiting" in b.status()
        sessions.leave("a")  # a closes the page: stopped, dropped, b's turn comes on its next update
        assert not a.running and sessions.get("a") is not a
        until(lambda: sessions.get("b").running)
        assert not sessions.get("c").running and sessions.running() == 1
        sessions.stop("c")  # c gives up waiting
        sessions.stop("b")
        assert not sessions.get("c").running and sessions.running() == 0
    finally:
        sessions.close()
    assert sessions.running() == 0


def test_the_shared_camera_session_stops_when_its_last_viewer_leaves(scorer):
    sessions = Sessions(lambda: LiveSession(scorer, LIVE, lambda clock: [BrowserSource(clock)]), shared=True, limit=1)
    try:
        assert sessions.get("a") is sessions.get("b") is sessions.shared
        assert sessions.by_token(sessions.shared.token) is sessions.shared and sessions.by_token("guess") is None
        sessions.start("a")
        assert sessions.start("b").running  # no limit on viewers of the one camera
        sessions.leave("a")
        assert sessions.shared.running
        sessions.leave("b")
        assert not sessions.shared.running
    finally:
        sessions.close()
    with pytest.raises(ValueError, match="at least 1"):
        browser_sessions(scorer, limit=0)


def test_a_saved_session_has_the_columns_of_offline_scoring(scorer, talk, tmp_path):
    session = LiveSession(scorer, LIVE, lambda clock: [FileSource(talk["talk"], pace=True)])
    session.start()
    until(lambda: not session.running, timeout_s=120)  # the talk plays to its end at its own pace
    assert session.error is None and len(session.windows) >= 5 and session.utterances
    files = {p.name.split(".", 1)[1]: p for p in session.save(tmp_path, {"S1": "Astronaut"})}
    assert set(files) == {"csv", "utterances.csv", "speakers.csv", "json", "png"}
    with files["speakers.csv"].open() as f:  # one voice, told apart live, under the name the viewer typed
        assert [r["speaker"] for r in csv.DictReader(f)] == ["Astronaut"]
    with files["csv"].open() as f:
        rows = list(csv.DictReader(f))
    assert tuple(rows[0]) == COLUMNS and len(rows) == len(session.windows)
    with files["utterances.csv"].open() as f:
        said = list(csv.DictReader(f))
    assert tuple(said[0]) == UTTERANCE_COLUMNS and "waiter" in " ".join(r["transcript"] for r in said).lower()
    document = json.loads(files["json"].read_text())
    assert document["file"].startswith("session-") and len(document["utterances"]) == len(said)
    assert files["png"].stat().st_size > 10_000
    assert session.picture(True).shape == session.picture(False).shape
    # what the page fetches: the frame as JPEG, encoded once per frame read; the timeline, drawn once per window
    drawn = session.picture_jpeg(True)
    assert drawn[:2] == b"\xff\xd8" and session.picture_jpeg(True) is drawn and session.picture_jpeg(False) != drawn
    data = session.timeline()
    assert data["windows"] == len(session.windows) and session.timeline() is data
    assert session.timeline(5.0)["windows"] < data["windows"]  # the last 5 s only


def test_a_browser_session_says_which_of_its_streams_sends_nothing_and_scores_what_arrives(scorer, talk):
    """A visitor who has not pressed Record (or whose browser refused the camera) is told so on the page."""
    session = LiveSession(scorer, LIVE, lambda clock: [BrowserSource(clock)])
    session.start()
    try:  # the statuses reach the page as events from the running pipeline: each is waited for
        until(lambda: "nothing from your camera yet" in session.status())
        assert "nothing from your microphone yet (press Record" in session.status()
        items = iter(FileSource(talk["talk"], pace=True))  # the talk at its own pace, as the page streams it
        for item in items:
            if isinstance(item, Frame):
                session.push("frame", item.rgb)
                break
        until(lambda: "camera" not in session.status())
        assert "nothing from your microphone" in session.status()
        for item in items:
            if isinstance(item, AudioChunk):
                session.push("audio", (SAMPLE_RATE, item.samples))
            elif isinstance(item, Frame):
                session.push("frame", item.rgb)
        until(lambda: "nothing from" not in session.status())

        # what arrived is scored: words of the talk (live recognition on a busy machine may drop a few)
        def heard() -> int:
            said = " ".join(s.transcript.lower() for s in session.windows if s.fused is not None)
            return sum(w in said for w in ("loved", "film", "food", "cold", "waiter", "rude"))

        until(lambda: heard() >= 2, 120)
        source = session.sources[0]
        source.STALE_S = 0.3  # the talk has ended: both streams are silent
        until(lambda: all(f"your {d} stopped sending" in session.status() for d in ("camera", "microphone")))
    finally:
        session.stop()
