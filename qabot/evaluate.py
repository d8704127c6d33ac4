"""Measure answer quality on a labelled dataset: the engine behind `qabot eval`.

    items = load_dataset(Path("eval/seed.jsonl"))
    report = run_eval(engine, items, k=5, progress=lambda done, total: ...)
    print(render_text(report))          # or json.dumps(report.to_json())

Dataset lines are `{"question": str, "answers": [str, ...], "evidence": str | null}`
(eval/README.md). `answers == []` marks a question the corpus does not answer. Optional keys:
`"kind": "on-topic" | "off-topic"` (what an unanswerable question is), and for follow-ups
`"history": [str, ...]` (earlier questions) with `"depends": true | false` (whether the
question needs them).

Metrics
  recall@1/@3/@k, MRR@10  over answerable questions with evidence: the rank of the first
                          citation that matches the evidence (a citation matches when the
                          evidence is its file name, or when an occurrence of the evidence
                          text in the cited document overlaps its [start, end))
  answer accuracy         answerable questions whose answer holds a gold string (case-,
                          punctuation- and whitespace-insensitive, on word boundaries);
                          an abstention is wrong
  exact-offset rate       citations whose text == the source file's text[start:end]
  abstention precision    abstentions that were on unanswerable questions
  abstention recall       unanswerable questions that were abstained
  false-abstention rate   answerable questions that were abstained
  on-/off-topic recall    abstention recall over the unanswerable lines marked with that kind
  short-answer accuracy   answerable questions whose short answer holds a gold string
  wrong-entity answers    an on-topic unanswerable question answered, or an answerable one
                          answered wrongly from a document other than its evidence
  follow-up accuracy      lines with "depends": right answer (or right abstention), per
                          dependent / independent
  latency p50/p95         wall time of engine.ask, in milliseconds

Documents are read from `engine.settings.seeds_dir` (the files themselves, not the index),
so the offsets are checked against the ground truth.
"""

from __future__ import annotations

import json
import re
import time
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

from .errors import DatasetError, QuestionError
from .records import Answer, Citation, Document

TOP_RANKS = 10  # MRR@10
KINDS = ("on-topic", "off-topic")
_MARKER = re.compile(r"\[\d+\]")  # the [n] citation markers inside answer text


class Engine(Protocol):
    """What run_eval needs from an engine (QAEngine, or a fake in tests)."""

    @property
    def settings(self) -> Any: ...

    def ask(self, question: str, k: int | None = None, history: Sequence[str] = ()) -> Answer: ...


# ---- dataset ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EvalItem:
    """One labelled question. `line` is its 1-based line number in the dataset file."""

    question: str
    answers: tuple[str, ...]
    evidence: str | None
    line: int = 0
    kind: str | None = None  # "on-topic" | "off-topic" for an unanswerable question
    history: tuple[str, ...] = ()  # earlier questions of a conversation
    depends: bool | None = None  # whether the question needs its history

    @property
    def answerable(self) -> bool:
        return bool(self.answers)


def load_dataset(path: Path) -> list[EvalItem]:
    """Read a JSON Lines dataset. Blank lines and lines starting with '#' are skipped."""
    path = Path(path)
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        raise DatasetError(f"Dataset {path} does not exist: give the path of a .jsonl file.") from None
    except IsADirectoryError:
        raise DatasetError(f"Dataset {path} is a folder: give the path of a .jsonl file.") from None
    except UnicodeDecodeError as exc:
        raise DatasetError(f"Dataset {path} is not UTF-8 (bad byte at offset {exc.start}).") from None
    except OSError as exc:
        raise DatasetError(f"Dataset {path} cannot be read ({exc.strerror or exc}).") from None
    items = [_parse_line(path, number, line) for number, line in enumerate(lines, start=1) if _is_data(line)]
    if not items:
        raise DatasetError(f"Dataset {path} holds no questions: write one JSON object per line.")
    return items


