"""The optional language model: protocol, logprobs, streaming, timeouts, garbage, the verifier,
the writer's citation checks, and the engine and CLI paths, against a small OpenAI-compatible
server on 127.0.0.1 (tests/llm_server.py)."""

from __future__ import annotations

import io
import json
import logging
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from qabot import QAEngine, Settings
from qabot.errors import ConfigError, LLMUnavailable
from qabot.llm.client import ChatClient, base_url, first_token_probabilities
from qabot.llm.verify import verified_answer, verify, yes_probability
from qabot.llm.write import answer_text, check, split_sentences, written_answer
from qabot.records import Answer, Citation, Hit

from .fakes import FakeEmbedder
from .llm_server import FakeLLM

KEY = "sk-test-0123456789abcdef"
PASSAGES = [
    "Iran launched 15 ballistic missiles at two bases. Ten of those hit a base in western Iraq.",
    "Iran does not want a war, said the foreign minister Javad Zarif.",
]


@pytest.fixture
def server() -> Iterator[FakeLLM]:
    with FakeLLM() as fake:
        yield fake


def _client(server: FakeLLM, timeout: float = 60.0) -> ChatClient:
    # 60 s: a hang guard, never reached by a reply on a loaded machine. The timeout tests pair a
    # 0.2 s client with a server that waits 30 s: the client gives up at 0.2 s, however late it is
    # scheduled (the waiting server thread is a daemon: nobody waits for it).
    return ChatClient(server.url, "local", KEY, timeout)


def _answer() -> Answer:
    cites = (
        Citation("a.txt", 51, 90, "Ten of those hit a base in western Iraq.", 0.9),
        Citation("a.txt", 0, 50, "Iran launched 15 ballistic missiles at two bases.", 0.5),
    )
    return Answer(
        "How many missiles hit a base in western Iraq?", "Ten of those hit a base in western Iraq. [1]", cites
    )


# ---- protocol -------------------------------------------------------------------------------
def test_request_shape_auth_and_logprobs(server: FakeLLM) -> None:
    server.logprobs = {"yes": -0.2, "no": -1.8, "Yes": -3.0}
    reply = _client(server).chat([{"role": "user", "content": "hi"}], max_tokens=3, logprobs=5)
    sent = server.requests[-1]
    assert sent["path"] == "/v1/chat/completions"
    assert sent["headers"]["Authorization"] == f"Bearer {KEY}"
    body = sent["body"]
    assert body["model"] == "local" and body["temperature"] == 0 and body["max_tokens"] == 3
    assert body["logprobs"] is True and body["top_logprobs"] == 5 and body["messages"][0]["content"] == "hi"
    assert reply.text == "yes" and reply.first_token["yes"] == pytest.approx(0.8187, abs=1e-3)


def test_base_url_accepts_the_endpoint_or_the_base() -> None:
    assert base_url("http://h:1/v1/") == "http://h:1/v1"
    assert base_url("http://h:1/v1/chat/completions") == "http://h:1/v1"


