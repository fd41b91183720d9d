"""sdmbench: one harness that trains, samples and scores spiking diffusion models.

Plugins register neurons, backbones, diffusion processes, datasets, metrics,
feature extractors and models through the pluggy hooks in
:mod:`sdmbench.hookspecs`, marked with :data:`hookimpl`.
"""
import pluggy

__version__ = "0.1.0"

hookimpl = pluggy.HookimplMarker("sdmbench")
"""Marker for plugin hook implementations: ``@sdmbench.hookimpl``."""

__all__ = ["__version__", "hookimpl"]
