"""``sdmbench sweep CONFIG.toml``: grids expand into validated runs; executors
are a plugin kind; local and submitit executors give the same records."""
import json
import shutil

import pytest

from sdmbench.errors import UsageError
from sdmbench.running.sweep import load
from sdmbench.plugin_api.testing import load_plugins

from conftest import SHARED_DATA, needs_shared_mnist, run_cli

SETTINGS = f"""
[settings]
preset = "smoke"
dataset = "mnist"
split = "test"
data_root = "{SHARED_DATA}"
train_steps = 2
num_samples = 16
sample_batch_size = 16
sample_steps = 2
reference_images = 64
"""


def write(tmp_path, grid: str, extra: str = "") -> str:
    path = tmp_path / "sweep.toml"
    path.write_text(f'results_dir = "{tmp_path / "results"}"\n[grid]\n{grid}\n{SETTINGS}\n{extra}')
    return str(path)


def test_grid_is_the_product_of_its_axes_and_ann_models_ignore_the_neuron_axis(tmp_path):
    sweep = load(write(tmp_path, 'model = ["sdm", "sdm-ann"]\nneuron = ["if", "tsm"]\nT = [4, 8]\nseed = [0, 1]'))
    labels = [job.label for job in sweep.jobs]
    # sdm: 2 neurons x 2 T x 2 seeds; the ANN twin (no neurons, T = 1): once per seed
    assert sum(label.startswith("sdm ") for label in labels) == 8
    assert sorted(label for label in labels if label.startswith("sdm-ann")) == ["sdm-ann mnist seed0",
                                                                                "sdm-ann mnist seed1"]
    assert len(labels) == len(set(labels)) == 10 and sweep.executor == "local"
    configs = [job.config for job in sweep.jobs]
    assert {(c["neuron"], c["T"], c["seed"]) for c in configs if c["model"] == "sdm"} == \
        {(n, T, s) for n in ("if", "tsm") for T in (4, 8) for s in (0, 1)}
    assert all(c["train_steps"] == 2 and c["results_dir"] == str(tmp_path / "results") for c in configs)


def test_a_steps_scale_multiplies_each_model_s_own_steps_and_the_study_names_every_run(tmp_path):
    """The quick presets: sdm-ann trains 2000 steps, sdm 1000; x0.25 and x4 of each."""
    path = tmp_path / "scaling.toml"
    path.write_text('study = "compute-scaling"\n[grid]\nmodel = ["sdm-ann", "sdm"]\nneuron = "tsm"\n'
                    'train_steps_scale = [0.25, 4]\n[settings]\npreset = "quick"\ndataset = "fashion-mnist"\n')
    jobs = load(str(path)).jobs
    assert sorted((j.config["model"], j.config["train_steps"]) for j in jobs) == \
        [("sdm", 250), ("sdm", 4000), ("sdm-ann", 500), ("sdm-ann", 8000)]
    assert {j.config["study"] for j in jobs} == {"compute-scaling"}
    assert {j.config["batch_size"] for j in jobs if j.config["model"] == "sdm"} == {32}  # only the steps move


def test_several_grids_are_one_sweep_of_their_runs_and_dotted_axes_reach_nested_settings(tmp_path):
    """An ablation: stem alone, neuron alone, both; the run both grids make is run once."""
    path = tmp_path / "ablation.toml"
    path.write_text('[[grid]]\nneuron = "tsm"\n"backbone.stem" = "analog"\n'
                    '[[grid]]\nneuron = "plif"\n"backbone.stem" = ["spiking", "analog"]\n'
                    '[[grid]]\nneuron = "plif"\n"backbone.stem" = "analog"\n'
                    '[settings]\nmodel = "sdm"\npreset = "quick"\ndataset = "fashion-mnist"\n')
    jobs = load(str(path)).jobs
    assert [(j.config["neuron"], j.config["backbone"]["stem"]) for j in jobs] == [
        ("tsm", "analog"), ("plif", "spiking"), ("plif", "analog")]
    assert all(j.config["backbone"]["ch"] == 32 for j in jobs)  # the preset's other backbone settings stay


