"""QAEngine: the one API every front end uses (build, ask, reload, info).

    engine = QAEngine.from_settings(Settings())   # opens the index, building it if missing
    answer = engine.ask("How many missiles were launched?")
    answer.text, answer.abstained, answer.citations

Thread-safe: `ask` reads one immutable snapshot of the index, and `reload` swaps the
snapshot in a single assignment, so questions in flight finish on the index they began with.
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from . import backends, store
from .answer import TITLE_SPARE, candidates, compose, predicate_to_embed, question_weights, unknown_share
from .backends import IndexView
from .embedder import Embedder, QueryEncoderExport, SentenceTransformerEmbedder, embed_queries, query_threads_for
from .errors import ConfigError, IndexMissing, InterruptedAfterSwitch, QuestionError
from .onnx_encoder import export_bytes, legacy_cache_dir, onnx_cache_dir
from .question import analyze, depends_on_history, with_history
from .records import Answer, BuildReport, IndexInfo
from .retriever import FusionParams, lexical_in_background, retrieve
from .settings import Settings

if TYPE_CHECKING:
    import numpy as np

    from .builder import BuildProgress
    from .llm.client import ChatClient

log = logging.getLogger(__name__)

EXPORT_FAILED = ".onnx-export-failed"  # in the index folder: {"generation", "reason"} of a failed export


@dataclass(frozen=True, slots=True)
class _Snapshot:
    reader: IndexView
    generation: str


def with_pages(answer: Answer, reader: IndexView) -> Answer:
    """The answer with each PDF citation's page (the page its span starts on)."""
    cited = []
    for cite in answer.citations:
        starts = reader.page_starts(cite.source)
        if starts:
            from .pdf_text import page_of  # not imported by a one-shot `qabot ask` over text files

            cite = replace(cite, page=page_of(starts, cite.start))
        cited.append(cite)
    return replace(answer, citations=tuple(cited))


