"""A small OpenAI-compatible server for the language-model tests, on 127.0.0.1 in a thread.

    with FakeLLM() as server:            # server.url == "http://127.0.0.1:PORT/v1"
        server.reply = "yes"              # what /v1/chat/completions answers
        server.logprobs = {"yes": -0.1, "no": -2.4}   # the first token's top_logprobs (None: none given)

Other behaviours: `delay` (seconds before answering), `status` (an HTTP error code),
`garbage` (a body that is not JSON), `reject_logprobs` (400 when logprobs are asked for),
`chunks` (the pieces a streamed reply is sent in), `bad_event` (a stream event that is not a
chat chunk). Every request is recorded (path, headers, JSON body) in `requests`.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that gave up (the timeout tests) closes the connection mid-reply


class FakeLLM:
    def __init__(self) -> None:
        self.reply = "yes"
        self.logprobs: dict[str, float] | None = None
        self.delay = 0.0
        self.status: int | None = None
        self.garbage = False
        self.reject_logprobs = False
        self.chunks: list[str] | None = None
        self.bad_event = False
        self.requests: list[dict[str, Any]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                server.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                server.handle(self, body)

        self._httpd = _QuietServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def __enter__(self) -> FakeLLM:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def handle(self, h: BaseHTTPRequestHandler, body: dict[str, Any]) -> None:
        if self.delay:
            time.sleep(self.delay)
        if h.path != "/v1/chat/completions":
            return self._send(h, 404, b'{"error": "not found"}')
        if self.status is not None:
            return self._send(h, self.status, b'{"error": "refused"}')
        if self.reject_logprobs and body.get("logprobs"):
            return self._send(h, 400, b'{"error": "logprobs not supported"}')
        if self.garbage:
            return self._send(h, 200, b"<html>Bad gateway</html>")
        if body.get("stream"):
            return self._stream(h)
        choice: dict[str, Any] = {"index": 0, "message": {"role": "assistant", "content": self.reply}}
        if self.logprobs is not None and body.get("logprobs"):
            first = max(self.logprobs, key=self.logprobs.__getitem__)
            alternatives = [{"token": t, "logprob": lp} for t, lp in self.logprobs.items()]
            choice["logprobs"] = {
                "content": [{"token": first, "logprob": self.logprobs[first], "top_logprobs": alternatives}]
            }
        data = {"id": "x", "object": "chat.completion", "model": body.get("model"), "choices": [choice]}
        self._send(h, 200, json.dumps(data).encode())

    def _stream(self, h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "text/event-stream")
        h.end_headers()
        pieces = self.chunks if self.chunks is not None else [self.reply]
        events = [{"choices": [{"index": 0, "delta": {"role": "assistant"}}]}]
        events += [{"choices": [{"index": 0, "delta": {"content": p}}]} for p in pieces]
        events.append({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        for i, event in enumerate(events):
            h.wfile.write(b"data: " + json.dumps(event).encode() + b"\n\n")
            if self.bad_event and i == 1:
                h.wfile.write(b"data: {not json\n\n")
            h.wfile.flush()
        h.wfile.write(b"data: [DONE]\n\n")
        h.wfile.flush()

    @staticmethod
    def _send(h: BaseHTTPRequestHandler, status: int, payload: bytes) -> None:
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(payload)))
        h.end_headers()
        h.wfile.write(payload)
