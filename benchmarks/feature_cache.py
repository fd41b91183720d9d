"""What the disk cache of reference features saves a run's scoring: the reference's features through the
extractor (the baseline, the cache off), with an empty cache (extracted and written), and from the cache
(a probe extracted, the file read and checked), in one process, alternating, medians of ``--repeats``.

    python benchmarks/feature_cache.py [--dataset fashion-mnist] [--size 32] [--reference-images 10000]
                                       [--extractor classifier-resnet] [--repeats 3] [--data-root DIR]

The defaults are the quick preset's reference. Prints each median in seconds and its ratio to the
baseline; ``--json`` prints them as JSON instead. The cache lives in a temporary folder.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="fashion-mnist")
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--reference-images", type=int, default=10000)
    parser.add_argument("--extractor", default="classifier-resnet")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--data-root")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.repeats < 1 or args.reference_images < 1:
        raise SystemExit("error: --repeats and --reference-images must be at least 1")
    os.environ["SDMBENCH_CACHE"] = cache = tempfile.mkdtemp(prefix="sdmbench-feature-cache-")
    from sdmbench.errors import UsageError
    from sdmbench.plugin_api import loader as plugins
    from sdmbench.scoring.feature_cache import reference_features

    try:
        registry = plugins.get()
        data = registry.dataset.get(args.dataset)(args.data_root, "train", args.size)
        extractor = registry.extractor.get(args.extractor)(data)
    except UsageError as exc:
        raise SystemExit(f"error: {exc}")
    images = data.first(args.reference_images)

    def baseline():
        os.environ["SDMBENCH_FEATURE_CACHE"] = "0"
        reference_features(extractor, images)
        os.environ["SDMBENCH_FEATURE_CACHE"] = "1"

    def empty():
        shutil.rmtree(Path(cache) / "features", ignore_errors=True)
        reference_features(extractor, images)

    cases = {"extracted (cache off)": baseline, "empty cache (extract, write)": empty,
             "from the cache (probe, read)": lambda: reference_features(extractor, images)}
    times = {name: [] for name in cases}
    try:
        for _ in range(args.repeats):
            for name, fn in cases.items():
                times[name].append(timed(fn))
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    base = statistics.median(times["extracted (cache off)"])
    result = {name: {"median_s": round(statistics.median(t), 3), "ratio_to_extracted": round(statistics.median(t) / base, 3)}
              for name, t in times.items()}
    if args.json:
        print(json.dumps({"images": len(images), "result": result}, indent=1))
        return
    print(f"{len(images)} {args.dataset} images at {args.size}px through {args.extractor}:")
    for name, r in result.items():
        print(f"{name:30s} {r['median_s']:7.2f} s   {r['ratio_to_extracted']:6.3f}x extracted")


if __name__ == "__main__":
    main()