class QAEngine:
    """Questions in, cited answers out."""

    def __init__(self, settings: Settings, embedder: Embedder | None = None) -> None:
        self.settings = settings.resolved()
        self._embedder = embedder
        self._snapshot: _Snapshot | None = None
        self._reload_lock = threading.Lock()
        self._llm: ChatClient | None = None

    # ---- construction -------------------------------------------------------------
    @classmethod
    def from_settings(
        cls,
        settings: Settings | None = None,
        embedder: Embedder | None = None,
        progress: BuildProgress | None = None,
    ) -> QAEngine:
        """Open the index in settings.index_dir, building it first if there is none."""
        engine = cls(settings or Settings(), embedder)
        try:
            engine.reload(force=True)
        except IndexMissing:
            engine.build(progress=progress)
        return engine

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = SentenceTransformerEmbedder(
                self.settings.model, query_threads_for(self.settings), self.settings.build_precision
            )
        return self._embedder

    # ---- index lifecycle ------------------------------------------------------------
    def build(self, full: bool = False, progress: BuildProgress | None = None) -> BuildReport:
        """Build a new generation from the seeds folder and switch to it."""
        from .builder import build  # not needed to answer: a one-shot `qabot ask` does not import it

        report = build(self.settings, self.embedder, full=full, progress=progress)
        served = backends.publish(self.settings, self.embedder.model_id, progress)  # Milvus: copy, switch
        if served is not None:
            report = replace(report, generation=served)
        try:
            if progress:
                progress("exporting", 0, 1)
            self._export_query_encoder(report.generation)
            if progress:
                progress("exporting", 1, 1)
            self.reload(force=True)
        except KeyboardInterrupt as exc:
            raise InterruptedAfterSwitch(
                f"Interrupted after the build: the new index {report.generation} in {self.settings.index_dir} is "
                f"live ({report.documents} documents); the next question finishes setting it up."
            ) from exc
        return report

    @property
    def _onnx_cache(self) -> Path:
        return onnx_cache_dir(self.settings.onnx_cache_dir)

    def _export_query_encoder(self, generation: str | None) -> None:
        """Make the ONNX export questions are embedded with (once per model, in the shared cache).

        A failure is said once and remembered for `generation`: later questions on that
        generation use torch without trying again (the next build tries again)."""
        embedder = self.embedder
        if not self.settings.onnx_queries or not isinstance(embedder, QueryEncoderExport):
            return
        cache = self._onnx_cache
        marker = self.settings.index_dir / EXPORT_FAILED
        try:
            embedder.export_query_encoder(cache)
        except Exception as exc:  # noqa: BLE001 - questions fall back to torch; say so once
            model_dir = getattr(self.embedder, "path", None)
            if store.out_of_space(exc, store.free_bytes(cache)):
                short = export_bytes(model_dir) - store.free_bytes(cache) if model_dir is not None else 0
                reason = f"No space left on {cache}: free {max(1, -(-short // 1_000_000))} MB and rerun"
            else:
                reason = f"{type(exc).__name__}: {exc}"
            log.warning("ONNX export failed (%s); questions will use torch (slower start).", reason)
            with contextlib.suppress(OSError):
                marker.write_text(json.dumps({"generation": generation, "reason": reason}) + "\n", encoding="utf-8")
            return
        with contextlib.suppress(OSError):
            marker.unlink(missing_ok=True)
        legacy = legacy_cache_dir(self.settings.index_dir)
        if legacy.is_dir() and legacy.resolve() != cache.resolve():
            shutil.rmtree(legacy, ignore_errors=True)  # the per-index export of older builds: shared now

    def _export_failed_for(self, generation: str | None) -> bool:
        try:
            noted = json.loads((self.settings.index_dir / EXPORT_FAILED).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
        return isinstance(noted, dict) and noted.get("generation") == generation

    def _attach_query_encoder(self, generation: str | None) -> None:
        """Embed questions through the ONNX export; make it first if there is none yet (once per
        generation: a failed export is not retried on every question)."""
        embedder = self.embedder
        if not self.settings.onnx_queries or not isinstance(embedder, QueryEncoderExport):
            return
        attach = embedder.attach_query_encoder
        if attach(self._onnx_cache) or attach(legacy_cache_dir(self.settings.index_dir)):
            return
        if self._export_failed_for(generation):
            return
        self._export_query_encoder(generation)
        attach(self._onnx_cache)

    def reload(self, force: bool = False) -> bool:
        """Switch to the generation CURRENT names, if it changed. True when switched."""
        with self._reload_lock:
            if force:
                store.clean_leftovers_if_idle(self.settings.index_dir)
            in_use = self._snapshot.reader if self._snapshot is not None else None
            current = backends.current_name(self.settings, in_use)
            unchanged = self._snapshot is not None and current is not None and current == self._snapshot.generation
            if unchanged and not force:
                return False
            if self.settings.onnx_queries and isinstance(self.embedder, QueryEncoderExport):
                self.embedder.attach_query_encoder(self._onnx_cache)  # its session loads while the index opens
            reader = backends.open_index(self.settings, self.embedder.model_id)
            self._attach_query_encoder(reader.generation.name)
            self._snapshot = _Snapshot(reader, reader.generation.name)
            return True

    def close(self) -> None:
        """Release the open index (the next reload opens it again)."""
        with self._reload_lock:
            snap, self._snapshot = self._snapshot, None
        if snap is not None:
            snap.reader.close()

    @property
    def _state(self) -> _Snapshot:
        snap = self._snapshot
        if snap is None:
            raise IndexMissing(f"No index in {self.settings.index_dir}: run `qabot index build`.")
        return snap

    @property
    def generation(self) -> str:
        return self._state.generation

    @property
    def reader(self) -> IndexView:
        """The generation in use, opened read-only (for tools that search it directly)."""
        return self._state.reader

    def info(self, check_stale: bool = True) -> IndexInfo:
        """Documents, chunks, model and build time of the index in use."""
        snap = self._state
        stale = self.stale_sources() if check_stale else []
        return backends.describe(self.settings, snap.reader, stale)

    def stale_sources(self) -> list[str]:
        """Sources added, changed or removed in the seeds folder since the index was built.

        Without a seeds folder given (flag, QABOT_SEEDS_DIR or code), the folder the index was
        built from is the one compared.
        """
        return backends.stale_sources(self.settings, self._state.reader, self._seeds_compared())

    def stale_count(self) -> int:
        """len(stale_sources()), with removed sources counted rather than read and listed (a large index)."""
        if self.settings.backend == "milvus":
            return len(self.stale_sources())
        return store.stale_count(self._seeds_compared(), self._state.reader.generation)

    def _seeds_compared(self) -> Path:
        return backends.seeds_compared(self.settings, self._state.reader.manifest)

    def document_text(self, source: str) -> str | None:
        """The text a source's citation offsets index (as stored in the index); None when not indexed."""
        return self._state.reader.document_text(source)

    def page_starts(self, source: str) -> tuple[int, ...]:
        """Where each page of a PDF source begins in its text; () for other formats."""
        return self._state.reader.page_starts(source)

    # ---- questions ------------------------------------------------------------------
    def check_question(self, question: str) -> str:
        """The question with white space collapsed, or a QuestionError saying what is wrong."""
        # Undecodable input (lone surrogates from bytes that were not UTF-8) becomes '?'.
        question = question.encode("utf-8", "replace").decode("utf-8")
        text = " ".join(question.split())
        if not text:
            raise QuestionError("The question is empty: type a question about the documents.")
        limit = self.settings.max_question_chars
        if len(text) > limit:
            raise QuestionError(
                f"The question is {len(text):,} characters long; the limit is {limit:,} "
                f"(QABOT_MAX_QUESTION_CHARS): ask something shorter."
            )
        return text

    def ask(self, question: str, k: int | None = None, history: Sequence[str] = ()) -> Answer:
        """Answer one question. `history` holds earlier questions of the same conversation.

        The earlier questions are used only when this one depends on them (a pronoun with
        nothing to refer to, an ellipsis such as "and how many failed?"); a self-contained
        question is answered exactly as if asked alone.
        """
        text = self.check_question(question)
        snap = self._state
        s = self.settings
        k = k or s.top_k
        earlier = ""
        if depends_on_history(text):
            earlier = " ".join(" ".join(h.split()) for h in history[-2:] if h and h.strip())[: s.max_question_chars]
        query = f"{earlier} {text}" if earlier else text
        analysis = with_history(analyze(text), earlier)
        params = FusionParams.from_settings(s)
        # BM25 runs in another thread while the question is embedded (onnxruntime releases the GIL).
        lexical = lexical_in_background(snap.reader, query, params.candidates)
        # Every text this question embeds, in one call: the question (with its history), the
        # question alone, and what the support check compares sentences with (its predicate).
        texts = list(dict.fromkeys([query, text, *filter(None, [predicate_to_embed(analysis)])]))
        vecs = dict(zip(texts, embed_queries(self.embedder, texts), strict=True))
        qvec, own = vecs[query], vecs[text]
        hits = retrieve(snap.reader, query, qvec, max(k, s.answer_passages + TITLE_SPARE), params, lexical())
        ranked = candidates(snap.reader, text, qvec, hits, s.answer_passages, context=earlier)
        idf = question_weights(snap.reader, f"{earlier} {text}" if earlier else text)

        def embed(t: str) -> np.ndarray:
            return vecs[t] if t in vecs else self.embedder.embed_query(t)

        answer = compose(
            text, hits, ranked, k, s.answer_max_chars, s.answer_max_sentences, s.abstain_threshold,
            {"unknown": unknown_share(snap.reader, text)}, idf=idf, embed=embed, question_vec=own, analysis=analysis,
        )  # fmt: skip
        answer = with_pages(answer, snap.reader)
        if s.llm_verify and not answer.abstained and self.llm is not None:
            from .llm.verify import verified_answer

            answer = verified_answer(self.llm, answer, hits)
        return answer

    @property
    def llm(self) -> ChatClient | None:
        """The language model client, when QABOT_LLM_URL and QABOT_LLM_MODEL are set."""
        if self._llm is None:
            from .llm.client import ChatClient

            self._llm = ChatClient.from_settings(self.settings)
        return self._llm

    def write(self, answer: Answer, on_text: Callable[[str], None] | None = None) -> Answer:
        """The answer written by the language model from `answer`'s passages, every sentence checked.

        Falls back to `answer` (with a warning) when the model fails or writes nothing supported;
        an abstention stays one. on_text receives the model's text as it streams.
        """
        client = self.require_llm()
        from .llm.write import written_answer

        return written_answer(client, answer, on_text)

    def require_llm(self) -> ChatClient:
        """The language model client, or a ConfigError saying what to set."""
        if self.llm is None:
            raise ConfigError(
                "Writing answers needs a language model: set QABOT_LLM_URL and QABOT_LLM_MODEL (see .env.example)."
            )
        return self.llm
