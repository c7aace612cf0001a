"""The rest of the bad-input matrix, each row a real file made here: odd audio, odd video, odd paths.

(Missing, empty, random, truncated, audio-only, video-only, silent, no-face and mixed-directory files are
in test_score.py; two faces in test_face.py; bad pickles in test_mmsa.py; broken checkpoints in
test_checkpoint.py and below.)
"""

import json
import shutil
import subprocess

import numpy as np
import pytest

from realtime.sources import FileSource, Frame
from tests.conftest import one_line_errors, run_module


def ffmpeg(*args) -> None:
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", *map(str, args)], check=True)


ODD_AUDIO = [(8000, 1, ".wav"), (44100, 6, ".wav"), (48000, 2, ".mp3")]


@pytest.fixture(scope="module")
def odd(talk, tmp_path_factory) -> dict[str, dict]:
    """Odd real files made from the talk, scored by one ``realtime score`` run (the model loads once): the
    JSON document of each, by name."""
    folder = tmp_path_factory.mktemp("odd")
    made = {}
    for rate, channels, suffix in ODD_AUDIO:
        made[f"{rate}-{channels}{suffix}"] = folder / f"odd_{rate}_{channels}{suffix}"
        ffmpeg("-i", talk["wav"], "-ar", rate, "-ac", channels, made[f"{rate}-{channels}{suffix}"])
    made["vfr"] = folder / "vfr.mkv"  # all frames for 3 s, then every third one: timestamps kept, rate varies
    ffmpeg("-i", talk["talk"], "-vf", "select='lt(t,3)+not(mod(n,3))'", "-vsync", "vfr", "-c:a", "copy", made["vfr"])
    made["short"] = folder / "short.mp4"
    ffmpeg("-i", talk["talk"], "-t", "1.6", made["short"])
    made["non-ascii"] = folder / "vidéos d'été" / "ma présentation ✓.mp4"
    made["non-ascii"].parent.mkdir()
    shutil.copy(talk["talk"], made["non-ascii"])
    out = folder / "résultats"
    proc = run_module("realtime", "score", "--quiet", *map(str, made.values()), "--out", str(out), check=False)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    return {name: {"path": path, "out": out, **json.loads((out / f"{path.stem}.json").read_text())}
            for name, path in made.items()}  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize(("rate", "channels", "suffix"), ODD_AUDIO)
def test_odd_sample_rates_and_channel_counts(odd, rate, channels, suffix):
    windows = odd[f"{rate}-{channels}{suffix}"]["windows"]
    heard = set(" ".join(w["transcript"] for w in windows).lower().replace(",", " ").replace(".", " ").split())
    assert len(heard & {"loved", "wonderful", "food", "cold", "waiter", "rude", "great", "day"}) >= 4, heard
    assert windows[-1]["missing"]["video"] == "no video"


def test_rotated_phone_video_is_turned_upright(talk, tmp_path):
    """Stored sideways with a 90-degree display rotation, as phones record portrait video."""
    from dmsil.features.face import FACE_FEATURE_NAMES, FaceExtractor

    sideways = tmp_path / "sideways.mp4"
    ffmpeg(
        "-i", talk["talk"], "-vf", "transpose=2", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "copy", sideways
    )
    phone = tmp_path / "phone.mp4"
    ffmpeg("-i", sideways, "-c", "copy", "-metadata:s:v:0", "rotate=90", phone)
    frame = next(i for i in FileSource(phone) if isinstance(i, Frame))
    assert frame.rgb.shape == (480, 640, 3)  # the sideways 480x640 picture, turned back
    roll = FACE_FEATURE_NAMES.index("head_roll")
    with FaceExtractor() as face:
        vector = face(frame.rgb).vector
    assert abs(vector[roll]) < 0.3 and vector[FACE_FEATURE_NAMES.index("expr_happy")] > 0.5


