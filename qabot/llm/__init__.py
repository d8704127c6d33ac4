"""An optional language model over any OpenAI-compatible server (off unless QABOT_LLM_URL and QABOT_LLM_MODEL are set).

    client.py   the HTTP client: chat completions, streaming (SSE), logprobs (stdlib only)
    verify.py   the verifier: do the cited passages state the asked-for fact? (yes/no)
    write.py    the writer: a short answer from numbered passages, every sentence checked against them

A server that is down, slow or returns garbage raises LLMUnavailable; the engine then gives
the quoted answer with a one-line warning.
"""

from __future__ import annotations

from .client import ChatClient, ChatReply

__all__ = ["ChatClient", "ChatReply"]
