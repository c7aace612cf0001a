"""Every face in the picture (realtime.faces): two real faces side by side, one leaving and coming back,
each followed under one name and read on its own."""

import csv
import json

import numpy as np
import pytest

from realtime.faces import FaceTracks, Sighting, overlap

SECONDS, FPS = 12, 25


def two_faces(out):
    """The astronaut (smiling) throughout; a frowning face from scikit-image's LFW crops on the right for
    3 s, gone for 5 s, then back on the left, where the astronaut was, as the astronaut moves right: a
    face in another's place must not take its name."""
    import cv2
    from skimage import data

    from realtime import demo

    astronaut = cv2.resize(data.astronaut()[20:280, 120:340], (240, 284))
    gray = cv2.resize((data.lfw_subset()[48] * 255).astype(np.uint8), (280, 280), interpolation=cv2.INTER_CUBIC)
    other = np.stack([gray] * 3, axis=-1)
    frames = np.full((SECONDS * FPS, demo.H, demo.W, 3), 90, np.uint8)
    for i, frame in enumerate(frames):
        t = i / FPS
        if t < 8:
            frame[100:384, 20:260] = astronaut
        else:
            frame[100:384, 380:620] = astronaut
        if t < 3:
            frame[100:380, 340:620] = other
        elif t >= 8:
            frame[100:380, 20:300] = other
    said = [
        "Here we are, the two of us.",
        "One of us will step out for a moment.",
        "It is quiet here alone.",
        "And now we are both back again, in new places.",
    ]
    wav, _ = demo.join_speech(said, out.with_suffix(".wav"), pause=1.0)
    return demo.mux(out, frames, wav, FPS)


def test_a_face_continues_by_overlap_and_comes_back_by_its_look():
    rng = np.random.default_rng(0)
    ann, bob = (v / np.linalg.norm(v) for v in rng.normal(size=(2, 576)))
    tracks = FaceTracks()
    a, b = Sighting(0.0, (0, 0, 100, 100), ann, np.zeros(3)), Sighting(0.0, (300, 0, 400, 100), bob, np.zeros(3))
    tracks(0.0, [a, b])
    moved = Sighting(0.1, (10, 0, 110, 100), None, np.zeros(3))  # no look this frame: overlap alone
    tracks(0.1, [moved])
    assert (a.face, b.face, moved.face) == ("F1", "F2", "F1")
    assert overlap((0, 0, 100, 100), (50, 0, 150, 100)) == pytest.approx(1 / 3)
    back = Sighting(5.0, (600, 300, 700, 400), bob + 0.05 * rng.normal(size=576), np.zeros(3))
    stranger = Sighting(5.0, (300, 300, 400, 400), rng.normal(size=576) / 24, np.zeros(3))
    tracks(5.0, [back, stranger])
    assert (back.face, stranger.face) == ("F2", "F3")


@pytest.mark.slow
def test_two_faces_are_followed_and_read_each_on_its_own(scorer, tmp_path):
    from realtime.offline import score_file
    from realtime.outputs import FORMATS
    from realtime.pipeline import PipelineOptions

    video = two_faces(tmp_path / "two_faces.mp4")
    result = score_file(video, scorer, PipelineOptions(), tmp_path / "out", FORMATS, progress=False)
    assert result.error is None
    windows = json.loads((tmp_path / "out" / "two_faces.json").read_text())["windows"]
    named = {w["end"]: sorted(w["faces"]) for w in windows}
    assert named[2.0] == named[12.0] == ["F1", "F2"]  # back after 5 s away: known again, not a new face
    assert named[7.0] == ["F1"]  # 3-7 s: the astronaut alone
    assert {name for names in named.values() for name in names} == {"F1", "F2"}
    # the gauge reads the largest face against that face's own neutral: no jump when the largest one leaves
    assert all(abs(w["video"]) < 0.5 for w in windows if w["video"] is not None), [w["video"] for w in windows]
    with (tmp_path / "out" / "two_faces.faces.csv").open() as f:
        rows = list(csv.DictReader(f))
    reading = {name: np.mean([float(r["video_raw"]) for r in rows if r["face"] == name]) for name in ("F1", "F2")}
    assert reading["F1"] > reading["F2"], reading  # the smiling astronaut above the frowning face
