"""Built-in datasets, all read through torchvision."""
import sdmbench

from .celeba import load_celeba
from .cifar import load_cifar10
from .idx import idx_factory
from .lsun import load_lsun_bedroom


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
