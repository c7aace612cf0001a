"""Face features on real photographs (scikit-image's astronaut and coffee), through MediaPipe and the FER model."""

import logging
import subprocess
import sys

import cv2
import numpy as np
import pytest

from tests.conftest import require_module

require_module("mediapipe")
require_module("ai_edge_litert")
data = require_module("skimage.data")

from dmsil.errors import DmsilError  # noqa: E402
from dmsil.features.face import (  # noqa: E402
    EXPRESSIONS,
    FACE_DIM,
    FACE_FEATURE_NAMES,
    ExpressionClassifier,
    FaceExtractor,
    FaceFrame,
    FaceOptions,
)

IDX = {name: i for i, name in enumerate(FACE_FEATURE_NAMES)}
GEOMETRY = ("mouth_width", "lip_opening", "smile", "brow_left", "brow_right", "eye_open_left", "eye_open_right")
GEOMETRY += ("jaw_drop",)
BACKGROUND = (90, 110, 130)
H, W = 480, 640


def _head(scale: float = 1.5) -> np.ndarray:
    """The astronaut's head and shoulders, enlarged so the face is ~140 px wide (a webcam at arm's length).

    At the photo's own size the face is ~90 px wide, where MediaPipe's landmark jitter is large enough
    to hide what these tests check (that the features do not depend on the face's size and rotation).
    """
    head = data.astronaut()[20:280, 120:340]
    return cv2.resize(head, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)


def _bump(t: float, start: float, end: float, ramp: float = 3.0) -> float:
    """0 outside (start, end), 1 on the plateau, raised-cosine ramps of `ramp` frames in between."""
    if t <= start or t >= end:
        return 0.0
    r = min(t - start, end - t) / ramp
    return 1.0 if r >= 1 else 0.5 - 0.5 * np.cos(np.pi * r)


def _moving_face_video(n: int = 40) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """Frames of the head moving on a smooth path; shrunk to 0.8x in one stretch, rotated 10 degrees in another."""
    head = _head()
    h, w = head.shape[:2]
    frames, scales, angles = [], [], []
    for t in range(n):
        scale = 1.0 - 0.2 * _bump(t, 8, 20)
        angle = 10.0 * _bump(t, 22, 34)
        x = round((W - w) / 2 * (1 + 0.8 * np.sin(2 * np.pi * t / n)))
        y = round((H - h) / 2 * (1 + 0.8 * np.sin(2 * np.pi * t / 25)))
        canvas = np.full((H, W, 3), BACKGROUND, np.uint8)
        canvas[y : y + h, x : x + w] = head
        m = cv2.getRotationMatrix2D((x + w / 2, y + h / 2), angle, scale)
        frames.append(cv2.warpAffine(canvas, m, (W, H), flags=cv2.INTER_LINEAR, borderValue=BACKGROUND))
        scales.append(scale)
        angles.append(angle)
    return frames, np.array(scales), np.array(angles)


@pytest.fixture(scope="module")
def tracked() -> tuple[list[FaceFrame], np.ndarray, np.ndarray]:
    frames, scales, angles = _moving_face_video()
    with FaceExtractor() as extractor:  # default options: tracking, as for video
        results = [extractor(frame) for frame in frames]
    return results, scales, angles


def test_names_and_dim():
    assert FACE_DIM == len(FACE_FEATURE_NAMES) == len(set(FACE_FEATURE_NAMES))
    assert FACE_FEATURE_NAMES[-1] == "face_present"
    assert [n for n in FACE_FEATURE_NAMES if n.startswith("expr_")] == [f"expr_{e}" for e in EXPRESSIONS]
    assert EXPRESSIONS == ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")


def test_tracking_finds_the_face_in_almost_every_frame(tracked):
    results, _, _ = tracked
    present = [r.present for r in results]
    assert np.mean(present) >= 0.95
    for r in results:
        assert r.vector.dtype == np.float32 and r.vector.shape == (FACE_DIM,)
        assert np.all(np.isfinite(r.vector))
        assert r.vector[IDX["face_present"]] == (1.0 if r.present else 0.0)
        if r.present:
            x0, y0, x1, y1 = r.box
            assert 0 <= x0 < x1 <= W and 0 <= y0 < y1 <= H
            assert r.n_faces >= 1


