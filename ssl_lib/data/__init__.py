"""Data for the library: synthetic scenes, invariance groups, real datasets, device loaders.

Public API (notebooks and tests build on these names):

* :func:`make_synthetic` -- seeded synthetic scenes with every latent factor as a label;
* :func:`make_groups` -- groups of renderings differing only in viewpoint or lighting;
* :func:`load_dataset` -- CIFAR-10/100, STL-10, the transfer benchmarks, any ImageFolder;
* :func:`sample_photos` -- real photographs bundled with scikit-image (no download);
* :class:`DeviceLoader`, :func:`make_loader`, :func:`to_float` -- batches on the device.
"""
from .latents import NUM_CLASSES, REGRESSION_TARGETS
from .shapes import SHAPE_NAMES
from .synthetic import make_synthetic

__all__ = ["NUM_CLASSES", "REGRESSION_TARGETS", "SHAPE_NAMES", "make_synthetic"]
