"""Windows of extracted features -> the four sentiment scores, with every missing modality said why.

A modality reaches the model only when it has data in the window *and* its head was trained on real data
(``checkpoint.heads``); otherwise it is masked (length 0, empty text mask), its score is ``None`` and the
reason is reported (a :class:`~realtime.modalities.Reason`: "no speech", "no face", or the head's
provenance, e.g. "not trained in the default model").

Where the model's own audio head is untrained and the checkpoint ships a voice head (:mod:`dmsil.voice`),
the voice is read by that head instead: ``audio`` is its valence and ``arousal`` its arousal. Face and
voice are measured against the person's own neutral (one :class:`~realtime.person.People` per pipeline,
passed in by the caller; a voice baseline per speaker); ``video_raw`` keeps the face's absolute reading. The fused score weighs each
head's score by its confidence (:mod:`realtime.fusion`), and is ``None`` when no head has any: never a
number made of zeros.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dmsil import calibration, checkpoint
from dmsil.config import FeatureSpec, ModelConfig
from dmsil.data.store import pad_frames
from dmsil.features import normalize, require_computable, resolve_text_model
from dmsil.model import POLARITY, POLARITY_CLASSES
from dmsil.voice import VoiceHead, VoiceReading
from engines.base import OUTPUTS
from realtime.fusion import FusionOptions
from realtime.modalities import ALL, AUDIO, DEFAULT_ABSENCE, FUSED, MODALITIES, TEXT, VIDEO, Absence, Reason
from realtime.person import People, PersonOptions
from realtime.windows import Window

log = logging.getLogger(__name__)
TEXT_BATCH = 16
"""Distinct texts per text-encoder call."""


@dataclass
class Scores:
    start: float
    end: float
    transcript: str
    fused: float | None
    text: float | None
    audio: float | None
    video: float | None
    present: tuple[str, ...]
    """Modalities that had data and a trained head, i.e. that reached the model."""
    missing: dict[str, Reason] = field(default_factory=dict)
    """Modality -> why it has no score."""
    latency: float | None = None
    """Live: seconds from the window's end to its result."""
    recent: str = ""
    """The words of the window's last hop."""
    provisional: bool = False
    """The text's last utterance was still being spoken."""
    smooth: dict[str, float | None] = field(default_factory=dict)
    """Live smoothed scores by name (``fused``, ``text``, ...), beside the raw ones (:mod:`realtime.smoothing`)."""
    arousal: float | None = None
    """How stirred the voice sounds (-3 calm .. 3 excited); present and missing with ``audio``."""
    video_raw: float | None = None
    """How happy the face looks in absolute terms (``video`` is this less the person's neutral)."""
    confidence: dict[str, float] = field(default_factory=dict)
    """``fused`` and each scored modality -> how far its score can be trusted (0 .. 1, :mod:`realtime.fusion`)."""
    learning: tuple[str, ...] = ()
    """Scored modalities whose person's neutral is still being learned (the page says so)."""
    speaker: str | None = None
    """Who was speaking (``S1``, ``S2``, ... from the voices, or a transcript's names; None: not told apart)."""
    face: str | None = None
    """The face ``video`` reads (``F1``, ...: the speaker's own, or the largest; None: none is read)."""
    faces: dict[str, tuple[float, float]] = field(default_factory=dict)
    """Every face in the picture (``F1``, ...) -> its valence against its own neutral, and its absolute
    reading (the gauge's ``video`` is the one named by :attr:`face`)."""
    polarity: tuple[float, ...] | None = None
    """The words' class probabilities (:data:`dmsil.model.POLARITY_CLASSES`), present with ``text`` where the
    model reads them (``ModelConfig.polarity``)."""

    @property
    def text_class(self) -> tuple[str, float] | None:
        """The words' likeliest class (negative, neutral, positive) and its probability."""
        if self.polarity is None:
            return None
        best = int(np.argmax(self.polarity))
        return POLARITY_CLASSES[best], self.polarity[best]

    @classmethod
    def failed(cls, w: Window, reason: Reason) -> Scores:
        """A window that could not be scored: every modality says why."""
        return cls(w.start, w.end, w.text or w.heard, None, None, None, None, (), dict.fromkeys(MODALITIES, reason),
                   recent=w.recent, provisional=w.provisional, speaker=w.speaker)  # fmt: skip


@dataclass(frozen=True)
class TextReading:
    """What the model reads from one text alone: the text head's raw score, and the class probabilities
    where the model has them."""

    score: float
    polarity: tuple[float, ...] | None = None


