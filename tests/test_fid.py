"""FID through torch-fidelity, checked against independent computations."""
import numpy as np
import pytest
import scipy.linalg
import torch

from sdmbench.scoring.fid import fid_from_features


def scipy_fid(a: np.ndarray, b: np.ndarray) -> float:
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * covmean))


def test_fid_matches_scipy_on_the_same_features():
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(400, 16, generator=gen, dtype=torch.float64)
    b = torch.randn(300, 16, generator=gen, dtype=torch.float64) * 1.3 + 0.4
    assert fid_from_features(a, b) == pytest.approx(scipy_fid(a.numpy(), b.numpy()), rel=1e-6)


def test_fid_matches_clean_fid_frechet_distance():
    from cleanfid.fid import frechet_distance

    gen = torch.Generator().manual_seed(1)
    a = torch.randn(200, 8, generator=gen, dtype=torch.float64)
    b = torch.randn(200, 8, generator=gen, dtype=torch.float64) + 1
    ref = frechet_distance(a.mean(0).numpy(), np.cov(a.numpy(), rowvar=False),
                           b.mean(0).numpy(), np.cov(b.numpy(), rowvar=False))
    assert fid_from_features(a, b) == pytest.approx(ref, rel=1e-6)


def test_fid_of_a_pure_mean_shift_is_the_squared_shift():
    a = torch.randn(500, 4, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    shift = torch.tensor([1.0, 2.0, 0.0, -2.0], dtype=torch.float64)
    assert fid_from_features(a, a + shift) == pytest.approx(9.0, abs=1e-6)
    assert fid_from_features(a, a) == pytest.approx(0.0, abs=1e-6)
