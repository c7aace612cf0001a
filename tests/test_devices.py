"""Choosing where training runs; the same seed on the CPU gives the same model."""

import logging

import pytest
import torch

from dmsil import devices
from dmsil.config import ModelConfig, TrainConfig
from dmsil.errors import DmsilError
from dmsil.train import train
from tests.conftest import run_module


def test_auto_takes_cuda_only_when_present_and_bad_names_are_one_line():
    assert devices.resolve("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert devices.resolve("cpu") == torch.device("cpu")
    for name in ("tpu", "gpu0", f"cuda:{torch.cuda.device_count() + 3}"):
        with pytest.raises(DmsilError, match=f"--device {name}"):
            devices.resolve(name)


def test_train_refuses_a_device_that_is_not_here(tmp_path):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: asking for it is fine")
    proc = run_module("dmsil.train", "--data", str(tmp_path / "none.pkl"), "--out", str(tmp_path), "--device", "cuda",
                      check=False)  # fmt: skip
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == (
        "error: --device cuda: no CUDA device here (torch.cuda.is_available() is False)"
    )


@pytest.mark.slow
def test_same_seed_same_model_on_the_cpu_and_amp_there_is_float32(synthetic, caplog):
    cfg = ModelConfig.for_dataset("mosi", text_dim=32)
    runs = []
    with caplog.at_level(logging.WARNING, logger="dmsil.train"):
        for amp in (False, True):
            result = train(synthetic, cfg, TrainConfig(max_epochs=2, seed=7, device="cpu", amp=amp), progress=False)
            runs.append([(h.train_loss, h.valid_mae) for h in result.history])
    assert runs[0] == runs[1]  # bit for bit: --amp asks for nothing on a CPU
    assert "mixed precision is for CUDA" in caplog.text