@pytest.mark.parametrize("grid,needle", [
    ('train_steps_scale = [0]', "train_steps_scale must be a positive number"),
    ('model = ["sdm"]\nneuron = ["iff"]', "unknown neuron 'iff'"),
    ('model = ["sdmm"]', "unknown model 'sdmm'"),
    ('T = [0]', "--T must be at least 1"),
    ('lrr = [0.1]', "unknown setting 'lrr'"),
    ('seed = []', "has no values"),
])
def test_a_bad_grid_fails_before_any_run(tmp_path, grid, needle):
    with pytest.raises(UsageError, match=needle):
        load(write(tmp_path, grid))
    assert not (tmp_path / "results").exists()


def test_bad_files_and_executors_are_one_line_errors(tmp_path):
    code, _, err = run_cli("sweep", str(tmp_path / "missing.toml"))
    assert code == 2 and err.startswith("error: no sweep file")
    broken = tmp_path / "broken.toml"
    broken.write_text("[grid\nmodel = 1")
    code, _, err = run_cli("sweep", str(broken))
    assert code == 2 and "not a valid TOML" in err and len(err.strip().splitlines()) == 1
    code, _, err = run_cli("sweep", write(tmp_path, 'seed = [0]'), "--executor", "ray")
    assert code == 2 and "unknown executor 'ray'" in err
    code, _, err = run_cli("sweep", write(tmp_path, 'seed = [0]', '[executor]\nname = "local"\ncolour = 1'))
    assert code == 2 and "executor 'local': the local executor takes no options" in err
    if not shutil.which("srun"):
        code, _, err = run_cli("sweep", write(tmp_path, 'seed = [0]'), "--executor", "slurm", "--partition", "gpu")
        assert code == 2 and "are you indeed on a slurm cluster" in err and len(err.strip().splitlines()) == 1
        assert not list((tmp_path / "results").glob("*/record.json"))


def test_executors_are_a_plugin_kind():
    class Recorder:
        def __init__(self, **options):
            self.options = options

        def run(self, jobs, progress=None):
            return []

    class Plugin:
        import sdmbench

        @sdmbench.hookimpl
        def sdmbench_register_executors(self, registry):
            registry.add("recorder", Recorder)

    plugins = load_plugins(Plugin())
    assert {"local", "slurm", "submitit-local", "recorder"} <= set(plugins.executor.names())
    assert plugins.executor.get("recorder")(queue="x").options == {"queue": "x"}


def leaderboard_runs(results):
    code, out, err = run_cli("leaderboard", "--results-dir", str(results), "--format", "json")
    assert code == 0, err
    return json.loads(out)


@needs_shared_mnist
def test_local_sweep_of_a_2x2_grid_puts_four_records_in_two_seed_entries_on_the_leaderboard(tmp_path):
    code, out, err = run_cli("sweep", write(tmp_path, 'neuron = ["if", "tsm"]\nseed = [0, 1]', 'metrics = ["energy"]\n'))
    assert code == 0, err
    assert "4 runs, executor local" in out
    rows = leaderboard_runs(tmp_path / "results")
    assert sorted((r["neuron"], r["seeds"], tuple(r["seed_list"])) for r in rows) == [("if", 2, (0, 1)),
                                                                                       ("tsm", 2, (0, 1))]
    seeds = sorted(json.loads(p.read_text())["config"]["seed"] for p in (tmp_path / "results").glob("*/record.json"))
    assert seeds == [0, 0, 1, 1]


@needs_shared_mnist
@pytest.mark.slow  # 24 s of fresh job processes: the default suite's 10-minute budget
def test_submitit_local_executor_runs_the_job_array_with_the_same_results(tmp_path):
    # energy and firing rates only (no classifier to train), one thread per job: the jobs run side by side
    path = write(tmp_path, 'neuron = ["if", "tsm"]', 'metrics = ["energy"]\nthreads = 1\n')
    code, out, err = run_cli("sweep", path, "--executor", "submitit-local", "--timeout-min", "30")
    assert code == 0, err
    assert "2 runs, executor submitit-local" in out

    def scores(folder):
        return sorted((m["energy_per_image_mj"], m["mean_firing_rate"]) for m in
                      (json.loads(p.read_text())["metrics"] for p in folder.glob("*/record.json")))

    assert len(scores(tmp_path / "results")) == 2 and list((tmp_path / "results" / ".submitit").iterdir())
    code, _, err = run_cli("sweep", path, "--results-dir", str(tmp_path / "local"))
    assert code == 0, err
    assert scores(tmp_path / "results") == scores(tmp_path / "local")  # same runs, whichever executor ran them
