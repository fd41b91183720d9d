"""KID and precision/recall: torch-fidelity's estimators on sdmbench's shared
features, checked against the definitions on cases small enough to follow."""
import numpy as np
import pytest
import torch

from sdmbench.plugin_api.data import ImageData, content_hash
from sdmbench.scoring import ScoringContext
from sdmbench.plugin_api.testing import PixelFeatures, check_metric
from sdmbench_metrics.kid import KID
from sdmbench_metrics.prc import PrecisionRecall


def context(generated, reference):
    """Images of one pixel each, so a feature is a pixel value (``PixelFeatures``)."""
    gen = torch.tensor(generated, dtype=torch.uint8).view(-1, 1, 1, 1)
    ref = torch.tensor(reference, dtype=torch.uint8).view(-1, 1, 1, 1)
    data = ImageData("points", "train", 1, 1, 1, len(ref), content_hash(ref), "test", images=ref)
    return ScoringContext(gen, data, {"reference_images": len(ref), "image_size": 1}, PixelFeatures())


def test_feature_metrics_refuse_samples_of_another_shape_than_the_protocol_scores():
    """Samples are compared only at the dataset's channels and the protocol's image size: 3-channel or
    2x2 samples against 1-channel 1x1 points are an error before any feature is extracted."""
    from sdmbench.errors import UsageError

    ctx = context([1, 2, 3], [0, 1, 2, 3])
    for wrong in (ctx.samples.expand(-1, 3, -1, -1), ctx.samples.expand(-1, -1, 2, 2), ctx.samples.float()):
        ctx.samples, ctx._features = wrong, None
        with pytest.raises(UsageError, match=r"scored as uint8 \[N, 1, 1, 1\] images"):
            ctx.features()


def test_precision_by_hand_on_a_line():
    """Reference points 0..4 with k = 3: radii 3, 2, 2, 2, 3. Generated points
    1, 10, 2, 4 and 100: 1, 2 and 4 fall inside a reference ball, 10 and 100 do
    not, so precision = 3/5. The generated radii (9, 8, 8, 90, 98 for k = 3)
    cover every reference point: recall = 1."""
    scores = PrecisionRecall().compute(context([1, 10, 2, 4, 100], [0, 1, 2, 3, 4])).values
    assert scores["precision"] == pytest.approx(0.6) and scores["recall"] == pytest.approx(1.0)


def brute_force_prc(fake, real, k=3):
    def radii(points):
        d = np.abs(points[:, None] - points[None, :])
        return np.sort(d, axis=1)[:, k]  # column 0 is the point itself

    inside = lambda x, centres: (np.abs(x[:, None] - centres[None, :]) <= radii(centres)[None, :]).any(1)  # noqa
    return inside(fake, real).mean(), inside(real, fake).mean()


def test_precision_and_recall_match_the_definition_on_random_sets():
    rng = np.random.default_rng(0)
    fake, real = rng.integers(0, 120, 40), rng.integers(60, 256, 40)  # overlapping, shifted
    scores = PrecisionRecall().compute(context(fake.tolist(), real.tolist())).values
    precision, recall = brute_force_prc(fake.astype(float), real.astype(float))
    assert 0 < precision < 1 and 0 < recall < 1
    assert scores["precision"] == pytest.approx(precision) and scores["recall"] == pytest.approx(recall)


def test_precision_recall_use_equal_set_sizes():
    """With 4 generated points, only the first 4 reference points span the reference manifold."""
    ctx = context([0, 1, 2, 3], [0, 1, 2, 3, 200, 201, 202, 203])
    assert PrecisionRecall().compute(ctx).values["recall"] == pytest.approx(1.0)
    assert PrecisionRecall().settings(4, 8) == {"neighbourhood": 3, "reference_images": 4}


def unbiased_mmd2(x, y):
    """The unbiased MMD^2 with the cubic polynomial kernel k(a, b) = (a.b / d + 1)^3 (Binkowski et al.)."""
    kernel = lambda a, b: (a @ b.T / a.shape[1] + 1) ** 3  # noqa: E731
    m = len(x)
    kxx, kyy, kxy = kernel(x, x), kernel(y, y), kernel(x, y)
    off = lambda k: (k.sum() - np.trace(k)) / (m * (m - 1))  # noqa: E731
    return off(kxx) + off(kyy) - 2 * kxy.mean()


def test_kid_with_one_subset_of_everything_is_the_unbiased_mmd():
    """When the subset size is N, every subset is the whole set: KID is the
    unbiased MMD^2 itself, with no spread."""
    rng = np.random.default_rng(1)
    fake, real = rng.integers(0, 200, 12), rng.integers(40, 256, 12)
    scores = KID().compute(context(fake.tolist(), real.tolist())).values
    expected = unbiased_mmd2(fake[:, None].astype(float), real[:, None].astype(float))
    assert scores["kid"] == pytest.approx(expected, rel=1e-9)
    assert scores["kid_std"] == pytest.approx(0.0, abs=1e-9 * abs(expected))


@pytest.mark.parametrize("n_fake,size", [(60, 60), (90, 40)])  # every generated sample in each subset, or not
def test_kid_draws_torch_fidelity_s_subsets_and_gives_its_value(n_fake, size):
    """torch-fidelity's ``kid_features_to_metric`` is the reference: the same subsets from the same seed, its
    ``B ** 3`` against ``B * B * B`` and one ``K_XX`` for every subset of all samples, equal to 1e-12."""
    from torch_fidelity.metric_kid import kid_features_to_metric

    from sdmbench_metrics.kid import kid

    rng = np.random.default_rng(2)
    fake, real = rng.normal(0.0, 1.0, (n_fake, 16)), rng.normal(0.3, 1.2, (150, 16))
    mean, std = kid(fake, real, subsets=7, size=size, seed=2020)
    theirs = kid_features_to_metric(torch.from_numpy(fake), torch.from_numpy(real), kid_subsets=7,
                                    kid_subset_size=size, rng_seed=2020, verbose=False)
    assert mean == pytest.approx(theirs["kernel_inception_distance_mean"], rel=1e-12)
    assert std == pytest.approx(theirs["kernel_inception_distance_std"], rel=1e-9)
    assert std > 0  # the reference subsets differ, so the check compares seven different values


def test_kid_subset_size_follows_n_up_to_torch_fidelity_default():
    assert KID().settings(500, 10000)["subset_size"] == 500
    assert KID().settings(5000, 10000)["subset_size"] == 1000
    assert KID().settings(5000, 300)["subset_size"] == 300


def test_the_metrics_pass_the_contract_check_and_share_one_feature_pass():
    assert set(check_metric(KID)) == {"kid", "kid_std"}
    assert set(check_metric(PrecisionRecall)) == {"precision", "recall"}
    calls = []

    class Counting(PixelFeatures):
        def __call__(self, images, batch_size=500, on_batch=None):
            calls.append(len(images))
            return super().__call__(images)

    ctx = context([1, 2, 3, 4], [1, 2, 3, 5])
    ctx.extractor = Counting()
    KID().compute(ctx)
    PrecisionRecall().compute(ctx)
    assert calls == [4, 4]  # reference and generated once, for both metrics
