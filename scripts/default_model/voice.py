"""The default model's voice head, trained and evaluated on RAVDESS with whole actors held out.

    python -m scripts.default_model.voice --ravdess DIR [--out dmsil/default_model]

``DIR`` is RAVDESS's speech audio in its Zenodo layout (record 1188976, Audio_Speech_Actors_01-24):
``Actor_01`` .. ``Actor_24``, each holding ``03-01-EE-II-SS-RR-AA.wav`` (EE emotion, II intensity, AA
actor). The corpus is CC BY-NC-SA 4.0: it stays out of git, and the head trained on it says so.

Steps: the functionals of every clip (:func:`dmsil.voice.functionals`, cached per actor in ``--work``, so
a stopped run resumes); each actor measured against their own baseline, as the app measures a speaker;
leave-actors-out folds (four actors, two female and two male, held out each time) for the figures; then
the shipped head: actors 1-20 train, 21-22 decide when to stop, 23-24 are its test. Seeds are fixed.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import torch

from dmsil.cli import run_recipe
from dmsil.errors import DmsilError
from dmsil.voice import (
    CONFIG,
    WEIGHTS,
    SpeakerBaseline,
    VoiceConfig,
    VoiceEnsemble,
    VoiceNet,
    ensemble,
    functional_names,
    functionals,
)
from scripts.default_model.options import ROOT

log = logging.getLogger(__name__)

EMOTIONS = ("neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised")
"""RAVDESS's emotion codes 01..08, in order."""
TABLE: dict[str, tuple[float, float]] = {
    "neutral": (0.0, -0.5),
    "calm": (0.5, -1.5),
    "happy": (2.5, 1.5),
    "sad": (-2.0, -1.5),
    "angry": (-2.0, 2.5),
    "fearful": (-2.0, 2.0),
    "disgust": (-2.0, 0.5),
    "surprised": (1.0, 2.5),
}
"""Emotion -> (valence, arousal) on -3..3 at strong intensity: where Russell's circumplex of affect (1980)
places each category, pleasant to unpleasant and activated to deactivated. A modelling choice, not a
measurement: RAVDESS labels categories, and the head's valence and arousal are only as right as this map."""
NORMAL_INTENSITY = 0.7
"""Normal-intensity clips are placed this far out from the centre as strong ones (neutral has only normal)."""
HIGH_AROUSAL = ("happy", "angry", "fearful", "surprised")
LOW_AROUSAL = ("neutral", "calm", "sad")
NAME = re.compile(r"^03-01-(\d\d)-(\d\d)-\d\d-\d\d-(\d\d)$")
LICENCE = "CC BY-NC-SA 4.0 (derived from RAVDESS, Livingstone & Russo 2018, doi:10.1371/journal.pone.0196391)"


@dataclass(frozen=True)
class VoiceOptions:
    ravdess: Path = Path("RAVDESS")
    out: Path = ROOT / "dmsil" / "default_model"
    work: Path = ROOT / ".data" / "voice"
    """Cached functionals per actor (git-ignored): a stopped run resumes from them."""
    seed: int = 1111
    hidden: int = 64
    dropout: float = 0.2
    members: int = 5
    epochs: int = 400
    patience: int = 60
    lr: float = 3e-3
    weight_decay: float = 1e-2
    folds: int = 6
    emodb: Path = Path("")
    """Optional: Berlin EmoDB's wav folder (German, never trained on): the head read cross-corpus."""
    save: bool = True


@dataclass(frozen=True)
class Clip:
    path: Path
    emotion: str
    strong: bool
    actor: int

    @property
    def target(self) -> tuple[float, float]:
        v, a = TABLE[self.emotion]
        scale = 1.0 if self.strong or self.emotion == "neutral" else NORMAL_INTENSITY
        return v * scale, a * scale


def clips(root: Path) -> list[Clip]:
    """Every speech clip under ``root`` named as RAVDESS names them; a one-line error when there are none."""
    found = []
    for path in sorted(root.glob("Actor_*/*.wav")):
        m = NAME.match(path.stem)
        if m:
            found.append(Clip(path, EMOTIONS[int(m[1]) - 1], m[2] == "02", int(m[3])))
    if not found:
        raise DmsilError(f"{root}: no RAVDESS speech clips (expected Actor_NN/03-01-EE-II-SS-RR-AA.wav)")
    return found


