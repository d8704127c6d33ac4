"""The learned support check: its shipped weights, its features, and its decisions on real text."""

from __future__ import annotations

import json
import os
import runpy
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from qabot.answer import Candidate
from qabot.lexical import tokenize
from qabot.question import analyze
from qabot.support_model import FEATURES, SupportContext, feature_matrix, probabilities

ROOT = Path(__file__).resolve().parents[1]


def _first_sentence(answer: Any) -> str:
    """The answer's first sentence (before its first citation mark)."""
    return (answer.text or "").split("[1]")[0]


def test_shipped_weights_load_and_fit_the_features() -> None:
    from qabot.support_weights import MODEL

    names = MODEL["features"]
    assert set(names) <= set(FEATURES)
    assert len(MODEL["coef"]) == len(MODEL["mean"]) == len(MODEL["scale"]) == len(names)
    assert 0.0 < MODEL["threshold"] < 1.0
    assert all(s > 0 for s in MODEL["scale"])


def test_the_shipped_model_is_listwise_and_its_threshold_is_the_default() -> None:
    from qabot import Settings
    from qabot.support_weights import MODEL

    assert MODEL["kind"] == "listwise"
    default = Settings(_env_file=None).abstain_threshold  # type: ignore[call-arg]
    assert default == pytest.approx(MODEL["threshold"])  # the threshold chosen with the fit (fit_support.py)


def test_candidates_compete_for_the_answer() -> None:
    """Listwise: a second copy of the best sentence shares its probability; with "none of them"
    the probabilities of one question's candidates sum to less than 1."""
    cands, ctx = _cands()
    question = analyze("How many elevators does the Burj Khalifa have?")
    rows = feature_matrix(question, cands, ctx)
    alone = probabilities(rows[:1])
    twice = probabilities(np.vstack([rows[:1], rows[:1]]))
    assert twice[0] == pytest.approx(twice[1])
    assert twice[0] < alone[0]
    assert 0.0 < probabilities(rows).sum() < 1.0


def test_focus_loose_knows_forms_the_stemmer_does_not_join() -> None:
    from qabot.question import focus_found
    from qabot.support_model import _focus_loose

    question = analyze("Who wrote the screenplay of Lawrence of Arabia?")
    sentence = "The screenplay was written by Robert Bolt and Michael Wilson."
    assert not focus_found(question, sentence)  # the rule check wants "wrote" itself
    assert _focus_loose(question, set(tokenize(sentence))) == 1.0
    father = analyze("Who was Jeongjo's father?")
    assert _focus_loose(father, set(tokenize("He was the second son of Crown Prince Sado."))) == 1.0
    assert _focus_loose(father, set(tokenize("He ascended to the throne in 1776."))) == 0.0


def test_rare_cover_wants_the_rarest_words_not_only_the_common_ones() -> None:
    from qabot.support_model import _rare_cover

    question = analyze("how long is the karnaphuli river")
    idf = {"karnaphuli": 9.0, "river": 3.0, "long": 1.5}  # a word the corpus lacks weighs as the rarest
    lena = set(tokenize("The Lena River is 4,294 km long."))
    assert _rare_cover(question, lena, idf) == 0.5
    assert _rare_cover(question, set(tokenize("The Karnaphuli River is 667 km long.")), idf) == 1.0


def _cands() -> tuple[list[Candidate], SupportContext]:
    tower = "The Burj Khalifa is a skyscraper in Dubai. It has 57 elevators and 163 floors."
    cands = [
        Candidate("Burj_Khalifa.txt", 43, 79, "It has 57 elevators and 163 floors.", 0, 0.62, 0.5, 1.0, 0.9,
                  None, "Burj Khalifa", tower[:43]),
        Candidate("Burj_Khalifa.txt", 0, 42, "The Burj Khalifa is a skyscraper in Dubai.", 0, 0.55, 0.4, 0.0, 0.7,
                  None, "Burj Khalifa", ""),
    ]  # fmt: skip
    idf = {"burj": 6.0, "khalifa": 6.0, "elev": 4.0, "cost": 2.0}
    ctx = SupportContext(idf, 0.6, 0.62, 0.9, (tower,), 0.0, None)
    return cands, ctx


def test_features_are_deterministic() -> None:
    cands, ctx = _cands()
    question = analyze("How many elevators does the Burj Khalifa have?")
    first = feature_matrix(question, cands, ctx)
    assert first.shape == (2, len(FEATURES))
    assert np.array_equal(first, feature_matrix(question, cands, ctx))


