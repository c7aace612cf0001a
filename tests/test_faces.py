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


def talking_faces(out, lines):
    """The astronaut (smiling) on the left and a frowning LFW face on the right, each speaking its lines in
    its own espeak-ng voice (the astronaut ``en-us``, the other ``en-us+f3``): the speaker's mouth opens and
    closes, painted over the photo, three times a second while they speak; the other's stays shut."""
    import cv2
    import soundfile as sf
    from skimage import data

    from dmsil.features.face import FaceExtractor, FaceOptions
    from realtime import demo

    frame = np.full((demo.H, demo.W, 3), 90, np.uint8)
    frame[100:384, 20:260] = cv2.resize(data.astronaut()[20:280, 120:340], (240, 284))
    gray = cv2.resize((data.lfw_subset()[48] * 255).astype(np.uint8), (280, 280), interpolation=cv2.INTER_CUBIC)
    frame[100:380, 340:620] = np.stack([gray] * 3, axis=-1)
    with FaceExtractor(FaceOptions(static_image_mode=True)) as extractor:
        mouths = sorted((f.marks[-2:] for f in extractor.all(frame)), key=lambda m: m[:, 0].mean())  # left first
    wav, spans = demo.join_speech([text for _, text in lines], out.with_suffix(".wav"), 0.6, 160,
                                  [("en-us", "en-us+f3")[who] for who, _ in lines])  # fmt: skip
    frames = np.repeat(frame[None], int(sf.info(str(wav)).duration * FPS), axis=0)
    for i, picture in enumerate(frames):
        t = i / FPS
        for (a, b), (who, _) in zip(spans, lines, strict=True):
            if a <= t < b:
                corners = mouths[who]
                centre = tuple(int(v) for v in corners.mean(axis=0))
                half = int(0.4 * np.linalg.norm(corners[1] - corners[0]))
                cv2.ellipse(
                    picture, centre, (half, int(3 + 9 * abs(np.sin(3 * np.pi * t)))), 0, 0, 360, (40, 20, 20), -1
                )
    return demo.mux(out, frames, wav, FPS), spans


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


@pytest.mark.slow
def test_the_gauge_reads_the_face_whose_mouth_moves_with_the_voice(scorer, tmp_path):
    from realtime.offline import score_file
    from realtime.outputs import FORMATS
    from realtime.pipeline import PipelineOptions

    lines = [
        (0, "I think we should start the meeting now, everyone is here."),
        (1, "Fine, but I only have half an hour before my next call."),
        (0, "That is plenty of time for the three things on the list."),
        (1, "Then let us go through them quickly, one after the other."),
        (0, "The first one is the budget for the coming spring season."),
        (1, "And the second one is the new office on the other side."),
    ]
    video, spans = talking_faces(tmp_path / "talking.mp4", lines)
    result = score_file(video, scorer, PipelineOptions(), tmp_path / "out", FORMATS, progress=False)
    assert result.error is None
    said = [u for u in result.utterances if u.speaker and u.start > spans[2][0]]  # once each has spoken
    voices = {u.speaker for u in said}
    assert len(voices) == 2
    read = {v: {u.face for u in said if u.speaker == v} for v in voices}
    assert all(len(faces) == 1 and None not in faces for faces in read.values()), read  # one face each
    assert len({next(iter(f)) for f in read.values()}) == 2  # and not the same one
    # which face: the astronaut smiles (video_raw > 0), the other frowns; the voices alternate from the astronaut's
    first = next(u.speaker for u in result.utterances if u.speaker)
    raw = {v: np.mean([u.video_raw for u in said if u.speaker == v]) for v in voices}
    assert raw[first] > 0 > raw[next(iter(voices - {first}))], raw
