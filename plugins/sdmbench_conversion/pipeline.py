"""The recipe of ``sdm-converted``: train a quantised ANN, convert, optionally fine-tune.

Stage ``ann``: the ``qcfs-unet`` ANN (b-bit quantised clipped ReLUs) trained
as a DDPM, exactly as ``ddpm`` trains its U-Net (EMA weights kept). After it,
the run's converter (``--set converter=NAME``, default ``qcfs``) turns the
EMA ANN into a spiking network of ``T`` steps (``T = 2^b - 1`` unless
``--T`` says otherwise; ``--set bits=B``).

Stage ``finetune`` (``--set fine_tune=true``): the converted SNN is trained to match
the ANN block by block: on noisy training images ``x_t`` at uniform ``t``,

    loss = mean over blocks k of || mean_t SNN_k(x_t)[t] - ANN_k(x_t) ||^2

over the backbone's ``feature_blocks()`` and the output, surrogate gradients
through the IF neurons (thresholds included).

The run's samples, FID and energy are the final SNN's. ``extra_metrics``
scores, with the same seed, sampler and protocol, the ANN (``ann_*``) and,
when fine-tuned, the SNN before fine-tuning (``converted_*``); their grids
are ``samples-ann.png`` and ``samples-converted.png``.
"""
from __future__ import annotations

import copy
import dataclasses
from typing import Any, Dict

import torch
from torch import nn

from sdmbench.errors import UsageError
from sdmbench.running.pipeline import TRAIN_THRESHOLD, DiffusionPipeline, RunContext, build_backbone
from sdmbench.running.sampling import observed_sampling, sample, save_grid
from sdmbench.scoring.metric import Scores
from sdmbench.running.training import noisy_batch, optimise

from .finetune import BlockMatcher

def settle(config, given) -> None:
    """The model's own settings: ``bits`` in 1..8 sets ``T = 2^bits - 1``
    unless T was given; IF neurons only; no inference threshold."""
    bits = config.options["bits"]
    if not isinstance(bits, int) or isinstance(bits, bool) or not 1 <= bits <= 8:
        raise UsageError(f"bits must be a whole number between 1 and 8, got {bits!r}; use --set bits=2")
    if "T" not in given:
        config.T = 2 ** bits - 1  # b-bit activations convert to T = 2^b - 1 steps
    if config.threshold != TRAIN_THRESHOLD:
        raise UsageError("--threshold does not apply to sdm-converted: its thresholds are the learned clip "
                         "values of the ANN's activations")
    if config.init_from:
        raise UsageError("--init-from is for sdm/tsm fine-tuning; sdm-converted fine-tunes with --set fine_tune=true")
    if config.neuron != "if":
        raise UsageError(f"sdm-converted converts to IF neurons; --neuron {config.neuron} does not apply "
                         "(drop --neuron, or add a converter plugin for another neuron)")


class ConversionPipeline(DiffusionPipeline):
    distributed = False  # the extra scoring passes and the fine-tuning are not sharded yet

    def __init__(self, ctx: RunContext):
        options = ctx.config.options
        self.converter = ctx.plugins.converter.get(options["converter"])
        self.stages = ("ann", "finetune") if options["fine_tune"] else ("ann",)
        self.snn: nn.Module | None = None  # the converted network (fine-tuned after stage 'finetune')
        self.converted: nn.Module | None = None  # the converted network before fine-tuning
        super().__init__(ctx)

    def backbone_config(self) -> Dict[str, Any]:
        return dict(super().backbone_config(), bits=self.ctx.config.options["bits"])

    def make_backbone(self) -> nn.Module:
        ctx = self.ctx
        return build_backbone(ctx.plugins, ctx.recipe.backbone, None, 1, TRAIN_THRESHOLD, {}, **self.shape)

    def convert(self) -> nn.Module:
        try:
            snn = self.converter(self.ema, self.ctx.T)
        except (ValueError, TypeError) as exc:
            raise UsageError(f"converter '{self.converter.name}' failed: {exc}") from None
        return snn.to(self.ctx.device).eval()

    # -- stages -------------------------------------------------------------------
    def train_stage(self, stage: str) -> Dict[str, Any]:
        if stage == "ann":
            out = super().train_stage(stage)
            self.converted = self.snn = self.convert()
            return out
        return self.fine_tune()

    def fine_tune(self) -> Dict[str, Any]:
        ctx = self.ctx
        c, device, gen = ctx.config.for_stage("finetune"), ctx.device, ctx.generator
        snn = self.snn = copy.deepcopy(self.converted).train()
        matcher = BlockMatcher(self.ema.eval(), snn, getattr(self.ema, "feature_blocks", lambda: [])(), ctx.T)

        def loss_fn(step: int) -> torch.Tensor:
            return matcher(*noisy_batch(self.process, ctx.data, c.batch_size, gen, device))

        try:
            stats = optimise(snn.parameters(), loss_fn, c, ctx.progress, self.describe("finetune"),
                             checkpoint=ctx.checkpoint("finetune", {"model": snn}))
        finally:
            matcher.close()
        snn.eval()
        self._sampling = None
        return {**stats.as_dict(), "matched_blocks": len(matcher.blocks) + 1}

    def state_dict(self, stage: str) -> Dict[str, Any]:
        if stage == "ann":
            return super().state_dict(stage)
        return {"snn": self.snn.state_dict()}

    def load_stage(self, stage: str, state: Dict[str, Any]) -> None:
        if stage == "ann":
            super().load_stage(stage, state)
            self.converted = self.snn = self.convert()
        else:
            self.snn = copy.deepcopy(self.converted)
            self.snn.load_state_dict(state["snn"])
            self.snn.eval()
        self._sampling = None

    # -- generation and scoring ---------------------------------------------------------
    def generator_module(self) -> nn.Module:
        if self.snn is None:
            raise RuntimeError("generator_module() before training or loading the 'ann' stage")
        if self._sampling is None:
            self._sampling = self.snn.to(self.ctx.device).eval()
        return self._sampling

    def variants(self) -> Dict[str, nn.Module]:
        """The other networks scored beside the final SNN."""
        out = {"ann": self.ema}
        if self.snn is not self.converted:
            out["converted"] = self.converted
        return out

    @torch.no_grad()
    def extra_metrics(self, scoring) -> Dict[str, Any]:
        ctx, results = self.ctx, {}
        for label, module in self.variants().items():
            view = copy.copy(self)
            view._sampling, view._moments = module.to(ctx.device).eval(), None
            metrics = [ctx.plugins.metric.get(name)() for name in ctx.config.metrics]
            samples, observed = sample(view, ctx.config, metrics, scoring.progress, label=f"sample ({label})")
            if ctx.run_dir is not None:
                save_grid(samples, ctx.run_dir / f"samples-{label}.png")
            view_scoring = dataclasses.replace(scoring, samples=samples,
                                               sampling=observed_sampling(observed, ctx.config.sample_steps, ctx.plugins))
            found: Dict[str, Any] = {}
            for metric in metrics:
                found.update(Scores.of(metric.compute(view_scoring)).values)
            results.update({f"{label}_{key}": value for key, value in found.items()})
        return results
