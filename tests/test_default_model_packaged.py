from collections import Counter

import numpy as np

from dmsil.features.face import EXPRESSIONS
from scripts.default_model.packaged import expression_valence, face_images, face_split, rotten_tomatoes, split_of


def test_snippets_are_split_by_movie():
    snippets = rotten_tomatoes()
    counts = Counter(s.label for s in snippets)
    # 7,403 fresh / 5,405 rotten minus duplicates and plot summaries (dropped)
    assert 7_200 < counts[1] <= 7_403 and 5_200 < counts[-1] <= 5_405
    splits_of_movie: dict[str, set[str]] = {}
    for s in snippets:
        splits_of_movie.setdefault(s.movie, set()).add(s.split)
    assert all(len(v) == 1 for v in splits_of_movie.values()), "a movie must not straddle two splits"
    sizes = Counter(s.split for s in snippets)
    assert 0.7 < sizes["train"] / len(snippets) < 0.9 and sizes["test"] > 1_000
    assert len({s.text for s in snippets}) == len(snippets), "duplicates kept once"


def test_split_rule_is_fixed():
    # the rule is a pure function of the name: the same on every machine and run
    assert [split_of(n) for n in ("aankhen", "about_a_boy", "x")] == [
        split_of(n) for n in ("aankhen", "about_a_boy", "x")
    ]
    shares = Counter(split_of(f"movie-{i}") for i in range(5_000))
    assert abs(shares["train"] / 5_000 - 0.8) < 0.03


def test_faces_and_the_teacher():
    faces = dict(face_images())
    assert len(faces) == 102 and faces["astronaut"].shape == (512, 512, 3)
    assert face_split("astronaut") == "test"
    one_hot = np.eye(len(EXPRESSIONS), dtype=np.float32)
    valence = dict(zip(EXPRESSIONS, expression_valence(one_hot), strict=True))
    assert valence["happy"] == 2.0 and valence["neutral"] == 0.0
    assert all(valence[e] == -2.0 for e in ("angry", "disgust", "fear", "sad"))