class TextScores:
    """The text head's reading of each text, computed once: the head reads the words alone (Self-MM's
    private branch), so every window over the same sentence (offline, about five per sentence; live, each
    hop until new words come) reuses it instead of running the text encoder again. Least recently used
    texts are forgotten beyond ``size``."""

    def __init__(self, size: int = 4096):
        self.size = size
        self._scores: OrderedDict[str, TextReading] = OrderedDict()

    def get(self, text: str) -> TextReading | None:
        score = self._scores.get(text)
        if score is not None:
            self._scores.move_to_end(text)
        return score

    def put(self, text: str, score: TextReading) -> None:
        self._scores[text] = score
        self._scores.move_to_end(text)
        while len(self._scores) > self.size:
            self._scores.popitem(last=False)

    def __len__(self) -> int:
        return len(self._scores)


def usable_checkpoint(ckpt_dir: str | Path | None = None) -> tuple[Path, FeatureSpec]:
    """The checkpoint folder (the shipped default model when none is named) and its feature description,
    or a one-line error when this app cannot compute the features it was trained on."""
    from dmsil import default_checkpoint

    ckpt = Path(ckpt_dir) if ckpt_dir else default_checkpoint()
    spec = checkpoint.features(ckpt)
    require_computable(spec, str(ckpt))
    return ckpt, spec


