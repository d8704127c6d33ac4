"""Benchmark helper: run a command in a fresh process and measure its wall time and peak RSS.

`os.wait4` returns the resource usage of exactly the child that ended. One Linux trap: at
exec the kernel folds the *old* memory map's high-water mark into the child's `ru_maxrss`, and
Python spawns children with vfork, whose old map is the parent's, so a child of a big benchmark
process would report the benchmark's RSS. Commands therefore start through a tiny wrapper
process (`_WRAPPER`, a few MB) that spawns the command, waits for it with `wait4`, and writes
the command's own wall time and peak RSS to a file.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True)
class ProcResult:
    returncode: int
    seconds: float
    peak_rss_mb: float
    stdout: str
    stderr: str
    cpu_seconds: float = 0.0  # user + system time of the command (all its threads)

    def json_tail(self) -> dict[str, Any]:
        """The last stdout line that is a JSON object (how bench children report)."""
        for line in reversed(self.stdout.splitlines()):
            line = line.strip()
            if line.startswith("{"):
                return dict(json.loads(line))
        raise RuntimeError(f"child printed no JSON (exit {self.returncode}): {self.stderr[-2000:]}")


def bench_env() -> dict[str, str]:
    """The environment for children: offline, no .env surprises, no tokenizer threads warning."""
    env = dict(os.environ)
    env.update({"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"})
    return env


_WRAPPER = """
import json, os, sys, time
began = time.perf_counter()
pid = os.posix_spawnp(sys.argv[2], sys.argv[2:], os.environ)
_, status, usage = os.wait4(pid, 0)
seconds = time.perf_counter() - began
with open(sys.argv[1], "w") as f:
    code, cpu = os.waitstatus_to_exitcode(status), usage.ru_utime + usage.ru_stime
    json.dump({"code": code, "seconds": seconds, "maxrss_kb": usage.ru_maxrss, "cpu": cpu}, f)
"""


def run(args: list[str], timeout: float = 7200.0, cwd: Path | None = None) -> ProcResult:
    """Run `args`, capture its output, and return its wall time and own peak RSS."""
    with (
        tempfile.TemporaryFile("w+") as out,
        tempfile.TemporaryFile("w+") as err,
        tempfile.TemporaryDirectory(prefix="qabot-bench-proc-") as tmp,
    ):
        report = Path(tmp) / "usage.json"
        cmd = [sys.executable, "-S", "-c", _WRAPPER, str(report), *args]
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=bench_env(), cwd=cwd)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        out.seek(0)
        err.seek(0)
        try:
            usage = json.loads(report.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            usage = {"code": proc.returncode or -9, "seconds": timeout, "maxrss_kb": 0}
        return ProcResult(
            int(usage["code"]),
            float(usage["seconds"]),
            usage["maxrss_kb"] / 1024.0,
            out.read(),
            err.read(),
            float(usage.get("cpu", 0.0)),
        )


def python_module(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]


def qabot_command() -> list[str]:
    """The installed `qabot` console script (next to this Python, else on PATH)."""
    here = Path(sys.executable).parent / "qabot"
    if here.is_file():
        return [str(here)]
    found = shutil.which("qabot")
    if found:
        return [found]
    return python_module("qabot.cli")


def vm_hwm_mb() -> float:
    """This process's peak resident set size so far (VmHWM), in MB."""
    return _status_field("VmHWM")


def vm_rss_mb() -> float:
    return _status_field("VmRSS")


def _status_field(name: str) -> float:
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith(name + ":"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