def test_api_key_is_never_shown(server: FakeLLM, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    settings = Settings(llm_url=server.url, llm_model="m", llm_api_key=KEY, _env_file=None)  # type: ignore[call-arg]
    client = ChatClient.from_settings(settings)
    assert client is not None
    server.status = 500
    with pytest.raises(LLMUnavailable) as exc:
        client.chat([{"role": "user", "content": "x"}])
    shown = " ".join([str(exc.value), repr(client), repr(settings), str(settings.model_dump()), caplog.text])
    assert KEY not in shown and "HTTP 500" in str(exc.value)


def test_server_without_logprobs_support_is_asked_again_without(server: FakeLLM) -> None:
    server.reject_logprobs = True
    server.reply = "No."
    reply = _client(server).chat([{"role": "user", "content": "x"}], logprobs=5)
    assert reply.text == "No." and reply.first_token == {}
    assert [("logprobs" in r["body"]) for r in server.requests] == [True, False]


def test_logprobs_formats() -> None:
    chat = {"content": [{"token": "Yes", "logprob": -0.1, "top_logprobs": [{"token": " no", "logprob": -2.5}]}]}
    probs = first_token_probabilities(chat)
    assert set(probs) == {"Yes", " no"} and probs["Yes"] == pytest.approx(0.905, abs=1e-3)
    legacy = {"top_logprobs": [{"yes": -0.5, "no": -1.0}]}
    assert set(first_token_probabilities(legacy)) == {"yes", "no"}
    for garbage in [None, {}, {"content": []}, {"content": [{"token": 3}]}, "x", {"content": [{"logprob": "a"}]}]:
        assert first_token_probabilities(garbage) == {}
    assert yes_probability({"Yes": 0.6, " yes": 0.1, "No": 0.1}) == pytest.approx(0.875)
    assert yes_probability({"The": 0.9}) is None


# ---- failures never block an answer --------------------------------------------------------------
def test_down_slow_and_garbage_servers_raise_one_line_errors(server: FakeLLM) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        free = s.getsockname()[1]
    messages = [{"role": "user", "content": "x"}]
    with pytest.raises(LLMUnavailable, match="cannot connect"):
        ChatClient(f"http://127.0.0.1:{free}/v1", "m", timeout=2).chat(messages)
    server.delay = 30.0
    with pytest.raises(LLMUnavailable, match=r"no reply within 0\.2 s"):
        _client(server, timeout=0.2).chat(messages)
    server.delay = 0.0
    server.garbage = True
    with pytest.raises(LLMUnavailable, match="not JSON"):
        _client(server).chat(messages)
    server.garbage = False
    server.reply = None  # type: ignore[assignment]
    with pytest.raises(LLMUnavailable, match="without choices"):
        _client(server).chat(messages)
    with pytest.raises(LLMUnavailable, match="not an http"):
        ChatClient("ftp://x/v1", "m").chat(messages)
    server.status = 404
    with pytest.raises(LLMUnavailable, match="check QABOT_LLM_URL"):
        _client(server).chat(messages)


def test_streaming_sse(server: FakeLLM) -> None:
    server.chunks = ["Ten of ", "those hit ", "a base [1]."]
    pieces: list[str] = []
    text = _client(server).stream_text([{"role": "user", "content": "x"}], pieces.append)
    assert pieces == server.chunks and text == "Ten of those hit a base [1]."
    assert server.requests[-1]["body"]["stream"] is True
    server.bad_event = True
    with pytest.raises(LLMUnavailable, match="not a chat chunk"):
        list(_client(server).stream([{"role": "user", "content": "x"}]))
    server.bad_event = False
    server.delay = 30.0
    with pytest.raises(LLMUnavailable, match="within"):
        list(_client(server, timeout=0.2).stream([{"role": "user", "content": "x"}]))


# ---- the verifier -------------------------------------------------------------------------------------
def test_verifier_reads_logprobs_then_text(server: FakeLLM) -> None:
    client = _client(server)
    server.logprobs = {"No": -0.3, "Yes": -1.5}
    server.reply = "No"
    verdict = verify(client, "q?", PASSAGES)
    assert not verdict.supported and verdict.p_yes == pytest.approx(0.2315, abs=1e-3)
    server.logprobs = None
    server.reply = "Yes, the passages say so."
    assert verify(client, "q?", PASSAGES).supported
    server.reply = "Perhaps."
    with pytest.raises(LLMUnavailable, match="neither yes nor no"):
        verify(client, "q?", PASSAGES)
    prompt = server.requests[-1]["body"]["messages"][-1]["content"]
    assert "[1] Iran launched 15" in prompt and "Question: q?" in prompt


def test_verified_answer_only_adds_abstentions(server: FakeLLM) -> None:
    client = _client(server)
    answer = _answer()
    hits = [Hit(0, "a.txt", 0, 90, PASSAGES[0], 0.9, 1.0, 0.1)]
    server.reply = "no"
    refused = verified_answer(client, answer, hits)
    assert refused.abstained and refused.citations == () and refused.signals["llm_p_yes"] == 0.0
    assert server.requests[-1]["body"]["messages"][-1]["content"].count("[1] ") == 1  # the passage holding [1]
    server.reply = "yes"
    assert verified_answer(client, answer, hits).text == answer.text
    abstained = Answer("q", None)
    before = len(server.requests)
    assert verified_answer(client, abstained, hits) is abstained and len(server.requests) == before
    server.status = 503
    kept = verified_answer(client, answer, hits)
    assert kept.text == answer.text and kept.warnings and "HTTP 503" in kept.warnings[0]


# ---- the writer's checks --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("written", "kept"),
    [
        ("Iran launched 15 missiles [1].", True),
        ("Iran launched 16 missiles [1].", False),  # a number not in the passage
        ("Trump launched 15 missiles [1].", False),  # a name not in the passage
        ("Iran launched missiles [3].", False),  # no passage 3
        ("Iran launched 15 missiles.", False),  # no citation
        ('Iran called it "a slap in the face" [1].', False),  # a quote not in the passage
        ("Iran wants a war [2].", False),  # the passage says the opposite
        ("Iran launched 15 missiles that never hit [1].", False),  # a negation the passage lacks
        ("Zarif said Iran does not want a war [2].", True),
        ("Ten of those hit a base in western Iraq.[1]", True),
        ("Soldiers were evacuated by helicopter before dawn [1].", False),  # words not in the passage
        # the same words, another meaning: a number said of something else, a negation added, an opposite
        ("Iran launched ten ballistic missiles [1].", False),  # ten hit; 15 were launched
        ("15 of those hit a base in western Iraq [1].", False),
        ("Iran launched missiles at 15 bases [1].", False),  # 15 missiles, not 15 bases
        ("Iran targeted 10 bases [1].", False),
        ("Ten of those did not hit a base in western Iraq [1, 2].", False),  # "not" is in passage 2 only
        ("Iran launched 15 ballistic missiles after two bases [1].", True),  # "before"/"after" absent: kept
        ("Ten of those missiles hit a base in western Iraq [1].", True),  # honest paraphrases are kept
        ("Iran fired 15 missiles at 2 bases [1].", True),  # "two" is 2
        ("Iran launched 15 ballistic missiles; ten hit a base in Iraq [1].", True),
    ],
)
def test_written_sentences_are_checked_against_their_passages(written: str, kept: bool) -> None:
    checked = check(written, PASSAGES)
    assert len(checked) == 1 and checked[0].supported is kept, checked[0].reason


