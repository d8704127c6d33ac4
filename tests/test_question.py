"""Question analysis: answer types and foci the rules give."""

from __future__ import annotations


def test_a_budget_asked_is_money_and_a_price_does_not_state_it() -> None:
    from qabot.question import analyze, focus_found

    q = analyze("What is the club's annual budget?")
    assert (q.answer_type, q.focus) == ("money", "budget")
    assert (
        analyze("what's the total cost of the bridge").answer_type,
        analyze("What is the approximate value of pi?").answer_type,
    ) == ("money", "description")
    assert not focus_found(q, "The new boathouse cost 1.2 million dollars and opened in May 2025.")
    assert focus_found(q, "The club's annual budget is 40,000 euros.")
    assert focus_found(analyze("How much did the boathouse cost?"), "The new boathouse cost 1.2 million dollars.")


def test_a_contracted_what_is_asks_like_what_is() -> None:
    from qabot.question import analyze

    for question in ("whats the area of the sahara", "what's the area of the sahara", "what’s the area of the sahara"):
        assert (analyze(question).answer_type, analyze(question).focus) == ("size", "area")
    assert analyze("whats the population of canada").answer_type == "count"
