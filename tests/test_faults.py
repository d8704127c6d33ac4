"""Fault suite: bad input, odd files, damaged indexes, killed builds, full disks, bad settings.

Every fault must end in one line saying what to do next (never a traceback), keep the index
in use, and leave nothing behind. The real CLI, model, FAISS, SQLite and file systems are
used; the fast tests use the hashed bag-of-words embedder for the builder's own logic.
docs/faults.md counts what was tried and what happened.
"""

from __future__ import annotations

import io
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from qabot import QAEngine, Settings, store
from qabot.cli.app import main
from qabot.errors import DiskFull, InterruptedAfterSwitch, QabotError, SourceError
from qabot.loader import list_sources, markdown_prose, read_document
from qabot.records import Answer, Citation

from .conftest import SEED_FILE
from .fakes import FakeEmbedder

ROOT = Path(__file__).resolve().parent.parent
QUESTION = "How many of the missiles failed?"


def _settings(tmp_path: Path, **kw: Any) -> Settings:
    return Settings(seeds_dir=tmp_path / "seeds", index_dir=tmp_path / "index", _env_file=None, **kw)  # type: ignore[call-arg]


def _seeds(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy2(SEED_FILE, folder / SEED_FILE.name)
    return folder


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QABOT_")}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return {**env, **extra}


def _qabot(*args: str, **kw: Any) -> subprocess.CompletedProcess[str]:
    kw.setdefault("env", _env())
    kw.setdefault("timeout", 900)
    kw.setdefault("stdout", subprocess.PIPE)
    kw.setdefault("stderr", subprocess.PIPE)
    return subprocess.run([sys.executable, "-m", "qabot", *args], text=True, check=False, **kw)


def _names(index: Path) -> list[str]:
    """What an index folder holds, but the embedding cache shared by its generations."""
    return sorted(p.name for p in index.iterdir() if not p.name.startswith("embeddings.sqlite"))


def _one_line(err: str) -> bool:
    return err.count("\n") == 1 and err.startswith("qabot: ") and "Traceback" not in err


# ---------------------------------------------------------------- 1. markup is never read


def test_document_text_questions_and_names_are_never_read_as_markup() -> None:
    from qabot.cli.render import print_answer, quiet_console

    console = quiet_console()
    console.file = io.StringIO()
    text = "Use [red]x[/red] and [/] or [bold]."
    cite = Citation("dir [b]/file\nname.txt", 0, len(text), text, 1.0)
    print_answer(console, Answer("q", text, (cite,), 1.0, {}))
    shown = console.file.getvalue()
    assert shown.count("[red]x[/red] and [/] or [bold].") == 2  # the answer and its quote, as written
    assert "dir [b]/file\\nname.txt:0-" in shown  # a line break in a file name stays on one line
    assert len(shown.strip().splitlines()) == 3  # answer, blank, one citation line


def test_repl_errors_with_brackets_are_shown_as_written() -> None:
    from qabot.cli.render import quiet_console
    from qabot.cli.repl import run_repl

    class Engine:
        def info(self, check_stale: bool = True) -> Any:
            return type("Info", (), {"documents": 1, "chunks": 1})()

        def reload(self) -> bool:
            return False

        def ask(self, question: str, history: Any = ()) -> Answer:
            raise QabotError(f"cannot ask {question}")

    console = quiet_console()
    console.file = io.StringIO()
    old = sys.stdin
    sys.stdin = io.StringIO("what is [/] and [red]this[/red]?\n")
    try:
        assert run_repl(Engine(), console) == 0  # type: ignore[arg-type]
    finally:
        sys.stdin = old
    assert "cannot ask what is [/] and [red]this[/red]?" in console.file.getvalue()


# ---------------------------------------------------------------- 3 and 15. settings


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("QABOT_ABSTAIN_THRESHOLD", "nan", "finite number"),
        ("QABOT_ABSTAIN_THRESHOLD", "inf", "finite number"),
        ("QABOT_DENSE_WEIGHT", "nan", "finite number"),
        ("QABOT_ABSTAIN_THRESHOLD", "2", "less than or equal to 1"),
        ("QABOT_TOP_K", "0", "greater than or equal to 1"),
        ("QABOT_TOP_K", "many", "valid integer"),
        ("QABOT_CHUNK_TOKENS", "99999", "less than or equal to 512"),
        ("QABOT_BUILD_PRECISION", "float8", "'auto', 'bfloat16' or 'float32'"),
        ("QABOT_ONNX_QUERIES", "maybe", "valid boolean"),
        ("QABOT_KEEP_GENERATIONS", "-1", "greater than or equal to 1"),
    ],
)
def test_bad_settings_are_one_line(
    name: str, value: str, expected: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(name, value)
    code = main(["index", "status", "--index", "nowhere"])
    err = capsys.readouterr().err
    assert code == 1 and _one_line(err), err
    assert name.removeprefix("QABOT_") in err and expected in err


def test_a_dotenv_that_is_not_utf8_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    Path(".env").write_bytes(b"QABOT_TOP_K=3\n# caf\xe9 \xff\xfe\n")
    for args in (["index", "status"], ["ask", "hi"], ["index", "build"]):
        code = main(args)
        err = capsys.readouterr().err
        assert code == 1 and _one_line(err), err
        assert "is not UTF-8 (bad byte at offset 19): save it as UTF-8" in err


def test_index_paths_that_cannot_be_folders(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")
    for index in (blocker, blocker / "index"):
        for args in (["index", "status"], ["ask", "hi"], ["index", "build", "--seeds", str(tmp_path)]):
            code = main([*args, "--index", str(index)])
            err = capsys.readouterr().err
            assert code == 1 and _one_line(err) and "not a folder: point --index" in err and "--full" not in err


# ---------------------------------------------------------------- 7. every skipped path named


def _listed_as_nobody(seeds: Path) -> tuple[list[str], list[tuple[str, str]]]:
    """list_sources run in a forked child that dropped root (root reads any folder)."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            os.close(read_end)
            if os.geteuid() == 0:
                os.setgid(65534)
                os.setuid(65534)
            skipped: list[Any] = []
            found = [f.source for f in list_sources(seeds, skipped)]
            os.write(write_end, json.dumps([found, [(x.source, x.reason) for x in skipped]]).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as handle:
        data = handle.read()
    os.waitpid(pid, 0)
    found, skipped = json.loads(data)
    return found, [tuple(x) for x in skipped]


def test_skipped_paths_are_named_with_their_reason(tmp_path: Path) -> None:
    seeds = tmp_path / "seeds"
    (seeds / "ok").mkdir(parents=True)
    (seeds / "ok" / "a.txt").write_text("A readable document.", encoding="utf-8")
    (seeds / "loop1.txt").symlink_to(seeds / "loop2.txt")
    (seeds / "loop2.txt").symlink_to(seeds / "loop1.txt")
    (seeds / "dangling.md").symlink_to(seeds / "gone.md")
    (seeds / "linked-folder").symlink_to(seeds / "ok", target_is_directory=True)
    outside = tmp_path / "secret.txt"
    outside.write_text("outside", encoding="utf-8")
    (seeds / "outside.txt").symlink_to(outside)
    os.mkfifo(seeds / "pipe.txt")
    skipped: list[Any] = []
    files = list_sources(seeds, skipped)
    assert [f.source for f in files] == ["ok/a.txt"]
    reasons = {s.source: s.reason for s in skipped}
    assert reasons == {
        "dangling.md": reasons["dangling.md"],
        "linked-folder/": "link to a folder, not followed (move the folder in)",
        "loop1.txt": "symbolic link loop",
        "loop2.txt": "symbolic link loop",
        "outside.txt": "link leads outside the seeds folder (not followed)",
        "pipe.txt": "not a regular file (a pipe, socket or device)",
    }
    assert reasons["dangling.md"].startswith("broken symbolic link")


def test_an_unreadable_folder_is_named(tmp_path: Path) -> None:
    base = tmp_path / "seeds"
    (base / "locked").mkdir(parents=True)
    (base / "locked" / "x.txt").write_text("hidden", encoding="utf-8")
    (base / "y.txt").write_text("visible", encoding="utf-8")
    for folder in (base, *base.parents):
        if os.geteuid() == 0 and folder != Path("/"):
            folder.chmod(folder.stat().st_mode | 0o005)  # nobody may walk down to the seeds
    (base / "locked").chmod(0o000)
    try:
        assert _listed_as_nobody(base) == (["y.txt"], [("locked/", "folder cannot be read (Permission denied)")])
    finally:
        (base / "locked").chmod(0o755)


def test_a_folder_holding_only_a_loop_says_so(tmp_path: Path) -> None:
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "a.txt").symlink_to(seeds / "a.txt")
    with pytest.raises(SourceError) as info:
        QAEngine(_settings(tmp_path), FakeEmbedder()).build()  # type: ignore[arg-type]
    assert "has no .txt, .md, .html, .pdf or .docx files (skipped 1: a.txt: symbolic link loop)" in str(info.value)


# ---------------------------------------------------------------- 15. markdown, CURRENT


def test_markdown_front_matter_and_code_fences_are_not_prose(tmp_path: Path) -> None:
    text = (
        "---\ntitle: Deploying\nsecret: yes\n---\n# Deploying\n\nRun the tool once a day.\n\n"
        "```bash\nrm -rf / --no-preserve-root\n```\n\nThen check the log.\n~~~\nunclosed fence\n"
    )
    (tmp_path / "seeds").mkdir()
    (tmp_path / "seeds" / "deploy.md").write_text(text, encoding="utf-8")
    doc = read_document(list_sources(tmp_path / "seeds")[0])
    assert not isinstance(doc, type(None)) and hasattr(doc, "text")
    prose = markdown_prose(text)
    assert len(prose) == len(text) and prose == doc.text  # type: ignore[union-attr]
    assert "title" not in prose and "rm -rf" not in prose and "unclosed" not in prose and "```" not in prose
    for kept in ("# Deploying", "Run the tool once a day.", "Then check the log."):
        at = text.index(kept)
        assert prose[at : at + len(kept)] == kept  # offsets index the file itself
    assert doc.title == "# Deploying"  # type: ignore[union-attr]


def test_current_naming_a_deleted_generation_names_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    index = tmp_path / "index"
    index.mkdir()
    (index / store.CURRENT).write_text("gen-000042\n", encoding="utf-8")
    code = main(["ask", "hi", "--index", str(index)])
    err = capsys.readouterr().err
    assert code == 1 and _one_line(err)
    assert "names generation gen-000042, which is not in" in err and "qabot index build" in err


# ---------------------------------------------------------------- 10 and 11. killed builds


def test_leftovers_of_killed_builds_are_cleaned_and_shown(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _seeds(tmp_path / "seeds")
    settings = _settings(tmp_path)
    QAEngine(settings, FakeEmbedder()).build()  # type: ignore[arg-type]
    index = settings.index_dir.resolve()
    dead = 2**22 + 12345  # above the default pid_max: no process has it
    made = [
        index / f".tmp-gen-000007-{dead}",
        index / f".tmp-CURRENT-{dead}",
        index / "gen-000005",  # renamed into place, never completed
        index / "gen-000009",  # complete but never switched to
    ]
    for path in made:
        if "CURRENT" in path.name:
            path.write_text("gen-000009\n", encoding="utf-8")
        else:
            path.mkdir()
            (path / "meta.sqlite").write_bytes(b"partial")
    (index / "gen-000009" / store.MANIFEST).write_text("{}", encoding="utf-8")
    assert sorted(p.name for p in store.leftovers(index)) == sorted(p.name for p in made)
    status = ["index", "status", "--index", str(index), "--seeds", str(settings.seeds_dir), "--model", "fake-embedder"]

    # A live build holds the lock: nothing it may be writing is touched, and status says so.
    with open(index / ".lock", "a+") as held:
        import fcntl

        fcntl.flock(held, fcntl.LOCK_EX)
        assert main(status) == 0
        out = capsys.readouterr().out
        assert "a build is running; it is writing:" in out
        assert all(p.exists() for p in made)
        fcntl.flock(held, fcntl.LOCK_UN)

    assert main(status) == 0
    out = capsys.readouterr().out
    assert "removed 4 leftover(s) of killed builds:" in out and "gen-000009" in out
    assert not any(p.exists() for p in made)
    assert store.names_current(index, "gen-000001")


def test_a_build_cleans_leftovers_before_it_starts(tmp_path: Path) -> None:
    _seeds(tmp_path / "seeds")
    settings = _settings(tmp_path)
    QAEngine(settings, FakeEmbedder()).build()  # type: ignore[arg-type]
    index = settings.index_dir.resolve()
    (index / ".tmp-gen-000002-4194999").mkdir()
    (tmp_path / "seeds" / "more.txt").write_text("More text here.", encoding="utf-8")
    report = QAEngine(settings, FakeEmbedder()).build()  # type: ignore[arg-type]
    assert report.generation == "gen-000002"
    assert [n for n in _names(index) if n != ".lock"] == [
        "CURRENT", "gen-000001", "gen-000002",
    ]  # fmt: skip


def test_interrupt_right_after_the_switch_reports_the_live_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _seeds(tmp_path / "seeds")
    settings = _settings(tmp_path)
    QAEngine(settings, FakeEmbedder()).build()  # type: ignore[arg-type]
    (tmp_path / "seeds" / "more.txt").write_text("More text here.", encoding="utf-8")

    def interrupted(*args: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(store, "prune", interrupted)  # the first step after CURRENT moves
    with pytest.raises(InterruptedAfterSwitch) as info:
        QAEngine(settings, FakeEmbedder()).build()  # type: ignore[arg-type]
    assert "the new index gen-000002" in str(info.value) and "is live" in str(info.value)
    assert store.names_current(settings.index_dir.resolve(), "gen-000002")


# ---------------------------------------------------------------- 12. progress when not a TTY


def test_plain_progress_lines_keep_coming_when_a_stage_is_silent() -> None:
    from rich.console import Console

    from qabot.cli.progress import build_progress

    console = Console(file=io.StringIO(), force_terminal=False, width=200)
    with build_progress(console, every=0.05) as update:
        update("chunking", 0, 1)
        give_up = time.monotonic() + 120  # waited on, not timed
        while console.file.getvalue().count("chunking: 0/1") < 3 and time.monotonic() < give_up:
            time.sleep(0.01)
        update("chunking", 1, 1)
    lines = console.file.getvalue().splitlines()
    assert sum("chunking: 0/1" in line for line in lines) >= 3  # said again while nothing moved
    assert lines[-1].startswith("chunking: 1/1")


# ---------------------------------------------------------------- 2. disk full, simulated


@pytest.mark.parametrize(
    "error",
    [
        OSError(28, "No space left on device"),
        __import__("sqlite3").OperationalError("database or disk is full"),
        RuntimeError("Error: 'ret == (n)' failed: write error in x: 6080 != 8832 (No space left on device)"),
        OSError("8832 requested and 6080 written"),
    ],
    ids=["errno", "sqlite", "faiss", "numpy"],
)
def test_every_out_of_space_error_is_one_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: Any) -> None:
    from qabot import builder

    _seeds(tmp_path / "seeds")
    settings = _settings(tmp_path)
    QAEngine(settings, FakeEmbedder()).build()  # type: ignore[arg-type]
    (tmp_path / "seeds" / "more.txt").write_text("More text here.", encoding="utf-8")

    def full(*args: Any, **kw: Any) -> None:
        raise error

    monkeypatch.setattr(builder, "save_index", full)
    with pytest.raises(DiskFull) as info:
        QAEngine(settings, FakeEmbedder()).build()  # type: ignore[arg-type]
    assert re.fullmatch(r"No space left on .+ \(the previous index is unchanged\): free \d+ MB and rerun "
                        r"`qabot index build`\.", str(info.value))  # fmt: skip
    index = settings.index_dir.resolve()
    assert store.names_current(index, "gen-000001")
    assert _names(index) == [".lock", "CURRENT", "gen-000001"]


# ---------------------------------------------------------------- slow: the real model


@pytest.fixture(scope="module")
def index_copy(seed_engine: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """(seeds, index) copies of the session's seed index, for tests that damage or rebuild it."""
    base = tmp_path_factory.mktemp("faults")
    settings = seed_engine.settings
    shutil.copytree(settings.seeds_dir, base / "seeds")
    shutil.copytree(settings.index_dir, base / "index")
    yield base / "seeds", base / "index"


@pytest.mark.slow
def test_a_closed_pipe_ends_quietly(index_copy: tuple[Path, Path]) -> None:
    seeds, index = index_copy
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first line (`| head -0`): every write fails
    try:
        for args in (["ask", QUESTION], ["ask", "--json", QUESTION]):
            run = _qabot(*args, "--seeds", str(seeds), "--index", str(index), stdout=write_end)
            assert (run.returncode, run.stderr) == (0, ""), args
    finally:
        os.close(write_end)
    # A stream whose reader leaves after the first line (`qabot ask - | head -1`).
    proc = subprocess.Popen(
        [sys.executable, "-m", "qabot", "ask", "--seeds", str(seeds), "--index", str(index), "-"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(),
    )  # fmt: skip
    assert proc.stdin and proc.stdout and proc.stderr
    proc.stdin.write(QUESTION + "\n")
    proc.stdin.flush()
    assert proc.stdout.readline().startswith("Q: ")
    proc.stdout.close()
    proc.stdin.write("Who is Zarif?\n" * 20)
    proc.stdin.close()
    assert proc.wait(timeout=900) == 0
    assert proc.stderr.read() == ""


@pytest.mark.slow
def test_ask_stream_reads_no_markup_and_picks_up_a_rebuilt_index(index_copy: tuple[Path, Path], tmp_path: Path) -> None:
    seeds, index = index_copy
    seeds2, index2 = tmp_path / "seeds", tmp_path / "index"
    shutil.copytree(seeds, seeds2)
    shutil.copytree(index, index2)
    where = ["--seeds", str(seeds2), "--index", str(index2)]
    # Text mode: markup in a question is neither an error nor eaten, and the batch goes on.
    run = _qabot("ask", *where, "-", input="[/]\n[red]How many missiles[/red] failed?\n")
    assert run.returncode == 0 and "Traceback" not in run.stderr, run.stderr
    assert "Q: [/]\n" in run.stdout and "Q: [red]How many missiles[/red] failed?\n" in run.stdout
    # A running JSON stream picks up an index rebuilt between two questions (one line per answer,
    # whatever the answer is, so the test reads exactly one line per question).
    proc = subprocess.Popen(
        [sys.executable, "-m", "qabot", "ask", "--json", *where, "-"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(),
    )  # fmt: skip
    assert proc.stdin and proc.stdout and proc.stderr
    proc.stdin.write("[red]How many missiles[/red] failed?\n")
    proc.stdin.flush()
    first = json.loads(proc.stdout.readline())
    assert first["question"] == "[red]How many missiles[/red] failed?"
    (seeds2 / "moon.txt").write_text("The Lunar Hotel\n\nThe Lunar Hotel has 412 rooms.\n", encoding="utf-8")
    built = _qabot("index", "build", *where)
    assert built.returncode == 0, built.stderr
    out, err = proc.communicate("How many rooms does the Lunar Hotel have?\n", timeout=900)
    assert proc.returncode == 0 and "Traceback" not in err
    second = json.loads(out.splitlines()[-1])
    assert any(c["source"] == "moon.txt" for c in second["citations"]), second
    assert second["answer"] and "412 rooms" in second["answer"], second


@pytest.mark.slow
def test_repl_wraps_between_words(seed_engine: Any) -> None:
    from rich.console import Console

    from qabot.cli.repl import run_repl

    console = Console(file=io.StringIO(), width=40, force_terminal=True, soft_wrap=False, highlight=False,
                      color_system=None)  # fmt: skip
    old = sys.stdin
    sys.stdin = io.StringIO(QUESTION + "\n")
    try:
        run_repl(seed_engine, console)
    finally:
        sys.stdin = old
    shown = console.file.getvalue()
    expected = seed_engine.ask(QUESTION).text
    lines = [line.strip() for line in shown.splitlines()]
    assert len(expected) > 80 and all(len(line) <= 40 for line in lines)
    # Rejoined with spaces, the wrapped lines give the answer back: every break fell between words.
    assert expected in " ".join(lines), shown


@pytest.mark.slow
def test_codewords_are_cited_and_answered_by_their_own_line(embedder: Any, tmp_path: Path) -> None:
    places = [
        "the north gate", "the river lock", "the grain store", "the signal tower", "the east bridge",
        "the copper mine", "the old library", "the harbour crane", "the salt cellar", "the glass furnace",
        "the clock room", "the rope walk", "the paper mill", "the lamp house", "the tide gauge", "the seed bank",
        "the bell loft", "the coal yard", "the wool barn", "the ice house", "the map room", "the oil depot",
        "the fish market", "the stone quarry", "the water tower", "the tin smithy", "the wind pump", "the cider press",
    ]  # fmt: skip
    filler = [
        "The estate keeps its keys in a locked cabinet.", "Visitors must sign the ledger at the lodge.",
        "Each season the steward reviews the list of codes.", "Old codes are burnt after the harvest festival.",
    ]  # fmt: skip
    lines = [f"The probe codeword WOMBAT{i} opens {place}." for i, place in enumerate(places, start=1)]
    layouts = {
        "lines": "Codewords of the estate\n\n" + "\n".join(lines) + "\n",
        "paragraphs": "Codewords of the estate\n\n"
        + "\n\n".join(f"{filler[i % 4]} {filler[(i + 1) % 4]} {line} {filler[(i + 2) % 4]}" for i, line in
                      enumerate(lines))
        + "\n",
    }  # fmt: skip
    for name, text in layouts.items():
        base = tmp_path / name
        (base / "seeds").mkdir(parents=True)
        (base / "seeds" / "codes.txt").write_text(text, encoding="utf-8")
        engine = QAEngine.from_settings(
            Settings(seeds_dir=base / "seeds", index_dir=base / "index", _env_file=None), embedder=embedder
        )
        for i, line in enumerate(lines, start=1):
            for question in (f"probe codeword WOMBAT{i}", f"What does WOMBAT{i} open?"):
                answer = engine.ask(question, k=5)
                assert any(line in text[c.start : c.end] for c in answer.citations), (name, question)
                assert answer.text == f"{line} [1]", (name, question, answer.text)


def _damage(path: Path, how: str) -> None:
    data = path.read_bytes()
    if how == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif how == "empty":
        path.write_bytes(b"")
    else:  # garbage: the same length of random bytes after the first 16
        rng = random.Random(path.name)
        path.write_bytes(data[:16] + bytes(rng.randrange(256) for _ in range(max(0, len(data) - 16))))


@pytest.mark.slow
def test_every_damaged_index_file_is_one_line_naming_the_command(
    index_copy: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seeds, index = index_copy
    gen = store.open_generation(index).path
    files = [*sorted(p.relative_to(index) for p in gen.rglob("*") if p.is_file()), Path(store.CURRENT)]
    assert len(files) >= 9
    tried = 0
    for rel in files:
        for how in ("truncated", "garbage", "empty"):
            copy = tmp_path / f"{rel.name}-{how}"
            shutil.copytree(index, copy)
            _damage(copy / rel, how)
            for args in (["ask", QUESTION], ["index", "status"]):
                code = main([*args, "--seeds", str(seeds), "--index", str(copy)])
                out, err = capsys.readouterr()
                tried += 1
                if code == 0:  # damage the reader does not depend on (e.g. garbage after a JSON's end)
                    assert args[0] == "index" or "four failed" in out, (rel, how, out)
                    continue
                assert code == 1 and _one_line(err), (rel, how, err)
                assert "qabot index build" in err, (rel, how, err)
            shutil.rmtree(copy)
    assert tried == len(files) * 6


@pytest.mark.slow
def test_kill_9_at_random_points_of_a_build_keeps_the_previous_index(tmp_path: Path) -> None:
    seeds, index = _seeds(tmp_path / "seeds"), tmp_path / "index"
    first = _qabot("index", "build", "--seeds", str(seeds), "--index", str(index))
    assert first.returncode == 0, first.stderr
    assert "reading: 1/1" in first.stderr and "embedding:" in first.stderr  # plain progress lines (not a TTY)
    text = SEED_FILE.read_text(encoding="utf-8")
    for i in range(40):
        (seeds / f"copy_{i:02d}.txt").write_text(f"Copy {i}.\n\n{text.replace('Iran', f'Iran{i}')}", encoding="utf-8")
    rng = random.Random(9)
    for round_ in range(4):
        build = subprocess.Popen(
            [sys.executable, "-m", "qabot", "index", "build", "--full", "--seeds", str(seeds), "--index", str(index)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=_env(),
        )  # fmt: skip
        stage = rng.choice(["started", "writing"])
        give_up = time.monotonic() + 600
        while stage == "writing" and not list(index.glob(".tmp-gen-*")) and time.monotonic() < give_up:
            if build.poll() is not None:
                break
            time.sleep(0.05)
        time.sleep(rng.uniform(0, 2.0))
        build.send_signal(signal.SIGKILL)
        build.wait(timeout=60)
        live = (index / store.CURRENT).read_text(encoding="utf-8").strip()
        assert store.open_generation(index).name == live, round_
        ask = _qabot("ask", "--json", QUESTION, "--seeds", str(seeds), "--index", str(index))
        assert ask.returncode == 0 and "four failed" in json.loads(ask.stdout)["answer"], (round_, ask.stderr)
        assert store.leftovers(index) == [], round_  # the ask that opened it cleaned what the kill left
    final = _qabot("index", "build", "--seeds", str(seeds), "--index", str(index))
    assert final.returncode == 0, final.stderr


@pytest.mark.slow
def test_concurrent_builds_and_asks(index_copy: tuple[Path, Path], tmp_path: Path) -> None:
    seeds, index = tmp_path / "seeds", tmp_path / "index"
    shutil.copytree(index_copy[0], seeds)
    shutil.copytree(index_copy[1], index)
    text = SEED_FILE.read_text(encoding="utf-8")
    for i in range(20):
        (seeds / f"copy_{i:02d}.txt").write_text(f"Copy {i}.\n\n{text.replace('Iran', f'Iran{i}')}", encoding="utf-8")
    cmd = [sys.executable, "-m", "qabot", "index", "build", "--full", "--seeds", str(seeds), "--index", str(index)]
    builds = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())
              for _ in range(2)]  # fmt: skip
    asks: list[subprocess.CompletedProcess[str]] = []

    def ask_meanwhile() -> None:
        while any(b.poll() is None for b in builds) or not asks:
            asks.append(_qabot("ask", "--json", QUESTION, "--seeds", str(seeds), "--index", str(index)))

    asker = threading.Thread(target=ask_meanwhile)
    asker.start()
    results = [b.communicate(timeout=1800) for b in builds]
    asker.join(timeout=1800)
    codes = sorted(b.returncode for b in builds)
    refused = [err for b, (_, err) in zip(builds, results, strict=True) if b.returncode == 1]
    assert codes in ([0, 0], [0, 1]), results
    assert all(_one_line(err) and "Another build is writing" in err for err in refused)
    assert asks and all(a.returncode == 0 and json.loads(a.stdout)["citations"] for a in asks), asks
    assert store.leftovers(index) == []


def _mount_tmpfs(where: Path, size: int) -> None:
    where.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], check=True)


def _fill(folder: Path, leave: int) -> None:
    """Leave about `leave` bytes free on folder's file system."""
    free = store.free_bytes(folder)
    with open(folder / "filler", "wb") as handle:
        handle.write(b"\0" * max(0, free - leave))


needs_mount = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("mount") is None, reason="mounting a small tmpfs needs root"
)


@pytest.mark.slow
@needs_mount
def test_disk_full_on_a_real_small_filesystem(embedder: Any, tmp_path: Path) -> None:
    """A real tmpfs of a few MB, filled to several levels: each build fails in a different file
    (SQLite, FAISS, sentence vectors, BM25, manifest) or succeeds; never a traceback or a leftover."""
    small, big = _seeds(tmp_path / "small"), _seeds(tmp_path / "big")
    text = SEED_FILE.read_text(encoding="utf-8")
    for i in range(6):
        (big / f"copy_{i}.txt").write_text(f"Copy {i}.\n\n{text.replace('Iran', f'Iran{i}')}", encoding="utf-8")
    previous = tmp_path / "previous"
    QAEngine(Settings(seeds_dir=small, index_dir=previous, onnx_queries=False, _env_file=None), embedder).build()
    probe = tmp_path / "probe"  # how big the new generation is, file by file, in write order
    QAEngine(Settings(seeds_dir=big, index_dir=probe, onnx_queries=False, _env_file=None), embedder).build()
    gen = store.open_generation(probe).path
    names = (store.META, store.VECTORS, store.SENTENCE_VECTORS, store.BM25_DIR, store.MANIFEST)
    sizes = [(name, store.tree_bytes(gen / name) if (gen / name).is_dir() else (gen / name).stat().st_size)
             for name in names]  # fmt: skip
    levels, written = [0], 0
    for _, size in sizes:
        levels.append(written + size // 2)
        written += size
    mnt = tmp_path / "mnt"
    _mount_tmpfs(mnt, written * 2 + 8_000_000)
    outcomes: list[str] = []
    tried: list[int] = []

    def attempt(leave: int) -> str:
            for child in mnt.iterdir():
                shutil.rmtree(child) if child.is_dir() else child.unlink()
            index = mnt / "index"
            shutil.copytree(previous, index)
            _fill(mnt, leave)
            settings = Settings(seeds_dir=big, index_dir=index, onnx_queries=False, _env_file=None)
            tried.append(leave)
            try:
                QAEngine(settings, embedder).build()
                outcomes.append("built")
                return "built"
            except DiskFull as exc:
                import traceback

                cause = exc.__cause__
                stack = traceback.extract_tb(cause.__traceback__ if cause else None)
                frames = [f for f in stack if "qabot" in f.filename]
                where = (frames[-1].line or "?").split("(")[0].strip() if frames else "?"
                outcomes.append(f"{type(cause).__name__} in {where}")
                assert re.fullmatch(
                    rf"No space left on {re.escape(str(index))} \(the previous index is unchanged\): "
                    r"free \d+ MB and rerun `qabot index build`\.", str(exc)
                )  # fmt: skip
            assert store.names_current(index, "gen-000001")
            assert _names(index) == [".lock", "CURRENT", "gen-000001"]
            engine = QAEngine(settings, embedder)
            engine.reload(force=True)
            answer = engine.ask(QUESTION)
            assert answer.text and "four failed" in answer.text
            return outcomes[-1]

    try:
        for leave in levels:
            if attempt(leave) == "built":
                break
        # Page rounding makes the last, small files hard to aim at: try a few levels just below
        # the first one that was enough.
        enough = next((lv for lv, out in zip(tried, outcomes, strict=True) if out == "built"), written)
        below = max(lv for lv, out in zip(tried, outcomes, strict=True) if out != "built")
        while enough - below > 4096:  # bisect to a page: the last levels that fail hit the last files
            middle = (below + enough) // 2
            if attempt(middle) == "built":
                enough = middle
            else:
                below = middle
        attempt(written + 4_000_000)
        # The CLI says it in one line too.
        for child in mnt.iterdir():
            shutil.rmtree(child) if child.is_dir() else child.unlink()
        shutil.copytree(previous, mnt / "index")
        _fill(mnt, levels[2])
        run = _qabot("index", "build", "--seeds", str(big), "--index", str(mnt / "index"),
                     env=_env(QABOT_ONNX_QUERIES="false"))  # fmt: skip
        assert run.returncode == 1 and run.stderr.splitlines()[-1].startswith("qabot: No space left on ")
        assert "Traceback" not in run.stderr and _names(mnt / "index") == [
            ".lock", "CURRENT", "gen-000001",
        ]  # fmt: skip
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)
    print("disk-full outcomes by level:", list(zip(tried, outcomes, strict=True)))
    assert outcomes[-1] == "built" and outcomes[0] != "built", outcomes
    assert len({o for o in outcomes if o != "built"}) >= 3, outcomes  # failures in files of different libraries


@pytest.mark.slow
@needs_mount
def test_a_full_disk_during_the_onnx_export_is_said_once_per_generation(
    embedder: Any, index_copy: tuple[Path, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    seeds, index = index_copy
    mnt = tmp_path / "cache"
    _mount_tmpfs(mnt, 4_000_000)  # the export needs about 90 MB
    try:
        copy = tmp_path / "index"
        shutil.copytree(index, copy)
        settings = Settings(seeds_dir=seeds, index_dir=copy, onnx_cache_dir=mnt, _env_file=None)
        from qabot.embedder import SentenceTransformerEmbedder

        fresh = SentenceTransformerEmbedder()  # nothing attached yet
        with caplog.at_level("WARNING"):
            QAEngine(settings, fresh).reload(force=True)
        said = [r.getMessage() for r in caplog.records if "ONNX export failed" in r.getMessage()]
        assert len(said) == 1 and re.search(r"No space left on .+: free \d+ MB and rerun", said[0]), said
        assert [p.name for p in mnt.iterdir() if not p.name.endswith(".lock")] == []  # nothing half-written
        caplog.clear()
        with caplog.at_level("WARNING"):
            engine = QAEngine(settings, SentenceTransformerEmbedder())
            engine.reload(force=True)  # the same generation: not tried again
            assert "four failed" in (engine.ask(QUESTION).text or "")
        assert not [r for r in caplog.records if "ONNX" in r.getMessage()]
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


@pytest.mark.slow
def test_one_onnx_export_per_model_shared_by_small_indexes(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    env = _env(QABOT_ONNX_CACHE_DIR=str(cache))
    seeds = _seeds(tmp_path / "seeds")
    runs = [
        subprocess.Popen(
            [sys.executable, "-m", "qabot", "ask", "--json", QUESTION, "--seeds", str(seeds), "--index",
             str(tmp_path / f"index{i}")],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        )
        for i in range(2)
    ]  # fmt: skip  -- two processes build and export at the same time into one fresh cache
    for run in runs:
        out, err = run.communicate(timeout=1800)
        assert run.returncode == 0 and "four failed" in json.loads(out)["answer"], err
    exports = [p for p in cache.iterdir() if not p.name.startswith(".")]
    assert len(exports) == 1 and len(list(exports[0].glob("*.onnx"))) == 1
    assert [p.name for p in cache.iterdir() if p.name.endswith(".tmp")] == []
    for i in range(2):
        assert not (tmp_path / f"index{i}" / "onnx").exists()
        assert store.tree_bytes(tmp_path / f"index{i}") < 1_000_000  # kilobytes, not 173 MB


@pytest.mark.slow
def test_a_failed_export_is_not_retried_on_every_ask(index_copy: tuple[Path, Path], tmp_path: Path) -> None:
    seeds, index = index_copy
    copy = tmp_path / "index"
    shutil.copytree(index, copy)
    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")
    env = _env(QABOT_ONNX_CACHE_DIR=str(blocker / "cache"))  # cannot be created
    first = _qabot("ask", QUESTION, "--seeds", str(seeds), "--index", str(copy), env=env)
    assert first.returncode == 0 and first.stderr.count("ONNX export failed") == 1, first.stderr
    for _ in range(2):
        again = _qabot("ask", QUESTION, "--seeds", str(seeds), "--index", str(copy), env=env)
        assert again.returncode == 0 and "four failed" in again.stdout and "ONNX" not in again.stderr


@pytest.mark.slow
def test_sigint_after_the_switch_reports_the_live_index(tmp_path: Path) -> None:
    seeds, index = _seeds(tmp_path / "seeds"), tmp_path / "index"
    env = _env(QABOT_ONNX_CACHE_DIR=str(tmp_path / "cache"))  # a fresh cache: the export runs after the switch
    build = subprocess.Popen(
        [sys.executable, "-m", "qabot", "index", "build", "--seeds", str(seeds), "--index", str(index)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    assert build.stderr
    for line in build.stderr:
        if line.startswith("exporting: 0/1"):
            break
    build.send_signal(signal.SIGINT)
    _, err = build.communicate(timeout=900)
    if build.returncode == 0:
        pytest.skip("the export finished before the signal arrived")
    assert build.returncode == 130 and "Traceback" not in err, err
    assert "is live" in err.splitlines()[-1] and "unchanged" not in err.splitlines()[-1]
    assert store.names_current(index, "gen-000001")


@pytest.mark.slow
@pytest.mark.parametrize("how", ["truncated", "garbage"])
def test_a_damaged_onnx_export_falls_back_to_torch_once(
    index_copy: tuple[Path, Path], tmp_path: Path, how: str
) -> None:
    from qabot.onnx_encoder import onnx_cache_dir

    seeds, index = index_copy
    cache = tmp_path / "cache"
    shutil.copytree(onnx_cache_dir(), cache)  # the session's export (made by the seed index's build)
    exports = [p for p in cache.iterdir() if p.is_dir() and not p.name.startswith(".")]
    assert len(exports) == 1
    _damage(next(exports[0].glob("*.onnx")), how)
    env = _env(QABOT_ONNX_CACHE_DIR=str(cache))
    run = _qabot("ask", QUESTION, "--seeds", str(seeds), "--index", str(index), env=env)
    assert run.returncode == 0 and "four failed" in run.stdout, run.stderr
    assert run.stderr.count("is damaged") == 1 and "Traceback" not in run.stderr
    assert not exports[0].exists()  # removed: the next build or ask makes it again


def test_a_page_damaged_after_opening_is_one_line_at_question_time(tmp_path: Path) -> None:
    from qabot.errors import IndexCorrupt
    from qabot.reader import IndexReader

    seeds = _seeds(tmp_path / "seeds")
    for i in range(30):
        (seeds / f"doc{i}.txt").write_text(f"Document {i}.\n\n" + "Words of the document. " * 60, encoding="utf-8")
    settings = _settings(tmp_path)
    QAEngine(settings, FakeEmbedder()).build()  # type: ignore[arg-type]
    reader = IndexReader(store.open_generation(settings.index_dir.resolve()))
    meta = reader.path / store.META
    data = bytearray(meta.read_bytes())
    page = 4096
    for at in range(2 * page, len(data), page):  # every page after the schema: garbage
        data[at : at + page] = random.Random(at).randbytes(min(page, len(data) - at))
    meta.write_bytes(bytes(data))
    with pytest.raises(IndexCorrupt, match=r"is damaged .*qabot index build"):
        for doc_id in range(31):
            reader.document(doc_id)
