"""The plugin contracts, as code.

Every registry checks what a plugin registers against the contract of its
kind, at registration: a missing member is an error that names the plugin,
the entry and the member. The :class:`typing.Protocol` classes below state
each contract; a member whose name is in ``OPTIONAL`` of a protocol may be
absent (the harness then does without that capability).

How an entry is checked (:data:`CONTRACTS`):

- neuron, process, metric, model: the factory is called once with the
  probe arguments (``factory(2, v_th=1.0)``, ``factory()``), which must be
  cheap, and the object it returns is checked against the protocol;
- backbone, dataset, extractor, converter, executor: their factories need
  real inputs (a dataset, a trained ANN, a cluster), so only the call
  signature is checked: it must accept the arguments the harness passes.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, Callable, Dict, Optional, Protocol, Sequence, Tuple, runtime_checkable

import torch


class ContractError(Exception):
    """A registered entry that does not fulfil its kind's contract (a plugin bug)."""


@runtime_checkable
class Neuron(Protocol):
    """``factory(T, v_th=1.0, **params) -> nn.Module``; ``module(x)`` maps input
    currents ``x: Tensor[T, B, ...]`` to 0/1 spikes of the same shape,
    differentiable through a surrogate gradient; no state survives between
    calls.

    Optional: ``temporal_gain = True`` asks backbones for one learned gain
    per time step on every convolution (SDM's TSM)."""

    OPTIONAL = ("temporal_gain",)
    temporal_gain: bool

    def forward(self, x: torch.Tensor) -> torch.Tensor: ...


