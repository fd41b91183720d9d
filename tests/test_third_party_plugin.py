"""A separate package, installed with pip, that registers a neuron through
the ``sdmbench`` entry-point group (examples/sdmbench-alif)."""
import json
import shutil

import pytest

from conftest import install_example, needs_debian_fmnist, run_cli, run_python


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The example package really installed by pip into a target folder."""
    return install_example(tmp_path_factory, "sdmbench-alif")


def test_without_the_package_there_is_no_alif():
    code, out, _ = run_cli("plugins", "--json")
    assert "alif" not in {e["name"] for e in json.loads(out)["plugins"]["neuron"]}


def test_installed_package_appears_in_plugins_with_its_distribution(installed):
    code, out, err = run_cli("plugins", "--json", env=installed)
    assert code == 0, err
    [alif] = [e for e in json.loads(out)["plugins"]["neuron"] if e["name"] == "alif"]
    assert alif["distribution"] == "sdmbench-alif" and alif["plugin"] == "alif"


def test_installed_neuron_passes_the_contract_checks_of_sdmbench_testing(installed):
    code = ("import sdmbench_alif; from sdmbench.plugin_api.testing import check_neuron; "
            "check_neuron(sdmbench_alif.make_alif, T=4); print('contract ok')")
    proc = run_python(code, installed)
    assert proc.returncode == 0 and "contract ok" in proc.stdout, proc.stderr


def test_it_can_be_disabled_by_name(installed):
    code, out, _ = run_cli("plugins", "--json", env={**installed, "SDMBENCH_DISABLE_PLUGINS": "sdmbench-alif"})
    listing = json.loads(out)
    assert "alif" not in {e["name"] for e in listing["plugins"]["neuron"]} and listing["disabled"] == ["alif"]


@pytest.fixture(scope="module")
def alif_runs(installed, tmp_path_factory):
    """A folder holding one ``sdm`` run of the smoke preset with the third-party neuron."""
    folder = tmp_path_factory.mktemp("alif-runs")
    code, out, err = run_cli("run", "--model", "sdm", "--neuron", "alif", "--dataset", "fashion-mnist",
                             "--preset", "smoke", "--results-dir", str(folder), env=installed)
    assert code == 0, err[-2000:]
    return folder


@needs_debian_fmnist
def test_sdm_runs_with_the_third_party_neuron(alif_runs):
    [record] = [json.loads(p.read_text()) for p in alif_runs.glob("*/record.json")]
    assert record["neuron"] == "alif" and record["metrics"]["fid"] > 0
    assert 0 < record["metrics"]["mean_firing_rate"] < 1


@needs_debian_fmnist
def test_a_board_reads_a_third_party_run_alike_where_its_plugin_is_not_installed(installed, alif_runs, tmp_path):
    from sdmbench.board import verify
    from sdmbench.cli.leaderboard import board_markdown, made_elsewhere
    from sdmbench.plugin_api import loader

    [path] = alif_runs.glob("*/record.json")
    record = json.loads(path.read_text())
    assert record["preset"]["neuron"] == "alif" and record["preset"]["train_steps"] == 60  # what smoke makes
    table = ["leaderboard", "--format", "json", "--results-dir", str(alif_runs)]
    code, there, err = run_cli(*table, env=installed)
    assert code == 0, err
    code, here, err = run_cli(*table)  # no alif here: the record's own preset tells what is off it
    assert code == 0, err
    [row] = json.loads(here)
    assert json.loads(there) == [row] and row["section"] == "ranked" and row["changes"] == ""

    # on a board, where alif is not installed: its table is re-derived
    board = tmp_path / "board"
    shutil.copytree(path.parent, board / path.parent.name)
    code, there, err = run_cli("leaderboard", "--format", "markdown", "--results-dir", str(board), env=installed)
    assert code == 0 and "### Ranked" in there, err
    (board / "README.md").write_text(there)
    plugins = loader.get()

    def table_finding():
        [finding] = verify.verify_board(board, board_markdown(board, plugins), made_elsewhere(board, plugins))
        return finding

    assert table_finding().status == verify.MATCH
    del record["preset"]  # as records made before they kept it: not re-derivable here, not a mismatch
    (board / path.parent.name / "record.json").write_text(json.dumps(record))
    finding = table_finding()
    assert finding.status == verify.UNDERIVABLE and record["run_id"] in finding.recomputed
