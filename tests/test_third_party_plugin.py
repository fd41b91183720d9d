"""A separate package, installed with pip, that registers a neuron through
the ``sdmbench`` entry-point group (examples/sdmbench-alif)."""
import json

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


@needs_debian_fmnist
def test_sdm_runs_with_the_third_party_neuron(installed, tmp_path):
    code, out, err = run_cli("run", "--model", "sdm", "--neuron", "alif", "--dataset", "fashion-mnist",
                             "--preset", "smoke", "--train-steps", "10", "--results-dir", str(tmp_path), env=installed)
    assert code == 0, err[-2000:]
    [record] = [json.loads(p.read_text()) for p in tmp_path.glob("*/record.json")]
    assert record["neuron"] == "alif" and record["metrics"]["fid"] > 0
    assert 0 < record["metrics"]["mean_firing_rate"] < 1


@needs_debian_fmnist
def test_spiking_diffusion_runs_with_the_third_party_neuron(installed, tmp_path):
    code, out, err = run_cli("run", "--model", "spiking-diffusion", "--neuron", "alif", "--dataset",
                             "fashion-mnist", "--preset", "smoke", "--results-dir", str(tmp_path), env=installed)
    assert code == 0, err[-2000:]
    [record] = [json.loads(p.read_text()) for p in tmp_path.glob("*/record.json")]
    assert record["neuron"] == "alif" and "codebook_perplexity" in record["metrics"]
