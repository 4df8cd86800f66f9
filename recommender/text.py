"""Synopsis preprocessing with nltk that works offline.

Only nltk parts that need no downloaded corpus are used: a ``RegexpTokenizer`` and the Snowball
stemmer (stems measured as good as lemmas for the topic model, and need no WordNet folder). Stop
words are scikit-learn's English list plus MAL-specific filler, so ``nltk.download`` is never called.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

from nltk.stem.snowball import SnowballStemmer
from nltk.tokenize import RegexpTokenizer
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

# Credits and notes that MAL appends to synopses: they name the source, not the story.
_BOILERPLATE = re.compile(
    r"""
    \(\s*source\s*:[^)]*\)                # (Source: ANN), (Source: AniDB, edited)
    | \[\s*written\s+by\s+mal\s+rewrite\s*\]  # [Written by MAL Rewrite]
    | \[\s*written\s+by[^\]]*\]           # [Written by someone]
    | \(\s*written\s+by[^)]*\)
    | no\s+synopsis\s+(?:information\s+)?has\s+been\s+added\s+to\s+this\s+title[^.]*\.?
    | no\s+synopsis\s+yet[^.]*\.?
    | help\s+improve\s+our\s+database\s+by\s+adding\s+a\s+synopsis\s+here\.?
    | https?://\S+
    """,
    re.IGNORECASE | re.VERBOSE,
)
_TAGS = re.compile(r"<[^>]+>")

# Words frequent in synopses that carry no topic (on top of scikit-learn's English list).
MAL_STOP_WORDS = frozenset({
    "anime", "episode", "episodes", "season", "series", "story", "stories", "new", "film", "movie",
    "ova", "ona", "special", "specials", "tv", "source", "written", "mal", "rewrite", "synopsis",
    "based", "manga", "novel", "light", "adaptation", "release", "released", "included", "volume",
    "dvd", "blu", "ray", "bd", "short", "year", "years", "time", "day", "days", "way", "life",
    "world", "does", "did", "just", "like", "make", "makes", "things", "thing", "end", "begins",
    "soon", "finds", "help", "known", "called", "named", "follows", "takes", "place", "set",
    # release bookkeeping: "the fifth bundled disc of the unaired recap compilation"
    "first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth",
    "bundle", "bundled", "disc", "discs", "vol", "unaired", "recap", "compilation", "chapter",
    "chapters", "half", "movies", "films", "animation", "animated", "edition", "limited",
})
STOP_WORDS = frozenset(ENGLISH_STOP_WORDS) | MAL_STOP_WORDS

_TOKENIZER = RegexpTokenizer(r"[a-z][a-z']+[a-z]|[a-z]{2,}")
_STEMMER = SnowballStemmer("english")


@lru_cache(maxsize=500_000)
def stem_token(token: str) -> str:
    """Snowball stem, cached: synopses reuse a small vocabulary, and stemming is 15x the tokenising."""
    return _STEMMER.stem(token)


def clean_synopsis(text: object) -> str:
    """Lower-cased synopsis without MAL boilerplate, HTML tags or links; '' for missing values."""
    if not isinstance(text, str):
        return ""
    text = _TAGS.sub(" ", text)
    text = _BOILERPLATE.sub(" ", text)
    return re.sub(r"\s+", " ", text).strip().lower()


def tokenize(text: object, stem: bool = True, stop_words: Iterable[str] = STOP_WORDS) -> list[str]:
    """Tokens of a synopsis: cleaned, tokenised, stop words removed, then stemmed.

    Stop words are matched before stemming (the list holds surface forms) and again after it, so
    stems of stop words ("doe" from "does") do not survive.
    """
    stops = stop_words if isinstance(stop_words, frozenset | set) else frozenset(stop_words)
    tokens = [tok.replace("'", "") for tok in _TOKENIZER.tokenize(clean_synopsis(text))]
    tokens = [tok for tok in tokens if len(tok) > 2 and tok not in stops]
    if stem:
        tokens = [stem_token(tok) for tok in tokens]
        tokens = [tok for tok in tokens if len(tok) > 2 and tok not in stops]
    return tokens


class SynopsisAnalyzer:
    """Picklable ``analyzer`` for scikit-learn vectorizers (a lambda would not survive joblib)."""

    def __init__(self, stem: bool = True) -> None:
        self.stem = stem

    def __call__(self, text: object) -> list[str]:
        return tokenize(text, stem=self.stem)


def split_tags(value: object) -> list[str]:
    """'Action, Sci-Fi' (a CSV cell) or ['Action', 'Sci-Fi'] (a Mongo array) -> normalised tags."""
    if isinstance(value, str):
        parts = value.split(",")
    elif isinstance(value, Iterable):
        parts = [str(part) for part in value]
    else:
        return []
    tags = [re.sub(r"\s+", "_", part.strip().lower()) for part in parts]
    return [tag for tag in tags if tag and tag != "unknown"]
