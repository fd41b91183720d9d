"""A model is a named recipe: which backbone, which process, and the default
configuration of each preset (``smoke``, ``quick``, ``paper``).

Preset dictionaries use the field names of :class:`sdmbench.running.config.RunConfig`
(and the names of the model's own ``options``); ``backbone`` and ``process``
entries are the keyword arguments of those factories. ``spiking=False`` marks
an ANN: it receives ``neuron=None`` and runs with T = 1.
"""
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Optional, Set

PRESETS = ("smoke", "quick", "paper")


@dataclass(frozen=True)
class ModelRecipe:
    backbone: str
    process: str
    presets: Dict[str, Dict[str, Any]]
    spiking: bool = True
    description: str = ""
    extras: Dict[str, Any] = field(default_factory=dict)
    #: the training/generation recipe (a ``sdmbench.running.pipeline.Pipeline``); None: ``DiffusionPipeline``
    pipeline: Optional[Callable[..., Any]] = None
    #: the model's own settings and their defaults (``--set NAME=VALUE``; ``config.options``)
    options: Dict[str, Any] = field(default_factory=dict)
    #: ``settle(config, given)`` after the config is merged: derive settings from others (``given``: the
    #: names the user or a saved run set explicitly) and raise ``UsageError`` on impossible combinations
    settle: Optional[Callable[[Any, Set[str]], None]] = None

    def preset(self, name: str) -> Dict[str, Any]:
        from sdmbench.errors import unknown_name

        if name not in self.presets:
            raise unknown_name("preset", name, self.presets)
        return dict(self.presets[name])
