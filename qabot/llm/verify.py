"""The verifier: ask the model whether the passages an answer cites state the asked-for fact.

The model answers yes or no. Where the server gives log-probabilities, the verdict is
P(yes) / (P(yes) + P(no)) over the first token's alternatives; otherwise the reply's first
word. "no" (P(yes) below one half) turns the answer into an abstention; the verifier is only
asked about answers qabot would give, so it can only add abstentions.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from ..errors import LLMUnavailable
from ..records import Answer, Hit
from .client import ChatClient

SYSTEM = (
    "You check whether text answers a question. Reply with one word: yes if the passages state the answer "
    "to the question, no if they do not."
)
_WORD = re.compile(r"[a-z]+")


@dataclass(frozen=True, slots=True)
class Verdict:
    supported: bool
    p_yes: float
    seconds: float


def prompt(question: str, passages: list[str]) -> list[dict[str, str]]:
    numbered = "\n".join(f"[{i}] {' '.join(p.split())}" for i, p in enumerate(passages, start=1))
    user = (
        f"Passages:\n{numbered}\n\nQuestion: {question}\n\n"
        "Do the passages state the answer to this question? Answer yes or no."
    )
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


def yes_probability(first_token: dict[str, float]) -> float | None:
    """P(yes) / (P(yes) + P(no)) among the first token's alternatives; None when neither is there."""
    yes = no = 0.0
    for token, prob in first_token.items():
        word = token.strip().strip(".,!:;\"'*").lower()
        if word == "yes":
            yes += prob
        elif word == "no":
            no += prob
    if yes + no <= 0:
        return None
    return yes / (yes + no)


def text_verdict(text: str) -> float | None:
    """1.0 for a reply whose first word is yes, 0.0 for no, None otherwise."""
    words = _WORD.findall(text.lower())
    if not words:
        return None
    return {"yes": 1.0, "no": 0.0}.get(words[0])


def verify(client: ChatClient, question: str, passages: list[str]) -> Verdict:
    """Whether the passages state the answer; LLMUnavailable when the model gives no usable yes or no."""
    reply = client.chat(prompt(question, passages), max_tokens=3, logprobs=10)
    p_yes = yes_probability(reply.first_token)
    if p_yes is None:
        p_yes = text_verdict(reply.text)
    if p_yes is None:
        shown = " ".join(reply.text.split())[:40]
        raise LLMUnavailable(f"language model at {client.url} replied {shown!r}, neither yes nor no")
    return Verdict(p_yes >= 0.5, p_yes, reply.seconds)


def own_passages(answer: Answer, hits: Sequence[Hit]) -> list[str]:
    """The retrieved passages holding the answer's own sentences (the citations its text marks)."""
    marked = {int(n) for n in re.findall(r"\[(\d+)\]", answer.text or "")}
    own = [c for i, c in enumerate(answer.citations, start=1) if i in marked]
    passages: list[str] = []
    for cite in own:
        hit = next((h for h in hits if h.source == cite.source and h.start <= cite.start < h.end), None)
        text = hit.text if hit is not None else cite.text
        if text not in passages:
            passages.append(text)
    return passages


def verified_answer(client: ChatClient, answer: Answer, hits: Sequence[Hit]) -> Answer:
    """The answer, or an abstention when the model says its passages do not state the fact.

    A model that fails leaves the answer as it is, with a warning.
    """
    if answer.abstained:
        return answer
    try:
        verdict = verify(client, answer.question, own_passages(answer, hits))
    except LLMUnavailable as exc:
        return replace(answer, warnings=(*answer.warnings, f"{exc}; the answer was not verified"))
    signals = {**answer.signals, "llm_p_yes": verdict.p_yes, "llm_seconds": verdict.seconds}
    if verdict.supported:
        return replace(answer, signals=signals)
    return replace(answer, text=None, citations=(), signals=signals)
