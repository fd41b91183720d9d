"""Frechet distance between two feature sets, through torch-fidelity.

``FID = |mu_1 - mu_2|^2 + tr(S_1) + tr(S_2) - 2 tr((S_1 S_2)^{1/2})`` with the
means and covariances of the features (torch-fidelity's
``fid_features_to_statistics`` and ``fid_statistics_to_metric``).
"""
from __future__ import annotations

import torch


def fid_from_features(features_1: torch.Tensor, features_2: torch.Tensor) -> float:
    from torch_fidelity.metric_fid import fid_features_to_statistics, fid_statistics_to_metric

    stats_1 = fid_features_to_statistics(features_1.double().cpu())
    stats_2 = fid_features_to_statistics(features_2.double().cpu())
    return float(fid_statistics_to_metric(stats_1, stats_2, verbose=False)["frechet_inception_distance"])
