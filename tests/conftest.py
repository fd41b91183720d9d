"""Shared test setup: an isolated sdmbench cache per test session, no
download attempts, and the offline data beside the repository."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import forked_cli

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


def run_cli(*args: str, env: dict | None = None, cwd: Path | None = None, timeout: int | None = None):
    """``python -m sdmbench ARGS``: (exit status, stdout, stderr), in a fork of a process that has imported
    torch already (``forked_cli``), else in a subprocess. No time limit by default: a loaded machine
    passes, only slower (speed is measured in benchmarks/)."""
    full_env = {**os.environ, "COLUMNS": "200", **(env or {})}
    if timeout is None:
        forked = forked_cli.run(args, full_env, cwd)
        if forked is not None:
            return forked
    proc = subprocess.run([sys.executable, "-m", "sdmbench", *args], capture_output=True, text=True,
                          env=full_env, cwd=cwd, timeout=timeout)
    return proc.returncode, proc.stdout, proc.stderr


def folded_rows(text: str, key: int = 0) -> list:
    """The body rows of the rich tables in ``text``, each cell put back together from the lines it was
    folded over (a line whose cell ``key``, one every row fills, is empty continues the row above)."""
    rows: list = []
    for line in text.splitlines():
        cells = [c.strip() for c in line.split("│")[1:-1]]
        if len(cells) < 2:
            continue
        if cells[key] or not rows:
            rows.append(cells)
        else:
            rows[-1] = [a + b for a, b in zip(rows[-1], cells)]
    return rows


def configure_from(preset: dict, overrides: dict, settings: dict | None = None):
    """A run config as the command line builds it, from a preset-like dict of
    settings (model and neuron included) and flags."""
    from sdmbench.plugin_api import loader as plugins
    from sdmbench.running.configure import configure

    return configure(plugins.get(), overrides, settings, preset=preset)


def run_python(code: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """``python -c CODE`` in a subprocess with ``env`` added (an installed example on its path)."""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, **(env or {})})


def install_example(tmp_path_factory, name: str) -> dict:
    """``examples/<name>`` really installed by pip into a target folder; the
    environment that puts it on the path of a subprocess."""
    target = tmp_path_factory.mktemp("site")
    source = tmp_path_factory.mktemp("src") / name
    shutil.copytree(REPO / "examples" / name, source, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                           "--target", str(target), str(source)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    dist = name.replace("-", "_")
    assert any(p.name.startswith(dist + "-") and p.suffix == ".dist-info" for p in target.iterdir())
    return {"PYTHONPATH": os.pathsep.join([str(target), os.environ.get("PYTHONPATH", "")])}
