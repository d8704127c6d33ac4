"""Publish the generation built in the index folder as a new Milvus generation, then switch to it.

The build itself runs as with the folder backend (same chunks, same embedding cache, so a
rebuild embeds only what changed); this copies its rows into two new collections, waits until
the server holds them all, writes the manifest rows last, and only then moves the alias.
Anything that stops it earlier (an error, Ctrl-C, the server dying) leaves the alias where it
was; the half-written collections are dropped then or by the next build.
"""

from __future__ import annotations

import base64
import contextlib
import json
import sqlite3
import time
from collections import Counter
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from .. import store
from ..chunker import TITLE_MAX_CHARS
from ..errors import BuildInterrupted, ConfigError, IndexMismatch, IndexMissing
from ..lexical import tokenize
from ..reader import IndexReader
from ..records import Document
from ..settings import Settings
from . import milvus_layout as layout
from .milvus_client import call, connect, where

if TYPE_CHECKING:
    from ..builder import BuildProgress

INSERT_BATCH = 256


def publish(settings: Settings, model: str, progress: BuildProgress | None = None) -> str:
    """Make the folder's current generation the one Milvus serves; its collection name.

    Nothing is copied when the alias already names a copy of that same generation (leftovers of
    an interrupted copy are still dropped).
    """
    local = store.open_generation(settings.index_dir, model=model)
    client = connect(settings)
    try:
        return _publish(settings, client, local, progress)
    finally:
        with contextlib.suppress(Exception):
            client.close()


def _publish(
    settings: Settings, client: Any, local: store.Generation, progress: BuildProgress | None = None
) -> str:
    prefix = settings.milvus_collection
    origin = {
        "generation": local.name, "built_at": local.manifest.get("built_at"), "index_dir": str(settings.index_dir)
    }  # fmt: skip
    in_use = current_collection(settings, client)
    refuse_foreign(settings, client, in_use)
    if in_use is not None:
        manifest = read_manifest(settings, client, in_use)
        if manifest is not None and manifest.get("milvus", {}).get("origin") == origin:
            prune(settings, client, settings.keep_generations)  # leftovers of a build that died mid-copy
            return in_use
    names = call(settings, client.list_collections)
    numbers = [n for name in names if (n := layout.generation_number(prefix, name)) is not None]
    name = layout.generation_collection(prefix, max(numbers, default=0) + 1)
    try:
        _copy(settings, client, local, name, origin, progress)
        if in_use is None:
            call(settings, lambda: client.create_alias(collection_name=name, alias=prefix))
        else:
            call(settings, lambda: client.alter_alias(collection_name=name, alias=prefix))
    except KeyboardInterrupt as exc:
        _drop_quietly(client, name)
        raise BuildInterrupted(
            f"Build interrupted before {where(settings)} switched; it still serves the previous index. "
            "Run `qabot index build` again."
        ) from exc
    except BaseException:
        _drop_quietly(client, name)
        raise
    prune(settings, client, settings.keep_generations)
    return name


def current_collection(settings: Settings, client: Any) -> str | None:
    """The collection the alias names, or None when there is no alias yet (one request when there is)."""
    prefix = settings.milvus_collection
    try:
        return str(client.describe_alias(alias=prefix)["collection_name"])
    except Exception:  # no such alias, or the server failed: ask which  # noqa: BLE001
        aliases = call(settings, lambda: client.list_aliases()).get("aliases", [])
        if prefix not in aliases:
            return None
        return str(call(settings, lambda: client.describe_alias(alias=prefix))["collection_name"])


def refuse_foreign(settings: Settings, client: Any, in_use: str | None) -> None:
    """IndexMismatch when the prefix belongs to something qabot did not make: an alias naming
    another collection, or a collection of that very name (qabot never moves or drops those)."""
    prefix = settings.milvus_collection
    if in_use is not None and layout.generation_number(prefix, in_use) is None:
        raise IndexMismatch(
            f"Alias {prefix!r} in {where(settings)} names collection {in_use!r}, which qabot did not make: "
            "choose another QABOT_MILVUS_COLLECTION."
        )
    if in_use is None and prefix in call(settings, client.list_collections):
        raise IndexMismatch(
            f"{where(settings)} already has a collection named {prefix!r}, which qabot did not make: "
            "choose another QABOT_MILVUS_COLLECTION."
        )


def read_manifest(settings: Settings, client: Any, collection: str) -> dict[str, Any] | None:
    """The manifest of a complete generation (None when it has no manifest rows yet)."""
    meta = layout.meta_collection(collection)
    if not call(settings, lambda: client.has_collection(meta)):
        return None
    call(settings, lambda: client.load_collection(meta))
    rows = call(
        settings, lambda: client.query(meta, filter='grp == "manifest"', output_fields=["num", "value"], limit=16384)
    )
    if not rows:
        return None
    text = "".join(r["value"] for r in sorted(rows, key=lambda r: r["num"]))
    manifest = json.loads(text)
    return manifest if isinstance(manifest, dict) else None