@dataclass
class Table:
    """One row per clip that has enough voicing: functionals, emotion index, targets, actor."""

    x: np.ndarray
    emotion: np.ndarray
    target: np.ndarray
    actor: np.ndarray

    def take(self, mask: np.ndarray) -> Table:
        return Table(self.x[mask], self.emotion[mask], self.target[mask], self.actor[mask])


def read_features(all_clips: Sequence[Clip], work: Path) -> tuple[Table, list[str]]:
    """The functionals of every clip, computed once per actor into ``work``."""
    import soundfile as sf

    from dmsil.features.audio import AcousticExtractor, to_mono_16k

    work.mkdir(parents=True, exist_ok=True)
    extractor = AcousticExtractor()
    names = list(extractor.names)
    wanted = functional_names(names)
    rows: list[tuple[np.ndarray, Clip]] = []
    for actor in sorted({c.actor for c in all_clips}):
        mine = [c for c in all_clips if c.actor == actor]
        cache, stems = work / f"actor_{actor:02d}.npz", [c.path.stem for c in mine]
        stored = np.load(cache) if cache.is_file() else None
        if stored is not None and list(stored["stems"]) == stems and list(stored.get("names", [])) == wanted:
            x = stored["x"]
        else:  # new, or computed by another version of the functionals
            x = np.stack([_functionals(extractor, names, c.path, sf, to_mono_16k) for c in mine])
            np.savez(cache, x=x, stems=np.array(stems), names=np.array(wanted))
            log.info("actor %d: %d clips", actor, len(mine))
        rows += [(v, c) for v, c in zip(x, mine, strict=True) if np.isfinite(v).all()]
    table = Table(
        np.stack([v for v, _ in rows]).astype(np.float32),
        np.array([EMOTIONS.index(c.emotion) for _, c in rows]),
        np.array([c.target for _, c in rows], np.float32),
        np.array([c.actor for _, c in rows]),
    )
    return table, names


def _functionals(extractor, names, path: Path, sf, to_mono_16k) -> np.ndarray:
    audio, rate = sf.read(path, dtype="float32")
    v = functionals(extractor(to_mono_16k(audio, rate)), names)
    return np.full(len(functional_names(names)), np.nan, np.float32) if v is None else v


