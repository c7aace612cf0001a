import numpy as np
import pytest

from dmsil.features.audio import SAMPLE_RATE
from realtime.sources import AudioChunk, CameraSource, FileSource, Frame, MicSource, SourceError


def test_file_source_yields_timed_frames_and_16k_audio(talk):
    source = FileSource(talk["talk"])
    assert source.has_audio and source.has_video
    items = list(source)
    frames = [i for i in items if isinstance(i, Frame)]
    audio = [i for i in items if isinstance(i, AudioChunk)]
    times = np.array([f.t for f in frames])
    assert frames[0].rgb.shape == (480, 640, 3) and np.all(np.diff(times) > 0)
    assert abs(len(frames) / source.duration - 15) < 0.5  # the 25 fps file is kept on a 15 per second grid
    samples = sum(a.samples.size for a in audio)
    assert abs(samples / SAMPLE_RATE - source.duration) < 0.2 and abs(times[-1] - source.duration) < 0.2
    assert all(a.samples.dtype == np.float32 for a in audio)


@pytest.mark.parametrize("name", ["empty", "random", "truncated"])
def test_unreadable_files_are_one_line_errors(talk, name):
    with pytest.raises(SourceError) as err:
        FileSource(talk[name])
    assert str(talk[name]) in str(err.value) and "\n" not in str(err.value)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(SourceError, match="no such file"):
        FileSource(tmp_path / "nope.mp4")
    with pytest.raises(SourceError, match="is a directory"):
        FileSource(tmp_path)


def test_camera_plays_a_video_file_at_its_pace(talk):
    import time

    start = time.monotonic()
    source = CameraSource(str(talk["video_only"]), start)
    frames = list(source)
    elapsed = time.monotonic() - start
    assert 50 <= len(frames) <= 62 and elapsed > 3.5  # 4 s at 15 fps, played in real time
    with pytest.raises(SourceError, match="camera 97: cannot be opened"):
        CameraSource(97, start)


def test_microphone_error_is_one_line_or_it_streams():
    """CI machines have no sound card: opening must fail with a one-line reason, not a traceback; where a
    microphone opens, it must deliver 16 kHz mono chunks on the clock."""
    import itertools
    import threading
    import time

    start = time.monotonic()
    try:
        mic = MicSource(None, start)
    except SourceError as exc:
        assert str(exc).startswith("microphone") and "\n" not in str(exc)
        return
    timer = threading.Timer(10.0, mic.stop)  # a microphone that opens but stays silent ends the wait
    timer.start()
    try:
        chunks = list(itertools.islice(mic, 3))
    finally:
        timer.cancel()
        mic.stop()
    assert len(chunks) == 3, "the microphone opened but delivered nothing in 10 s"
    assert all(c.samples.dtype == np.float32 and c.samples.ndim == 1 for c in chunks)
    assert 0 <= chunks[0].t <= chunks[-1].t <= time.monotonic() - start


def test_scoring_hears_the_same_samples_as_training(talk):
    """A file's sound reaches the live/offline app and ``dmsil.prepare`` through one resampler."""
    from dmsil.features.media import decode

    played = np.concatenate([i.samples for i in FileSource(talk["talk"]) if isinstance(i, AudioChunk)])
    prepared = decode(talk["talk"]).audio
    assert played.size == prepared.size and np.array_equal(played, prepared)
