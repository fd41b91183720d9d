"""The tests' command runner: a fork of a server that has imported torch answers a command as
``python -m sdmbench`` in a fresh process does, and commands a fork cannot be go to a real subprocess."""
import os

import pytest

import forked_cli
from conftest import run_cli


@pytest.mark.parametrize("args", [("plugins", "--json"), ("run", "--model", "nope")])
def test_a_fork_answers_as_a_fresh_process_does(args, monkeypatch):
    forked = run_cli(*args)
    monkeypatch.setenv("SDMBENCH_TEST_FORK", "0")
    fresh = run_cli(*args)
    assert forked == fresh
    assert forked_cli._server is not None  # the first answer did come from the server


def test_what_was_read_at_start_sends_a_command_to_a_subprocess():
    server = {"PATH": "/bin", "OMP_NUM_THREADS": "2"}
    assert forked_cli.forkable(dict(server), server)
    assert forked_cli.forkable(dict(server, PYTHONPATH="/x", SDMBENCH_RESULTS="/r"), server)  # set by the fork
    assert forked_cli.forkable(dict(server, OMP_NUM_THREADS="1"), server)  # torch.set_num_threads(1)
    assert not forked_cli.forkable(dict(server, OMP_NUM_THREADS="one"), server)
    assert not forked_cli.forkable(dict(server, ATEN_CPU_CAPABILITY="default"), server)
    assert not forked_cli.forkable({"PATH": "/bin"}, dict(server, MKL_NUM_THREADS="1"))


def test_a_forked_command_runs_in_its_own_folder_and_leaves_the_tests_where_they_were(tmp_path):
    here = os.getcwd()
    code, out, err = run_cli("leaderboard", "--format", "json", cwd=tmp_path)
    assert code == 0 and out.strip() == "[]", err  # ./results of tmp_path, which has none (not the checkout's board)
    assert os.getcwd() == here
