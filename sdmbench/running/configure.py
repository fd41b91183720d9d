"""The one place a run's config is built from the registries.

:func:`configure` merges the model's preset (or, to resume or fine-tune, a
saved run's config), the user's flags and ``--set`` settings
(:func:`sdmbench.running.config.resolve`), then fills what nobody named from the
plugins: the model (the registry's default), the neuron of a spiking model,
the process's default sampler, the default feature extractor and the default
metrics. Every name is checked against its registry here, so a typo fails
with a did-you-mean before any data is read or any step is trained. The
model's ``settle`` hook derives its own settings last (a conversion model's
T from its activation bits).
"""
from __future__ import annotations

from typing import Any, Dict, Optional

from sdmbench.running.config import RunConfig, resolve
from sdmbench.errors import UsageError, unknown_name

DEFAULT_PRESET = "smoke"


def configure(plugins, overrides: Dict[str, Any], settings: Optional[Dict[str, Any]] = None,
              base: Optional[Dict[str, Any]] = None, preset: Optional[Dict[str, Any]] = None) -> RunConfig:
    """A validated, complete config.

    ``overrides``: the flags (``None`` means not given); ``settings``: nested
    ``--set`` values; ``base``: a saved run's config to start from instead of
    the model's preset (every setting in it counts as given); ``preset``: a
    preset dictionary to use instead of the one ``--preset`` names."""
    given = {k for k, v in overrides.items() if v is not None} | set(settings or {})
    name = overrides.get("model") or (base or preset or {}).get("model") or plugins.model.default("model (--model)")
    entry = plugins.model.get(name)
    recipe = entry()
    if base is None:
        chosen = overrides.get("preset") or (preset or {}).get("preset") or DEFAULT_PRESET
        source = dict(preset) if preset is not None else recipe.preset(chosen)
        overrides = {**overrides, "preset": chosen}
    else:
        source = _saved(base, recipe)
        given |= set(source) | set(source.get("options") or {})
    config = resolve(source, {**overrides, "model": entry.name}, settings, options=recipe.options)
    fill_names(config, recipe, plugins)
    if recipe.settle is not None:
        recipe.settle(config, given)
    return config


def _saved(base: Dict[str, Any], recipe) -> Dict[str, Any]:
    """A saved config as a source for :func:`resolve`: its results folder is
    the caller's to set, and settings its model no longer has are dropped."""
    saved = RunConfig.from_dict(base).to_dict()
    saved.pop("results_dir", None)
    saved["options"] = {k: v for k, v in saved["options"].items() if k in recipe.options}
    return saved


def spiking_settings_only_if_spiking(plugins, model: Optional[str], settings: Dict[str, Any]) -> Dict[str, Any]:
    """``settings`` without ``neuron`` and ``T`` when ``model`` is an ANN (a grid's axes of those do not
    apply to it: it has no neuron and runs with T = 1, as :func:`fill_names` decides)."""
    recipe = plugins.model.get(model or plugins.model.default("model"))()
    return settings if recipe.spiking else {k: v for k, v in settings.items() if k not in ("neuron", "T")}


def fill_names(config: RunConfig, recipe, plugins) -> None:
    """Fill the plugin names nobody gave and check every name against its registry."""
    if config.dataset is None:
        raise UsageError("Missing option '--dataset' (or --resume RUN_DIR); datasets: "
                         + ", ".join(plugins.dataset.names()))
    plugins.dataset.get(config.dataset)
    plugins.backbone.get(recipe.backbone)
    if recipe.spiking:
        config.neuron = config.neuron or plugins.neuron.default("neuron (--neuron)")
        config.neuron = plugins.neuron.get(config.neuron).name
    elif config.neuron is not None and config.neuron != (getattr(recipe, "presets", {}).get(config.preset) or {}).get("neuron"):
        raise UsageError(f"model '{config.model}' has no spiking neurons, so --neuron {config.neuron} does not "
                         "apply; leave it out, or pick a spiking model (sdmbench plugins lists them)")
    else:
        config.neuron = None  # an ANN has no neuron: config.spiking is False and config.time_steps 1
    config.sampler = _sampler(config, recipe.process, plugins)
    config.extractor = plugins.extractor.get(
        config.extractor or plugins.extractor.default("feature extractor (--extractor)")).name
    check_extractor_options(config.extractor_options, plugins.extractor.get(config.extractor))
    metrics = config.metrics or plugins.metric.defaults()
    config.metrics = list(dict.fromkeys(plugins.metric.get(m).name for m in metrics))


def check_extractor_options(options: Dict[str, Any], entry) -> None:
    """The extractor's own settings (``--set extractor.NAME=``), checked by its factory's ``check_options``
    before any work; an extractor without one takes none."""
    check = getattr(entry.factory, "check_options", None)
    if check is None:
        if options:
            raise UsageError(f"extractor '{entry.name}' takes no settings; drop "
                             + ", ".join(f"extractor.{k}" for k in sorted(options)))
        return
    try:
        check(dict(options))
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _sampler(config: RunConfig, process: str, plugins) -> str:
    """The sampler (the process's default when none is named), checked with its steps."""
    try:
        probe = plugins.process.get(process)(**config.process)
    except (TypeError, ValueError) as exc:
        raise UsageError(f"process '{process}' refuses its settings {config.process}: {exc}") from None
    known = list(probe.samplers)
    name = config.sampler or getattr(probe, "default_sampler", None) or known[0]
    if name not in known:
        raise unknown_name("sampler", name, known, plural=f"samplers of process '{process}'")
    check = getattr(probe, "check_sampling", None)
    if check is not None:
        try:
            check(name, config.sample_steps)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    return name


def preset_config(plugins, model: str, neuron: Optional[str], dataset: Optional[str], preset: Optional[str],
                  options: Optional[Dict[str, Any]] = None) -> Optional[Dict[str, Any]]:
    """The config ``model``'s preset makes for this neuron, dataset and the model's own ``options`` with no
    other setting, its ``options`` the model's defaults: what a run is compared with to tell a ranked entry
    from a trial (a record keeps it, so a board ranks the run where its plugins are not installed).
    None when the model, neuron or dataset is not installed here, or the model refuses them."""
    try:
        own = plugins.model.get(model)().options
        chosen = {k: v for k, v in (options or {}).items() if k in own}
        names = {"model": model, "neuron": neuron, "dataset": dataset, "preset": preset,
                 "extractor": plugins.extractor.first_default()}  # not a method setting: any one will do
        return dict(configure(plugins, names, chosen).to_dict(), options=dict(own))
    except UsageError:
        return None
