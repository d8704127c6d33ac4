"""The query-time twin of the sentence-transformers model: an ONNX export run with onnxruntime.

`import sentence_transformers` (torch, scipy, sklearn, ...) costs seconds, which a one-shot
`qabot ask` cannot afford. So the index build, which has torch loaded anyway, exports the same
transformer once to ONNX (`ensure_exported`), and questions are embedded with onnxruntime and the
model's own `tokenizer.json` through the `tokenizers` library (`OnnxQueryEncoder`): the same
word pieces, the same truncation, the same mean pooling and normalization as sentence-transformers,
to cosine >= 0.999 (checked in tests/test_onnx_encoder.py).

Importing this module is cheap: torch is imported only by `export_onnx`, onnxruntime and tokenizers
only when the first text is embedded. Nothing on the query path imports torch.

One export per model is kept in a cache shared by every index (`onnx_cache_dir`:
QABOT_ONNX_CACHE_DIR, else $XDG_CACHE_HOME/qabot/onnx, else ~/.cache/qabot/onnx), in a folder
named by a hash of the model and its weight files. It holds:
    model.fused.onnx  the transformer (input_ids, attention_mask[, token_type_ids]) -> last_hidden_state,
                      after onnxruntime's BERT fusions; or model.onnx, the plain graph, where they don't
                      apply (only the graph that is run is kept)
    model.fused.onnx.data  its weights, as ONNX external data: onnxruntime reads them as they are
                      instead of parsing ~90 MB of protobuf, so the session of a cold `qabot ask` costs
                      0.04 s of CPU instead of 0.14 s (outputs bit-identical)
    tokenizer.json    copied from the model folder
    encoder.json      max_seq_length, pooling, normalize, dim, input names, which graph to run;
                      written last, so its presence means the export is complete
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

ProgressCallback = Callable[[int], None]  # called with the number of texts just embedded

EXPORT_FORMAT = 2  # bump when the export changes, so older exports are not reused (2: weights apart)
ENCODER_JSON = "encoder.json"
MODEL_ONNX = "model.onnx"
FUSED_ONNX = "model.fused.onnx"
TOKENIZER_JSON = "tokenizer.json"
WEIGHTS_SUFFIX = ".data"  # the graph's weights: model.fused.onnx.data
OPSET = 17
_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin", "config.json")


# --------------------------------------------------------------------------- export (build time)


def _read_json(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text(encoding="utf-8"))
    return data if isinstance(data, dict) else {}


def _model_settings(model_dir: Path) -> dict[str, Any]:
    """max_seq_length, pooling and normalize, read from the sentence-transformers files."""
    sbert = model_dir / "sentence_bert_config.json"
    max_seq = int(_read_json(sbert).get("max_seq_length", 0)) if sbert.is_file() else 0
    config = _read_json(model_dir / "config.json")
    if max_seq <= 0:
        max_seq = int(config.get("max_position_embeddings", 512))
    max_seq = min(max_seq, int(config.get("max_position_embeddings", max_seq)))

    pooling, dim = "mean", int(config.get("hidden_size", 0))
    modules_file = model_dir / "modules.json"
    modules: list[dict[str, Any]] = (
        json.loads(modules_file.read_text(encoding="utf-8")) if modules_file.is_file() else []
    )
    normalize = any(str(m.get("type", "")).endswith(".Normalize") for m in modules)
    pool_dirs = [m.get("path", "") for m in modules if str(m.get("type", "")).endswith(".Pooling")]
    pool_file = model_dir / (pool_dirs[0] if pool_dirs else "1_Pooling") / "config.json"
    if pool_file.is_file():
        cfg = _read_json(pool_file)
        dim = int(cfg.get("word_embedding_dimension", dim))
        if "pooling_mode" in cfg:  # newer sentence-transformers spell it this way
            pooling = str(cfg["pooling_mode"])
        else:
            modes = [
                name
                for key, name in (
                    ("pooling_mode_cls_token", "cls"),
                    ("pooling_mode_mean_tokens", "mean"),
                    ("pooling_mode_max_tokens", "max"),
                    ("pooling_mode_mean_sqrt_len_tokens", "mean_sqrt_len_tokens"),
                )
                if cfg.get(key)
            ]
            if len(modes) != 1:
                raise ValueError(f"Unsupported pooling in {pool_file}: {modes or 'none'}")
            pooling = modes[0]
    if pooling not in ("mean", "cls", "max", "mean_sqrt_len_tokens"):
        raise ValueError(f"Unsupported pooling mode {pooling!r} in {model_dir}")
    return {"max_seq_length": max_seq, "pooling": pooling, "normalize": normalize, "dim": dim}


def _atomic_write(target: Path, write: Callable[[Path], object]) -> None:
    """Let `write` fill a temporary file next to `target`, then rename it into place."""
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def export_bytes(model_dir: Path) -> int:
    """About the disk space an export of this model needs while it is made (two graphs at once)."""
    weights = sum((Path(model_dir) / n).stat().st_size for n in _WEIGHT_FILES if (Path(model_dir) / n).is_file())
    return 2 * weights + 2_000_000


def export_onnx(model_dir: Path, out_dir: Path, optimize: bool = True) -> Path:
    """Export the model's transformer to `out_dir` (see the module docstring); returns out_dir.

    Needs torch and transformers (build time only). With `optimize`, also writes a graph with
    onnxruntime's BERT fusions and points encoder.json at it, if onnxruntime can fuse this model.
    """
    import inspect
    import warnings

    import torch
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()

    model_dir, out_dir = Path(model_dir), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    settings = _model_settings(model_dir)
    tokenizer_src = model_dir / TOKENIZER_JSON
    if not tokenizer_src.is_file():
        raise ValueError(f"Model folder {model_dir} has no tokenizer.json: use a fast-tokenizer model.")

    # Eager attention exports as plain MatMul/Softmax, which onnxruntime's fusion recognizes.
    model = AutoModel.from_pretrained(str(model_dir), attn_implementation="eager")
    model.eval()
    params = inspect.signature(model.forward).parameters
    input_names = ["input_ids", "attention_mask"]
    if "token_type_ids" in params and int(getattr(model.config, "type_vocab_size", 0) or 0) > 0:
        input_names.append("token_type_ids")

    class _LastHiddenState(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, *args: torch.Tensor) -> torch.Tensor:
            return self.inner(**dict(zip(input_names, args, strict=True))).last_hidden_state

    batch, seq = 2, 16
    ids = torch.randint(1000, 2000, (batch, seq), dtype=torch.long)
    mask = torch.ones(batch, seq, dtype=torch.long)
    mask[1, seq // 2 :] = 0  # one padded row, so the mask path is traced
    dummy = {"input_ids": ids, "attention_mask": mask, "token_type_ids": torch.zeros_like(ids)}
    args = tuple(dummy[name] for name in input_names)
    axes = {name: {0: "batch", 1: "sequence"} for name in input_names}
    axes["last_hidden_state"] = {0: "batch", 1: "sequence"}

    def _export(tmp: Path) -> None:
        # The TorchScript exporter warns about its deprecation and about traced Python conditions
        # that are constant for BERT-style models; the tests check the graph against torch.
        with torch.inference_mode(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                _LastHiddenState(model),
                args,
                str(tmp),
                input_names=input_names,
                output_names=["last_hidden_state"],
                dynamic_axes=axes,
                opset_version=OPSET,
                do_constant_folding=True,
                dynamo=False,
            )

    _atomic_write(out_dir / MODEL_ONNX, _export)
    _atomic_write(out_dir / TOKENIZER_JSON, lambda tmp: shutil.copyfile(tokenizer_src, tmp))

    graph = MODEL_ONNX
    if optimize:
        config = model.config
        fused = _fuse(
            out_dir / MODEL_ONNX,
            out_dir / FUSED_ONNX,
            str(getattr(config, "model_type", "bert")),
            int(getattr(config, "num_attention_heads", 0) or 0),
            int(getattr(config, "hidden_size", 0) or 0),
        )
        if fused:
            graph = FUSED_ONNX
            (out_dir / MODEL_ONNX).unlink()  # one graph kept: the one that is run

    weights = _move_weights_out(out_dir / graph)
    meta = {
        "format": EXPORT_FORMAT,
        "source": str(model_dir),
        "graph": graph,
        "weights": weights,
        "inputs": input_names,
        "opset": OPSET,
        **settings,
    }
    _atomic_write(
        out_dir / ENCODER_JSON, lambda tmp: tmp.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    )
    return out_dir


def _move_weights_out(graph: Path) -> str:
    """Rewrite `graph` with its weights in a file beside it (ONNX external data); that file's name."""
    import onnx

    data = graph.with_name(graph.name + WEIGHTS_SUFFIX)
    data.unlink(missing_ok=True)  # onnx appends to a file that is there
    model = onnx.load(str(graph))

    def save(tmp: Path) -> None:
        # `location` is relative to the graph's folder: the data lands beside the final name.
        onnx.save_model(model, str(tmp), save_as_external_data=True, all_tensors_to_one_file=True, location=data.name)

    _atomic_write(graph, save)
    os.chmod(data, 0o644)  # as the other files: readable by whoever runs the questions
    return data.name


