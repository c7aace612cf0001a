import json
import shutil

import numpy as np
import pytest

from dmsil import checkpoint
from dmsil.data import load
from dmsil.errors import DmsilError
from dmsil.features import EXTRACTOR_SET, build
from tests.conftest import LABELLED, run_module


def run_prepare(labelled_set, out, *extra):
    labels, raw = str(labelled_set / "label.csv"), str(labelled_set / "Raw")
    return run_module("dmsil.prepare", "--labels", labels, "--raw", raw, "--out", str(out), *extra)


@pytest.mark.slow
def test_prepare_extracts_every_good_clip_and_lists_the_bad_one(prepared):
    out, stderr = prepared
    failed = json.loads((out / "failed.json").read_text())
    assert list(failed) == ["vid3/c0"] and "c0.mp4" in failed["vid3/c0"]
    assert "skipped vid3/c0" in stderr
    for video_id, clip_id, *_ in LABELLED:
        assert (out / "clips" / video_id / f"{clip_id}.npz").is_file()


def test_clip_features_are_real(prepared):
    out, _ = prepared
    with np.load(out / "clips" / "vid1" / "c1.npz") as z:
        assert z["audio"].shape[1] == 38 and 200 < len(z["audio"]) <= 400  # about 100 frames/s of ~3 s speech
        assert np.isfinite(z["audio"]).all()
        # 15 face frames per second of video (cut to the speech by ffmpeg's -shortest), a face in nearly all
        assert z["video"].shape[1] == 19 and abs(len(z["video"]) - 15 * float(z["duration"])) <= 2
        assert z["video"][:, -1].mean() > 0.9
        assert str(z["transcript"]) == LABELLED[0][2] and str(z["transcript_source"]) == "label.csv"
    with np.load(out / "clips" / "vid2" / "c1.npz") as z:
        assert not bool(z["video_present"]) and not z["video"].any()  # the coffee scene has no face
    with np.load(out / "clips" / "vid1" / "c3.npz") as z:  # no text in label.csv: transcribed by ASR
        assert str(z["transcript_source"]) == "asr"
        words = str(z["transcript"]).lower()
        assert "story" in words and "special" in words


def test_rerun_skips_finished_clips(prepared, labelled_set, tmp_path):
    out = shutil.copytree(prepared[0], tmp_path / "store")  # the shared store stays as prepared
    before = {p: p.stat().st_mtime_ns for p in (out / "clips").rglob("*.npz")}
    run_prepare(labelled_set, out)
    after = {p: p.stat().st_mtime_ns for p in (out / "clips").rglob("*.npz")}
    assert before == after


def test_store_loads_like_an_mmsa_pickle(prepared):
    data = load(prepared[0])
    assert [len(data.splits[s]) for s in ("train", "valid", "test")] == [4, 2, 2]
    train = data.splits["train"]
    from transformers import AutoConfig

    from dmsil.features import resolve_text_model
    from dmsil.features.audio import AcousticExtractor
    from dmsil.features.face import FACE_FEATURE_NAMES

    encoder = AutoConfig.from_pretrained(resolve_text_model(data.features.text_model), local_files_only=True)
    assert data.dims == (encoder.hidden_size, AcousticExtractor().dim, len(FACE_FEATURE_NAMES))
    assert list(train.vision_lengths).count(0) == 1  # the face-less clip is a missing modality, not zeros
    frames = np.concatenate([train.audio[i, :n] for i, n in enumerate(train.audio_lengths)])
    assert np.allclose(frames.mean(0), 0, atol=1e-4) and np.allclose(frames.std(0)[frames.std(0) > 0], 1, atol=1e-3)
    assert data.features.source == EXTRACTOR_SET and len(data.features.normalization["audio"]["mean"]) == 38


@pytest.mark.slow
def test_prepare_train_evaluate_and_rebuild_extractors(prepared, tmp_path):
    out = tmp_path / "ck"
    run_module(
        "dmsil.train", "--data", str(prepared[0]), "--out", str(out), "--epochs", "1", "--batch-size", "2", "--quiet"
    )
    proc = run_module("dmsil.evaluate", str(out), "--data", str(prepared[0]), "--json")
    assert "MAE" in json.loads(proc.stdout)
    spec = checkpoint.features(out)
    assert spec.normalization["video"]["std"] and spec.source == EXTRACTOR_SET
    extractors = build(spec)
    assert extractors.audio_features(np.zeros(16000, np.float32)).shape[1] == 38


def test_build_refuses_features_it_cannot_make(trained_dir):
    with pytest.raises(DmsilError, match="cannot be computed here"):
        build(checkpoint.features(trained_dir / "seed-1111"))


def test_bad_label_csv_is_one_line(tmp_path):
    (tmp_path / "label.csv").write_text("video_id,clip_id,label\nv,c,1\n")
    proc = run_module(
        "dmsil.prepare",
        "--labels",
        str(tmp_path / "label.csv"),
        "--raw",
        str(tmp_path),
        "--out",
        str(tmp_path / "s"),
        check=False,
    )
    assert (
        proc.returncode == 1 and proc.stderr.strip() == f"error: {tmp_path / 'label.csv'}: missing column(s) text, mode"
    )
