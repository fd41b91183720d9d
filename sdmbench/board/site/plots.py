"""The site's charts, drawn by matplotlib as SVG.

:func:`pareto_svg`: quality against energy for one dataset and protocol. x is
energy per image in mJ on a log axis, y the quality value (FID or KID, lower
is better); each entry is one mark (group id ``mark-<slug>``, linked to its
page) with its 95% interval bars on both axes; the front is the set of ranked
entries that no other ranked entry beats on both axes,

    front = {p : no q with energy(q) <= energy(p), quality(q) <= quality(p), q != p},

drawn as a staircase. Non-spiking entries (the ANN twin) are squares, trials
(off their preset) hollow circles. :func:`layers_svg`: per-layer firing rate
and energy of an entry, as horizontal bars.

SVG output is made reproducible (no date or creator metadata, text kept as
text, element ids named from the drawn text) so a rebuilt site equals the
committed one on any CPU: matplotlib hashes a clip box's unrounded floats
into its id, and their last bits differ between CPUs (AVX2 against AVX-512)
where the drawing, written to 6 decimals, does not.
"""
from __future__ import annotations

import hashlib
import io
import re
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

STYLE = {"svg.hashsalt": "sdmbench", "svg.fonttype": "none", "font.size": 9}


@dataclass(frozen=True)
class Point:
    """One entry on the quality-energy plane: means and 95% interval bounds (equal to the mean for one seed)."""

    slug: str
    label: str
    energy: float
    energy_low: float
    energy_high: float
    quality: float
    quality_low: float
    quality_high: float
    spiking: bool
    ranked: bool


def front(points: Sequence[Point]) -> List[Point]:
    """The ranked points no other ranked point beats on both axes, by increasing energy."""
    ranked = [p for p in points if p.ranked]
    out = [p for p in ranked if not any(q is not p and q.energy <= p.energy and q.quality <= p.quality
                                        and (q.energy, q.quality) != (p.energy, p.quality) for q in ranked)]
    return sorted(out, key=lambda p: (p.energy, p.quality))


def pareto_svg(points: Sequence[Point], quality_name: str, energy_model: Optional[str], href) -> str:
    """The plot as an SVG element; ``href(slug)`` is the link of each mark."""
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(7.5, 4.6))
        seen = set()
        for p in points:
            kind = "trial (off its preset)" if not p.ranked else "spiking" if p.spiking else "ANN (non-spiking)"
            style = dict(marker="o" if p.spiking or not p.ranked else "s", markersize=7, capsize=3, linestyle="none",
                         color="#1f77b4" if p.spiking else "#d62728")
            if not p.ranked:
                style.update(color="#7f7f7f", markerfacecolor="white")
            bars = ax.errorbar([p.energy], [p.quality], xerr=[[p.energy - p.energy_low], [p.energy_high - p.energy]],
                               yerr=[[p.quality - p.quality_low], [p.quality_high - p.quality]],
                               label=None if kind in seen else kind, **style)
            seen.add(kind)
            bars.lines[0].set_gid(f"mark-{p.slug}")
            bars.lines[0].set_url(href(p.slug))
            if p.ranked:  # trials unlabelled: their pages and the trials table name them
                ax.annotate(p.label, (p.energy, p.quality), textcoords="offset points", xytext=(6, 5),
                            fontsize=8)
        best = front(points)
        if len(best) > 1:
            ax.step([p.energy for p in best], [p.quality for p in best], where="post", color="#2ca02c",
                    linewidth=1.2, alpha=0.8, label="Pareto front (ranked entries)", zorder=0)
        elif best:
            ax.plot([], [], color="#2ca02c", label="Pareto front (ranked entries)")
        ax.set_xscale("log")
        ax.set_xlabel(f"energy per generated image (mJ, log scale; energy model {energy_model or 'as recorded'})")
        ax.set_ylabel(f"{quality_name} (lower is better)")
        ax.grid(True, which="both", alpha=0.25)
        ax.legend(loc="best", fontsize=8)
        fig.tight_layout()
        return _svg(fig)


def layers_svg(firing: Dict[str, float], energy: Dict[str, float], energy_model: Optional[str]) -> Optional[str]:
    """Bars per layer: firing rate of each spiking layer, energy per image of each priced layer
    (None when neither is known)."""
    energy = {k: v for k, v in energy.items() if v > 0}
    panels = [(name, values) for name, values in (("firing rate (spikes per neuron per step)", firing),
                                                 (f"energy per image (mJ, {energy_model})", energy)) if values]
    if not panels:
        return None
    rows = max(len(values) for _, values in panels)
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, len(panels), figsize=(5.0 * len(panels), 1.2 + 0.16 * rows), squeeze=False)
        for ax, (name, values) in zip(axes[0], panels):
            names = list(values)
            ax.barh(range(len(names)), [values[n] for n in names], color="#1f77b4")
            ax.set_yticks(range(len(names)), names, fontsize=6)
            ax.invert_yaxis()
            ax.set_xlabel(name)
            ax.grid(True, axis="x", alpha=0.25)
        fig.tight_layout()
        return _svg(fig)


def curves_svg(curves: Dict[str, List[dict]]) -> Optional[str]:
    """Running mean of each stage's watched value against its step, one line per run (a seed that trained
    differently stands out), one panel per stage; None when no run has a curve."""
    curves = {label: rows for label, rows in curves.items() if rows}
    stages = list(dict.fromkeys(r["stage"] for rows in curves.values() for r in rows))
    if not stages:
        return None
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, len(stages), figsize=(5.0 * len(stages), 3.2), squeeze=False)
        for ax, stage in zip(axes[0], stages):
            for label, rows in curves.items():
                mine = [r for r in rows if r["stage"] == stage]
                if mine:
                    ax.plot([r["step"] for r in mine], [r["smooth"] for r in mine], lw=1.2, label=label)
            watched = next((r["watched"] for rows in curves.values() for r in rows if r["stage"] == stage), "loss")
            ax.set_xlabel(f"{stage}: optimiser step")
            ax.set_ylabel(f"{watched} (running mean)")
            ax.set_yscale("log")
            ax.grid(True, alpha=0.25)
        axes[0][0].legend(fontsize=7)
        fig.tight_layout()
        return _svg(fig)


def _svg(fig) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    plt.close(fig)
    text = re.sub(r"^.*?(?=<svg)", "", buf.getvalue(), flags=re.S)  # the element alone, to inline in a page
    return stable_ids(text)


#: matplotlib's hashed element ids (clip paths ``p...``, markers ``m...``): a letter and 10 hex digits
HASHED_ID = re.compile(r'id="([a-z][0-9a-f]{10})"')


def stable_ids(svg: str) -> str:
    """``svg`` with each hashed id renamed ``<letter><digest>-<n>``: the digest is of the drawing with its
    ids taken out (so two figures inlined in one page keep distinct ids), ``n`` the id's order of
    appearance. The same drawing gets the same ids whatever the floats' last bits were."""
    ids = list(dict.fromkeys(HASHED_ID.findall(svg)))
    bare = svg
    for old in ids:
        bare = bare.replace(old, "")
    digest = hashlib.sha1(bare.encode()).hexdigest()[:8]
    for n, old in enumerate(ids):
        svg = svg.replace(old, f"{old[0]}{digest}-{n}")
    return svg
