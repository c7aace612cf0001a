"""--ray: prepare and score spread over a local Ray cluster give what the local path gives."""

import csv
import json

import numpy as np
import pytest

from tests.conftest import require_module, run_module

pytestmark = [pytest.mark.cluster, pytest.mark.slow]
require_module("ray")


def rows(path):
    with path.open() as f:
        return list(csv.DictReader(f))


def test_score_on_ray_writes_what_the_local_path_writes(talk, scorer, tmp_path):
    from realtime.offline import FileSummary, score_file
    from realtime.pipeline import PipelineOptions

    files = [talk["talk"], talk["silent"]]
    spread = run_module("realtime", "score", *map(str, files), "--out", str(tmp_path / "ray"), "--format", "csv",
                        "-q", "--ray", check=False)  # fmt: skip
    assert spread.returncode == 0 and "Traceback" not in spread.stderr, spread.stderr[-3000:]
    local = [score_file(f, scorer, PipelineOptions(), tmp_path / "local", ("csv",), progress=False) for f in files]
    expected = sorted(str(FileSummary.of(r)).replace("/local/", "/ray/") for r in local)
    assert sorted(spread.stdout.splitlines()) == expected
    for name in ("talk.csv", "talk.utterances.csv", "silent.csv"):
        ours, theirs = rows(tmp_path / "local" / name), rows(tmp_path / "ray" / name)
        assert [(r["start"], r["end"], r["transcript"], r["present"]) for r in ours] == [
            (r["start"], r["end"], r["transcript"], r["present"]) for r in theirs
        ]
        for a, b in zip(ours, theirs, strict=True):  # face tracking may split frames between workers differently
            for key in ("fused", "text", "audio", "video", "arousal"):
                if a[key] or b[key]:
                    assert abs(float(a[key]) - float(b[key])) < 0.05, (name, key, a, b)


def test_prepare_on_ray_builds_the_same_store_and_failure_list(labelled_set, prepared, tmp_path):
    labels, raw = str(labelled_set / "label.csv"), str(labelled_set / "Raw")
    proc = run_module("dmsil.prepare", "--labels", labels, "--raw", raw, "--out", str(tmp_path / "ray"), "--ray")
    assert "Traceback" not in proc.stderr
    local, spread = prepared[0], tmp_path / "ray"
    assert (
        json.loads((local / "failed.json").read_text()).keys()
        == json.loads((spread / "failed.json").read_text()).keys()
    )
    clips = sorted(p.relative_to(local) for p in local.rglob("*.npz"))
    assert clips and clips == sorted(p.relative_to(spread) for p in spread.rglob("*.npz"))
    for clip in clips:
        with np.load(local / clip) as a, np.load(spread / clip) as b:
            assert a.files == b.files
            for key in a.files:
                if a[key].dtype.kind == "f":
                    assert np.allclose(a[key], b[key], atol=1e-4), (clip, key)
                else:
                    assert np.array_equal(a[key], b[key]), (clip, key)
