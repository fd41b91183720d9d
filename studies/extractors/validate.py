"""Which ruler to trust: the pinned classifier extractors, measured (issue 30, item 2).

For each shipped extractor of a dataset (default Fashion-MNIST):

- held-out accuracy on the test split;
- the FID floor: real test images against the train reference, N = 1000 and 10000;
- response to corruption: Gaussian noise and box blur at five levels each
  (N = 1000 real test images), FID and KID, which must rise at every level;
- mode dropping: N = 1000 real test images drawn from 10 - k classes
  (k = 0..5), FID rising and recall falling at every k;
- discriminability on the board: one-way ANOVA of FID (and log FID) over
  the ranked entries' seeds, F = between-entry over within-entry variance;
- the same score on every CPU kind: one sample set scored under
  ``ATEN_CPU_CAPABILITY`` = default, avx2, avx512 and at 1 and 2 threads,
  the largest relative difference of FID, KID, precision and recall.

    python studies/extractors/validate.py            # writes validation.md and validation.png here

Tests check the small cases of each function (tests/test_extractor_validation.py).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Sequence

import numpy as np
import torch

HERE = Path(__file__).parent
NOISE = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5)  # sd of Gaussian noise on [0, 1] images; 0 = clean
BLUR = (0, 1, 2, 3, 4, 5)  # box blur radius in pixels; 0 = clean
DROPPED = (0, 1, 2, 3, 4, 5)  # classes removed
CAPABILITIES = ("default", "avx2", "avx512")


def score(samples: torch.Tensor, data, extractor, plugins, n_ref: int = 10000) -> Dict[str, float]:
    """FID, KID (x1000 as sdmbench reports it), precision and recall of uint8 ``samples`` against ``data``."""
    from sdmbench.scoring.evaluate import evaluate, metric_settings
    from sdmbench.scoring.metric import Scores
    from sdmbench.scoring.protocol import make_protocol

    metrics = {name: plugins.metric.get(name)() for name in ("fid", "kid", "prc")}
    n_ref = min(n_ref, len(data))
    protocol = make_protocol(dataset=data.name, extractor=extractor.name, extractor_version=extractor.version,
                             num_samples=len(samples), reference_split=data.split, reference_images=n_ref,
                             image_size=data.image_size, sampler=None, sample_steps=0, sampler_options={},
                             metric_settings=metric_settings(metrics, len(samples), n_ref))
    _, scores = evaluate(protocol, samples, data, extractor, metrics, sampling={})
    return {k: v for k, v in Scores.flat(scores).items() if k in ("fid", "kid", "precision", "recall")}


def add_noise(images: torch.Tensor, sd: float, seed: int = 0) -> torch.Tensor:
    """uint8 images plus N(0, sd^2) noise on the [0, 1] scale, clipped and rounded back."""
    gen = torch.Generator().manual_seed(seed)
    x = images.float() / 255 + sd * torch.randn(images.shape, generator=gen)
    return (x.clamp(0, 1) * 255).round().to(torch.uint8)


def box_blur(images: torch.Tensor, radius: int) -> torch.Tensor:
    """uint8 images averaged over a (2r+1)^2 box (edges replicated); radius 0 returns them unchanged."""
    if radius == 0:
        return images
    k = 2 * radius + 1
    x = torch.nn.functional.pad(images.float(), (radius,) * 4, mode="replicate")
    return torch.nn.functional.avg_pool2d(x, k, stride=1).round().to(torch.uint8)


def drop_classes(labels: torch.Tensor, k: int, n: int, seed: int = 0) -> torch.Tensor:
    """Indices of ``n`` images whose labels avoid the classes 0..k-1, drawn without replacement."""
    keep = torch.nonzero(labels >= k).flatten()
    gen = torch.Generator().manual_seed(seed)
    return keep[torch.randperm(len(keep), generator=gen)[:n]]


def anova_f(groups: Sequence[Sequence[float]]) -> float:
    """One-way ANOVA F: between-group mean square over within-group mean square."""
    groups = [np.asarray(g, dtype=float) for g in groups if len(g) > 0]
    allv = np.concatenate(groups)
    k, n = len(groups), len(allv)
    between = sum(len(g) * (g.mean() - allv.mean()) ** 2 for g in groups) / (k - 1)
    within = sum(((g - g.mean()) ** 2).sum() for g in groups) / (n - k)
    return float(between / within) if within > 0 else math.inf


def monotone(values: Sequence[float], rising: bool = True) -> bool:
    return all((b > a) if rising else (b < a) for a, b in zip(values, values[1:]))


def board_entries(board: Path, extractor: str) -> Dict[str, List[dict]]:
    """The records of each ranked entry of the board under ``extractor`` (its pinned protocol), one per seed."""
    from sdmbench.board import leaderboard
    from sdmbench.plugin_api import loader as loader
    from sdmbench.cli.leaderboard import _energy_model, preset_lookup
    from sdmbench.running.records import load_records

    plugins = loader.get()
    records, _ = load_records(board)
    out: Dict[str, List[dict]] = {}
    for entry, row in leaderboard.entry_rows(records, None, aliases=plugins.model.aliases(),
                                             preset_of=preset_lookup(plugins), energy=_energy_model(plugins, None)):
        if row["section"] == "ranked" and entry.protocol.get("extractor") == extractor:
            out[entry.name] = [r for r in entry.records if r["metrics"].get("fid") is not None]
    return out


def board_groups(board: Path, extractor: str) -> Dict[str, List[float]]:
    """FID per ranked entry of the board under ``extractor`` (its pinned protocol), one value per seed."""
    return {name: [r["metrics"]["fid"] for r in runs] for name, runs in board_entries(board, extractor).items()}


def capability_scores(samples_path: Path, extractor: str, dataset: str) -> Dict[str, Dict[str, float]]:
    """The same samples scored in fresh processes under each CPU capability and thread count."""
    out = {}
    for cap in CAPABILITIES:
        for threads in (1, 2):
            env = dict(os.environ, ATEN_CPU_CAPABILITY=cap, OMP_NUM_THREADS=str(threads))
            code = (f"import json,sys; sys.path.insert(0, {str(HERE)!r}); import validate as v; "
                    f"print(json.dumps(v.score_file({str(samples_path)!r}, {extractor!r}, {dataset!r}, {threads})))")
            res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
            out[f"{cap}/{threads}"] = json.loads(res.stdout.strip().splitlines()[-1])
    return out


def score_file(path: str, extractor: str, dataset: str, threads: int) -> Dict[str, float]:
    """Score a ``samples.npz`` (uint8 NHWC under arr_0) at 32 px under ``extractor``."""
    from sdmbench.plugin_api import loader as loader
    from sdmbench.running.rescore import read_samples

    torch.set_num_threads(threads)
    plugins = loader.get()
    data = plugins.dataset.get(dataset)(None, "train", 32)
    return score(read_samples(Path(path)), data, plugins.extractor.get(extractor)(data), plugins)


def largest_difference(scores: Dict[str, Dict[str, float]]) -> float:
    """The largest relative difference of any value between any two settings."""
    keys = next(iter(scores.values())).keys()
    worst = 0.0
    for k in keys:
        values = [s[k] for s in scores.values()]
        ref = max(abs(v) for v in values) or 1.0
        worst = max(worst, (max(values) - min(values)) / ref)
    return worst


def validate(name: str, plugins, train, test, board: Path, samples: Path) -> Dict[str, object]:
    """Every measurement above for one extractor."""
    from sdmbench_metrics import classifier

    from sdmbench.scoring.extractor import CachedExtractor

    extractor = CachedExtractor(plugins.extractor.get(name)(train))  # the train reference extracted once
    acc = classifier.accuracy(extractor.model, test, extractor.size)
    first = test.first(1000)
    result: Dict[str, object] = dict(extractor=f"{name}@{extractor.version[:8]}", accuracy=acc)
    result["floor"] = {n: score(test.first(n), train, extractor, plugins) for n in (1000, 10000)}
    result["noise"] = [score(add_noise(first, sd), train, extractor, plugins) for sd in NOISE]
    result["blur"] = [score(box_blur(first, r), train, extractor, plugins) for r in BLUR]
    result["drop"] = [score(test.get(drop_classes(test.labels, k, 1000)), train, extractor, plugins) for k in DROPPED]
    groups = {k: v for k, v in board_groups(board, name).items() if len(v) >= 2}
    result["anova"] = dict(entries=len(groups), runs=sum(map(len, groups.values())),
                           F=anova_f(list(groups.values())) if len(groups) >= 2 else None,
                           F_log=anova_f([np.log(v) for v in groups.values()]) if len(groups) >= 2 else None)
    caps = capability_scores(samples, name, train.name)
    result["cpu"] = dict(largest_relative_difference=largest_difference(caps), settings=list(caps))
    return result


def table(results: List[Dict[str, object]]) -> str:
    lines = ["| extractor | held-out accuracy | FID floor N=1000 | N=10000 | noise FID (6 levels) | monotone | "
             "blur FID (6 levels) | monotone | class drop FID k=0..5 | recall k=0..5 | monotone | ANOVA F (log F) | "
             "largest CPU difference |", "|" + "---|" * 13]
    for r in results:
        fids = {k: [round(s["fid"], 1) for s in r[k]] for k in ("noise", "blur", "drop")}
        kids = {k: [s["kid"] for s in r[k]] for k in ("noise", "blur")}
        recall = [round(s["recall"], 3) for s in r["drop"]]
        mono = {k: monotone([s["fid"] for s in r[k]]) and (k == "drop" or monotone(kids[k])) for k in fids}
        mono["drop"] = mono["drop"] and monotone([s["recall"] for s in r["drop"]], rising=False)
        a = r["anova"]
        anova = "-" if a["F"] is None else f"{a['F']:.1f} ({a['F_log']:.1f}), {a['entries']} entries, {a['runs']} runs"
        lines.append(f"| {r['extractor']} | {r['accuracy']:.2%} | {r['floor'][1000]['fid']:.2f} | "
                     f"{r['floor'][10000]['fid']:.2f} | {fids['noise']} | {mono['noise']} | {fids['blur']} | "
                     f"{mono['blur']} | {fids['drop']} | {recall} | {mono['drop']} | {anova} | "
                     f"{r['cpu']['largest_relative_difference']:.1e} |")
    return "\n".join(lines) + "\n"


def plot(results: List[Dict[str, object]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    panels = (("noise", NOISE, "Gaussian noise sd"), ("blur", BLUR, "box blur radius (px)"),
              ("drop", DROPPED, "classes removed"))
    for ax, (key, xs, label) in zip(axes, panels):
        for r in results:
            ax.plot(xs, [s["fid"] for s in r[key]], marker="o", label=r["extractor"])
        ax.set_xlabel(label)
        ax.set_ylabel("FID vs train reference")
        ax.set_yscale("symlog", linthresh=1)
    axes[0].legend(fontsize=8)
    fig.suptitle("Pinned extractors: FID of real test images under corruption and mode dropping (N = 1000)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    from sdmbench.plugin_api import loader as loader

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", default="fashion-mnist")
    ap.add_argument("--board", type=Path, default=Path("leaderboard"))
    ap.add_argument("--samples", type=Path, required=True, help="a samples.npz for the CPU-kind check")
    ap.add_argument("--out", type=Path, default=HERE)
    a = ap.parse_args()
    plugins = loader.get()
    train = plugins.dataset.get(a.dataset)(None, "train", 32)
    test = plugins.dataset.get(a.dataset)(None, "test", 32)
    results = [validate(name, plugins, train, test, a.board, a.samples) for name in ("classifier", "classifier-resnet")]
    (a.out / "validation.json").write_text(json.dumps(results, indent=1, default=str))
    (a.out / "validation.md").write_text(table(results))
    plot(results, a.out / "validation.png")
    print(table(results))


if __name__ == "__main__":
    main()