@pytest.mark.parametrize(
    ("written", "kept", "why"),
    [
        ("The strike came after the address [1].", False, "'after' where the passage says 'before'"),
        ("The strike came before the address [1].", True, ""),
        ("The army moved fewer than 20 soldiers [2].", False, "'fewer' where the passage says 'more'"),
        ("The army moved more than 20 soldiers [2].", True, ""),
        ("The first missile struck at 1:34 a.m. [1].", True, ""),
        ("The last missile struck at 1:34 a.m. [1].", False, "'last' where the passage says 'first'"),
    ],
)
def test_written_opposites_of_the_passage_are_dropped(written: str, kept: bool, why: str) -> None:
    passages = [
        "The strike came before the address. The first missile struck at 1:34 a.m. local time.",
        "The army moved more than 20 soldiers to the north.",
    ]
    checked = check(written, passages)
    assert len(checked) == 1 and checked[0].supported is kept, checked[0].reason
    assert why in checked[0].reason


def test_written_answer_drops_flipped_claims_from_the_server(server: FakeLLM) -> None:
    """Sentences a model wrote with the passage's own words but another meaning never reach the user."""
    client = _client(server)
    answer = _answer()
    server.reply = "Iran launched ten ballistic missiles [1]. Ten of those hit a base in western Iraq [1]."
    written = written_answer(client, answer, None)
    assert written.text == "Ten of those hit a base in western Iraq. [1]"
    assert written.signals["dropped_sentences"] == 1.0
    server.reply = "Ten of those did not hit a base in western Iraq [1, 2]."
    fallback = written_answer(client, answer, None)
    assert fallback.text == answer.text and "no sentence it wrote is supported" in fallback.warnings[0]


def test_split_and_join_written_sentences() -> None:
    parts = split_sentences("Iran fired 15 missiles [1]. Ten hit Iraq [1, 2]. [2] Unsupported claim.")
    assert parts[0] == ("Iran fired 15 missiles.", (1,))
    assert parts[1] == ("Ten hit Iraq.", (1, 2, 2))
    assert parts[2] == ("Unsupported claim.", ())
    checked = check("Iran launched 15 missiles [1]. Trump tweeted [1].", PASSAGES)
    assert answer_text(checked) == "Iran launched 15 missiles. [1]"
    assert check("NOT FOUND", PASSAGES) == [] and answer_text([]) is None


def test_written_answer_keeps_supported_sentences_and_falls_back(server: FakeLLM) -> None:
    client = _client(server)
    answer = _answer()
    server.reply = "Ten of those missiles hit a base in western Iraq [1]. Trump ordered strikes [2]."
    written = written_answer(client, answer, None)
    assert (
        written.text == "Ten of those missiles hit a base in western Iraq. [1]"
        and written.citations == answer.citations
    )
    assert written.signals["dropped_sentences"] == 1.0
    server.reply = "NOT FOUND"
    fallback = written_answer(client, answer, None)
    assert fallback.text == answer.text and "found no answer" in fallback.warnings[0]
    server.reply = "Trump ordered strikes [2]."
    assert written_answer(client, answer, None).text == answer.text
    server.delay = 30.0
    slow = written_answer(_client(server, timeout=0.2), answer, None)
    assert slow.text == answer.text and "within" in slow.warnings[0]


