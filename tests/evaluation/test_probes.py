"""Evaluation probes against independent references (scikit-learn, numpy, hand computations)."""

import math

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import balanced_accuracy_score, r2_score as sk_r2

from ssl_lib.models.backbones import make_backbone
from ssl_lib.evaluation import (
    extract_features, few_shot_accuracies, few_shot_eval, fit_logistic, fit_ridge, knn_accuracy,
    knn_predict, linear_probe, mean_ci95, r2_score, ridge_probe, sample_episodes, standardize,
)


def by_split(train, val, test):
    """(features, targets) dicts from (x, y) pairs of the three splits."""
    pairs = dict(train=train, val=val, test=test)
    return {k: x for k, (x, _) in pairs.items()}, {k: y for k, (_, y) in pairs.items()}


def blobs(n, d=8, classes=4, spread=1.0, seed=0):
    """Gaussian clusters, the same centres for every seed offset's samples."""
    centres = torch.randn(classes, d, generator=torch.Generator().manual_seed(123)) * 1.5
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, classes, (n,), generator=g)
    return centres[y] + spread * torch.randn(n, d, generator=g), y


# -- extract_features ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    return make_backbone("small_cnn", width=8)


def test_features_batched_match_one_pass_and_restore_train_mode(net):
    images = torch.rand(10, 3, 16, 16)
    net.train()
    feats = extract_features(net, images, batch_size=3)
    assert net.training  # restored
    net.eval()
    with torch.no_grad():
        expected = net(images)
    net.train()
    assert feats.shape == (10, net.feature_dim) and feats.dtype == torch.float32
    torch.testing.assert_close(feats, expected, rtol=1e-5, atol=1e-5)
    assert not feats.requires_grad


