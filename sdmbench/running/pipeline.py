"""How a model trains and generates, in stages, apart from the harness.

A :class:`Pipeline` is built from a :class:`RunContext` (config, resolved
plugins, data, device, RNG, progress). It trains in named ``stages``; after
each stage the harness saves ``state_dict(stage)`` as ``stage-<name>.pt`` in
the run folder, so a run can resume (or rerun one stage) with
``--resume RUN_DIR``. Generation is ``generate(n, generator, on_step)`` ->
images in ``[-1, 1]``; ``generator_module()`` is what the energy counter
observes during a real sampling pass.

:class:`DiffusionPipeline` is the default one-stage recipe: a backbone
trained with a continuous diffusion process (``loss``, ``sample``, and for
BatchNorm recalibration ``num_timesteps`` / ``q_sample``), its EMA weights
sampled. A model recipe may name another pipeline (``ModelRecipe.pipeline``);
the contract is :class:`sdmbench.plugin_api.contracts.Pipeline`.
"""
from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Optional, Sequence

import torch
from torch import nn

from sdmbench.running.checkpoint import StepCheckpoint, load_state
from sdmbench.running.config import RunConfig
from sdmbench.running.curves import CurveLog
from sdmbench.plugin_api.data import ImageData
from sdmbench.errors import UsageError
from sdmbench.plugin_api.neuron import neuron_maker

PREVIEW_IMAGES = 64  # an 8 x 8 grid
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
    run_dir: Optional[Path] = None  # where mid-stage checkpoints go
    resume_dir: Optional[Path] = None  # a run folder whose mid-stage checkpoints are continued

    def checkpoint(self, stage: str, modules: Dict[str, nn.Module],
                   preview: Optional[Callable[[], torch.Tensor]] = None) -> Optional[StepCheckpoint]:
        """The mid-stage checkpoint of ``stage`` over ``modules`` (None outside a run folder); ``preview()``
        samples the images of the stage's TensorBoard grid every ``sample_every`` steps."""
        if self.run_dir is None:
            return None
        name = f"checkpoint-{stage}.pt"
        source = self.resume_dir / name if self.resume_dir is not None else None
        curve = CurveLog(self.run_dir, stage, self.config.log_every, self.resume_dir, self.log,
                         config=self.config.to_dict(), preview=preview, sample_every=self.config.sample_every)
        return StepCheckpoint(self.run_dir / name, self.config.checkpoint_every, modules, self.generator,
                              resume_from=source, curve=curve)

    def build(self, backbone: str, v_th: float = TRAIN_THRESHOLD, **config: Any) -> nn.Module:
        return build_backbone(self.plugins, backbone, self.neuron, self.T, v_th, self.config.neuron_params,
                              **config)


def build_backbone(plugins, backbone: str, neuron, T: int, v_th: float, neuron_params: Dict[str, Any],
                   **config: Any) -> nn.Module:
    """``backbone`` built with fresh ``neuron`` modules (a registry entry, or None
    for an ANN) at threshold ``v_th``; a bad setting is a :class:`UsageError`."""
    maker = None if neuron is None else neuron_maker(neuron.factory, T, v_th, neuron_params)
    try:
        net = plugins.backbone.get(backbone)(maker, T=T, **config)
    except (ValueError, TypeError, OverflowError, RuntimeError) as exc:
        raise UsageError(f"cannot build backbone '{backbone}': {str(exc).splitlines()[0]}") from None
    if not isinstance(net, nn.Module):
        raise TypeError(f"backbone '{backbone}' returned {type(net).__name__}, not an nn.Module (its contract)")
    return net


class Pipeline:
    stages: Sequence[str] = ()
    #: whether the recipe trains and samples under torchrun (see sdmbench.hardware.distributed)
    distributed = False

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

    def describe(self, stage: str) -> str:
        """The progress-bar label of a training stage."""
        stages = list(self.stages)
        return "train" if len(stages) == 1 else f"stage {stages.index(stage) + 1}/{len(stages)}: {stage}"

    def preview_generator(self) -> torch.Generator:
        """The generator of a TensorBoard grid: seeded from the run, apart from training's, the same at
        every grid."""
        return torch.Generator().manual_seed(self.ctx.config.seed + 3)

    def prepare_sampling(self) -> None:
        """One-off work before generating (not counted per image by the energy metric)."""

    def extra_metrics(self, scoring) -> Dict[str, Any]:
        return {}


