"""The small cases of the extractor validation (studies/extractors/validate.py): corruptions that do
what they say, class dropping that drops, and the ANOVA F of a one-way layout against scipy's."""
import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

SPEC = importlib.util.spec_from_file_location(
    "validate", Path(__file__).resolve().parents[1] / "studies" / "extractors" / "validate.py")
validate = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(validate)


def test_noise_of_zero_changes_nothing_and_more_noise_moves_images_further():
    images = torch.randint(0, 256, (8, 1, 16, 16), dtype=torch.uint8)
    assert torch.equal(validate.add_noise(images, 0.0), images)
    moved = [float((validate.add_noise(images, sd).float() - images.float()).abs().mean()) for sd in (0.05, 0.2, 0.5)]
    assert moved == sorted(moved) and moved[0] > 0


def test_box_blur_averages_a_box_and_keeps_a_flat_image():
    flat = torch.full((1, 1, 8, 8), 77, dtype=torch.uint8)
    assert torch.equal(validate.box_blur(flat, 2), flat)
    dot = torch.zeros((1, 1, 9, 9), dtype=torch.uint8)
    dot[0, 0, 4, 4] = 255
    blurred = validate.box_blur(dot, 1)
    assert int(blurred[0, 0, 4, 4]) == round(255 / 9) and int(blurred[0, 0, 3, 3]) == round(255 / 9)
    assert int(blurred[0, 0, 2, 2]) == 0


def test_dropping_k_classes_keeps_only_the_others():
    labels = torch.arange(100) % 10
    for k in range(6):
        rows = validate.drop_classes(labels, k, 40)
        assert len(rows) == 40 and len(set(rows.tolist())) == 40 and int(labels[rows].min()) == k


def test_anova_f_matches_scipy_and_grows_with_separation():
    from scipy.stats import f_oneway

    rng = np.random.default_rng(0)
    groups = [rng.normal(m, 1.0, 5) for m in (0.0, 0.5, 1.0)]
    assert validate.anova_f(groups) == pytest.approx(f_oneway(*groups).statistic, rel=1e-12)
    apart = [g + 5 * i for i, g in enumerate(groups)]
    assert validate.anova_f(apart) > validate.anova_f(groups)


def test_monotone_and_largest_difference():
    assert validate.monotone([1, 2, 3]) and not validate.monotone([1, 3, 2])
    assert validate.monotone([3, 2, 1], rising=False)
    scores = {"a": {"fid": 10.0, "kid": 1.0}, "b": {"fid": 10.001, "kid": 1.0}}
    assert validate.largest_difference(scores) == pytest.approx(0.001 / 10.001)


def test_two_entry_f_test_is_students_t_squared_and_families_pick_their_entries():
    import sys

    from scipy.stats import ttest_ind

    sys.path.insert(0, str(Path(validate.__file__).parent))
    spec = importlib.util.spec_from_file_location("discriminability",
                                                  Path(validate.__file__).parent / "discriminability.py")
    disc = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(disc)
    tsm, if_ = [43.0, 40.1, 47.9, 41.2, 42.8], [51.0, 55.3, 46.9, 52.4, 50.5]
    t = ttest_ind(tsm, if_)  # equal variances: F(1, n - 2) = t^2, same p
    r = disc.f_test({"sdm/tsm": tsm, "sdm/if": if_})
    assert r["F"] == pytest.approx(t.statistic ** 2, rel=1e-12) and r["p"] == pytest.approx(t.pvalue, rel=1e-9)
    assert (r["entries"], r["runs"]) == (2, 10)
    board = {"sdm/tsm": tsm, "sdm/if": if_, "sdm-ann": [20.0, 21.5], "one-seed": [70.0]}
    assert set(disc.family(board, None)) == {"sdm/tsm", "sdm/if", "sdm-ann"}
    assert set(disc.family(board, ("sdm/tsm", "sdm/if", "one-seed"))) == {"sdm/tsm", "sdm/if"}