@runtime_checkable
class Backbone(Protocol):
    """``factory(neuron, **config) -> nn.Module`` with ``forward(x_t, t)``;
    ``neuron`` is a zero-argument callable making fresh neuron modules, or
    ``None`` for an ANN.

    Optional: ``optional_state(key) -> bool``: state-dict keys that may be
    missing when weights of another run are loaded (``--init-from``; they
    keep their fresh values); ``feature_blocks() -> [nn.Module]``: blocks a
    converter's fine-tuning matches one by one."""

    OPTIONAL = ("optional_state", "feature_blocks")

    def forward(self, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor: ...

    def optional_state(self, key: str) -> bool: ...

    def feature_blocks(self) -> Sequence[Any]: ...


@runtime_checkable
class Process(Protocol):
    """``factory(**config)`` (every argument with a default) -> a diffusion process.

    - ``samplers``: the sampler names it knows; ``default_sampler`` (optional)
      the one runs use when neither preset nor user names one (else the first);
    - ``loss(backbone, x0, generator=None[, rows=slice])`` -> scalar loss; with
      ``rows`` (to train under torchrun) the loss on those rows of a batch whose
      randomness is drawn whole;
    - ``sample(backbone, n, shape, *, sampler, steps, generator, device, on_step)``
      -> images in ``[-1, 1]`` (``on_step(k)`` after each k denoising steps).

    Optional: ``check_sampling(sampler, steps)`` raises ValueError for a
    sampling setting it cannot run (checked before any training). For the
    continuous diffusion pipeline: ``num_timesteps`` and
    ``q_sample(x0, t, noise)`` (noisy batches for BatchNorm recalibration and
    block-wise fine-tuning); ``data_samplers``, ``moments(backbone, x0, steps,
    generator)`` and ``moment_images`` (samplers that need the trained model's
    moments on training images, e.g. Analytic-DPM)."""

    OPTIONAL = ("default_sampler", "num_timesteps", "q_sample", "data_samplers", "moments", "moment_images",
                "check_sampling")
    samplers: Sequence[str]
    default_sampler: str
    num_timesteps: int
    data_samplers: Sequence[str]
    moment_images: int

    def loss(self, backbone: Any, x0: torch.Tensor, generator: Optional[torch.Generator] = None) -> torch.Tensor: ...

    def sample(self, backbone: Any, n: int, shape: Sequence[int], **options: Any) -> torch.Tensor: ...

    def q_sample(self, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor: ...

    def moments(self, backbone: Any, x0: torch.Tensor, steps: int, generator: torch.Generator) -> Any: ...

    def check_sampling(self, sampler: str, steps: int) -> None: ...


@runtime_checkable
class Metric(Protocol):
    """``factory() -> metric``; see :class:`sdmbench.scoring.Metric`.

    ``compute(ctx) -> Scores``: scalar values (what records rank by) apart
    from details (per-layer counts, ...). ``observe(module)`` returns a
    context manager entered around the first sampling batch. Optional:
    ``observations()`` / ``merge(others)`` to sum observations over torchrun
    ranks; ``higher_is_better``: value name -> bool; ``columns``: the
    values shown, as :class:`sdmbench.scoring.Column`; ``needs_features``
    (default True): whether it reads the protocol's feature extractor;
    ``settings(num_samples, reference_images) -> dict``: the settings that
    change its value, recorded in the protocol."""

    OPTIONAL = ("observations", "merge", "higher_is_better", "columns", "needs_features", "settings")
    name: str
    higher_is_better: Dict[str, bool]

    def compute(self, ctx: Any) -> Any: ...

    def observe(self, module: Any) -> Any: ...


@runtime_checkable
class Pipeline(Protocol):
    """A model's training and generation recipe (:class:`sdmbench.running.pipeline.Pipeline`):
    built from a :class:`~sdmbench.running.pipeline.RunContext`, it trains in named
    ``stages``, saves and loads each stage's state, and generates images.
    Optional: ``prepare_sampling()``, ``extra_metrics(scoring)``,
    ``sampler_options`` (settings of its ``process`` recorded in the protocol, read from the process object),
    ``distributed`` (trains under torchrun), ``describe(stage)``."""

    OPTIONAL = ("prepare_sampling", "extra_metrics", "sampler_options", "distributed", "describe")
    stages: Sequence[str]

    def train_stage(self, stage: str) -> Dict[str, Any]: ...

    def state_dict(self, stage: str) -> Dict[str, Any]: ...

    def load_stage(self, stage: str, state: Dict[str, Any]) -> None: ...

    def generator_module(self) -> Any: ...

    def generate(self, n: int, generator: torch.Generator, on_step: Any = None) -> torch.Tensor: ...

    def parameters(self) -> int: ...


@runtime_checkable
class Model(Protocol):
    """``factory() -> ModelRecipe`` (:class:`sdmbench.plugin_api.model.ModelRecipe`): the
    backbone and process names, the presets, whether it spikes, its own
    settings (``options``) and its pipeline (None: the continuous diffusion
    pipeline)."""

    backbone: str
    process: str
    presets: Dict[str, Dict[str, Any]]
    spiking: bool
    options: Dict[str, Any]
    pipeline: Any


@runtime_checkable
class EnergyModel(Protocol):
    """``factory() -> energy model``: a price list with its ``source`` (constants,
    publication, technology node); ``price(layers)`` maps layer name ->
    :class:`sdmbench.energy.Layer` (counts per image) to a
    :class:`sdmbench.energy.Energy` (joules per image, compute and memory).
    Optional: ``describe()``, one line with every constant."""

    OPTIONAL = ("describe",)
    name: str
    source: str

    def price(self, layers: Any) -> Any: ...


@dataclass(frozen=True)
class Contract:
    """How entries of one kind are checked: call ``probe`` on the factory (or
    check that ``signature`` binds) and compare the result with ``protocol``."""

    protocol: Optional[type] = None
    probe: Optional[Callable[[Callable[..., Any]], Any]] = None
    signature: Tuple[Tuple[Any, ...], Dict[str, Any]] = ((), {})


def required_members(protocol: type) -> list:
    """The members ``protocol`` declares (annotations and methods) minus its ``OPTIONAL``."""
    optional = set(getattr(protocol, "OPTIONAL", ()))
    names = set(getattr(protocol, "__annotations__", {}))
    names |= {n for n, v in vars(protocol).items() if callable(v) and not n.startswith("_")}
    return sorted(names - optional - {"OPTIONAL"})


def missing_members(obj: Any, protocol: type) -> list:
    return [name for name in required_members(protocol) if not hasattr(obj, name)]


def check(kind: str, name: str, factory: Callable[..., Any], contract: Contract) -> None:
    """Raise :class:`ContractError` when ``factory`` breaks ``contract``."""
    where = f"{kind} '{name}'"
    if contract.probe is None:
        args, kwargs = contract.signature
        try:
            inspect.signature(factory).bind(*args, **kwargs)
        except TypeError as exc:
            raise ContractError(f"{where}: its factory cannot be called as the harness calls it ({exc})") from None
        except ValueError:  # builtins without a signature: nothing to check
            pass
        return
    try:
        obj = contract.probe(factory)
    except Exception as exc:
        raise ContractError(f"{where}: its factory fails on the probe call ({type(exc).__name__}: {exc})") from None
    missing = missing_members(obj, contract.protocol)
    if missing:
        raise ContractError(f"{where} lacks {', '.join(repr(m) for m in missing)} required by the {kind} "
                            f"contract (sdmbench.plugin_api.contracts.{contract.protocol.__name__})")
    pipeline = getattr(obj, "pipeline", None) if contract.protocol is Model else None
    if pipeline is not None:
        missing = missing_members(pipeline, Pipeline)
        if missing:
            raise ContractError(f"{where}: its pipeline {pipeline.__name__} lacks "
                                f"{', '.join(repr(m) for m in missing)} (sdmbench.plugin_api.contracts.Pipeline)")


def _neuron_probe(factory):
    module = factory(2, v_th=1.0)
    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"factory(T, v_th) returned {type(module).__name__}, not an nn.Module")
    return module


def _metric_probe(factory):
    """``factory()``, whose ``columns`` (if any) must all be :class:`sdmbench.scoring.Column`."""
    from sdmbench.scoring.columns import of_metrics

    metric = factory()
    of_metrics([metric])
    return metric


#: kind -> how its entries are checked
CONTRACTS: Dict[str, Contract] = {
    "neuron": Contract(Neuron, _neuron_probe),
    "backbone": Contract(signature=((None,), {})),
    "process": Contract(Process, lambda factory: factory()),
    "dataset": Contract(signature=((None, "train", None), {})),
    "metric": Contract(Metric, _metric_probe),
    "extractor": Contract(signature=((None,), {})),
    "model": Contract(Model, lambda factory: factory()),
    "converter": Contract(signature=((None, 1), {})),
    "executor": Contract(signature=((), {})),
    "energy_model": Contract(EnergyModel, lambda factory: factory()),
}
