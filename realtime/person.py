"""One person's neutral: their face and voice measured against their own usual, not everyone's.

A person who smiles all the time, or whose resting face frowns, is not always happy or always cross: the
face head reads how happy a face looks in absolute terms, so the face's score here is that reading less
the person's running neutral, the median of their last :attr:`PersonOptions.memory` windows (robust to
the moments of real expression that the median is not). Until :attr:`PersonOptions.warmup` windows of
their face have been seen the face counts in proportion ("learning this face" on the page). The voice has
its own baseline in feature space (:class:`dmsil.voice.SpeakerBaseline`), carried here beside it, and
counts in proportion likewise ("learning this voice"). In a conversation each voice the speaker stage
tells apart (:mod:`realtime.speakers`) has its own baseline, and each face in the picture
(:mod:`realtime.faces`) its own neutral.

Each stretch of time is learned once: a row that ends no later than one already learned (an utterance
row, after the windows that covered it) is read against the neutral without moving it. Not thread-safe:
one per pipeline.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from dmsil.voice import SpeakerBaseline
from realtime.modalities import AUDIO, VIDEO


@dataclass(frozen=True)
class PersonOptions:
    memory: int = 120
    """Windows in the face's running median (two minutes at the default 1 s hop)."""
    warmup: int = 8
    """Windows of a face (or a voice) before its expression counts fully."""


def settled(seen: int, warmup: int) -> float:
    """How far a neutral learned from ``seen`` readings counts, 0 .. 1 over ``warmup`` readings."""
    return min(1.0, seen / warmup) if warmup > 0 else 1.0


class RunningNeutral:
    """The median of the last ``memory`` readings, and how settled it is (0 .. 1 over ``warmup`` readings)."""

    def __init__(self, memory: int, warmup: int):
        self._seen: deque[float] = deque(maxlen=memory)
        self.warmup = warmup

    @property
    def settled(self) -> float:
        return settled(len(self._seen), self.warmup)

    def __call__(self, value: float, learn: bool = True) -> float:
        """``value`` less the neutral (after adding it, when ``learn``)."""
        if learn:
            self._seen.append(float(value))
        return value - float(np.median(self._seen)) if self._seen else 0.0


class People:
    """Who a pipeline watches and hears: the face's neutral, and a voice baseline per speaker (``None``: the
    one voice of a recording whose speakers are not told apart)."""

    def __init__(self, voice: Callable[[], SpeakerBaseline] | None, options: PersonOptions | None = None):
        options = options or PersonOptions()
        self.warmup = options.warmup
        self._new_voice = voice
        self._voices: dict[str | None, SpeakerBaseline] = {}
        self.face = RunningNeutral(options.memory, options.warmup)
        """The neutral of the face the gauge reads (the largest in the picture)."""
        self._faces: dict[str, RunningNeutral] = {}
        self._options = options
        self._learned_until = -np.inf

    def face_of(self, name: str) -> RunningNeutral:
        """The neutral of one face in the picture (``F1``, ... :mod:`realtime.faces`), new on first sight."""
        if name not in self._faces:
            self._faces[name] = RunningNeutral(self._options.memory, self._options.warmup)
        return self._faces[name]

    def voice(self, speaker: str | None = None) -> SpeakerBaseline | None:
        """The speaker's voice baseline (new on first meeting; None without a voice head)."""
        if self._new_voice is None:
            return None
        if speaker not in self._voices:
            self._voices[speaker] = self._new_voice()
        return self._voices[speaker]

    def learns(self, end: float) -> bool:
        """Whether a row ending at ``end`` is new time (and from now on, that it has been learned)."""
        if end <= self._learned_until:
            return False
        self._learned_until = end
        return True

    def voice_settled(self, speaker: str | None = None) -> float:
        """How far the speaker's voice baseline has been learned (0 .. 1 over the warm-up)."""
        voice = self.voice(speaker)
        return settled(voice.windows, self.warmup) if voice is not None else 0.0

    def learning(self, speaker: str | None = None, face: str | None = None) -> tuple[str, ...]:
        """The modalities whose neutral is still being learned (the speaker's voice, the face read)."""
        done = (
            (AUDIO.name, self.voice_settled(speaker)),
            (VIDEO.name, (self.face_of(face) if face else self.face).settled),
        )
        return tuple(m for m, d in done if 0 < d < 1)