def test_features_from_uint8_loader_with_labels_and_transform(net):
    images = torch.randint(0, 256, (7, 3, 16, 16), dtype=torch.uint8)
    labels = {"a": torch.arange(7), "b": torch.arange(7).float()}
    loader = [(images[:4], {k: v[:4] for k, v in labels.items()}), (images[4:], {k: v[4:] for k, v in labels.items()})]
    flip = lambda x: x.flip(-1)
    feats, got = extract_features(net, loader, transform=flip)
    expected = extract_features(net, (images.float() / 255).flip(-1))
    torch.testing.assert_close(feats, expected, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(got["b"], labels["b"])
    feats2, plain = extract_features(net, [(images, torch.arange(7))])
    assert torch.equal(plain, torch.arange(7)) and feats2.shape == (7, net.feature_dim)


def test_stage_features(net):
    images = torch.rand(5, 3, 16, 16)
    stages = extract_features(net, images, stages=True, batch_size=2)
    assert list(stages) == net.stage_names
    assert [v.shape for v in stages.values()] == [(5, 8), (5, 16), (5, 32), (5, 64)]
    torch.testing.assert_close(stages["block4"], extract_features(net, images))


def test_feature_input_errors(net):
    with pytest.raises(ValueError, match="images"):
        extract_features(net, torch.rand(2, 1, 8, 8))
    with pytest.raises(ValueError, match="images"):
        extract_features(net, torch.zeros(2, 3, 8, 8, dtype=torch.int32))
    with pytest.raises(ValueError, match="device"):
        extract_features(net, torch.rand(2, 3, 8, 8), device="meta")


# -- logistic regression ---------------------------------------------------------------------


@pytest.mark.parametrize("l2", [1e-3, 1e-1])
def test_lbfgs_logistic_matches_sklearn_at_the_same_regularisation(l2):
    train_x, train_y = blobs(300, spread=1.5, seed=1)
    test_x, test_y = blobs(500, spread=1.5, seed=2)
    tr, te = standardize(train_x, test_x)
    weight, bias = fit_logistic(tr, train_y, 4, l2)
    ours = ((te @ weight + bias).argmax(1) == test_y).float().mean().item()
    # Independent standardisation and the mapping C = 1 / (n * l2) of our mean-CE convention.
    mean, std = train_x.numpy().mean(0), train_x.numpy().std(0)
    clf = LogisticRegression(C=1 / (300 * l2), max_iter=10_000, tol=1e-10)
    clf.fit((train_x.numpy() - mean) / std, train_y.numpy())
    theirs = clf.score((test_x.numpy() - mean) / std, test_y.numpy())
    assert abs(ours - theirs) <= 0.01
    # Same objective, so the weights agree too (sklearn's multinomial is over-parametrised the same way).
    np.testing.assert_allclose(weight.numpy(), clf.coef_.T, atol=2e-3 * max(1, np.abs(clf.coef_).max()))


def test_batched_logistic_solves_each_problem_separately():
    xs, ys = zip(*(blobs(40, d=5, classes=3, seed=s) for s in range(3)))
    weight, bias = fit_logistic(torch.stack(xs), torch.stack(ys), 3, 0.1)
    for e in range(3):
        w, b = fit_logistic(xs[e], ys[e], 3, 0.1)
        torch.testing.assert_close(weight[e], w, atol=1e-3, rtol=1e-3)
        torch.testing.assert_close(bias[e], b, atol=1e-3, rtol=1e-3)


def test_preconditioning_keeps_the_minimum_and_reaches_it_sooner_on_badly_scaled_features():
    # Raw features whose scales span four decades, as a random-init network's can.
    x, y = blobs(400, d=6, classes=3, spread=2.0, seed=5)
    x = x * torch.logspace(-2, 2, 6)
    reference = authors_augself_fit(x, y, 3, 1e-2)  # scipy in float64, run to convergence

    def objective(params):
        weight, bias = (torch.as_tensor(p, dtype=torch.float64) for p in params)
        ce = torch.nn.functional.cross_entropy(x.double() @ weight + bias, y, reduction="sum")
        return float(ce + 1e-2 * (weight.pow(2).sum() + bias.pow(2).sum()))

    best = objective(reference)
    # The same objective either way: run long, both reach scipy's minimum (the weights of the
    # 0.01-scale feature are barely pinned down, so compare objective values, not weights).
    for precondition in (True, False):
        fitted = fit_logistic(x, y, 3, 1e-2, objective="augself", max_iter=5000, precondition=precondition)
        assert objective(fitted) == pytest.approx(best, rel=1e-3)
    gap = {p: objective(fit_logistic(x, y, 3, 1e-2, objective="augself", max_iter=30, precondition=p)) - best
           for p in (True, False)}
    assert gap[True] < 0.1 * gap[False], gap


def authors_augself_fit(x, y, classes, w):
    """AugSelf's linear-evaluation objective written out, minimised by scipy: sum of the
    cross-entropies + w * (||W||^2 + ||b||^2) (bias penalised), on raw features."""
    from scipy.optimize import minimize

    x, y = x.double().numpy(), y.numpy()
    n, d = x.shape
    onehot = np.eye(classes)[y]

    def objective(theta):
        weight, bias = theta[:d * classes].reshape(d, classes), theta[d * classes:]
        logits = x @ weight + bias
        logits -= logits.max(1, keepdims=True)
        p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
        loss = -(onehot * np.log(p + 1e-300)).sum() + w * (theta ** 2).sum()
        grad_logits = p - onehot
        grad = np.concatenate([(x.T @ grad_logits).ravel(), grad_logits.sum(0)]) + 2 * w * theta
        return loss, grad

    theta = minimize(objective, np.zeros(d * classes + classes), jac=True, method="L-BFGS-B",
                     options=dict(maxiter=10_000, gtol=1e-10, ftol=1e-15)).x
    return theta[:d * classes].reshape(d, classes), theta[d * classes:]


def test_linear_probe_augself_protocol_selects_on_val_and_refits_like_the_authors():
    train = blobs(200, spread=2.0, seed=3)
    val = blobs(200, spread=2.0, seed=4)
    test = blobs(400, spread=2.0, seed=5)
    train, val, test = ((x * 7 + 3, y) for x, y in (train, val, test))  # raw, unstandardised scale
    grid = [1e-2, 1.0, 100.0, 1e4]
    result = linear_probe(*by_split(train, val, test), l2_grid=grid, max_iter=2000)
    assert set(result.val_scores) == set(grid)
    # Reference: the authors' objective, fitted per weight on train and scored on val, then the
    # best (first maximum from the strongest penalty) refitted on train + val and scored on test.
    val_ref = {}
    for w in sorted(grid, reverse=True):
        weight, bias = authors_augself_fit(train[0], train[1], 4, w)
        val_ref[w] = float(((val[0].double().numpy() @ weight + bias).argmax(1) == val[1].numpy()).mean())
    assert all(abs(result.val_scores[w] - val_ref[w]) <= 0.01 for w in grid), (result.val_scores, val_ref)
    assert result.val_scores[1e4] < max(result.val_scores.values())  # heavy penalty: far worse
    weight, bias = authors_augself_fit(torch.cat([train[0], val[0]]), torch.cat([train[1], val[1]]), 4, result.l2)
    pred = (test[0].double().numpy() @ weight + bias).argmax(1)
    assert abs(result.top1 - (pred == test[1].numpy()).mean()) <= 0.01
    assert abs(result.balanced - balanced_accuracy_score(test[1].numpy(), pred)) <= 0.01
    assert result.top1 > 0.7


def test_linear_probe_ericsson_protocol_is_sklearn_with_5_fold_cross_validation():
    from ssl_lib.evaluation.probes import kfold_indices

    train, val, test = blobs(150, spread=2.5, seed=6), blobs(100, spread=2.5, seed=7), blobs(300, spread=2.5, seed=8)
    grid = [1e-2, 1.0, 100.0]  # (near ties under a heavier penalty flip with the solver's last digits)
    result = linear_probe(*by_split(train, val, test), l2_grid=grid, protocol="ericsson", seed=3, max_iter=2000)
    # Reference: scikit-learn's LogisticRegression(C = 1 / wd) on raw features, the same 5 folds of train + val.
    pool_x = torch.cat([train[0], val[0]]).double().numpy()
    pool_y = torch.cat([train[1], val[1]]).numpy()
    folds = kfold_indices(len(pool_y), 5, seed=3)
    assert sorted(torch.cat([h for _, h in folds]).tolist()) == list(range(len(pool_y)))
    for wd in grid:
        scores = []
        for fit, held in folds:
            clf = LogisticRegression(C=1 / wd, max_iter=10_000, tol=1e-10).fit(pool_x[fit.numpy()], pool_y[fit.numpy()])
            scores.append((clf.predict(pool_x[held.numpy()]) == pool_y[held.numpy()]).mean())
        assert abs(result.val_scores[wd] - np.mean(scores)) <= 0.01, (wd, result.val_scores[wd], np.mean(scores))
    clf = LogisticRegression(C=1 / result.l2, max_iter=10_000, tol=1e-10).fit(pool_x, pool_y)
    assert abs(result.top1 - (clf.predict(test[0].double().numpy()) == test[1].numpy()).mean()) <= 0.01


def test_linear_probe_errors():
    x, y = blobs(20)
    with pytest.raises(ValueError, match=r"labels\['val'\]"):
        linear_probe(*by_split((x, y), (x, y[:-1]), (x, y)), l2_grid=[1.0])
    with pytest.raises(ValueError, match=r"labels\['test'\]"):
        linear_probe(*by_split((x, y), (x, y), (x, y + 10)), l2_grid=[1.0], num_classes=4)
    with pytest.raises(ValueError, match=r"labels\['train'\]"):
        linear_probe(*by_split((x, y - 5), (x, y), (x, y)), l2_grid=[1.0])
    with pytest.raises(ValueError, match="widths"):
        linear_probe(*by_split((x, y), (x[:, :3], y), (x, y)), l2_grid=[1.0])
    with pytest.raises(ValueError, match="l2_grid"):
        linear_probe(*by_split((x, y), (x, y), (x, y)), l2_grid=[])
    with pytest.raises(ValueError, match=r"features lack split\(s\) \['test'\]"):
        linear_probe({"train": x, "val": x}, {"train": y, "val": y, "test": y}, l2_grid=[1.0])


# -- ridge -----------------------------------------------------------------------------------


def regression_data(n, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 6, generator=g) * torch.tensor([1, 10, 0.1, 1, 1, 5.0])
    w = torch.randn(6, 2, generator=torch.Generator().manual_seed(99))
    return x, x @ w + 0.5 * torch.randn(n, 2, generator=g) + 3


@pytest.mark.parametrize("l2", [1e-3, 0.5])
def test_ridge_matches_sklearn_ridge(l2):
    x, y = regression_data(80, 0)
    new_x, _ = regression_data(30, 1)
    mean, std = x.numpy().mean(0), x.numpy().std(0)
    ref = Ridge(alpha=80 * l2).fit((x.numpy() - mean) / std, y.numpy())
    np.testing.assert_allclose(fit_ridge(x, y, l2)(new_x).numpy(), ref.predict((new_x.numpy() - mean) / std),
                               rtol=1e-5, atol=1e-5)


def test_r2_score_matches_sklearn_and_is_nan_for_constant_targets():
    pred, target = torch.randn(20, 3).double(), torch.randn(20, 3).double()
    np.testing.assert_allclose(r2_score(pred, target).numpy(),
                               sk_r2(target.numpy(), pred.numpy(), multioutput="raw_values"))
    target[:, 1] = 2.0
    assert torch.isnan(r2_score(pred, target)[1])


def test_ridge_probe_r2_matches_sklearn_refit():
    train, val, test = regression_data(100, 2), regression_data(50, 3), regression_data(60, 4)
    result = ridge_probe(*by_split(train, val, test), l2_grid=np.logspace(-4, 2, 7))
    fit_x = torch.cat([train[0], val[0]]).numpy()
    fit_y = torch.cat([train[1], val[1]]).numpy()
    mean, std = fit_x.mean(0), fit_x.std(0)
    ref = Ridge(alpha=len(fit_x) * result.l2).fit((fit_x - mean) / std, fit_y)
    pred = ref.predict((test[0].numpy() - mean) / std)
    np.testing.assert_allclose(result.r2_per_output, sk_r2(test[1].numpy(), pred, multioutput="raw_values"), atol=1e-6)
    assert result.r2 > 0.9 and result.val_scores[result.l2] == max(result.val_scores.values())


def test_ridge_probe_errors():
    x, y = regression_data(10, 0)
    with pytest.raises(ValueError, match=r"targets\['val'\]"):
        ridge_probe(*by_split((x, y), (x, y[:5]), (x, y)))
    with pytest.raises(ValueError, match=r"features\['train'\]"):
        ridge_probe(*by_split((x[0], y), (x, y), (x, y)))


# -- kNN -------------------------------------------------------------------------------------


def test_weighted_knn_by_hand():
    # cosines to the query (1, 0): 1 (class 0), 0.8 and 0.6 (class 1), 0 (class 2).
    bank = torch.tensor([[2.0, 0.0], [0.8, 0.6], [0.6, 0.8], [0.0, 3.0]])
    labels = torch.tensor([0, 1, 1, 2])
    query = torch.tensor([[5.0, 0.0]])
    # k = 3, T = 1: class 0 scores e^1 = 2.72 < class 1's e^0.8 + e^0.6 = 4.05.
    assert knn_predict(bank, labels, query, k=3, temperature=1.0).item() == 1
    # T = 0.07: e^(1/0.07) beats e^(0.8/0.07) + e^(0.6/0.07) by far.
    assert knn_predict(bank, labels, query, k=3, temperature=0.07).item() == 0
    # k = 4 adds class 2 with weight e^0: no change; k = 1 is nearest neighbour.
    assert knn_predict(bank, labels, query, k=4, temperature=1.0).item() == 1
    assert knn_predict(bank, labels, query, k=1, temperature=1.0).item() == 0
    assert knn_accuracy(bank, labels, torch.cat([query, query]), torch.tensor([1, 0]), k=3, temperature=1.0) == 0.5


def test_knn_matches_a_loop_reference_and_errors():
    train, test = blobs(200, spread=1.0, seed=0), blobs(50, spread=1.0, seed=1)
    bank = train[0].numpy() / np.linalg.norm(train[0].numpy(), axis=1, keepdims=True)
    expected = []
    for q in test[0].numpy():
        sim = bank @ (q / np.linalg.norm(q))
        top = np.argsort(-sim)[:5]
        scores = np.zeros(4)
        for j in top:
            scores[train[1][j]] += np.exp(sim[j] / 0.1)
        expected.append(scores.argmax())
    pred = knn_predict(*train, test[0], k=5, temperature=0.1, batch_size=7)
    assert pred.tolist() == expected
    with pytest.raises(ValueError, match="train_y"):
        knn_predict(train[0], train[1][:10], test[0])
    with pytest.raises(ValueError, match="train_y"):
        knn_predict(train[0], train[1], test[0], num_classes=2)
    with pytest.raises(ValueError, match="widths"):
        knn_predict(train[0], train[1], test[0][:, :2])


# -- few-shot --------------------------------------------------------------------------------


def test_interval_formula_by_hand():
    mean, half = mean_ci95([0.0, 1.0, 1.0, 1.0])
    assert mean == 0.75
    assert math.isclose(half, 1.96 * math.sqrt(0.1875) / 2)  # population std 0.433, n = 4
    with pytest.raises(ValueError, match="accuracies"):
        mean_ci95([])


def test_episodes_are_valid_and_seeded():
    labels = torch.arange(10).repeat_interleave(7)
    g = lambda: torch.Generator().manual_seed(5)
    index = sample_episodes(labels, ways=4, shots=2, queries=5, episodes=30, generator=g())
    assert index.shape == (30, 4, 7)
    for episode in index:
        classes = labels[episode]
        assert (classes == classes[:, :1]).all()            # one class per way
        assert classes[:, 0].unique().numel() == 4           # distinct classes
        assert episode.flatten().unique().numel() == 28      # no sample reused
    assert torch.equal(index, sample_episodes(labels, 4, 2, 5, 30, g()))
    with pytest.raises(ValueError, match="ways"):
        sample_episodes(labels, ways=4, shots=5, queries=5, episodes=3, generator=g())


def test_few_shot_separable_and_noisy():
    x, y = blobs(400, d=8, classes=8, spread=0.05, seed=0)
    table = few_shot_eval(x, y, ways=5, shots=(1, 5), queries=15, episodes=40)
    assert list(table.shots) == [1, 5] and (table.accuracy == 1.0).all() and (table.ci95 == 0).all()
    noisy = blobs(400, d=8, classes=8, spread=3.0, seed=0)
    acc = few_shot_accuracies(*noisy, ways=5, shots=1, queries=15, episodes=60, seed=1)
    mean, half = mean_ci95(acc.numpy())
    row = few_shot_eval(*noisy, shots=1, episodes=60, seed=1).iloc[0]
    assert math.isclose(row.accuracy, mean) and math.isclose(row.ci95, half)
    assert 0.2 < mean < 0.95 and half > 0  # above chance (0.2), below perfect
    with pytest.raises(ValueError, match="labels"):
        few_shot_accuracies(x, y[:-1])


def test_preconditioned_fit_survives_nearly_dead_features_and_huge_penalties():
    # Columns that are zero but for one sample (a nearly dead ReLU), warm-started down the fused
    # grid's strongest weights as notebook 07 does: the solver must stay finite (it overflowed).
    torch.manual_seed(0)
    x = torch.randn(1500, 24).relu() * torch.logspace(-3, 1, 24)
    x[:, :6] = 0
    x[0, 0], x[3, 6] = 1e-4, 1e-2
    y = torch.randint(0, 8, (1500,))
    init = None
    for l2 in (1e9, 1e6, 1e3, 1e-2):
        init = fit_logistic(x, y, 8, l2, init=init, objective="augself", max_iter=50)
        assert torch.isfinite(init[0]).all() and torch.isfinite(init[1]).all()
