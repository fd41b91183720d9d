"""The hooks a sdmbench plugin implements, one per plugin kind.

Each ``sdmbench_register_*`` hook receives a
:class:`sdmbench.plugin_api.registry.Registry` and calls ``registry.add(name, factory,
description=..., default=...)``. Built-in plugins (the ``plugins/`` folder)
register through the same entry-point group (``sdmbench``) and the same hooks
as third-party packages. What each factory must return is written as code in
:mod:`sdmbench.plugin_api.contracts` and checked when it is registered; the architecture
page (``docs/architecture.md``) shows where each kind enters a run.

- neuron: ``factory(T, v_th=1.0, **params) -> nn.Module`` (contracts.Neuron).
- backbone: ``factory(neuron, **config) -> nn.Module`` (contracts.Backbone).
- process: ``factory(**config)`` -> a diffusion process (contracts.Process).
- dataset: ``factory(root, split, image_size) -> sdmbench.plugin_api.data.ImageData``
  (``sdmbench.plugin_api.testing.check_dataset`` checks one).
- metric: ``factory() -> sdmbench.scoring.Metric`` (contracts.Metric).
- extractor (feature extractor for FID): ``factory(data, **options)`` ->
  ``sdmbench.scoring.FeatureExtractor``.
- model: ``factory() -> sdmbench.plugin_api.model.ModelRecipe`` (contracts.Model).
- converter (ANN -> SNN): ``factory(ann, T, **options) -> nn.Module``: a new
  spiking network (``ann`` is left untouched) with the same
  ``forward(x_t, t)``, simulated for ``T`` time steps.
- executor (runs of a sweep): ``factory(**options) -> object`` with
  ``run(jobs, progress=None) -> list`` of one :class:`sdmbench.running.sweep.Outcome`
  per job, in order; a job is a picklable :class:`sdmbench.running.sweep.Job` and
  :func:`sdmbench.running.sweep.run_job` executes one anywhere sdmbench is installed.
- energy_model: ``factory() -> object`` with ``name``, ``source`` and
  ``price(layers) -> sdmbench.energy.Energy`` (contracts.EnergyModel;
  :class:`sdmbench.energy.PriceList` is one).
- commands: ``sdmbench_register_commands(app)`` adds typer commands to the
  ``sdmbench`` command line (:func:`sdmbench.plugin_api.commands.group` gives a shared
  sub-command group such as ``import``).
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
    """Register metrics (FID, energy, ...); ``default=True`` ones run when no ``--metrics`` is given."""


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


@hookspec
def sdmbench_register_energy_models(registry):
    """Register energy models (price lists turning counted operations and memory accesses into joules);
    ``default=True`` marks the one the leaderboard sorts by when no ``--energy-model`` is given."""


@hookspec
def sdmbench_register_commands(app):
    """Add commands to the ``sdmbench`` command line (``app`` is its :class:`typer.Typer`)."""
