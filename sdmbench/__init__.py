"""sdmbench: one harness that trains, samples and scores spiking diffusion models.

Plugins register neurons, backbones, diffusion processes, datasets, metrics,
feature extractors and models through the pluggy hooks in
:mod:`sdmbench.plugin_api.hookspecs`, marked with :data:`hookimpl`.
"""
import pluggy

__version__ = "0.1.0"

hookimpl = pluggy.HookimplMarker("sdmbench")
"""Marker for plugin hook implementations: ``@sdmbench.hookimpl``."""

__all__ = ["__version__", "hookimpl"]

from sdmbench import moved as _moved  # noqa: E402  (old import paths, for one release)

_moved.install()
