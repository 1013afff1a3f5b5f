"""Dataset files that are corrupted or unverified pickles: said so, not "not found" or silence."""

import pickle

import pytest

from ssl_lib.data import DatasetNotFoundError, load_dataset
from ssl_lib.data.datasets import UnverifiedPickleWarning
from tests.data.test_datasets import write_atomic, write_cifar

BATCHES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]


def cifar10(root, rng_seed=0):
    import numpy as np

    return write_cifar(root, "cifar-10-batches-py", BATCHES, "labels", "batches.meta", "label_names", 10,
                       np.random.default_rng(rng_seed))


def test_a_file_failing_its_md5_is_reported_corrupted_not_missing(tmp_path):
    cifar10(tmp_path)
    with pytest.raises(DatasetNotFoundError) as info:
        load_dataset("cifar10", tmp_path, "train")
    message = str(info.value)
    assert "corrupted" in message and "not found" not in message and str(tmp_path) in message


def test_a_cut_short_pickle_is_reported_corrupted(tmp_path):
    cifar10(tmp_path)
    path = tmp_path / "cifar-10-batches-py" / "data_batch_2"
    write_atomic(path, path.read_bytes()[:100])
    with pytest.warns(UnverifiedPickleWarning), pytest.raises(DatasetNotFoundError, match="corrupted"):
        load_dataset("cifar10", tmp_path, "train", verify=False)


def test_unverified_pickled_datasets_warn_that_reading_runs_code(tmp_path):
    cifar10(tmp_path)
    with pytest.warns(UnverifiedPickleWarning, match="runs code"):
        load_dataset("cifar10", tmp_path, "test", verify=False)


def test_a_hostile_pickle_is_refused_by_the_md5_check_before_it_is_read(tmp_path):
    cifar10(tmp_path)

    class Payload:
        def __reduce__(self):
            return (open, (str(tmp_path / "pwned"), "w"))

    write_atomic(tmp_path / "cifar-10-batches-py" / "test_batch", pickle.dumps(Payload()))
    with pytest.raises(DatasetNotFoundError, match="corrupted"):
        load_dataset("cifar10", tmp_path, "test")
    assert not (tmp_path / "pwned").exists()