def _is_data(line: str) -> bool:
    stripped = line.strip()
    return bool(stripped) and not stripped.startswith("#")


def _parse_line(path: Path, number: int, line: str) -> EvalItem:
    where = f"{path}, line {number}"
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise DatasetError(f"{where}: not valid JSON ({exc.msg} at column {exc.colno}).") from None
    if not isinstance(obj, dict):
        raise DatasetError(f"{where}: expected a JSON object, got {type(obj).__name__}.")
    missing = [key for key in ("question", "answers", "evidence") if key not in obj]
    if missing:
        raise DatasetError(f"{where}: missing {', '.join(repr(k) for k in missing)}.")
    question, answers, evidence = obj["question"], obj["answers"], obj["evidence"]
    if not isinstance(question, str) or not question.strip():
        raise DatasetError(f"{where}: 'question' must be a non-empty string.")
    if not isinstance(answers, list) or not all(isinstance(a, str) for a in answers):
        raise DatasetError(f"{where}: 'answers' must be a list of strings ([] for an unanswerable question).")
    for answer in answers:
        if not normalize(answer):
            raise DatasetError(f"{where}: answer {answer!r} has no letters or digits to match.")
    if evidence is not None and (not isinstance(evidence, str) or not evidence.strip()):
        raise DatasetError(f"{where}: 'evidence' must be a non-empty string or null.")
    if not answers and evidence is not None:
        raise DatasetError(f"{where}: 'evidence' must be null when 'answers' is [] (an unanswerable question).")
    kind = obj.get("kind")
    if kind is not None and kind not in KINDS:
        raise DatasetError(f"{where}: 'kind' must be one of {', '.join(map(repr, KINDS))} or absent.")
    history = obj.get("history", [])
    if not isinstance(history, list) or not all(isinstance(h, str) for h in history):
        raise DatasetError(f"{where}: 'history' must be a list of strings (the earlier questions).")
    depends = obj.get("depends")
    if depends is not None and not isinstance(depends, bool):
        raise DatasetError(f"{where}: 'depends' must be true, false or absent.")
    return EvalItem(question, tuple(answers), evidence, number, kind, tuple(history), depends)


# ---- matching -----------------------------------------------------------------------------


def normalize(text: str) -> str:
    """Lower case, punctuation to spaces, whitespace collapsed: 'U.S. “troops”' -> 'u s troops'."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return " ".join("".join(ch if ch.isalnum() else " " for ch in text).split())


def answer_contains(answer: str | None, gold: Sequence[str]) -> bool:
    """True when any gold string occurs in the answer on word boundaries ([n] markers ignored)."""
    if answer is None:
        return False
    haystack = f" {normalize(_MARKER.sub(' ', answer))} "
    return any(f" {needle} " in haystack for needle in (normalize(g) for g in gold) if needle)


class DocumentCache:
    """Source texts read from the seeds folder, as the index's offsets refer to them."""

    def __init__(self, seeds_dir: Path) -> None:
        self.seeds_dir = Path(seeds_dir)
        self._texts: dict[str, str | None] = {}

    def text(self, source: str) -> str | None:
        if source not in self._texts:
            self._texts[source] = self._read(source)
        return self._texts[source]

    def _read(self, source: str) -> str | None:
        path = self.seeds_dir / source
        if path.suffix.lower() in {".pdf", ".docx"}:
            from .loader import SourceFile, read_document  # their offsets index the extracted text

            doc = read_document(SourceFile(source, path, 0, 0))
            return doc.text if isinstance(doc, Document) else None
        try:
            with open(path, encoding="utf-8", newline="") as f:
                text = f.read()
        except (OSError, UnicodeDecodeError):
            return None
        if path.suffix.lower() in {".html", ".htm"}:
            from .loader import html_to_text  # offsets of HTML documents index their visible text

            return html_to_text(text)
        return text


