"""TSM neuron: SDM's temporal-wise spiking mechanism on integrate-and-fire.

TSM makes the synaptic input of every step learnable in time: with ``p[n]``
one learned scalar per convolution and time step (initialised to 1)::

    U[n] = V[n-1] + (W * S_pre[n] + b) * p[n]
    S[n] = H(U[n] - v_th),   V[n] = U[n] * (1 - S[n])

The membrane equations are those of :mod:`.integrate_fire`; the gains ``p``
belong to the convolutions, so the neuron only declares
``temporal_gain = True`` and backbones honouring the flag (``sdm-unet``) give
every convolution T gains (applied before its BatchNorm, as in SDM's code).
Fine-tune from a trained ``if`` run with ``--init-from RUN_DIR``: the gains
start at 1, so the first step reproduces the IF model exactly.
"""
from torch import nn

from .integrate_fire import IFNeuron


class TSMNeuron(IFNeuron):
    temporal_gain = True


def make_tsm(T: int, v_th: float = 1.0, **params) -> nn.Module:
    return TSMNeuron(T, v_th=v_th, **params)
