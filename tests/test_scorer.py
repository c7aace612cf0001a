"""The scorer's text cache: each distinct text goes through the text encoder once, and its score does not
depend on what else is in the window or the batch (the text head reads the words alone)."""

import numpy as np

from realtime.scorer import TextReading, TextScores
from realtime.windows import Window

SAID = [
    "I loved every minute of it, the food was wonderful.",
    "The service was slow and the room was cold.",
    "It was fine, I suppose.",
]


class Counting:
    """The scorer's own engine, counting the texts it is given to encode."""

    def __init__(self, engine):
        self.engine, self.name, self.texts = engine, engine.name, 0

    def __call__(self, batch):
        self.texts += int((batch["text_mask"].sum(1) > 0).sum())
        return self.engine(batch)


def test_each_text_is_encoded_once_and_scores_alike_in_any_window_or_batch(scorer, monkeypatch):
    counting = Counting(scorer.engine)
    monkeypatch.setattr(scorer, "engine", counting)
    monkeypatch.setattr(scorer, "text_scores_cache", TextScores())
    alone = [scorer([Window(0.0, 4.0, t)])[0].text for t in SAID]
    assert counting.texts == len(SAID)

    face = np.zeros((45, scorer.config.video_dim), np.float32)
    face[:, -1] = 1.0  # a face present in every frame
    windows = [Window(float(i), i + 4.0, SAID[i % 3], video=face if i % 2 else None) for i in range(9)]
    again = scorer(windows)
    assert counting.texts == len(SAID)  # nothing encoded again
    assert [s.text for s in again] == [alone[i % 3] for i in range(9)]

    monkeypatch.setattr(scorer, "text_scores_cache", TextScores())  # the same texts in one fresh batch
    together = [s.text for s in scorer([Window(0.0, 4.0, t) for t in SAID])]
    assert np.allclose(together, alone, atol=1e-4)
    assert len({round(s, 3) for s in alone}) == 3


def test_the_cache_forgets_the_least_recently_used_texts():
    a, b, c = (TextReading(v, (0.1, 0.2, 0.7)) for v in (1.0, 2.0, 3.0))
    cache = TextScores(size=2)
    cache.put("a", a)
    cache.put("b", b)
    assert cache.get("a") == a  # "a" used: "b" is now the oldest
    cache.put("c", c)
    assert (cache.get("a"), cache.get("b"), cache.get("c"), len(cache)) == (a, None, c, 2)
