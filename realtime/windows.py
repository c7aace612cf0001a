"""The window assembler: extracted streams in, windows and utterances out, synchronously.

The stage threads (:mod:`realtime.pipeline`) add what they extract and say how far they have got; the
assembler answers which windows are ready and what each holds. It has no threads of its own, no clock
and no models, so its rules are tested directly (``tests/test_windows.py``):

* Windows end every ``hop`` seconds and reach back ``window`` seconds. Offline, a window is ready once
  every stream has got past its end; live, once the clock has, with whatever has arrived.
* Text is scored by whole utterances, never by a slice of words: an utterance ends at a pause of
  ``pause`` seconds or at a sentence end. A window's text is the last utterance that overlaps it (the one
  being spoken, or the last one said), whole. Live, one still being spoken is scored as heard so far and
  marked provisional; offline, a window waits until the utterance under way at its end has been heard
  to its end, and scores all of it. Fewer than ``min_words`` words are too short to be an opinion:
  shown, not scored, and the reason says so.
* Live, the words the recognizer has heard but not yet confirmed are scored too (provisional), and a
  result comes as soon as new words arrive rather than at the next hop: the gauge follows speech
  within about one decoding step.
* Once an utterance is complete and every stream has got past it, it is offered once as a window of its
  own (:class:`~realtime.events.UtteranceReady`, spanning the utterance): offline scoring's per-utterance rows.
* A modality without data says why (a :class:`~realtime.modalities.Reason`): a failure overlapping the
  window (a damaged span of a file when it covers more than half of the window), a source's or stage's
  reported status, or the default (:data:`realtime.modalities.DEFAULT_ABSENCE`).

Everything it is told comes in through its methods (thread-safe: the stage and reader threads call them);
everything it decides goes out as typed events (:mod:`realtime.events`) from :meth:`Assembler.ready`.
"""

from __future__ import annotations

import bisect
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from dmsil.features.asr import Word
from dmsil.features.media import VIDEO_RATE
from realtime.events import Event, FaceRead, StatusChanged, UtteranceReady, WindowReady
from realtime.faces import FaceTracks, FaceVoices
from realtime.modalities import Absence, Reason
from realtime.speakers import Turn, speaker_at

if TYPE_CHECKING:
    from dmsil.features.face import FaceFrame
    from realtime.sources import Frame

SPEAKER_WAIT = 10.0
"""Live: seconds a complete utterance waits at most for the voices to be told apart up to its end."""
MIN_FACE_FRAMES = 2
"""Frames a face must be in for a window to read it (:meth:`Assembler._each_face`), or, when each reading
stands for several frames, one whole reading."""


@dataclass(frozen=True)
class WindowOptions:
    window: float = 4.0
    """Seconds of context per result."""
    hop: float = 1.0
    """Seconds between results."""
    live: bool = False
    """Live: a window is ready when the clock passes its end. Offline: when every stream has."""
    pause: float = 0.6
    """Silence (seconds between words) that ends an utterance."""
    min_words: int = 3
    """Fewer words than this are "too short" to score."""
    context: int = 1
    """Utterances a window's text may hold, latest first: 1 scores the one being spoken (or, in a pause,
    the last one said). 2 adds the one before it; on talks whose sentences change polarity that mixed
    two opinions into one score and lowered agreement with the sentence being spoken (bench_utterances)."""
    max_words: int = 60
    """An utterance without pause or sentence end is cut here (a recognizer that never punctuates)."""

    def __post_init__(self) -> None:
        if not (self.window > 0 and self.hop > 0):
            raise ValueError(f"window and hop must be positive (got {self.window}, {self.hop})")


