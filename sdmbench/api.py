"""Python entry points for using sdmbench runs outside the harness.

- :func:`load_backbone` gives a trained (or imported) diffusion run's
  denoiser as an ``nn.Module``: ``forward(x_t, t) -> predicted noise``.
- :func:`build_backbone` builds the (untrained) backbone a run's config
  describes.
"""
from __future__ import annotations

from pathlib import Path

from torch import nn

from sdmbench.plugin_api import loader as plugin_loader

from sdmbench.running import pipeline
from sdmbench.running.checkpoint import load_state
from sdmbench.running.config import RunConfig
from sdmbench.errors import UsageError

STAGE_FILE = "stage-train.pt"


def build_backbone(config: RunConfig, shape: dict, plugins=None) -> nn.Module:
    """The backbone a diffusion run's config describes, at its inference threshold."""
    plugins = plugins or plugin_loader.get()
    recipe = plugins.model.get(config.model)()
    neuron = plugins.neuron.get(config.neuron) if config.spiking else None
    return pipeline.build_backbone(plugins, recipe.backbone, neuron, config.time_steps,
                                   config.threshold, config.neuron_params, **shape)


def load_backbone(run_dir: str | Path, weights: str = "ema", plugins=None) -> nn.Module:
    """The denoiser of a diffusion run, in eval mode, ``forward(x_t, t) -> eps``.

    ``weights``: ``"ema"`` (what sdmbench samples with) or ``"model"`` (the raw
    trained weights). Spiking neurons use the run's inference threshold."""
    from sdmbench.running.records import read_config

    run_dir = Path(run_dir)
    config = RunConfig.from_dict(read_config(run_dir, "load_backbone"))
    state = load_state(run_dir / STAGE_FILE, "cpu", "load_backbone")
    if weights not in ("ema", "model") or "shape" not in state:
        raise UsageError(f"{run_dir / STAGE_FILE} is not a diffusion backbone stage (weights 'ema' or 'model')")
    net = build_backbone(config, dict(state["shape"]), plugins)
    net.load_state_dict(state[weights])
    return net.eval()
