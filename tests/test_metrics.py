"""Estimator tests for repro.maths.metrics: hand-checked examples, closed forms, naive references,
and independence of block size, input order, input type and global random state."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg
import torch
from scipy.spatial.distance import cdist

from repro.maths import metrics as M, prd

# --------------------------------------------------------------------------- references


def naive_prdc(real: np.ndarray, fake: np.ndarray, k_pr: int = 3, k_dc: int = 5) -> dict[str, float]:
    """The definitions read literally: full float64 distance matrices, (x − y)² summed."""
    real, fake = np.asarray(real, np.float64), np.asarray(fake, np.float64)
    rr, ff, rf = (cdist(a, b, "sqeuclidean") for a, b in ((real, real), (fake, fake), (real, fake)))
    np.fill_diagonal(rr, np.inf)  # the point itself, by index
    np.fill_diagonal(ff, np.inf)
    r_pr, r_dc = np.sort(rr, axis=1)[:, k_pr - 1], np.sort(rr, axis=1)[:, k_dc - 1]
    f_pr = np.sort(ff, axis=1)[:, k_pr - 1]
    return {
        "precision": float((rf <= r_pr[:, None]).any(axis=0).mean()),
        "recall": float((rf <= f_pr[None, :]).any(axis=1).mean()),
        "density": float((rf <= r_dc[:, None]).sum() / (k_dc * len(fake))),
        "coverage": float((rf <= r_dc[:, None]).any(axis=1).mean()),
    }


def closed_form_fid(mu1, s1, mu2, s2) -> float:
    """FID with scipy's sqrtm: the textbook formula, as a reference on well-conditioned input."""
    covmean = scipy.linalg.sqrtm(s1 @ s2)
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean).real)


def random_spd(rng: np.random.Generator, d: int) -> np.ndarray:
    a = rng.normal(size=(d, d))
    return a @ a.T / d + 0.1 * np.eye(d)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)


# --------------------------------------------------------------------------- FID


def test_gaussian_statistics_match_numpy(rng):
    x = rng.normal(size=(300, 7))
    mu, sigma = M.gaussian_statistics(x)
    np.testing.assert_allclose(mu, x.mean(0), rtol=1e-12)
    np.testing.assert_allclose(sigma, np.cov(x, rowvar=False, ddof=1), rtol=1e-10, atol=1e-14)
    assert sigma.dtype == np.float64 and np.array_equal(sigma, sigma.T)


def test_fid_identical_sets_is_zero(rng):
    x = rng.normal(size=(2000, 32)).astype(np.float32) * 3 + 5
    assert M.frechet_distance(x, x) <= 1e-6
    assert M.frechet_distance(torch.from_numpy(x), x) <= 1e-6


def test_fid_diagonal_closed_form(rng):
    # Commuting (diagonal) covariances: (Σ₁Σ₂)^½ is the elementwise square root.
    d = 16
    mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
    v1, v2 = rng.uniform(0.1, 3, size=d), rng.uniform(0.1, 3, size=d)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum(v1 + v2 - 2 * np.sqrt(v1 * v2))
    got = M.frechet_distance_from_statistics(mu1, np.diag(v1), mu2, np.diag(v2))
    assert got == pytest.approx(expected, rel=1e-12)


def test_fid_one_dimensional_by_hand():
    # N(0, 1) vs N(3, 4): 9 + 1 + 4 − 2·2 = 10.
    assert M.frechet_distance_from_statistics([0.0], [[1.0]], [3.0], [[4.0]]) == pytest.approx(10.0, rel=1e-14)


@pytest.mark.parametrize("d", [2, 10, 64])
def test_fid_against_scipy_sqrtm(rng, d):
    mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
    s1, s2 = random_spd(rng, d), random_spd(rng, d)
    got = M.frechet_distance_from_statistics(mu1, s1, mu2, s2)
    assert got == pytest.approx(closed_form_fid(mu1, s1, mu2, s2), rel=1e-8, abs=1e-10)


def test_fid_of_gaussian_samples_approaches_closed_form(rng):
    d, n = 4, 200_000
    s1, s2 = random_spd(rng, d), random_spd(rng, d)
    mu2 = np.full(d, 0.5)
    x = rng.multivariate_normal(np.zeros(d), s1, size=n)
    y = rng.multivariate_normal(mu2, s2, size=n)
    assert M.frechet_distance(x, y) == pytest.approx(closed_form_fid(np.zeros(d), s1, mu2, s2), rel=0.02)