def prune(settings: Settings, client: Any, keep: int) -> None:
    """Drop all but the newest `keep` complete generations (never the one in use) and incomplete ones."""
    prefix = settings.milvus_collection
    in_use = current_collection(settings, client)
    names = call(settings, client.list_collections)
    gens = sorted(
        ((n, name) for name in names if (n := layout.generation_number(prefix, name)) is not None), reverse=True
    )
    kept = 0
    for _, name in gens:
        if name == in_use:
            kept += 1
            continue
        complete = read_manifest(settings, client, name) is not None
        if complete and kept < keep:
            kept += 1
            continue
        _drop_quietly(client, name)


def _drop_quietly(client: Any, name: str) -> None:
    for coll in (name, layout.meta_collection(name)):
        with contextlib.suppress(Exception):  # best effort: the next build drops leftovers again
            client.drop_collection(coll)


def _copy(
    settings: Settings,
    client: Any,
    local: store.Generation,
    name: str,
    origin: dict[str, Any],
    progress: BuildProgress | None,
) -> None:
    """Create the collections of generation `name` from the folder generation `local`."""
    version = str(call(settings, client.get_server_version))
    full_text = layout.has_full_text_search(version)
    counts = local.manifest.get("counts", {})
    n_chunks = int(counts.get("chunks", 0))
    dim = int(local.manifest.get("embedder", {}).get("dim", 0))
    meta = layout.meta_collection(name)
    for coll in (name, meta):
        if call(settings, lambda c=coll: client.has_collection(c)):  # type: ignore[misc]
            call(settings, lambda c=coll: client.drop_collection(c))  # type: ignore[misc]
    call(
        settings,
        lambda: client.create_collection(
            name,
            schema=layout.chunk_schema(client, dim, full_text),
            index_params=layout.chunk_index_params(client, n_chunks, full_text),
        ),
    )
    call(
        settings,
        lambda: client.create_collection(
            meta, schema=layout.meta_schema(client), index_params=layout.meta_index_params(client)
        ),
    )
    reader = IndexReader(local)
    try:
        df: Counter[str] = Counter()
        done = 0
        if progress:
            progress("uploading", 0, n_chunks)
        for batch in _batches(_chunk_rows(reader, df), INSERT_BATCH):
            call(settings, lambda b=batch: client.insert(name, b))  # type: ignore[misc]
            done += len(batch)
            if progress:
                progress("uploading", done, n_chunks)
        for batch in _batches(_meta_rows(reader, df), INSERT_BATCH):
            call(settings, lambda b=batch: client.insert(meta, b))  # type: ignore[misc]
    finally:
        reader.close()
    call(settings, lambda: client.flush(name))
    call(settings, lambda: client.flush(meta))
    call(settings, lambda: client.load_collection(name))
    call(settings, lambda: client.load_collection(meta))
    held = _count(settings, client, name)
    if held != n_chunks:
        raise IndexMissing(f"{where(settings)} holds {held} of {n_chunks} chunks after the upload: build again.")
    manifest = dict(local.manifest)
    manifest["generation"] = name
    manifest["milvus"] = {
        "layout": layout.LAYOUT_VERSION, "full_text": full_text, "origin": origin, "documents": _sources_by_id(reader),
        "sources": _source_records(reader),
    }  # fmt: skip
    text = json.dumps(manifest, sort_keys=True, ensure_ascii=False)
    pieces = [text[i : i + layout.MANIFEST_PIECE] for i in range(0, len(text), layout.MANIFEST_PIECE)]
    rows = [_meta_row(f"manifest:{i}", "manifest", i, piece) for i, piece in enumerate(pieces)]
    for batch in _batches(iter(rows), INSERT_BATCH):
        call(settings, lambda b=batch: client.insert(meta, b))  # type: ignore[misc]
    call(settings, lambda: client.flush(meta))
    for _ in range(50):  # a flushed row is searchable at once on Lite; a server may need a moment
        if read_manifest(settings, client, name) is not None:
            return
        time.sleep(0.2)
    raise IndexMissing(f"{where(settings)} did not keep the manifest of {name}: build again.")


def _count(settings: Settings, client: Any, name: str) -> int:
    rows = call(settings, lambda: client.query(name, filter="", output_fields=["count(*)"]))
    return int(rows[0]["count(*)"]) if rows else 0