def test_written_answer_streams(server: FakeLLM) -> None:
    server.chunks = ["Ten of those hit ", "a base in western Iraq [1]."]
    pieces: list[str] = []
    written = written_answer(_client(server), _answer(), pieces.append)
    assert "".join(pieces) == "Ten of those hit a base in western Iraq [1]."
    assert written.text == "Ten of those hit a base in western Iraq. [1]"


# ---- through the engine and the CLI (fake embedder, real index, fake model server) -----------------------------
@pytest.fixture(scope="module")
def fake_seeds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    seeds = tmp_path_factory.mktemp("llm") / "seeds"
    seeds.mkdir()
    (seeds / "war.txt").write_text("Missiles\n\n" + " ".join(PASSAGES) + "\n", encoding="utf-8")
    return seeds


def _engine(seeds: Path, server: FakeLLM, **extra: object) -> QAEngine:
    settings = Settings(  # type: ignore[call-arg]
        seeds_dir=seeds, index_dir=seeds.parent / "index", llm_url=server.url, llm_model="local",
        abstain_threshold=0.0, _env_file=None, **extra,
    )  # fmt: skip
    return QAEngine.from_settings(settings, embedder=FakeEmbedder())


def test_engine_verifier_turns_a_no_into_an_abstention(fake_seeds: Path, server: FakeLLM) -> None:
    question = "How many ballistic missiles did Iran launch?"
    assert not _engine(fake_seeds, server).ask(question).abstained  # off by default: no request
    assert server.requests == []
    engine = _engine(fake_seeds, server, llm_verify=True)
    server.reply = "no"
    assert engine.ask(question).abstained
    server.reply = "yes"
    assert not engine.ask(question).abstained
    server.status = 500
    kept = engine.ask(question)
    assert not kept.abstained and "HTTP 500" in kept.to_json()["warnings"][0]


def test_engine_write_needs_a_model(fake_seeds: Path) -> None:
    settings = Settings(seeds_dir=fake_seeds, index_dir=fake_seeds.parent / "index", _env_file=None)  # type: ignore[call-arg]
    engine = QAEngine(settings, embedder=FakeEmbedder())
    with pytest.raises(ConfigError, match="QABOT_LLM_URL and QABOT_LLM_MODEL"):
        engine.write(Answer("q", None))


