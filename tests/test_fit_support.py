"""scripts/fit_support.py's listwise model, on synthetic questions (needs the `tune` extra)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("sklearn")
pytest.importorskip("scipy")

from scripts.fit_support import Listwise


def _questions(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Answerable questions: the right one of 4 candidates has a high first feature; unanswerable
    questions: none has. The second feature is noise."""
    rng = np.random.default_rng(seed)
    rows, labels, owner = [], [], []
    for q in range(300):
        right = int(rng.integers(4)) if q % 3 else -1
        for i in range(4):
            rows.append([2.0 if i == right else rng.normal(-1.0, 0.5), rng.normal()])
            labels.append(int(i == right))
            owner.append(q)
    return np.array(rows), np.array(labels), np.array(owner)


def test_listwise_picks_the_right_candidate_and_gives_none_its_share() -> None:
    x, y, owner = _questions(0)
    model = Listwise(1.0).fit(x, y, owner)
    assert model.coef_[0][0] > 1.0 > abs(model.coef_[0][1])
    tx, ty, towner = _questions(1)
    p = model.probabilities(tx, towner)
    for q in np.unique(towner):
        sel = towner == q
        assert p[sel].sum() < 1.0  # "none of them" keeps the rest
        if ty[sel].any():
            assert ty[sel][int(np.argmax(p[sel]))] == 1 and p[sel].max() > 0.5
        else:
            assert p[sel].max() < 0.2


def test_listwise_matches_the_query_time_formula() -> None:
    """support_model.probabilities computes the same numbers from the exported weights."""
    x, y, owner = _questions(2)
    model = Listwise(0.5).fit(x, y, owner)
    sel = owner == 1
    s = x[sel] @ model.coef_[0] + model.intercept_[0]
    expected = np.exp(s) / (1.0 + np.exp(s).sum())
    assert np.allclose(model.probabilities(x[sel], owner[sel]), expected)