def _fuse(src: Path, dst: Path, model_type: str, num_heads: int, hidden_size: int) -> bool:
    """Write onnxruntime's fused graph of `src` to `dst`; False if it does not apply here."""
    if model_type not in ("bert", "roberta", "xlm-roberta"):  # the BERT layouts onnxruntime fuses
        return False
    try:
        from onnxruntime.transformers.optimizer import optimize_model

        opt = optimize_model(
            str(src),
            model_type="bert",
            num_heads=num_heads,
            hidden_size=hidden_size,
            opt_level=0,  # fusions only; the session applies its own optimizations at load
        )
        counts = opt.get_fused_operator_statistics()
        if not counts.get("Attention") and not counts.get("MultiHeadAttention"):
            return False
        _atomic_write(dst, lambda tmp: opt.save_model_to_file(str(tmp)))
        return True
    except Exception:  # noqa: BLE001 - the plain graph is always a correct fallback
        return False


def onnx_cache_dir(setting: Path | None = None) -> Path:
    """The folder of ONNX exports shared by every index: `setting` (QABOT_ONNX_CACHE_DIR) if
    given, else $XDG_CACHE_HOME/qabot/onnx, else ~/.cache/qabot/onnx."""
    if setting is not None and str(setting).strip():
        return Path(setting).expanduser()
    base = os.environ.get("XDG_CACHE_HOME")
    if not base:
        try:
            base = str(Path.home() / ".cache")
        except (RuntimeError, KeyError):  # no HOME and no password entry (a bare container)
            base = os.path.join(tempfile.gettempdir(), f"qabot-cache-{os.getuid()}")
    return Path(base) / "qabot" / "onnx"


