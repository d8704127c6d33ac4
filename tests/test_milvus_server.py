"""The Milvus backend against the real Milvus 2.3.5 standalone server (`pip install milvus==2.3.5`).

2.3.5 has no full-text search (it came in Milvus 2.5): BM25 then runs on the index folder's own
arrays when it holds the same build, and retrieval is dense only when it does not. These tests
check dense search, alias switching, credentials, and `kill -9` of the server in the middle of a
build: after a restart, every generation a build acknowledged is still served.

The server listens on every interface whatever its flags say, so it runs in a network namespace
of its own (tests/milvus_servers.py); each qabot command runs inside that namespace too.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from importlib.util import find_spec
from pathlib import Path

import pytest

from .conftest import ROOT, SEED_FILE
from .milvus_servers import Milvus235

NO_CLIENT = pytest.mark.skipif(
    find_spec("pymilvus") is None, reason="the milvus extra is not installed: pip install -e '.[milvus]'"
)
pytestmark = [pytest.mark.slow, pytest.mark.milvus_server, NO_CLIENT]

TOKEN = "root:Milvus"  # the server's built-in administrator (authorization is on)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Milvus235]:
    Milvus235.check()
    srv = Milvus235(tmp_path_factory.mktemp("milvus235") / "data", auth=True)
    srv.start()
    yield srv
    srv.kill()  # its data is thrown away: SIGTERM waited 30 s for a graceful stop that never came


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("m235")
    seeds = base / "seeds"
    seeds.mkdir()
    shutil.copy2(SEED_FILE, seeds / SEED_FILE.name)
    return seeds, base / "index"


def _env(server: Milvus235, seeds: Path, index: Path, **more: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QABOT_")}
    env.update(
        PYTHONPATH=str(ROOT), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", QABOT_BACKEND="milvus",
        QABOT_MILVUS_URI=server.uri, QABOT_MILVUS_TOKEN=TOKEN, QABOT_MILVUS_COLLECTION="qa235",
        QABOT_SEEDS_DIR=str(seeds), QABOT_INDEX_DIR=str(index),
    )  # fmt: skip
    env.update(more)
    return env


def _qabot(server: Milvus235, env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return server.run([sys.executable, "-m", "qabot", *args], env=env, check=check)


def _ask(server: Milvus235, env: dict[str, str], question: str) -> dict[str, object]:
    return json.loads(_qabot(server, env, "ask", "--json", question).stdout)  # type: ignore[no-any-return]


def _collections(server: Milvus235) -> tuple[list[str], str | None]:
    probe = (
        "import json; from pymilvus import MilvusClient; "
        f"c = MilvusClient(uri={server.uri!r}, token={TOKEN!r}, timeout=10); "
        "a = c.list_aliases().get('aliases', []); "
        "print(json.dumps([sorted(c.list_collections()), "
        "c.describe_alias(alias='qa235')['collection_name'] if 'qa235' in a else None]))"
    )
    names, alias = json.loads(server.run([sys.executable, "-c", probe], timeout=120).stdout)
    return names, alias


def test_dense_search_alias_switch_and_credentials(server: Milvus235, folders: tuple[Path, Path]) -> None:
    seeds, index = folders
    env = _env(server, seeds, index)
    _qabot(server, env, "index", "build")
    status = _qabot(server, env, "index", "status").stdout
    assert "qa235_gen_000001" in status and "BM25: local" in status  # 2.3.5: the folder's BM25 arrays
    answer = _ask(server, env, "How many of the missiles failed?")
    assert "four failed" in str(answer["answer"])
    text = SEED_FILE.open(encoding="utf-8", newline="").read()
    for c in answer["citations"]:  # type: ignore[attr-defined]
        assert text[c["start"] : c["end"]] == c["text"]
    # Another machine, without the folder: dense search only, said once, still answering.
    elsewhere = _env(server, seeds, index.parent / "elsewhere")
    done = _qabot(server, elsewhere, "ask", "--json", "Who is Iran's foreign minister?")
    assert "Javad Zarif" in str(json.loads(done.stdout)["answer"])
    assert "BM25 is off" in done.stderr
    # A new document: a new generation, the alias switched to it.
    (seeds / "moon.txt").write_text("The Moon\n\nThe Moon is Earth's only natural satellite.\n", encoding="utf-8")
    _qabot(server, env, "index", "build")
    names, alias = _collections(server)
    assert alias == "qa235_gen_000002" and "qa235_gen_000001" in names
    assert "natural satellite" in str(_ask(server, env, "What is the Moon?")["answer"])
    # Wrong credentials: one line saying what to do, the token never shown.
    wrong = _qabot(server, _env(server, seeds, index, QABOT_MILVUS_TOKEN="root:wrong"), "ask", "x?", check=False)
    assert wrong.returncode == 1 and wrong.stderr.count("\n") == 1, wrong.stderr
    assert "refused the connection" in wrong.stderr and "QABOT_MILVUS_TOKEN" in wrong.stderr
    assert "root:wrong" not in wrong.stderr


WATCH_COPY = """
import sys, time
from pymilvus import MilvusClient
uri, token, prefix, after = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
client = MilvusClient(uri=uri, token=token, timeout=10)
while True:
    names = client.list_collections()
    newer = [n for n in names if n.startswith(prefix + "_gen_") and n.endswith("_meta")
             and int(n[len(prefix) + 5 : -5]) > after]
    if newer:  # both collections of the next generation exist: its rows are being copied
        print(newer[0][:-5], flush=True)
        break
    time.sleep(0.05)
