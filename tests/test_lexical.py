"""BM25 as qabot reads it back matches bm25s's own scoring; the tokenizer normalizes numbers."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from qabot.lexical import _STOPWORDS_EN, LexicalIndex, tokenize

TEXTS = [
    "Fifteen ballistic missiles were launched.",
    "Four missiles failed mid-flight, ten hit the base.",
    "The president tweeted that all is well.",
    "Cats sleep sixteen hours a day.",
    "",
]


def test_scores_equal_bm25s(tmp_path: Path) -> None:
    import bm25s

    LexicalIndex.build_and_save(TEXTS, tmp_path)
    ours = LexicalIndex.load(tmp_path)
    ref = bm25s.BM25.load(str(tmp_path))
    for query in ["how many missiles failed", "15 missiles", "tweet well", "dogs", "the the the"]:
        ids, scores = ours.search(query, 10)
        full = np.zeros(len(TEXTS), dtype=np.float32)
        full[ids] = scores
        expected = ref.get_scores_from_ids(ref.get_tokens_ids(tokenize(query))) if tokenize(query) else full * 0
        assert np.allclose(full, expected, atol=1e-5), query
    ids, _ = ours.search("missiles", 10)
    assert list(ids) == [0, 1] or list(ids) == [1, 0]
    assert ours.idf("missil") > 0 and ours.idf("unknownword") == 0.0


def test_tokenizer() -> None:
    assert tokenize("How many missiles were fired? Fifteen!") == ["missil", "fire", "15"]
    assert tokenize("a dozen") == ["12"]
    assert {"the", "were", "would", "about"} <= _STOPWORDS_EN
