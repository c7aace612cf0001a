"""The command lines: every installed entry point answers --help; option objects cannot be changed behind
the caller's back; -v/-q mean the same everywhere."""

import argparse
import dataclasses
import importlib
import logging
import pkgutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from dmsil.cli import add_verbosity, setup_logging

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_each_entry_point_answers_help(name):
    exe = Path(sys.executable).parent / name
    assert exe.is_file(), f"{name} not installed: run scripts/setup.sh (pip install -e .)"
    proc = subprocess.run([str(exe), "--help"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and proc.stdout.startswith("usage:"), proc.stderr[-2000:]
    if name != "dmsil-demo":  # the demo maker alone has nothing to log
        assert "-v, --verbose" in proc.stdout


def option_classes() -> list[type]:
    found = {}
    for package in ("dmsil", "engines", "realtime"):
        root = importlib.import_module(package)
        for info in pkgutil.walk_packages(root.__path__, f"{package}."):
            module = importlib.import_module(info.name)
            for value in vars(module).values():
                # a class, not a module-level instance (is_dataclass is true for both)
                if (
                    isinstance(value, type)
                    and dataclasses.is_dataclass(value)
                    and value.__name__.endswith(("Options", "Config", "Spec"))
                ):
                    found[value.__qualname__] = value
    return list(found.values())


def test_option_objects_are_frozen():
    classes = option_classes()
    names = {c.__name__ for c in classes}
    assert {"ModelConfig", "TrainConfig", "ASROptions", "PipelineOptions", "WindowOptions", "ReadOptions"} <= names
    for cls in classes:
        assert cls.__dataclass_params__.frozen, f"{cls.__module__}.{cls.__name__} is not frozen"
        required = [f for f in dataclasses.fields(cls) if f.default is f.default_factory is dataclasses.MISSING]
        if required:  # frozen is what matters; the assignment below needs an instance made from defaults
            continue
        instance = cls()
        field = dataclasses.fields(cls)[0].name
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(instance, field, getattr(instance, field))
        assert dataclasses.replace(instance) == instance  # changed copies come from replace()


def test_the_model_leaves_its_config_as_given():
    from dmsil.config import ModelConfig
    from dmsil.model import DMSIL

    given = ModelConfig(text_dim=12, text_out=8)
    model = DMSIL(given)
    assert given == ModelConfig(text_dim=12, text_out=8) and model.config.text_out == 8


@pytest.mark.parametrize(
    ("flags", "level"),
    [([], logging.INFO), (["-v"], logging.INFO), (["-q"], logging.WARNING), (["-q", "-v"], logging.INFO)],
)
def test_verbosity_flags(flags, level):
    p = argparse.ArgumentParser()
    add_verbosity(p)
    root = logging.getLogger()
    before = (root.level, list(root.handlers))
    try:
        setup_logging(p.parse_args(flags), logging.INFO)
        assert root.level == level
        setup_logging(p.parse_args(flags), logging.WARNING)
        assert root.level == (logging.INFO if "-v" in flags else logging.WARNING)
    finally:
        root.setLevel(before[0])
        root.handlers[:] = before[1]
