"""BM25 as qabot reads it back matches bm25s's own scoring; the tokenizer normalizes numbers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from qabot.lexical import LexicalIndex, tokenize, tokenize_many

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


def test_a_misspelt_word_counts_as_the_indexed_word_it_most_likely_meant(tmp_path: Path) -> None:
    texts = [
        "Albert Einstein received the Nobel Prize in Physics in 1921.",
        "The Nobel Prize is awarded in Stockholm.",
        "Einstein was born in Ulm; Einstein later moved to Bern.",
        "Eisenstein directed Battleship Potemkin.",
        "Kittens nap often.",
    ]
    LexicalIndex.build_and_save(texts, tmp_path)
    index = LexicalIndex.load(tmp_path)
    assert index.correction("einstien") == "einstein"  # two letters swapped: one edit
    assert index.correction("einstein") is None  # indexed words stay as they are
    assert index.correction("stokholm") == "stockholm"  # a missing letter
    assert index.correction("stockholmmm") == "stockholm"  # 9+ letters: two edits
    assert index.correction("kitten") is None and index.correction("nap") is None
    assert index.correction("zelmora") is None  # nothing close: no guess
    assert index.correction("nobbel") == "nobel"
    assert index.correction("nobbbel") is None  # under 9 letters, one edit at most
    assert index.correction("ulmm") is None  # under 5 letters: never guessed
    assert index.correction("kinstein") is None  # only stems with the same first letter
    ids, _ = index.search("when did einstien get the nobel prize", 5)
    assert list(ids[:2]) == [0, 2] or list(ids[:1]) == [0]
    ids, _ = index.search("einstien", 5)
    assert set(ids.tolist()) == {0, 2}  # "eisenstein" is two edits away from "einstien": not taken


@pytest.mark.slow
def test_the_real_seed_index_finds_a_misspelt_name(seed_engine) -> None:  # type: ignore[no-untyped-def]
    reader = seed_engine.reader
    ids, _ = reader.lexical.search("Soliemani", 3)
    assert len(ids) > 0
    row = reader.chunks([int(ids[0])])[int(ids[0])]
    _, text = reader.document(row.doc_id)
    assert "Soleimani" in text[row.start : row.end]


@pytest.mark.slow
def test_bm25_reads_each_passage_with_its_document_title(seed_engine) -> None:  # type: ignore[no-untyped-def]
    """Like the model, BM25 sees the title line with every chunk: a question naming the article matches them all."""
    reader = seed_engine.reader
    n = int(seed_engine.info(check_stale=False).chunks)
    body = [
        cid
        for cid, row in reader.chunks(list(range(n))).items()
        if "Retaliates" not in reader.document(row.doc_id)[1][row.start : row.end]
    ]
    assert body  # chunks whose own text never says "retaliates"...
    ids, _ = reader.lexical.search("retaliates", n)
    assert set(body) <= set(ids.tolist())  # ...are found by it all the same


def test_the_streamed_writer_scores_as_bm25s_indexing_everything_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Blocks of texts, postings assembled a few stems at a time: the scores bm25s gives the whole corpus."""
    import bm25s

    import qabot.lexical as lexical

    from .conftest import SEED_FILE

    texts = [p for p in SEED_FILE.read_text(encoding="utf-8").split("\n") if p.strip()] + TEXTS
    monkeypatch.setattr(lexical, "SEGMENT_ENTRIES", 40)  # many segments
    writer = lexical.LexicalWriter(tmp_path / "work")
    for lo in range(0, len(texts), 7):
        writer.add(texts[lo : lo + 7])
    writer.finish(tmp_path / "bm25")
    ours = LexicalIndex.load(tmp_path / "bm25")
    ref = bm25s.BM25()
    ref.index(tokenize_many(texts), show_progress=False)
    phrases = [" ".join(t.split()[i : i + 3]) for t in texts for i in (0, 5)]
    queries = [q for q in phrases if tokenize(q)]
    assert len(queries) > 20
    for query in queries:
        ids, scores = ours.search(query, len(texts))
        full = np.zeros(len(texts), dtype=np.float32)
        full[ids] = scores
        assert np.array_equal(full, ref.get_scores_from_ids(ref.get_tokens_ids(tokenize(query)))), query
    assert not list((tmp_path / "work").iterdir())  # the block files are gone


def test_ties_at_the_kth_score_go_to_the_lowest_ids(tmp_path: Path) -> None:
    texts = ["a red kite over the hill"] * 300 + ["the blue kite", "a red kite over the red hill"]
    LexicalIndex.build_and_save(texts, tmp_path / "bm25")
    index = LexicalIndex.load(tmp_path / "bm25")
    ids, scores = index.search("red kite", 5)
    assert ids[0] == 301  # "red" twice scores highest
    assert list(ids[1:]) == [0, 1, 2, 3]  # then 300 equal scores: the lowest ids, in order
    assert len(set(scores[1:].tolist())) == 1
    assert list(index.search("kite", 400)[0][:2]) == [300, 0]  # fewer chunks hold the words than k: all, best first
