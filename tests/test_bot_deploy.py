"""Deployment: the health endpoint and heartbeat file, the Dockerfile and the systemd unit (fast)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from qabot.bot.health import Health

ROOT = Path(__file__).resolve().parent.parent


async def _get(port: int, path: str = "/health") -> str:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
    await writer.drain()
    data = await reader.read()
    writer.close()
    return data.decode()


def test_health_endpoint_and_heartbeat_follow_the_connection(tmp_path: Path) -> None:
    ready = [False]
    beat = tmp_path / "run" / "heartbeat"

    async def main() -> None:
        health = Health(lambda: ready[0], heartbeat_file=beat, port=0, interval=3600)
        await health.start()
        port = health.bound_port
        assert port is not None
        assert health.bound_hosts == ["127.0.0.1"]  # loopback only
        assert (await _get(port)).startswith("HTTP/1.1 503")
        assert not beat.exists()  # not connected: no heartbeat
        ready[0] = True
        assert (await _get(port)).startswith("HTTP/1.1 200") and (await _get(port)).endswith("ok\n")
        assert (await _get(port, "/other")).startswith("HTTP/1.1 404")
        health.beat()
        assert beat.exists()
        os.utime(beat, (1, 1))
        health.beat()
        assert beat.stat().st_mtime > 1
        await health.stop()
        try:
            await _get(port)
        except OSError:
            pass
        else:
            raise AssertionError("the endpoint still answers after stop")

    asyncio.run(main())


def test_dockerfile_and_systemd_unit() -> None:
    docker = (ROOT / "deploy" / "Dockerfile").read_text(encoding="utf-8")
    assert "download.pytorch.org/whl/cpu" in docker  # CPU torch, not the CUDA wheels
    assert 'CMD ["qabot", "discord"]' in docker or "qabot discord" in docker
    assert "STOPSIGNAL SIGTERM" in docker and "HEALTHCHECK" in docker
    unit = (ROOT / "deploy" / "qabot-discord.service").read_text(encoding="utf-8")
    assert "ExecStart=/opt/qabot/venv/bin/qabot discord" in unit
    assert "EnvironmentFile=/etc/qabot/qabot.env" in unit and "KillSignal=SIGTERM" in unit
    for line in unit.splitlines():
        if line.startswith(("WorkingDirectory=", "EnvironmentFile=", "ExecStart=")):
            assert line.split("=", 1)[1].startswith("/"), line  # absolute paths only
