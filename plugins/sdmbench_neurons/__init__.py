"""Built-in neurons: ``if`` (integrate-and-fire, hard reset), ``tsm`` (IF with
SDM's temporal-wise spiking mechanism) and ``lif`` (leaky integrate-and-fire,
built on norse) and ``plif`` (its parametric variant: a learned leak per layer)."""
import sdmbench

from .integrate_fire import make_if
from .lif import make_lif, make_plif
from .tsm import make_tsm


@sdmbench.hookimpl
def sdmbench_register_neurons(registry):
    registry.add("if", make_if, default=True, description="integrate-and-fire, hard reset to 0, arctan surrogate (SDDPM)")
    registry.add("tsm", make_tsm, description="IF + temporal-wise spiking mechanism: learned per-step conv gains (SDM)")
    registry.add("plif", make_plif, description="parametric LIF (Fang et al. 2021): lif with a learned time "
                                                "constant per layer, 1/tau = sigmoid(w), tau starting at 2")
    registry.add("lif", make_lif, description="leaky integrate-and-fire (norse lif_box), tau=2, hard reset")
