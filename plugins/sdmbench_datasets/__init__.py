"""Built-in datasets, all read through torchvision.

Each loader's module (and so torchvision, about 3 s to import on a 2-core CPU) is imported when a
dataset is first loaded, not when the plugin registers: ``sdmbench leaderboard`` or ``plugins``, and
a bad command line refused before any data is read, do not pay for it."""
import importlib

import sdmbench


def _later(module: str, loader: str, *args):
    """``module.loader`` (called with ``args`` first when given, as ``idx_factory(name)``), imported on
    first use."""
    def load(root=None, split="train", image_size=None):
        found = getattr(importlib.import_module(f"{__name__}.{module}"), loader)
        return (found(*args) if args else found)(root, split, image_size)
    return load


def idx_factory(name: str):
    return _later("idx", "idx_factory", name)


load_cifar10 = _later("cifar", "load_cifar10")
load_celeba = _later("celeba", "load_celeba")
load_lsun_bedroom = _later("lsun", "load_lsun_bedroom")


@sdmbench.hookimpl
def sdmbench_register_datasets(registry):
    registry.add("mnist", idx_factory("mnist"), description="MNIST digits, 28x28 gray (used at 32x32)")
    registry.add("fashion-mnist", idx_factory("fashion-mnist"),
                 description="Fashion-MNIST garments, 28x28 gray (used at 32x32)")
    registry.add("kmnist", idx_factory("kmnist"), description="Kuzushiji-MNIST, 28x28 gray (used at 32x32)")
    registry.add("emnist-letters", idx_factory("emnist-letters"),
                 description="EMNIST letters, 28x28 gray (used at 32x32)")
    registry.add("cifar10", load_cifar10, description="CIFAR-10, 32x32 RGB")
    registry.add("celeba", load_celeba, description="CelebA aligned faces, centre crop 140, 64x64 RGB")
    registry.add("lsun-bedroom", load_lsun_bedroom, description="LSUN bedroom (lmdb), 256x256 RGB")