@dataclass
class Window:
    """What one window gathered: the text to score, what was heard, and raw (unnormalized) frame features."""

    start: float
    end: float
    text: str = ""
    """The text the model scores: whole utterances ("" when there are none, or too few words)."""
    audio: np.ndarray | None = None
    """(frames, audio_dim) acoustic features, or None when there was no audio."""
    video: np.ndarray | None = None
    """(frames, video_dim) face vectors (last entry ``face_present``), or None when there was no video."""
    recent: str = ""
    """The words of the last hop only (the transcript a timeline shows under this window)."""
    reasons: dict[str, Reason] = field(default_factory=dict)
    """Why a modality may be missing, when the assembler or a source knows better than the default."""
    heard: str = ""
    """Every word of the utterances shown, even when too few to score."""
    provisional: bool = False
    """The last utterance in the text was still being spoken: its score may change."""
    word_probability: float | None = None
    """The recognizer's mean probability of the words heard: how clearly they were heard (None: no words
    recognised, e.g. text given as text)."""
    speaker: str | None = None
    """Who said the text (the last utterance's speaker), or with no words who spoke most in the window;
    None when speakers are not told apart."""
    faces: dict[str, np.ndarray] = field(default_factory=dict)
    """Every face in the picture (``F1``, ``F2``, ... :mod:`realtime.faces`) -> its vectors in the window."""
    face: str | None = None
    """The face that was the largest in most frames (the one ``video`` reads)."""


@dataclass
class Utterance:
    words: list[Word]
    complete: bool = True
    speaker: str | None = None

    @property
    def start(self) -> float:
        return self.words[0].start

    @property
    def end(self) -> float:
        return self.words[-1].end

    @property
    def text(self) -> str:
        return " ".join(w.text.strip() for w in self.words)


def utterances(
    words: list[Word], pause: float, known_until: float, max_words: int = 60,
    speaker_of: Callable[[Word], str | None] | None = None,
) -> list[Utterance]:  # fmt: skip
    """``words`` (in time order) cut at pauses, sentence ends and, with ``speaker_of``, where the speaker
    changes (an utterance never spans two speakers). The last is complete once words are known a pause
    past its end (right after its end, if it ended a sentence)."""
    groups: list[list[Word]] = []
    speakers: list[str | None] = []
    for w in words:
        last = groups[-1][-1] if groups else None
        who = speaker_of(w) if speaker_of is not None else None
        joined = (
            last is not None
            and w.start - last.end < pause
            and not last.ends_sentence
            and len(groups[-1]) < max_words
            and who == speakers[-1]
        )
        if joined:
            groups[-1].append(w)
        else:
            groups.append([w])
            speakers.append(who)
    out = [Utterance(g, speaker=who) for g, who in zip(groups, speakers, strict=True)]
    if out:
        last = out[-1].words[-1]
        ended = last.ends_sentence or len(out[-1].words) >= max_words
        out[-1].complete = known_until >= last.end + (0.0 if ended else pause)
    return out


class Stream:
    """Items produced by one stage, kept in time order, and how far every producer of the stage has got.

    A stage may have several workers taking from one FIFO queue; the stage's watermark is the lowest
    time any of them has finished, so everything at or before it is in. Thread-safe.
    """

    def __init__(self, producers: int = 1):
        self.times: list[float] = []
        self.values: list[object] = []
        self.done = [-math.inf] * producers
        self.lock = threading.Lock()

    @property
    def until(self) -> float:
        return min(self.done)

    def add(self, t: float, item: object) -> None:
        with self.lock:
            i = bisect.bisect_right(self.times, t)
            self.times.insert(i, t)
            self.values.insert(i, item)

    def advance(self, t: float, producer: int = 0) -> None:
        self.done[producer] = max(self.done[producer], t)

    def finish(self) -> None:
        self.done = [math.inf] * len(self.done)

    def take(self, start: float, end: float) -> list:
        """Items at ``start <= t < end``."""
        with self.lock:
            return self.values[bisect.bisect_left(self.times, start) : bisect.bisect_left(self.times, end)]

    def between(self, start: float, end: float) -> list[tuple[float, object]]:
        """``(t, item)`` at ``start <= t < end``, in time order (as :meth:`take`: an item at a window's end is
        the next window's)."""
        with self.lock:
            lo, hi = bisect.bisect_left(self.times, start), bisect.bisect_left(self.times, end)
            return list(zip(self.times[lo:hi], self.values[lo:hi], strict=True))

    def prune(self, before: float) -> None:
        with self.lock:
            keep = bisect.bisect_left(self.times, before)
            del self.times[:keep], self.values[:keep]

    def __len__(self) -> int:
        return len(self.times)