def test_features_do_not_depend_on_the_hash_seed() -> None:
    code = (
        "import json, sys; sys.path.insert(0, 'tests'); from test_support_model import _cands; "
        "from qabot.question import analyze; from qabot.support_model import feature_matrix; "
        "c, x = _cands(); q = analyze('How much did the Burj Khalifa cost?'); "
        "print(json.dumps(feature_matrix(q, c, x).tolist()))"
    )
    outputs = set()
    for seed in ("0", "1", "2", "3"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(ROOT)}
        command = [sys.executable, "-c", code]
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=True)
        outputs.add(done.stdout)
    assert len(outputs) == 1


def test_the_sentence_holding_the_asked_count_scores_higher_than_the_cost_question() -> None:
    cands, ctx = _cands()
    count = probabilities(feature_matrix(analyze("How many elevators does the Burj Khalifa have?"), cands, ctx))
    cost = probabilities(feature_matrix(analyze("How much did the Burj Khalifa cost?"), cands, ctx))
    assert count[0] > cost[0]
    assert json.dumps(count.tolist())  # plain floats


# ---- on the real model ------------------------------------------------------------------------

BREAD = (
    "Bread\n\nBread is a baked food product made from water, flour, and often yeast. "
    "It is a staple food across the world.\n"
)
DANCER = (
    "Vaslav Nijinsky\n\nVaslav Nijinsky was a Russian ballet dancer and choreographer of Polish ancestry. "
    "He was cited as the greatest male dancer of the early 20th century.\n"
)


@pytest.fixture(scope="module")
def food_engine(tmp_path_factory: pytest.TempPathFactory, embedder) -> Iterator[object]:  # type: ignore[no-untyped-def]
    from .small_corpus import engine_over  # inside: a hash-seed test imports this module by path

    documents = {"Bread.txt": BREAD, "Vaslav_Nijinsky.txt": DANCER}
    yield engine_over(tmp_path_factory.mktemp("support"), embedder, documents)


@pytest.mark.slow
def test_a_request_about_the_asker_is_refused(food_engine) -> None:  # type: ignore[no-untyped-def]
    assert food_engine.ask("how do i bake sourdough bread at home").abstained
    answer = food_engine.ask("What is bread made from?")
    assert not answer.abstained and "flour" in (answer.text or "")


HAGIA_SOPHIA = (  # the Wikipedia summaries of the training sets' documents, verbatim
    "Hagia Sophia\n\nHagia Sophia, officially the Hagia Sophia Grand Mosque, is a mosque and a major cultural and "
    "historical site in, Constantinople Turkey. It was formerly a church (360\u20131453) and a museum "
    "(1935\u20132020). The last of three church buildings to be successively erected on the site by the Eastern "
    "Roman Empire, it was completed in AD 537, becoming the world's largest interior space and among the first to "
    "employ a fully pendentive dome. It is considered the epitome of Byzantine architecture and is said to have "
    "\"changed the history of architecture\". From its dedication in 360 until 1453, Hagia Sophia served as the "
    "cathedral of Constantinople in the Byzantine liturgical tradition, except for the period 1204\u20131261 when "
    "the Latin Crusaders installed their own hierarchy. After the fall of Constantinople in 1453, it served as a "
    "mosque, having its minarets added soon after. The site became a museum in 1935, and was redesignated as a "
    "mosque in 2020.\n"
)
URARTU = (
    "Urartu\n\nUrartu was an Iron Age kingdom centered on the Armenian highlands between Lake Van, Lake Urmia, and "
    "Lake Sevan. The territory of the ancient kingdom of Urartu extended over the modern frontiers of Turkey, Iran, "
    "Iraq, and Armenia. Its kings left behind cuneiform inscriptions in the Urartian language, a member of the "
    "Hurro-Urartian language family.\n"
)
HEIAN = (
    "Heian period\n\nThe Heian period is the last division of classical Japanese history, running from 794 to 1185. "
    "It followed the Nara period, beginning when the 50th emperor, Emperor Kammu, moved the capital of Japan to "
    "Heian-ky\u014d. Heian (\u5e73\u5b89) means 'peace' in Japanese. It is a period in Japanese history when the "
    "Chinese influences were in decline and the national culture matured. The Heian period is also considered the "
    "peak of the Japanese imperial court, noted for its art, especially poetry and literature. Two syllabaries "
    "unique to Japan, katakana and hiragana, emerged during this time. This gave rise to Japan's famous vernacular "
    "literature, with many of its texts written by court ladies who were not as educated in Chinese as their male "
    "counterparts.\n"
)


