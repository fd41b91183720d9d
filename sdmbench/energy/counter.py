"""Counting a real forward pass: forward hooks on every layer, a torch
function mode for the additions between layers.

``with EnergyCounter(model) as counter: model(...)`` adds the pass to the
counter; enter it again for the next batch (every batch of the sampling
pass is observed). What is counted is written in :mod:`sdmbench.energy.counts`.

Synaptic accumulates are exact (:mod:`sdmbench.energy.synapses`): a spike
map feeding a convolution costs ``sum over spikes of their fan-out``.
Spikes are decided by provenance, never by value: an input is a spike map
when it is a neuron's output of this call (values 0 and ``c``: ``c = v_th``
for a converted IF neuron, folded into the weights), or was made from
spike maps alone by an operation that moves or selects values without
changing them (views, concatenation, nearest up-sampling, max pooling,
zero padding, a positive scalar gain: :data:`CARRIERS`). Everything else is
real-valued and costs MACs, even when its values happen to be 0 and 1 (the
sinusoidal time embedding at t = 0, an all-masked token map).

Beside the per-layer counts the counter keeps, for every call of the
observed network (one denoising step; the ``i``-th call of every batch is
step ``i``), the accumulates, MACs and spikes of that step, and each batch's
total, so that the spread across batches can be reported.
"""
from __future__ import annotations

import weakref
from collections import OrderedDict
from typing import Dict, List

import torch
from torch import nn
from torch.nn import functional as F
from torch.overrides import TorchFunctionMode

from sdmbench.energy.counts import Counts, Layer
from sdmbench.energy.synapses import conv_acs, dense_macs, outputs, spike_counts
from sdmbench.plugin_api.neuron import Swish, is_neuron

SYNAPTIC = (nn.Conv1d, nn.Conv2d, nn.ConvTranspose2d, nn.Linear)
NORM = (nn.BatchNorm1d, nn.BatchNorm2d, nn.GroupNorm, nn.LayerNorm)
ACTIVATION = (nn.SiLU, nn.ReLU, nn.GELU, Swish)
ADDITIONS = {torch.add, torch.Tensor.add, torch.Tensor.__add__, torch.Tensor.__radd__, torch.Tensor.__iadd__,
             torch.sub, torch.Tensor.sub, torch.Tensor.__sub__, torch.Tensor.__rsub__, torch.Tensor.__isub__}
ADDITIONS_LAYER = "(additions)"
#: the counting rules records carry (``details.energy.counting``): 2 = spikes by provenance (2026-12-04);
#: records without it recognised spikes by value
COUNTING = 2
_T = torch.Tensor
# operations whose output holds only values of their (spike-map) inputs, in the same places or moved
CARRIERS = {_T.view, _T.view_as, _T.reshape, _T.reshape_as, _T.flatten, _T.unflatten, _T.permute, _T.transpose,
            _T.movedim, _T.squeeze, _T.unsqueeze, _T.contiguous, _T.clone, _T.detach, _T.__getitem__, _T.expand,
            _T.expand_as, _T.repeat, _T.chunk, _T.split, _T.unbind, _T.narrow, _T.to, _T.float, _T.type_as,
            torch.flatten, torch.reshape, torch.permute, torch.transpose, torch.movedim, torch.squeeze,
            torch.unsqueeze, torch.clone, torch.chunk, torch.split, torch.unbind, torch.narrow, torch.cat,
            torch.concat, torch.stack, F.max_pool1d, F.max_pool2d, F.pad}
SCALINGS = {_T.mul, _T.__mul__, _T.__rmul__, torch.mul}  # times a positive number: spikes of another value


class _Flow(TorchFunctionMode):
    """Inside a call of the observed network: counts tensor + tensor (and -) outside its counted layers
    (the sampler's own arithmetic between calls is not the network's), and carries spike provenance
    through :data:`CARRIERS`."""

    def __init__(self, counter: "EnergyCounter"):
        super().__init__()
        self.counter = counter

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        counter = self.counter
        if counter._step < 0:
            return out
        if counter.additions and func in ADDITIONS and not counter._inside and len(args) >= 2 \
                and all(isinstance(a, torch.Tensor) and a.numel() > 1 for a in args[:2]):
            counter._add(ADDITIONS_LAYER, "add", Counts(
                adds=out.numel(), activation_reads=2 * out.numel(), activation_writes=out.numel()))
        elif _carries_spikes(func, args, kwargs, counter._is_spike_map):
            for o in (out if isinstance(out, (tuple, list)) else (out,)):
                if isinstance(o, torch.Tensor):
                    counter._spike_maps[id(o)] = (weakref.ref(o), None)
        return out