def test_fid_singular_covariances_stay_finite(rng):
    # Fewer samples than dimensions: singular covariances, where sqrtm-based code returns
    # complex parts or NaN.
    x, y = rng.normal(size=(10, 50)), rng.normal(size=(10, 50)) + 1
    fid = M.frechet_distance(x, y)
    assert math.isfinite(fid) and fid > 0


def test_fid_rejects_bad_shapes(rng):
    with pytest.raises(ValueError, match="dimension"):
        M.frechet_distance_from_statistics(np.zeros(3), np.eye(3), np.zeros(4), np.eye(4))
    with pytest.raises(ValueError, match="shape"):
        M.gaussian_statistics(np.zeros(10))
    with pytest.raises(ValueError, match="2 samples"):
        M.gaussian_statistics(np.zeros((1, 3)))
    with pytest.raises(ValueError, match="NaN"):
        M.gaussian_statistics(np.array([[0.0, np.nan], [1.0, 2.0]]))


# --------------------------------------------------------------------------- k-NN metrics

# 1-D example with k = 1, checked by hand (squared distances of integers are exact).
#   real radii: 0→2 (to 2), 2→1, 3→1, 10→7 (to 3), 100→1, 101→1
#   fake radii: −2→7 (to 5), 5→7, 12→7 (to 5), 30→18 (to 12)
#   precision: −2 ∈ B(0, 2) (a tie: inclusive), 5 and 12 ∈ B(10, 7), 30 in no ball → 3/4
#   recall: 0, 2, 3 ∈ B(−2, 7); 10 ∈ B(5, 7); 100 and 101 in no fake ball → 4/6
#   density: B(0, 2) holds −2, B(10, 7) holds 5 and 12, the others none → 3 / (1·4)
#   coverage: B(0, 2) and B(10, 7) hold a fake point → 2/6
HAND_REAL = np.array([[0.0], [2.0], [3.0], [10.0], [100.0], [101.0]])
HAND_FAKE = np.array([[-2.0], [5.0], [12.0], [30.0]])
HAND_EXPECTED = {"precision": 3 / 4, "recall": 4 / 6, "density": 3 / 4, "coverage": 2 / 6}


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_prdc_hand_example(dtype):
    got = M.prdc(HAND_REAL, HAND_FAKE, k_pr=1, k_dc=1, dtype=dtype)
    assert got == pytest.approx(HAND_EXPECTED, abs=1e-15)
    assert naive_prdc(HAND_REAL, HAND_FAKE, 1, 1) == pytest.approx(HAND_EXPECTED, abs=1e-15)


def test_wrappers_agree_with_prdc():
    assert M.knn_precision_recall(HAND_REAL, HAND_FAKE, k=1) == pytest.approx((3 / 4, 4 / 6))
    assert M.density_coverage(HAND_REAL, HAND_FAKE, k=1) == pytest.approx((3 / 4, 2 / 6))
    assert list(M.prdc(HAND_REAL, HAND_FAKE, 1, 1)) == list(M.PRDC_KEYS)


@pytest.mark.parametrize("shape", [(300, 8, 250), (64, 3, 90), (400, 32, 400)])
def test_prdc_matches_naive_reference(rng, shape):
    n, d, m = shape
    real = rng.normal(size=(n, d))
    fake = rng.normal(size=(m, d)) * 1.2 + 0.3
    expected = naive_prdc(real, fake)
    assert M.prdc(real, fake, dtype=torch.float64) == pytest.approx(expected, abs=1e-12)
    # float32 can only differ on near-ties (relative gap ~1e-7): allow one point of slack.
    assert M.prdc(real, fake) == pytest.approx(expected, abs=1.01 / min(n, m))


def test_prdc_integer_features_with_duplicates_and_ties(rng):
    # Small integers: every squared distance is exact (float32 too), so duplicates sit at
    # distance 0 and ties are real ties; the inclusive convention must match the reference.
    real = rng.integers(0, 4, size=(200, 3)).astype(np.float64)
    fake = rng.integers(0, 5, size=(150, 3)).astype(np.float64)
    expected = naive_prdc(real, fake)
    for dtype in (torch.float64, torch.float32):
        assert M.prdc(real, fake, dtype=dtype) == pytest.approx(expected, abs=1e-12)


def test_identical_sets_give_full_precision_recall_coverage(rng):
    x = rng.normal(size=(1500, 64)).astype(np.float32) * 4 + 10
    got = M.prdc(x, x)
    assert got["precision"] == 1.0 and got["recall"] == 1.0 and got["coverage"] == 1.0
    assert got["density"] == pytest.approx(naive_prdc(x, x)["density"], abs=1e-3)


