"""Everyday sentences made from templates, for the teacher to label (:mod:`scripts.default_model.teacher`).

The packaged human-rated data is tweets, reviews and editorials; people in front of a camera talk about
their job, their health, a delayed train, a helpful nurse. These templates cover such situations in
plain words, with events whose sentiment lies in what happened, not in a sentiment word ("the car broke
down again"), negation ("the staff weren't unfriendly") and contrast ("small, but spotless"), and plain
facts that should score neutral. They carry no labels of their own: the teacher labels them, so a
template's wording never decides its target.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class Topic:
    name: str
    good: list[str]
    """Clauses describing something that went well, without needing a sentiment word."""
    bad: list[str]
    facts: list[str]
    """Neutral statements: schedules, places, procedures."""
    things: list[tuple[str, str, list[str], list[str]]] = field(default_factory=list)
    """(noun phrase, "was"/"were", pleasant adjectives, unpleasant adjectives)."""


TOPICS = [
    Topic(
        "customer service",
        [
            "the agent sorted out my refund in five minutes",
            "they replaced the broken part the same day",
            "someone picked up the phone on the first ring",
            "the manager called me back to make sure everything was fixed",
        ],
        [
            "I was on hold for an hour and then the call dropped",
            "they closed my ticket without answering it",
            "I had to explain the problem to four different people",
            "the refund still hasn't arrived after six weeks",
        ],
        [
            "the help desk is open from nine to five on weekdays",
            "you can return the item within thirty days with the receipt",
            "the order number is printed at the top of the invoice",
        ],
        [
            ("the support agent", "was", ["helpful", "patient", "friendly"], ["rude", "clueless", "dismissive"]),
            ("the staff", "were", ["kind", "quick", "attentive"], ["slow", "unfriendly", "careless"]),
        ],
    ),
    Topic(
        "health",
        [
            "the test results came back clear",
            "my knee stopped hurting after two weeks of physio",
            "the nurse stayed late to explain everything to us",
            "I've slept through the night all week",
        ],
        [
            "the pain kept me awake again last night",
            "I waited four hours in the emergency room",
            "the treatment made me sick for days",
            "they lost my blood samples and I had to go back",
        ],
        [
            "the clinic is on the second floor of the building",
            "take one tablet twice a day with food",
            "my appointment was moved to Thursday at ten",
        ],
        [
            ("the doctor", "was", ["reassuring", "thorough", "gentle"], ["rushed", "cold", "careless"]),
            ("the hospital food", "was", ["decent", "fresh", "tasty"], ["awful", "cold", "bland"]),
        ],
    ),
    Topic(
        "money",
        [
            "we finally paid off the car loan",
            "I got a refund on my taxes this year",
            "the bank waived the fee when I asked",
            "we managed to save a little every month",
        ],
        [
            "the rent went up again this year",
            "they charged my card twice and won't give it back",
            "I had to borrow money to pay the bills",
            "the repair cost three times the estimate",
        ],
        [
            "the account statement comes out on the first of the month",
            "I pay the electricity bill by direct debit",
            "the branch moved to the other side of the square",
        ],
        [
            ("the new budget", "was", ["realistic", "fair", "sensible"], ["impossible", "unfair", "confusing"]),
        ],
    ),
    Topic(
        "work",
        [
            "my boss thanked me in front of the whole team",
            "I got the promotion I had been working towards",
            "we shipped the project a week early",
            "the new colleague has made the office a lot calmer",
        ],
        [
            "they cancelled my project after six months of work",
            "I stayed until midnight again to fix someone else's mistake",
            "half the team was laid off on Friday",
            "my manager took the credit for my idea",
        ],
        [
            "the meeting starts at half past nine in room four",
            "I work three days in the office and two at home",
            "the quarterly report is due at the end of the month",
        ],
        [
            ("the new job", "was", ["rewarding", "interesting", "fun"], ["exhausting", "boring", "stressful"]),
            ("my coworkers", "were", ["supportive", "welcoming", "generous"], ["petty", "lazy", "hostile"]),
        ],
    ),
    Topic(
        "travel",
        [
            "the train got us there ten minutes early",
            "they upgraded our room for free",
            "the guide knew every street in the old town",
            "our lost bag turned up the next morning",
        ],
        [
            "the flight was cancelled and nobody told us why",
            "the car broke down again on the motorway",
            "our luggage ended up in another country",
            "the hotel gave our room away to someone else",
        ],
        [
            "the bus leaves from platform six every twenty minutes",
            "the museum closes at five on Sundays",
            "turn left at the bridge and the station is on your right",
        ],
        [
            ("the hotel room", "was", ["spotless", "cozy", "quiet"], ["filthy", "cramped", "noisy"]),
            ("the flight attendants", "were", ["charming", "helpful", "calm"], ["rude", "impatient", "unhelpful"]),
        ],
    ),
    Topic(
        "family",
        [
            "my daughter called just to say she misses us",
            "the whole family came for my father's birthday",
            "my son passed his driving test on the first try",
            "my parents finally moved into the flat next to ours",
        ],
        [
            "my brother and I haven't spoken since the funeral",
            "the kids were sick all through the holidays",
            "my grandmother doesn't recognise me anymore",
            "we argued the whole way home",
        ],
        [
            "my sister lives two hours north of here",
            "we have dinner together on Sundays",
            "the children start school at eight",
        ],
        [
            ("the wedding", "was", ["beautiful", "joyful", "moving"], ["chaotic", "tense", "miserable"]),
        ],
    ),
    Topic(
        "food",
        [
            "they remembered my order from last time",
            "the chef came out to ask how we liked it",
            "every plate came back empty",
            "they found us a table even though we hadn't booked",
        ],
        [
            "we waited an hour and the food came cold",
            "there was a hair in my soup",
            "they got our order wrong three times",
            "I was sick all night after the dinner",
        ],
        [
            "the restaurant is across from the post office",
            "lunch is served between noon and two",
            "the menu changes every season",
        ],
        [
            ("the pasta", "was", ["delicious", "fresh", "perfect"], ["soggy", "bland", "burnt"]),
            ("the waiters", "were", ["attentive", "warm", "funny"], ["rude", "slow", "pushy"]),
        ],
    ),
    Topic(
        "home",
        [
            "the plumber fixed the leak in ten minutes and charged almost nothing",
            "the new neighbours brought us a cake",
            "the landlord repaired the heating the same afternoon",
            "we finally have a garden the kids can play in",
        ],
        [
            "the roof is leaking again",
            "the neighbours played music until four in the morning",
            "the landlord kept our deposit for no reason",
            "the washing machine flooded the kitchen",
        ],
        [
            "the flat has two bedrooms and a small balcony",
            "the rubbish is collected on Tuesdays",
            "we moved here in the spring of last year",
        ],
        [
            ("the apartment", "was", ["bright", "spacious", "peaceful"], ["damp", "dark", "run-down"]),
        ],
    ),
    Topic(
        "school",
        [
            "my son's teacher noticed he was struggling and stayed after class to help",
            "she got into the university she wanted",
            "the whole class passed the exam",
            "the new head teacher has turned the school around",
        ],
        [
            "my daughter is being bullied and the school does nothing",
            "I failed the exam by two points",
            "the course was cancelled a week before it started",
            "they lost my application twice",
        ],
        [
            "the term starts on the fourth of September",
            "the library is open until eight in the evening",
            "the exam has three sections and lasts two hours",
        ],
        [
            ("the lecture", "was", ["inspiring", "clear", "engaging"], ["confusing", "dull", "pointless"]),
        ],
    ),
    Topic(
        "technology",
        [
            "the new laptop boots in a few seconds",
            "the update fixed the battery problem",
            "the app found my lost phone in a minute",
            "setting up the printer took two minutes",
        ],
        [
            "the phone died after a week",
            "the update deleted all my photos",
            "the internet has been down for three days",
            "the app crashes every time I open it",
        ],
        [
            "the router is in the hallway cupboard",
            "the software runs on Windows and Mac",
            "the password has to be at least twelve characters long",
        ],
        [
            ("the new phone", "was", ["fast", "reliable", "easy to use"], ["buggy", "slow", "fragile"]),
        ],
    ),
    Topic(
        "transport",
        [
            "the bus driver waited for me when he saw me running",
            "they opened a new cycle lane all the way to work",
            "my commute is down to twenty minutes",
            "the garage had my car ready a day early",
        ],
        [
            "the train was delayed for the third time this week",
            "someone scratched my car in the car park",
            "I missed my connection and spent the night at the station",
            "the taxi driver took the long way and doubled the fare",
        ],
        [
            "the number twelve bus stops outside the library",
            "parking is free after six",
            "the motorway exit is about ten miles from here",
        ],
        [],
    ),
]

OPENERS = ["", "", "", "Honestly, ", "So ", "Well, ", "To be fair, ", "I have to say ", "You know, "]
CONTRASTS = [", but ", ", although ", ". Still, ", ", even though ", ", yet "]
NEGATED = {
    "was": ["wasn't", "was not", "was never", "wasn't exactly"],
    "were": ["weren't", "were not", "were never", "weren't exactly"],
}


def _cap(text: str) -> str:
    return text[0].upper() + text[1:]


def everyday_sentences(seed: int = 0, per_topic: int = 70) -> list[str]:
    """About ``per_topic`` sentences per topic: events, facts, adjectives, negation, contrast, questions."""
    rng = random.Random(seed)
    out: list[str] = []
    for topic in TOPICS:
        made: list[str] = []
        for clause in topic.good + topic.bad + topic.facts:
            made.append(_cap(rng.choice(OPENERS) + clause) + ".")
        for thing, verb, nice, nasty in topic.things:
            for adj in nice + nasty:
                made.append(_cap(f"{thing} {verb} {adj}."))
                made.append(_cap(f"{thing} {rng.choice(NEGATED[verb])} {adj}."))
            pronoun = "it" if verb == "was" else "they"
            made.append(
                _cap(f"{thing} {verb} {rng.choice(nasty)}{rng.choice(CONTRASTS)}{pronoun} {verb} {rng.choice(nice)}.")
            )
            made.append(
                _cap(f"{thing} {verb} {rng.choice(nice)}{rng.choice(CONTRASTS)}{pronoun} {verb} {rng.choice(nasty)}.")
            )
        for _ in range(len(topic.good)):
            first, then = rng.choice(topic.bad), rng.choice(topic.good)
            made.append(_cap(first) + rng.choice(CONTRASTS) + then + ".")
            first, then = rng.choice(topic.good), rng.choice(topic.bad)
            made.append(_cap(first) + rng.choice(CONTRASTS) + then + ".")
            made.append(_cap(rng.choice(topic.facts)) + ", and " + rng.choice(topic.good + topic.bad) + ".")
        for fact in topic.facts:
            made.append(f"Do you know if {fact}?")
        rng.shuffle(made)
        out.extend(made[:per_topic])
    return list(dict.fromkeys(out))
