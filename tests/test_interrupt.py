"""Ctrl-C in the middle of a real rebuild leaves the previous index in use."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from qabot import store

from .conftest import SEED_FILE


def _qabot(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    exe = Path(sys.executable).parent / "qabot"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "qabot.cli"]
    return subprocess.Popen([*cmd, *args], env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.mark.slow
def test_sigint_during_build_keeps_the_previous_generation(tmp_path: Path) -> None:
    seeds, index = tmp_path / "seeds", tmp_path / "index"
    seeds.mkdir()
    shutil.copy2(SEED_FILE, seeds / SEED_FILE.name)
    env = {**os.environ, "QABOT_SEEDS_DIR": str(seeds), "QABOT_INDEX_DIR": str(index)}
    first = _qabot("index", "build", env=env)
    assert first.wait(timeout=1800) == 0, first.stderr.read() if first.stderr else ""
    assert (index / store.CURRENT).read_text().strip() == "gen-000001"

    text = SEED_FILE.read_text(encoding="utf-8")
    for i in range(300):  # enough new text that embedding takes many seconds
        (seeds / f"copy_{i:03d}.txt").write_text(
            f"Variant {i}.\n\n{text.replace('Iran', f'Iran{i}')}", encoding="utf-8"
        )
    build = _qabot("index", "build", "--full", env=env)
    deadline = time.time() + 1200
    while time.time() < deadline and not list(index.glob(".tmp-gen-*")):
        time.sleep(0.1)
    assert list(index.glob(".tmp-gen-*")), "the build never started writing"
    time.sleep(1.0)
    build.send_signal(signal.SIGINT)
    _, err = build.communicate(timeout=1200)
    assert build.returncode == 130, err
    assert "interrupted" in err and "unchanged" in err and "Traceback" not in err
    assert (index / store.CURRENT).read_text().strip() == "gen-000001"
    assert not list(index.glob(".tmp-*"))

    seeds_only_original = tmp_path / "original"
    seeds_only_original.mkdir()
    shutil.copy2(SEED_FILE, seeds_only_original / SEED_FILE.name)
    env["QABOT_SEEDS_DIR"] = str(seeds_only_original)
    ask = _qabot("ask", "--json", "How many of the missiles failed?", env=env)
    out, err = ask.communicate(timeout=1800)
    assert ask.returncode == 0, err
    assert "four failed" in json.loads(out)["answer"]