def _batches(rows: Iterator[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _fits(value: str, what: str) -> str:
    if len(value.encode("utf-8")) > layout.TEXT_MAX:
        raise ConfigError(
            f"{what} is longer than Milvus's VARCHAR limit ({layout.TEXT_MAX:,} bytes): "
            "lower QABOT_CHUNK_TOKENS or use QABOT_BACKEND=faiss."
        )
    return value


def _chunk_rows(reader: IndexReader, df: Counter[str]) -> Iterator[dict[str, Any]]:
    """One row per chunk, in id order; counts each BM25 word's chunks into `df` on the way."""
    import numpy as np

    conn = store.connect(reader.path / store.META)
    try:
        cursor = conn.execute(
            'SELECT c.id, c.doc_id, c.start, c."end", c.sent_lo, c.sent_hi, c.titled FROM chunks c ORDER BY c.id'
        )
        for cid, doc_id, start, end, lo, hi, titled in cursor:
            source, text = reader.document(doc_id)
            chunk = text[start:end]
            title = Document(source, text, "").title[:TITLE_MAX_CHARS]
            stems = tokenize(f"{title}\n{chunk}" if titled else chunk)
            df.update(set(stems))
            sents = reader.sentences(lo, hi)
            vecs = np.asarray(reader.sentence_vectors[lo:hi], dtype=np.float16) if hi > lo else np.zeros((0, 0))
            yield {
                "id": int(cid),
                "vector": [float(x) for x in reader.chunk_vector(cid)],
                "doc_id": int(doc_id),
                "source": _fits(source, f"The source name {source!r}"),
                "span_start": int(start),
                "span_end": int(end),
                "sent_lo": int(lo),
                "sent_hi": int(hi),
                "doc_first": len(text) - len(text.lstrip()),
                "text": _fits(chunk, f"Chunk {cid} of {source}"),
                "sentences": _fits(
                    json.dumps([[s.sentence_id, s.start, s.end] for s in sents]), f"The sentence list of chunk {cid}"
                ),
                "sentence_vectors": _fits(
                    base64.b64encode(np.ascontiguousarray(vecs).tobytes()).decode("ascii"),
                    f"The sentence vectors of chunk {cid} of {source}",
                ),
                "lexical": _fits(" ".join(stems), f"The words of chunk {cid}"),
            }
    finally:
        conn.close()


def _sources_by_id(reader: IndexReader) -> list[str]:
    """Every document's source, at its id's place (ids are 0..n-1)."""
    conn = store.connect(reader.path / store.META)
    try:
        rows = conn.execute("SELECT id, source FROM documents ORDER BY id").fetchall()
    finally:
        conn.close()
    out = [""] * (max((int(r[0]) for r in rows), default=-1) + 1)
    for doc_id, source in rows:
        out[int(doc_id)] = source
    return out


def _source_records(reader: IndexReader) -> dict[str, dict[str, Any]]:
    """What the build saw of every file (sha256, size, mtime, skip reason), for staleness checks."""
    conn = store.connect(reader.path / store.META)
    try:
        rows = conn.execute("SELECT source, sha256, size, mtime_ns, skipped FROM sources").fetchall()
    finally:
        conn.close()
    return {s: {"sha256": h, "size": n, "mtime_ns": m, "skipped": k} for s, h, n, m, k in rows}


def _page_rows(reader: IndexReader) -> Iterator[dict[str, Any]]:
    """Each PDF document's page starts (an index without the pages table has none)."""
    conn = store.connect(reader.path / store.META)
    try:
        try:
            rows = conn.execute("SELECT doc_id, page, start FROM pages ORDER BY doc_id, page").fetchall()
        except sqlite3.OperationalError:
            rows = []
    finally:
        conn.close()
    pages: dict[int, list[int]] = {}
    for doc_id, _page, start in rows:
        pages.setdefault(int(doc_id), []).append(int(start))
    for doc_id, starts in pages.items():
        value = _fits(json.dumps(starts), f"The page starts of document {doc_id}")
        yield _meta_row(f"p:{doc_id}", "pages", doc_id, value)


def _meta_row(key: str, grp: str, num: int, value: str) -> dict[str, Any]:
    return {"key": key, "grp": grp, "num": num, "value": value, "v": [0.0] * layout.META_DIM}


def _meta_rows(reader: IndexReader, df: Counter[str]) -> Iterator[dict[str, Any]]:
    """Each BM25 word with its document frequency, then every document's text in pieces."""
    for stem, n in df.items():
        if len(stem) <= layout.TERM_MAX:
            yield _meta_row(f"t:{stem}", f"t:{stem[:1]}", n, stem)
    yield from _page_rows(reader)
    conn = store.connect(reader.path / store.META)
    try:
        doc_ids = [int(r[0]) for r in conn.execute("SELECT id FROM documents ORDER BY id")]
    finally:
        conn.close()
    for doc_id in doc_ids:
        _, text = reader.document(doc_id)
        for i in range(0, max(len(text), 1), layout.DOC_PIECE):
            yield _meta_row(f"d:{doc_id}:{i // layout.DOC_PIECE}", f"d:{doc_id}", i // layout.DOC_PIECE,
                            text[i : i + layout.DOC_PIECE])  # fmt: skip