@pytest.mark.parametrize("block_rows", [1, 7, 16, 100, 10_000])
def test_prdc_independent_of_block_size(rng, block_rows):
    real, fake = rng.normal(size=(230, 5)), rng.normal(size=(170, 5)) + 0.2
    reference = M.prdc(real, fake, dtype=torch.float64)
    assert M.prdc(real, fake, dtype=torch.float64, block_rows=block_rows) == reference
    assert M.prdc(real, fake, block_rows=block_rows) == pytest.approx(reference, abs=1.01 / 170)


def test_prdc_independent_of_input_order(rng):
    real, fake = rng.normal(size=(260, 6)), rng.normal(size=(240, 6)) * 0.8
    reference = M.prdc(real, fake, dtype=torch.float64)
    permuted = M.prdc(real[rng.permutation(260)], fake[rng.permutation(240)], dtype=torch.float64)
    assert permuted == reference


def test_prdc_numpy_and_torch_inputs_agree(rng):
    real, fake = rng.normal(size=(200, 4)).astype(np.float32), rng.normal(size=(180, 4)).astype(np.float32)
    assert M.prdc(torch.from_numpy(real), torch.from_numpy(fake)) == M.prdc(real, fake)
    assert M.prdc(real.tolist(), fake) == M.prdc(real, fake)


def test_prdc_rejects_bad_input(rng):
    x = rng.normal(size=(10, 3))
    with pytest.raises(ValueError, match="k_pr=10 needs more than 10 real"):
        M.prdc(x, x, k_pr=10)
    with pytest.raises(ValueError, match="k_dc must be a positive integer"):
        M.prdc(x, x, k_dc=0)
    with pytest.raises(ValueError, match="dimension"):
        M.prdc(x, rng.normal(size=(10, 4)))
    with pytest.raises(ValueError, match="shape"):
        M.knn_precision_recall(x[:, 0], x)
    with pytest.raises(ValueError, match="block_rows"):
        M.prdc(x, x, k_pr=2, k_dc=2, block_rows=0)
    with pytest.raises(ValueError, match="dtype"):
        M.prdc(x, x, k_pr=2, k_dc=2, dtype=torch.float16)


@pytest.mark.slow
def test_prdc_medium_size_float32_against_reference(rng):
    # Default block sizes (several blocks per matrix) on a size where the fast paths run.
    real = rng.normal(size=(3000, 128)).astype(np.float32)
    fake = (rng.normal(size=(2500, 128)) * 1.05 + 0.05).astype(np.float32)
    expected = naive_prdc(real, fake)
    assert M.prdc(real, fake) == pytest.approx(expected, abs=2.01 / 2500)


# --------------------------------------------------------------------------- PRD


def blobs(rng: np.random.Generator, n: int, centres: np.ndarray) -> np.ndarray:
    labels = rng.integers(0, len(centres), n)
    return centres[labels] + 0.3 * rng.normal(size=(n, centres.shape[1]))


@pytest.fixture
def prd_data(rng):
    centres = rng.normal(size=(6, 8)) * 4
    return blobs(rng, 600, centres), blobs(rng, 600, centres[:4])  # fake misses two modes


def test_prd_curve_is_deterministic_and_ignores_global_rng(prd_data):
    real, fake = prd_data
    p1, r1 = prd.prd_curve(real, fake, num_runs=3, seed=7)
    np.random.seed(123)
    torch.manual_seed(123)
    np.random.rand(100)
    torch.rand(100)
    p2, r2 = prd.prd_curve(real, fake, num_runs=3, seed=7)
    np.random.seed(999)
    torch.manual_seed(999)
    p3, r3 = prd.prd_curve(real, fake, num_runs=3, seed=7)
    assert np.array_equal(p1, p2) and np.array_equal(r1, r2)
    assert np.array_equal(p1, p3) and np.array_equal(r1, r3)


def test_prd_curve_seed_changes_the_clustering(prd_data):
    real, fake = prd_data
    curves = {prd.prd_curve(real, fake, num_clusters=20, num_runs=1, seed=s)[0].tobytes() for s in range(4)}
    assert len(curves) > 1