def _carries_spikes(func, args, kwargs, is_spikes) -> bool:
    """Whether ``func(*args)`` makes a spike map: a carrier of spike maps only, or a spike map times a
    positive number; nearest up-sampling and zero padding only."""
    if func is F.interpolate:
        return kwargs.get("mode", args[3] if len(args) > 3 else "nearest") == "nearest" and is_spikes(args[0])
    if func is F.pad and (kwargs.get("value", args[3] if len(args) > 3 else 0) or 0) != 0:
        return False
    if func in SCALINGS and len(args) == 2:
        tensor, number = (args[0], args[1]) if isinstance(args[0], torch.Tensor) else (args[1], args[0])
        return isinstance(number, (int, float)) and number > 0 and is_spikes(tensor)
    if func not in CARRIERS or not args:
        return False
    first = args[0]
    tensors = first if isinstance(first, (tuple, list)) else [first]
    return bool(tensors) and all(isinstance(t, torch.Tensor) and is_spikes(t) for t in tensors)


class EnergyCounter:
    """Per-layer, per-step and per-batch counts of the passes run inside ``with counter:``."""

    def __init__(self, model: nn.Module, additions: bool = True):
        """``additions=False`` leaves out the additions between layers (spike provenance is still carried)."""
        self.model = model
        self.additions = additions
        self.layers: "OrderedDict[str, Layer]" = OrderedDict()
        self.spikes: Dict[str, List[float]] = {}  # neuron layer -> [spikes, outputs]
        self.steps: List[dict] = []  # per network call: macs, acs, spikes, neuron outputs
        self.batches: List[Dict[str, Counts]] = []  # per batch: layer -> counts
        self._handles: list = []
        self._inside = 0  # > 0 while a counted layer runs
        self._step = -1  # the running call of the observed network (-1: outside one)
        self._calls = 0
        self._mode = None
        # neuron outputs of this call (spikes for sure): id -> (weak reference, spikes per position of its fold)
        self._spike_maps: Dict[int, tuple] = {}

    def __enter__(self) -> "EnergyCounter":
        self.batches.append({})
        self._calls = 0
        for name, module in self.model.named_modules():
            if isinstance(module, SYNAPTIC):
                self._watch(module, self._synaptic_hook(name))
            elif isinstance(module, NORM + ACTIVATION) or is_neuron(module):
                self._watch(module, self._elementwise_hook(name))
        for root in self._roots():
            self._handles.append(root.register_forward_pre_hook(self._begin_step))
            self._handles.append(root.register_forward_hook(self._end_step))
        self._mode = _Flow(self)
        self._mode.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._mode.__exit__(*exc)
        for h in self._handles:
            h.remove()
        self._handles.clear()

    def _roots(self) -> List[nn.Module]:
        """The modules whose calls are the steps: the model, or a container's children."""
        if isinstance(self.model, (nn.ModuleDict, nn.ModuleList)):
            return list(self.model.children())
        return [self.model]

    def _watch(self, module: nn.Module, hook) -> None:
        def enter(*_):
            self._inside += 1

        def leave(*args):
            self._inside -= 1
            hook(*args)

        self._handles.append(module.register_forward_pre_hook(enter))
        self._handles.append(module.register_forward_hook(leave))

    def _begin_step(self, *_):
        self._step = self._calls
        self._calls += 1
        while len(self.steps) <= self._step:
            self.steps.append({"macs": 0, "acs": 0, "spikes": 0, "neurons": 0})

    def _end_step(self, *_):
        self._step = -1
        self._spike_maps.clear()

    def _spike_entry(self, x: torch.Tensor):
        """``(True, spikes per position or None)`` when ``x`` (or the tensor it views) is a spike map of
        this call, else ``(False, None)``."""
        for t in (x, x._base):
            ref, per_position = self._spike_maps.get(id(t), (None, None)) if t is not None else (None, None)
            if ref is not None and ref() is t:
                return True, per_position
        return False, None

    def _is_spike_map(self, x: torch.Tensor) -> bool:
        return self._spike_entry(x)[0]

    def _known_spikes(self, x: torch.Tensor):
        """Spikes per position of ``x`` when it is a spike map by provenance (a neuron's output of this
        call, or made from such by a carrier), else None. A neuron's own counts were taken when it fired."""
        found, per_position = self._spike_entry(x)
        if not found:
            return None
        spatial = x.shape[2:] if x.dim() > 2 else x.shape[-1:]
        return per_position if per_position is not None and per_position.shape == spatial else spike_counts(x)

    def _add(self, name: str, kind: str, counts: Counts, **size) -> Layer:
        layer = self.layers.get(name)
        if layer is None:
            layer = self.layers[name] = Layer(kind, **size)
        layer.calls += 1
        layer.counts = layer.counts + counts
        batch = self.batches[-1]
        batch[name] = batch[name] + counts if name in batch else counts
        if self._step >= 0:
            step = self.steps[self._step]
            step["macs"] += counts.macs
            step["acs"] += counts.acs
        return layer

    def _synaptic_hook(self, name: str):
        weights = None

        def hook(module, inputs, output):
            nonlocal weights
            if weights is None:
                weights = sum(p.numel() for p in module.parameters(recurse=False))
            x = inputs[0]
            leading = x.shape[0] if x.dim() > 1 else 1
            written = outputs(module, x, output)
            counts = Counts(weight_reads=weights * leading, activation_writes=written)
            per_position = self._known_spikes(x)
            spiking = per_position is not None
            if spiking:
                fired = int(per_position.sum())
                counts.acs = fired * module.out_features if isinstance(module, nn.Linear) \
                    else conv_acs(module, per_position)
                counts.spike_reads = x.numel()
            else:
                counts.macs, counts.activation_reads = dense_macs(module, x, output), x.numel()
            layer = self._add(name, type(module).__name__, counts, weights=weights,
                              state=written // max(leading, 1))
            layer.input_elements += x.numel()
            layer.input_spikes += fired if spiking else 0
        return hook

    def _elementwise_hook(self, name: str):
        def hook(module, inputs, output):
            n, x = output.numel(), inputs[0]
            counts = Counts(elementwise=n, activation_reads=x.numel() if torch.is_tensor(x) else n)
            slices = output.shape[0]  # a layer's state per leading slice: [T*B, ...], a neuron's [T, B, ...]
            if is_neuron(module):
                slices *= output.shape[1]
                counts.state_reads = counts.state_writes = counts.spike_writes = n
                # [T, B, C, *spatial] folds to [T*B, C, *spatial]: spikes per position, as its reader counts them
                per_position = spike_counts(output.flatten(0, 1) if output.dim() > 2 else output)
                fired = float(per_position.sum())
                self._spike_maps[id(output)] = (weakref.ref(output), per_position)
                total = self.spikes.setdefault(name, [0.0, 0.0])
                total[0] += fired
                total[1] += n
                if self._step >= 0:
                    self.steps[self._step]["spikes"] += fired
                    self.steps[self._step]["neurons"] += n
            else:
                counts.activation_writes = n
            self._add(name, type(module).__name__, counts, state=n // max(slices, 1))
        return hook

    def total(self) -> Counts:
        out = Counts()
        for layer in self.layers.values():
            out = out + layer.counts
        return out

    def firing_rates(self) -> Dict[str, float]:
        """Each neuron layer's fraction of outputs that are spikes (nonzero)."""
        return {name: s / n for name, (s, n) in self.spikes.items() if n}

    def observations(self) -> tuple:
        """Everything counted, picklable (sent from every torchrun rank)."""
        return self.layers, self.spikes, self.steps, self.batches

    def absorb(self, observations: tuple) -> None:
        """Add another counter's :meth:`observations` (another rank's batches of the same model)."""
        layers, spikes, steps, batches = observations
        for name, other in layers.items():
            mine = self.layers.setdefault(name, Layer(other.kind))
            mine.absorb(other)
        for name, (fired, total) in spikes.items():
            mine = self.spikes.setdefault(name, [0.0, 0.0])
            mine[0] += fired
            mine[1] += total
        for i, step in enumerate(steps):
            if i == len(self.steps):
                self.steps.append({k: 0 for k in step})
            for key, value in step.items():
                self.steps[i][key] += value
        self.batches.extend(batches)
