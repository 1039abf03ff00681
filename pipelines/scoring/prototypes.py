"""Hand-written example sentences per label: zero-shot centroids and seed training rows.

Two uses. (1) ``train-heads`` embeds them and stores each label's centroid in
``heads/heads.npz``: the zero-shot scorer for custom topics (no labels) and the baseline
that ``eval-scorer`` measures the trained heads against. (2) :func:`seed_examples` adds
them as extra training rows of the threat and topic heads (see its docstring). Editing
this file needs a re-run of ``train-heads``.
"""

from __future__ import annotations

TOPIC_PROTOTYPES: dict[str, list[str]] = {
    "violence/crime": [
        "police arrested a suspect after the shooting",
        "man stabbed to death in a robbery downtown",
        "gunman opened fire killing three people",
        "the murder suspect is still on the run",
        "armed robbery and assault reported last night",
        "terror attack: bomb explodes near the station",
        "drug gang violence leaves several dead",
        "she was sentenced to prison for fraud",
    ],
    "politics": [
        "the president signed the bill into law",
        "parliament votes on the new immigration policy",
        "the senator criticised the government's budget",
        "election results: the opposition party wins",
        "democrats and republicans clash over the vote",
        "the prime minister announced new sanctions",
        "protesters demand the minister resign",
        "campaign rally ahead of the elections",
    ],
    "business/brand": [
        "the company reported record quarterly earnings",
        "shares fell after the product recall",
        "new iphone launch: customers queue at the store",
        "terrible customer service from this airline",
        "the startup raised funding from investors",
        "stock market update: the index closed higher",
        "the brand's new advertising campaign",
        "the merger between the two companies was approved",
    ],
    "health": [
        "the hospital reports a rise in flu cases",
        "new vaccine approved against the virus",
        "doctors warn about the outbreak of the disease",
        "mental health support for patients",
        "cancer treatment trial shows results",
        "the epidemic has infected thousands of people",
        "tips for a healthy diet and exercise",
        "nurses and doctors are overwhelmed at the clinic",
    ],
    "technology": [
        "the new smartphone update has a bug",
        "artificial intelligence software from the tech company",
        "a data breach exposed millions of user passwords",
        "google and microsoft release new cloud services",
        "the app crashed after the latest version",
        "cybersecurity researchers found a vulnerability",
        "the internet outage affected the website",
        "new laptop and computer hardware review",
    ],
    "sports": [
        "what a goal! the team won the match",
        "the championship final goes to overtime",
        "the coach praised the players after the game",
        "the striker signed with a new football club",
        "nba playoffs: lakers beat the celtics",
        "the tennis star won the grand slam title",
        "world cup qualifier tonight in the stadium",
        "the quarterback threw three touchdowns",
    ],
    "entertainment": [
        "the new movie trailer was released today",
        "the singer's album tops the charts",
        "watching the season finale of my favourite tv show",
        "the concert tonight was amazing",
        "the actor won an award at the oscars",
        "celebrity gossip about the famous couple",
        "netflix announced a new series",
        "the band announced their world tour",
    ],
    "crisis/disaster": [
        "earthquake of magnitude 7 strikes the coast",
        "flood waters rise and residents are evacuated",
        "the wildfire destroyed hundreds of homes",
        "typhoon hits the islands, thousands displaced",
        "building collapse: rescuers search for survivors",
        "train derailment leaves dozens injured",
        "emergency services respond to the explosion",
        "state of emergency declared after the storm",
    ],
}
"""Topic examples; ``crisis/disaster`` is also a trained head (CrisisLex), which wins."""

THREAT_PROTOTYPES: list[str] = [
    "I am going to kill you",
    "I will find you and hurt you",
    "you better watch your back, you're dead",
    "I'm going to shoot up the school tomorrow",
    "we will bomb your building",
    "someone should put a bullet in his head",
    "I'll beat you until you bleed",
    "I will burn your house down with you inside",
    "they all deserve to be hanged, we will do it",
    "I'm coming for you and your family",
]
"""First-person or incited intent of violence against someone."""

NON_THREAT_PROTOTYPES: list[str] = [
    "police said the gunman killed three people",
    "the bomb attack was condemned by the government",
    "I'm killing it at work today",
    "this song is killing me, so good",
    "I could murder a pizza right now",
    "the hurricane destroyed the town",
    "he was shot dead by police last night",
    "I hate mondays so much",
    "you're an idiot and nobody likes you",
    "the movie has a lot of violence and shooting",
]
"""Violent words without a threat: news of violence, figures of speech, plain insults."""


def seed_examples(label: str) -> tuple[list[str], list[str]]:
    """Hand-written (positive, negative) sentences added to a label head's training rows.

    The annotated tweets (``labels/``) come from abuse-heavy sets: slang, slurs, US
    politics. A head trained on them alone missed plain, clean-English cases ("I will
    find you and kill you, you better watch your back" scored 0.37). These sentences,
    the same ones the zero-shot scorer uses, cover that register; they are added to every
    training fold and to the final fit, never to the rows a head is chosen or evaluated on.
    """
    every_topic = [s for sents in TOPIC_PROTOTYPES.values() for s in sents]
    if label == "threat":
        return list(THREAT_PROTOTYPES), list(NON_THREAT_PROTOTYPES) + every_topic
    if label not in TOPIC_PROTOTYPES:
        raise KeyError(f"no seed examples for label {label!r}")
    pos = list(TOPIC_PROTOTYPES[label]) + (list(THREAT_PROTOTYPES) if label == "violence/crime" else [])
    neg = [s for t, sents in TOPIC_PROTOTYPES.items() if t != label for s in sents]
    if label != "violence/crime":
        neg += THREAT_PROTOTYPES
    return pos, neg
