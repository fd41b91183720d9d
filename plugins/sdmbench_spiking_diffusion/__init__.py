"""Spiking-Diffusion (Liu et al. 2023): the spiking VQ-VAE (``vq-svae``), the
spiking token denoiser (``sdid``), absorbing-state discrete diffusion
(``absorbing``) and the two-stage model ``spiking-diffusion``."""
import sdmbench
from sdmbench.plugin_api.model import ModelRecipe

from .absorbing import AbsorbingDiffusion
from .pipeline import SpikingDiffusionPipeline
from .sdid import make_sdid
from .vqsvae import make_vqsvae

_COMMON = dict(neuron="if", sampler="unmask", lr=1e-3, weight_decay=1e-3, batch_size=32)
SMOKE = dict(_COMMON, image_size=16, T=4,
             backbone=dict(autoencoder=dict(num_codes=32, code_dim=8, widths=(16, 32)),
                           denoiser=dict(widths=(16, 32, 64, 64, 32))),
             stages={"vq-svae": dict(train_steps=60), "diffusion": dict(train_steps=60)},
             sample_steps=16, num_samples=128, sample_batch_size=128, reference_images=2000)
QUICK = dict(_COMMON, image_size=32, T=8,
             backbone=dict(autoencoder=dict(num_codes=128, code_dim=16, widths=(32, 64)),
                           denoiser=dict(widths=(32, 64, 128, 256, 128))),
             stages={"vq-svae": dict(train_steps=1500), "diffusion": dict(train_steps=1800)},
             sample_steps=64, num_samples=1000, sample_batch_size=100, reference_images=10000, sample_every=450)
PAPER = dict(_COMMON, image_size=28, T=16,
             backbone=dict(autoencoder=dict(num_codes=128, code_dim=16), denoiser=dict()),
             stages={"vq-svae": dict(train_steps=187_500), "diffusion": dict(train_steps=375_000)},
             sample_steps=49, num_samples=50_000, sample_batch_size=500, extractor="inception",
             reference_images=50_000, sample_every=10_000)


@sdmbench.hookimpl
def sdmbench_register_backbones(registry):
    registry.add("vq-svae", make_vqsvae, description="spiking VQ-VAE: rate+membrane quantiser input, PSP VQ loss, "
                                                      "adaptive spike generator (Spiking-Diffusion)")
    registry.add("sdid", make_sdid, description="spiking denoiser over the latent token grid (Spiking-Diffusion)")


@sdmbench.hookimpl
def sdmbench_register_processes(registry):
    registry.add("absorbing", AbsorbingDiffusion,
                 description="absorbing-state discrete diffusion over tokens; sampler: unmask (with temperature)")


@sdmbench.hookimpl
def sdmbench_register_models(registry):
    registry.add("spiking-diffusion",
                 lambda: ModelRecipe("sdid", "absorbing", {"smoke": SMOKE, "quick": QUICK, "paper": PAPER},
                                     spiking=True, pipeline=SpikingDiffusionPipeline,
                                     extras={"autoencoder": "vq-svae"}),
                 description="Spiking-Diffusion: VQ-SVAE + absorbing discrete diffusion with SDID (Liu et al. 2023)")
