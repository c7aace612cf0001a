"""Shared fixtures: one small synthetic MMSA pickle, written once per session by the project's own CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from dmsil.data.mmsa import MMSAData, load_mmsa

SMALL = ["--dims", "32,5,20", "--max-lengths", "24,80,60"]


def run_module(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run ``python -m <args>`` as a user would, capturing its output."""
    proc = subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, timeout=900)
    if check and proc.returncode != 0:
        raise AssertionError(f"{args} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture(scope="session")
def synthetic_path(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("data") / "synthetic.pkl"
    run_module("dmsil.data.synthetic", "--out", str(out), "--n", "900", "--seed", "7", *SMALL)
    return out


@pytest.fixture(scope="session")
def synthetic(synthetic_path) -> MMSAData:
    return load_mmsa(synthetic_path)


@pytest.fixture(scope="session")
def trained_dir(synthetic_path, tmp_path_factory) -> Path:
    """A checkpoint trained by the real CLI for a few epochs (two seeds)."""
    out = tmp_path_factory.mktemp("run") / "run"
    run_module(
        "dmsil.train",
        "--data",
        str(synthetic_path),
        "--out",
        str(out),
        "--epochs",
        "4",
        "--seeds",
        "1111,1112",
        "--quiet",
    )
    return out
