"""A fast, deterministic stand-in for the embedding model (for unit tests of other logic)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence

import numpy as np

_WORD = re.compile(r"\w+|[^\w\s]")


class FakeEmbedder:
    """Bag of hashed words; one 'token' per word or punctuation mark (+2 special tokens)."""

    def __init__(self, model_id: str = "fake-embedder", dim: int = 64, max_tokens: int = 256) -> None:
        self.model_id = model_id
        self.dim = dim
        self.max_tokens = max_tokens
        self.precision = "float32"
        self.embedded = 0
        self.fail_after: int | None = None  # raise KeyboardInterrupt after this many texts

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [len(_WORD.findall(t)) + 2 for t in texts]

    def cut_points(self, text: str, max_tokens: int) -> list[int]:
        starts = [m.start() for m in _WORD.finditer(text)]
        room = max(1, max_tokens - 2)
        return [starts[i] for i in range(room, len(starts), room)]

    def _vector(self, text: str) -> np.ndarray:
        vec = np.zeros(self.dim, dtype=np.float32)
        for word in _WORD.findall(text.lower()):
            h = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=4).digest(), "little")
            vec[h % self.dim] += 1.0
        norm = float(np.linalg.norm(vec))
        if norm == 0:
            vec[0] = 1.0
            norm = 1.0
        return vec / norm

    def embed(
        self, texts: Sequence[str], batch_size: int = 32, progress: Callable[[int], None] | None = None
    ) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            if self.fail_after is not None and self.embedded >= self.fail_after:
                raise KeyboardInterrupt
            out[i] = self._vector(text)
            self.embedded += 1
            if progress is not None:
                progress(1)
        return out

    def embed_with_spans(
        self,
        texts: Sequence[str],
        spans: Sequence[Sequence[tuple[int, int]]],
        batch_size: int = 32,
        progress: Callable[[int], None] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        text_vecs = self.embed(texts, batch_size, progress)
        pieces = [text[a:b] for text, text_spans in zip(texts, spans, strict=True) for a, b in text_spans]
        span_vecs = np.stack([self._vector(p) for p in pieces]) if pieces else np.zeros((0, self.dim), np.float32)
        return text_vecs, span_vecs

    def embed_query(self, text: str) -> np.ndarray:
        return self._vector(text)