def population(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return x.mean(0), x.std(0) + 1e-6


HEARD = (None, None, 8, 0)
"""How much of each actor the baseline has heard when the head is trained: all their clips (the state a
live speaker's baseline reaches after a few minutes), none (a new voice, read from the population), or a
few of them (a voice being learnt). Training on every stage keeps the head sane while it learns a voice."""


def by_speaker(table: Table, config: VoiceConfig, heard: int | None = None, seed: int = 0) -> np.ndarray:
    """Each actor's functionals measured from that actor's baseline after hearing ``heard`` of their clips
    (drawn at random; None: all of them)."""
    rng = np.random.default_rng(seed)
    out = np.empty_like(table.x)
    for actor in np.unique(table.actor):
        rows = np.flatnonzero(table.actor == actor)
        baseline = SpeakerBaseline(config)
        for i in rows if heard is None else rng.choice(rows, min(heard, len(rows)), replace=False):
            baseline.normalise(table.x[i])
        for i in rows:
            out[i] = baseline.normalise(table.x[i], learn=False)
    return out


def at_every_stage(table: Table, config: VoiceConfig, seed: int) -> tuple[np.ndarray, Table]:
    """The table's inputs at each stage of :data:`HEARD`, stacked, with the table repeated to match."""
    x = np.concatenate([by_speaker(table, config, heard, seed + i) for i, heard in enumerate(HEARD)])
    reps = len(HEARD)
    return x, Table(x, np.tile(table.emotion, reps), np.tile(table.target, (reps, 1)), np.tile(table.actor, reps))


def fit(train: Table, val: Table, names: list[str], opts: VoiceOptions) -> tuple[VoiceEnsemble, VoiceConfig]:
    """A head trained on ``train``'s actors (``opts.members`` networks from consecutive seeds, each stopped
    by ``val``'s loss); population statistics and each emotion's mean label from ``train``; its centre
    measured at the baseline."""
    mean, std = population(train.x)
    positions = [train.target[train.emotion == i].mean(0).tolist() for i in range(len(EMOTIONS))]
    config = VoiceConfig(names, list(EMOTIONS), mean.tolist(), std.tolist(), opts.hidden, opts.dropout, opts.members,
                         positions, source="RAVDESS speech, actors " + _actors(train.actor), licence=LICENCE)  # fmt: skip
    (xt, train), (xv, val) = (at_every_stage(t, config, opts.seed) for t in (train, val))
    net = ensemble(config)
    for i, member in enumerate(net):
        torch.manual_seed(opts.seed + i)
        member.load_state_dict(VoiceNet(config.dim, len(EMOTIONS), opts.hidden, opts.dropout).state_dict())
        _train(member, (torch.from_numpy(xt), train), (torch.from_numpy(xv), val), opts)
    net.eval()
    with torch.no_grad():
        centre = [float(v) for v in net(torch.zeros(1, config.dim))[1][0]]
    return net, dataclasses.replace(config, centre=centre)


def _train(
    net: VoiceNet, train: tuple[torch.Tensor, Table], val: tuple[torch.Tensor, Table], opts: VoiceOptions
) -> None:
    """Full-batch AdamW until the validation loss has not improved for ``opts.patience`` epochs; the best
    epoch's weights are kept."""
    (xt, t), (xv, v) = train, val
    et, ev, tt, tv = (torch.from_numpy(a) for a in (t.emotion, v.emotion, t.target, v.target))
    optimiser = torch.optim.AdamW(net.parameters(), lr=opts.lr, weight_decay=opts.weight_decay)
    best, best_state, waited = float("inf"), None, 0
    for _ in range(opts.epochs):
        net.train()
        optimiser.zero_grad()
        _loss(net(xt), et, tt).backward()
        optimiser.step()
        net.eval()
        with torch.no_grad():
            loss = float(_loss(net(xv), ev, tv))
        if loss < best - 1e-4:
            best, best_state, waited = loss, {k: v.clone() for k, v in net.state_dict().items()}, 0
        else:
            waited += 1
            if waited > opts.patience:
                break
    net.load_state_dict(best_state)


def _loss(out: tuple[torch.Tensor, torch.Tensor], emotion: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    logits, dims = out
    return torch.nn.functional.cross_entropy(logits, emotion) + torch.nn.functional.mse_loss(dims, target) / 2


def _actors(actors: np.ndarray) -> str:
    return ", ".join(str(a) for a in sorted(set(actors.tolist())))


def predict(
    net: VoiceEnsemble, config: VoiceConfig, table: Table, heard: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Emotion probabilities and (valence, arousal, from the centre) for a table of held-out actors, their
    baselines having heard ``heard`` of their clips (None: all)."""
    with torch.no_grad():
        probs, dims = net(torch.from_numpy(by_speaker(table, config, heard)))
    return probs.numpy(), dims.numpy() - np.asarray(config.centre, np.float32)


def evaluate(table: Table, probs: np.ndarray, dims: np.ndarray) -> dict:
    """The figures the issue names: arousal high vs low AUC, valence AUCs, 8-class accuracy, per class."""
    from sklearn.metrics import roc_auc_score

    def auc(positive: Sequence[str], negative: Sequence[str], column: int) -> float:
        pos, neg = np.isin(table.emotion, _codes(positive)), np.isin(table.emotion, _codes(negative))
        keep = pos | neg
        return float(roc_auc_score(pos[keep], dims[keep, column]))

    predicted = probs.argmax(1)
    per_class = {
        name: {
            "n": int((table.emotion == i).sum()),
            "recall": float((predicted[table.emotion == i] == i).mean()),
            "valence": float(dims[table.emotion == i, 0].mean()),
            "arousal": float(dims[table.emotion == i, 1].mean()),
        }
        for i, name in enumerate(EMOTIONS)
    }
    return {
        "n": len(table.x),
        "actors": _actors(table.actor),
        "accuracy8": float((predicted == table.emotion).mean()),
        "uar8": float(np.mean([v["recall"] for v in per_class.values()])),
        "arousal_auc": auc(HIGH_AROUSAL, LOW_AROUSAL, 1),
        "valence_auc_happy_sad": auc(("happy",), ("sad",), 0),
        "valence_auc_happy_angry": auc(("happy",), ("angry",), 0),
        "valence_r": float(np.corrcoef(dims[:, 0], table.target[:, 0])[0, 1]),
        "arousal_r": float(np.corrcoef(dims[:, 1], table.target[:, 1])[0, 1]),
        "per_class": per_class,
    }


def _codes(names: Sequence[str]) -> list[int]:
    return [EMOTIONS.index(n) for n in names]


def folds(actors: np.ndarray, k: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(validation actors, test actors) per fold: consecutive actors, so each fold holds out as many
    female (even) as male (odd) voices; validation is the next fold's first two."""
    ids = sorted(set(actors.tolist()))
    if k < 3 or len(ids) < k:
        raise DmsilError(f"{len(ids)} actors in {k} folds: need at least 3 folds and an actor in each")
    groups = [ids[i * len(ids) // k : (i + 1) * len(ids) // k] for i in range(k)]
    return [(np.array(groups[(i + 1) % k][:2]), np.array(g)) for i, g in enumerate(groups)]


def cross_validate(table: Table, names: list[str], opts: VoiceOptions) -> dict:
    results = []
    for val_actors, test_actors in folds(table.actor, opts.folds):
        test, val = np.isin(table.actor, test_actors), np.isin(table.actor, val_actors)
        net, config = fit(table.take(~test & ~val), table.take(val), names, opts)
        results.append(evaluate(table.take(test), *predict(net, config, table.take(test))))
        results[-1]["new_speaker"] = evaluate(table.take(test), *predict(net, config, table.take(test), heard=0))
        log.info("fold (actors %s): %s; as new speakers: %s", results[-1]["actors"], _summary(results[-1]),
                 _summary(results[-1]["new_speaker"]))  # fmt: skip
    keys = (
        "accuracy8",
        "uar8",
        "arousal_auc",
        "valence_auc_happy_sad",
        "valence_auc_happy_angry",
        "valence_r",
        "arousal_r",
    )
    return {
        "folds": results,
        "mean": {k: float(np.mean([r[k] for r in results])) for k in keys},
        "min": {k: float(np.min([r[k] for r in results])) for k in keys},
        "new_speaker_mean": {k: float(np.mean([r["new_speaker"][k] for r in results])) for k in keys},
    }


def _summary(r: dict) -> str:
    return (f"acc8 {r['accuracy8']:.3f}, arousal AUC {r['arousal_auc']:.3f}, happy/sad {r['valence_auc_happy_sad']:.3f}, "
            f"happy/angry {r['valence_auc_happy_angry']:.3f}")  # fmt: skip


def save(net: VoiceEnsemble, config: VoiceConfig, out: Path) -> None:
    from safetensors.torch import save_file

    out.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(out / WEIGHTS))
    config.write(out)
    log.info("wrote %s and %s to %s", WEIGHTS, CONFIG, out)


METRICS = "voice_metrics.json"
EMODB_CODES = {"W": "angry", "L": "bored", "E": "disgust", "A": "fearful", "F": "happy", "T": "sad", "N": "neutral"}
"""EmoDB's emotion letter (the sixth character of a file name, e.g. 03a01Fa.wav) -> the emotion."""
FLAT_SENTENCES = (
    "The meeting has been moved to the second floor.",
    "Please bring the forms you filled in last week.",
    "The train leaves the station at a quarter past nine.",
    "Water boils at one hundred degrees at sea level.",
    "The report has four chapters and an appendix.",
    "Turn left at the second corner after the bank.",
    "The library opens at eight on weekdays.",
    "Each box holds twelve bottles of the same size.",
)
FLAT_VOICES = ("en-us", "en-gb-x-rp", "en-us+f3", "de")
SESSION_REPEATS = 8
"""The sentences heard this many times over (64 windows, about a minute of speech) before the settled reading."""


def cross_corpus(net: VoiceEnsemble, config: VoiceConfig, folder: Path) -> dict:
    """The head on Berlin EmoDB (German actors, another corpus): each speaker against their own baseline;
    the AUCs of the RAVDESS figures (boredom counts as low arousal), accuracy on the six shared emotions."""
    import soundfile as sf
    from sklearn.metrics import roc_auc_score

    from dmsil.features.audio import AcousticExtractor, to_mono_16k

    extractor = AcousticExtractor()
    rows = []
    for path in sorted(folder.glob("*.wav")):
        audio, rate = sf.read(path, dtype="float32")
        v = functionals(extractor(to_mono_16k(audio, rate)), config.names)
        if v is not None and path.stem[5:6] in EMODB_CODES:
            rows.append((path.stem[:2], EMODB_CODES[path.stem[5]], v))
    if not rows:
        raise DmsilError(f"{folder}: no EmoDB clips (expected names like 03a01Fa.wav)")
    speakers = np.array([s for s, _, _ in rows])
    emotions = np.array([e for _, e, _ in rows])
    x = np.stack([v for _, _, v in rows])
    z = np.empty_like(x)
    for s in np.unique(speakers):
        baseline = SpeakerBaseline(config)
        for i in np.flatnonzero(speakers == s):
            baseline.normalise(x[i])
        for i in np.flatnonzero(speakers == s):
            z[i] = baseline.normalise(x[i], learn=False)
    with torch.no_grad():
        probs, dims = (t.numpy() for t in net(torch.from_numpy(z)))

    def auc(pos: Sequence[str], neg: Sequence[str], column: int) -> float:
        keep = np.isin(emotions, [*pos, *neg])
        return float(roc_auc_score(np.isin(emotions[keep], pos), dims[keep, column]))

    shared = np.isin(emotions, EMOTIONS)
    predicted = np.array(EMOTIONS)[probs.argmax(1)]
    return {
        "clips": len(rows),
        "speakers": len(np.unique(speakers)),
        "arousal_auc": auc(("angry", "fearful", "happy"), ("neutral", "sad", "bored"), 1),
        "valence_auc_happy_sad": auc(("happy",), ("sad",), 0),
        "valence_auc_happy_angry": auc(("happy",), ("angry",), 0),
        "accuracy6": float((predicted[shared] == emotions[shared]).mean()),
        "chance6": float(max(np.mean(emotions[shared] == e) for e in set(emotions[shared]))),
    }


def flat_speech(net: VoiceEnsemble, config: VoiceConfig, work: Path) -> dict:
    """What the head says of espeak-ng's monotone voices reading plain sentences: each voice read first
    from the population (a new speaker) and then from its own baseline (after about a minute of them)."""
    import soundfile as sf

    from dmsil.features.audio import AcousticExtractor, to_mono_16k
    from realtime.demo import speech

    extractor, out = AcousticExtractor(), {}
    (work / "flat").mkdir(parents=True, exist_ok=True)
    for voice in FLAT_VOICES:
        x = []
        for i, text in enumerate(FLAT_SENTENCES):
            wav = speech(text, work / "flat" / f"{voice}-{i}.wav", voice=voice)
            audio, rate = sf.read(wav, dtype="float32")
            x.append(functionals(extractor(to_mono_16k(audio, rate)), config.names))
        baseline = SpeakerBaseline(config)
        first = [baseline.normalise(v, learn=False) for v in x]
        for _ in range(SESSION_REPEATS):
            for v in x:
                baseline.normalise(v)
        own = [baseline.normalise(v, learn=False) for v in x]
        with torch.no_grad():
            centre = np.asarray(config.centre)
            new, settled = (net(torch.from_numpy(np.stack(z)))[1].numpy() - centre for z in (first, own))
        out[voice] = {
            "new_speaker": {"valence": float(new[:, 0].mean()), "arousal": float(new[:, 1].mean())},
            "own_baseline": {
                "valence": float(settled[:, 0].mean()),
                "arousal": float(settled[:, 1].mean()),
                "max_abs_valence": float(np.abs(settled[:, 0]).max()),
            },  # fmt: skip
        }
    return out


def run(opts: VoiceOptions) -> dict:
    table, names = read_features(clips(opts.ravdess), opts.work)
    log.info("%d clips with voicing from %d actors", len(table.x), len(set(table.actor.tolist())))
    crossed = cross_validate(table, names, opts)
    test, val = np.isin(table.actor, (23, 24)), np.isin(table.actor, (21, 22))
    net, config = fit(table.take(~test & ~val), table.take(val), names, opts)
    shipped = evaluate(table.take(test), *predict(net, config, table.take(test)))
    shipped["new_speaker"] = evaluate(table.take(test), *predict(net, config, table.take(test), heard=0))
    log.info("shipped head, actors 23-24: %s", _summary(shipped))
    document = {"table": TABLE, "normal_intensity": NORMAL_INTENSITY, "cross_validation": crossed,
                "shipped_test": shipped, "options": {f.name: str(getattr(opts, f.name)) for f in fields(opts)}}  # fmt: skip
    document["flat_speech"] = flat_speech(net, config, opts.work)
    log.info("flat espeak-ng voices: %s", document["flat_speech"])
    if str(opts.emodb) not in ("", "."):
        document["emodb"] = cross_corpus(net, config, opts.emodb)
        log.info("EmoDB (never trained on): %s", document["emodb"])
    if opts.save:
        save(net, config, opts.out)
        (opts.out / METRICS).write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return document


def main(argv: list[str] | None = None) -> int:
    return run_recipe("python -m scripts.default_model.voice", __doc__, VoiceOptions, run, argv)


if __name__ == "__main__":
    sys.exit(main())
