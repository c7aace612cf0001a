import numpy as np

from dmsil.data.synthetic import SyntheticSpec, make


def test_splits_padding_and_determinism():
    spec = SyntheticSpec(n=200, seed=3, dims=(16, 5, 20), max_lengths=(20, 60, 40))
    a, b = make(spec), make(spec)
    assert sum(len(a[s]["regression_labels"]) for s in ("train", "valid", "test")) == 200
    assert np.array_equal(a["train"]["audio"], b["train"]["audio"])
    train = a["train"]
    for key in ("audio", "vision"):
        lengths = train[f"{key}_lengths"]
        assert lengths.min() >= 1 and lengths.max() <= train[key].shape[1] and len(set(lengths)) > 10
        for i in range(len(lengths)):
            assert not train[key][i, lengths[i] :].any()
            assert train[key][i, lengths[i] - 1].any()
    assert train["text_bert"].shape == (len(train["id"]), 3, 20)
    assert np.array_equal(train["text_bert"][:, 1].sum(1), [len(t.split()) + 2 for t in train["raw_text"]])


def test_labels_have_mosi_range_and_zeros():
    labels = make(SyntheticSpec(n=600, seed=1, dims=(8, 2, 2), max_lengths=(10, 10, 10)))["train"]["regression_labels"]
    assert labels.min() >= -3 and labels.max() <= 3 and (labels == 0).any()
    assert np.allclose(labels * 5, np.round(labels * 5), atol=1e-5)


def test_sims_variant_has_unimodal_labels():
    d = make(SyntheticSpec(n=100, seed=1, dims=(8, 2, 2), max_lengths=(10, 10, 10), dataset="sims"))
    for m in "TAV":
        values = d["train"][f"regression_labels_{m}"]
        assert values.min() >= -1 and values.max() <= 1
    assert np.abs(d["train"]["regression_labels"]).max() <= 1


def test_each_modality_carries_the_label_signal():
    # The planted structure: every modality's time-averaged frames predict the label (linear probe).
    d = make(SyntheticSpec(n=1500, seed=5, dims=(16, 5, 20), max_lengths=(20, 40, 30)))["train"]
    y = d["regression_labels"]
    for key in ("audio", "vision"):
        x = d[key].sum(1) / d[f"{key}_lengths"][:, None]
        x = np.c_[x, np.ones(len(x))]
        coef, *_ = np.linalg.lstsq(x, y, rcond=None)
        r = np.corrcoef(x @ coef, y)[0, 1]
        assert 0.3 < r < 0.95, (key, r)  # informative, yet no single modality explains everything
