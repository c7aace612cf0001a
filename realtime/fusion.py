"""The fused score: each head's score weighed by how far it can be trusted in this window.

A fixed blend lets a constant smile or a misheard phrase move the gauge as much as clear words do. Here
every head brings a confidence (0 .. 1) from what it had to go on:

* **text**: the recognizer's mean word probability, mapped between :attr:`FusionOptions.unsure` (a guess:
  speech in a language the English recognizer does not know comes out near it) and
  :attr:`FusionOptions.sure`, times how varied the words are (Whisper caught in a loop repeats a phrase:
  "I'm going to go to the field and I'm going to go to the field ..."), times the share of
  :attr:`FusionOptions.full_words` words heard (a sentence's first words, live, count little);
* **voice**: the share of the window's frames that are voiced, times how settled the speaker's baseline is;
* **face**: the share of frames with a face, times how settled the person's neutral face is
  (:mod:`realtime.person`).

Words whose score is within :attr:`FusionOptions.text_band` of 0 count as neutral words (score 0, weight
unchanged): the text head's own small leanings on plain statements ("Kids are talking by the door":
-0.18) otherwise outweighed a happy voice. A head's weight is its confidence times its base weight plus a
gain per point of its score's distance from neutral: a head that reads neutral (the face at its person's
neutral, words without an opinion) says little either way, so it dilutes the others little, and words
lead where they carry sentiment while the voice and face lead where the words are neutral or absent. Every
constant was chosen on the benchmark ``scripts/bench_fusion.py`` (conflicting cues) and checked on
``scripts/bench_utterances.py`` (spoken sentences); the README's "The fused gauge" gives the figures.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from realtime.modalities import AUDIO, TEXT, VIDEO


@dataclass(frozen=True)
class FusionOptions:
    """The rule's constants. The weights are the best worst case of a 648-rule grid (324 weights x two word
    bands) on the conflicting-cue benchmark, ties broken by live agreement (``scripts/bench_fusion.py``); the
    face's gain was not exercised there, since a face held in one expression reads 0 against its own neutral."""

    text: float = 1.0
    """Base weight of confident words (their weight at text 0)."""
    text_gain: float = 3.0
    """Weight the words gain per point of ``|text|`` (-3 .. 3)."""
    text_band: float = 0.25
    """Words scoring within +-this are neutral in the fused score. On the conflicting-cue benchmark, held-out
    RAVDESS voices over its neutral sentences lean their way (happy / sad) 0.532 / 0.810 at 0, 0.660 / 0.603 at
    0.2-0.25 (three scorings of it: happy 0.447-0.574 at 0, 0.660-0.702 at 0.25); sentences over a held face
    agree 0.969 at 0, 0.953-0.969 at 0.25 (0.938-0.953 from 0.3 in one scoring). Its cost on the spoken
    benchmark (the same windows re-fused, smoothed 1 s): offline plain 0.979 -> 0.973, negation/contrast 0.804
    -> 0.792; live plain 0.730 -> 0.713, flips 0.125 -> 0.117. The text head's neutral band on MELD dev is 0.4."""
    voice: float = 0.25
    """Base weight of a confident voice."""
    voice_gain: float = 0.5
    face: float = 1.0
    """Base weight of a confident face at its person's neutral: it holds the gauge near 0 when words and
    voice say little (live, where a sentence's first words are few, this gave the best agreement)."""
    face_gain: float = 1.0
    unsure: float = 0.5
    """Mean word probability at or below which the words count for nothing: espeak-ng speaking German,
    French, Spanish, Italian or Portuguese to ``tiny.en`` gave 0.44-0.59 (medians per language)."""
    sure: float = 0.75
    """Mean word probability from which the words count fully: English sentences gave 0.84 (10th
    percentile 0.73)."""
    looped: float = 0.5
    """Share of distinct words at or below which the words count for nothing (a recognizer's loop: 0.20-0.47
    in the foreign speech above)."""
    varied: float = 0.75
    """Share of distinct words from which they count fully (English sentences: 0.79 at the least)."""
    full_words: int = 6
    """Words from which an utterance counts fully (fewer count in proportion)."""

    def text_confidence(self, probability: float | None, text: str) -> float:
        """How far the words of ``text`` can be trusted: recognised clearly (``probability`` None: given as
        text, not recognised from speech), not a loop, and enough of them."""
        words = re.sub(r"[^\w' ]", " ", text.lower()).split()
        if not words:
            return 0.0
        clear = 1.0 if probability is None else _ramp(probability, self.unsure, self.sure)
        varied = _ramp(len(set(words)) / len(words), self.looped, self.varied)
        return clear * varied * min(1.0, len(words) / self.full_words)

    def heard(self, scores: dict[str, float | None], confidence: dict[str, float]) -> dict[str, float | None]:
        """The scores as fusion reads them: words inside the neutral band as 0 where the voice or face can lead
        (words alone, a transcript, keep their own score)."""
        text = scores.get(TEXT.name)
        others = any(scores.get(m) is not None and confidence.get(m, 0.0) > 0 for m in (AUDIO.name, VIDEO.name))
        if text is None or abs(text) >= self.text_band or not others:
            return scores
        return {**scores, TEXT.name: 0.0}

    def weights(self, scores: dict[str, float | None], confidence: dict[str, float]) -> dict[str, float]:
        """Modality -> its weight in the fused score (0 where it has no score)."""
        heads = {TEXT.name: (self.text, self.text_gain), AUDIO.name: (self.voice, self.voice_gain),
                 VIDEO.name: (self.face, self.face_gain)}  # fmt: skip
        out = {}
        for name, (base, gain) in heads.items():
            score = scores.get(name)
            out[name] = 0.0 if score is None else (base + gain * abs(score)) * confidence.get(name, 0.0)
        return out

    def __call__(self, scores: dict[str, float | None], confidence: dict[str, float]) -> tuple[float | None, float]:
        """The fused score (None when no head has any confidence) and its confidence: the heads' confidences
        averaged by their weights."""
        scores = self.heard(scores, confidence)
        weights = self.weights(scores, confidence)
        total = sum(weights.values())
        if total <= 0.0:
            return None, 0.0
        fused = sum(w * scores[m] for m, w in weights.items() if w > 0) / total
        sure = sum(w * confidence[m] for m, w in weights.items() if w > 0) / total
        return fused, sure


def _ramp(x: float, low: float, high: float) -> float:
    """0 at ``low`` or below, 1 at ``high`` or above, linear between."""
    return min(1.0, max(0.0, (x - low) / (high - low)))