def test_geometry_is_stable_while_the_face_moves(tracked):
    results, scales, angles = tracked
    present = np.array([r.present for r in results])
    upright = np.array([r.vector for r in results])[present & (scales == 1) & (angles == 0)]
    assert len(upright) >= 15
    for name in ("mouth_width", "eye_open_left", "eye_open_right", "jaw_drop"):
        col = upright[:, IDX[name]]
        assert col.mean() > 0.1, name
        assert col.std() < 0.1 * col.mean(), (name, col.std(), col.mean())
    # A smiling face: mouth corners above the lip centre line, lips slightly apart.
    assert np.median(upright[:, IDX["smile"]]) > 0.03
    assert np.median(upright[:, IDX["lip_opening"]]) > 0.05


def test_geometry_does_not_change_with_size_or_in_plane_rotation(tracked):
    results, scales, angles = tracked
    present = np.array([r.present for r in results])
    v = np.array([r.vector for r in results])
    upright = np.median(v[present & (scales == 1) & (angles == 0)], axis=0)
    small = np.median(v[present & np.isclose(scales, 0.8)], axis=0)
    rotated = np.median(v[present & np.isclose(angles, 10.0)], axis=0)
    for name in GEOMETRY:
        i = IDX[name]
        tolerance = 0.03 + 0.05 * abs(upright[i])  # inter-ocular distances
        assert abs(small[i] - upright[i]) < tolerance, (name, small[i], upright[i])
        assert abs(rotated[i] - upright[i]) < tolerance, (name, rotated[i], upright[i])
    for name in ("head_yaw", "head_pitch"):
        assert abs(small[IDX[name]] - upright[IDX[name]]) < 0.05, name
        assert abs(rotated[IDX[name]] - upright[IDX[name]]) < 0.05, name
    # cv2 turns the image 10 degrees anticlockwise; roll (clockwise positive) follows it.
    assert abs(small[IDX["head_roll"]] - upright[IDX["head_roll"]]) < 0.03
    assert rotated[IDX["head_roll"]] - upright[IDX["head_roll"]] == pytest.approx(-np.radians(10), abs=0.03)


def test_smiling_astronaut_reads_happy(tracked):
    results, _, _ = tracked
    expr = np.array([r.vector[IDX["expr_angry"] : IDX["expr_neutral"] + 1] for r in results if r.present])
    np.testing.assert_allclose(expr.sum(axis=1), 1.0, atol=1e-3)
    assert EXPRESSIONS[int(np.argmax(expr.mean(axis=0)))] == "happy"
    assert np.mean(np.argmax(expr, axis=1) == EXPRESSIONS.index("happy")) >= 0.95


def test_scene_without_a_face_gives_zeros():
    coffee = cv2.resize(data.coffee(), (W, 427), interpolation=cv2.INTER_AREA)
    canvas = np.full((H, W, 3), BACKGROUND, np.uint8)
    canvas[26 : 26 + 427] = coffee
    with FaceExtractor() as extractor:
        for _ in range(3):
            result = extractor(canvas)
            assert not result.present and result.n_faces == 0 and result.box is None
            assert result.vector.shape == (FACE_DIM,) and not result.vector.any()
            assert result.vector[IDX["face_present"]] == 0.0


