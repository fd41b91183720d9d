"""One contract test per plugin kind, over every registered plugin of it
(built-in or installed), as DESIGN.md asks."""
import pytest
import torch

from sdmbench import plugins
from sdmbench.config import resolve
from sdmbench.errors import UsageError
from sdmbench.model import PRESETS, ModelRecipe
from sdmbench.neuron import neuron_maker
from sdmbench.scoring.metric import Metric

REGISTRY = plugins.get()


@pytest.mark.parametrize("name", REGISTRY.model.names())
def test_every_model_has_all_presets_and_a_tiny_version_trains_one_step(name):
    recipe = REGISTRY.model.get(name)()
    assert isinstance(recipe, ModelRecipe)
    for preset in PRESETS:
        resolve(recipe.preset(preset), {"model": name})  # each preset is a valid config
    assert recipe.backbone in REGISTRY.backbone and recipe.process in REGISTRY.process
    config = resolve(recipe.preset("smoke"), {"model": name})
    neuron = neuron_maker(REGISTRY.neuron.get("if").factory, 2) if recipe.spiking else None
    torch.manual_seed(0)
    net = REGISTRY.backbone.get(recipe.backbone)(neuron, T=2, img_ch=1, img_size=8, **config.backbone)
    process = REGISTRY.process.get(recipe.process)(**config.process)
    loss = process.loss(net, torch.rand(2, 1, 8, 8) * 2 - 1, generator=torch.Generator().manual_seed(0))
    loss.backward()
    assert torch.isfinite(loss)


@pytest.mark.parametrize("name", REGISTRY.process.names())
def test_every_process_samples_deterministically_in_range(name):
    process = REGISTRY.process.get(name)()
    net = torch.nn.Conv2d(1, 1, 3, padding=1)
    zero_t = lambda x, t: net(x)  # noqa: E731 - a stand-in backbone
    for sampler in getattr(process, "samplers", ["default"]):
        a = process.sample(zero_t, 2, (1, 8, 8), sampler=sampler, steps=4, generator=torch.Generator().manual_seed(0))
        b = process.sample(zero_t, 2, (1, 8, 8), sampler=sampler, steps=4, generator=torch.Generator().manual_seed(0))
        assert a.shape == (2, 1, 8, 8) and torch.equal(a, b)
        assert a.abs().max() <= 1.0 + 1e-5  # the last step returns a clipped x0 estimate


@pytest.mark.parametrize("name", REGISTRY.dataset.names())
def test_every_dataset_missing_from_disk_is_a_one_line_usage_error(name, tmp_path, monkeypatch):
    monkeypatch.setenv("SDMBENCH_CACHE", str(tmp_path / "cache"))
    try:
        REGISTRY.dataset.get(name)(str(tmp_path / "empty"), "train", None)
    except UsageError as exc:
        assert name in str(exc) and "\n" not in str(exc)
    else:
        assert name == "fashion-mnist", "found data in an empty root"  # the Debian package may be installed


@pytest.mark.parametrize("name", REGISTRY.metric.names())
def test_every_metric_declares_which_way_is_better(name):
    metric = REGISTRY.metric.get(name)()
    assert isinstance(metric, Metric) and metric.higher_is_better
    assert all(isinstance(v, bool) for v in metric.higher_is_better.values())
