"""scripts/results_readme.py on the real scripts/results/: every file has a section, figures land in their rows."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from scripts import results_readme
from scripts.results_readme import RESULTS, ROOT, num


def generate(results: Path, out: Path) -> str:
    assert results_readme.main(["--results", str(results), "--out", str(out), "-q"]) == 0
    return out.read_text()


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> str:
    return generate(RESULTS, tmp_path_factory.mktemp("results") / "README.md")


def load(name: str) -> dict:
    return json.loads((RESULTS / name).read_text())


def section(page: str, name: str) -> str:
    start = page.index(f"\n## {name}\n")
    end = page.find("\n## ", start + 1)
    return page[start : end if end > 0 else None]


def tables(text: str) -> list[list[dict[str, str]]]:
    """Every Markdown table in ``text`` as rows keyed by the header's cells."""
    found, lines = [], text.splitlines()
    for i, line in enumerate(lines[:-1]):
        if line.startswith("| ") and re.fullmatch(r"\|(---\|)+", lines[i + 1]) and not lines[i - 1].startswith("|"):
            heads = [c.strip() for c in line.strip("|").split(" | ")]
            rows = []
            for row in lines[i + 2 :]:
                if not row.startswith("|"):
                    break
                rows.append(dict(zip(heads, (c.strip() for c in row[2:-2].split(" | ")), strict=True)))
            found.append(rows)
    return found


def cell(text: str, first: str, column: str) -> str:
    """The cell under ``column`` in the row whose first cell is ``first``, in the first table that has both."""
    for rows in tables(text):
        for row in rows:
            if next(iter(row.values())) == first and column in row:
                return row[column]
    raise AssertionError(f"no row {first!r} with a column {column!r}")


def test_every_json_file_has_a_section_with_its_script_and_rerun_command(page):
    names = sorted(p.name for p in RESULTS.glob("*.json"))
    assert names, "no results to write about"
    for name in names:
        text = section(page, name)
        assert "- script: " in text and "- rerun: " in text and "- when: " in text, name
        assert len(tables(text)) >= 1, f"{name}: no table"
    headings = re.findall(r"^## (\S+\.json)$", page, flags=re.M)
    assert headings == names


def test_figures_from_the_json_appear_in_their_rows(page):
    train = load("bench_train.json")
    variant = next(v for v in train["train_samples_per_s"] if v.startswith("dmsil"))
    text = section(page, "bench_train.json")
    assert cell(text, variant, "train samples/s") == num(train["train_samples_per_s"][variant])
    assert cell(text, variant, "MAE") == num(train["quality"][variant]["MAE"])

    realtime = load("bench_realtime.json")
    text = section(page, "bench_realtime.json")
    assert cell(text, "this", "whole command RTF") == num(realtime["versions"]["this"]["command_rtf"])
    earlier = next(v for v in realtime["versions"] if v != "this")  # the revision the run was compared with
    assert cell(text, earlier, "processing RTF") == num(realtime["versions"][earlier]["processing_rtf"])
    assert cell(text, "latency_p95_s", "value") == num(realtime["live"]["latency_p95_s"])

    engines = load("bench_engines.json")["torch 1 thread"]["engines"]
    text = section(page, "bench_engines.json").split("### torch 1 thread")[1]
    assert cell(text, "1", "onnxruntime median ms") == num(engines["onnxruntime"]["1"]["median_ms"])

    utterances = load("bench_utterances.json")["live"]["windows"]["text"]
    text = section(page, "bench_utterances.json").split("Live (")[1]
    assert cell(text, "text", "sign flips") == num(utterances["flips"])

    model = load("default_model.json")["held_out"]["slices"]["vader-movies"]
    text = section(page, "default_model.json")
    assert cell(text, "vader-movies", "model r") == num(model["model"]["r"])
    assert cell(text, "vader-movies", "VADER r") == num(model["vader"]["r"])


def test_rerun_commands_name_scripts_that_exist(page):
    for name, (_, command, _) in results_readme.RENDERERS.items():
        for script in re.findall(r"scripts/\S+\.py", command or ""):
            assert (ROOT / script).is_file(), f"{name}: {script} does not exist"
            assert f"`{command}`" in section(page, name)


def test_the_committed_page_is_the_generated_one(page):
    committed = (RESULTS / "README.md").read_text()
    assert committed == page, "scripts/results/README.md is stale: run .venv/bin/python scripts/results_readme.py"


def test_an_unknown_file_is_flattened_and_a_recorded_date_is_shown(tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    unknown = {
        "date": "2026-12-01",
        "commit": "0f541c2",
        "nested": {"ratio": 0.123456, "label": "a|b"},
        "runs": [{"n": 1, "ms": 2.5}, {"n": 2, "ms": 31.25}],
        "many": list(range(40)),
    }
    (results / "bench_new.json").write_text(json.dumps(unknown))
    shutil.copy(RESULTS / "bench_scale.json", results)
    (results / "bench_realtime.json").write_text(json.dumps({"offline": {}}))  # a known name, another layout
    text = generate(results, tmp_path / "README.md")

    new = section(text, "bench_new.json")
    assert "- when: date: 2026-12-01; commit: 0f541c2" in new
    assert "not known to this generator" in new
    assert cell(new, "`nested.ratio`", "value") == num(unknown["nested"]["ratio"])
    assert cell(new, "`nested.label`", "value") == "a\\|b"
    assert cell(new, "2", "ms") == num(31.25)
    assert "40 values: min 0, median 20, max 39" in new
    assert "no longer matches" in section(text, "bench_realtime.json")
    assert "not recorded in the file" in section(text, "bench_scale.json")
    assert cell(section(text, "bench_scale.json"), "score, --ray", "seconds") == num(
        load("bench_scale.json")["seconds"]["score, --ray"]
    )
