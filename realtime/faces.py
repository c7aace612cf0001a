"""Who is in the picture: every face read, followed from frame to frame, known again when it comes back.

The face stage reads every face of a frame (:meth:`dmsil.features.face.FaceExtractor.all`), each as a
:class:`Sighting`. :class:`FaceTracks` names them ``F1``, ``F2``, ... in order of first sight, on one
thread in time order (the assembler's): a face continues the track whose last box it overlaps most (and
that was seen within :attr:`FaceTrackOptions.gap` seconds); one that continues none is matched by its look
(:attr:`dmsil.features.face.FaceFrame.look`, a small grey crop) to the faces not in the picture now, and
gets the name of the one it looks like, or a new one. A face in a track's place that looks like someone
else (a cut, two people changing places) does not continue it. Each face then has its own valence and its own
neutral (:class:`realtime.person.People`).

:class:`FaceVoices` links a face to a voice when its mouth moves while that voice speaks and not
otherwise; the assembler then reads the speaker's own face for the gauge, and with several voices or
several faces, no face at all for a speaker it cannot link ("which face is S2's is not known yet").
Every face's own score is reported beside (``faces`` in the JSON, ``NAME.faces.csv``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class FaceTrackOptions:
    overlap: float = 0.3
    """Box overlap (intersection over union) above which a face continues a track."""
    gap: float = 1.0
    """Seconds a track may go unseen and still be continued by overlap alone."""
    same_look: float = 0.7
    """Cosine of two looks above which a face that comes back is the same face. One face's looks measured
    0.42-1.0 from frame to frame (its mean over a few frames, above 0.9); different people's faces, -0.03
    to 0.49 (tests/test_faces.py's)."""
    settle: float = 1.0
    """Seconds during which a new face may still turn out to be one that came back (its mean look over
    these frames is steadier than its first)."""
    other_look: float = 0.3
    """Cosine below which a face that overlaps a track's last box is someone else (a cut, two people
    changing places) and does not continue it. Under one face's frame-to-frame low (0.42), so a poorly
    read frame does not start a new face; two people as alike as 0.3-0.49 can swap unnoticed."""


@dataclass
class Sighting:
    """One face in one frame."""

    t: float
    box: tuple[int, int, int, int]
    look: np.ndarray | None
    vector: np.ndarray
    largest: bool = False
    """The largest face of its frame (the one the gauge reads)."""
    face: str | None = None
    """The track's name, once :class:`FaceTracks` has seen it."""


@dataclass
class _Track:
    name: str
    box: tuple[int, int, int, int]
    last: float
    first: float = 0.0
    looks: list[np.ndarray] = field(default_factory=list)
    young: list[Sighting] = field(default_factory=list)
    """Its sightings while it may still turn out to be a face that came back (renamed if so)."""
    _look: tuple[tuple[int, int], np.ndarray] | None = field(default=None, repr=False)

    def look(self) -> np.ndarray | None:
        """Its last 30 looks' mean (unit length), worked out again only once a look is added: every face of
        every frame is compared with every recent track's (0.3 s of a 100 s talk's scoring thread)."""
        if not self.looks:
            return None
        key = (len(self.looks), id(self.looks[-1]))
        if self._look is None or self._look[0] != key:
            mean = np.mean(self.looks[-30:], axis=0)
            self._look = key, mean / max(float(np.linalg.norm(mean)), 1e-6)
        return self._look[1]


def overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    """Intersection over union of two boxes ``(x0, y0, x1, y1)``."""
    w = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h
    return w * h / union if union > 0 else 0.0


class FaceTracks:
    """Names the faces of frames handed in time order (see the module docstring). Not thread-safe."""

    def __init__(self, options: FaceTrackOptions | None = None):
        self.options = options or FaceTrackOptions()
        self.tracks: list[_Track] = []

    def __call__(self, t: float, sightings: list[Sighting]) -> None:
        """Names the faces seen together at ``t`` (sets each sighting's ``face``)."""
        opts, taken = self.options, set()
        recent = [k for k in self.tracks if t - k.last <= opts.gap]
        pairs = sorted(((overlap(s.box, k.box), i, k.name) for i, s in enumerate(sightings) for k in recent
                        if self._alike(s, k, opts.other_look)), reverse=True)  # fmt: skip
        for score, i, name in pairs:
            if score >= opts.overlap and sightings[i].face is None and name not in taken:
                sightings[i].face = name
                taken.add(name)
        for s in sightings:
            if s.face is None:
                s.face = self._known_again(s, taken) or self._new_name()
                if all(k.name != s.face for k in self.tracks):
                    self.tracks.append(_Track(s.face, s.box, t, t))
                taken.add(s.face)
            track = next(k for k in self.tracks if k.name == s.face)
            track.box, track.last = s.box, t
            if s.look is not None:
                track.looks.append(s.look)
                del track.looks[:-30]
            if t - track.first <= opts.settle:
                track.young.append(s)
                self._came_back(track)
            else:
                track.young.clear()

    def _new_name(self) -> str:
        used = {int(k.name[1:]) for k in self.tracks}
        return f"F{next(i for i in range(1, len(used) + 2) if i not in used)}"

    def _came_back(self, young: _Track) -> None:
        """A new track that looks, over its frames so far, like one gone before it appeared is that one."""
        look = young.look()
        gone = [k for k in self.tracks if k.last < young.first and k.look() is not None]
        alike = max(((float(look @ k.look()), k) for k in gone), default=(-1.0, None), key=lambda p: p[0])
        if look is None or alike[1] is None or alike[0] < self.options.same_look:
            return
        old = alike[1]
        for s in young.young:
            s.face = old.name
        old.box, old.last, old.looks = young.box, young.last, (old.looks + young.looks)[-30:]
        self.tracks.remove(young)

    @staticmethod
    def _alike(s: Sighting, track: _Track, least: float) -> bool:
        """Whether ``s`` may be the face of ``track`` by its look (yes when either look is unknown)."""
        look = track.look()
        return s.look is None or look is None or float(s.look @ look) >= least

    def _known_again(self, s: Sighting, taken: set[str]) -> str | None:
        """The face not in the picture now that ``s`` looks most like (if alike enough)."""
        if s.look is None:
            return None
        alike = [
            (float(s.look @ k.look()), k.name) for k in self.tracks if k.name not in taken and k.look() is not None
        ]
        best = max(alike, default=(-1.0, None))
        return best[1] if best[0] >= self.options.same_look else None


@dataclass(frozen=True)
class FaceVoiceOptions:
    min_seconds: float = 2.0
    """Seconds of a face seen while a voice speaks, and while it does not, before they can be linked."""
    lift: float = 1.5
    """How many times more a face's mouth must move while the voice speaks than while it does not."""


class FaceVoices:
    """Which face is whose voice: the face whose mouth moves while the voice speaks, and not otherwise.

    Fed each frame's named faces with the voice speaking then (None in silence), in time order; a mouth's
    movement is the change of its inner-lip gap (``lip_opening``) from the face's previous frame. Links
    are one to one, strongest first. A face and a voice never linked are kept apart: the gauge does not
    read a face it cannot tell is the speaker's."""

    def __init__(self, options: FaceVoiceOptions | None = None, rate: float = 15.0):
        from dmsil.features.face import FACE_FEATURE_NAMES

        self.options, self.rate = options or FaceVoiceOptions(), rate
        self._lip = FACE_FEATURE_NAMES.index("lip_opening")
        self._last: dict[str, float] = {}
        self._moved: dict[tuple[str, str | None], list[float]] = {}
        """(face, voice speaking or None) -> [sum of mouth movement, frames]."""

    def __call__(self, sightings: list[Sighting], voice: str | None) -> None:
        for s in sightings:
            lip = float(s.vector[self._lip])
            before = self._last.get(s.face)
            self._last[s.face] = lip
            if before is not None:
                moved = self._moved.setdefault((s.face, voice), [0.0, 0])
                moved[0] += abs(lip - before)
                moved[1] += 1

    def links(self) -> dict[str, str]:
        """Voice -> its face, for the pairs told apart so far."""
        least = self.options.min_seconds * self.rate
        faces = {f for f, _ in self._moved}
        voices = {v for _, v in self._moved if v is not None}
        lifts = []
        for f in faces:
            for v in voices:
                speaking = self._moved.get((f, v), [0.0, 0])
                rest = [
                    sum(x) for x in zip(*(m for (g, w), m in self._moved.items() if g == f and w != v), strict=True)
                ]
                if speaking[1] >= least and rest and rest[1] >= least:
                    lift = (speaking[0] / speaking[1]) / max(rest[0] / rest[1], 1e-6)
                    if lift >= self.options.lift:
                        lifts.append((lift, v, f))
        linked: dict[str, str] = {}
        for _, v, f in sorted(lifts, reverse=True):
            if v not in linked and f not in linked.values():
                linked[v] = f
        return linked
