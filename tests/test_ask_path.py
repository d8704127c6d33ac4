"""How `QAEngine.ask` spends its time without changing what it answers: the texts a question
needs embedded go to the model in one call, and BM25 runs in another thread meanwhile."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from qabot.answer import predicate_to_embed
from qabot.question import analyze
from qabot.retriever import FusionParams, lexical_in_background, retrieve

from .fakes import FakeEmbedder
from .small_corpus import engine_over

DOCS = {
    "everest.txt": "Mount Everest is the highest mountain above sea level. Its summit is 8,849 metres high. "
    "Tenzing Norgay and Edmund Hillary first climbed it in 1953.\n",
    "nile.txt": "The Nile is a river in Africa. It is about 6,650 kilometres long and flows north into "
    "the Mediterranean Sea.\n",
}
QUESTIONS = [
    "How tall is Mount Everest?",
    "Who first climbed Mount Everest?",
    "How long is the Nile?",
    "what is the speed of light",
    "and how long is it?",
]


class BatchingEmbedder(FakeEmbedder):
    """The fake model, with the batch call the real embedder has; records every call."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, tuple[str, ...]]] = []

    def embed_queries(self, texts: Sequence[str]) -> list[np.ndarray]:
        self.calls.append(("batch", tuple(texts)))
        return [self._vector(t) for t in texts]

    def embed_query(self, text: str) -> np.ndarray:
        self.calls.append(("one", (text,)))
        return self._vector(text)


@pytest.fixture(scope="module")
def engines(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    """The same index asked through an embedder with a batch call and through one without."""
    base = tmp_path_factory.mktemp("ask-path")
    batching = engine_over(base, BatchingEmbedder(), DOCS)
    from qabot import QAEngine

    plain = QAEngine(batching.settings, FakeEmbedder())
    plain.reload(force=True)
    return batching, plain


def test_a_question_and_its_predicate_are_embedded_in_one_call(engines: tuple[Any, Any]) -> None:
    engine, _ = engines
    question = "Who first climbed Mount Everest?"
    predicate = predicate_to_embed(analyze(question))
    assert predicate and "Everest" not in predicate  # this question has a subject to take out
    engine.embedder.calls.clear()
    engine.ask(question)
    assert engine.embedder.calls == [("batch", (question, predicate))]


def test_a_question_without_a_subject_is_embedded_alone(engines: tuple[Any, Any]) -> None:
    engine, _ = engines
    assert predicate_to_embed(analyze("what is the speed of light")) is None
    engine.embedder.calls.clear()
    engine.ask("what is the speed of light")
    assert engine.embedder.calls == [("batch", ("what is the speed of light",))]


def test_a_follow_up_embeds_the_question_with_and_without_its_history(engines: tuple[Any, Any]) -> None:
    engine, _ = engines
    engine.embedder.calls.clear()
    engine.ask("and how long is it?", history=["Tell me about the Nile river"])
    ((kind, texts),) = engine.embedder.calls
    assert kind == "batch" and texts[:2] == ("Tell me about the Nile river and how long is it?", "and how long is it?")


@pytest.mark.parametrize("question", QUESTIONS)
def test_the_answer_is_the_same_with_or_without_the_batch_call(engines: tuple[Any, Any], question: str) -> None:
    batching, plain = engines
    for history in ([], ["Tell me about the Nile river"]):
        assert batching.ask(question, history=history) == plain.ask(question, history=history)


def test_bm25_in_the_background_gives_the_same_ranking(engines: tuple[Any, Any]) -> None:
    engine, _ = engines
    reader = engine.reader
    params = FusionParams.from_settings(engine.settings)
    for question in QUESTIONS:
        found = lexical_in_background(reader, question, params.candidates)()
        ids, scores = reader.lexical.search(question, params.candidates)
        assert np.array_equal(found[0], ids) and np.array_equal(found[1], scores)
        qvec = engine.embedder.embed_query(question)
        assert retrieve(reader, question, qvec, 5, params, found) == retrieve(reader, question, qvec, 5, params)


def test_bm25_runs_in_another_thread_and_its_error_reaches_the_caller(engines: tuple[Any, Any]) -> None:
    engine, _ = engines
    lexical = engine.reader.lexical
    seen: list[str] = []

    class Boom(RuntimeError):
        pass

    def failing(query: str, k: int) -> Any:
        seen.append(threading.current_thread().name)
        raise Boom(query)

    lexical.search = failing  # an instance attribute: only this test's reader is affected
    try:
        result = lexical_in_background(engine.reader, "Nile", 5)
        with pytest.raises(Boom):
            result()
    finally:
        del lexical.search
    assert len(seen) == 1 and seen[0].startswith("qabot-background")


def test_the_folder_is_the_only_backend_searched_in_the_background(tmp_path: Path) -> None:
    """Another backend's BM25 (a Milvus client) is called in the asking thread, when asked."""
    calls: list[str] = []

    class Remote:
        def search(self, query: str, k: int) -> tuple[np.ndarray, np.ndarray]:
            calls.append(threading.current_thread().name)
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)

    class View:
        lexical = Remote()

    result = lexical_in_background(View(), "anything", 5)  # type: ignore[arg-type]
    assert calls == []
    result()
    assert calls == [threading.current_thread().name]


@pytest.mark.parametrize(
    "text",
    ["Çatalhöyük", "Zoë Saldaña and Beyoncé", "plain ASCII only", "São Paulo – Brazil’s city", "e\u0301te\u0301", ""],
)
def test_entity_stems_fold_accents_like_dropping_each_combining_mark(text: str) -> None:
    """The support check's name matching folds accents (the ASCII-only shortcut changes nothing)."""
    import unicodedata

    from qabot.lexical import tokenize
    from qabot.question import _US, entity_stems

    folded = unicodedata.normalize("NFKD", _US.sub("Usacountry", text))
    assert entity_stems(text) == tokenize("".join(c for c in folded if not unicodedata.combining(c)))
    assert entity_stems("Çatalhöyük") == entity_stems("Catalhoyuk")


def test_background_work_returns_its_value_or_raises_its_error_in_the_caller() -> None:
    from qabot.background import submit

    later = [submit(pow, n, 2) for n in range(20)]  # more work than threads: queued, none lost
    assert [get() for get in later] == [n * n for n in range(20)]
    failing = submit(int, "not a number")
    with pytest.raises(ValueError):
        failing()
    names = {submit(lambda: threading.current_thread().name)() for _ in range(10)}
    assert names and all(n.startswith("qabot-background") for n in names)
