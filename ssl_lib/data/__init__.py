"""Data for the library: synthetic scenes, invariance groups, real datasets, device loaders.

Public API (notebooks and tests build on these names):

* :func:`make_synthetic` -- seeded synthetic scenes with every latent factor as a label
  (label keys and meanings, and the registered designs :data:`SCENES`: :mod:`ssl_lib.data.latents`);
* :func:`make_groups` -- groups of renderings differing only in viewpoint or lighting;
* :func:`load_dataset` -- CIFAR-10/100, STL-10, the transfer benchmarks, any ImageFolder;
* :func:`sample_photos` -- real photographs bundled with scikit-image (no download);
* :class:`DeviceLoader`, :func:`make_loader`, :func:`to_float` -- batches on the device.
"""
from .datasets import DatasetNotFoundError, load_dataset
from .groups import make_groups
from .latents import DEFAULT_SCENE, NUM_CLASSES, REGRESSION_TARGETS, SCENES, SceneDesign, get_scene
from .loaders import DeviceLoader, make_loader, spread_indices, to_float, to_uint8
from .photos import sample_photos
from .shapes import SHAPE_NAMES
from .synthetic import make_synthetic

__all__ = [
    "DEFAULT_SCENE",
    "DatasetNotFoundError",
    "DeviceLoader",
    "NUM_CLASSES",
    "REGRESSION_TARGETS",
    "SCENES",
    "SHAPE_NAMES",
    "SceneDesign",
    "get_scene",
    "load_dataset",
    "make_groups",
    "make_loader",
    "make_synthetic",
    "sample_photos",
    "to_float",
    "to_uint8",
]