def test_cli_generate_without_a_model_is_one_line(fake_seeds: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from qabot.cli import main

    assert main(["ask", "How many?", "--generate", "--seeds", str(fake_seeds)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "QABOT_LLM_URL" in err


def test_repl_generate_streams_and_show_works(
    fake_seeds: Path, server: FakeLLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rich.console import Console

    from qabot.cli.repl import run_repl

    engine = _engine(fake_seeds, server)
    server.chunks = ["Iran launched ", "15 ballistic missiles [1]."]
    monkeypatch.setattr(sys, "stdin", io.StringIO(":generate\nHow many ballistic missiles did Iran launch?\n:show 1\n"))
    buffer = io.StringIO()
    assert run_repl(engine, Console(file=buffer, width=300, color_system=None)) == 0
    out = buffer.getvalue()
    assert "Written answers on" in out
    assert "Iran launched 15 ballistic missiles [1].\n" in out  # the streamed text
    assert "Iran launched 15 ballistic missiles. [1]" in out  # the checked answer
    assert "war.txt" in out and out.count("Iran launched 15 ballistic missiles at two bases.") >= 2


@pytest.mark.slow
def test_cli_ask_json_generate_and_verify_with_the_real_model(
    fake_seeds: Path, server: FakeLLM, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from qabot.cli import main

    index = fake_seeds.parent / "real-index"
    monkeypatch.setenv("QABOT_LLM_URL", server.url)
    monkeypatch.setenv("QABOT_LLM_MODEL", "local")
    monkeypatch.setenv("QABOT_LLM_API_KEY", KEY)
    server.reply = "Iran launched 15 ballistic missiles [1]."
    question = "How many ballistic missiles did Iran launch?"
    monkeypatch.setattr(sys, "stdin", io.StringIO(question + "\n"))
    args = ["--seeds", str(fake_seeds), "--index", str(index)]
    assert main(["ask", "--json", "--generate", "-", *args]) == 0
    row = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert row["answer"] == "Iran launched 15 ballistic missiles. [1]" and "15" in row["citations"][0]["text"]
    monkeypatch.setenv("QABOT_LLM_VERIFY", "true")
    server.reply, server.logprobs = "no", {"no": -0.1, "yes": -2.5}
    assert main(["ask", "--json", question, *args]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["abstained"] is True
    server.delay = 30.0
    monkeypatch.setenv("QABOT_LLM_TIMEOUT", "0.3")
    assert main(["ask", question, *args]) == 0
    out = capsys.readouterr().out
    assert "warning: language model at" in out and "15 ballistic missiles" in out and KEY not in out


# ---- the verifier benchmark -----------------------------------------------------------------------------------------
def test_verifier_benchmark_counts(fake_seeds: Path, server: FakeLLM) -> None:
    from benchmarks.llm_verifier import render, run
    from qabot.evaluate import EvalItem

    plain = _engine(fake_seeds, server)
    checked = QAEngine(plain.settings.model_copy(update={"llm_verify": True}), embedder=plain.embedder)
    checked.reload(force=True)
    items = [
        EvalItem("How many ballistic missiles did Iran launch?", ("15",), None),
        EvalItem("Who is the foreign minister?", ("Javad Zarif",), None),
        EvalItem("How many missiles did Iran launch at Israel?", (), None, kind="on-topic"),
    ]
    server.reply = "no"
    seen: list[tuple[int, int]] = []
    report = run(plain, checked, items, "tiny", "fake", progress=lambda done, total: seen.append((done, total)))
    data = report.to_json(verdicts=True)
    assert seen == [(1, 3), (2, 3), (3, 3)]
    assert (report.answerable, report.unanswerable, report.verified) == (2, 1, 3)
    assert report.abstained_unanswerable_before == 0 and report.abstained_unanswerable_after == 1
    assert (report.on_topic, report.on_topic_abstained_after, report.off_topic) == (1, 1, 0)
    assert report.false_abstentions_before == 0 and report.false_abstentions_after == 2
    assert report.correct_before >= 1 and report.correct_after == 0  # a refused answer is not a right one
    assert data["verifier_ms_p50"] is not None and data["ask_ms_p95"] is not None and report.model_failures == 0
    assert [row["p_yes"] for row in data["verdicts"]] == [0.0, 0.0, 0.0]
    assert data["by_threshold"]["0.5"] == {
        "abstained_unanswerable": 1, "on_topic_abstained": 1, "false_abstentions": 2, "correct": 0,
    }  # fmt: skip
    assert "verdicts" not in report.to_json()
    server.status = 500
    failed = run(plain, checked, items, "tiny", "fake")
    assert failed.model_failures == 3 and failed.false_abstentions_after == 0  # a failing model changes nothing
    assert failed.correct_after == failed.correct_before
    assert failed.to_json()["by_threshold"]["0.8"]["false_abstentions"] == 0  # no verdict, no refusal
    assert "false abstentions 0/2 -> 0/2" in render(failed)


@pytest.mark.slow
def test_verifier_benchmark_command(fake_seeds: Path, server: FakeLLM, capsys: pytest.CaptureFixture[str]) -> None:
    from benchmarks.llm_verifier import main

    data = fake_seeds.parent / "tiny.jsonl"
    data.write_text(
        '{"question": "How many ballistic missiles did Iran launch?", "answers": ["15"], "evidence": null}\n'
        '{"question": "How many missiles did Iran launch at Israel?", "answers": [], "evidence": null}\n',
        encoding="utf-8",
    )
    server.logprobs = {"yes": -0.05, "no": -3.0}
    args = [
        "--url",
        server.url,
        "--model",
        "local",
        "--seeds",
        str(fake_seeds),
        "--index",
        str(fake_seeds.parent / "b"),
    ]
    from qabot.cli import main as qabot_main

    assert qabot_main(["index", "build", "--seeds", str(fake_seeds), "--index", str(fake_seeds.parent / "b")]) == 0
    capsys.readouterr()
    assert main([str(data), *args, "--json"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["dataset"] == "tiny.jsonl" and row["answerable"] == 1 and row["unanswerable"] == 1
    assert row["false_abstentions_after"] == row["false_abstentions_before"]  # the model said yes


def test_llm_settings_are_checked(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from qabot.cli import main

    monkeypatch.setenv("QABOT_LLM_VERIFY", "true")
    assert main(["ask", "x"]) == 1
    assert "QABOT_LLM_VERIFY=true needs QABOT_LLM_URL and QABOT_LLM_MODEL" in capsys.readouterr().err
    monkeypatch.delenv("QABOT_LLM_VERIFY")
    monkeypatch.setenv("QABOT_LLM_URL", "localhost:8080")
    assert main(["ask", "x"]) == 1
    err = capsys.readouterr().err
    assert "must be an http(s) URL" in err and err.count("\n") == 1