@pytest.fixture(scope="module")
def history_engine(tmp_path_factory: pytest.TempPathFactory, embedder) -> Iterator[object]:  # type: ignore[no-untyped-def]
    from .small_corpus import engine_over

    documents = {"Hagia_Sophia.txt": HAGIA_SOPHIA, "Urartu.txt": URARTU, "Heian_period.txt": HEIAN}
    yield engine_over(tmp_path_factory.mktemp("support-history"), embedder, documents)


@pytest.mark.slow
def test_the_sentence_stating_the_asked_event_wins_over_the_first_that_passes_the_rules(history_engine) -> None:  # type: ignore[no-untyped-def]
    """The pointwise check (#55) answered with the first sentence passing every rule ("From its
    dedication in 360 ..."); the listwise one lets the sentence saying "completed" win (#63)."""
    answer = history_engine.ask("When was the Hagia Sophia completed?")
    assert not answer.abstained, answer.signals
    assert "537" in _first_sentence(answer)
    urartu = history_engine.ask("Where was Urartu centred?")
    assert "Armenian highlands" in _first_sentence(urartu)
    heian = history_engine.ask("Which Japanese syllabaries emerged during the Heian period?")
    assert "hiragana" in _first_sentence(heian)


@pytest.mark.slow
def test_a_profession_question_is_answered_without_a_role_word(food_engine) -> None:  # type: ignore[no-untyped-def]
    answer = food_engine.ask("what was nijinsky's profession")
    assert not answer.abstained, answer.signals
    assert answer.short_answer is not None and "dancer" in answer.short_answer.text


# ---- round 2 (docs/quality.md #65): the asked words beyond the title, a regnal numeral ----------


def test_rest_cover_wants_the_asked_words_the_title_lacks() -> None:
    """A lower-case question names no subject the rule checks see; the title stands in for it, and
    what is left ("commissioned") is what is asked."""
    from qabot.support_model import _rest_cover

    question = analyze("who commissioned the taj mahal")
    title = set(tokenize("Taj Mahal"))
    definition = "The Taj Mahal is an ivory-white marble mausoleum on the right bank of the river Yamuna."
    commissioned = "It was commissioned in 1631 by the fifth Mughal emperor, Shah Jahan."
    assert _rest_cover(question, title, set(tokenize(definition))) == 0.0
    assert _rest_cover(question, title, set(tokenize(commissioned))) == 1.0
    assert _rest_cover(analyze("taj mahal"), title, set(tokenize(definition))) == 1.0  # nothing beyond the title


def test_a_regnal_numeral_must_be_in_the_sentence_or_its_title() -> None:
    from qabot.support_model import _numeral_missing, question_numerals

    assert question_numerals("who was leopold II's wife") == {"ii"}
    assert question_numerals("who was louis xiv's wife") == {"xiv"}
    assert question_numerals("who was the father of emperor leopold i") == {"i"}
    assert question_numerals("When did Ferdinand IV, King of the Romans, die?") == {"iv"}
    assert question_numerals("Should I take ibuprofen or paracetamol?") == frozenset()  # a pronoun, no numeral
    assert question_numerals("how do i reset my router") == frozenset()
    numerals = question_numerals("who was leopold II's wife")
    sentence = "The second son of Ferdinand III, by his first wife, Maria Anna of Spain, Leopold became heir."
    assert _numeral_missing(numerals, "Leopold I, Holy Roman Emperor", sentence) == 1.0
    assert _numeral_missing(numerals, "Leopold II of Belgium", "Leopold II was the second king.") == 0.0
    assert _numeral_missing(frozenset(), "Leopold I", sentence) == 0.0


def test_advice_and_shopping_questions_are_requests() -> None:
    from qabot.support_model import REQUEST

    for question in (
        "what painkiller should I take for a headache",
        "How many steps a day should I walk to lose weight?",
        "which laptop has the best anti-glare screen",
        "best way to train for a marathon in 12 weeks",
        "cheapest flights to costa rica in march",
        "Which smartphone has the best camera this year?",
    ):
        assert REQUEST.search(question), question
    for question in (
        "what is lovecraft best known for creating",
        "Which dynasty built the best-known sections of the Great Wall of China?",
        "Where is the Ali Akbar College of Music based today?",
        "who was louis xiv's wife",
    ):
        assert not REQUEST.search(question), question