def test_prd_curve_shapes_and_range(prd_data):
    real, fake = prd_data
    p, r = prd.prd_curve(real, fake, num_angles=51, num_runs=2)
    assert p.shape == r.shape == (51,)
    assert (0 <= p).all() and (p <= 1).all() and (0 <= r).all() and (r <= 1).all()
    assert (np.diff(p) >= -1e-12).all() and (np.diff(r) <= 1e-12).all()  # along increasing λ
    # The fake set misses a third of the modes: recall is capped near 2/3, precision is high.
    f8, f18 = prd.f_beta_max(p, r)
    assert f18 > 0.9 and f8 < 0.8


def test_prd_curve_identical_sets_reach_one_one(rng):
    x = blobs(rng, 500, rng.normal(size=(5, 6)) * 3)
    p, r = prd.prd_curve(x, x, num_runs=2)
    assert np.max(np.minimum(p, r)) >= 1 - 1e-9
    assert prd.f_beta_max(p, r) == pytest.approx((1.0, 1.0), abs=1e-9)


def test_prd_curve_disjoint_sets_are_near_zero(rng):
    real = rng.normal(size=(400, 4))
    fake = rng.normal(size=(400, 4)) + 100
    p, r = prd.prd_curve(real, fake, num_runs=2)
    assert p.max() < 1e-6 and r.max() < 1e-6


def test_prd_curve_rejects_unequal_sizes(rng):
    with pytest.raises(ValueError, match="as many fake as real"):
        prd.prd_curve(rng.normal(size=(100, 3)), rng.normal(size=(90, 3)))
    with pytest.raises(ValueError, match="num_angles"):
        prd.prd_curve(rng.normal(size=(100, 3)), rng.normal(size=(100, 3)), num_angles=2)


def test_pr_curve_by_hand():
    # P = (1/2, 1/2, 0), Q = (0, 1/2, 1/2): at λ = 1 both are 1/2; ends at Q(Supp P) = P(Supp Q) = 1/2.
    p, q = [0.5, 0.5, 0.0], [0.0, 0.5, 0.5]
    assert prd.pr_curve(p, q, 1.0) == pytest.approx((0.5, 0.5))
    assert prd.pr_curve(p, q, 2.0) == pytest.approx((0.5, 0.25))  # α = min(1, .5) ; β = min(.5, .25)
    alpha, beta = prd.pr_curve(p, q, [0.0, math.inf])
    assert alpha.tolist() == [0.0, 0.5] and beta.tolist() == [0.5, 0.0]


def test_pr_curve_rejects_bad_histograms():
    with pytest.raises(ValueError, match="sum to"):
        prd.pr_curve([1.0, 1.0], [0.5, 0.5], 1.0)
    with pytest.raises(ValueError, match="non-negative"):
        prd.pr_curve([1.5, -0.5], [0.5, 0.5], 1.0)
    with pytest.raises(ValueError, match="same length"):
        prd.pr_curve([1.0], [0.5, 0.5], 1.0)
    with pytest.raises(ValueError, match="lambdas"):
        prd.pr_curve([1.0], [1.0], -1.0)


def test_f_beta_max_by_hand():
    assert prd.f_beta_max([0.5], [0.5]) == pytest.approx((0.5, 0.5))
    assert prd.f_beta_max([0.0, 1.0], [0.0, 0.0]) == (0.0, 0.0)
    # F_1 is the harmonic mean.
    assert prd.f_beta_max([0.2], [0.8], beta=1.0)[0] == pytest.approx(2 * 0.2 * 0.8 / 1.0)
    # β = 8 leans on recall, 1/8 on precision.
    f8, f18 = prd.f_beta_max([1.0], [0.1])
    assert f8 == pytest.approx(65 * 0.1 / (64 + 0.1))
    assert f18 == pytest.approx((1 + 1 / 64) * 0.1 / (1 / 64 + 0.1))


# --------------------------------------------------------------------------- Inception score


def test_inception_score_uniform_predictions_is_one():
    assert M.inception_score(np.full((50, 10), 0.1)) == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("classes", [1, 2, 10])
def test_inception_score_one_hot_spread_equally_is_number_of_classes(classes):
    probs = np.eye(classes)[np.arange(5 * classes) % classes]
    assert M.inception_score(probs) == pytest.approx(classes, rel=1e-12)
    assert M.inception_score(torch.from_numpy(probs).float()) == pytest.approx(classes, rel=1e-6)


def test_inception_score_by_hand():
    # p(y) = (3/4, 1/4); KL_1 = log(4/3); KL_2 = ½ log(2/3) + ½ log 2.
    probs = np.array([[1.0, 0.0], [0.5, 0.5]])
    expected = math.exp((math.log(4 / 3) + 0.5 * math.log(2 / 3) + 0.5 * math.log(2)) / 2)
    assert M.inception_score(probs) == pytest.approx(expected, rel=1e-14)


