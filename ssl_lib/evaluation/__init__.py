"""The instruments: what a frozen backbone's features know, and what they are invariant to.

    features      extract_features: a backbone over images, no gradients
    probes        linear_probe (logistic, L-BFGS) and ridge_probe (R^2) on train/val/test splits
    knn           the weighted cosine kNN of the training monitor
    few_shot      N-way K-shot episodes
    invariance    Ericsson et al.'s whitened-cosine invariance to transforms and real changes
    sensitivity   CASSLE's per-block sensitivity and the augmentation-parameter probe
    fusion        concatenating models with complementary invariances
    transfer      every probe on every synthetic task: the notebooks' transfer table
    downstream    the papers' real downstream datasets for linear evaluation
"""

from ssl_lib.evaluation.features import extract_features, module_device
from ssl_lib.evaluation.few_shot import few_shot_accuracies, few_shot_eval, mean_ci95, sample_episodes
from ssl_lib.evaluation.knn import knn_accuracy, knn_predict
from ssl_lib.evaluation.probes import (
    L2_GRID, ProbeResult, RegressionResult, fit_logistic, fit_ridge, linear_probe, r2_score, ridge_probe,
    standardize,
)

__all__ = [
    "L2_GRID", "ProbeResult", "RegressionResult", "extract_features", "few_shot_accuracies", "few_shot_eval",
    "fit_logistic", "fit_ridge", "knn_accuracy", "knn_predict", "linear_probe", "mean_ci95", "module_device",
    "r2_score", "ridge_probe", "sample_episodes", "standardize",
]
