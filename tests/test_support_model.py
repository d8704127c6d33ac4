"""The learned support check: its shipped weights, its features, and its decisions on real text."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from qabot.answer import Candidate
from qabot.question import analyze
from qabot.support_model import FEATURES, SupportContext, feature_matrix, probabilities

ROOT = Path(__file__).resolve().parents[1]


def test_shipped_weights_load_and_fit_the_features() -> None:
    from qabot.support_weights import MODEL

    names = MODEL["features"]
    assert set(names) <= set(FEATURES)
    assert len(MODEL["coef"]) == len(MODEL["mean"]) == len(MODEL["scale"]) == len(names)
    assert 0.0 < MODEL["threshold"] < 1.0
    assert all(s > 0 for s in MODEL["scale"])


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


@pytest.mark.slow
def test_a_profession_question_is_answered_without_a_role_word(food_engine) -> None:  # type: ignore[no-untyped-def]
    answer = food_engine.ask("what was nijinsky's profession")
    assert not answer.abstained, answer.signals
    assert answer.short_answer is not None and "dancer" in answer.short_answer.text
