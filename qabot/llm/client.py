"""A small client for OpenAI-compatible chat completions, on the standard library's HTTP.

Works with llama.cpp's server, Ollama, vLLM and hosted APIs: POST {base}/chat/completions,
optionally with `logprobs`/`top_logprobs` (the first token's alternatives) or `stream`
(server-sent events). Every failure (refused connection, timeout, HTTP error, a body that is
not the expected JSON) becomes one LLMUnavailable with a one-line reason; the API key is
sent as a bearer token and never appears in a message or a log.
"""

from __future__ import annotations

import json
import math
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ..errors import LLMUnavailable

Message = dict[str, str]


@dataclass(frozen=True, slots=True)
class ChatReply:
    text: str
    first_token: dict[str, float] = field(default_factory=dict)  # alternatives for the first token: text -> probability
    seconds: float = 0.0


def base_url(url: str) -> str:
    """`http://host:8080/v1` from that or from `.../v1/chat/completions`."""
    url = url.strip().rstrip("/")
    for tail in ("/chat/completions", "/completions"):
        url = url.removesuffix(tail)
    return url


class ChatClient:
    """One server and model. Thread-safe (no state between requests)."""

    def __init__(self, url: str, model: str, api_key: str | None = None, timeout: float = 20.0) -> None:
        self.url = base_url(url)
        self.model = model
        self._api_key = api_key
        self.timeout = timeout

    @classmethod
    def from_settings(cls, settings: Any) -> ChatClient | None:
        """A client when QABOT_LLM_URL and QABOT_LLM_MODEL are set, else None."""
        if not settings.llm_url or not settings.llm_model:
            return None
        key = settings.llm_api_key.get_secret_value() if settings.llm_api_key is not None else None
        return cls(settings.llm_url, settings.llm_model, key, settings.llm_timeout)

    def __repr__(self) -> str:  # never shows the key
        return f"ChatClient({self.url!r}, {self.model!r})"

    # ---- requests ----------------------------------------------------------------------
    def chat(self, messages: list[Message], max_tokens: int = 200, logprobs: int = 0) -> ChatReply:
        """One completion. With logprobs > 0, the first token's top alternatives too (when the server gives them)."""
        began = time.monotonic()
        body: dict[str, Any] = {"model": self.model, "messages": messages, "max_tokens": max_tokens, "temperature": 0}
        if logprobs:
            body |= {"logprobs": True, "top_logprobs": logprobs}
        data = self._post(body)
        if isinstance(data, int):
            if not logprobs or data not in (400, 422):
                raise LLMUnavailable(self._reason(_status(data)))
            # A server that does not take logprobs: ask again without them.
            body.pop("logprobs"), body.pop("top_logprobs")
            data = self._post(body)
            if isinstance(data, int):
                raise LLMUnavailable(self._reason(_status(data)))
        try:
            choice = data["choices"][0]
            text = choice["message"]["content"]
            if not isinstance(text, str):
                raise TypeError("content is not text")
        except (KeyError, IndexError, TypeError) as exc:
            raise LLMUnavailable(self._reason("a reply without choices[0].message.content")) from exc
        return ChatReply(text, first_token_probabilities(choice.get("logprobs")), time.monotonic() - began)

    def stream(self, messages: list[Message], max_tokens: int = 200) -> Iterator[str]:
        """The completion's text as it arrives (server-sent events); the whole call bounded by the timeout."""
        body = {"model": self.model, "messages": messages, "max_tokens": max_tokens, "temperature": 0, "stream": True}
        deadline = time.monotonic() + self.timeout
        response = self._open(body)
        if isinstance(response, int):
            raise LLMUnavailable(self._reason(_status(response)))
        with response:
            try:
                for raw in response:
                    if time.monotonic() > deadline:
                        raise LLMUnavailable(self._reason(f"no complete answer within {self.timeout:g} s"))
                    line = raw.decode("utf-8", "replace").strip()
                    if not line.startswith("data:"):
                        continue  # blank separators, comments, event names
                    payload = line[5:].strip()
                    if payload == "[DONE]":
                        return
                    piece = _delta_text(payload)
                    if piece is None:
                        raise LLMUnavailable(self._reason("a stream event that is not a chat chunk"))
                    if piece:
                        yield piece
            except TimeoutError:
                raise LLMUnavailable(self._reason(f"no reply within {self.timeout:g} s")) from None
            except OSError as exc:
                raise LLMUnavailable(self._reason(f"the connection failed ({exc})")) from None

    def stream_text(self, messages: list[Message], on_text: Callable[[str], None], max_tokens: int = 200) -> str:
        """Stream, calling on_text with each piece; the whole text."""
        parts = []
        for piece in self.stream(messages, max_tokens):
            parts.append(piece)
            on_text(piece)
        return "".join(parts)

    # ---- plumbing ------------------------------------------------------------------------
    def _request(self, body: dict[str, Any]) -> urllib.request.Request:
        headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        return urllib.request.Request(
            f"{self.url}/chat/completions", data=json.dumps(body).encode("utf-8"), headers=headers, method="POST"
        )

    def _open(self, body: dict[str, Any]) -> Any:
        """The open response, or the HTTP status code of a refusal."""
        if not self.url.startswith(("http://", "https://")):
            raise LLMUnavailable(
                f"QABOT_LLM_URL {self.url!r} is not an http(s) URL: set it to e.g. http://127.0.0.1:8080/v1."
            )
        try:
            return urllib.request.urlopen(self._request(body), timeout=self.timeout)
        except urllib.error.HTTPError as exc:
            exc.close()
            return int(exc.code)
        except TimeoutError:
            raise LLMUnavailable(self._reason(f"no reply within {self.timeout:g} s")) from None
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, TimeoutError):
                raise LLMUnavailable(self._reason(f"no reply within {self.timeout:g} s")) from None
            reason = exc.reason if isinstance(exc.reason, str) else getattr(exc.reason, "strerror", None) or exc.reason
            raise LLMUnavailable(self._reason(f"cannot connect ({reason})")) from None
        except (OSError, ValueError) as exc:
            raise LLMUnavailable(self._reason(f"the connection failed ({type(exc).__name__})")) from None

    def _post(self, body: dict[str, Any]) -> dict[str, Any] | int:
        """The reply's JSON object, or the HTTP status code of a refusal."""
        response = self._open(body)
        if isinstance(response, int):
            return response
        try:
            with response:
                raw = response.read()
        except TimeoutError:
            raise LLMUnavailable(self._reason(f"no reply within {self.timeout:g} s")) from None
        except OSError as exc:
            raise LLMUnavailable(self._reason(f"the connection failed ({type(exc).__name__})")) from None
        try:
            data = json.loads(raw)
        except ValueError:
            raise LLMUnavailable(self._reason("a reply that is not JSON")) from None
        if not isinstance(data, dict):
            raise LLMUnavailable(self._reason("a reply that is not a JSON object"))
        return data

    def _reason(self, what: str) -> str:
        return (
            f"language model at {self.url} gave {what}"
            if what.startswith("a ")
            else f"language model at {self.url}: {what}"
        )


