"""One instrument everywhere: the same samples scored with the same pinned weights give the same FID,
KID, precision and recall under every CPU kind PyTorch dispatches to, and at 1 and 2 threads."""
import json
import os
import subprocess
import sys

import pytest

from conftest import SHARED_DATA, needs_shared_mnist

SCORE = """
import json, torch
from sdmbench.plugin_api import loader as plugins
from sdmbench.scoring.evaluate import evaluate, metric_settings
from sdmbench.scoring.metric import Scores
from sdmbench.scoring.protocol import make_protocol
torch.set_num_threads({threads})
p = plugins.get()
data = p.dataset.get("mnist")({root!r}, "test", 16)
gen = torch.Generator().manual_seed(0)
samples = (data.get(torch.arange(300, 420)).float() + 40 * torch.randn(120, 1, 16, 16, generator=gen))
samples = samples.clamp(0, 255).round().to(torch.uint8)
metrics = {{n: p.metric.get(n)() for n in ("fid", "kid", "prc")}}
out = {{}}
for name in {extractors!r}:
    extractor = p.extractor.get(name)(data)
    protocol = make_protocol(dataset="mnist", extractor=extractor.name, extractor_version=extractor.version,
                             num_samples=120, reference_split="test", reference_images=300, image_size=16,
                             sampler=None, sample_steps=0, sampler_options={{}},
                             metric_settings=metric_settings(metrics, 120, 300))
    _, scores = evaluate(protocol, samples, data, extractor, metrics, sampling={{}})
    out[name] = Scores.flat(scores)
print(json.dumps(out))
"""
EXTRACTORS = ("classifier", "classifier-resnet")


def scoring(capability, threads) -> subprocess.Popen:
    """A process that scores both extractors under this CPU kind and thread count (:func:`scores` reads it)."""
    # each kind extracts the reference itself: none reads another's from the disk cache
    env = {"ATEN_CPU_CAPABILITY": capability, "OMP_NUM_THREADS": str(threads), "SDMBENCH_FEATURE_CACHE": "0"}
    return subprocess.Popen([sys.executable, "-c", SCORE.format(threads=threads, root=str(SHARED_DATA),
                                                                extractors=EXTRACTORS)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **env})


def scores(proc: subprocess.Popen) -> dict:
    out, err = proc.communicate()
    assert proc.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1])


KINDS = ("default", "avx2", "avx512")  # ATEN_CPU_CAPABILITY's values, each a superset of the one before


def kinds_here() -> tuple:
    """The CPU kinds this CPU can run: up to the best one PyTorch detects unforced (forcing a kind the CPU
    lacks, avx512 on an AVX2 EPYC, kills the process with SIGILL)."""
    env = {k: v for k, v in os.environ.items() if k != "ATEN_CPU_CAPABILITY"}
    best = subprocess.run([sys.executable, "-c", "import torch; print(torch.backends.cpu.get_cpu_capability())"],
                          capture_output=True, text=True, env=env, check=True).stdout.strip().lower()
    return KINDS[:KINDS.index(best) + 1] if best in KINDS else KINDS[:1]


@pytest.fixture(scope="module")
def runs():
    """Every kind below this CPU's best at 2 threads (default at 1), the best at 1 and at 2: on an AVX-512
    CPU default/1, avx512/1, avx2/2, avx512/2; on an AVX2 CPU default/1, avx2/1, avx2/2."""
    *lower, best = kinds_here()
    if not lower:
        pytest.skip("this CPU has one kind only (no AVX2): nothing to compare")
    settings = [("default", 1), (best, 1)] + [(kind, 2) for kind in lower[1:]] + [(best, 2)]
    # the two one-thread processes side by side on two cores (a process's threads are its own: the
    # scores cannot depend on what runs beside it), then each two-thread one alone
    together = [scoring(*settings[0]), scoring(*settings[1])]
    return [scores(p) for p in together] + [scores(scoring(cap, threads)) for cap, threads in settings[2:]]


@needs_shared_mnist
@pytest.mark.parametrize("extractor", EXTRACTORS)
def test_scores_agree_within_1e_4_across_cpu_kinds_and_threads(runs, extractor):
    for key in ("fid", "kid", "precision", "recall"):
        values = [r[extractor][key] for r in runs]
        assert max(values) - min(values) <= 1e-4 * max(abs(v) for v in values) + 1e-12, (key, values)
    assert runs[0][extractor]["fid"] > 1  # noisy images are far from the reference: the check compares real numbers
