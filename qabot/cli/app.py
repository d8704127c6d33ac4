"""The `qabot` command. Turns QabotError into one line on stderr and exit code 1.

    qabot index build [--seeds DIR] [--index DIR] [--full] [--json]
    qabot index status [--index DIR]
    qabot ask "QUESTION" [--index DIR] [-k N] [--json] [--generate]   (QUESTION "-" reads stdin, one per line)
    qabot show SOURCE[:START-END] [--index DIR] [-C N]
    qabot repl [--index DIR]
    qabot eval DATASET.jsonl [--index DIR] [-k N] [--json]
    qabot discord
    qabot feedback export [--log FILE] [--out FILE]         (the bot's rated questions as an eval dataset)

Exit codes: 0 answered or abstained, 1 user error, 2 usage, 130 interrupted.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import __version__
from ..errors import BuildInterrupted, ConfigError, QabotError

if TYPE_CHECKING:
    from rich.console import Console

    from ..embedder import Embedder
    from ..engine import QAEngine
    from ..settings import Settings


def _folder(value: str) -> Path:
    if not value.strip():
        raise argparse.ArgumentTypeError("must not be empty (give a folder path)")
    return Path(value)


def _top_k(value: str) -> int:
    try:
        k = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if not 1 <= k <= 50:
        raise argparse.ArgumentTypeError("must be between 1 and 50")
    return k


def _context(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if not 0 <= n <= 100_000:
        raise argparse.ArgumentTypeError("must be between 0 and 100000")
    return n


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--seeds", type=_folder, metavar="DIR", help="documents folder (QABOT_SEEDS_DIR, default seeds)"
    )
    common.add_argument("--index", type=_folder, metavar="DIR", help="index folder (QABOT_INDEX_DIR, default index)")
    common.add_argument("--model", metavar="NAME", help="embedding model (QABOT_MODEL)")

    parser = argparse.ArgumentParser(
        prog="qabot", description="Answers questions from a folder of documents, with exact citations."
    )
    parser.add_argument("--version", action="version", version=f"qabot {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    index = sub.add_parser("index", help="build or inspect the index")
    index_sub = index.add_subparsers(dest="index_command", required=True, metavar="ACTION")
    build = index_sub.add_parser("build", parents=[common], help="build the index from the seeds folder")
    build.add_argument("--full", action="store_true", help="re-embed everything instead of reusing the cache")
    build.add_argument("--json", action="store_true", help="print what the build did as one JSON object")
    index_sub.add_parser("status", parents=[common], help="what is indexed and whether it is stale")

    ask = sub.add_parser("ask", parents=[common], help="answer one question ('-' reads one per line from stdin)")
    ask.add_argument("question", help='the question, or "-" to read questions from standard input')
    ask.add_argument("-k", type=_top_k, metavar="N", help="citations to return, 1-50 (QABOT_TOP_K)")
    ask.add_argument("--json", action="store_true", help="print one JSON object per question")
    ask.add_argument(
        "--generate",
        action="store_true",
        help="let the language model (QABOT_LLM_URL, QABOT_LLM_MODEL) write the answer from the passages; "
        "every sentence is checked against the passages it cites",
    )

    show = sub.add_parser("show", parents=[common], help="print a document's text with a cited span highlighted")
    show.add_argument("target", metavar="SOURCE[:START-END]", help="a source, or a citation as source lines print it")
    show.add_argument(
        "-C",
        "--context",
        type=_context,
        metavar="N",
        help="characters shown either side of the span (QABOT_SHOW_CONTEXT)",
    )

    sub.add_parser("repl", parents=[common], help="ask questions interactively")

    ev = sub.add_parser("eval", parents=[common], help="measure answer quality on a JSONL dataset")
    ev.add_argument("dataset", type=Path, help="JSONL: question, answers, evidence")
    ev.add_argument("-k", type=_top_k, metavar="N", help="citations per answer, 1-50 (QABOT_TOP_K)")
    ev.add_argument("--json", action="store_true", help="print the report as one JSON object")

    sub.add_parser("discord", parents=[common], help="run the Discord bot (token in DISCORD_TOKEN)")

    feedback = sub.add_parser("feedback", help="the Discord bot's question log")
    feedback_sub = feedback.add_subparsers(dest="feedback_command", required=True, metavar="ACTION")
    export = feedback_sub.add_parser("export", help="write the rated questions as a `qabot eval` dataset")
    export.add_argument("--log", type=Path, metavar="FILE", help="question log (QABOT_DISCORD_LOG)")
    export.add_argument("--out", type=Path, metavar="FILE", help="dataset to write (default: standard output)")
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    from pydantic import ValidationError

    from ..settings import Settings

    try:
        settings = Settings()
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"The .env file in {Path.cwd()} is not UTF-8 (bad byte at offset {exc.start}): "
            "save it as UTF-8 or remove it."
        ) from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "settings"
        raise ConfigError(
            f"Invalid setting {where.upper()}: {first['msg']} (check QABOT_* variables and .env)."
        ) from exc
    update: dict[str, Any] = {}
    if getattr(args, "seeds", None):
        update["seeds_dir"] = args.seeds
    if getattr(args, "index", None):
        update["index_dir"] = args.index
    if getattr(args, "model", None):
        update["model"] = args.model
    if getattr(args, "k", None) is not None:
        update["top_k"] = args.k
    return settings.model_copy(update=update).resolved()


def _consoles(word_wrap: bool = False) -> tuple[Console, Console]:
    from .render import quiet_console

    # soft_wrap: never insert line breaks of our own (pipes and files get whole lines), unless
    # `word_wrap` (the interactive REPL: rich breaks long answers between words, not mid-word);
    # highlight off: document text is shown as written, not re-coloured.
    return quiet_console(soft_wrap=not word_wrap), quiet_console(stderr=True, soft_wrap=True)


def _path_flags(settings: Settings) -> str:
    return f" --seeds {shlex.quote(str(settings.seeds_dir))} --index {shlex.quote(str(settings.index_dir))}"


def _embedder_loading(settings: Settings) -> Embedder | None:
    """The embedder, its ONNX query encoder already loading in a background thread (onnxruntime,
    the tokenizer, the session, which onnxruntime builds with the GIL released) while the rest of
    qabot is imported and the index opens. None when questions do not go through ONNX, or the
    model is wrong (the engine says so in its turn)."""
    if not settings.onnx_queries:
        return None
    from ..embedder import SentenceTransformerEmbedder, query_threads_for
    from ..onnx_encoder import onnx_cache_dir

    try:
        embedder = SentenceTransformerEmbedder(settings.model, query_threads_for(settings), settings.build_precision)
    except QabotError:
        return None
    embedder.attach_query_encoder(onnx_cache_dir(settings.onnx_cache_dir))
    return embedder


def _open_engine(
    settings: Settings, err: Console, check_stale: bool = True, embedder: Embedder | None = None
) -> QAEngine:
    """Open the index, building it first (with a progress bar) when there is none."""
    from ..embedder import offline_environment
    from ..engine import QAEngine
    from ..errors import IndexMissing

    offline_environment()
    engine = QAEngine(settings, embedder)
    try:
        engine.reload(force=True)
    except IndexMissing:
        import gc

        from .progress import build_progress
        from .render import print_build

        gc.enable()  # a whole build follows (a one-question `qabot ask` runs without the collector)

        err.print(f"No index in {settings.index_dir} yet: building it from {settings.seeds_dir} …", markup=False)
        with build_progress(err) as progress:
            report = engine.build(progress=progress)
        print_build(err, report)
        return engine
    if check_stale:
        _note_stale(err, settings, engine.stale_count())
    return engine


def _note_stale(err: Console, settings: Settings, stale: int) -> None:
    if stale:
        err.print(
            f"note: the index is stale ({stale} source(s) changed since it was built); "
            f"run `qabot index build{_path_flags(settings)}`.",
            style="yellow",
            markup=False,
        )


def _stale_in_background(check: Callable[[], Any], daemon: bool = False) -> Callable[[], Any]:
    """Compare the seeds folder with the index (a stat of every file) while a question is answered.

    The answer does not wait for it (a folder of many files takes a while to stat); the returned
    function does, and raises what the check raised. A daemon check (read-only) does not hold up
    an exit that never asks for its result (a question refused as empty, say).
    """
    import threading

    out: dict[str, Any] = {}

    def run() -> None:
        try:
            out["stale"] = check()
        except BaseException as exc:  # noqa: BLE001 - raised again in the caller's thread
            out["error"] = exc

    worker = threading.Thread(target=run, name="qabot-stale-check", daemon=daemon)
    worker.start()

    def result() -> Any:
        worker.join()
        if "error" in out:
            raise out["error"]
        return out["stale"]

    return result


def _in_child(count: Callable[[], tuple[str, int] | None]) -> Callable[[], tuple[str, int] | None]:
    """Run `count` in a forked process; the returned function waits for its result (None when the
    child failed: the caller then counts itself, and says what went wrong). A stale check is
    Python work over every file of the seeds folder (~0.05 s at 10,000 files): in a thread it
    holds the interpreter lock the imports of a cold `qabot ask` need, in a child it runs on the
    other core. Fork only where no other thread runs yet."""
    import json

    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: count, write the result, leave without running any of the parent's exit code
        status = 1
        try:
            os.close(read_end)
            os.write(write_end, json.dumps(count()).encode())
            status = 0
        finally:
            os._exit(status)
    os.close(write_end)

    def result() -> tuple[str, int] | None:
        with os.fdopen(read_end, "rb") as pipe:
            data = pipe.read()
        _, status = os.waitpid(pid, 0)
        found = json.loads(data) if status == 0 and data else None
        return (str(found[0]), int(found[1])) if found else None

    return result


def _stale_count(engine: QAEngine, early: Callable[[], tuple[str, int] | None]) -> int:
    """The stale count found before the index opened, if it is of the generation the engine
    opened (a build may have switched it meanwhile); else the engine counts now."""
    found = early()
    if found is not None and found[0] == engine.generation:
        return found[1]
    return engine.stale_count()


def cmd_index_build(args: argparse.Namespace) -> int:
    from ..embedder import offline_environment
    from ..engine import QAEngine
    from .progress import build_progress
    from .render import print_build

    out, err = _consoles()
    offline_environment()
    engine = QAEngine(_settings(args))
    with build_progress(err) as progress:
        report = engine.build(full=args.full, progress=progress)
    if args.json:
        import json

        print(json.dumps(report.to_json(), ensure_ascii=False), flush=True)
    else:
        print_build(out, report)
    return 0


def cmd_index_status(args: argparse.Namespace) -> int:
    from ..backends import status
    from .render import print_info

    settings = _settings(args)
    out, _ = _consoles()
    from .. import store

    pending = [p.name for p in store.leftovers(settings.index_dir)]
    removed = store.clean_leftovers_if_idle(settings.index_dir) if pending else []
    print_info(out, status(settings, settings.model))
    if removed:
        out.print(f"removed {len(removed)} leftover(s) of killed builds: {', '.join(removed)}", markup=False)
    elif removed is None:
        out.print(f"a build is running; it is writing: {', '.join(pending)}", markup=False)
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    from .render import answer_json, print_answer

    settings = _settings(args)
    if args.question != "-":
        from .. import backends, store  # noqa: F401 - imported here, not by two threads at once

        def count() -> tuple[str, int] | None:
            return backends.folder_stale_count(settings)

        # counted while qabot imports and the index opens: in a child process when this process is
        # the `qabot` command itself (no thread has started yet), else in a thread
        own = getattr(args, "own_process", False) and sys.platform == "linux" and hasattr(os, "fork")
        early = _in_child(count) if own else _stale_in_background(count, daemon=True)
    embedder = _embedder_loading(settings)
    out, err = _consoles()
    if args.question == "-":
        if args.generate:
            from ..engine import QAEngine

            QAEngine(settings).require_llm()  # without a model set: one line, before loading anything
        engine = _open_engine(settings, err, embedder=embedder)
        if hasattr(sys.stdin, "reconfigure"):
            sys.stdin.reconfigure(errors="replace")  # bytes that are not UTF-8 become U+FFFD
        for line in sys.stdin:
            question = line.strip()
            if not question and not args.json:
                continue
            _pick_up_rebuilt_index(engine, err)
            try:
                answer = engine.ask(question)
                if args.generate:
                    answer = engine.write(answer)
            except QabotError as exc:
                if not args.json:
                    err.print(f"error: {exc}", markup=False, highlight=False)
                    continue
                record: dict[str, object] = {
                    "question": question,
                    "answer": None,
                    "abstained": False,
                    "citations": [],
                    "error": str(exc),
                }
                import json

                print(json.dumps(record, ensure_ascii=False), flush=True)
                continue
            if args.json:
                print(answer_json(answer), flush=True)
            else:
                from rich.text import Text

                from .render import safe

                out.print(Text.assemble(("Q:", "bold"), " ", safe(question)))
                print_answer(out, answer)
                out.print()
        return 0
    question = args.question
    # Check the question before paying for the model.
    from ..engine import QAEngine

    checker = QAEngine(settings)
    checker.check_question(question)
    if args.generate:
        checker.require_llm()
    engine = _open_engine(settings, err, check_stale=False, embedder=embedder)
    stale = _stale_in_background(lambda: _stale_count(engine, early))
    answer = engine.ask(question)
    if args.generate:
        answer = engine.write(answer)
    if args.json:
        print(answer_json(answer), flush=True)
    else:
        print_answer(out, answer)
    _note_stale(err, settings, stale())
    return 0


def _pick_up_rebuilt_index(engine: QAEngine, err: Console) -> None:
    """Switch a running stream to a newer index generation, as the REPL and the bot do.

    A newer generation that cannot be opened is reported, and questions stay on the one in use."""
    try:
        engine.reload()
    except QabotError as exc:
        err.print(f"note: keeping {engine.generation}: {exc}", markup=False, style="yellow")


def cmd_show(args: argparse.Namespace) -> int:
    from ..excerpt import make_excerpt, parse_target, stored_document
    from .render import print_excerpt

    settings = _settings(args)
    out, _ = _consoles()
    source, span = parse_target(args.target)
    text, pages = stored_document(settings.index_dir, source)
    context = settings.show_context if args.context is None else args.context
    print_excerpt(out, make_excerpt(source, text, span, context, pages))
    return 0


def cmd_repl(args: argparse.Namespace) -> int:
    from .repl import run_repl

    settings = _settings(args)
    out, err = _consoles(word_wrap=sys.stdout.isatty())
    engine = _open_engine(settings, err)
    return run_repl(engine, out)


def cmd_eval(args: argparse.Namespace) -> int:
    import json

    from ..evaluate import load_dataset, render_text, run_eval
    from .progress import build_progress

    settings = _settings(args)
    out, err = _consoles()
    items = load_dataset(args.dataset)
    engine = _open_engine(settings, err)
    with build_progress(err) as progress:
        report = run_eval(engine, items, k=args.k, progress=lambda done, total: progress("questions", done, total))
    if args.json:
        print(json.dumps(report.to_json(), ensure_ascii=False))
    else:
        out.print(render_text(report), markup=False, highlight=False)
    return 0


def cmd_discord(args: argparse.Namespace) -> int:
    from ..bot.run import run_bot

    return run_bot(_settings(args))


def cmd_feedback_export(args: argparse.Namespace) -> int:
    from ..bot.question_log import export_dataset

    log_path = args.log
    if log_path is None:
        from ..bot.client import discord_settings

        log_path = discord_settings(None).discord_log
        if log_path is None:
            from ..errors import QuestionLogMissing

            raise QuestionLogMissing("The question log is off (QABOT_DISCORD_LOG is empty): give --log FILE.")
    if args.out is None:
        lines, commented = export_dataset(log_path, sys.stdout)
    else:
        partial = args.out.with_name(args.out.name + ".part")
        try:
            with open(partial, "w", encoding="utf-8") as out:
                lines, commented = export_dataset(log_path, out)
            os.replace(partial, args.out)
        finally:
            partial.unlink(missing_ok=True)
    where = f" to {args.out}" if args.out else ""
    print(
        f"Exported {lines} rated question(s){where}; {commented} more as comments to complete "
        "(👎 answers and follow-ups). Check it with `qabot eval`.",
        file=sys.stderr,
    )
    return 0


COMMANDS = {
    ("index", "build"): cmd_index_build,
    ("index", "status"): cmd_index_status,
    ("ask", None): cmd_ask,
    ("show", None): cmd_show,
    ("repl", None): cmd_repl,
    ("eval", None): cmd_eval,
    ("discord", None): cmd_discord,
    ("feedback", "export"): cmd_feedback_export,
}


def _with_paths(message: str, args: argparse.Namespace) -> str:
    """Make a suggested `qabot index build` command name the folders the user gave."""
    flags = "".join(
        f" --{name} {shlex.quote(str(getattr(args, name)))}" for name in ("seeds", "index") if getattr(args, name, None)
    )
    return message.replace("`qabot index build", f"`qabot index build{flags}") if flags else message


def _stdout_to_devnull() -> None:
    """After the reader of standard output went away: send what is left nowhere (Python's
    documented recipe), so the interpreter's last flush cannot fail."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    handler = COMMANDS[(args.command, getattr(args, "index_command", None) or getattr(args, "feedback_command", None))]
    args.own_process = argv is None  # the `qabot` command itself, not main() called from Python
    if argv is None and args.command == "ask" and args.question != "-":
        import gc

        # One question, then os._exit: no garbage needs collecting, and the collector's passes
        # over the objects the imports make cost ~0.06 s of a cold `qabot ask`.
        gc.disable()
    try:
        code = _run(handler, args)
        sys.stdout.flush()  # inside the guard: a closed pipe shows up here, not at exit
    except BrokenPipeError:
        # The reader went away (`qabot ask ... | head -1`): stop quietly, as other tools do.
        _stdout_to_devnull()
        code = 0
    if argv is None and args.command == "ask":
        _exit_at_once(code)  # the `qabot ask` command itself (not main() called from Python)
    return code


def _exit_at_once(code: int) -> None:
    """End the process now, its output flushed, without the interpreter's teardown: freeing the
    ONNX session, FAISS and pydantic's objects took ~0.1 s of every one-shot `qabot ask`.
    Nothing is left to do by then (the answer and the stale note are written, threads joined;
    an ONNX session still loading after an early error is simply dropped)."""
    import contextlib
    import logging

    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe: nothing more can be written anyway
            stream.flush()
    os._exit(code)


def _run(handler: Any, args: argparse.Namespace) -> int:
    try:
        return int(handler(args))
    except BuildInterrupted as exc:
        print(f"qabot: {_with_paths(str(exc), args)}", file=sys.stderr)
        return 130
    except QabotError as exc:
        print(f"qabot: {_with_paths(str(exc), args)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("qabot: interrupted.", file=sys.stderr)
        return 130
    except BrokenPipeError:
        raise
    except OSError as exc:
        where = f" {exc.filename}" if exc.filename else ""
        print(f"qabot: cannot use{where}: {exc.strerror or exc}; check the path and its permissions.", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