def legacy_cache_dir(index_dir: Path) -> Path:
    """Where builds before the shared cache kept their export: inside the index folder."""
    return Path(index_dir) / "onnx"


def encoder_folder(cache_dir: Path, model_id: str, model_dir: Path | None = None) -> Path:
    """Where the export for `model_id` lives in `cache_dir`, shared by every index.

    With `model_dir`, the name also depends on the size and mtime of the weight files, so a
    replaced model gets a fresh export. Cheap: no model is loaded.
    """
    key: list[Any] = [EXPORT_FORMAT, model_id]
    if model_dir is not None:
        for name in _WEIGHT_FILES:
            file = Path(model_dir) / name
            if file.is_file():
                st = file.stat()
                key.append([name, st.st_size, st.st_mtime_ns])
    digest = hashlib.sha256(json.dumps(key).encode("utf-8")).hexdigest()[:16]
    return Path(cache_dir) / digest


def is_exported(folder: Path) -> bool:
    """True if `folder` holds a complete export of the current format."""
    meta_file = Path(folder) / ENCODER_JSON
    try:
        meta = _read_json(meta_file)
    except (OSError, ValueError):
        return False
    return (
        meta.get("format") == EXPORT_FORMAT
        and (Path(folder) / str(meta.get("graph", MODEL_ONNX))).is_file()
        and (not meta.get("weights") or (Path(folder) / str(meta["weights"])).is_file())
        and (Path(folder) / TOKENIZER_JSON).is_file()
    )


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """An exclusive advisory lock held for the block (no-op where fcntl is missing)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as handle:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX
            yield
            return
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def ensure_exported(model_dir: Path, folder: Path, optimize: bool = True) -> Path:
    """Export into `folder` unless a complete export is already there; returns folder.

    Safe against concurrent builds: a lock file serializes exporters, and the export is made in a
    temporary folder renamed into place, so readers never see a half-written one.
    """
    folder = Path(folder)
    if is_exported(folder):
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    with _file_lock(folder.parent / f".{folder.name}.lock"):
        if is_exported(folder):
            return folder
        for stale in folder.parent.glob(f".{folder.name}.*.tmp"):  # of an exporter that was killed
            shutil.rmtree(stale, ignore_errors=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".tmp", dir=folder.parent))
        try:
            export_onnx(model_dir, tmp, optimize=optimize)
            os.chmod(tmp, 0o755)  # mkdtemp makes 0700
            if folder.exists():  # an incomplete or outdated export
                shutil.rmtree(folder)
            os.replace(tmp, folder)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return folder


# --------------------------------------------------------------------------- queries (no torch)


def padded_arrays(encodings: Sequence[Any], pad_id: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(input ids, attention mask, token type ids) int64 arrays of a batch of `tokenizers`
    encodings, padded on the right to the longest (encodings padded already keep their mask)."""
    import numpy as np

    width = max(len(e.ids) for e in encodings)
    ids = np.full((len(encodings), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(encodings), width), dtype=np.int64)
    types = np.zeros((len(encodings), width), dtype=np.int64)
    for row, e in enumerate(encodings):
        n = len(e.ids)
        ids[row, :n] = e.ids
        mask[row, :n] = e.attention_mask
        types[row, :n] = e.type_ids
    return ids, mask, types


