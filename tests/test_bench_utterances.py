"""The spoken benchmark's bound on a live gauge (scripts/bench_utterances.causal_ceiling): the text head on
the words already said, nothing later."""

from scripts.bench_utterances import causal_ceiling, spoken_by

SAID = [
    {"text": "I loved every minute of this wonderful holiday.", "polarity": "positive", "group": "plain",
     "start": 0.0, "end": 4.0},
    {"text": "Then the hotel lost our bags and the manager was rude to us.", "polarity": "negative",
     "group": "plain", "start": 4.6, "end": 9.0},
]  # fmt: skip


def test_words_count_as_said_once_their_last_character_is_reached():
    s = SAID[1]
    assert spoken_by(s, s["start"]) == []
    assert spoken_by(s, s["start"] + 1.0) == ["Then", "the"]  # "Then the hotel " is 15 of 61 characters: 1.08 s
    assert spoken_by(s, s["end"]) == s["text"].split()


def test_the_bound_holds_the_last_sentence_until_the_next_one_says_its_opinion(scorer):
    ends = [float(t) for t in range(1, 10)]
    bound = causal_ceiling(ends, SAID, scorer.text_scores)
    hold = bound["hold"]
    # the positive sentence agrees throughout; the negative one only once "lost our bags" has been said
    assert 0.5 < hold["plain_agree"] < 1.0, hold
    assert hold["shown"] == 1.0 and hold["flips"] > 0, hold
    late = bound["from_6_words"]
    assert late["shown"] < 1.0 and late["plain_agree"] >= hold["plain_agree"], late
