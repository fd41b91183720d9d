"""The two-stage recipe of Spiking-Diffusion.

Stage ``vq-svae``: train the spiking VQ-VAE on images with
``MSE / Var(data) + VQ loss + PSP-domain VQ loss``; its divergence verdict
watches ``MSE / Var(data)`` alone (the VQ terms grow while it learns).
Stage ``diffusion``: encode training images to token grids with the frozen
VQ-SVAE, train the SDID denoiser with the absorbing process's loss.
Generation: sample token grids, decode them with the VQ-SVAE. The energy
counter observes both networks, so every denoiser pass and the decoder pass
are counted. Each stage is checkpointed, so ``--resume RUN_DIR --rerun
diffusion`` retrains the second stage alone.
"""
from __future__ import annotations

from typing import Any, Dict

import torch
from torch import nn

from sdmbench.plugin_api.data import to_unit
from sdmbench.errors import unknown_name
from sdmbench.running.pipeline import PREVIEW_IMAGES, Pipeline, RunContext
from sdmbench.running.training import Watched, optimise

from .quantizer import codebook_usage

RECON_IMAGES = 1000


class SpikingDiffusionPipeline(Pipeline):
    stages = ("vq-svae", "diffusion")
    sampler_options = ("temperature",)

    def __init__(self, ctx: RunContext):
        super().__init__(ctx)
        c, data = ctx.config, ctx.data
        self.autoencoder = ctx.build(ctx.recipe.extras["autoencoder"], img_ch=data.channels,
                                     img_size=data.image_size, **c.backbone.get("autoencoder", {}))
        self.grid = tuple(self.autoencoder.grid)
        num_codes, num_tokens = self.autoencoder.num_codes, self.grid[0] * self.grid[1]
        self.process = ctx.process(num_codes=num_codes, num_tokens=num_tokens, **c.process)
        if c.sampler not in self.process.samplers:
            raise unknown_name("sampler", c.sampler, self.process.samplers,
                               plural=f"samplers of process '{ctx.recipe.process}'")
        self.denoiser = ctx.build(ctx.recipe.backbone, num_codes=num_codes, num_tokens=num_tokens,
                                  **c.backbone.get("denoiser", {}))
        self.both = nn.ModuleDict({"denoiser": self.denoiser, "autoencoder": self.autoencoder})
        self.data_variance = torch.tensor(1.0)

    # -- training -------------------------------------------------------------
    def train_stage(self, stage: str) -> Dict[str, Any]:
        ctx = self.ctx
        c, data, device, gen = ctx.config.for_stage(stage), ctx.data, ctx.device, ctx.generator
        if stage == "vq-svae":
            ae = self.autoencoder.to(device).train()
            self.data_variance = to_unit(data.first(10_000)).var()

            def loss_fn(step: int) -> Watched:
                x = data.random_batch(c.batch_size, gen).to(device)
                _, parts = ae.losses(x)
                reconstruction = parts["mse"] / self.data_variance
                return Watched(reconstruction + parts["vq"] + parts["psp"], reconstruction.detach(), "mse/var")

            stats = optimise(ae.parameters(), loss_fn, c, ctx.progress, "stage 1/2: VQ-SVAE", c.weight_decay,
                             checkpoint=ctx.checkpoint(stage, {"model": ae}))
        else:
            tokens = self.encode_training_tokens(min(len(data), c.train_steps * c.batch_size))
            den = self.denoiser.to(device).train()

            def loss_fn(step: int) -> torch.Tensor:
                idx = torch.randint(0, len(tokens), (c.batch_size,), generator=gen)
                return self.process.loss(den, tokens[idx].to(device), generator=gen)

            stats = optimise(den.parameters(), loss_fn, c, ctx.progress, "stage 2/2: discrete diffusion",
                             c.weight_decay, checkpoint=ctx.checkpoint(stage, {"model": den}, preview=self.preview))
        return stats.as_dict()

    @torch.no_grad()
    def encode_training_tokens(self, count: int, batch: int = 256) -> torch.Tensor:
        ae, progress = self.autoencoder.eval(), self.ctx.progress
        task = progress.add_task("encode tokens", total=count) if progress else None
        out = []
        for start in range(0, count, batch):
            idx = torch.arange(start, min(start + batch, count))
            out.append(ae.encode(to_unit(self.ctx.data.get(idx)).to(self.ctx.device)).cpu())
            if task is not None:
                progress.update(task, advance=len(idx))
        return torch.cat(out)

    def state_dict(self, stage: str) -> Dict[str, Any]:
        if stage == "vq-svae":
            return {"model": self.autoencoder.state_dict(), "data_variance": self.data_variance}
        return {"model": self.denoiser.state_dict()}

    def load_stage(self, stage: str, state: Dict[str, Any]) -> None:
        if stage == "vq-svae":
            self.autoencoder.load_state_dict(state["model"])
            self.data_variance = state["data_variance"]
        else:
            self.denoiser.load_state_dict(state["model"])

    # -- generation -------------------------------------------------------------
    def preview(self, n: int = PREVIEW_IMAGES) -> torch.Tensor:
        """``n`` images of the denoiser as it trains (the TensorBoard grid), from a generator of their own."""
        c, den = self.ctx.config, self.denoiser
        training = den.training
        den.eval()
        try:
            tokens = self.process.sample(den, n, self.grid, sampler=c.sampler, steps=c.sample_steps,
                                         generator=self.preview_generator(), device=self.ctx.device)
            return self.autoencoder.eval().decode(tokens)
        finally:
            den.train(training)

    def generator_module(self) -> nn.Module:
        return self.both.to(self.ctx.device).eval()

    def generate(self, n, generator, on_step=None):
        c = self.ctx.config
        both = self.generator_module()
        tokens = self.process.sample(both["denoiser"], n, self.grid, sampler=c.sampler, steps=c.sample_steps,
                                     generator=generator, device=self.ctx.device, on_step=on_step)
        return both["autoencoder"].decode(tokens)

    @torch.no_grad()
    def extra_metrics(self, scoring) -> Dict[str, Any]:
        """Reconstruction MSE (pixels in [0, 1]) and codebook usage on reference images."""
        ae = self.generator_module()["autoencoder"]
        x = to_unit(scoring.data.first(RECON_IMAGES, size=scoring.protocol["image_size"]))
        errors, codes = [], []
        for chunk in x.split(250):
            chunk = chunk.to(self.ctx.device)
            indices = ae.encode(chunk)
            errors.append(((ae.decode(indices) - chunk) / 2).pow(2).flatten(1).mean(1).cpu())
            codes.append(indices.cpu())
        perplexity, dead = codebook_usage(torch.cat(codes), ae.num_codes)
        return {"reconstruction_mse": float(torch.cat(errors).mean()), "codebook_perplexity": perplexity,
                "dead_codes": dead, "codebook_size": ae.num_codes}
