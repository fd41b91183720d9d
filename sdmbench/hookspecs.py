"""The hooks a sdmbench plugin implements, one per plugin kind.

Each hook receives a :class:`sdmbench.registry.Registry` and calls
``registry.add(name, factory, description=...)``. Built-in plugins (the
``plugins/`` folder) register through the same entry-point group
(``sdmbench``) and the same hooks as third-party packages.

Contracts of the factories (see DESIGN.md):

- neuron: ``factory(T, v_th=1.0, **params) -> nn.Module``; ``module(x)`` with
  ``x: Tensor[T, B, ...]`` of input currents returns 0/1 spikes of the same
  shape, differentiable through a surrogate gradient; no state survives
  between calls.
- backbone: ``factory(neuron, **config) -> nn.Module`` with
  ``forward(x_t, t)`` returning the prediction; ``neuron`` is a zero-argument
  callable giving a fresh neuron module, or ``None`` for the ANN twin.
- process: ``factory(**config)`` -> object with ``loss(backbone, x0)`` (and,
  to train under torchrun, ``loss(backbone, x0, generator, rows=slice)``: the
  loss on those rows, randomness drawn for the whole batch),
  ``sample(backbone, n, shape, sampler=, steps=, generator=)`` and ``samplers``.
- dataset: ``factory(root, split, image_size) -> sdmbench.data.ImageData``.
- metric: ``factory() -> sdmbench.scoring.Metric``.
- extractor (feature extractor for FID): ``factory(data, **options)`` ->
  ``sdmbench.scoring.FeatureExtractor``.
- model: ``factory() -> sdmbench.model.ModelRecipe``.
- converter (ANN -> SNN): ``factory(ann, T, **options) -> nn.Module``: a new
  spiking network (``ann`` is left untouched) with the same
  ``forward(x_t, t)``, simulated for ``T`` time steps, whose output
  approximates the ANN's.
- executor (runs of a grid): ``factory(**options) -> object`` with
  ``run(jobs, progress=None) -> list`` of one :class:`sdmbench.grid.Outcome`
  per job, in order; a job is a picklable :class:`sdmbench.grid.Job` and
  :func:`sdmbench.grid.run_job` executes one anywhere sdmbench is installed.
"""
import pluggy

hookspec = pluggy.HookspecMarker("sdmbench")


@hookspec
def sdmbench_register_neurons(registry):
    """Register spiking neurons."""


@hookspec
def sdmbench_register_backbones(registry):
    """Register networks: spiking U-Nets, their ANN twins, ..."""


@hookspec
def sdmbench_register_processes(registry):
    """Register diffusion processes (each carries its samplers)."""


@hookspec
def sdmbench_register_datasets(registry):
    """Register image datasets."""


@hookspec
def sdmbench_register_metrics(registry):
    """Register metrics (FID, energy, ...)."""


@hookspec
def sdmbench_register_extractors(registry):
    """Register feature extractors that FID looks through."""


@hookspec
def sdmbench_register_models(registry):
    """Register models: named recipes of backbone + process + presets."""


@hookspec
def sdmbench_register_converters(registry):
    """Register ANN-to-SNN converters."""


@hookspec
def sdmbench_register_executors(registry):
    """Register executors that run the jobs of ``sdmbench sweep`` (local, Slurm, ...)."""
