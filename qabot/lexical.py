"""The lexical side of retrieval: one tokenizer for BM25 and for answer scoring.

Words are lower-cased, English stop words dropped, number words turned into digits
("fifteen" -> "15") and stems taken with PyStemmer. The BM25 index is bm25s's own
file format (numpy arrays and JSON, loaded without pickle and memory-mapped).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from functools import cached_property, lru_cache
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


# English stop words (NLTK's list, plus a few modal verbs). Kept here, not imported, so that
# a query loads no NLP package just for them.
_STOPWORDS_EN = frozenset(
    [
        "i",
        "me",
        "my",
        "myself",
        "we",
        "our",
        "ours",
        "ourselves",
        "you",
        "your",
        "yours",
        "yourself",
        "yourselves",
        "he",
        "him",
        "his",
        "himself",
        "she",
        "her",
        "hers",
        "herself",
        "it",
        "its",
        "itself",
        "they",
        "them",
        "their",
        "theirs",
        "themselves",
        "what",
        "which",
        "who",
        "whom",
        "this",
        "that",
        "these",
        "those",
        "am",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "have",
        "has",
        "had",
        "having",
        "do",
        "does",
        "did",
        "doing",
        "a",
        "an",
        "the",
        "and",
        "but",
        "if",
        "or",
        "because",
        "as",
        "until",
        "while",
        "of",
        "at",
        "by",
        "for",
        "with",
        "about",
        "against",
        "between",
        "into",
        "through",
        "during",
        "before",
        "after",
        "above",
        "below",
        "to",
        "from",
        "up",
        "down",
        "in",
        "out",
        "on",
        "off",
        "over",
        "under",
        "again",
        "further",
        "then",
        "once",
        "here",
        "there",
        "when",
        "where",
        "why",
        "how",
        "all",
        "any",
        "both",
        "each",
        "few",
        "more",
        "most",
        "other",
        "some",
        "such",
        "no",
        "nor",
        "not",
        "only",
        "own",
        "same",
        "so",
        "than",
        "too",
        "very",
        "s",
        "t",
        "can",
        "will",
        "just",
        "don",
        "should",
        "now",
        "d",
        "ll",
        "m",
        "o",
        "re",
        "ve",
        "y",
        "ain",
        "aren",
        "couldn",
        "didn",
        "doesn",
        "hadn",
        "hasn",
        "haven",
        "isn",
        "ma",
        "mightn",
        "mustn",
        "needn",
        "shan",
        "shouldn",
        "wasn",
        "weren",
        "won",
        "wouldn",
        "could",
        "would",
        "might",
        "must",
        "shall",
        "also",
    ]
)


@lru_cache(maxsize=1)
def _stopwords() -> frozenset[str]:
    return _STOPWORDS_EN | _EXTRA_STOPWORDS


_LOCAL = threading.local()


def _stemmer() -> Any:
    """This thread's PyStemmer (its stemmers are not thread-safe; the bot asks from worker threads)."""
    stemmer = getattr(_LOCAL, "stemmer", None)
    if stemmer is None:
        import Stemmer

        stemmer = _LOCAL.stemmer = Stemmer.Stemmer("english")
    return stemmer


_STEMS: dict[str, str] = {}  # word -> its stem, "" for a word that is dropped


def _stem(word: str) -> str:
    """The stem of a word not in `_STEMS` yet ("" when it is dropped), remembered there."""
    word_ = _NUMBER_WORDS.get(word, word)
    drop = word_ in _stopwords() or (len(word_) < 2 and not word_.isdigit())
    stem = "" if drop else str(_stemmer().stemWord(word_))
    if len(_STEMS) >= 300_000:
        _STEMS.clear()  # bounded: a long-running bot tokenizes endless new words
    _STEMS[word] = stem
    return stem


def tokenize(text: str) -> list[str]:
    """Content-word stems of `text`, in order (duplicates kept)."""
    words = _WORD.findall(text.lower())
    stems = list(map(_STEMS.get, words))  # C speed for the words seen before (nearly all)
    if None in stems:
        stems = [_stem(w) if s is None else s for w, s in zip(words, stems, strict=True)]
    return [s for s in stems if s]


