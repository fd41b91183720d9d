"""A plugin's settings live with the plugin: each kind has a namespace of ``--set`` settings, passed to it as
they are; the settings that lived in the core (``temperature``, ``inception_weights``) are aliases for one
release, and configs saved before read the same."""
import pytest

from sdmbench.plugin_api import loader as plugins
from sdmbench.running.config import RunConfig, parse_settings
from sdmbench.running.configure import configure

from conftest import run_cli

SD = {"model": "spiking-diffusion", "dataset": "fashion-mnist", "preset": "smoke"}


def _config(overrides, *settings):
    return configure(plugins.get(), {**SD, **overrides}, parse_settings(list(settings)))


def test_the_process_namespace_reaches_the_process_and_the_old_flag_is_its_alias():
    new = _config({}, "process.temperature=0.9")
    old = _config({"temperature": 0.9})
    assert new.process == old.process == {"temperature": 0.9}
    assert new.to_dict() == old.to_dict()
    assert "temperature" not in new.to_dict()  # no core field: the absorbing process owns it
    process = plugins.get().process.get("absorbing")(**new.process)
    assert process.temperature == 0.9


def test_the_extractor_namespace_reaches_the_extractor_and_the_old_setting_is_its_alias(tmp_path):
    weights = tmp_path / "w.pth"
    weights.write_bytes(b"")
    new = _config({"extractor": "inception"}, f"extractor.weights={weights}")
    old = _config({"extractor": "inception", "inception_weights": str(weights)})
    assert new.extractor == "inception" and new.extractor_options == {"weights": str(weights)}
    assert old.to_dict() == new.to_dict()


def test_the_neuron_namespace_is_the_neurons_params():
    config = configure(plugins.get(), {"model": "sdm", "neuron": "lif", "dataset": "fashion-mnist"},
                       parse_settings(["neuron.tau=3.0"]))
    assert config.neuron_params == {"tau": 3.0}


def test_a_config_saved_before_reads_as_the_same_method():
    """Saved configs held ``temperature`` and ``inception_weights`` in the core; at their defaults they were
    the process's default (or unused), so they vanish; any other value moves to its namespace."""
    saved = RunConfig().to_dict()
    saved.pop("extractor_options")
    assert RunConfig.from_dict(dict(saved, temperature=1.0, inception_weights=None)) == RunConfig()
    moved = RunConfig.from_dict(dict(saved, temperature=0.8, inception_weights="/w.pth"))
    assert moved.process == {"temperature": 0.8} and moved.extractor_options == {"weights": "/w.pth"}
    assert moved.options == {}


@pytest.mark.parametrize("args, needle", [
    (["--model", "spiking-diffusion", "--set", "process.temperature=0"],
     "process 'absorbing' refuses its settings {'temperature': 0}: process.temperature must be a positive number"),
    (["--model", "spiking-diffusion", "--temperature", "-1"], "process.temperature must be a positive number"),
    (["--model", "sdm", "--set", "process.temperature=0.9"], "process 'ddpm' refuses its settings"),
    (["--model", "sdm", "--set", "extractor.weights=/w.pth"],
     "extractor 'classifier-resnet' takes no settings; drop extractor.weights"),
    (["--model", "sdm", "--extractor", "inception", "--set", "extractor.weights=/nonexistent.pth"],
     "--set extractor.weights=/nonexistent.pth: no such file"),
    (["--model", "sdm", "--extractor", "inception", "--set", "extractor.wieghts=/w.pth"],
     "extractor 'inception' has no setting 'wieghts'"),
])
def test_a_bad_plugin_setting_is_a_one_line_error_before_any_work(tmp_path, args, needle):
    code, out, err = run_cli("run", *args, "--dataset", "fashion-mnist", "--results-dir", str(tmp_path))
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and needle in lines[0], err
    assert not list(tmp_path.iterdir())


def test_score_takes_the_extractors_settings_and_nothing_else(tmp_path):
    code, out, err = run_cli("score", str(tmp_path), "--set", "lr=0.1")
    assert code == 2 and "sdmbench score --set takes the extractor's settings" in err