def test_variable_frame_rate(odd):
    times = [i.t for i in FileSource(odd["vfr"]["path"]) if isinstance(i, Frame)]
    assert np.all(np.diff(times) > 0) and times[-1] > 9
    assert all("video" in w["present"] for w in odd["vfr"]["windows"][1:-1])


def test_a_clip_shorter_than_one_window(odd):
    windows = odd["short"]["windows"]
    assert [w["end"] for w in windows][:1] == [1.0] and abs(windows[-1]["end"] - 1.6) < 0.15


def test_non_ascii_and_space_in_paths(odd):
    """A file in a folder with accents, quotes and spaces, written to another such folder."""
    made = odd["non-ascii"]
    assert made["path"].parent.name == "vidéos d'été" and made["out"].name == "résultats"
    assert {p.name for p in made["out"].iterdir() if p.name.startswith("ma présentation ✓.")} == {
        f"ma présentation ✓.{x}" for x in ("csv", "utterances.csv", "speakers.csv", "json", "png")
    }
    assert "waiter" in " ".join(w["transcript"] for w in made["windows"]).lower()


def test_a_broken_checkpoint_is_one_line(tmp_path, talk):
    from dmsil import default_checkpoint

    ck = shutil.copytree(default_checkpoint(), tmp_path / "ck", ignore=shutil.ignore_patterns("onnx"))
    data = (ck / "model.safetensors").read_bytes()
    (ck / "model.safetensors").write_bytes(data[: len(data) // 2])
    proc = run_module("realtime", "score", str(talk["talk"]), "--checkpoint", str(ck), check=False)
    errors = one_line_errors(proc.stderr)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert len(errors) == 1 and "model.safetensors" in errors[0]


def test_an_output_folder_that_is_a_file_is_one_line_before_any_scoring(tmp_path, talk):
    (tmp_path / "scores").write_text("not a folder")
    proc = run_module("realtime", "score", str(talk["talk"]), "--out", str(tmp_path / "scores"), check=False)
    errors = one_line_errors(proc.stderr)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert errors == [f"error: --out {tmp_path / 'scores'}: a file, not a folder"]


def test_results_that_cannot_be_written_are_one_line_and_the_batch_goes_on(tmp_path, talk, scorer):
    """A result file's name taken by a folder (as a full disk or a read-only folder would fail): that file's
    error says which path, the next file is written."""
    from realtime.offline import score_file
    from realtime.pipeline import PipelineOptions

    (tmp_path / "talk.csv").mkdir()
    result = score_file(talk["talk"], scorer, PipelineOptions(), tmp_path, ("csv",), progress=False)
    assert result.rows and result.error == f"{tmp_path / 'talk.csv'}: cannot write the results (Is a directory)"
    other = score_file(shutil.copy(talk["wav"], tmp_path / "other.wav"), scorer, PipelineOptions(), tmp_path,
                       ("csv",), progress=False)  # fmt: skip
    assert other.error is None and (tmp_path / "other.csv") in other.outputs


@pytest.mark.parametrize("command", [("score", "{talk}", "--out", "{tmp}"), ("--camera", "{talk}", "--no-ui")])
def test_a_mistyped_recognizer_model_is_one_line_before_anything_runs(tmp_path, talk, command):
    """Not text missing from every window of every file (the model loads in the recognition thread)."""
    args = [a.format(talk=talk["talk"], tmp=tmp_path) for a in command]
    proc = run_module("realtime", *args, "--asr-model", "tiny-en", check=False)
    errors = one_line_errors(proc.stderr)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr and not list(tmp_path.iterdir())
    assert errors == ["error: --asr-model tiny-en: not tiny.en or base, nor a folder with a CTranslate2 model.bin"]


def test_a_negative_smoothing_constant_is_one_line(tmp_path, talk):
    proc = run_module("realtime", "score", str(talk["talk"]), "--out", str(tmp_path), "--smooth", "-1", check=False)
    errors = one_line_errors(proc.stderr)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert errors == ["error: --smooth must be 0 (off) or a positive time constant in seconds (got -1.0)"]
