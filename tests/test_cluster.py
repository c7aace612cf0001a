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


def test_score_on_ray_writes_what_the_local_path_writes(talk, scored_batch, tmp_path):
    files = [talk["talk"], talk["silent"]]
    spread = run_module("realtime", "score", *map(str, files), "--out", str(tmp_path), "-q", "--ray", check=False)
    assert spread.returncode == 0 and "Traceback" not in spread.stderr, spread.stderr[-3000:]
    local, out = scored_batch  # the same files scored by the local path, among others
    expected = [line.replace(f"{out}/", f"{tmp_path}/") for line in local.stdout.splitlines()
                if line.startswith(tuple(f"{f}:" for f in files))]  # fmt: skip
    assert len(expected) == 2 and sorted(spread.stdout.splitlines()) == sorted(expected)
    for name in ("talk.csv", "talk.utterances.csv", "silent.csv"):
        ours, theirs = rows(out / name), rows(tmp_path / name)
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
