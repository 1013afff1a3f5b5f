"""Device batches: DeviceLoader and make_loader share one (images, labels) contract."""
import pytest
import torch

from ssl_lib.data import DeviceLoader, make_loader, make_synthetic, to_float, to_uint8


def test_to_float_and_back():
    u = torch.tensor([0, 1, 128, 255], dtype=torch.uint8)
    f = to_float(u)
    assert f.dtype == torch.float32 and torch.allclose(f, u.double().div(255).float())
    assert to_float(f) is f
    assert torch.equal(to_uint8(f), u)
    with pytest.raises(ValueError):
        to_float(torch.zeros(2, dtype=torch.int32))


def make_data(n=10):
    # image i is filled with the value i, so a batch tells which samples it holds
    images = torch.arange(n, dtype=torch.uint8)[:, None, None, None].expand(n, 3, 4, 4).contiguous()
    return images, torch.arange(n)


@pytest.mark.parametrize("drop_last, lengths", [(False, [4, 4, 2]), (True, [4, 4])])
def test_every_sample_once_per_epoch(drop_last, lengths):
    images, labels = make_data()
    loader = DeviceLoader(images, labels, batch_size=4, drop_last=drop_last, seed=0)
    assert len(loader) == len(lengths)
    batches = list(loader)
    assert [len(b[1]) for b in batches] == lengths
    seen = torch.cat([b[1] for b in batches])
    assert len(set(seen.tolist())) == len(seen) == sum(lengths)
    for x, y in batches:
        assert x.dtype == torch.uint8 and x.shape[1:] == (3, 4, 4) and y.dtype == torch.int64
        assert torch.equal(x[:, 0, 0, 0].long(), y)  # images stay paired with their labels


def test_shuffle_is_seeded_and_changes_between_epochs():
    images, labels = make_data(64)
    a, b = DeviceLoader(images, labels, 8, seed=1), DeviceLoader(images, labels, 8, seed=1)
    epoch_a1 = torch.cat([y for _, y in a])
    assert torch.equal(epoch_a1, torch.cat([y for _, y in b]))
    assert not torch.equal(epoch_a1, torch.cat([y for _, y in a]))
    assert not torch.equal(epoch_a1, torch.arange(64))
    plain = DeviceLoader(images, labels, 8, shuffle=False)
    assert torch.equal(torch.cat([y for _, y in plain]), torch.arange(64))


def test_synthetic_data_with_dict_labels_and_float_output():
    images, labels = make_synthetic(20, dtype=torch.uint8, seed=0)
    loader = DeviceLoader(images, labels, batch_size=8, dtype=torch.float32, shuffle=False)
    x, y = next(iter(loader))
    assert x.dtype == torch.float32 and 0 <= x.min() and x.max() <= 1
    assert torch.equal(x, to_float(images[:8]))
    assert set(y) == set(labels) and torch.equal(y["shape"], labels["shape"][:8])


def test_make_loader_contract_matches():
    images, labels = make_data(10)
    dataset = list(zip(images, labels.tolist()))
    loader = make_loader(dataset, batch_size=4, shuffle=False, dtype=torch.float32)
    assert len(loader) == 3
    x, y = next(iter(loader))
    assert x.shape == (4, 3, 4, 4) and x.dtype == torch.float32 and y.dtype == torch.int64
    assert torch.equal(x, to_float(images[:4])) and torch.equal(y, labels[:4])


def test_bad_arguments():
    images, labels = make_data()
    with pytest.raises(ValueError, match="batch_size"):
        DeviceLoader(images, labels, 0)
    with pytest.raises(ValueError, match="device"):
        DeviceLoader(images, labels, 2, device="gpu0")
    with pytest.raises(ValueError, match="labels"):
        DeviceLoader(images, labels[:5], 2)
    with pytest.raises(ValueError, match="images"):
        DeviceLoader(images[:, :1], labels, 2)
    with pytest.raises(ValueError, match="batch_size"):
        make_loader([], 0)