def test_two_faces_are_each_read_and_the_larger_is_chosen(caplog):
    # The head at twice the photo's size beside a 0.5x copy (the photo's own size): smaller faces on a
    # wide canvas fall below what MediaPipe's short-range detector finds.
    big = _head(2.0)
    small = cv2.resize(big, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    canvas = np.full((big.shape[0], 720, 3), BACKGROUND, np.uint8)  # 520x720
    canvas[:, : big.shape[1]] = big
    top = (big.shape[0] - small.shape[0]) // 2
    canvas[top : top + small.shape[0], -small.shape[1] :] = small
    with caplog.at_level(logging.INFO, logger="dmsil.features.face"):
        with FaceExtractor(FaceOptions(static_image_mode=True)) as extractor:
            results = [extractor(canvas) for _ in range(3)]
            both = extractor.all(canvas)
    assert sorted(f.box[0] < big.shape[1] // 2 for f in both) == [False, True]  # each copy read on its own
    assert float(both[0].look @ both[1].look) > 0.8  # one face at two sizes: it looks the same
    for result in results:
        assert result.present and result.n_faces == 2
        x0, y0, x1, y1 = result.box
        assert x1 <= big.shape[1] and y1 <= big.shape[0]  # inside the big copy
        assert x1 - x0 > 150  # the big face (~180 px), not the small one (~90 px)
    assert len([r for r in caplog.records if "faces" in r.getMessage()]) == 1


def test_a_face_that_enters_is_read_at_the_next_look_and_one_face_alone_as_mediapipe_reads_it():
    # the big head throughout; its half-size copy beside it in frames 7-16. Tracking with looks every 5
    # frames (the default) against MediaPipe's own detection on every frame (look_every=1).
    big = _head(2.0)
    small = cv2.resize(big, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    top = (big.shape[0] - small.shape[0]) // 2
    frames = []
    for t in range(24):
        canvas = np.full((big.shape[0], 720, 3), BACKGROUND, np.uint8)
        canvas[:, : big.shape[1]] = big
        if 7 <= t < 17:
            canvas[top : top + small.shape[0], -small.shape[1] :] = small
        frames.append(canvas)
    read = {}
    for every in (1, 5):
        with FaceExtractor(FaceOptions(look_every=every)) as extractor:
            read[every] = [sorted(extractor.all(f), key=lambda f: f.box[0]) for f in frames]
    own, looked = read[1], read[5]
    assert [len(f) for f in own] == [1] * 7 + [2] * 10 + [1] * 7
    assert [len(f) for f in looked] == [1] * 10 + [2] * 7 + [1] * 7  # found at frame 10, the first look after 7
    for t in range(7):  # one face, the mesh never restarted: the very same reading
        assert np.array_equal(own[t][0].vector, looked[t][0].vector)
    for t in range(24):  # a restarted mesh starts from the detector's box: close to MediaPipe's own
        if len(own[t]) == len(looked[t]):
            for a, b in zip(own[t], looked[t], strict=True):
                assert float(np.abs(a.vector - b.vector).max()) < 0.1


def test_non_contiguous_input_and_no_expression():
    frames, _, _ = _moving_face_video(1)
    bgr = np.ascontiguousarray(frames[0][:, :, ::-1])
    view = bgr[:, :, ::-1]  # RGB again, as a strided view
    assert not view.flags.c_contiguous
    with FaceExtractor(FaceOptions(static_image_mode=True)) as extractor:
        from_view = extractor(view)
        from_copy = extractor(np.ascontiguousarray(view))
    assert from_view.present
    np.testing.assert_allclose(from_view.vector, from_copy.vector, atol=1e-6)
    with FaceExtractor(FaceOptions(static_image_mode=True, with_expression=False)) as extractor:
        plain = extractor(view)
    assert plain.present
    assert not plain.vector[IDX["expr_angry"] : IDX["expr_neutral"] + 1].any()
    np.testing.assert_allclose(plain.vector[: IDX["expr_angry"]], from_view.vector[: IDX["expr_angry"]], atol=1e-6)


def test_classifier_on_crops_of_any_size():
    gray = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2GRAY)
    classifier = ExpressionClassifier()
    for crop in (gray[50:200, 150:300], gray[60:190, 160:290][::2, ::2], cv2.resize(gray[50:200, 150:300], (300, 300))):
        probs = classifier(crop)
        assert probs.shape == (7,) and probs.dtype == np.float32
        assert probs.sum() == pytest.approx(1.0, abs=1e-3)
        assert EXPRESSIONS[int(np.argmax(probs))] == "happy"


def test_missing_expression_model_names_the_path(tmp_path):
    missing = tmp_path / "no_such_model.tflite"
    with pytest.raises(DmsilError, match="no_such_model.tflite"):
        ExpressionClassifier(str(missing))
    with pytest.raises(DmsilError, match=str(missing)):
        FaceExtractor(FaceOptions(expression_model=str(missing)))


def test_closed_extractor_refuses_frames():
    extractor = FaceExtractor(FaceOptions(with_expression=False))
    extractor.close()
    extractor.close()
    with pytest.raises(RuntimeError):
        extractor(np.zeros((H, W, 3), np.uint8))


def test_importing_dmsil_does_not_load_mediapipe():
    code = (
        "import sys, dmsil, dmsil.features, dmsil.features.face; "
        "assert 'mediapipe' not in sys.modules and 'ai_edge_litert' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
