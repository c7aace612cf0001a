import numpy as np
import pytest

from dmsil.features.audio import FRAME_RATE, AcousticExtractor, to_mono_16k


def test_any_rate_and_channel_count_becomes_16k_mono():
    t = np.arange(44100) / 44100
    tone = np.sin(2 * np.pi * 440 * t).astype(np.float32)
    out = to_mono_16k(np.stack([tone, tone], axis=1), 44100)
    assert out.dtype == np.float32 and out.ndim == 1 and abs(len(out) - 16000) <= 1
    spectrum = np.abs(np.fft.rfft(out))
    assert abs(np.argmax(spectrum) - 440) <= 1  # 1 s at 16 kHz: bin k is k Hz
    pcm = (tone * 32767).astype(np.int16)
    assert np.allclose(to_mono_16k(pcm, 44100), to_mono_16k(tone, 44100), atol=1e-3)
    with pytest.raises(ValueError):
        to_mono_16k(np.zeros((2, 3, 4)), 16000)


@pytest.fixture(scope="module")
def extractor():
    return AcousticExtractor()


def test_frames_at_100_per_second_finite_on_silence(extractor):
    feats = extractor(np.zeros(3 * 16000, np.float32))
    assert feats.shape[1] == extractor.dim == 38 and abs(len(feats) - 3 * FRAME_RATE) <= 6
    assert np.isfinite(feats).all()
    assert extractor(np.zeros(100, np.float32)).shape == (0, 38)


def test_speech_differs_from_silence(extractor, tmp_path):
    import soundfile as sf

    from realtime import demo as media

    audio, sr = sf.read(media.speech("Hello there, how are you today?", tmp_path / "s.wav"), dtype="float32")
    feats = extractor(to_mono_16k(audio, sr))
    loudness = feats[:, extractor.names.index("Loudness_sma3")]
    pitch = feats[:, extractor.names.index("F0semitoneFrom27.5Hz_sma3nz")]
    assert loudness.max() > 0.5 and (pitch > 0).mean() > 0.2  # voiced frames carry a pitch
