"""``precision = "bf16"``: convolutions in bfloat16 under torch.autocast,
membranes in float32, and a run that records what it used."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from conftest import needs_debian_fmnist, run_cli
from sdmbench.hardware import precision
from sdmbench.plugin_api.neuron import neuron_maker
from sdmbench_ddpm.process import GaussianDiffusion
from sdmbench_sdm.unet import make_unet

SMALL = dict(img_ch=1, img_size=16, ch=16, ch_mult=(1, 2), num_res_blocks=1, dropout=0.0)


class Probe(nn.Module):
    """A neuron that remembers the dtype of every current it receives."""
    seen = []

    def __init__(self, T, v_th=1.0):
        super().__init__()

    def forward(self, x):
        Probe.seen.append(x.dtype)
        return (x >= 1.0).to(x.dtype)


def test_under_bf16_convolutions_run_in_bfloat16_and_every_neuron_integrates_float32():
    net = make_unet(neuron_maker(Probe, 4), T=4, **SMALL)
    conv_out = []
    net.down[0].conv1.register_forward_hook(lambda m, i, o: conv_out.append(o.dtype))
    Probe.seen.clear()
    with torch.no_grad(), precision.autocast("bf16", "cpu"):
        net(torch.randn(2, 1, 16, 16), torch.tensor([3, 700]))
    assert conv_out == [torch.bfloat16]
    assert len(Probe.seen) == sum(isinstance(m, Probe) for m in net.modules())
    assert set(Probe.seen) == {torch.float32}


def test_fp32_is_a_no_op_and_an_unknown_precision_is_refused():
    with precision.autocast("fp32", "cpu"):
        assert not torch.is_autocast_enabled("cpu")
    try:
        precision.autocast("fp16", "cpu")
    except ValueError as exc:
        assert "bf16" in str(exc)
    else:
        raise AssertionError("fp16 was accepted")


def test_bf16_changes_the_ann_twin_only_by_rounding():
    """Same weights, same batch: the loss and its gradient agree to bfloat16's
    precision (8 significant bits, relative rounding 2^-8 = 0.4% per value)."""
    torch.manual_seed(0)
    net, process = make_unet(None, **SMALL), GaussianDiffusion()
    x0 = torch.rand(16, 1, 16, 16) * 2 - 1
    grads, losses = [], []
    for name in ("fp32", "bf16"):
        net.zero_grad()
        with precision.autocast(name, "cpu"):
            loss = process.loss(net, x0, generator=torch.Generator().manual_seed(1))
        loss.backward()
        assert loss.dtype == torch.float32
        losses.append(loss.item())
        grads.append(torch.cat([p.grad.flatten() for p in net.parameters()]))
    assert abs(losses[1] - losses[0]) < 0.03 * losses[0]
    assert torch.nn.functional.cosine_similarity(grads[0], grads[1], dim=0) > 0.99


@needs_debian_fmnist
def test_a_bf16_run_records_its_precision_and_a_bad_one_is_a_one_line_error(tmp_path):
    code, out, err = run_cli("run", "--model", "sdm-ann", "--dataset", "fashion-mnist", "--preset", "smoke",
                             "--train-steps", "6", "--num-samples", "32", "--set", "precision=bf16",
                             "--results-dir", str(tmp_path))
    assert code == 0, err[-2000:]
    [record] = [json.loads(p.read_text()) for p in tmp_path.glob("*/record.json")]
    assert record["config"]["precision"] == "bf16" and record["metrics"]["fid"] > 0
    code, out, err = run_cli("run", "--model", "sdm-ann", "--dataset", "fashion-mnist", "--preset", "smoke",
                             "--set", "precision=fp16", "--results-dir", str(tmp_path))
    assert code == 2 and "precision must be one of fp32, bf16" in err
    assert len([line for line in err.splitlines() if line.strip()]) == 1


def test_a_cpu_run_in_bf16_is_told_before_training_when_this_cpu_emulates_bfloat16(monkeypatch):
    """The note comes exactly when bf16 measured more than SLOW_BF16 times slower than fp32 here, and
    fp32 runs are not measured at all."""
    from types import SimpleNamespace

    from sdmbench.running.runner import Run, _warn_if_bf16_emulated

    monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda: False)
    said = []
    run = Run(config=SimpleNamespace(precision="bf16"), plugins=None, recipe=None, device=torch.device("cpu"),
              run_id="r", folder=None, log=said.append)
    for slowdown, told in ((26.0, True), (precision.SLOW_BF16 * 0.99, False), (0.7, False)):
        monkeypatch.setattr(precision, "cpu_bf16_slowdown", lambda: slowdown)
        said.clear()
        _warn_if_bf16_emulated(run)
        assert bool(said) == told and all("--set precision=fp32" in line and "26x" in line for line in said)
    monkeypatch.setattr(precision, "cpu_bf16_slowdown", lambda: pytest.fail("an fp32 run measured bf16"))
    run.config.precision = "fp32"
    _warn_if_bf16_emulated(run)
    run.config.precision = "bf16"  # a CPU with native bf16 is not measured either
    monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda: True)
    _warn_if_bf16_emulated(run)
    assert said == []


def test_torchs_cpuinfo_and_the_kernels_flags_agree_on_native_bf16():
    if not cpu_flags():
        pytest.skip("/proc/cpuinfo is not readable here")
    assert precision.cpu_has_native_bf16() == NATIVE_BF16


def cpu_flags() -> set:
    """The CPU's feature flags as the kernel lists them (empty where /proc/cpuinfo is not readable)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    return {flag for line in text.splitlines() if line.startswith("flags") for flag in line.split(":", 1)[1].split()}


NATIVE_BF16 = bool(cpu_flags() & {"avx512_bf16", "amx_bf16"})


def test_the_bf16_probe_measures_a_finite_positive_ratio_and_keeps_torchs_threads():
    torch.set_num_threads(2)
    assert 0 < precision.cpu_bf16_slowdown() < float("inf")
    assert torch.get_num_threads() == 2


@pytest.mark.skipif(not cpu_flags() or NATIVE_BF16, reason="needs a CPU known to lack AVX512-BF16 and AMX")
def test_the_bf16_probe_finds_emulation_while_other_processes_keep_every_core_busy():
    """Measured on two threads beside a busy process, a 2-core AVX2 EPYC's convolution waited so long on
    its threads that fp32 came out slower than emulated bf16 (ratio 0.75), and the study's queue started on
    it; the probe measures on one thread."""
    spin = "print('spinning', flush=True)\nwhile True: pass"
    busy = [subprocess.Popen([sys.executable, "-c", spin], stdout=subprocess.PIPE, text=True)
            for _ in range(os.cpu_count() or 2)]
    try:
        assert all(proc.stdout.readline() == "spinning\n" for proc in busy)
        torch.set_num_threads(2)
        assert precision.cpu_bf16_slowdown() > precision.SLOW_BF16
    finally:
        for proc in busy:
            proc.kill()
            proc.wait()
