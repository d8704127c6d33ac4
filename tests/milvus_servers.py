"""Real Milvus servers for the tests, on 127.0.0.1 only, each stopped through its own process id.

    with lite_server(tmp_path) as uri: ...         # `milvus-lite server` (Milvus Lite 3.x), seconds to start
    server = Milvus235(tmp_path); server.start()   # the real Milvus 2.3.5 standalone (`milvus-server`),
                                                   # ~50 s, in a network namespace of its own (see below)
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _listening(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
        return True
    return False


def _stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    """Stop a server this module started: its own process group (the server and its children).

    The group is waited for as a whole (milvus-server's wrapper exits before its milvus binary);
    whatever is left after 30 s is killed.
    """
    group = proc.pid
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, sig)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        proc.poll()
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            break
        time.sleep(0.2)
    else:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=30)


class LiteServer:
    """`milvus-lite server --host 127.0.0.1 --port P --data-dir D`."""

    def __init__(self, data: Path) -> None:
        self.data = data
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        exe = BIN / "milvus-lite"
        if not exe.exists():
            pytest.skip("milvus-lite is not installed: pip install -e '.[milvus]'")
        log = open(self.data.parent / f"milvus-lite-{self.port}.log", "ab")  # noqa: SIM115 - kept by the process
        self.proc = subprocess.Popen(
            [str(exe), "server", "--host", "127.0.0.1", "--port", str(self.port), "--data-dir", str(self.data)],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 600  # a hang guard: seconds when idle, more on a loaded machine
        while not _listening(self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"milvus-lite server did not start (see {log.name})")
            time.sleep(0.2)

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc is not None:
            _stop(self.proc, sig)

    def stop(self) -> None:
        self.kill(signal.SIGTERM)


@contextlib.contextmanager
def lite_server(data: Path) -> Iterator[LiteServer]:
    server = LiteServer(data)
    server.start()
    try:
        yield server
    finally:
        server.stop()


class Milvus235:
    """The Milvus 2.3.5 standalone server (`pip install milvus==2.3.5`).

    Its proxy, coordinators and metrics listen on every interface whatever the flags say, so
    it runs in a network namespace of its own with only the loopback device (`unshare --net`):
    nothing outside the machine, nor outside that namespace, can reach it. Clients are run
    in the same namespace (`nsenter --net`), see `run`.
    """

    def __init__(self, data: Path, auth: bool = False) -> None:
        self.data = data
        self.auth = auth  # authorization on: clients give "root:Milvus"
        self.port = 19530  # inside its own namespace nothing else listens
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @staticmethod
    def check() -> None:
        """Skip (saying why) where the server or a network namespace is not available."""
        if not (BIN / "milvus-server").exists():
            pytest.skip("milvus==2.3.5 is not installed (pip install -e '.[test]')")
        for tool in ("unshare", "nsenter", "ip"):
            if shutil.which(tool) is None:
                pytest.skip(f"{tool} is missing: the 2.3.5 server runs in its own network namespace")
        probe = subprocess.run(["unshare", "--net", "true"], capture_output=True)
        if probe.returncode != 0:
            pytest.skip("cannot make a network namespace (needs root): the 2.3.5 server would listen on 0.0.0.0")

    def start(self, timeout: float = 900) -> None:  # a hang guard: ~50 s when idle, minutes under load
        self.check()
        log = open(self.data.parent / "milvus-2.3.5.log", "ab")  # noqa: SIM115 - kept by the process
        auth = " --authorization-enabled true" if self.auth else ""
        script = f"ip link set lo up && exec {BIN / 'milvus-server'} --data {self.data} --proxy-port {self.port}{auth}"
        self.proc = subprocess.Popen(
            ["unshare", "--net", "sh", "-c", script], stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + timeout
        probe = (
            "from pymilvus import MilvusClient; import sys; "
            f"c = MilvusClient(uri={self.uri!r}, token='root:Milvus', timeout=5); c.list_collections(); print('ready')"
        )
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"milvus-server exited (see {log.name})")
            done = self.run([sys.executable, "-c", probe], timeout=60, check=False)
            if done.returncode == 0 and "ready" in done.stdout:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"milvus-server did not start in {timeout:.0f} s (see {log.name})")
            time.sleep(2)

    def run(
        self, argv: list[str], env: dict[str, str] | None = None, timeout: float = 600, check: bool = True,
        background: bool = False,
    ) -> subprocess.CompletedProcess[str]:
        """Run a command in the server's network namespace (where 127.0.0.1:19530 is the server)."""
        assert self.proc is not None
        full = ["nsenter", f"--net=/proc/{self.proc.pid}/ns/net", *argv]
        done = subprocess.run(full, env=env, capture_output=True, text=True, timeout=timeout)
        if check and done.returncode != 0:
            raise AssertionError(f"{argv} failed ({done.returncode}): {done.stderr[-2000:]}")
        return done

    def popen(self, argv: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        assert self.proc is not None
        return subprocess.Popen(
            ["nsenter", f"--net=/proc/{self.proc.pid}/ns/net", *argv], env=env, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """kill -9 (by default) the server: its process group, i.e. the wrapper and the milvus binary."""
        if self.proc is not None:
            _stop(self.proc, sig)

    def stop(self) -> None:
        self.kill(signal.SIGTERM)
