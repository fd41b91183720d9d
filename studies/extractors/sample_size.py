"""How FID and KID move with the number of samples N, from one sample set.

    sdmbench score RUN --num-samples 5000          # first: give each run 5000 samples
    python studies/extractors/sample_size.py RUN_A RUN_B   # then: the table and the plot
    python studies/extractors/sample_size.py --replot       # redraw the plot from the table

For each run: the features of its kept samples (``samples.npz``) and of the
reference split, through the run's own extractor (``--extractor`` for
another). At each N: FID, KID (the metric's own: torch-fidelity's subsets,
subset size min(1000, N)) of the first N samples, and the bootstrap standard
deviation of each over ``--bootstrap`` resamples of those N samples drawn
with replacement (FID is biased at small N, Chong & Forsyth 2020; the
bootstrap shows its spread, the drift of the mean across N shows its bias).
Writes a JSON table (``--out``) and a plot, FID and KID against N with +- 1
sd bars, one line per run (``--plot``).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

SIZES = (250, 500, 1000, 2000, 5000)


def features(folder: Path, extractor_name: str | None, data_root: str | None):
    from sdmbench.plugin_api import loader as loader
    from sdmbench.running.config import RunConfig
    from sdmbench.running.rescore import read_samples

    plugins = loader.get()
    config = RunConfig.from_dict(json.loads((folder / "config.json").read_text()))
    data = plugins.dataset.get(config.dataset)(data_root or config.data_root, config.split, config.image_size)
    extractor = plugins.extractor.get(extractor_name or config.extractor)(data, device="cpu")
    samples = read_samples(folder / "samples.npz")
    reference = data.first(min(config.reference_images, len(data)))
    return config, extractor.name, extractor(samples), extractor(reference)


def scores(fake: torch.Tensor, real: torch.Tensor) -> tuple:
    from sdmbench.scoring.fid import fid_from_features
    from sdmbench_metrics.kid import RNG_SEED, SUBSETS, kid, subset_size

    mean, _ = kid(fake.cpu().numpy(), real.cpu().numpy(), SUBSETS, subset_size(len(fake), len(real)), RNG_SEED)
    return fid_from_features(fake, real), mean


def study(fake: torch.Tensor, real: torch.Tensor, sizes, bootstrap: int, seed: int = 0) -> list:
    rng, rows = np.random.default_rng(seed), []
    for n in sizes:
        if n > len(fake):
            break
        fid, kid = scores(fake[:n], real)
        draws = [scores(fake[:n][torch.from_numpy(rng.integers(0, n, n))], real) for _ in range(bootstrap)]
        rows.append({"n": n, "fid": fid, "fid_sd": float(np.std([d[0] for d in draws], ddof=1)),
                     "kid": kid, "kid_sd": float(np.std([d[1] for d in draws], ddof=1))})
        print(f"  N={n:5d}  FID {fid:8.3f} ± {rows[-1]['fid_sd']:.3f}   KID {kid:9.4f} ± {rows[-1]['kid_sd']:.4f}",
              flush=True)
    return rows


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for label, rows in results.items():
        n = [r["n"] for r in rows]
        for ax, key in zip(axes, ("fid", "kid")):
            ax.errorbar(n, [r[key] for r in rows], yerr=[r[f"{key}_sd"] for r in rows], marker="o", capsize=3,
                        label=label)
    sizes = sorted({r["n"] for rows in results.values() for r in rows})
    for ax, name in zip(axes, ("FID", "KID")):
        ax.set_xscale("log")
        ax.minorticks_off()
        ax.set_xticks(sizes, [str(n) for n in sizes])
        ax.set_xlabel("generated samples N (log scale)")
        ax.set_ylabel(f"{name} (bars: bootstrap sd)")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle("FID and KID against sample size, one sample set per run (sdmbench classifier features)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="*", type=Path)
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    parser.add_argument("--bootstrap", type=int, default=20)
    parser.add_argument("--extractor", default=None)
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--out", type=Path, default=Path("docs/studies/sample_size.json"))
    parser.add_argument("--plot", type=Path, default=Path("docs/studies/sample_size.png"))
    parser.add_argument("--replot", action="store_true", help="only redraw the plot from --out")
    args = parser.parse_args()
    if args.replot:
        plot(json.loads(args.out.read_text())["results"], args.plot)
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    results = {}
    for folder in args.runs:
        config, extractor, fake, real = features(folder, args.extractor, args.data_root)
        label = config.model + (f"/{config.neuron}" if config.neuron else "") + f" seed {config.seed}"
        print(f"{label}: {len(fake)} samples, {len(real)} reference images, {extractor} features", flush=True)
        results[label] = study(fake, real, sizes, args.bootstrap)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"runs": [str(r) for r in args.runs], "bootstrap": args.bootstrap,
                                    "results": results}, indent=2))
    plot(results, args.plot)
    print(f"wrote {args.out} and {args.plot}")


if __name__ == "__main__":
    main()
