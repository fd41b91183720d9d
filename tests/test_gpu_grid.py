"""The study queue (``studies/board/gpu_grid.py``): it knows from the board which runs are left, and a CPU
queue refuses to start where bfloat16 is emulated."""
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BOARD = ROOT / "leaderboard"


def load_grid():
    spec = importlib.util.spec_from_file_location("gpu_grid", ROOT / "studies" / "board" / "gpu_grid.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


grid = load_grid()


def board_record(model: str, neuron: str, study, stem=None) -> Path:
    """The first published record with these settings (seed 0, the preset's steps), as the board has it."""
    for path in sorted(BOARD.glob("*/record.json")):
        config = json.loads(path.read_text())["config"]
        if (config["model"], config["neuron"], config["seed"], config.get("study")) == (model, neuron, 0, study) \
                and (stem is None or config["backbone"].get("stem") == stem):
            return path
    pytest.skip(f"no published {model}/{neuron} {study} record on this board")


def copy_to(board: Path, record: Path, **config) -> str:
    data = json.loads(record.read_text())
    data["config"].update(config)
    folder = board / (data["run_id"] + "-" + "-".join(str(v) for v in config.values()))
    folder.mkdir(parents=True)
    (folder / "record.json").write_text(json.dumps(data))
    return data["run_id"]


@pytest.fixture(autouse=True)
def no_native_bf16(monkeypatch):
    """Every test here stands on a CPU without native bfloat16 (the probe decides) unless it says otherwise."""
    monkeypatch.setattr("sdmbench.hardware.precision.cpu_has_native_bf16", lambda: False)


def test_a_runs_arguments_fix_its_settings_and_an_unset_study_is_none():
    args = ["--model", "sdm", "--neuron", "plif", "--seed", "2", "--train-steps", "4000",
            "--set", "backbone.stem=analog", "--set", "study=spiking-variant"]
    assert grid.wanted(args) == {"model": "sdm", "neuron": "plif", "seed": "2", "train_steps": "4000",
                                 "backbone.stem": "analog", "study": "spiking-variant"}
    assert grid.wanted(["--model", "sdm-ann", "--seed", "0"]) == {"model": "sdm-ann", "seed": "0", "study": None}


def test_a_model_option_is_read_under_options_and_a_bool_as_true_or_false():
    config = {"backbone": {"stem": "analog"}, "options": {"fine_tune": True}, "seed": 0}
    assert grid.config_value(config, "backbone.stem") == "analog"
    assert grid.config_value(config, "fine_tune") is True and grid.same(True, "true")
    assert grid.same(0, "0") and not grid.same(0, "1") and grid.same(None, None) and not grid.same("x", None)


def test_a_run_is_left_until_the_board_holds_its_settings_on_its_kind_of_device(tmp_path):
    variant = board_record("sdm", "tsm", "spiking-variant", stem="analog")
    faithful = board_record("sdm", "tsm", None)
    runs = {key: (key, cost, args) for key, cost, args in grid.board() + grid.study()}
    pick = [runs["tsm-analog-s0"], runs["sdm-tsm-s0"], runs["plif-s0"]]
    assert grid.published(pick, tmp_path, "cpu", "quick") == {}  # an empty board: everything is left
    # the faithful seed 0 is not the analog stem's seed 0 (no study label), nor is it plif's
    faithful_id = copy_to(tmp_path, faithful, device="cpu")
    assert grid.published(pick, tmp_path, "cpu", "quick") == {"sdm-tsm-s0": faithful_id}
    # the analog stem's seed 0 trained on a GPU is not the CPU queue's run, but is a GPU queue's
    variant_id = copy_to(tmp_path, variant, device="cuda:0")
    assert grid.published(pick, tmp_path, "cpu", "quick") == {"sdm-tsm-s0": faithful_id}
    assert grid.published(pick, tmp_path, "cuda", "quick") == {"tsm-analog-s0": variant_id}
    # another seed of it does not stand in for seed 0
    copy_to(tmp_path, variant, device="cpu", seed=1)
    assert "tsm-analog-s0" not in grid.published(pick, tmp_path, "cpu", "quick")


def test_the_queue_skips_what_the_board_holds_and_starts_nothing(tmp_path, monkeypatch):
    faithful = board_record("sdm", "tsm", None)
    board = tmp_path / "board"
    run_id = copy_to(board, faithful, device="cpu")
    monkeypatch.setattr("sdmbench.hardware.precision.cpu_bf16_slowdown", lambda: 0.5)
    launched = []
    monkeypatch.setattr(grid, "launch", lambda *a: launched.append(a))
    monkeypatch.setattr(sys, "argv", ["gpu_grid.py", "--grid", "board", "--device", "cpu", "--workers", "1",
                                      "--only", "sdm-tsm-s0", "--skip-published", str(board),
                                      "--work", str(tmp_path / "q" / "work"), "--out", str(tmp_path / "out")])
    grid.main()
    log = (tmp_path / "out" / "grid.log").read_text()
    assert launched == [] and f"skip sdm-tsm-s0: on the board as {run_id}" in log and "not started: none" in log


@pytest.mark.parametrize("slowdown, precisions, exits", [(27.0, {"bf16", "fp32"}, True), (0.7, {"bf16"}, False),
                                                       (27.0, {"fp32"}, False)])
def test_a_cpu_queue_of_bf16_runs_refuses_emulated_bf16(monkeypatch, capsys, slowdown, precisions, exits):
    monkeypatch.setattr("sdmbench.hardware.precision.cpu_bf16_slowdown", lambda: slowdown)
    if exits:
        with pytest.raises(SystemExit) as stop:
            grid.refuse_emulated_bf16("cpu", precisions)
        assert stop.value.code == 2 and "emulates bfloat16" in capsys.readouterr().err
    else:
        grid.refuse_emulated_bf16("cpu", precisions)
    grid.refuse_emulated_bf16("cuda", precisions)  # a GPU queue never asks the CPU


def test_a_cpu_with_native_bf16_starts_its_queue_without_the_probe(monkeypatch):
    monkeypatch.setattr("sdmbench.hardware.precision.cpu_has_native_bf16", lambda: True)
    monkeypatch.setattr("sdmbench.hardware.precision.cpu_bf16_slowdown", lambda: pytest.fail("probed"))
    grid.refuse_emulated_bf16("cpu", {"bf16"})


def test_a_runs_precision_is_its_presets_with_its_settings():
    runs = {key: args for key, _, args in grid.board() + grid.study()}
    assert grid.precision(runs["plif-analog-s2"], "quick") == "bf16"  # the U-Net's quick preset
    assert grid.precision(runs["sd-lif-s0"], "quick") == "fp32"  # Spiking-Diffusion's quick preset
    assert grid.precision(runs["tsm-x4"], "smoke") == "fp32"


def test_the_refusal_comes_before_any_folder_is_made(tmp_path, monkeypatch):
    monkeypatch.setattr("sdmbench.hardware.precision.cpu_bf16_slowdown", lambda: 27.0)
    monkeypatch.setattr(sys, "argv", ["gpu_grid.py", "--grid", "study", "--device", "cpu",
                                      "--work", str(tmp_path / "q" / "work"), "--out", str(tmp_path / "out")])
    with pytest.raises(SystemExit):
        grid.main()
    assert not any(tmp_path.iterdir())


@pytest.fixture
def launched(monkeypatch):
    """The keys the queue starts, in order; each "run" is a process that ends at once with status 0."""
    keys = []

    def launch(key, *rest):
        keys.append(key)
        return subprocess.Popen([sys.executable, "-c", "pass"])

    monkeypatch.setattr(grid, "launch", launch)
    monkeypatch.setattr(grid, "POLL_S", 0.01)  # these runs end at once: no second's wait after each
    return keys


def test_kept_order_without_a_list_is_the_grids_order_less_what_the_board_holds(tmp_path, monkeypatch, launched):
    board = tmp_path / "board"
    for path in BOARD.glob("*/record.json"):
        if json.loads(path.read_text())["config"].get("study"):
            (board / path.parent.name).mkdir(parents=True)
            (board / path.parent.name / "record.json").write_bytes(path.read_bytes())
    runs = grid.study()
    held = grid.published(runs, board, "cpu", "quick")
    for key in ("ann-x0.5", "plif-s1"):
        if key in held:
            shutil.rmtree(board / held.pop(key))
    monkeypatch.setattr("sdmbench.hardware.precision.cpu_bf16_slowdown", lambda: 0.5)
    monkeypatch.setattr(sys, "argv", ["gpu_grid.py", "--grid", "study", "--device", "cpu", "--workers", "1",
                                      "--keep-order", "--skip-published", str(board),
                                      "--work", str(tmp_path / "q" / "work"), "--out", str(tmp_path / "out")])
    grid.main()
    assert launched == [key for key, _, _ in runs if key not in held]
    assert launched.index("ann-x0.5") < launched.index("plif-s1")


def test_a_queue_of_fp32_runs_starts_where_bf16_is_emulated(tmp_path, monkeypatch, launched):
    monkeypatch.setattr("sdmbench.hardware.precision.cpu_bf16_slowdown", lambda: 27.0)
    monkeypatch.setattr(sys, "argv", ["gpu_grid.py", "--grid", "board", "--device", "cpu", "--only", "conv-s0",
                                      "--work", str(tmp_path / "q" / "work"), "--out", str(tmp_path / "out")])
    grid.main()  # the converted network's quick preset trains in fp32
    assert launched == ["conv-s0"]


def test_the_ablation_gives_each_variant_three_seeds_and_the_analog_stem_the_faithful_networks_five():
    """Its third seed undid the first two's gain, so the analog stem gets two more seeds, after the ablation's
    own three seeds of every variant (a queue cut off early has finished those first)."""
    keys = [key for key, _, args in grid.study() if "study=spiking-variant" in args]
    assert keys[:9] == [f"{name}-s{seed}" for name in ("tsm-analog", "plif", "plif-analog") for seed in range(3)]
    assert keys[9:] == ["tsm-analog-s3", "tsm-analog-s4"]
    seeds = {key: grid.wanted(args)["seed"] for key, _, args in grid.study()}
    assert [seeds[f"tsm-analog-s{seed}"] for seed in range(5)] == ["0", "1", "2", "3", "4"]


STOPPABLE_RUN = """
import signal, sys, time
from pathlib import Path
folder = Path(sys.argv[1])
def saved(signum, frame):
    (folder / "stopped-by").write_text(signal.Signals(signum).name)
    sys.exit(130)
signal.signal(signal.SIGTERM, saved)
(folder / "ready").write_text("")
time.sleep(60)
"""


def test_a_signal_to_the_queue_stops_its_run_which_keeps_its_work_and_starts_no_other(tmp_path, monkeypatch):
    """Killing the queue used to leave its run going in a session of its own; now the run gets the SIGTERM,
    saves its checkpoint and exits, nothing else starts, and the queue exits 130 with its handlers undone."""
    keys = []

    def launch(key, args, work, a, logs):
        keys.append(key)
        folder = work / key
        folder.mkdir(parents=True)
        proc = subprocess.Popen([sys.executable, "-c", STOPPABLE_RUN, str(folder)], start_new_session=True)

        def signal_the_queue_once_the_run_listens():
            while not (folder / "ready").exists():
                time.sleep(0.01)
            os.kill(os.getpid(), signal.SIGTERM)
        threading.Thread(target=signal_the_queue_once_the_run_listens, daemon=True).start()
        return proc

    monkeypatch.setattr(grid, "launch", launch)
    monkeypatch.setattr(grid, "POLL_S", 0.01)

    def unhandled(signum, frame):
        raise AssertionError("the queue left SIGTERM to the handler it found")

    work, out = tmp_path / "q" / "work", tmp_path / "out"
    monkeypatch.setattr(sys, "argv", ["gpu_grid.py", "--grid", "board", "--workers", "1", "--keep-order",
                                      "--only", "ann-s0,ann-s1", "--work", str(work), "--out", str(out)])
    before = signal.signal(signal.SIGTERM, unhandled)
    try:
        with pytest.raises(SystemExit) as stopped:
            grid.main()
        assert signal.getsignal(signal.SIGTERM) is unhandled
    finally:
        signal.signal(signal.SIGTERM, before)
    assert stopped.value.code == 130
    assert keys == ["ann-s0"]
    assert (work / "ann-s0" / "stopped-by").read_text() == "SIGTERM"
    log = (out / "grid.log").read_text()
    assert "stopped ann-s0 (SIGTERM)" in log and "not started: ann-s1" in log