def test_the_feature_dump_refuses_the_fresh_held_out_set(tmp_path: Path) -> None:
    """honesty-heldout, -heldout2 and -heldout3 have judged their rounds and are training data; any
    other honesty-heldout*.jsonl is refused before anything is read (the file need not exist)."""
    script = ROOT / "scripts" / "support_features.py"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    fresh = tmp_path / "honesty-heldout4.jsonl"
    done = subprocess.run(
        [sys.executable, str(script), "--seeds", str(tmp_path), "--index", str(tmp_path), str(fresh)],
        cwd=ROOT, env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode != 0 and "held-out" in done.stderr
    assert not fresh.exists()
    development = runpy.run_path(str(script))["DEVELOPMENT"]  # the module's names, main() not run
    assert {"honesty-heldout.jsonl", "honesty-heldout2.jsonl", "honesty-heldout3.jsonl"} <= development
    assert "honesty-heldout4.jsonl" not in development


TAJ_MAHAL = (  # the Wikipedia summaries of the training sets' documents, verbatim
    "Taj Mahal\n\nThe Taj Mahal is an ivory-white marble mausoleum on the right bank of the river Yamuna in Agra, "
    "Uttar Pradesh, India. It was commissioned in 1631 by the fifth Mughal emperor, Shah Jahan, to house the tomb "
    "of his late wife, Mumtaz Mahal; it also houses the tomb of Shah Jahan himself. The tomb is the centrepiece of a "
    "17-hectare (42-acre) complex, which includes a mosque and a guest house, and is set in formal gardens bounded "
    "on three sides by a crenellated wall.\n"
)
QIN_SHI_HUANG = (
    "Qin Shi Huang\n\nQin Shi Huang was the founder of the Qin dynasty and the first emperor of China. He invented "
    "the title hu\u00e1ngd\u00ec rather than reuse the existing title for \"king\" ; the new title was used by "
    "monarchs in China and other countries for the next two millennia.\n"
)
LEOPOLD_I = (
    "Leopold I, Holy Roman Emperor\n\nLeopold I was Holy Roman Emperor, King of Germany, King of Hungary, Croatia "
    "and Bohemia. The second son of Ferdinand III, Holy Roman Emperor, by his first wife, Maria Anna of Spain, "
    "Leopold became heir apparent in 1654 after the death of his elder brother Ferdinand IV, King of the Romans. "
    "Elected in 1658, Leopold ruled the Holy Roman Empire until his death in 1705, becoming the second-longest-ruling "
    "emperor of the House of Habsburg. He was both a composer and a considerable patron of music.\n"
)


@pytest.fixture(scope="module")
def round2_engine(tmp_path_factory: pytest.TempPathFactory, embedder) -> Iterator[object]:  # type: ignore[no-untyped-def]
    from .small_corpus import engine_over

    documents = {
        "Taj_Mahal.txt": TAJ_MAHAL, "Qin_Shi_Huang.txt": QIN_SHI_HUANG,
        "Leopold_I_Holy_Roman_Emperor.txt": LEOPOLD_I,
    }  # fmt: skip
    yield engine_over(tmp_path_factory.mktemp("support-round2"), embedder, documents)


@pytest.mark.slow
def test_the_sentence_holding_the_asked_words_wins_over_the_definition(round2_engine) -> None:  # type: ignore[no-untyped-def]
    """#63's model answered "who was the father of emperor leopold i" with the article's first sentence
    ("Leopold I was Holy Roman Emperor, ..."); the words the title lacks ("father", held as "son")
    pick the sentence that states it (#65)."""
    father = round2_engine.ask("who was the father of emperor leopold i")
    assert not father.abstained, father.signals
    assert "Ferdinand III" in _first_sentence(father)
    taj = round2_engine.ask("who commissioned the taj mahal")
    assert "Shah Jahan" in _first_sentence(taj)
    qin = round2_engine.ask("what royal title did qin shi huang invent")
    assert "invented the title" in _first_sentence(qin)


@pytest.mark.slow
def test_a_namesake_with_another_numeral_does_not_answer(round2_engine) -> None:  # type: ignore[no-untyped-def]
    """Only Leopold I is in these documents: #63's model answered Leopold II's wife and death with
    Leopold I's sentence about "his first wife" and "the death of his elder brother" (#65)."""
    wife = round2_engine.ask("who was leopold II's wife")
    assert wife.abstained, wife.text
    died = round2_engine.ask("when did leopold ii die")
    assert died.abstained, died.text