# Identifiers (codes, versions, part and error numbers: "wombat22", "e1234", "a320") hold letters
# and digits; a number with a unit or an ordinal ("1990s", "3rd", "5km") is not one.
_IDENTIFIER = re.compile(r"(?=[a-z0-9]*[a-z])(?=[a-z0-9]*[0-9])[a-z0-9]{2,}")
_NOT_IDENTIFIER = re.compile(r"[0-9]+(?:s|st|nd|rd|th|[kmgt]?[bgmw]|km|kg|cm|mm|ft|in|lb|mph|kph|bn|mn|am|pm|k|m)")


def identifiers(text: str) -> list[str]:
    """The identifier stems of `text` (letters and digits together), in order, each once.

    Stems as `tokenize` gives them, so they can be looked up in the BM25 vocabulary."""
    found = [s for s in tokenize(text) if _IDENTIFIER.fullmatch(s) and not _NOT_IDENTIFIER.fullmatch(s)]
    return list(dict.fromkeys(found))


def tokenize_many(texts: Sequence[str]) -> list[list[str]]:
    return [tokenize(t) for t in texts]


class LexicalIndex:
    """BM25 over chunk texts; rows are chunk ids.

    Written by `LexicalWriter` in bm25s's file layout with bm25s's scores (tested against
    bm25s); read back straight from the saved arrays (memory-mapped), so a query needs
    neither bm25s nor scipy: a cold `qabot ask` stays fast.
    """

    def __init__(
        self, vocab: dict[str, int], data: np.ndarray, indices: np.ndarray, indptr: np.ndarray, n: int
    ) -> None:
        self._vocab = vocab
        self._data = data
        self._indices = indices
        self._indptr = indptr
        self._n = n
        self._corrections: dict[str, str | None] = {}

    @staticmethod
    def build_and_save(texts: Sequence[str], folder: Path) -> None:
        """Index `texts` and save the arrays into `folder` (no pickle)."""
        import tempfile

        with tempfile.TemporaryDirectory(dir=folder.parent) as work:
            writer = LexicalWriter(Path(work))
            writer.add(texts)
            writer.finish(folder)

    @classmethod
    def load(cls, folder: Path) -> LexicalIndex:
        import json

        import numpy as np

        vocab = json.loads((folder / "vocab.index.json").read_text(encoding="utf-8"))
        params = json.loads((folder / "params.index.json").read_text(encoding="utf-8"))
        data, indices, indptr = (
            np.load(folder / f"{name}.csc.index.npy", mmap_mode="r", allow_pickle=False)
            for name in ("data", "indices", "indptr")
        )
        return cls(vocab, data, indices, indptr, int(params["num_docs"]))

    def idf(self, stem: str) -> float:
        """Inverse document frequency of a stem (0 for stems not in the index)."""
        from math import log

        tid = self._vocab.get(stem)
        if tid is None:
            return 0.0
        df = self._df(tid)
        if df == 0:
            return 0.0
        return log(1 + (self._n - df + 0.5) / (df + 0.5))

    def correction(self, stem: str) -> str | None:
        """The indexed stem a misspelt `stem` most likely meant ("einstien" -> "einstein"), or None.

        Only for alphabetic stems of 5+ letters that no passage contains, and only among indexed
        stems with the same first letter (typos rarely hit it, and it keeps the scan short on a
        large vocabulary): one edit away (Damerau, so a swap of two letters counts once), two for
        9+ letters ("einstein" is not "epstein"); among equally close stems, the one in the most
        passages wins.
        """
        if len(stem) < 5 or not stem.isalpha() or stem in self._vocab:
            return None
        if stem in self._corrections:
            return self._corrections[stem]
        from rapidfuzz import process
        from rapidfuzz.distance import OSA

        edits = 2 if len(stem) >= 9 else 1
        found = process.extract(
            stem, self._terms_by_initial.get(stem[0], []), scorer=OSA.distance, score_cutoff=edits, limit=None
        )
        best = str(min(found, key=lambda m: (m[1], -self._df(self._vocab[m[0]]), m[0]))[0]) if found else None
        if len(self._corrections) >= 10_000:
            self._corrections.clear()  # a long-running bot sees endless new words
        self._corrections[stem] = best
        return best

    @cached_property
    def _terms_by_initial(self) -> dict[str, list[str]]:
        by_initial: dict[str, list[str]] = {}
        for term in self._vocab:
            by_initial.setdefault(term[:1], []).append(term)
        return by_initial

    def _df(self, tid: int) -> int:
        return int(self._indptr[tid + 1] - self._indptr[tid])

    def _term_id(self, stem: str) -> int | None:
        tid = self._vocab.get(stem)
        if tid is None:
            fixed = self.correction(stem)
            tid = None if fixed is None else self._vocab[fixed]
        return tid

    def chunks_with(self, stem: str) -> np.ndarray:
        """Ids of the chunks that contain `stem` exactly (no typo correction), ascending."""
        import numpy as np

        tid = self._vocab.get(stem)
        if tid is None:
            return np.zeros(0, dtype=np.int64)
        lo, hi = int(self._indptr[tid]), int(self._indptr[tid + 1])
        return np.sort(np.asarray(self._indices[lo:hi], dtype=np.int64))

    def search(self, query: str, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (chunk ids, scores), best first (ties by id); only chunks sharing a word with the query.

        A query word no passage contains counts as its likely correction (see `correction`)."""
        import numpy as np

        ids = [tid for t in tokenize(query) if (tid := self._term_id(t)) is not None]
        if not ids or k <= 0 or self._n == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        scores = np.zeros(self._n, dtype=np.float32)
        for tid in ids:
            lo, hi = int(self._indptr[tid]), int(self._indptr[tid + 1])
            scores[self._indices[lo:hi]] += self._data[lo:hi]
        # Only chunks holding a query word can score (every BM25 weight is > 0), ascending ids: the
        # top k are chosen among them, not among every chunk (a partition of 1M scores took 10 ms).
        held = np.flatnonzero(scores)
        if held.size > k:
            kept = scores[held]
            kth = kept[np.argpartition(-kept, k - 1)[k - 1]]  # the k-th best score
            above, tied = held[kept > kth], held[kept == kth]
            held = np.concatenate([above, tied[: k - above.size]])  # ties at the k-th score: lowest ids
        top = held[np.lexsort((held, -scores[held]))]
        return top.astype(np.int64), scores[top].astype(np.float32)


# BM25 as bm25s scores it by default ("lucene"): idf = ln(1 + (N - df + 0.5) / (df + 0.5)) in float32,
# times tf / (tf + k1 * (1 - b + b * length / average length)) in float64, stored as float32.
BM25_K1 = 1.5
BM25_B = 0.75
SEGMENT_ENTRIES = 1 << 23  # postings assembled in memory at once when the index is finished


class LexicalWriter:
    """Build the BM25 arrays from texts given a block at a time, in memory bounded by a block.

    `add` tokenizes a block, numbers new stems in order of first appearance and writes the
    block's (stem id, chunk id, term frequency) triples, sorted by stem, to a file in `work`.
    `finish` knows the document frequencies and the average length only then: it fills the
    column-ordered (CSC) arrays a range of stems at a time from those files.
    """

    def __init__(self, work: Path) -> None:
        import numpy as np

        self._work = work
        work.mkdir(parents=True, exist_ok=True)
        self._vocab: dict[str, int] = {}
        self._lengths: list[np.ndarray] = []
        self._df = np.zeros(0, dtype=np.int64)
        self._blocks: list[Path] = []
        self._docs = 0

    def add(self, texts: Sequence[str]) -> None:
        from collections import Counter

        import numpy as np

        vocab = self._vocab
        stems: list[int] = []
        chunks: list[int] = []
        freqs: list[int] = []
        lengths = np.zeros(len(texts), dtype=np.int32)
        for j, text in enumerate(texts):
            tokens = tokenize(text)
            lengths[j] = len(tokens)
            counts = Counter(vocab.setdefault(t, len(vocab)) for t in tokens)
            stems += counts.keys()
            freqs += counts.values()
            chunks += [self._docs + j] * len(counts)
        triples = np.array([stems, chunks, freqs], dtype=np.int32).reshape(3, -1)
        triples = triples[:, np.lexsort((triples[1], triples[0]))]
        path = self._work / f"block-{len(self._blocks):06d}.npy"
        np.save(path, triples, allow_pickle=False)
        self._blocks.append(path)
        self._lengths.append(lengths)
        self._docs += len(texts)
        df = np.bincount(triples[0], minlength=len(vocab))
        df[: len(self._df)] += self._df
        self._df = df

    def finish(self, folder: Path) -> None:
        """Write data/indices/indptr (.npy), vocab.index.json and params.index.json into `folder`."""
        import json

        import numpy as np

        from .vectors import NpyWriter

        folder.mkdir(parents=True, exist_ok=True)
        n = self._docs
        df = self._df
        lengths = np.concatenate(self._lengths) if self._lengths else np.zeros(0, dtype=np.int32)
        average = float(lengths.sum(dtype=np.int64)) / n if n else 0.0
        idf = np.log(1 + (n - df + 0.5) / (df + 0.5)).astype(np.float32)
        indptr = np.zeros(len(df) + 1, dtype=np.int64)
        np.cumsum(df, out=indptr[1:])
        np.save(folder / "indptr.csc.index.npy", indptr, allow_pickle=False)
        data = NpyWriter(folder / "data.csc.index.npy", (), np.float32)
        indices = NpyWriter(folder / "indices.csc.index.npy", (), np.int32)
        try:
            t0 = 0
            while t0 < len(df):
                # stems [t0, t1): as many as fit SEGMENT_ENTRIES postings (at least one stem)
                t1 = max(t0 + 1, int(np.searchsorted(indptr, indptr[t0] + SEGMENT_ENTRIES, side="right")) - 1)
                t1 = min(t1, len(df))
                base = int(indptr[t0])
                seg_data = np.empty(int(indptr[t1]) - base, dtype=np.float32)
                seg_indices = np.empty(len(seg_data), dtype=np.int32)
                cursor = indptr[t0:t1] - base
                for path in self._blocks:
                    triples = np.load(path, allow_pickle=False)
                    lo, hi = np.searchsorted(triples[0], [t0, t1])
                    if lo == hi:
                        continue
                    stem, chunk, freq = triples[0, lo:hi], triples[1, lo:hi], triples[2, lo:hi]
                    starts = np.flatnonzero(np.r_[True, stem[1:] != stem[:-1]])
                    runs = np.diff(np.r_[starts, len(stem)])
                    pos = cursor[stem - t0] + np.arange(len(stem)) - np.repeat(starts, runs)
                    tf = freq.astype(np.float64)
                    tfc = tf / (BM25_K1 * ((1 - BM25_B) + BM25_B * lengths[chunk] / average) + tf)
                    seg_data[pos] = idf[stem] * tfc
                    seg_indices[pos] = chunk
                    cursor[stem[starts] - t0] += runs
                data.append(seg_data)
                indices.append(seg_indices)
                t0 = t1
        finally:
            data.close()
            indices.close()
        (folder / "vocab.index.json").write_text(json.dumps(self._vocab, ensure_ascii=False), encoding="utf-8")
        params = {"k1": BM25_K1, "b": BM25_B, "method": "lucene", "idf_method": "lucene", "dtype": "float32",
                  "int_dtype": "int32", "num_docs": n, "backend": "numpy"}  # fmt: skip
        (folder / "params.index.json").write_text(json.dumps(params, indent=1), encoding="utf-8")
        for path in self._blocks:
            path.unlink()
