"""Request-shaped questions ("how do I ...", "my ...", "tonight"): refused when the documents only
share a topic with them, answered when a passage holds everything they ask about."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .small_corpus import engine_over

HELP = (
    "Account help\n\n"
    "To reset your password, open Settings, choose Account and press Reset password; "
    "a reset link is sent to your email address within five minutes.\n\n"
    "Two-factor sign-in is switched on under Settings, Security.\n"
)
FILM = (
    "My Fair Lady (film)\n\n"
    "My Fair Lady is a 1964 American musical drama film adapted from the 1956 stage musical. "
    "The film stars Audrey Hepburn as Eliza Doolittle and Rex Harrison as Henry Higgins.\n"
)
BICYCLE = (
    "Bicycle\n\n"
    "A bicycle is a human-powered, pedal-driven vehicle with two wheels attached to a frame. "
    "Bicycles were introduced in the 19th century in Europe.\n"
)


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory, embedder) -> Iterator[object]:  # type: ignore[no-untyped-def]
    documents = {"Account_help.txt": HELP, "My_Fair_Lady_(film).txt": FILM, "Bicycle.txt": BICYCLE}
    yield engine_over(tmp_path_factory.mktemp("requests"), embedder, documents)


@pytest.mark.slow
def test_a_how_do_i_question_a_help_page_answers_is_answered(engine) -> None:  # type: ignore[no-untyped-def]
    answer = engine.ask("How do I reset my password?")
    assert not answer.abstained, answer.signals
    assert answer.citations[0].source == "Account_help.txt"
    assert "Reset password" in (answer.text or "")


@pytest.mark.slow
def test_a_title_holding_a_request_word_is_not_a_request(engine) -> None:  # type: ignore[no-untyped-def]
    answer = engine.ask("Who starred in My Fair Lady?")
    assert not answer.abstained, answer.signals
    assert "Audrey Hepburn" in (answer.text or "")


@pytest.mark.slow
@pytest.mark.parametrize(
    "question",
    ["how do i fix a flat bike tire", "can you book me a bicycle for tomorrow", "is my bike safe to ride tonight"],
)
def test_a_request_the_documents_only_share_a_topic_with_is_refused(engine, question: str) -> None:  # type: ignore[no-untyped-def]
    answer = engine.ask(question)
    assert answer.abstained, answer.text
    assert answer.signals.get("request") == 1.0


def test_request_words_must_be_the_documents_own_or_it_must_speak_to_the_reader() -> None:
    from qabot.answer import Candidate, request_covered

    def cand(title: str) -> Candidate:
        return Candidate(title, 0, 1, "x", 0, 0.5, 0.5, 0.0, 0.5, title=title)

    betta = "The betta is a freshwater fish native to Southeast Asia, named after a clan of warriors."
    assert not request_covered("what should i name my betta fish", cand("Betta"), betta)
    film = "My Fair Lady is a 1964 film. The film stars Audrey Hepburn."
    assert request_covered("Who starred in My Fair Lady?", cand("My Fair Lady (film)"), film)
    assert not request_covered("who starred with me in my fair lady", cand("X"), film.replace("My Fair", "Fair"))
    page = "To reset your password, open Settings and press Reset password."
    assert request_covered("How do I reset my password?", cand("Account help"), page)
    assert not request_covered("How do I reset my router?", cand("Account help"), page)
