import pickle

import numpy as np
import pytest

from dmsil.data.mmsa import load_mmsa
from dmsil.errors import DataError
from tests.conftest import run_module


def write(path, obj):
    with path.open("wb") as f:
        pickle.dump(obj, f)
    return path


@pytest.fixture()
def good_dict(synthetic_path):
    with synthetic_path.open("rb") as f:
        return pickle.load(f)


def test_loads_the_synthetic_pickle(synthetic):
    train = synthetic.splits["train"]
    assert synthetic.dims == (32, 5, 20)
    assert len(train.labels) == len(train.audio) == len(train.ids) == len(train.raw_text)
    assert train.text_ids is not None and train.text_mask.shape == train.text.shape[:2]


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        load_mmsa(tmp_path / "nope.pkl")


def test_not_a_pickle(tmp_path):
    p = tmp_path / "random.pkl"
    p.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(DataError, match="not a readable MMSA pickle"):
        load_mmsa(p)


def test_missing_split_named(tmp_path, good_dict):
    del good_dict["valid"]
    with pytest.raises(DataError, match=r"missing split\(s\) valid"):
        load_mmsa(write(tmp_path / "x.pkl", good_dict))


def test_missing_keys_named(tmp_path, good_dict):
    del good_dict["test"]["audio"], good_dict["test"]["regression_labels"]
    with pytest.raises(DataError, match=r"\[test\]: missing key\(s\) audio, regression_labels"):
        load_mmsa(write(tmp_path / "x.pkl", good_dict))


def test_mismatched_dims_between_splits(tmp_path, good_dict):
    good_dict["valid"]["vision"] = good_dict["valid"]["vision"][:, :, :7]
    with pytest.raises(DataError, match=r"\[valid\]: 'vision' has 7 features, train has 20"):
        load_mmsa(write(tmp_path / "x.pkl", good_dict))


def test_mismatched_sample_counts(tmp_path, good_dict):
    good_dict["train"]["regression_labels"] = good_dict["train"]["regression_labels"][:-3]
    with pytest.raises(DataError, match="sample counts differ"):
        load_mmsa(write(tmp_path / "x.pkl", good_dict))


def test_lengths_out_of_range(tmp_path, good_dict):
    good_dict["train"]["audio_lengths"] = good_dict["train"]["audio_lengths"] + 1000
    with pytest.raises(DataError, match="'audio_lengths' out of range"):
        load_mmsa(write(tmp_path / "x.pkl", good_dict))


def test_infinities_are_cleaned_like_mmsa(tmp_path, good_dict):
    good_dict["train"]["audio"][0, 0, 0] = -np.inf
    good_dict["train"]["audio"][0, 0, 1] = np.nan
    data = load_mmsa(write(tmp_path / "x.pkl", good_dict))
    assert np.isfinite(data.splits["train"].audio).all()


def test_cli_reports_bad_pickle_in_one_line(tmp_path, good_dict):
    del good_dict["train"]["vision"]
    bad = write(tmp_path / "bad keys.pkl", good_dict)
    proc = run_module("dmsil.train", "--data", str(bad), "--out", str(tmp_path / "out"), check=False)
    assert proc.returncode != 0
    assert proc.stderr.strip().splitlines() == [f"error: {bad} [train]: missing key(s) vision"]
    assert "Traceback" not in proc.stderr
