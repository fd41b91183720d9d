"""Whole-pass totals of sdmbench's counter beside spikingjelly's op_counter,
on the issue's case: a smoke ``sdm`` backbone (ch 16, ch_mult 1,2, 16 px,
T = 4), one forward of a batch of 4 at t = 500, untrained, seed 0.

    python studies/energy/counter_totals.py [--neuron if]

Prints MACs and accumulates as each counter counts them: spikingjelly's
``MACCounter`` over every ATen op it has a rule for (normalisation
included) and over convolutions and matmuls only, its ``SynOpCounter``,
and sdmbench's MACs, accumulates, elementwise operations and additions.
The layer-by-layer equality under one convention is a test
(``tests/test_energy_crosscheck.py``); this shows where the totals differ.
"""
from __future__ import annotations

import argparse
from collections import Counter

import torch

SYNAPTIC_OPS = {"aten.convolution.default", "aten.addmm.default", "aten.mm.default", "aten.bmm.default"}


def main() -> None:
    from spikingjelly.activation_based import op_counter as oc

    from sdmbench.plugin_api import loader as plugins
    from sdmbench.energy import EnergyCounter
    from sdmbench.plugin_api.neuron import neuron_maker

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--neuron", default="if")
    args = ap.parse_args()
    p = plugins.get()
    torch.manual_seed(0)
    net = p.backbone.get("sdm-unet")(neuron_maker(p.neuron.get(args.neuron), 4), img_ch=1, img_size=16, ch=16,
                                     ch_mult=(1, 2), num_res_blocks=1, dropout=0.0).eval()
    x, t = torch.randn(4, 1, 16, 16), torch.full((4,), 500)
    macs, synops = oc.MACCounter(), oc.SynOpCounter()
    with torch.no_grad():
        with oc.DispatchCounterMode([macs, synops]):
            net(x, t)
        with EnergyCounter(net) as counter:
            net(x, t)
    by_op = Counter({str(op): n for op, n in macs.get_counts()["Global"].items()})
    total = counter.total()
    print(f"spikingjelly MACs, every op with a rule : {sum(by_op.values()) / 1e6:8.3f} M  "
          f"({', '.join(f'{op} {n / 1e6:.3f} M' for op, n in by_op.most_common())})")
    print(f"spikingjelly MACs, conv and matmul only : {sum(n for op, n in by_op.items() if op in SYNAPTIC_OPS) / 1e6:8.3f} M")
    print(f"spikingjelly synaptic ops               : {synops.get_total() / 1e6:8.3f} M")
    print(f"sdmbench MACs                           : {total.macs / 1e6:8.3f} M")
    print(f"sdmbench accumulates                    : {total.acs / 1e6:8.3f} M")
    print(f"sdmbench elementwise ops, additions     : {total.elementwise / 1e6:8.3f} M, {total.adds / 1e6:.3f} M")


if __name__ == "__main__":
    main()