def test_inception_score_rejects_non_probabilities():
    with pytest.raises(ValueError, match="summing to 1"):
        M.inception_score(np.ones((3, 2)))


def test_kmeans_recovers_a_known_clustering() -> None:
    """Five well-separated blobs in 16-d: the clustering must be the blobs (up to relabelling),
    and the same for the same seed."""
    import torch

    from repro.maths.prd import _kmeans_labels

    rng = np.random.default_rng(3)
    centres = rng.normal(scale=20.0, size=(5, 16))
    truth = rng.integers(0, 5, size=1000)
    x = torch.as_tensor(centres[truth] + rng.normal(size=(1000, 16)), dtype=torch.float32)
    labels = _kmeans_labels(x, 5, np.random.default_rng(0), max_iter=100, tol=1e-6).numpy()
    pairs = set(zip(truth.tolist(), labels.tolist()))
    assert len(pairs) == 5 and len({t for t, _ in pairs}) == 5 and len({lab for _, lab in pairs}) == 5
    again = _kmeans_labels(x, 5, np.random.default_rng(0), max_iter=100, tol=1e-6).numpy()
    np.testing.assert_array_equal(labels, again)


def test_class_coverage_counts_classes_and_is_zero_for_equal_histograms() -> None:
    from repro.maths.metrics import class_coverage

    eye = np.eye(10)
    real = eye[np.repeat(np.arange(10), 100)]                      # 100 of each class
    assert class_coverage(real, real)["class_kl"] == pytest.approx(0.0, abs=1e-3)
    assert class_coverage(real, real)["classes_covered"] == 10
    # a generator that drops classes 5-9: five covered, and a KL far above that of a mild imbalance
    collapsed = eye[np.repeat(np.arange(5), 200)]
    mild = eye[np.concatenate([np.repeat(np.arange(10), 90), np.zeros(100, int)])]
    c, m = class_coverage(collapsed, real), class_coverage(mild, real)
    assert c["classes_covered"] == 5 and m["classes_covered"] == 10
    assert c["class_kl"] > 2.0 > 0.1 > m["class_kl"] > 0.0
    # 0.5 % of the samples in a class is not coverage
    sparse = eye[np.concatenate([np.zeros(995, int), np.ones(5, int)])]
    assert class_coverage(sparse, real)["classes_covered"] == 1
    with pytest.raises(ValueError, match="classes"):
        class_coverage(np.eye(3), real)


def test_an_exact_ratio_is_calibrated_class_by_class() -> None:
    """E_Q[r | c] = P(c) / Q(c) for the exact ratio (docs/maths.md §6.9): a toy where Q over-produces
    class 1 and p/q is known per sample has a class gap of 0; a ratio that prefers class 1 has not."""
    rng = np.random.default_rng(0)
    h_real, h_fake = np.array([0.5, 0.3, 0.2]), np.array([0.2, 0.6, 0.2])
    labels = rng.choice(3, size=20000, p=h_fake)
    within = rng.normal(0.0, 0.3, size=labels.size)  # a within-class factor of mean 1 under Q
    log_r = np.log(h_real / h_fake)[labels] + within - 0.045  # E[exp(N(0, .3²))] = e^0.045
    real = rng.choice(3, size=20000, p=h_real)
    cal = M.class_ratio_calibration(log_r, labels, real)
    assert cal["class_gap"] < 0.03 and np.allclose(cal["gap"], 0.0, atol=0.04)
    biased = M.class_ratio_calibration(log_r + 2.0 * (labels == 1), labels, real)
    assert biased["class_gap"] > 0.5 and biased["gap"][1] > 0.5 > biased["gap"][0] + 1.0


def test_rebalancing_restores_the_real_class_mix() -> None:
    rng = np.random.default_rng(1)
    fake, real = rng.choice(3, size=6000, p=[0.1, 0.1, 0.8]), rng.choice(3, size=6000, p=[0.4, 0.4, 0.2])
    idx = M.rebalance_indices(fake, real, 6000, seed=3)
    shares = np.bincount(fake[idx], minlength=3) / len(idx)
    assert np.allclose(shares, [0.4, 0.4, 0.2], atol=0.02)
    assert (M.rebalance_indices(fake, real, 6000, seed=3) == idx).all()  # deterministic in its seed
