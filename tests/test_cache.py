"""The shared cache's file writing (dmsil.features.cache)."""

import shutil
import subprocess
import sys

import pytest

from dmsil.features.cache import staging


def test_each_writer_stages_under_a_name_of_its_own(tmp_path):
    """Processes making the same cached file at once (the first runs after an install, parallel test workers)
    each write their own temporary file beside it, so the rename is atomic and no one renames another's away
    (one shared ``.tmp`` name once failed a fresh-clone CI run: two workers exported the default model)."""
    target = tmp_path / "fusion-abc.onnx"
    names = {staging(target) for _ in range(100)}
    assert len(names) == 100 and {n.parent for n in names} == {tmp_path}
    assert all(n.name.startswith(".fusion-abc.onnx.") and n.suffix == ".tmp" for n in names)
    assert staging(target, ".onnx").suffix == ".onnx"  # for writers that need their file's kind in its name


@pytest.mark.slow
def test_two_processes_exporting_the_default_model_at_once_both_get_the_graph(tmp_path):
    """The race itself, on the shipped model (a 440 MB graph takes long enough to write that two exports
    started together overlap): with one shared temporary name, one of the two failed."""
    from dmsil import default_checkpoint

    fresh = shutil.copytree(default_checkpoint(), tmp_path / "ck", ignore=shutil.ignore_patterns("onnx"))
    go = tmp_path / "go"
    code = (
        "import sys, time, pathlib; from engines.onnx_export import export; print('ready', flush=True)\n"
        "while not pathlib.Path(sys.argv[2]).exists(): time.sleep(0.001)\n"
        "print(export(sys.argv[1]))"
    )
    procs = [subprocess.Popen([sys.executable, "-c", code, str(fresh), str(go)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]  # fmt: skip
    assert [p.stdout.readline() for p in procs] == ["ready\n"] * 2  # both loaded: the exports start together
    go.touch()
    outs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err[-400:] for _, err in outs]
    assert {out.strip() for out, _ in outs} == {str(p) for p in (fresh / "onnx").iterdir()}  # one graph, no leftovers
