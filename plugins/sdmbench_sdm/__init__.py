"""The SDDPM / SDM spiking U-Net (backbone ``sdm-unet``), the model ``sdm``
(spiking U-Net + DDPM), its ANN twin ``sdm-ann`` (the same U-Net with Swish,
T = 1; formerly ``ddpm``, still accepted), and two commands: ``sdmbench import
sddpm`` and ``sdmbench sweep-threshold`` (SDM's threshold guidance)."""
import sdmbench
from sdmbench.plugin_api.model import ModelRecipe

from .unet import make_unet

SMOKE = dict(image_size=16, backbone=dict(ch=16, ch_mult=(1, 2), num_res_blocks=1, dropout=0.0),
             T=4, train_steps=60, batch_size=32, lr=2e-3, ema_decay=0.99,
             sampler="ddim", sample_steps=10, num_samples=128, sample_batch_size=128,
             reference_images=2000)
# quick: mixed precision (bf16 convolutions, float32 membranes) buys 1.4x (SNN) / 1.5x (ANN) more steps
# per minute on CPU; each model has the better learning rate of a 1e-3 / 3e-3 trial (Fashion-MNIST,
# 800 steps: ANN FID 30.6 at 1e-3, 45.0 at 3e-3; sdm/if at 400 steps matches its 800-step 1e-3 loss
# with 3e-3 and 6e-3). Batch 16 x 2000 steps sees the same images as 32 x 1000 in the same time:
# the ANN gains (FID 26.9 -> 20.8) and takes it; sdm does not (if 91.1 -> 82.0, tsm 82.1 -> 91.4,
# if at 8 x 4000: 98.5) and keeps 32 x 1000. N = 1000 samples: the smallest N at which KID's bootstrap sd is
# under 10% of KID for both sdm-ann and sdm/tsm and FID is within 1.4 of its N = 5000 value (README,
# "How many samples"); it adds about 80 s of sampling to a 13-minute sdm run.
QUICK = dict(image_size=32, backbone=dict(ch=32, ch_mult=(1, 2, 2), num_res_blocks=1, dropout=0.0),
             T=4, train_steps=2000, batch_size=16, lr=1e-3, ema_decay=0.995, precision="bf16",
             sampler="ddim", sample_steps=20, num_samples=1000, sample_batch_size=50,
             reference_images=10000, sample_every=500)
PAPER = dict(image_size=None, backbone=dict(ch=128, ch_mult=(1, 2, 2, 4), num_res_blocks=2, dropout=0.1),
             T=4, train_steps=500_000, batch_size=128, lr=2e-4, ema_decay=0.9999,
             sampler="ddpm", sample_steps=1000, num_samples=50_000, sample_batch_size=500,
             extractor="inception", reference_images=50_000, sample_every=10_000)
PRESETS = {"smoke": SMOKE, "quick": QUICK, "paper": PAPER}
SPIKING_PRESETS = {"smoke": dict(SMOKE, neuron="if"),
                   "quick": dict(QUICK, neuron="if", train_steps=1000, batch_size=32, lr=3e-3, sample_every=250),
                   "paper": dict(PAPER, neuron="if")}


@sdmbench.hookimpl
def sdmbench_register_backbones(registry):
    registry.add("sdm-unet", make_unet,
                 description="spiking U-Net of SDDPM/SDM: pre-spike residual blocks, membrane readout")


@sdmbench.hookimpl
def sdmbench_register_models(registry):
    registry.add("sdm", lambda: ModelRecipe("sdm-unet", "ddpm", SPIKING_PRESETS, spiking=True), default=True,
                 description="Spiking Diffusion Model: spiking U-Net trained as a DDPM (Cao et al. 2024)")
    registry.add("sdm-ann", lambda: ModelRecipe("sdm-unet", "ddpm", PRESETS, spiking=False),
                 description="ANN twin of sdm: the same U-Net with Swish instead of neurons, T = 1")
    registry.alias("ddpm", "sdm-ann")  # its name until sdmbench 0.2: old records and run folders keep working


@sdmbench.hookimpl
def sdmbench_register_commands(app):
    from . import importer, threshold_guidance

    importer.register(app)
    threshold_guidance.register(app)