class Assembler:
    """Streams of the three stages -> ready windows and utterances (see the module docstring)."""

    def __init__(
        self,
        options: WindowOptions | None = None,
        face_producers: int = 1,
        absent: dict[str, Reason] | None = None,
        face_hold: int = 1,
    ):
        self.options = options or WindowOptions()
        self._min_face_frames = max(MIN_FACE_FRAMES, face_hold)
        """``face_hold``: frames each face reading stands for (offline faces are read at a fraction of the rate)."""
        self.streams = {"face": Stream(face_producers), "asr": Stream(), "acoustic": Stream()}
        self._sightings = Stream(face_producers)
        """Every face of every frame (:class:`realtime.faces.Sighting`), named in time order by :attr:`_faces`."""
        self._faces = FaceTracks()
        self._face_voices = FaceVoices(rate=VIDEO_RATE)
        self._tracked_until = -math.inf
        self._absent = dict(absent or {})
        """Reasons that hold for the whole run (a file without a video stream, ...)."""
        self._statuses: dict[str, tuple[tuple[str, ...], str]] = {}
        """Source or stage -> the modalities it carries and its trouble now."""
        self._events: list[Event] = []
        """Status changes and the newest face read, not yet handed out."""
        self._face: FaceRead | None = None
        self._seen_until = 0.0
        self._troubles: list[tuple[float, float, tuple[str, ...], Reason, float]] = []
        self._lock = threading.Lock()
        self._next = 1
        self._offered = -math.inf
        self._tentative: list[Word] = []
        self._heard_until = -math.inf
        self._fresh = False
        self._last_end = 0.0
        self._turns: list[Turn] = []
        self._turn_starts: list[float] = []
        self._longest_turn = 0.0
        self._turns_until: float | None = None
        self._voices: set[str] = set()
        """The speakers of the turns (kept with them: every window asks how many there are)."""

    # -- what the sources and stages report (from their threads) -----------------------------------

    def saw(self, t: float) -> None:
        """The sources have delivered media up to ``t`` (stream time); the last window ends there."""
        with self._lock:
            self._seen_until = max(self._seen_until, t)

    @property
    def seen_until(self) -> float:
        with self._lock:
            return self._seen_until

    def add_word(self, word: Word) -> None:
        """A recognized (final) word in stream time (kept by its midpoint)."""
        self.streams["asr"].add((word.start + word.end) / 2, word)
        self._fresh = True

    def set_tentative(self, words: list[Word], heard_until: float) -> None:
        """Live: the words after the last final one, as the latest decode heard them (replacing the last
        such list), and how far that decode reached."""
        with self._lock:
            if [w.text for w in words] != [w.text for w in self._tentative]:
                self._fresh = True
            self._tentative, self._heard_until = list(words), heard_until

    def set_turns(self, turns: list[Turn], until: float | None = None) -> None:
        """Who spoke when (:mod:`realtime.speakers`), replacing the turns known before: words and windows
        are attributed to them. ``until``: live, how far the voices have been told apart; a complete
        utterance waits for it (at most :data:`SPEAKER_WAIT` seconds), so its speaker is not a guess."""
        turns = sorted(turns, key=lambda t: t.start)
        with self._lock:
            self._turns_until = until
            self._turns, self._turn_starts = turns, [t.start for t in turns]
            self._longest_turn = max((t.end - t.start for t in turns), default=0.0)
            self._voices = {t.speaker for t in turns}

    def speaker(self, start: float, end: float, reach: float = 1.0) -> str | None:
        """Who speaks most over ``start .. end`` (None: speakers not told apart, or nobody within ``reach``
        seconds)."""
        with self._lock:  # only the turns that can reach the span: a long recording has thousands
            lo = bisect.bisect_left(self._turn_starts, start - self._longest_turn - 1.0)
            turns = self._turns[lo : bisect.bisect_right(self._turn_starts, end + 1.0)]
            latest = self._turns[-1] if self._turns else None
        if self.options.live and latest is not None and start >= latest.end:
            return latest.speaker  # live, turns lag the words by a diarization: the last voice goes on
        return speaker_at(turns, start, end, reach) if turns else None

    def add(self, stage: str, t: float, item: object) -> None:
        """An extracted item at ``t``: ``face`` (the largest face's vector), ``faces`` (the frame's
        sightings, every face), ``acoustic``."""
        (self._sightings if stage == "faces" else self.streams[stage]).add(t, item)

    def read_face(self, frame: Frame, face: FaceFrame) -> None:
        """The face reader read ``frame`` and found ``face``: kept, newest only, for the preview."""
        with self._lock:
            if self._face is None or frame.t >= self._face.frame.t:  # face threads take turns: keep the newest
                self._face = FaceRead(frame, face)

    def advance(self, stage: str, t: float, producer: int = 0) -> None:
        self.streams[stage].advance(t, producer)

    def expect(self, stage: str) -> None:
        """Hand nothing out until ``stage`` (one with no items of its own: ``speaker``, a recording diarized
        whole beside the other stages) has :meth:`finish` ed."""
        self.streams.setdefault(stage, Stream())

    def finish(self, stage: str) -> None:
        if stage in self.streams:  # a stage without a stream (speakers) has nothing to finish
            self.streams[stage].finish()

    def trouble(
        self, modalities: tuple[str, ...], start: float, end: float, reason: Reason, share: float = 0.0
    ) -> None:
        """``modalities`` are unavailable over ``start .. end`` because of ``reason``: in every window it
        touches, or, with ``share``, in those where spans with this reason cover more than that share of
        the window (a few damaged frames in a 4 s window leave enough to score)."""
        with self._lock:
            self._troubles.append((start, end, modalities, reason, share))
            del self._troubles[:-100]  # bounded: only the recent ones can still touch a window

    def status(self, source: str, modalities: tuple[str, ...], status: str | None) -> None:
        """A source or stage reports trouble (``status``) or that it is well again (``None``); while it
        lasts, its modalities show it as their reason. Handed out as a :class:`StatusChanged` event."""
        with self._lock:
            if status == (self._statuses.get(source) or ((), None))[1]:
                return
            if status is None:
                self._statuses.pop(source, None)
            else:
                self._statuses[source] = (modalities, status)
            self._events.append(StatusChanged(source, modalities, status))

    def note(self, source: str, modalities: tuple[str, ...], text: str) -> None:
        """A failure to tell the viewer about (a stage's first failure, a source that broke), handed out as
        a :class:`StatusChanged` event; the windows it touches say so through :meth:`trouble`."""
        with self._lock:
            self._events.append(StatusChanged(source, modalities, text))

    # -- what is ready -----------------------------------------------------------------------------

    def watermark(self) -> float:
        return min(s.until for s in self.streams.values())

    @property
    def done(self) -> bool:
        return self.watermark() == math.inf

    @property
    def finished(self) -> bool:
        """Every stream has ended and every window up to the sources' end has been handed out."""
        return self.done and self._next * self.options.hop - self.options.hop >= self.seen_until - 0.1

    def ready(self, now: float | None = None, limit: int = 16) -> list[Event]:
        """What has happened since the last call, oldest first: status changes, the newest face read, and
        the windows and completed utterances now ready to score. ``now``: the clock, live only."""
        with self._lock:
            events, self._events = self._events, []
            if self._face is not None:
                events.append(self._face)
                self._face = None
        return events + [WindowReady(w) for w in self._ready_windows(now, limit)] + self._ready_utterances(now)

    def _ready_windows(self, now: float | None, limit: int) -> list[Window]:
        opts = self.options
        out: list[Window] = []
        while len(out) < limit and not self.finished:
            end, done = self._next * opts.hop, self.done
            if opts.live and not done and (now is None or now < end):
                break
            if not opts.live and (self.watermark() < end or not self._settled(end)):
                break
            out.append(self.window(max(0.0, end - opts.window), min(end, self.seen_until) if done else end))
            self._next += 1
        last = out[-1].end if out else self._last_end
        if opts.live and self._fresh and now is not None and now - last >= opts.hop / 4:
            out.append(self.window(max(0.0, now - opts.window), now))  # new words: a result now, not at the next hop
        if out:
            self._fresh = False
            self._last_end = out[-1].end
        return out

    def buffered(self) -> int:
        """Items held in the streams now (what :meth:`prune` keeps bounded)."""
        return sum(len(s) for s in self.streams.values())

    def prune(self) -> None:
        """Forget what no window or pending utterance can still use (after scoring what :meth:`ready` gave)."""
        opts = self.options
        cutoff = self._next * opts.hop - opts.window
        pending = [w for w in self.streams["asr"].take(-math.inf, math.inf) if w.end > self._offered]
        keep_from = min(cutoff, pending[0].start) if pending else cutoff
        for stream in [*self.streams.values(), self._sightings]:
            stream.prune(keep_from)

    # -- building windows --------------------------------------------------------------------------

    def _utterances(self, until: float, tentative: bool = False) -> list[Utterance]:
        """Utterances of the words up to ``until``; with ``tentative``, the unconfirmed words too."""
        words, opts = self.streams["asr"], self.options
        said = words.take(-math.inf, until)
        known = words.until
        if tentative:
            with self._lock:
                said = said + [w for w in self._tentative if (w.start + w.end) / 2 < until]
                known = max(known, self._heard_until)
        return utterances(said, opts.pause, min(known, until), opts.max_words, lambda w: self.speaker(w.start, w.end))

    def _ready_utterances(self, now: float | None) -> list[UtteranceReady]:
        """Complete utterances not offered yet whose span every stream (or, live, the clock) has passed;
        offline, only once the windows over them have been handed out, so the events come in the same order
        however fast each stage ran (a person's neutral learns from them in that order)."""
        horizon = math.inf if self.done else (now if self.options.live and now is not None else self.watermark())
        if not self.options.live and not self.finished:
            horizon = min(horizon, self._last_end)
        with self._lock:
            told = self._turns_until
        if self.options.live and now is not None and told is not None and not self.done:
            horizon = min(horizon, max(told, now - SPEAKER_WAIT))
        out = []
        for u in self._utterances(math.inf):
            if u.end <= self._offered or not u.complete or u.end > horizon:
                continue
            out.append(UtteranceReady(self._span(u.start, u.end, [u])))
            self._offered = u.end
        return out

    def _settled(self, end: float) -> bool:
        """Offline: the utterance under way at ``end`` has been heard to its end (or there is none)."""
        if self.streams["asr"].until == math.inf:
            return True
        begun = [u for u in self._utterances(math.inf) if u.start < end]
        return not begun or begun[-1].complete

    def window(self, start: float, end: float) -> Window:
        """The window ``start .. end``: whole utterances overlapping it, and the frames inside it.

        Live, an utterance is known only up to ``end`` (and grows, provisional, from window to window).
        Offline, the rest of it is already known and is scored whole: a timeline of a recording shows
        what each sentence said, not what its first words seemed to say."""
        said = self._utterances(end, tentative=True) if self.options.live else self._utterances(math.inf)
        chosen = [u for u in said if u.end > start and u.start < end][-self.options.context :]
        w = self._span(start, end, chosen)
        with self._lock:
            unconfirmed = {id(x) for x in self._tentative}
        w.provisional = w.provisional or any(id(x) in unconfirmed for u in chosen for x in u.words)
        w.recent = " ".join(x.text.strip() for x in self.streams["asr"].take(max(start, end - self.options.hop), end))
        return w

    def _track(self, until: float) -> None:
        """Name the faces seen up to ``until`` that are not named yet, frame by frame in time order."""
        if until <= self._tracked_until:
            return
        for t, sightings in self._sightings.between(self._tracked_until, until):
            self._faces(t, sightings)
            self._face_voices(sightings, self.speaker(t, t + 1 / VIDEO_RATE, reach=0.0))
        self._tracked_until = until

    def _read_face(self, speaker: str | None, faces: dict[str, np.ndarray], largest: str | None) -> str | Reason | None:
        """The face the gauge reads in a window whose words are ``speaker``'s: the speaker's own face when
        their mouth has been seen moving with their voice; the one face in the window when one voice is all
        there has been; else none, and why (a face that cannot be told to be the speaker's is not read)."""
        if speaker is None or not faces:
            return largest
        linked = self._face_voices.links()
        if speaker in linked:
            return (
                linked[speaker]
                if linked[speaker] in faces
                else Reason(Absence.NO_FACE, f"{speaker}'s face is not in the picture")
            )
        with self._lock:
            voices = len(self._voices)
        if voices <= 1 and len(faces) <= 1:
            return largest
        return Reason(Absence.NO_FACE, f"which face is {speaker}'s is not known yet")

    def _each_face(self, start: float, end: float) -> tuple[dict[str, np.ndarray], str | None]:
        """Each face's vectors over ``start .. end`` by name, and the face that was the largest most often. A
        face in one frame only is left out: a glimpse, or, offline, a reading held a frame or two past the
        window's edge when faces are read at a fraction of the rate (:attr:`realtime.pipeline.PipelineOptions.face_rate`)."""
        self._track(end)
        frames: dict[str, list[np.ndarray]] = {}
        largest: dict[str, int] = {}
        for sightings in self._sightings.take(start, end):
            for s in sightings:
                if s.face is not None:  # live, a frame read after its window was named: not in any face's row
                    frames.setdefault(s.face, []).append(s.vector)
                    largest[s.face] = largest.get(s.face, 0) + s.largest
        frames = {name: v for name, v in frames.items() if len(v) >= self._min_face_frames}
        main = max((f for f in largest if f in frames), key=largest.__getitem__, default=None)
        return {name: np.stack(v) for name, v in frames.items()}, main

    def _span(self, start: float, end: float, chosen: list[Utterance]) -> Window:
        faces, main = self._each_face(start, end)
        largest = self.streams["face"].take(start, end)
        speaker = chosen[-1].speaker if chosen else self.speaker(start, end)
        read = self._read_face(speaker, faces, main)
        acoustic = self.streams["acoustic"].take(start, end)
        heard = " ".join(u.text for u in chosen)
        reasons = self._reasons(start, end)
        n = len(heard.split())
        scored = heard
        if 0 < n < self.options.min_words:
            scored = ""
            reasons["text"] = Reason(Absence.TOO_SHORT, f'too short to score ("{heard}")')
        video = np.stack(largest) if largest else None
        if isinstance(read, Reason):
            video, reasons["video"] = None, read
        elif read is not None and read != main:
            video = faces[read]  # the speaker's own face, not the largest
        return Window(
            start,
            end,
            scored,
            np.stack(acoustic) if acoustic else None,
            video,
            reasons=reasons,
            heard=heard,
            provisional=bool(chosen) and not chosen[-1].complete,
            word_probability=float(np.mean([x.probability for u in chosen for x in u.words])) if chosen else None,
            speaker=speaker,
            faces=faces,
            face=read if isinstance(read, str) else None,
        )

    def _reasons(self, start: float, end: float) -> dict[str, Reason]:
        """Run-wide reasons, then a failure inside the window, then a source's reported status (camera lost)."""
        reasons = dict(self._absent)
        covered: dict[tuple[str, Reason], float] = {}
        with self._lock:
            for t0, t1, modalities, reason, share in self._troubles:
                if not (t0 < end and t1 > start):
                    continue
                for m in modalities:
                    covered[m, reason] = covered.get((m, reason), 0.0) + min(t1, end) - max(t0, start)
                    if covered[m, reason] > share * (end - start):
                        reasons[m] = reason
            for modalities, status in self._statuses.values():
                reasons.update(dict.fromkeys(modalities, Reason(Absence.SOURCE, status)))
        return reasons