def _status(code: int) -> str:
    hint = {401: " (check QABOT_LLM_API_KEY)", 403: " (check QABOT_LLM_API_KEY)", 404: " (check QABOT_LLM_URL, "
            "usually ending in /v1, and QABOT_LLM_MODEL)"}.get(code, "")  # fmt: skip
    return f"HTTP {code}{hint}"


def first_token_probabilities(logprobs: Any) -> dict[str, float]:
    """{token text: probability} of the first generated token's alternatives, from an OpenAI `logprobs` object.

    Chat format: {"content": [{"token", "logprob", "top_logprobs": [{"token", "logprob"}]}]}; the older
    completions format ({"top_logprobs": [{token: logprob}]}) is read too. Anything else gives {}.
    """
    out: dict[str, float] = {}
    try:
        if isinstance(logprobs, dict) and isinstance(logprobs.get("content"), list) and logprobs["content"]:
            first = logprobs["content"][0]
            pairs = [(alt["token"], alt["logprob"]) for alt in first.get("top_logprobs") or []]
            pairs.append((first["token"], first["logprob"]))
        elif isinstance(logprobs, dict) and isinstance(logprobs.get("top_logprobs"), list) and logprobs["top_logprobs"]:
            pairs = list(logprobs["top_logprobs"][0].items())
        else:
            return {}
        for token, logprob in pairs:
            if isinstance(token, str) and isinstance(logprob, int | float) and math.isfinite(logprob):
                out[token] = max(out.get(token, 0.0), math.exp(min(0.0, float(logprob))))
    except (KeyError, TypeError, AttributeError):
        return {}
    return out


def _delta_text(payload: str) -> str | None:
    """The text of one streamed chunk ('' for role-only or final chunks), None when it is not a chat chunk."""
    try:
        data = json.loads(payload)
        choices = data["choices"]
        if not choices:
            return ""  # e.g. a usage-only chunk
        delta = choices[0].get("delta") or {}
        piece = delta.get("content")
        if piece is None:
            return ""
        return piece if isinstance(piece, str) else None
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
