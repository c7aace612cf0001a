import re

import numpy as np
import pytest
import soundfile as sf

from dmsil.errors import DmsilError
from dmsil.features.asr import ASROptions, IncrementalTranscriber, load_transcriber
from realtime import demo as media

SENTENCES = ["I really loved this movie, the acting was wonderful.", "Please open the window and turn on the light."]


def spelled(word: str) -> str:
    return re.sub(r"\W", "", word.lower())


def words_of(text: str) -> set[str]:
    return set(re.findall(r"[a-z']+", text.lower()))


@pytest.fixture(scope="module")
def speech(tmp_path_factory):
    folder = tmp_path_factory.mktemp("speech")
    return [sf.read(media.speech(s, folder / f"{i}.wav"), dtype="float32") for i, s in enumerate(SENTENCES)]


@pytest.fixture(scope="module", params=["faster-whisper", "openai-whisper"])
def transcriber(request):
    return load_transcriber(ASROptions(backend=request.param, model="tiny.en"))


def test_both_backends_hear_the_spoken_words(transcriber, speech):
    for sentence, (audio, sr) in zip(SENTENCES, speech, strict=True):
        words = transcriber.transcribe(audio, sr)
        heard = words_of(" ".join(w.text for w in words))
        expected = words_of(sentence) - {"the"}
        assert len(expected & heard) >= len(expected) - 1, (transcriber.name, heard)
        starts = [w.start for w in words]
        assert starts == sorted(starts) and all(0 <= w.start <= w.end <= len(audio) / sr + 0.5 for w in words)
        assert all(0 <= w.probability <= 1 for w in words)


@pytest.mark.parametrize("transcriber", ["faster-whisper"], indirect=True)
def test_odd_rate_and_stereo_give_the_same_words(transcriber, speech):
    """Both backends take their input through the same ``to_mono_16k``: the default one is asked."""
    import torch
    import torchaudio.functional as AF

    audio, sr = speech[1]
    odd = AF.resample(torch.from_numpy(audio), sr, 11025).numpy()
    stereo = np.stack([odd, 0.5 * odd], axis=1)
    base = words_of(" ".join(w.text for w in transcriber.transcribe(audio, sr)))
    other = words_of(" ".join(w.text for w in transcriber.transcribe(stereo, 11025)))
    assert len(base & other) >= len(base) - 1


def test_silence_has_no_words(transcriber):
    assert transcriber.transcribe(np.zeros(3 * 16000, np.float32), 16000) == []


def test_incremental_mode_emits_each_word_once_in_stream_time(speech):
    tr = load_transcriber(ASROptions())
    audio, sr = speech[0]
    gap = np.zeros(sr, np.float32)
    stream = np.concatenate([audio, gap, audio])
    inc = IncrementalTranscriber(tr)
    words = []
    for i in range(0, len(stream), sr // 4):
        words += inc.push(stream[i : i + sr // 4], sr)
    seen_before_end = len(words)
    words += inc.flush()
    assert seen_before_end > 0  # words arrive while the stream runs, not only at its end
    assert {"movie", "acting", "wonderful"} <= words_of(" ".join(w.text for w in words))
    starts = [w.start for w in words]
    assert starts == sorted(starts)
    second = len(audio) / sr + 1.0
    assert any(w.start >= second for w in words), "the repeated sentence is timed after the gap"
    assert sum(w.text.lower().strip(",.") == "movie" for w in words) == 2  # said twice, emitted twice


def test_incremental_words_are_final_when_two_decodes_agree_and_sentences_restart_the_buffer(speech):
    """A word is given out once the decode before had it too (or it is long past), and once a sentence has
    ended in final words, Whisper hears the next one from its start: the buffer holds no more than what
    came after that sentence."""
    tr = load_transcriber(ASROptions(beam_size=1, threads=1))
    (first, sr), (second, _) = speech
    gap = np.zeros(sr // 2, np.float32)
    stream = np.concatenate([first, gap, second, gap])
    inc = IncrementalTranscriber(tr)
    words, before, agreed, sentence_end = [], [], 0, None
    for i in range(0, len(stream), sr // 4):
        new = inc.push(stream[i : i + sr // 4], sr)
        now = min(len(stream), i + sr // 4) / sr
        for w in new:
            if w.end > now - inc.patience_s:  # not long past: the decode before must have heard it the same
                assert spelled(w.text) in {spelled(b.text) for b in before}, (w, before)
                agreed += 1
            if w.text.rstrip().endswith("."):
                sentence_end = w.end
        if new and sentence_end is not None:
            assert inc.buffered_seconds <= now - sentence_end + 0.01
        before = list(inc.tentative)
        words += new
    words += inc.flush()
    assert agreed > 0 and sentence_end is not None
    heard = words_of(" ".join(w.text for w in words))
    assert len((words_of(SENTENCES[0]) | words_of(SENTENCES[1])) - heard) <= 2, heard


def test_missing_model_names_where_it_looked(tmp_path):
    with pytest.raises(DmsilError, match=str(tmp_path / "nope")):
        load_transcriber(ASROptions(model=str(tmp_path / "nope")))
    with pytest.raises(DmsilError, match="no openai-whisper model"):
        load_transcriber(ASROptions(backend="openai-whisper", model=str(tmp_path / "missing.bin")))
    with pytest.raises(DmsilError, match="unknown ASR backend"):
        load_transcriber(ASROptions(backend="vosk"))


def test_multilingual_base_model_from_the_split_packages(speech, tmp_path, monkeypatch):
    monkeypatch.setenv("DMSIL_CACHE", str(tmp_path))
    tr = load_transcriber(ASROptions(model="base", language="en"))
    audio, sr = speech[1]
    heard = words_of(" ".join(w.text for w in tr.transcribe(audio, sr)))
    assert {"open", "window", "light"} <= heard