"""


def _number(collection: str) -> int:
    return int(collection.rsplit("_", 1)[1])


def test_kill_9_mid_copy_keeps_every_acknowledged_generation(server: Milvus235, folders: tuple[Path, Path]) -> None:
    """kill -9 of the server while a build copies a generation into it: after the restart the
    alias still names a complete generation (the last one a build acknowledged), the generation
    kept before it is still there, and the next build cleans up and switches."""
    seeds, index = folders
    env = _env(server, seeds, index)
    (seeds / "moon.txt").write_text("The Moon\n\nThe Moon is Earth's only natural satellite.\n", encoding="utf-8")
    _qabot(server, env, "index", "build")  # acknowledged: its generation holds the Moon
    names, acknowledged = _collections(server)
    assert acknowledged is not None
    kept = [n for n in names if n.startswith("qa235_gen_") and n != acknowledged]  # the previous generation, if any
    for i in range(400):  # enough chunks that the copy takes a while
        (seeds / f"note{i:03d}.txt").write_text(
            f"Note {i}\n\nEntry {i} records that crate {i} holds {i * 7} bolts and {i * 3} nuts.\n"
            f"It was filed by clerk number {i % 17} on day {i % 28 + 1}.\n",
            encoding="utf-8",
        )
    build = server.popen([sys.executable, "-m", "qabot", "index", "build"], env=env)
    watch = server.popen(
        [sys.executable, "-c", WATCH_COPY, server.uri, TOKEN, "qa235", str(_number(acknowledged))], env=env
    )
    deadline = time.monotonic() + 600
    while build.poll() is None and watch.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    server.kill()  # kill -9 mid-copy (or just after, if the build won the race)
    copying = watch.communicate(timeout=60)[0].strip()
    _out, err = build.communicate(timeout=300)
    server.start()
    names, alias = _collections(server)
    print(f"build exit {build.returncode}; killed while copying {copying or '-'}; alias after restart {alias}")
    assert all(n in names for n in kept), (kept, names)  # what was kept before the build is still there
    if build.returncode == 0:  # the build finished first: its generation is the acknowledged one
        assert alias is not None and _number(alias) > _number(acknowledged), names
        acknowledged = alias
    else:
        # Progress lines (stderr is not a terminal) come first; the error is one line saying what to do.
        assert copying, "the server was killed before the copy began"
        assert "Traceback" not in err, err
        assert err.strip().splitlines()[-1].startswith("qabot: Cannot reach Milvus at "), err
        # Killed before the switch: the acknowledged generation. (A kill after the switch, while the
        # build was cleaning up, may leave the new one: then it must be complete.)
        assert alias in (acknowledged, copying), (alias, acknowledged, names)
        assert acknowledged in names and acknowledged + "_meta" in names, names
    assert "natural satellite" in str(_ask(server, env, "What is the Moon?")["answer"])
    assert "four failed" in str(_ask(server, env, "How many of the missiles failed?")["answer"])
    if alias != acknowledged:
        assert "84 bolts" in str(_ask(server, env, "How many bolts does crate 12 hold?")["answer"])
    _qabot(server, env, "index", "build")  # the next build copies again (if needed), switches, drops leftovers
    names, alias = _collections(server)
    assert alias is not None and _number(alias) > _number(acknowledged)
    assert "84 bolts" in str(_ask(server, env, "How many bolts does crate 12 hold?")["answer"])
    assert "natural satellite" in str(_ask(server, env, "What is the Moon?")["answer"])
    assert len([n for n in names if n.startswith("qa235_gen_") and not n.endswith("_meta")]) == 2, names
