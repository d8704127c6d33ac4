"""qabot.evaluate: dataset loading, the metric arithmetic (on a fake engine), and one real run."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import pytest

from qabot.errors import QuestionError
from qabot.evaluate import (
    DatasetError,
    DocumentCache,
    EvalItem,
    answer_contains,
    citation_matches,
    load_dataset,
    normalize,
    percentile,
    render_text,
    run_eval,
)
from qabot.records import Answer, Citation, ShortAnswer

ROOT = Path(__file__).resolve().parent.parent
SEED_SET = ROOT / "eval" / "seed.jsonl"

DOC = "Title line\n\nThe cat sat on the mat. Fifteen missiles were launched.\n\nFour failed mid-flight. The cat ran.\n"


def cite(text: str, source: str = "a.txt", occurrence: int = 0, doc: str = DOC) -> Citation:
    start = -1
    for _ in range(occurrence + 1):
        start = doc.index(text, start + 1)
    return Citation(source, start, start + len(text), text, 1.0)


@dataclass
class FakeEngine:
    """Duck-typed engine: canned answers per question, records the k it was asked with."""

    seeds_dir: Path
    answers: dict[str, Answer]
    top_k: int = 5

    def __post_init__(self) -> None:
        self.settings = SimpleNamespace(seeds_dir=self.seeds_dir, top_k=self.top_k)
        self.asked: list[tuple[str, int | None]] = []
        self.histories: list[tuple[str, ...]] = []

    def ask(self, question: str, k: int | None = None, history: Sequence[str] = ()) -> Answer:
        self.asked.append((question, k))
        self.histories.append(tuple(history))
        if question == "boom":
            raise QuestionError("The question is too long.")
        return self.answers[question]


@pytest.fixture
def seeds(tmp_path: Path) -> Path:
    (tmp_path / "a.txt").write_text(DOC, encoding="utf-8", newline="")
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "b.txt").write_text("Another document about dogs.\n", encoding="utf-8", newline="")
    return tmp_path


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# ---- dataset ------------------------------------------------------------------------------


def test_load_dataset_reads_items_and_skips_blank_and_comment_lines(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "d.jsonl",
        [
            "# a comment",
            json.dumps({"question": "How many?", "answers": ["15", "fifteen"], "evidence": "Fifteen missiles"}),
            "",
            json.dumps({"question": "Recipe?", "answers": [], "evidence": None, "note": "extra keys are fine"}),
        ],
    )
    items = load_dataset(path)
    assert items == [
        EvalItem("How many?", ("15", "fifteen"), "Fifteen missiles", 2),
        EvalItem("Recipe?", (), None, 4),
    ]
    assert [i.answerable for i in items] == [True, False]


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ('{"question": "x", "answers": [}', "not valid JSON"),
        ('["question"]', "expected a JSON object"),
        ('{"question": "x", "answers": []}', "missing 'evidence'"),
        ('{"question": "  ", "answers": [], "evidence": null}', "'question' must be a non-empty string"),
        ('{"question": "x", "answers": "15", "evidence": null}', "'answers' must be a list of strings"),
        ('{"question": "x", "answers": [15], "evidence": null}', "'answers' must be a list of strings"),
        ('{"question": "x", "answers": ["?!"], "evidence": null}', "no letters or digits"),
        ('{"question": "x", "answers": ["a"], "evidence": 3}', "'evidence' must be a non-empty string or null"),
        ('{"question": "x", "answers": [], "evidence": "some text"}', "'evidence' must be null"),
    ],
)
def test_load_dataset_names_the_bad_line(tmp_path: Path, line: str, fragment: str) -> None:
    good = json.dumps({"question": "ok", "answers": [], "evidence": None})
    path = write_lines(tmp_path / "d.jsonl", [good, good, line])
    with pytest.raises(DatasetError) as err:
        load_dataset(path)
    message = str(err.value)
    assert "line 3" in message and fragment in message
    assert "\n" not in message


def test_load_dataset_missing_or_empty_file(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="does not exist"):
        load_dataset(tmp_path / "nope.jsonl")
    empty = write_lines(tmp_path / "empty.jsonl", ["", "# only a comment"])
    with pytest.raises(DatasetError, match="no questions"):
        load_dataset(empty)


def test_the_seed_dataset_is_valid_and_large_enough() -> None:
    items = load_dataset(SEED_SET)
    answerable = [i for i in items if i.answerable]
    assert len(answerable) >= 55 and len(items) - len(answerable) >= 22
    text = (ROOT / "seeds" / "000_1e0f96428eb82f3b.txt").read_text(encoding="utf-8")
    for item in answerable:
        assert item.evidence is not None and item.evidence in text, item.question
        paragraph = next(p for p in text.split("\n\n") if item.evidence in p)
        assert any(answer_contains(paragraph, [a]) for a in item.answers), item.question


# ---- matching -----------------------------------------------------------------------------


def test_normalize_and_answer_contains() -> None:
    assert normalize("  U.S.  “Troops”\n") == "u s troops"
    assert answer_contains("President Trump tweeted “All is well!” [1]", ["all is well"])
    assert answer_contains("Housing U.S. troops.", ["u.s. troops"])
    assert answer_contains("Ten hit; FOUR failed.", ["nine", "four"])
    assert not answer_contains("There were none.", ["one"])  # word boundaries
    assert not answer_contains("Something else entirely [1]", ["1"])  # [n] markers are not answer text
    assert not answer_contains(None, ["four"])
    assert not answer_contains("four", [])


def test_citation_matches_by_overlap_or_file_name(seeds: Path) -> None:
    docs = DocumentCache(seeds)
    sentence = cite("Fifteen missiles were launched.")
    assert citation_matches("missiles were", sentence, docs)  # inside
    assert citation_matches("the mat. Fifteen", sentence, docs)  # straddles the start
    assert not citation_matches("on the mat. ", sentence, docs)  # ends exactly where the citation starts
    assert not citation_matches("Four failed", sentence, docs)
    # the evidence occurs twice ("The cat"); the second occurrence overlaps this citation
    assert citation_matches("The cat", cite("The cat ran.", occurrence=0), docs)
    assert citation_matches("a.txt", sentence, docs)
    nested = Citation("sub/b.txt", 0, 7, "Another", 1.0)
    assert citation_matches("b.txt", nested, docs) and citation_matches("sub/b.txt", nested, docs)
    assert not citation_matches("a.txt", nested, docs)
    assert not citation_matches("missiles", Citation("gone.txt", 0, 5, "x", 1.0), docs)


def test_percentile() -> None:
    assert percentile([], 50) is None
    assert percentile([7.0], 95) == 7.0
    assert percentile([4.0, 1.0, 3.0, 2.0], 50) == pytest.approx(2.5)
    assert percentile(list(map(float, range(1, 101))), 95) == pytest.approx(95.05)


# ---- run_eval on a fake engine -------------------------------------------------------------

RANKED = [
    cite("Fifteen missiles were launched."),
    cite("Four failed mid-flight."),
    cite("The cat sat on the mat."),
    cite("Title line"),
    cite("The cat ran."),
]


def fake_items() -> list[EvalItem]:
    return [
        EvalItem("q1 rank1", ("fifteen",), "missiles were launched", 1),
        EvalItem("q2 rank2", ("four",), "failed mid-flight", 2),
        EvalItem("q3 rank4", ("title",), "Title line", 3),
        EvalItem("q4 abstained", ("cat",), "cat ran", 4),
        EvalItem("q5 file", ("dogs",), "b.txt", 5),
        EvalItem("u1 abstained", (), None, 6),
        EvalItem("u2 answered", (), None, 7),
        EvalItem("u3 answered", (), None, 8),
    ]


def fake_engine(seeds: Path) -> FakeEngine:
    bad = Citation("a.txt", 0, 5, "Tilte", 0.5)  # offsets that do not quote the file
    dog = Citation("sub/b.txt", 0, 28, "Another document about dogs.", 1.0)
    return FakeEngine(
        seeds,
        {
            "q1 rank1": Answer("q1", "Fifteen missiles were launched. [1]", tuple(RANKED), signals={"cosine": 0.8}),
            "q2 rank2": Answer("q2", "The cat sat on the mat. [1]", (RANKED[2], RANKED[1], bad)),
            "q3 rank4": Answer("q3", "Title line [1]", (RANKED[0], RANKED[1], RANKED[2], RANKED[3])),
            "q4 abstained": Answer("q4", None, (), signals={"cosine": 0.1}),
            "q5 file": Answer("q5", "Another document about dogs. [1]", (dog,)),
            "u1 abstained": Answer("u1", None),
            "u2 answered": Answer("u2", "The cat ran. [1]", (RANKED[4],)),
            "u3 answered": Answer("u3", "Title line [1]", (RANKED[3],)),
        },
    )


def test_run_eval_metrics(seeds: Path) -> None:
    engine = fake_engine(seeds)
    calls: list[tuple[int, int]] = []
    report = run_eval(engine, fake_items(), progress=lambda done, total: calls.append((done, total)))
    assert calls == [(i, 8) for i in range(9)]
    assert report.k == 5 and all(k is None for _, k in engine.asked)
    m = report.metrics()
    ranks = [r.rank for r in report.results]
    assert ranks == [1, 2, 4, None, 1, None, None, None]
    assert m["recall@1"] == pytest.approx(2 / 5)
    assert m["recall@3"] == pytest.approx(3 / 5)
    assert m["recall@k"] == pytest.approx(4 / 5)
    assert m["mrr@10"] == pytest.approx((1 + 1 / 2 + 1 / 4 + 0 + 1) / 5)
    # q1, q3, q5 contain their gold answer; q2 answered the wrong sentence; q4 abstained
    assert m["answer_accuracy"] == pytest.approx(3 / 5)
    citations = 5 + 3 + 4 + 0 + 1 + 0 + 1 + 1
    assert m["exact_offset_rate"] == pytest.approx((citations - 1) / citations)
    # abstained: q4 (answerable), u1 (unanswerable); u2 and u3 answered
    assert m["abstention_precision"] == pytest.approx(1 / 2)
    assert m["abstention_recall"] == pytest.approx(1 / 3)
    assert m["false_abstention_rate"] == pytest.approx(1 / 5)
    assert m["latency_p50_ms"] is not None and 0 <= m["latency_p50_ms"] <= m["latency_p95_ms"]  # type: ignore[operator]
    counts = report.counts()
    assert counts["questions"] == 8 and counts["answerable"] == 5 and counts["unanswerable"] == 3


def test_run_eval_passes_k_and_recall_at_k_uses_it(seeds: Path) -> None:
    engine = fake_engine(seeds)
    report = run_eval(engine, fake_items(), k=3)
    assert report.k == 3 and {k for _, k in engine.asked} == {3}
    assert report.metrics()["recall@k"] == pytest.approx(3 / 5)


def test_failures_text_and_json(seeds: Path) -> None:
    report = run_eval(fake_engine(seeds), fake_items(), dataset="fake.jsonl")
    failed = {r.item.question: why for r, why in report.failures()}
    assert set(failed) == {"q2 rank2", "q3 rank4", "q4 abstained", "u2 answered", "u3 answered"}
    assert failed["q2 rank2"] == ["gold answer not in the answer", "inexact offsets in citation(s) 3"]
    assert failed["q3 rank4"] == ["evidence cited only at rank 4"]
    assert failed["q4 abstained"] == ["abstained on an answerable question"]
    assert failed["u2 answered"] == ["answered an unanswerable question"]

    text = render_text(report)
    assert "fake.jsonl" in text and "Failures: 5" in text
    assert "recall@3" in text and "60.0 %" in text and "3/5" in text
    assert "answered: The cat sat on the mat. [1]" in text
    assert "a.txt [" in text  # the first citation of a failure
    assert "answered: (abstained)" in text
    assert "q1 rank1" not in text

    data = json.loads(json.dumps(report.to_json()))
    assert data["dataset"] == "fake.jsonl" and data["k"] == 5
    assert data["metrics"]["recall@1"] == 0.4 and data["metrics"]["answer_accuracy"] == 0.6
    assert len(data["items"]) == 8 and len(data["failures"]) == 5
    first = data["items"][0]
    assert first["signals"] == {"cosine": 0.8} and first["evidence_rank"] == 1 and first["correct"] is True
    assert [c["matches_evidence"] for c in first["citations"]] == [True, False, False, False, False]
    assert data["items"][1]["citations"][2]["exact"] is False
    assert data["items"][5]["correct"] is None and data["items"][5]["abstained"] is True
    failure = data["failures"][0]
    assert failure["question"] == "q2 rank2" and failure["expected"] == ["four"]
    assert failure["first_citation"]["text"] == "The cat sat on the mat."


def test_a_refused_question_counts_as_an_error(seeds: Path) -> None:
    items = [EvalItem("boom", ("x",), "cat", 1), EvalItem("boom", (), None, 2)]
    report = run_eval(fake_engine(seeds), items)
    m, c = report.metrics(), report.counts()
    assert c["errors"] == 2 and m["answer_accuracy"] == 0 and m["abstention_recall"] == 0
    assert m["exact_offset_rate"] is None  # no citations at all
    assert "error: The question is too long." in render_text(report)


def test_empty_metrics_are_none_not_division_errors(seeds: Path) -> None:
    engine = FakeEngine(seeds, {"u": Answer("u", None)})
    m = run_eval(engine, [EvalItem("u", (), None, 1)]).metrics()
    assert m["recall@1"] is None and m["answer_accuracy"] is None and m["false_abstention_rate"] is None
    assert m["abstention_precision"] == 1.0 and m["abstention_recall"] == 1.0
    assert "n/a" in render_text(run_eval(engine, [EvalItem("u", (), None, 1)]))


# ---- the real engine ------------------------------------------------------------------------


@pytest.mark.slow
def test_real_engine_on_a_seed_subset(seed_engine) -> None:  # type: ignore[no-untyped-def]
    items = load_dataset(SEED_SET)
    answerable = [i for i in items if i.answerable]
    unanswerable = [i for i in items if not i.answerable]
    subset = [*answerable[14:17], unanswerable[0], unanswerable[11]]
    report = run_eval(seed_engine, subset, k=3)
    data = report.to_json()
    assert data["counts"]["questions"] == 5 and len(data["items"]) == 5
    assert data["k"] == 3
    assert set(data["metrics"]) >= {
        "recall@1", "recall@3", "recall@k", "mrr@10", "answer_accuracy", "exact_offset_rate",
        "abstention_precision", "abstention_recall", "false_abstention_rate", "latency_p50_ms", "latency_p95_ms",
    }  # fmt: skip
    assert data["counts"]["citations"] > 0
    assert data["metrics"]["exact_offset_rate"] == 1.0
    assert all(isinstance(item["signals"], dict) for item in data["items"])
    assert all(len(item["citations"]) <= 3 for item in data["items"])
    assert data["metrics"]["latency_p95_ms"] > 0
    assert "recall@3" in render_text(report)


def test_on_and_off_topic_short_answers_follow_ups_and_wrong_entities(seeds: Path, tmp_path: Path) -> None:
    four = cite("Four failed mid-flight.")
    fifteen = cite("Fifteen missiles were launched.")
    short_four = ShortAnswer("Four", "a.txt", four.start, four.start + 4)
    lines = [
        {"question": "how many failed", "answers": ["four"], "evidence": "a.txt"},
        {"question": "how many launched", "answers": ["fifteen"], "evidence": "a.txt"},
        {"question": "when did the cat sit", "answers": [], "evidence": None, "kind": "on-topic"},
        {"question": "what is the capital of peru", "answers": [], "evidence": None, "kind": "off-topic"},
        {"question": "and the dogs?", "answers": ["four"], "evidence": "a.txt", "history": ["x"], "depends": True},
        {"question": "who ran", "answers": [], "evidence": None, "history": ["y", "z"], "depends": False},
    ]
    path = write_lines(tmp_path / "h.jsonl", [json.dumps(line) for line in lines])
    answers = {
        "how many failed": Answer("how many failed", "Four failed mid-flight. [1]", (four,), 0.9, {}, short_four),
        "how many launched": Answer("how many launched", "Fifteen missiles were launched. [1]", (fifteen,), 0.9),
        "when did the cat sit": Answer("when did the cat sit", "The cat sat on the mat. [1]", (cite("The cat sat"),)),
        "what is the capital of peru": Answer("what is the capital of peru", None),
        "and the dogs?": Answer("and the dogs?", "Four failed mid-flight. [1]", (four,), 0.9, {}, short_four),
        "who ran": Answer("who ran", "The cat ran. [1]", (cite("The cat ran."),)),
    }
    engine = FakeEngine(seeds, answers)
    report = run_eval(engine, load_dataset(path))
    m, c = report.metrics(), report.counts()
    assert m["abstention_recall_on_topic"] == 0.0 and m["abstention_recall_off_topic"] == 1.0
    assert m["short_answer_accuracy"] == pytest.approx(2 / 3)  # the second answer has no short answer
    assert m["followup_accuracy_dependent"] == 1.0 and m["followup_accuracy_independent"] == 0.0
    assert c["wrong_entity"] == 2  # "when did the cat sit" (on-topic) and "who ran" (no kind: counted)
    assert engine.histories[4] == ("x",) and engine.histories[0] == ()
    text = render_text(report)
    for label in ("abstention on-topic", "abstention off-topic", "short-answer accuracy", "follow-ups dependent",
                  "wrong-entity answers", "Wrong-entity answers: 2"):  # fmt: skip
        assert label in text
    data = report.to_json()
    assert [w["question"] for w in data["wrong_entity"]] == ["when did the cat sit", "who ran"]
    assert data["items"][0]["short_answer"] == "Four" and data["items"][0]["short_correct"] is True


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        ({"kind": "sideways"}, "'kind' must be one of"),
        ({"history": "not a list"}, "'history' must be a list"),
        ({"depends": "yes"}, "'depends' must be true, false"),
    ],
)
def test_bad_optional_fields_name_the_line(tmp_path: Path, extra: dict[str, object], fragment: str) -> None:
    line = {"question": "q", "answers": [], "evidence": None, **extra}
    path = write_lines(tmp_path / "bad.jsonl", [json.dumps(line)])
    with pytest.raises(DatasetError, match=fragment):
        load_dataset(path)


def test_lines_without_kind_keep_the_old_report(seeds: Path, tmp_path: Path) -> None:
    path = write_lines(tmp_path / "plain.jsonl", [json.dumps({"question": "q", "answers": [], "evidence": None})])
    report = run_eval(FakeEngine(seeds, {"q": Answer("q", None)}), load_dataset(path))
    assert report.metrics()["abstention_recall_on_topic"] is None
    assert "abstention on-topic" not in render_text(report)
