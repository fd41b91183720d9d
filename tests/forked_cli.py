"""``python -m sdmbench ARGS`` for the tests, without paying Python's start-up for each command.

A command costs 3 to 6 s before it does anything (importing torch and torchvision) on a 2-core
machine, and the suite runs about two hundred of them. So one server process per test session imports
those and the other heavy third-party modules a run needs (:data:`PRELOAD`), and nothing of sdmbench,
and answers each command with a fork of itself that becomes what ``python -m sdmbench ARGS`` would be:

- the command's environment, working folder and ``sys.argv``;
- ``sys.path`` as Python builds it at start: the working folder, then ``PYTHONPATH``, then the
  interpreter's own entries (site-packages and the editable install's finders);
- stdin from ``/dev/null``, stdout and stderr into files, fresh text streams over them;
- sdmbench and its plugins imported afresh, so every environment variable they read is the command's;
- Python's exit: non-daemon threads joined, ``atexit`` handlers run, the status of ``SystemExit``.

What a fork cannot take from its environment, because the server read it when it started
(``MKL_*``, ``ATEN_CPU_CAPABILITY``, ``PYTHON*``, ...), sends the command to a real subprocess
instead, as does ``SDMBENCH_TEST_FORK=0``; ``PYTHONPATH`` and ``OMP_NUM_THREADS`` a fork sets as a
start would (``sys.path``, torch's thread count). Tests that signal or time a command start it
themselves. Random generators seeded at import (``random``, numpy's) are seeded afresh in each fork.
"""
from __future__ import annotations

import atexit
import json
import os
import subprocess
import sys
import tempfile
from typing import Dict, Optional, Tuple

#: variables read when a process starts: a command that changes one runs in a real subprocess
STARTUP_PREFIXES = ("OMP_", "MKL_", "KMP_", "GOMP_", "OPENBLAS_", "ATEN_", "PYTHON", "LD_", "CUDA_", "TORCH_",
                    "MALLOC_", "DNNL_", "ONEDNN_")
#: start-up variables a fork sets as the start would have: the path, and torch's thread count
EMULATED = {"PYTHONPATH", "OMP_NUM_THREADS"}
PRELOAD = ("torch", "torchvision", "numpy", "PIL.Image", "typer", "rich.console", "rich.progress", "safetensors.torch",
           "torch.utils.tensorboard", "torch_fidelity")  # the last two: 0.2 s of every run's start

SERVER = r"""
import importlib, json, os, sys
for name in PRELOAD:
    importlib.import_module(name)
requests, replies = os.fdopen(0, "r"), 1
SERVER_THREADS = os.environ.get("OMP_NUM_THREADS")
base_path = [p for p in sys.path[1:] if p not in os.environ.get("PYTHONPATH", "").split(os.pathsep)]


def become(request):
    os.environ.clear()
    os.environ.update(request["env"])
    os.chdir(request["cwd"])
    for fd, path, flags in ((0, os.devnull, os.O_RDONLY), (1, request["out"], os.O_WRONLY),
                            (2, request["err"], os.O_WRONLY)):
        os.dup2(os.open(path, flags), fd)
    sys.stdin = open(0, "r", closefd=False)
    sys.stdout = open(1, "w", closefd=False)
    sys.stderr = open(2, "w", closefd=False, errors="backslashreplace", buffering=1)
    extra = [p for p in request["env"].get("PYTHONPATH", "").split(os.pathsep) if p]
    sys.path[:] = [request["cwd"], *extra, *base_path]
    importlib.invalidate_caches()
    import random
    random.seed()
    import numpy
    numpy.random.seed()
    sys.argv = ["-m", *request["args"]]
    if request["env"].get("OMP_NUM_THREADS") != SERVER_THREADS:  # what torch would have read at its start
        import torch
        torch.set_num_threads(int(request["env"]["OMP_NUM_THREADS"]))


def command():
    import runpy, threading, atexit, traceback
    code = 0
    try:
        runpy.run_module("sdmbench", run_name="__main__", alter_sys=True)
    except SystemExit as exc:
        if exc.code is None:
            code = 0
        elif isinstance(exc.code, int):
            code = exc.code
        else:
            print(exc.code, file=sys.stderr)
            code = 1
    except BaseException:
        traceback.print_exc()
        code = 1
    threading._shutdown()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    return code


for line in requests:
    request = json.loads(line)
    pid = os.fork()
    if pid == 0:
        status = 1
        try:
            become(request)
            status = command()
        finally:
            os._exit(status & 0xFF)
    _, status = os.waitpid(pid, 0)
    os.write(replies, (json.dumps({"code": os.waitstatus_to_exitcode(status)}) + "\n").encode())
"""

_server: Optional[subprocess.Popen] = None
_server_env: Dict[str, str] = {}
_broken = False


def _start() -> subprocess.Popen:
    global _server, _server_env
    if _server is None:
        _server_env = dict(os.environ)
        _server = subprocess.Popen([sys.executable, "-c", f"PRELOAD = {PRELOAD!r}\n" + SERVER],
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=_server_env,
                                   cwd=tempfile.gettempdir())
        atexit.register(stop)
    return _server


def stop() -> None:
    global _server
    if _server is not None:
        _server.stdin.close()
        _server.wait()
        _server = None


def forkable(env: Dict[str, str], server_env: Dict[str, str]) -> bool:
    """Whether a fork of a server started in ``server_env`` can be this command: no start-up variable
    differs, but for those a fork sets (a thread count must then be a positive whole number)."""
    if os.environ.get("SDMBENCH_TEST_FORK", "1") == "0" or not hasattr(os, "fork"):
        return False
    keys = {k for k in set(env) | set(server_env) if k.startswith(STARTUP_PREFIXES)} - EMULATED
    threads = env.get("OMP_NUM_THREADS")
    settable = threads == server_env.get("OMP_NUM_THREADS") or (threads or "").isdigit() and int(threads) > 0
    return settable and all(env.get(k) == server_env.get(k) for k in keys)


def run(args, env: Dict[str, str], cwd: Optional[str]) -> Optional[Tuple[int, str, str]]:
    """(exit status, stdout, stderr) of ``python -m sdmbench ARGS`` run in a fork; None where it cannot be."""
    global _broken
    if _broken or not forkable(env, _server_env if _server is not None else dict(os.environ)):
        return None
    server = _start()
    with tempfile.TemporaryDirectory() as folder:
        out, err = os.path.join(folder, "out"), os.path.join(folder, "err")
        open(out, "w").close(), open(err, "w").close()
        request = {"args": list(args), "env": env, "cwd": str(cwd or os.getcwd()), "out": out, "err": err}
        try:
            server.stdin.write(json.dumps(request) + "\n")
            server.stdin.flush()
            reply = server.stdout.readline()
        except OSError:
            reply = ""
        if not reply:  # the server died: this and every later command run in a subprocess
            _broken = True
            return None
        with open(out, encoding="utf-8", errors="replace") as o, open(err, encoding="utf-8", errors="replace") as e:
            return json.loads(reply)["code"], o.read(), e.read()
