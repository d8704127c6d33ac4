"""What the engine reads an index through, whichever backend holds it.

`retrieve` (retriever.py) and `candidates` (answer.py) take an IndexView: the FAISS folder's
IndexReader is one, MilvusIndex (milvus_reader.py) is the other. Ids are the build's own:
chunk id i and sentence id j mean the same chunk and sentence on both backends.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import numpy as np

    from ..reader import ChunkRow, SentenceRow
    from ..store import Generation


class DenseIndex(Protocol):
    """Chunk vectors searched by inner product (faiss's interface, which `vectors.search` calls)."""

    ntotal: int

    def search(self, x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]: ...


class LexicalView(Protocol):
    """BM25 over the chunks, and the statistics answer scoring reads."""

    def idf(self, stem: str) -> float: ...

    def search(self, query: str, k: int) -> tuple[np.ndarray, np.ndarray]: ...


class SentenceVectors(Protocol):
    def __getitem__(self, rows: slice) -> Any: ...

    def __len__(self) -> int: ...


class IndexView(Protocol):
    """One generation of the index, read-only and safe to share between threads."""

    @property
    def generation(self) -> Generation: ...

    @property
    def manifest(self) -> dict[str, Any]: ...

    @property
    def vectors(self) -> DenseIndex: ...

    @property
    def lexical(self) -> LexicalView: ...

    @property
    def sentence_vectors(self) -> SentenceVectors: ...

    def chunks(self, ids: list[int]) -> dict[int, ChunkRow]: ...

    def sentences(self, lo: int, hi: int) -> list[SentenceRow]: ...

    def document(self, doc_id: int) -> tuple[str, str]: ...

    def chunk_vector(self, chunk_id: int) -> np.ndarray: ...

    def sources(self) -> Sequence[str]: ...

    def page_starts(self, source: str) -> tuple[int, ...]: ...

    def document_text(self, source: str) -> str | None: ...

    def close(self) -> None: ...