def citation_matches(evidence: str, citation: Citation, docs: DocumentCache) -> bool:
    """The citation names the evidence file, or overlaps an occurrence of the evidence text."""
    source = citation.source
    if evidence in (source, PurePosixPath(source).name):
        return True
    text = docs.text(source)
    if text is None or not evidence:
        return False
    at = text.find(evidence)
    while at != -1:
        if at < citation.end and citation.start < at + len(evidence):
            return True
        at = text.find(evidence, at + 1)
    return False


def exact_offset(citation: Citation, docs: DocumentCache) -> bool:
    text = docs.text(citation.source)
    return (
        text is not None
        and 0 <= citation.start <= citation.end <= len(text)
        and (text[citation.start : citation.end] == citation.text)
    )


def percentile(values: Sequence[float], pct: float) -> float | None:
    """Linear-interpolated percentile (the numpy default); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * pct / 100.0
    lo = int(rank)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (rank - lo)


# ---- running ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ItemResult:
    """What the engine did with one question, and how it was judged."""

    item: EvalItem
    answer: str | None
    abstained: bool
    citations: tuple[Citation, ...]
    exact: tuple[bool, ...]  # per citation: text == source[start:end]
    rank: int | None  # 1-based rank of the first citation matching the evidence
    correct: bool | None  # answerable: a gold string is in the answer; unanswerable: None
    latency_ms: float
    signals: dict[str, float] = field(default_factory=dict)
    confidence: float = 0.0
    error: str | None = None
    short_answer: str | None = None
    short_correct: bool | None = None  # answerable: a gold string is in the short answer

    @property
    def right(self) -> bool:
        """Answered correctly, or abstained on an unanswerable question."""
        return bool(self.correct) if self.item.answerable else self.abstained and not self.error

    @property
    def wrong_entity(self) -> bool:
        """Answered about something else: an on-topic unanswerable question answered, or an
        answerable one answered wrongly from a document other than its evidence."""
        if self.abstained or self.error:
            return False
        if not self.item.answerable:
            return self.item.kind != "off-topic"
        return not self.correct and self.item.evidence is not None and self.rank != 1

    def problems(self, k: int) -> list[str]:
        """Why this item counts as a failure (empty when it passed)."""
        out: list[str] = []
        if self.error:
            out.append(f"error: {self.error}")
        if self.item.answerable:
            if self.abstained:
                out.append("abstained on an answerable question")
            elif not self.correct:
                out.append("gold answer not in the answer")
            if self.item.evidence is not None and not self.abstained:
                if self.rank is None:
                    out.append(f"evidence not cited (top {max(k, len(self.citations))})")
                elif self.rank > 3:
                    out.append(f"evidence cited only at rank {self.rank}")
        elif not self.abstained and not self.error:
            out.append("answered an unanswerable question")
        if not all(self.exact):
            bad = [i + 1 for i, ok in enumerate(self.exact) if not ok]
            out.append(f"inexact offsets in citation(s) {', '.join(map(str, bad))}")
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "line": self.item.line,
            "question": self.item.question,
            "answers": list(self.item.answers),
            "evidence": self.item.evidence,
            "answerable": self.item.answerable,
            "answer": self.answer,
            "abstained": self.abstained,
            "correct": self.correct,
            "short_answer": self.short_answer,
            "short_correct": self.short_correct,
            "kind": self.item.kind,
            "depends": self.item.depends,
            "evidence_rank": self.rank,
            "citations": [
                {**c.to_json(), "exact": ok, "matches_evidence": self.rank == i}
                for i, (c, ok) in enumerate(zip(self.citations, self.exact, strict=True), start=1)
            ],
            "latency_ms": round(self.latency_ms, 2),
            "confidence": round(float(self.confidence), 6),
            "signals": {key: round(float(value), 6) for key, value in self.signals.items()},
            "error": self.error,
        }


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


@dataclass(frozen=True, slots=True)
class EvalReport:
    """All results of one run; metrics are computed from `results`."""

    results: tuple[ItemResult, ...]
    k: int
    dataset: str | None = None

    # -- counts
    @property
    def answerable(self) -> list[ItemResult]:
        return [r for r in self.results if r.item.answerable]

    @property
    def unanswerable(self) -> list[ItemResult]:
        return [r for r in self.results if not r.item.answerable]

    @property
    def with_evidence(self) -> list[ItemResult]:
        return [r for r in self.answerable if r.item.evidence is not None]

    def _hits_at(self, n: int) -> int:
        return sum(1 for r in self.with_evidence if r.rank is not None and r.rank <= n)

    def counts(self) -> dict[str, int]:
        citations = [ok for r in self.results for ok in r.exact]
        answerable, unanswerable = self.answerable, self.unanswerable
        return {
            "questions": len(self.results),
            "answerable": len(answerable),
            "unanswerable": len(unanswerable),
            "with_evidence": len(self.with_evidence),
            "recall@1_hits": self._hits_at(1),
            "recall@3_hits": self._hits_at(3),
            "recall@k_hits": self._hits_at(self.k),
            "answers_correct": sum(1 for r in answerable if r.correct),
            "citations": len(citations),
            "citations_exact": sum(citations),
            "abstained": sum(1 for r in self.results if r.abstained),
            "abstained_unanswerable": sum(1 for r in unanswerable if r.abstained),
            "abstained_answerable": sum(1 for r in answerable if r.abstained),
            "errors": sum(1 for r in self.results if r.error),
            "short_correct": sum(1 for r in answerable if r.short_correct),
            "on_topic": len(self._kind("on-topic")),
            "abstained_on_topic": sum(1 for r in self._kind("on-topic") if r.abstained),
            "off_topic": len(self._kind("off-topic")),
            "abstained_off_topic": sum(1 for r in self._kind("off-topic") if r.abstained),
            "wrong_entity": len(self.wrong_entity()),
            "dependent": len(self._depends(True)),
            "dependent_right": sum(1 for r in self._depends(True) if r.right),
            "independent": len(self._depends(False)),
            "independent_right": sum(1 for r in self._depends(False) if r.right),
        }

    def _kind(self, kind: str) -> list[ItemResult]:
        return [r for r in self.unanswerable if r.item.kind == kind]

    def _depends(self, depends: bool) -> list[ItemResult]:
        return [r for r in self.results if r.item.depends is depends]

    def wrong_entity(self) -> list[ItemResult]:
        return [r for r in self.results if r.wrong_entity]

    def metrics(self) -> dict[str, float | None]:
        c = self.counts()
        evid = c["with_evidence"]
        mrr = (
            sum(1.0 / r.rank for r in self.with_evidence if r.rank is not None and r.rank <= TOP_RANKS) / evid
            if evid
            else None
        )
        latencies = [r.latency_ms for r in self.results]
        return {
            "recall@1": _ratio(c["recall@1_hits"], evid),
            "recall@3": _ratio(c["recall@3_hits"], evid),
            "recall@k": _ratio(c["recall@k_hits"], evid),
            "mrr@10": mrr,
            "answer_accuracy": _ratio(c["answers_correct"], c["answerable"]),
            "exact_offset_rate": _ratio(c["citations_exact"], c["citations"]),
            "abstention_precision": _ratio(c["abstained_unanswerable"], c["abstained"]),
            "abstention_recall": _ratio(c["abstained_unanswerable"], c["unanswerable"]),
            "false_abstention_rate": _ratio(c["abstained_answerable"], c["answerable"]),
            "abstention_recall_on_topic": _ratio(c["abstained_on_topic"], c["on_topic"]),
            "abstention_recall_off_topic": _ratio(c["abstained_off_topic"], c["off_topic"]),
            "short_answer_accuracy": _ratio(c["short_correct"], c["answerable"]),
            "followup_accuracy_dependent": _ratio(c["dependent_right"], c["dependent"]),
            "followup_accuracy_independent": _ratio(c["independent_right"], c["independent"]),
            "latency_p50_ms": percentile(latencies, 50),
            "latency_p95_ms": percentile(latencies, 95),
        }

    def failures(self) -> list[tuple[ItemResult, list[str]]]:
        return [(r, why) for r in self.results if (why := r.problems(self.k))]

    def to_json(self) -> dict[str, Any]:
        def rounded(value: float | None) -> float | None:
            return None if value is None else round(value, 4)

        return {
            "dataset": self.dataset,
            "k": self.k,
            "counts": self.counts(),
            "metrics": {name: rounded(value) for name, value in self.metrics().items()},
            "failures": [
                {
                    "line": r.item.line,
                    "question": r.item.question,
                    "expected": list(r.item.answers),
                    "evidence": r.item.evidence,
                    "answer": r.answer,
                    "why": why,
                    "first_citation": r.citations[0].to_json() if r.citations else None,
                }
                for r, why in self.failures()
            ],
            "wrong_entity": [
                {"line": r.item.line, "question": r.item.question, "answer": r.answer} for r in self.wrong_entity()
            ],
            "items": [r.to_json() for r in self.results],
        }


def run_eval(
    engine: Engine,
    items: Sequence[EvalItem],
    k: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    *,
    dataset: str | None = None,
) -> EvalReport:
    """Ask every question once and judge the answers. `progress(done, total)` after each."""
    settings = engine.settings
    k_eff = k or int(settings.top_k)
    docs = DocumentCache(Path(settings.seeds_dir))
    total = len(items)
    results: list[ItemResult] = []
    if progress is not None:
        progress(0, total)
    for done, item in enumerate(items, start=1):
        results.append(_run_one(engine, item, k, docs))
        if progress is not None:
            progress(done, total)
    return EvalReport(tuple(results), k_eff, dataset)


def _run_one(engine: Engine, item: EvalItem, k: int | None, docs: DocumentCache) -> ItemResult:
    started = time.perf_counter()
    try:
        if item.history:
            answer = engine.ask(item.question, k=k, history=item.history)
        else:
            answer = engine.ask(item.question, k=k)
    except QuestionError as exc:  # a question the engine refuses counts against it
        elapsed = (time.perf_counter() - started) * 1000.0
        return ItemResult(item, None, False, (), (), None, False if item.answerable else None, elapsed, error=str(exc))
    elapsed = (time.perf_counter() - started) * 1000.0
    citations = tuple(answer.citations)
    short = getattr(answer, "short_answer", None)
    rank: int | None = None
    if item.evidence is not None:
        rank = next(
            (i for i, c in enumerate(citations, start=1) if citation_matches(item.evidence, c, docs)),
            None,
        )
    return ItemResult(
        item=item,
        answer=answer.text,
        abstained=answer.text is None,
        citations=citations,
        exact=tuple(exact_offset(c, docs) for c in citations),
        rank=rank,
        correct=answer_contains(answer.text, item.answers) if item.answerable else None,
        latency_ms=elapsed,
        signals=dict(answer.signals),
        confidence=float(answer.confidence),
        short_answer=short.text if short is not None else None,
        short_correct=answer_contains(short.text if short else None, item.answers) if item.answerable else None,
    )


# ---- rendering ----------------------------------------------------------------------------


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f} %"


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f} ms"


def _clip(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def render_text(report: EvalReport) -> str:
    """A table of the metrics, then every failed question with what qabot answered."""
    c, m = report.counts(), report.metrics()
    evid = c["with_evidence"]
    title = f"qabot eval — {report.dataset}" if report.dataset else "qabot eval"
    lines = [
        title,
        f"{c['questions']} questions: {c['answerable']} answerable ({evid} with evidence), "
        f"{c['unanswerable']} unanswerable; k = {report.k}",
        "",
        f"  {'metric':<24}{'value':>10}   count",
        f"  {'-' * 24}{'-' * 10}   {'-' * 10}",
    ]
    rows = [
        ("recall@1", _pct(m["recall@1"]), f"{c['recall@1_hits']}/{evid}"),
        ("recall@3", _pct(m["recall@3"]), f"{c['recall@3_hits']}/{evid}"),
        (f"recall@{report.k} (k)", _pct(m["recall@k"]), f"{c['recall@k_hits']}/{evid}"),
        ("MRR@10", "n/a" if m["mrr@10"] is None else f"{m['mrr@10']:.3f}", ""),
        ("answer accuracy", _pct(m["answer_accuracy"]), f"{c['answers_correct']}/{c['answerable']}"),
        ("exact-offset rate", _pct(m["exact_offset_rate"]), f"{c['citations_exact']}/{c['citations']}"),
        (
            "abstention precision",
            _pct(m["abstention_precision"]),
            f"{c['abstained_unanswerable']}/{c['abstained']}",
        ),
        ("abstention recall", _pct(m["abstention_recall"]), f"{c['abstained_unanswerable']}/{c['unanswerable']}"),
        (
            "false-abstention rate",
            _pct(m["false_abstention_rate"]),
            f"{c['abstained_answerable']}/{c['answerable']}",
        ),
        ("short-answer accuracy", _pct(m["short_answer_accuracy"]), f"{c['short_correct']}/{c['answerable']}"),
        ("latency p50", _ms(m["latency_p50_ms"]), ""),
        ("latency p95", _ms(m["latency_p95_ms"]), ""),
    ]
    if c["on_topic"] or c["off_topic"]:
        at = len(rows) - 2
        rows[at:at] = [
            ("abstention on-topic", _pct(m["abstention_recall_on_topic"]),
             f"{c['abstained_on_topic']}/{c['on_topic']}"),
            ("abstention off-topic", _pct(m["abstention_recall_off_topic"]),
             f"{c['abstained_off_topic']}/{c['off_topic']}"),
        ]  # fmt: skip
    if c["dependent"] or c["independent"]:
        at = len(rows) - 2
        rows[at:at] = [
            ("follow-ups dependent", _pct(m["followup_accuracy_dependent"]),
             f"{c['dependent_right']}/{c['dependent']}"),
            ("follow-ups independent", _pct(m["followup_accuracy_independent"]),
             f"{c['independent_right']}/{c['independent']}"),
        ]  # fmt: skip
    rows.insert(len(rows) - 2, ("wrong-entity answers", str(c["wrong_entity"]), ""))
    lines += [f"  {name:<24}{value:>10}   {count:<10}".rstrip() for name, value, count in rows]
    if c["errors"]:
        lines.append(f"  {c['errors']} question(s) raised an error")
    wrong = report.wrong_entity()
    if wrong:
        lines += ["", f"Wrong-entity answers: {len(wrong)}"]
        lines += [f"  line {r.item.line}: {r.item.question} -> {_clip(r.answer or '', 100)}" for r in wrong]
    failures = report.failures()
    lines += ["", f"Failures: {len(failures)}" if failures else "Failures: none"]
    for r, why in failures:
        item = r.item
        expected = " | ".join(item.answers) if item.answers else "(abstain)"
        lines.append("")
        lines.append(f"  line {item.line}: {item.question}")
        lines.append(f"    expected: {expected}")
        if item.evidence is not None:
            lines.append(f"    evidence: {_clip(item.evidence)}")
        if item.history:
            lines.append(f"    after: {' / '.join(item.history)}")
        lines.append(f"    answered: {'(abstained)' if r.abstained else _clip(r.answer or '')}")
        if r.citations:
            first = r.citations[0]
            lines.append(f"    cited [1]: {first.source} [{first.start}:{first.end}] {_clip(first.text, 120)!r}")
        lines.append(f"    why: {'; '.join(why)}")
    return "\n".join(lines)
