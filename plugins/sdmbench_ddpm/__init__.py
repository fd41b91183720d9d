"""The Gaussian DDPM process (Ho et al. 2020) with its samplers."""
import sdmbench

from .process import GaussianDiffusion


@sdmbench.hookimpl
def sdmbench_register_processes(registry):
    registry.add("ddpm", GaussianDiffusion,
                 description="Gaussian diffusion, linear betas, eps-prediction; samplers: "
                             + ", ".join(GaussianDiffusion.samplers))
