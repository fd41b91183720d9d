"""How a model trains and generates, in stages, apart from the harness.

A :class:`Pipeline` is built from a :class:`RunContext` (config, resolved
plugins, data, device, RNG, progress). It trains in named ``stages``; after
each stage the harness saves ``state_dict(stage)`` as ``stage-<name>.pt`` in
the run folder, so a run can resume (or rerun one stage) with
``--resume RUN_DIR``. Generation is ``generate(n, generator, on_step)`` ->
images in ``[-1, 1]``; ``generator_module()`` is what the energy counter
observes during a real sampling pass.

:class:`DiffusionPipeline` is the one-stage recipe of ``sdm`` and ``ddpm``:
a backbone trained with a continuous diffusion process, EMA weights sampled.
A model recipe may name another pipeline (``ModelRecipe.pipeline``).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Callable, Dict, Optional, Sequence

import torch
from torch import nn

from sdmbench.config import RunConfig
from sdmbench.data import ImageData
from sdmbench.errors import UsageError
from sdmbench.neuron import neuron_maker

TRAIN_THRESHOLD = 1.0  # v_th while training; --threshold changes it at inference only (SDM's threshold guidance)


@dataclass
class RunContext:
    config: RunConfig
    plugins: Any
    recipe: Any
    neuron: Any  # registry entry, or None for an ANN
    process: Any  # registry entry
    data: ImageData
    device: torch.device
    generator: torch.Generator
    T: int
    progress: Any = None
    log: Callable[..., None] = print

    def make_neuron(self, v_th: float = TRAIN_THRESHOLD):
        """The zero-argument neuron maker backbones receive (None for an ANN)."""
        if self.neuron is None:
            return None
        return neuron_maker(self.neuron.factory, self.T, v_th, self.config.neuron_params)

    def build(self, backbone: str, v_th: float = TRAIN_THRESHOLD, **config: Any) -> nn.Module:
        entry = self.plugins.backbone.get(backbone)
        try:
            return entry(self.make_neuron(v_th), T=self.T, **config)
        except (ValueError, TypeError) as exc:
            raise UsageError(f"cannot build backbone '{backbone}': {exc}") from None


class Pipeline:
    stages: Sequence[str] = ()

    def __init__(self, ctx: RunContext):
        self.ctx = ctx

    def train_stage(self, stage: str) -> Dict[str, Any]:  # pragma: no cover - interface
        raise NotImplementedError

    def state_dict(self, stage: str) -> Dict[str, Any]:  # pragma: no cover - interface
        raise NotImplementedError

    def load_stage(self, stage: str, state: Dict[str, Any]) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def generator_module(self) -> nn.Module:  # pragma: no cover - interface
        raise NotImplementedError

    def generate(self, n: int, generator: torch.Generator,
                 on_step: Optional[Callable[[int], None]] = None) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError

    def parameters(self) -> int:
        return sum(p.numel() for p in self.generator_module().parameters())

    def extra_metrics(self, scoring) -> Dict[str, Any]:
        return {}


class DiffusionPipeline(Pipeline):
    """Backbone + continuous diffusion process, one training stage, EMA sampled."""

    stages = ("train",)

    def __init__(self, ctx: RunContext):
        super().__init__(ctx)
        c, data = ctx.config, ctx.data
        self.shape = dict(img_ch=data.channels, img_size=data.image_size, **c.backbone)
        self.backbone = ctx.build(ctx.recipe.backbone, **self.shape)
        self.process = ctx.process(**c.process)
        samplers = getattr(self.process, "samplers", None)
        if samplers is not None and c.sampler not in samplers:
            from sdmbench.errors import unknown_name

            raise unknown_name(f"sampler of process '{ctx.recipe.process}'", c.sampler, samplers)
        self.ema: Optional[nn.Module] = None
        self._sampling: Optional[nn.Module] = None

    def train_stage(self, stage: str) -> Dict[str, Any]:
        from sdmbench.training import train

        ctx = self.ctx
        self.ema, stats = train(self.backbone, self.process, ctx.data, ctx.config, ctx.device, ctx.generator,
                                ctx.progress)
        return stats.as_dict()

    def state_dict(self, stage: str) -> Dict[str, Any]:
        return {"model": self.backbone.state_dict(), "ema": self.ema.state_dict(), "shape": self.shape}

    def load_stage(self, stage: str, state: Dict[str, Any]) -> None:
        self.backbone.load_state_dict(state["model"])
        self.ema = copy.deepcopy(self.backbone).to(self.ctx.device)
        self.ema.load_state_dict(state["ema"])

    def parameters(self) -> int:
        return sum(p.numel() for p in self.backbone.parameters())

    def generator_module(self) -> nn.Module:
        """The EMA weights, rebuilt with the inference threshold when it differs."""
        if self.ema is None:
            raise RuntimeError("generator_module() before training or loading the 'train' stage")
        if self._sampling is None:
            model = self.ema
            v_th = self.ctx.config.threshold
            if self.ctx.neuron is not None and v_th != TRAIN_THRESHOLD:
                guided = self.ctx.build(self.ctx.recipe.backbone, v_th=v_th, **self.shape)
                guided.load_state_dict(model.state_dict())
                model = guided
            self._sampling = model.to(self.ctx.device).eval()
        return self._sampling

    def generate(self, n, generator, on_step=None):
        c, data = self.ctx.config, self.ctx.data
        return self.process.sample(self.generator_module(), n, (data.channels, data.image_size, data.image_size),
                                   sampler=c.sampler, steps=c.sample_steps, generator=generator,
                                   device=self.ctx.device, on_step=on_step)
