"""What sdmbench's KID (``sdmbench_metrics.kid.kid``) saves against torch-fidelity's ``kid_features_to_metric``
(the baseline) on the published protocol's shapes: 1000 generated against 10,000 reference features, 100
subsets of 1000, float64, at the pinned extractors' feature widths (``classifier`` 128, ``classifier-resnet``
256); and with ``--samples 5000`` a protocol whose subsets are not every generated sample. Both are timed in
one process, alternating, medians of ``--repeats``; each line prints both medians, their ratio and the
largest relative difference of the two KIDs.

    python benchmarks/kid_speed.py [--samples 1000] [--reference 10000] [--repeats 3] [--json]
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins"))

from sdmbench_metrics.kid import RNG_SEED, SUBSETS, kid, subset_size  # noqa: E402


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def compare(width: int, samples: int, reference: int, repeats: int) -> dict:
    """Medians of both implementations on random features of ``width`` (the values do not change the work)."""
    from torch_fidelity.metric_kid import kid_features_to_metric

    rng = np.random.default_rng(0)
    fake, real = rng.normal(0, 1, (samples, width)), rng.normal(0.2, 1.1, (reference, width))
    size = subset_size(samples, reference)
    theirs, ours = [], []
    for _ in range(repeats):
        t, base = timed(lambda: kid_features_to_metric(torch.from_numpy(fake), torch.from_numpy(real),
                                                       kid_subsets=SUBSETS, kid_subset_size=size,
                                                       rng_seed=RNG_SEED, verbose=False))
        theirs.append(t)
        t, (mean, _) = timed(lambda: kid(fake, real, SUBSETS, size, RNG_SEED))
        ours.append(t)
    expected = base["kernel_inception_distance_mean"]
    return {"width": width, "samples": samples, "reference": reference, "subset_size": size,
            "torch_fidelity_s": statistics.median(theirs), "sdmbench_s": statistics.median(ours),
            "ratio": statistics.median(ours) / statistics.median(theirs),
            "relative_difference": abs(mean - expected) / abs(expected)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--reference", type=int, default=10000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    a = parser.parse_args()
    rows = [compare(width, a.samples, a.reference, a.repeats) for width in (128, 256)]
    if a.json:
        print(json.dumps(rows, indent=2))
        return
    for r in rows:
        print(f"width {r['width']}, {r['samples']} vs {r['reference']}, subsets of {r['subset_size']}: "
              f"torch-fidelity {r['torch_fidelity_s']:.2f} s, sdmbench {r['sdmbench_s']:.2f} s, "
              f"ratio {r['ratio']:.2f}, KIDs differ by {r['relative_difference']:.1e} (relative)")


if __name__ == "__main__":
    main()