class OnnxQueryEncoder:
    """Normalized float32 vectors from an export folder, with onnxruntime and tokenizers only."""

    def __init__(self, folder: Path, threads: int = 1) -> None:
        self._folder = Path(folder)
        self._threads = max(1, int(threads))
        self._meta = _read_json(self._folder / ENCODER_JSON)
        self._lock = threading.Lock()
        self._session: Any = None
        self._tokenizer: Any = None

    @property
    def folder(self) -> Path:
        return self._folder

    @property
    def dim(self) -> int:
        return int(self._meta["dim"])

    @property
    def max_tokens(self) -> int:
        return int(self._meta["max_seq_length"])

    @property
    def tokenizer(self) -> Any:
        """The `tokenizers` tokenizer questions are cut with (truncated and padded as the model expects)."""
        return self.load()[0]

    def start_loading(self) -> None:
        """Load the tokenizer and create the session in a background thread, so that a cold
        `qabot ask` imports qabot and opens the index meanwhile (onnxruntime releases the GIL
        while it builds the session). The first question waits for it on the lock; a load that
        fails here is tried again, and reported, by that question. Not a daemon: the process
        waits for it at exit rather than tearing onnxruntime down in the middle of a session.
        """
        if self._session is not None:
            return

        def load_quietly() -> None:
            with contextlib.suppress(Exception):
                self.load()

        # numpy is imported here first: its first import in two threads at once (onnxruntime's
        # in the thread, the caller's own) failed now and then ("partially initialized module").
        import numpy  # noqa: F401

        threading.Thread(target=load_quietly, name="qabot-onnx-load").start()

    def load(self) -> tuple[Any, Any]:
        """The tokenizer and the onnxruntime session, created on first use."""
        with self._lock:
            if self._session is None:
                import onnxruntime as ort
                from tokenizers import Tokenizer

                tok = Tokenizer.from_file(str(self._folder / TOKENIZER_JSON))
                # tokenizer.json may carry its own settings (MiniLM's: truncate and pad to 128);
                # sentence-transformers truncates at max_seq_length and pads to the longest text.
                pad = tok.padding or {}
                tok.no_padding()
                tok.enable_truncation(max_length=self.max_tokens, strategy="longest_first")
                tok.enable_padding(
                    direction="right",
                    pad_id=int(pad.get("pad_id", 0)),
                    pad_type_id=int(pad.get("pad_type_id", 0)),
                    pad_token=str(pad.get("pad_token", "[PAD]")),
                )

                opts = ort.SessionOptions()
                opts.intra_op_num_threads = self._threads
                opts.inter_op_num_threads = 1
                opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
                # Idle threads sleep instead of spinning: with spinning, two threads on a machine whose
                # cores are busy with other work took about twice as long per question.
                opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
                opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
                opts.log_severity_level = 3
                graph = self._folder / str(self._meta.get("graph", MODEL_ONNX))
                self._session = ort.InferenceSession(str(graph), opts, providers=["CPUExecutionProvider"])
                self._tokenizer = tok
            return self._tokenizer, self._session

    def run_arrays(self, ids: np.ndarray, mask: np.ndarray, type_ids: np.ndarray) -> np.ndarray:
        """Last hidden states (batch, length, dim), float32, for padded int64 input arrays."""
        import numpy as np

        _, session = self.load()
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._meta.get("inputs", []):
            feeds["token_type_ids"] = type_ids
        hidden: np.ndarray = session.run(None, feeds)[0].astype(np.float32, copy=False)
        return hidden

    def _run(self, encodings: Sequence[Any]) -> np.ndarray:
        ids, mask, types = padded_arrays(encodings)
        return self._pool(self.run_arrays(ids, mask, types), mask)

    def _pool(self, hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
        import numpy as np

        pooling = self._meta.get("pooling", "mean")
        weights = mask.astype(np.float32)[:, :, None]
        if pooling == "cls":
            vecs = hidden[:, 0, :]
        elif pooling == "max":
            vecs = np.where(weights > 0, hidden, np.float32(-1e9)).max(axis=1)
        else:
            summed = (hidden * weights).sum(axis=1)
            count = np.clip(weights.sum(axis=1), 1e-9, None)
            vecs = summed / (np.sqrt(count) if pooling == "mean_sqrt_len_tokens" else count)
        # qabot always stores normalized vectors (the ST embedder passes normalize_embeddings=True).
        norms = np.clip(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12, None)
        return np.ascontiguousarray(vecs / norms, dtype=np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        """One normalized vector (shape (dim,), float32)."""
        tok, _ = self.load()
        return self._run([tok.encode(text)])[0]

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Normalized vectors of a few questions in one run of the model, one row per text. Each row
        equals `embed_query` of its text (padding is masked out; tested on the real model)."""
        tok, _ = self.load()
        # One `encode` per text, padded here: `encode_batch` hands a few short texts to a thread pool
        # (~1 ms more than encoding them in turn).
        return self._run([tok.encode(t) for t in texts])

    def embed(self, texts: Sequence[str], batch_size: int = 32, progress: ProgressCallback | None = None) -> np.ndarray:
        """Normalized float32 vectors, one row per text, in input order."""
        import numpy as np

        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        tok, _ = self.load()
        # Longest first in batches of similar length: less padding, same results.
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        for lo in range(0, len(order), batch_size):
            idx = order[lo : lo + batch_size]
            out[idx] = self._run(tok.encode_batch([texts[i] for i in idx]))
            if progress is not None:
                progress(len(idx))
        return out
