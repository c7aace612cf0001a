import numpy as np
import pytest

from dmsil.errors import DataError
from dmsil.features.media import VIDEO_RATE, decode
from realtime import demo as media


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("media")
    wav = media.speech("Testing the decoder with a short sentence.", d / "s.wav")
    return {
        "av": media.video(d / "av.mp4", wav, seconds=3.0),
        "video_only": media.video(d / "v.mp4", None, seconds=2.0, fps=30),
        "wav": wav,
    }


def test_audio_and_frames_on_the_fixed_grid(files):
    clip = decode(files["av"])
    assert clip.audio is not None and clip.audio.dtype == np.float32
    assert abs(clip.audio.size / 16000 - clip.duration) < 0.2
    assert clip.frames[0].shape == (480, 640, 3) and clip.frames[0].dtype == np.uint8
    # A 25 fps source sampled on a 15 Hz grid: the frame at or after each grid time, so steps of 1 or 2
    # source frames that average 1/15 s.
    steps = np.diff(clip.frame_times)
    assert abs(steps.mean() - 1 / VIDEO_RATE) < 0.003 and steps.max() <= 1 / VIDEO_RATE + 1 / 25 + 1e-6


def test_video_only_and_audio_only(files):
    clip = decode(files["video_only"])
    assert clip.audio is None and abs(len(clip.frames) - 2.0 * VIDEO_RATE) <= 1  # 30 fps sampled to 15
    clip = decode(files["wav"])
    assert not clip.has_video and clip.audio.size > 16000


def test_callback_consumes_frames(files):
    seen = []
    clip = decode(files["av"], on_frame=lambda t, rgb: seen.append(t))
    assert clip.frames == [] and seen == clip.frame_times and seen


def test_bad_files_are_one_line_errors(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        decode(tmp_path / "missing.mp4")
    (tmp_path / "empty.mp4").write_bytes(b"")
    with pytest.raises(DataError, match="empty file"):
        decode(tmp_path / "empty.mp4")
    (tmp_path / "noise.mp4").write_bytes(np.random.default_rng(1).bytes(5000))
    with pytest.raises(DataError, match="noise.mp4: cannot decode"):
        decode(tmp_path / "noise.mp4")


@pytest.mark.parametrize("name", ["talk", "cut_stream"])
def test_audio_read_ahead_gives_the_same_media_in_another_order(talk, name):
    """Offline the audio is given out ahead of the video (``ReadOptions.audio_lead``): the same frames, samples
    and damage as in file order, the audio about the lead ahead of the frames."""
    from dmsil.features.media import AudioChunk, AudioEnd, Damage, Frame, ReadOptions, read

    def split(lead: float):
        items = list(read(talk[name], ReadOptions(5, audio_lead=lead)))
        ends = [k for k, i in enumerate(items) if isinstance(i, AudioEnd)]
        if lead:  # said once, after the last audio and before the video still held back
            assert len(ends) == 1 and all(not isinstance(i, AudioChunk) for i in items[ends[0] :])
            assert any(isinstance(i, Frame) for i in items[ends[0] :])
        else:
            assert not ends
        frames = [i for i in items if isinstance(i, Frame)]
        audio = [i for i in items if isinstance(i, AudioChunk)]
        ahead, last_frame = 0.0, 0.0
        for i in items:
            if isinstance(i, Frame):
                last_frame = i.t
            elif isinstance(i, AudioChunk):
                ahead = max(ahead, i.t - last_frame)
        damage = [(d.t, d.end, d.stream) for d in items if isinstance(d, Damage)]
        return frames, np.concatenate([a.samples for a in audio]), damage, ahead

    frames, samples, damage, ahead = split(0.0)
    led_frames, led_samples, led_damage, led_ahead = split(2.0)
    assert [f.t for f in led_frames] == [f.t for f in frames] and len(frames) > 10
    assert all(np.array_equal(a.rgb, b.rgb) for a, b in zip(frames, led_frames, strict=True))
    assert np.array_equal(led_samples, samples) and led_damage == damage
    assert ahead < 0.5 and 1.8 < led_ahead < 4.0  # the lead, plus the container's own interleaving (MPEG-TS)