class DiffusionPipeline(Pipeline):
    """Backbone + continuous diffusion process, one training stage, EMA sampled.
    Trains and samples under torchrun (DistributedDataParallel)."""

    stages = ("train",)
    distributed = True

    def __init__(self, ctx: RunContext):
        super().__init__(ctx)
        c = ctx.config
        self.shape = self.backbone_config()
        self.backbone = self.make_backbone()
        self.process = ctx.process(**c.process)
        self.ema: Optional[nn.Module] = None
        self._sampling: Optional[nn.Module] = None
        self._moments: Optional[torch.Tensor] = None

    def backbone_config(self) -> Dict[str, Any]:
        """The backbone's keyword arguments (saved with the weights as ``shape``)."""
        data = self.ctx.data
        return dict(img_ch=data.channels, img_size=data.image_size, **self.ctx.config.backbone)

    def make_backbone(self) -> nn.Module:
        return self.ctx.build(self.ctx.recipe.backbone, **self.shape)

    def train_stage(self, stage: str) -> Dict[str, Any]:
        from sdmbench.running.training import train

        ctx = self.ctx
        ema = self._init_from(Path(ctx.config.init_from)) if ctx.config.init_from else None
        self.ema, stats = train(self.backbone, self.process, ctx.data, ctx.config, ctx.device, ctx.generator,
                                ctx.progress, ema=ema, description=self.describe(stage),
                                checkpoint=lambda modules: ctx.checkpoint(
                                    stage, modules, preview=lambda: self.preview(modules["ema"])))
        out = stats.as_dict()
        if ctx.config.init_from:
            out["init_from"] = ctx.config.init_from
        return out

    def _init_from(self, run_dir: Path) -> nn.Module:
        """Start from a trained run's weights (model and EMA). State the source
        lacks may only be what the backbone's ``optional_state(key)`` allows
        (e.g. per-step gains a TSM neuron adds), which keeps its fresh values."""
        state = load_state(run_dir / "stage-train.pt", "cpu", "--init-from")
        if not {"model", "ema"} <= set(state):
            raise UsageError(f"--init-from {run_dir}: stage-train.pt holds no model and EMA weights; pass a "
                             "finished run of a diffusion model")
        optional = getattr(self.backbone, "optional_state", lambda key: False)
        as_json = lambda shape: json.loads(json.dumps(shape))  # noqa: E731  (tuples and lists alike)
        if as_json(state.get("shape", {})) != as_json(self.shape):
            raise UsageError(f"--init-from {run_dir}: its U-Net {state.get('shape')} differs from this run's "
                             f"{self.shape}; use the same dataset and backbone settings")
        ema = copy.deepcopy(self.backbone)
        for module, weights in ((self.backbone, state["model"]), (ema, state["ema"])):
            missing, unexpected = module.load_state_dict(weights, strict=False)
            if unexpected or any(not optional(k) for k in missing):
                raise UsageError(f"--init-from {run_dir}: weights do not fit (missing {missing[:2]}, "
                                 f"unexpected {unexpected[:2]}); the source must be a run of the same model and T")
        return ema

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

    def prepare_sampling(self) -> None:
        """Samplers that need the model's noise moments (Analytic-DPM) get them
        here, from training images, with their own seeded generator."""
        c = self.ctx.config
        if c.sampler in getattr(self.process, "data_samplers", ()) and self._moments is None:
            gen = torch.Generator().manual_seed(c.seed + 2)
            x0 = self.ctx.data.random_batch(self.process.moment_images, gen).to(self.ctx.device)
            self._moments = self.process.moments(self.generator_module(), x0, c.sample_steps, gen)

    def preview(self, model: nn.Module, n: int = PREVIEW_IMAGES) -> torch.Tensor:
        """``n`` images of ``model`` (the EMA weights while they train) with the run's sampler, from a
        generator of their own (the same noise at every grid, and training's generator untouched)."""
        c, data = self.ctx.config, self.ctx.data
        return self.process.sample(model, n, (data.channels, data.image_size, data.image_size), sampler=c.sampler,
                                   steps=c.sample_steps, generator=self.preview_generator(),
                                   device=self.ctx.device)

    def generate(self, n, generator, on_step=None):
        c, data = self.ctx.config, self.ctx.data
        self.prepare_sampling()
        extra = {"moments": self._moments} if self._moments is not None else {}
        return self.process.sample(self.generator_module(), n, (data.channels, data.image_size, data.image_size),
                                   sampler=c.sampler, steps=c.sample_steps, generator=generator,
                                   device=self.ctx.device, on_step=on_step, **extra)
