"""The voice head (dmsil.voice) on real speech from espeak-ng: its functionals, the per-speaker baseline,
the shipped head's readings, and the recipe that trains it (on a corpus laid out as RAVDESS is)."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from dmsil import default_checkpoint
from dmsil.errors import DmsilError
from dmsil.features.audio import SAMPLE_RATE, AcousticExtractor, to_mono_16k
from dmsil.voice import (
    CLIP,
    CONFIG,
    CONTOUR,
    MIN_VOICED,
    WEIGHTS,
    SpeakerBaseline,
    VoiceHead,
    functional_names,
    functionals,
)
from realtime.demo import speech
from tests.conftest import require_program

SENTENCE = "I went to the market this morning and bought some bread for the week."


def _speak(tmp_path: Path, name: str, text: str = SENTENCE, *flags: str, voice: str = "en-us") -> np.ndarray:
    """16 kHz mono speech from espeak-ng (``flags``: its pitch, speed and amplitude options)."""
    import subprocess

    espeak = require_program("espeak-ng")
    wav = tmp_path / f"{name}.wav"
    if flags:
        subprocess.run([str(espeak), "-v", voice, *flags, "-w", str(wav), text], check=True, capture_output=True)
    else:
        speech(text, wav, voice=voice)
    audio, rate = sf.read(wav, dtype="float32")
    return to_mono_16k(audio, rate)


@pytest.fixture(scope="module")
def extractor() -> AcousticExtractor:
    return AcousticExtractor()


def test_functionals_read_speech_and_leave_pauses_out(tmp_path, extractor):
    said = _speak(tmp_path, "said")
    names = list(extractor.names)
    v = functionals(extractor(said), names)
    assert v is not None and v.shape == (len(functional_names(names)),) and np.isfinite(v).all()
    assert functionals(extractor(np.zeros(2 * SAMPLE_RATE, np.float32)), names) is None, "silence has no voice"
    assert functionals(extractor(said[: (MIN_VOICED // 2) * 160]), names) is None, "a syllable is too little"
    paused = np.concatenate([np.zeros(SAMPLE_RATE, np.float32), said, np.zeros(2 * SAMPLE_RATE, np.float32)])
    w = functionals(extractor(paused), names)
    pitch = names.index("F0semitoneFrom27.5Hz_sma3nz")
    loudness = names.index("Loudness_sma3")
    assert abs(w[pitch] - v[pitch]) < 0.5, "pitch is read over voiced frames only"
    assert abs(w[loudness] - v[loudness]) < 0.1 * v[loudness], "three seconds of silence do not make it calm"


def test_the_melody_reads_a_statement_falling_and_a_question_less_so(tmp_path, extractor):
    names = list(extractor.names)
    slope = functional_names(names).index("pitch_slope")
    audio = {end: _speak(tmp_path, f"q{i}", "You are coming home tonight" + end) for i, end in enumerate(".?")}
    said = {end: functionals(extractor(a), names) for end, a in audio.items()}
    assert said["."][slope] < -1.0 < said["?"][slope], "espeak-ng lowers a statement's pitch, a question's less"
    backwards = functionals(extractor(audio["."][::-1].copy()), names)
    assert backwards[slope] == pytest.approx(-said["."][slope], rel=0.2), "the statement played backwards rises"


def test_a_head_for_other_functionals_is_refused_in_one_line(tmp_path):
    shutil.copy(default_checkpoint() / WEIGHTS, tmp_path)
    older = json.loads((default_checkpoint() / CONFIG).read_text())  # as written before the contour functionals
    older["mean"], older["std"] = older["mean"][: -len(CONTOUR)], older["std"][: -len(CONTOUR)]
    (tmp_path / CONFIG).write_text(json.dumps(older))
    with pytest.raises(DmsilError, match=r"voice\.json: a voice head for 126 functionals, this version computes 133"):
        VoiceHead(tmp_path)


def test_a_speakers_baseline_moves_from_the_population_to_their_own_voice(tmp_path, extractor):
    head = VoiceHead(default_checkpoint())
    sentences = ["The meeting moved to the second floor.", "Bring the forms you filled in.",
                 "The train leaves at nine.", "Each box holds twelve bottles."]  # fmt: skip
    x = np.stack([head.features(extractor(_speak(tmp_path, f"s{i}", t, voice="en-gb-x-rp")))
                  for i, t in enumerate(sentences)])  # fmt: skip
    baseline = head.baseline()
    first = baseline.normalise(x[0], learn=False)
    population = (x[0] - head.config.mean) / np.asarray(head.config.std)
    assert np.allclose(first, np.clip(population, -CLIP, CLIP), atol=1e-4), "a new voice is read from the population"
    for _ in range(100):  # a few minutes of this voice
        for v in x:
            baseline.normalise(v)
    settled = np.stack([baseline.normalise(v, learn=False) for v in x])
    assert baseline.windows == min(400, head.config.memory)
    assert np.abs(settled.mean(0)).mean() < 0.3 * np.abs(first).mean(), "the voice's usual is near 0 once learnt"


def test_the_shipped_head_hears_an_excited_voice_above_a_calm_one(tmp_path, extractor):
    """The same sentences read slow, low and soft, then fast, high and loud: against the speaker's own
    baseline (all of them), the lively readings have the higher arousal."""
    head = VoiceHead(default_checkpoint())
    texts = ["We won the match in the last minute.", "The house is finished at last.", "They are here already."]
    calm = [_speak(tmp_path, f"calm{i}", t, "-p", "25", "-s", "120", "-a", "60") for i, t in enumerate(texts)]
    lively = [_speak(tmp_path, f"lively{i}", t, "-p", "85", "-s", "210", "-a", "190") for i, t in enumerate(texts)]
    x = [head.features(extractor(a)) for a in calm + lively]
    baseline = head.baseline()
    for v in x:
        baseline.normalise(v)
    readings = head.read(np.stack([baseline.normalise(v, learn=False) for v in x]))
    arousal = np.array([r.arousal for r in readings])
    assert arousal[3:].min() > arousal[:3].max(), arousal
    assert all(abs(sum(r.emotions.values()) - 1) < 1e-4 for r in readings)


def test_a_corpus_laid_out_as_ravdess_trains_and_evaluates(tmp_path, monkeypatch):
    """Four espeak-ng 'actors' speaking each emotion as a different pitch and pace: the recipe reads the
    layout, holds actors out in folds and reports the figures; a folder without clips is one line."""
    from scripts.default_model import voice

    espeak = require_program("espeak-ng")
    import subprocess

    root = tmp_path / "ravdess"
    styles = {i: (str(20 + 9 * i), str(110 + 15 * i)) for i in range(1, 9)}  # emotion -> pitch, speed
    for actor, v in enumerate(("en-us", "en-gb-x-rp", "en-us+f3", "en-gb-x-rp+f4", "en-us+m3", "en-gb+f2"), start=1):
        (root / f"Actor_{actor:02d}").mkdir(parents=True)
        for emotion, (pitch, speed) in styles.items():
            for statement, text in ((1, "Kids are talking by the door."), (2, "Dogs are sitting by the door.")):
                name = f"03-01-{emotion:02d}-02-{statement:02d}-01-{actor:02d}.wav"
                cmd = [
                    str(espeak),
                    "-v",
                    v,
                    "-p",
                    pitch,
                    "-s",
                    speed,
                    "-w",
                    str(root / f"Actor_{actor:02d}" / name),
                    text,
                ]
                subprocess.run(cmd, check=True, capture_output=True)
    found = voice.clips(root)
    assert len(found) == 96 and {c.emotion for c in found} == set(voice.EMOTIONS)
    table, names = voice.read_features(found, tmp_path / "work")
    assert table.x.shape == (96, len(functional_names(names)))
    opts = voice.VoiceOptions(
        ravdess=root, work=tmp_path / "work", folds=3, members=1, epochs=40, patience=10, save=False
    )
    result = voice.cross_validate(table, names, opts)
    assert len(result["folds"]) == 3 and all(0 <= r["accuracy8"] <= 1 for r in result["folds"])
    held = {r["actors"] for r in result["folds"]}
    assert held == {"1, 2", "3, 4", "5, 6"}, "each fold holds whole actors out"
    with pytest.raises(voice.DmsilError, match="at least 3 folds"):
        voice.cross_validate(table, names, dataclasses.replace(opts, folds=2))
    with pytest.raises(voice.DmsilError, match="no RAVDESS speech clips"):
        voice.clips(tmp_path / "work")
    assert isinstance(SpeakerBaseline, type)
