"""Shared test setup: an isolated sdmbench cache per test session, no
download attempts, and the offline data beside the repository."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
DEBIAN_FMNIST = Path("/usr/share/datasets/fashion-mnist")

needs_shared_mnist = pytest.mark.skipif(not (SHARED_DATA / "mnist").is_dir(),
                                        reason="../shared/data/mnist is not beside the repository")
needs_debian_fmnist = pytest.mark.skipif(not DEBIAN_FMNIST.is_dir(),
                                         reason="apt-get install dataset-fashion-mnist")


@pytest.fixture(scope="session", autouse=True)
def isolated_cache(tmp_path_factory):
    cache = tmp_path_factory.mktemp("sdmbench-cache")
    old = {k: os.environ.get(k) for k in ("SDMBENCH_CACHE", "SDMBENCH_OFFLINE", "SDMBENCH_DATA",
                                          "SDMBENCH_RESULTS", "SDMBENCH_DISABLE_PLUGINS")}
    os.environ.update(SDMBENCH_CACHE=str(cache), SDMBENCH_OFFLINE="1")
    for k in ("SDMBENCH_DATA", "SDMBENCH_RESULTS", "SDMBENCH_DISABLE_PLUGINS"):
        os.environ.pop(k, None)
    yield cache
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def run_cli(*args: str, env: dict | None = None, cwd: Path | None = None, timeout: int = 300):
    """``python -m sdmbench ARGS`` in a subprocess: (exit status, stdout, stderr)."""
    full_env = {**os.environ, **(env or {}), "COLUMNS": "200"}
    proc = subprocess.run([sys.executable, "-m", "sdmbench", *args], capture_output=True, text=True,
                          env=full_env, cwd=cwd, timeout=timeout)
    return proc.returncode, proc.stdout, proc.stderr