class Scorer:
    """Builds engine batches from windows and reads the scores back. Pipelines may share one (the page's
    visitors do): calls take turns, since a tokenizer must not be entered from two threads at once."""

    def __init__(
        self,
        ckpt_dir: str | Path | None = None,
        engine: str = "auto",
        threads: int | None = None,
        voice: bool = True,
        fusion: FusionOptions | None = None,
        person: PersonOptions | None = None,
    ):
        import engines

        self.ckpt, self.spec = usable_checkpoint(ckpt_dir)
        document = checkpoint.read_config(self.ckpt)
        self.config = ModelConfig.from_dict(document["model"])
        self.heads = checkpoint.heads(self.ckpt)
        self.calibration = calibration.from_runtime(document)
        self.voice = self._voice_head(voice)
        """The voice head that reads ``audio`` and ``arousal`` (None: the model's own audio head, if trained)."""
        self.fusion = fusion or FusionOptions()
        self.person_options = person or PersonOptions()
        self._unscored = {m.name: Reason(Absence.UNTRAINED, self.heads[m.head].source) for m in ALL
                          if not self.heads[m.head].trained}  # fmt: skip
        if self.voice is not None:
            del self._unscored[AUDIO.name]
        elif not voice and VoiceHead.present(self.ckpt):
            self._unscored[AUDIO.name] = Reason(Absence.OFF, "switched off (--no-audio)")
        self.untrained = {m: str(r) for m, r in self._unscored.items()}
        """Modality -> why it is never scored (an untrained head's provenance, or switched off)."""
        self._text = self._text_input()
        self.text_scores_cache = TextScores()
        """Text head scores by text (shared by the pipelines that share this scorer)."""
        self.engine = engines.load(self.ckpt, engine, threads)
        self.engine.warmup()
        self._lock = threading.Lock()

    def _voice_head(self, wanted: bool) -> VoiceHead | None:
        if not wanted or self.heads[AUDIO.head].trained or not VoiceHead.present(self.ckpt):
            return None
        return VoiceHead(self.ckpt)

    def people(self) -> People:
        """Fresh neutrals (the face's, a voice baseline per speaker) for one pipeline."""
        return People(self.voice.baseline if self.voice is not None else None, self.person_options)

    @property
    def needed(self) -> tuple[str, ...]:
        """Modalities worth extracting: those whose head was trained."""
        return tuple(m for m in MODALITIES if m not in self.untrained)

    def _text_input(self):
        """Token ids for a fine-tuned encoder, or frozen states from the encoder the features came from."""
        from dmsil.features.text import TextFeaturizer, TextOptions, encode, load_tokenizer

        if self.config.text_model:
            tokenizer = load_tokenizer(self.ckpt / checkpoint.TEXT_ENCODER)
            return lambda texts: encode(tokenizer, texts, self.config.text_max_length)
        featurizer = TextFeaturizer(TextOptions(resolve_text_model(self.spec.text_model), self.spec.text_max_length))
        return featurizer.states

    def __call__(self, windows: list[Window], people: People | None = None) -> list[Scores]:
        """Scores for ``windows``, in time order; ``people``: who is watched and heard (:meth:`people`),
        whose neutrals learn from each new stretch of time before reading it (fresh ones when None)."""
        if not windows:
            return []
        people = people or self.people()
        learn = [people.learns(w.end) for w in windows]
        voices = self._voices(windows, people, learn)
        with self._lock:
            scores = self._score(windows, voices)
            faces = self._faces(windows, scores)
        for s, w, new, read in zip(scores, windows, learn, faces, strict=True):
            s.faces = {name: (people.face_of(name)(v, new), v) for name, v in read.items()}
            self._fuse(s, w, people, new)
        return scores

    def _faces(self, windows: list[Window], scores: list[Scores]) -> list[dict[str, float]]:
        """Each window's faces read by the face head (absolute). A window whose one face is the one the
        gauge read reuses that reading; the others cost another engine call."""
        out: list[dict[str, float]] = [{} for _ in windows]
        several: list[tuple[int, str, np.ndarray]] = []
        for i, (w, s) in enumerate(zip(windows, scores, strict=True)):
            if len(w.faces) == 1 and w.face in w.faces and s.video is not None:
                out[i] = {w.face: s.video}
            elif w.faces and VIDEO.name not in self.untrained:
                several += [(i, name, frames) for name, frames in w.faces.items()]
        if several:
            alone = [Window(windows[i].start, windows[i].end, video=frames) for i, _, frames in several]
            for (i, name, _), s in zip(several, self._score(alone, [None] * len(alone)), strict=True):
                if s.video is not None:
                    out[i][name] = s.video
        return out

    def _voices(self, windows: list[Window], people: People, learn: list[bool]) -> list[VoiceReading | None]:
        """The voice head's reading of each window with enough voicing (None for the rest), each measured
        against its speaker's baseline."""
        if self.voice is None:
            return [None] * len(windows)
        found = [self.voice.features(np.asarray(w.audio)) if w.audio is not None and len(w.audio) else None
                 for w in windows]  # fmt: skip
        have = [i for i, f in enumerate(found) if f is not None]
        normalised = [people.voice(windows[i].speaker).normalise(found[i], learn=learn[i]) for i in have]
        readings = self.voice.read(np.stack(normalised)) if have else []
        out: list[VoiceReading | None] = [None] * len(windows)
        for i, reading in zip(have, readings, strict=True):
            out[i] = reading
        return out

    def _fuse(self, s: Scores, w: Window, people: People, learn: bool) -> None:
        """The face measured from the person's neutral, each head's confidence, and the fused score."""
        confidence = {}
        if s.text is not None:
            confidence[TEXT.name] = self.fusion.text_confidence(w.word_probability, w.text)
        if s.audio is not None:
            share = self.voice.voiced_share(np.asarray(w.audio)) if self.voice is not None else 1.0
            confidence[AUDIO.name] = share * (people.voice_settled(w.speaker) if self.voice is not None else 1.0)
        if s.video is not None:
            s.video_raw = s.video
            if w.face in s.faces:  # the largest face, against its own neutral (learned once, with the others)
                s.video, settled = s.faces[w.face][0], people.face_of(w.face).settled
            else:
                s.video, settled = people.face(s.video, learn), people.face.settled
            faces = np.asarray(w.video)[:, -1] > 0
            confidence[VIDEO.name] = float(faces.mean()) * settled
        s.fused, confidence[FUSED.name] = self.fusion({m: getattr(s, m) for m in MODALITIES}, confidence)
        s.confidence = confidence
        s.learning = tuple(
            m for m in people.learning(w.speaker, w.face if w.face in s.faces else None) if getattr(s, m) is not None
        )

    def _score(self, windows: list[Window], voices: list[VoiceReading | None]) -> list[Scores]:
        use = [self._present(w, v) for w, v in zip(windows, voices, strict=True)]
        model_use = [u - {AUDIO.name} if self.voice is not None else u for u in use]
        texts = [w.text if "text" in u else "" for w, u in zip(windows, model_use, strict=True)]
        read = self._text_head(texts)
        frames = [w if u - {"text"} else None for w, u in zip(windows, model_use, strict=True)]
        if any(f is not None for f in frames):  # the face (or the model's own audio head): words masked
            out = {k: v for k, v in self._run([""] * len(windows), frames, model_use).items() if k in OUTPUTS}
        else:
            out = {k: np.zeros(len(windows), np.float32) for k in OUTPUTS}
        out["T"] = np.array([read[t].score if t in read else 0.0 for t in texts], np.float32)
        return [
            self._scores(w, u, {k: float(v[i]) for k, v in out.items()}, voice, read.get(t))
            for i, (w, u, voice, t) in enumerate(zip(windows, use, voices, texts, strict=True))
        ]

    def _text_head(self, texts: list[str]) -> dict[str, TextReading]:
        """The model's reading of each distinct non-empty text: known ones from the cache, the rest in engine
        calls of their own (shortest first, so little padding)."""
        wanted = {t for t in texts if t}
        known = {t: s for t in wanted if (s := self.text_scores_cache.get(t)) is not None}
        new = sorted(wanted - known.keys(), key=len)
        for i in range(0, len(new), TEXT_BATCH):
            part = new[i : i + TEXT_BATCH]
            out = self._run(part, [None] * len(part), [{"text"}] * len(part))
            for j, t in enumerate(part):
                classes = tuple(float(p) for p in out[POLARITY][j]) if POLARITY in out else None
                known[t] = TextReading(float(out["T"][j]), classes)
                self.text_scores_cache.put(t, known[t])
        return known

    def _run(self, texts: list[str], frames: list[Window | None], use: list[set[str]]) -> dict[str, np.ndarray]:
        """One engine call: ``texts`` (empty: masked), and each window's audio and video frames where
        ``use`` names them (``frames`` None: none)."""
        text, text_mask = self._text(texts)
        width = max(1, int(text_mask.sum(1).max()))  # dynamic padding: trailing pad tokens cost time only
        batch = {"text": text[:, :width], "text_mask": text_mask[:, :width]}
        for name, dim in (("audio", self.config.audio_dim), ("video", self.config.video_dim)):
            seqs = [
                normalize(np.asarray(getattr(w, name), np.float32), self.spec.normalization.get(name))
                if w is not None and name in u
                else np.zeros((0, dim), np.float32)
                for w, u in zip(frames, use, strict=True)
            ]
            batch[name], batch[f"{name}_lengths"] = pad_frames(seqs, dim)
        return self.engine(batch)

    def texts(self, texts: list[str], batch: int = 64) -> list[Scores]:
        """Each sentence scored on its own (no audio, no face), through the engine."""
        return [
            s for i in range(0, len(texts), batch) for s in self([Window(0.0, 0.0, t) for t in texts[i : i + batch]])
        ]

    def text_scores(self, texts: list[str], batch: int = 64) -> np.ndarray:
        """The text head's score for each sentence on its own (NaN where it has no words)."""
        return np.array([np.nan if s.text is None else s.text for s in self.texts(texts, batch)], np.float64)

    def _present(self, w: Window, voice: VoiceReading | None) -> set[str]:
        have = set()
        if w.text.strip():
            have.add("text")
        if (voice is not None) if self.voice is not None else (w.audio is not None and len(w.audio)):
            have.add("audio")
        if w.video is not None and len(w.video) and np.any(np.asarray(w.video)[:, -1] > 0):
            have.add("video")
        return have - set(self.untrained)

    def _scores(
        self, w: Window, use: set[str], out: dict[str, float], voice: VoiceReading | None, read: TextReading | None
    ) -> Scores:
        out = {h: float(self.calibration[h](v)) if h in self.calibration else v for h, v in out.items()}
        missing = {m: self._why_missing(w, m) for m in MODALITIES if m not in use}
        per = {m.name: out[m.head] if m.name in use else None for m in ALL}
        if voice is not None:
            per[AUDIO.name] = voice.valence
        present = tuple(m for m in MODALITIES if m in use)
        return Scores(
            w.start,
            w.end,
            w.text or w.heard,
            None,  # fused by confidence once the person's neutral is known (_fuse)
            per["text"],
            per["audio"],
            per["video"],
            present,
            missing,
            recent=w.recent,
            provisional=w.provisional,
            arousal=voice.arousal if voice is not None else None,
            speaker=w.speaker,
            face=w.face if "video" in use else None,
            polarity=read.polarity if read is not None and TEXT.name in use else None,
        )

    def _why_missing(self, w: Window, modality: str) -> Reason:
        if modality in self._unscored:
            return self._unscored[modality]
        if modality == AUDIO.name and self.voice is not None and w.audio is not None and len(w.audio):
            return Reason(Absence.NO_VOICE)
        return w.reasons.get(modality) or Reason(DEFAULT_ABSENCE[modality])
