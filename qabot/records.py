"""Plain, frozen records passed between the layers. No behaviour beyond small helpers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Span:
    """A half-open character span [start, end) of a document's text."""

    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Document:
    """One source file. `text` is what every offset refers to."""

    source: str  # path relative to the seeds folder, with forward slashes
    text: str
    sha256: str  # of the file's bytes
    pages: tuple[int, ...] = ()  # PDF only: offset in `text` where page i+1 begins

    @property
    def title(self) -> str:
        """The first non-empty line, stripped (a headline or an article title)."""
        for line in self.text.splitlines():
            if line.strip():
                return line.strip()
        return ""


@dataclass(frozen=True, slots=True)
class Chunk:
    """A run of whole sentences from one paragraph; text == document.text[start:end]."""

    source: str
    start: int
    end: int
    text: str
    sentences: tuple[Span, ...]


@dataclass(frozen=True, slots=True)
class Hit:
    """A retrieved chunk with its scores (dense cosine, BM25, fused)."""

    chunk_id: int
    source: str
    start: int
    end: int
    text: str
    dense: float
    lexical: float
    fused: float


@dataclass(frozen=True, slots=True)
class Citation:
    """Where quoted words came from: document.text[start:end] == text."""

    source: str
    start: int
    end: int
    text: str
    score: float
    page: int | None = None  # 1-based page of a PDF citation's start; None for other formats

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "start": self.start,
            "end": self.end,
            "text": self.text,
            "score": round(float(self.score), 4),
            "page": self.page,
        }

    @property
    def where(self) -> str:
        """How a source line names the citation: `report.pdf p. 3` for a PDF, else the file."""
        return self.source if self.page is None else f"{self.source} p. {self.page}"


@dataclass(frozen=True, slots=True)
class ShortAnswer:
    """The exact words that answer the question, inside a cited sentence: text[start:end] == text."""

    text: str
    source: str
    start: int
    end: int

    def to_json(self) -> dict[str, Any]:
        return {"text": self.text, "source": self.source, "start": self.start, "end": self.end}


ABSTAIN_TEXT = "The documents don't say."


@dataclass(frozen=True, slots=True)
class Answer:
    """The reply to one question. `text` is None when qabot abstains."""

    question: str
    text: str | None
    citations: tuple[Citation, ...] = ()
    confidence: float = 0.0
    signals: dict[str, float] = field(default_factory=dict)
    short_answer: ShortAnswer | None = None
    warnings: tuple[str, ...] = ()  # one line each, e.g. the language model could not be used

    @property
    def abstained(self) -> bool:
        return self.text is None

    def short_answer_span(self) -> tuple[int, int] | None:
        """Where the short answer shows inside `text` (white space collapsed as the text is), or None."""
        if self.text is None or self.short_answer is None:
            return None
        shown = " ".join(self.short_answer.text.replace("\ufeff", "").split())
        at = self.text.find(shown) if shown else -1
        return (at, at + len(shown)) if at >= 0 else None

    def to_json(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "answer": self.text,
            "abstained": self.abstained,
            "short_answer": self.short_answer.to_json() if self.short_answer else None,
            "citations": [c.to_json() for c in self.citations],
        } | ({"warnings": list(self.warnings)} if self.warnings else {})


@dataclass(frozen=True, slots=True)
class SkippedFile:
    """A file the loader could not use, with the reason in plain words."""

    source: str
    reason: str


@dataclass(frozen=True, slots=True)
class BuildReport:
    """What a build did."""

    generation: str
    documents: int
    chunks: int
    sentences: int
    embedded: int  # texts that went through the model
    reused: int  # texts whose vectors came from the cache
    skipped: tuple[SkippedFile, ...]
    seconds: float
    unchanged: bool = False  # nothing changed since the generation in use: no new one was written

    def to_json(self) -> dict[str, Any]:
        """What `qabot index build --json` prints."""
        return {
            "generation": self.generation,
            "documents": self.documents,
            "chunks": self.chunks,
            "sentences": self.sentences,
            "embedded": self.embedded,
            "reused": self.reused,
            "seconds": round(self.seconds, 3),
            "unchanged": self.unchanged,
            "skipped": [{"source": s.source, "reason": s.reason} for s in self.skipped],
        }


@dataclass(frozen=True, slots=True)
class IndexInfo:
    """What `index status` and `/sources` show."""

    index_dir: str
    generation: str
    built_at: str
    model: str
    dim: int
    documents: int
    chunks: int
    sentences: int
    sources: tuple[str, ...]
    stale: tuple[str, ...] = ()  # sources added, changed or removed since the build
