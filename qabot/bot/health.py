"""Liveness for supervisors: a heartbeat file and/or `GET /health` on 127.0.0.1.

    health = Health(is_ready=bot.is_ready, heartbeat_file=Path("/run/qabot/heartbeat"), port=8080)
    await health.start()     # inside the bot's event loop
    ...
    await health.stop()

The heartbeat file is touched every `interval` seconds while the bot is connected, so a
supervisor can restart it when the file gets old. The HTTP endpoint answers 200 "ok" when
connected and 503 otherwise; it listens on the loopback interface only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger("qabot.bot")

HEARTBEAT_SECONDS = 30.0


class Health:
    def __init__(
        self,
        is_ready: Callable[[], bool],
        heartbeat_file: Path | None = None,
        port: int | None = None,
        interval: float = HEARTBEAT_SECONDS,
        host: str = "127.0.0.1",
    ) -> None:
        self.is_ready = is_ready
        self.heartbeat_file = Path(heartbeat_file).expanduser() if heartbeat_file else None
        self.port = port
        self.host = host
        self.interval = interval
        self._task: asyncio.Task[None] | None = None
        self._server: asyncio.base_events.Server | None = None

    @property
    def bound_port(self) -> int | None:
        if self._server is None or not self._server.sockets:
            return None
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def bound_hosts(self) -> list[str]:
        """The addresses the health endpoint listens on (none before `start`)."""
        return [str(s.getsockname()[0]) for s in self._server.sockets] if self._server is not None else []

    async def start(self) -> None:
        if self.heartbeat_file is not None and self._task is None:
            self._task = asyncio.create_task(self._beat(), name="qabot-heartbeat")
        if self.port is not None and self._server is None:
            self._server = await asyncio.start_server(self._serve, self.host, self.port)
            log.info("Health endpoint on http://%s:%s/health", self.host, self.bound_port)

    def beat(self) -> None:
        """Refresh the heartbeat file now (when connected)."""
        if self.heartbeat_file is None or not self.is_ready():
            return
        try:
            self.heartbeat_file.parent.mkdir(parents=True, exist_ok=True)
            self.heartbeat_file.touch()
            os.utime(self.heartbeat_file)
        except OSError as err:
            log.warning("Could not touch the heartbeat file %s: %s", self.heartbeat_file, err)

    async def _beat(self) -> None:
        while True:
            self.beat()
            await asyncio.sleep(self.interval)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readline(), timeout=5)
            parts = request.decode("latin-1").split()
            path = parts[1] if len(parts) >= 2 else ""
            if path.split("?")[0] not in ("/health", "/healthz", "/"):
                status, body = "404 Not Found", "not found\n"
            elif self.is_ready():
                status, body = "200 OK", "ok\n"
            else:
                status, body = "503 Service Unavailable", "not connected\n"
            writer.write(
                f"HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {len(body)}\r\n"
                f"Connection: close\r\n\r\n{body}".encode()
            )
            await writer.drain()
        except (OSError, TimeoutError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
