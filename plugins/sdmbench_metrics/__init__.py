"""Built-in metrics (``fid``, ``kid``, ``prc``, ``energy``) and feature
extractors (``classifier``, ``inception``)."""
import sdmbench

from .classifier import make_classifier, make_resnet_classifier
from .energy import Energy
from .fid import FID
from .inception import make_inception
from .kid import KID
from .prc import PrecisionRecall


@sdmbench.hookimpl
def sdmbench_register_metrics(registry):
    registry.add("fid", FID, default=True,
                 description="Frechet distance through the protocol's feature extractor (torch-fidelity)")
    registry.add("kid", KID, default=True,
                 description="kernel inception distance, mean and std over subsets (torch-fidelity; unbiased)")
    registry.add("prc", PrecisionRecall, default=True,
                 description="improved precision and recall, k = 3, equal set sizes (torch-fidelity)")
    registry.add("energy", Energy, default=True,
                 description="operations and memory accesses counted over every sampling batch, priced by every "
                             "energy model; firing rates")


@sdmbench.hookimpl
def sdmbench_register_commands(app):
    from .extractor_cli import register

    register(app)


@sdmbench.hookimpl
def sdmbench_register_extractors(registry):
    registry.add("classifier-resnet", make_resnet_classifier, default=True,
                 description="small pre-activation ResNet trained once per dataset, shipped pinned (SHA-256 "
                             "checked); works offline; separates the board's entries best (docs/extractors.md)")
    registry.add("classifier", make_classifier,
                 description="a second view, 4x cheaper: small CNN (seed 0), shipped pinned like classifier-resnet")
    registry.add("inception", make_inception,
                 description="torch-fidelity InceptionV3 (TF-FID weights): the standard FID")
