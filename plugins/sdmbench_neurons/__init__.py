"""Built-in neurons: ``if`` (integrate-and-fire, hard reset), ``tsm`` (IF with
SDM's temporal-wise spiking mechanism) and ``lif`` (leaky integrate-and-fire,
built on norse)."""
import sdmbench

from .integrate_fire import make_if
from .lif import make_lif
from .tsm import make_tsm


@sdmbench.hookimpl
def sdmbench_register_neurons(registry):
    registry.add("if", make_if, default=True, description="integrate-and-fire, hard reset to 0, arctan surrogate (SDDPM)")
    registry.add("tsm", make_tsm, description="IF + temporal-wise spiking mechanism: learned per-step conv gains (SDM)")
    registry.add("lif", make_lif, description="leaky integrate-and-fire (norse lif_box), tau=2, hard reset")
