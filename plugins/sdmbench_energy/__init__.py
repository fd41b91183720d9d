"""Built-in energy models (``fp32-compute``, the default, ``int8-compute``,
``memory-aware``): price lists over the counts of :mod:`sdmbench.energy`,
constants and sources in :mod:`.prices`."""
import sdmbench

from .prices import FP32_COMPUTE, INT8_COMPUTE, MEMORY_AWARE


@sdmbench.hookimpl
def sdmbench_register_energy_models(registry):
    for model in (FP32_COMPUTE, INT8_COMPUTE, MEMORY_AWARE):
        registry.add(model.name, lambda model=model: model, default=model is FP32_COMPUTE,
                     description=model.describe())
