"""The lexical side of retrieval: one tokenizer for BM25 and for answer scoring.

Words are lower-cased, English stop words dropped, number words turned into digits
("fifteen" -> "15") and stems taken with PyStemmer. The BM25 index is bm25s's own
file format (numpy arrays and JSON, loaded without pickle and memory-mapped).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

_WORD = re.compile(r"\w+", re.UNICODE)
_NUMBER_WORDS = {
    "zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6",
    "seven": "7", "eight": "8", "nine": "9", "ten": "10", "eleven": "11", "twelve": "12",
    "thirteen": "13", "fourteen": "14", "fifteen": "15", "sixteen": "16", "seventeen": "17",
    "eighteen": "18", "nineteen": "19", "twenty": "20", "thirty": "30", "forty": "40",
    "fifty": "50", "sixty": "60", "seventy": "70", "eighty": "80", "ninety": "90",
    "hundred": "100", "thousand": "1000", "dozen": "12",
}  # fmt: skip
# Question words and fillers that say nothing about the content.
_EXTRA_STOPWORDS = {
    "what", "which", "who", "whom", "whose", "when", "where", "why", "how", "many", "much",
    "did", "does", "do", "said", "say", "says", "tell", "told", "according", "article",
}  # fmt: skip


@lru_cache(maxsize=1)
def _stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN

    return frozenset(STOPWORDS_EN) | _EXTRA_STOPWORDS


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english")


def tokenize(text: str) -> list[str]:
    """Content-word stems of `text`, in order (duplicates kept)."""
    stop = _stopwords()
    words = []
    for raw in _WORD.findall(text.lower()):
        word = _NUMBER_WORDS.get(raw, raw)
        if word in stop or (len(word) < 2 and not word.isdigit()):
            continue
        words.append(word)
    stems: list[str] = _stemmer().stemWords(words)
    return stems


def tokenize_many(texts: Sequence[str]) -> list[list[str]]:
    return [tokenize(t) for t in texts]


class LexicalIndex:
    """BM25 over chunk texts; rows are chunk ids."""

    def __init__(self, bm25: Any) -> None:
        self._bm25 = bm25

    @classmethod
    def build(cls, texts: Sequence[str]) -> LexicalIndex:
        import bm25s

        bm25 = bm25s.BM25()
        tokens = tokenize_many(texts)
        bm25.index(tokens, show_progress=False)
        return cls(bm25)

    def save(self, folder: Path) -> None:
        self._bm25.save(str(folder), show_progress=False)

    @classmethod
    def load(cls, folder: Path) -> LexicalIndex:
        import bm25s

        return cls(bm25s.BM25.load(str(folder), mmap=True, show_progress=False))

    def idf(self, stem: str) -> float:
        """Inverse document frequency of a stem (0 for stems not in the index)."""
        from math import log

        vocab = self._bm25.vocab_dict
        if stem not in vocab:
            return 0.0
        tid = vocab[stem]
        indptr = self._bm25.scores["indptr"]
        df = int(indptr[tid + 1] - indptr[tid])
        n = int(self._bm25.scores["num_docs"])
        return log(1 + (n - df + 0.5) / (df + 0.5))

    def search(self, query: str, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (chunk ids, scores), best first; only chunks sharing a word with the query."""
        import numpy as np

        ids = self._bm25.get_tokens_ids(tokenize(query))
        if not ids or k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        scores = self._bm25.get_scores_from_ids(ids)
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        keep = scores[top] > 0
        return top[keep].astype(np.int64), scores[top][keep].astype(np.float32)
