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


ABSTAIN_TEXT = "The documents don't say."


@dataclass(frozen=True, slots=True)
class Answer:
    """The reply to one question. `text` is None when qabot abstains."""

    question: str
    text: str | None
    citations: tuple[Citation, ...] = ()
    confidence: float = 0.0
    signals: dict[str, float] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()  # one line each, e.g. the language model could not be used

    @property
    def abstained(self) -> bool:
        return self.text is None

    def to_json(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "answer": self.text,
            "abstained": self.abstained,
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
