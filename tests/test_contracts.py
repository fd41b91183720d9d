"""One contract test per plugin kind, over every registered plugin of it
(built-in or installed), as docs/architecture.md states."""
import math

import pytest
import torch

from sdmbench.plugin_api import loader as plugins
from conftest import configure_from as resolve
from sdmbench.plugin_api.data import ImageData
from sdmbench.running.pipeline import DiffusionPipeline, RunContext
from sdmbench.errors import UsageError
from sdmbench.plugin_api.model import PRESETS, ModelRecipe
from sdmbench.scoring.metric import Metric

REGISTRY = plugins.get()


def fake_data(size=16, n=32):
    images = torch.randint(0, 256, (n, 1, size, size), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    return ImageData(name="fake", split="train", channels=1, native_size=size, image_size=size, length=n,
                     content_hash="fake", source="memory", images=images, labels=torch.zeros(n, dtype=torch.long),
                     num_classes=1)


def tiny_pipeline(name, neuron="if"):
    recipe = REGISTRY.model.get(name)()
    config = resolve(recipe.preset("smoke"), {"model": name, "neuron": neuron if recipe.spiking else None,
                                               "dataset": "mnist", "train_steps": 2,
                                               "batch_size": 4,
                                               "sample_steps": 2})
    ctx = RunContext(config=config, plugins=REGISTRY, recipe=recipe,
                     neuron=REGISTRY.neuron.get(neuron) if recipe.spiking else None,
                     process=REGISTRY.process.get(recipe.process), data=fake_data(), device=torch.device("cpu"),
                     generator=torch.Generator().manual_seed(0), T=2 if recipe.spiking else 1, log=lambda *a: None)
    return (recipe.pipeline or DiffusionPipeline)(ctx)


@pytest.mark.parametrize("name", REGISTRY.model.names())
def test_every_model_has_all_presets_and_trains_and_generates_in_range(name):
    recipe = REGISTRY.model.get(name)()
    assert isinstance(recipe, ModelRecipe)
    for preset in PRESETS:
        resolve(recipe.preset(preset), {"model": name, "dataset": "mnist"})  # each preset is a valid config
    assert recipe.backbone in REGISTRY.backbone and recipe.process in REGISTRY.process
    torch.manual_seed(0)
    pipeline = tiny_pipeline(name)
    for stage in pipeline.stages:
        stats = pipeline.train_stage(stage)
        assert stats["steps"] == 2 and math.isfinite(stats["final_loss"])
        pipeline.load_stage(stage, pipeline.state_dict(stage))  # a checkpoint round-trips
    images = pipeline.generate(3, torch.Generator().manual_seed(1))
    assert images.shape == (3, 1, 16, 16) and images.abs().max() <= 1 + 1e-5
    again = pipeline.generate(3, torch.Generator().manual_seed(1))
    assert torch.equal(images, again)  # deterministic under a seed


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
