"""Honest answers: question analysis, the support check, short answers and follow-up independence."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qabot.question import analyze, depends_on_history, find_spans

from .small_corpus import engine_over

# ---- question analysis (rules, fast) ---------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "answer_type", "focus"),
    [
        ("How much did the Burj Khalifa cost?", "money", "cost"),
        ("when was voltaire born", "date", "born"),
        ("What year did Busan host the Asian Games?", "year", "year"),
        ("how heavy is an aardvark", "size", "heavy"),
        ("How deep is the Yellow Sea?", "distance", "deep"),
        ("What is the population of Cusco?", "count", "population"),
        ("How many children did David Livingstone have?", "count", "children"),
        ("What percentage of the vote did she win?", "percentage", "percentage"),
        ("In which city is the Louvre?", "city", "city"),
        ("Which country did the missiles hit?", "country", "country"),
        ("Where was Claude Debussy born?", "place", "born"),
        ("Who took the photo of the Marines?", "person", None),
        ("Which company makes the iPhone?", "organisation", "company"),
        ("What position does Javad Zarif hold?", "description", "role"),
        ("Who is Zarif?", "description", "role"),
        ("Is the US seeking regime change in Iran?", "yesno", None),
        ("What time did the first missile hit?", "time", "time"),
        ("How long did the siege last?", "duration", "long"),
        ("What does the IRGC stand for?", "description", None),
    ],
)
def test_answer_type_and_focus(question: str, answer_type: str, focus: str | None) -> None:
    analysis = analyze(question)
    assert (analysis.answer_type, analysis.focus) == (answer_type, focus)


def test_subjects_are_the_named_entities() -> None:
    assert analyze("When did Marie Curie receive the Nobel Prize?").subjects == ("Marie Curie", "Nobel Prize")
    assert analyze("what year did d h lawrence die").subjects == ()


@pytest.mark.parametrize(
    ("question", "sentence", "span"),
    [
        ("How much did the tower cost?", "The tower cost US$1.5 billion to build.", "US$1.5 billion"),
        ("How many missiles were launched?", "Officials said 15 ballistic missiles had been launched.", "15"),
        ("What year was the bank founded?", "The bank was founded in 1397 in Florence.", "in 1397"),
        (
            "Where was Debussy born?",
            "Debussy was a French composer, born in Saint-Germain-en-Laye.",
            "Saint-Germain-en-Laye",
        ),
        ("How deep is the lake?", "The lake is 1,642 metres deep at its deepest point.", "1,642 metres"),
        ("Who is Zarif?", "But Iran’s foreign minister Javad Zarif said so.", "minister"),
        ("when was mohenjo daro built", "Built c. 2500 BCE, it was one of the largest settlements.", "c. 2500 BCE"),
        ("What was Nijinsky's profession?", "Nijinsky was a Russian ballet dancer.", "Russian ballet dancer"),
    ],
)
def test_spans_of_the_expected_type(question: str, sentence: str, span: str) -> None:
    found = [sentence[f.start : f.end] for f in find_spans(analyze(question), sentence)]
    assert any(span in f for f in found), found


@pytest.mark.parametrize(
    ("question", "sentence"),
    [
        ("How much did the tower cost?", "The tower has 57 elevators and 163 floors."),  # a count, not a price
        ("In which city was she born?", "She was born in France."),  # a country, not a city
        ("When was Voltaire born?", "Voltaire was a French writer and philosopher."),  # no date at all
        ("How many missiles were launched?", "How many missiles were launched?"),  # only the question's own words
    ],
)
def test_no_span_when_the_sentence_does_not_hold_the_answer(question: str, sentence: str) -> None:
    assert find_spans(analyze(question), sentence) == []


@pytest.mark.parametrize(
    ("question", "depends"),
    [
        ("and how many failed?", True),
        ("When did he die?", True),
        ("what about Irbil?", True),
        ("the second one?", True),
        ("Who is Zarif?", False),
        ("How many missiles did Iran launch?", False),
        ("When did Marie Curie say she would retire?", False),
        ("What's the headline of this article?", False),
    ],
)
def test_which_questions_depend_on_history(question: str, depends: bool) -> None:
    assert depends_on_history(question) is depends


# ---- the real engine on the seed article -------------------------------------------------------


@pytest.mark.slow
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.sampled_from(["How many", "Who", "When", "Where", "What", "Which", "How much"]),
    st.lists(
        st.sampled_from(
            [
                "missiles",
                "launched",
                "failed",
                "base",
                "Iraq",
                "Irbil",
                "Zarif",
                "Trump",
                "Pentagon",
                "ABC",
                "photo",
                "Marines",
                "Osprey",
                "minister",
                "casualties",
                "Soleimani",
                "negotiator",
                "tweet",
                "Wednesday",
                "hit",
                "Kurdistan",
                "statement",
                "IRGC",
                "war",
            ]
        ),
        min_size=1,
        max_size=4,
    ),
)
def test_short_answer_offsets_quote_the_source(seed_engine, seed_dirs, start: str, words: list[str]) -> None:  # type: ignore[no-untyped-def]
    answer = seed_engine.ask(f"{start} {' '.join(words)}?")
    short = answer.short_answer
    if answer.abstained:
        assert short is None
        return
    if short is None:
        return
    text = (seed_dirs[0] / short.source).read_text(encoding="utf-8")
    assert text[short.start : short.end] == short.text
    assert any(c.source == short.source and c.start <= short.start and short.end <= c.end for c in answer.citations)
    assert answer.short_answer_span() is not None


@pytest.mark.slow
def test_short_answer_in_json(seed_engine) -> None:  # type: ignore[no-untyped-def]
    data = seed_engine.ask("How many ballistic missiles were launched?").to_json()
    assert data["short_answer"]["text"] == "15 ballistic missiles"  # the count with the noun asked for
    assert data["abstained"] is False


@pytest.mark.slow
@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("Who took the photo of the Marines at the air base?", "Jered T. Stone"),  # a caption credit
        ("What position does Javad Zarif hold?", "foreign minister"),  # a role question
        ("how many missles failed mid flight", "four"),
    ],
)
def test_caption_and_role_questions_are_answered(seed_engine, question: str, expected: str) -> None:  # type: ignore[no-untyped-def]
    answer = seed_engine.ask(question)
    assert answer.short_answer is not None, answer.signals
    assert expected in answer.short_answer.text


@pytest.mark.slow
def test_a_cost_question_answered_only_by_a_count_is_refused(seed_engine) -> None:  # type: ignore[no-untyped-def]
    assert seed_engine.ask("How much did the ballistic missiles cost?").abstained
    assert not seed_engine.ask("How many ballistic missiles were launched?").abstained


@pytest.mark.slow
def test_self_contained_question_ignores_unrelated_history(seed_engine) -> None:  # type: ignore[no-untyped-def]
    alone = seed_engine.ask("Who is Zarif?")
    after = seed_engine.ask("Who is Zarif?", history=["How many missiles were launched?", "And how many failed?"])
    assert after.to_json() == alone.to_json()
    assert "failed" not in (after.text or "")


@pytest.mark.slow
def test_dependent_question_uses_history(seed_engine) -> None:  # type: ignore[no-untyped-def]
    answer = seed_engine.ask("and how many failed?", history=["How many missiles did Iran launch?"])
    assert answer.short_answer is not None and answer.short_answer.text == "four"


# ---- wrong entity: a small corpus of several articles -------------------------------------------

PIERRE = (
    "Pierre Curie\n\nPierre Curie was a French physicist, a pioneer in crystallography and magnetism. "
    "In 1903, he received the Nobel Prize in Physics with Henri Becquerel.\n"
)
MARIE = "Marie Skłodowska\n\nMarie Skłodowska was a Polish chemist who studied radioactivity in Paris.\n"
TOWER = (
    "Burj Khalifa\n\nThe Burj Khalifa is a skyscraper in Dubai. It has 57 elevators and 163 floors. "
    "The tower was opened in 2010.\n"
)


@pytest.fixture(scope="module")
def small_engine(tmp_path_factory: pytest.TempPathFactory, embedder) -> Iterator[object]:  # type: ignore[no-untyped-def]
    documents = {"Pierre_Curie.txt": PIERRE, "Marie.txt": MARIE, "Burj_Khalifa.txt": TOWER}
    yield engine_over(tmp_path_factory.mktemp("honesty"), embedder, documents)


@pytest.mark.slow
def test_wrong_person_is_refused(small_engine) -> None:  # type: ignore[no-untyped-def]
    assert "1903" in small_engine.ask("When did Pierre Curie receive the Nobel Prize?").short_answer.text
    assert small_engine.ask("When did Marie Skłodowska receive the Nobel Prize?").abstained


@pytest.mark.slow
def test_count_is_not_a_cost(small_engine) -> None:  # type: ignore[no-untyped-def]
    assert small_engine.ask("How much did the Burj Khalifa cost?").abstained
    answer = small_engine.ask("How many elevators does the Burj Khalifa have?")
    assert answer.short_answer is not None and answer.short_answer.text == "57 elevators"


# ---- showing the short answer -------------------------------------------------------------------


def _answer_with_short() -> object:
    from qabot.records import Answer, Citation, ShortAnswer

    sentence = "Officials said 15 ballistic missiles [had] been launched."
    cite = Citation("a.txt", 100, 100 + len(sentence), sentence, 1.0)
    return Answer("How many?", f"{sentence} [1]", (cite,), 0.9, {}, ShortAnswer("15", "a.txt", 115, 117))


def test_terminal_shows_the_short_answer_in_bold() -> None:
    from qabot.cli.render import highlighted

    assert (
        highlighted(_answer_with_short())
        == r"Officials said [bold]15[/bold] ballistic missiles \[had] been launched. [1]"
    )


def test_discord_shows_the_short_answer_in_bold() -> None:
    from qabot.bot.format import answer_replies

    description = answer_replies(_answer_with_short())[0].embeds[0].description
    assert "**15**" in description


def test_short_answer_in_the_json_line() -> None:
    data = _answer_with_short().to_json()  # type: ignore[attr-defined]
    assert data["short_answer"] == {"text": "15", "source": "a.txt", "start": 115, "end": 117}


# ---- support check: fewer false refusals (docs/quality.md #54) ----------------------------------


@pytest.mark.parametrize(
    ("question", "sentence", "title", "found"),
    [
        # words pointing at the document ("headline", "picture") never stand for the subject
        ("according to the headline, iran fired how many missiles", "Iran fired missiles.", "", True),
        # a name inside the asked-for phrase ("Which TV network") is not the subject; "Pentagon" is
        ("Which TV network did a Pentagon official speak to?", "A Pentagon official told ABC News.", "", True),
        # accents folded, a swap of two letters is one typo
        ("How far is Catalhoyuk from Mount Hasan?", "Çatalhöyük lies near Hasan.", "Çatalhöyük", True),
        ("How many users does Andriod have?", "Android has 3.9 billion users.", "Android", True),
        # still refused: another name
        ("How many users does Windows have?", "Android has 3.9 billion users.", "Android", False),
    ],
)
def test_subject_check(question: str, sentence: str, title: str, found: bool) -> None:
    from qabot.question import subject_found

    idf = {"headlin": 5.0, "iran": 2.0, "missil": 1.0, "fire": 1.0}
    assert subject_found(analyze(question), sentence, title, "", idf) is found
