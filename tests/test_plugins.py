"""The plugin system: registries, discovery through entry points, conflicts,
broken and disabled plugins."""
import types

import pytest
import torch

import sdmbench
from sdmbench.plugin_api import loader as plugins
from sdmbench.errors import UsageError
from sdmbench.plugin_api.registry import DuplicateName, Registry
from sdmbench.plugin_api.testing import load_plugins


def plugin_module(name, **hooks):
    module = types.ModuleType(name)
    for hook, fn in hooks.items():
        setattr(module, hook, sdmbench.hookimpl(fn))
    return module


def test_builtins_arrive_through_the_entry_point_group(sdmbench_plugins):
    p = sdmbench_plugins
    assert {"if", "lif"} <= set(p.neuron.names())
    assert {"sdm", "sdm-ann"} <= set(p.model.names())
    assert set(p.dataset.names()) >= {"mnist", "fashion-mnist", "kmnist", "emnist-letters", "cifar10", "celeba",
                                      "lsun-bedroom"}
    assert {"fid", "energy"} <= set(p.metric.names())
    assert p.neuron.get("if").plugin == "sdmbench-neurons"
    assert p.loaded["sdmbench-neurons"] == "sdmbench"


def test_unknown_name_lists_what_exists_and_suggests_the_closest():
    r = Registry("neuron")
    r.add("lif", object)
    r.add("if", object)
    with pytest.raises(UsageError) as err:
        r.get("liff")
    assert "Did you mean 'lif'?" in str(err.value) and "if, lif" in str(err.value)
    prices = Registry("energy_model")  # a kind in two words is written in words
    prices.add("fp32-compute", object)
    with pytest.raises(UsageError, match=r"^unknown energy model 'fp64'\. Known energy models: fp32-compute\.$"):
        prices.get("fp64")


def test_a_name_registered_twice_names_both_plugins():
    r = Registry("neuron")
    r.current_plugin = "first"
    r.add("if", object)
    r.current_plugin = "second"
    with pytest.raises(DuplicateName, match="'first' and by plugin 'second'"):
        r.add("if", object)


def test_a_duplicate_across_installed_plugins_is_a_usage_error():
    clash = plugin_module("clash", sdmbench_register_neurons=lambda registry: registry.add("if", object))
    with pytest.raises(UsageError, match="sdmbench-neurons.*clash"):
        load_plugins(clash)


@pytest.mark.parametrize("bad", ["has space", "a/b", "", "Upper"])
def test_names_with_whitespace_separators_or_capitals_are_refused(bad):
    with pytest.raises(ValueError):
        Registry("neuron").add(bad, object)


class Step(torch.nn.Module):
    """A toy neuron: spikes where the input current exceeds the threshold."""

    def __init__(self, T, v_th=1.0):
        super().__init__()
        self.v_th = v_th

    def forward(self, x):
        return (x > self.v_th).to(x.dtype)


def test_a_local_plugin_registers_through_the_same_hooks():
    extra = plugin_module("extra", sdmbench_register_neurons=lambda registry: registry.add(
        "toy", Step, description="a toy"))
    p = load_plugins(extra, entry_points=False)
    assert p.neuron.names() == ["toy"] and p.neuron.get("toy").description == "a toy"


class NoSampler:
    """A process without ``sample``: it cannot generate."""

    samplers = ("x",)

    def loss(self, backbone, x0, generator=None):
        return x0.mean()


@pytest.mark.parametrize("kind, factory, member", [
    ("process", NoSampler, "'sample'"),
    ("metric", lambda: object(), "'compute'"),
    ("neuron", lambda T, v_th=1.0: object(), "not an nn.Module"),
    ("model", lambda: types.SimpleNamespace(backbone="b", process="p"), "'presets'"),
    ("dataset", lambda root: None, "cannot be called as the harness calls it"),
])
def test_an_entry_that_breaks_its_contract_fails_its_plugin_by_name_and_member(kind, factory, member):
    bad = plugin_module("bad-plugin", **{plugins.KINDS[kind]: lambda registry: registry.add("broken", factory)})
    p = load_plugins(bad, entry_points=False)
    assert "broken" not in p.registries[kind]
    assert "bad-plugin" in p.failures["bad-plugin"] and f"{kind} 'broken'" in p.failures["bad-plugin"]
    assert member in p.failures["bad-plugin"]


def test_contracts_name_required_and_optional_members():
    from sdmbench.plugin_api import contracts

    assert contracts.required_members(contracts.Process) == ["loss", "sample", "samplers"]
    assert "q_sample" in contracts.Process.OPTIONAL and "moments" in contracts.Process.OPTIONAL
    assert contracts.required_members(contracts.Metric) == ["compute", "name", "observe"]
    assert {"train_stage", "state_dict", "load_stage", "generate", "generator_module", "stages"} <= \
        set(contracts.required_members(contracts.Pipeline))


def test_every_builtin_entry_fulfils_its_contract(sdmbench_plugins):
    assert not sdmbench_plugins.failures, sdmbench_plugins.failures
    assert all(r.contract is not None for r in sdmbench_plugins.registries.values())


def test_a_plugin_that_fails_to_import_is_reported_not_fatal(monkeypatch):
    class Broken:
        name, dist = "broken-plugin", None

        def load(self):
            raise ImportError("no module named 'missing_dependency'")

    real = plugins._entry_points()
    monkeypatch.setattr(plugins, "_entry_points", lambda: [*real, Broken()])
    p = plugins.build()
    assert "missing_dependency" in p.failures["broken-plugin"]
    assert "if" in p.neuron  # the others still load


def test_a_misspelt_hook_is_reported():
    typo = plugin_module("typo", sdmbench_register_neuron=lambda registry: None)
    p = load_plugins(typo, entry_points=False)
    assert "typo" in p.failures and "typo" not in p.loaded


def test_disable_plugins_by_name(monkeypatch):
    monkeypatch.setenv("SDMBENCH_DISABLE_PLUGINS", "sdmbench-neurons, other")
    p = plugins.build()
    assert len(p.neuron) == 0 and "sdmbench-neurons" in p.disabled
    assert "sdm" in p.model


def test_the_ann_twin_answers_to_its_old_name_with_a_deprecation_warning(sdmbench_plugins):
    from sdmbench.running.configure import configure

    with pytest.warns(DeprecationWarning, match="'ddpm' is deprecated; it is now 'sdm-ann'"):
        assert sdmbench_plugins.model.get("ddpm").name == "sdm-ann"
    with pytest.warns(DeprecationWarning):
        config = configure(sdmbench_plugins, {"model": "ddpm", "dataset": "mnist"})
    assert config.model == "sdm-ann" and config.neuron is None
    assert sdmbench_plugins.model.canonical("ddpm") == "sdm-ann" and "ddpm" not in sdmbench_plugins.model.names()
