"""ANN-to-SNN conversion, the third route of *Spiking Diffusion Models*:
backbone ``qcfs-unet`` (an ANN U-Net with b-bit quantised clipped ReLUs), the
converter ``qcfs`` (each activation -> an IF neuron) and the model
``sdm-converted`` (train the ANN as a DDPM, convert to T = 2^b - 1 steps,
optionally fine-tune the SNN; see :mod:`.pipeline`). Its own settings are
``bits``, ``fine_tune`` and ``converter`` (``--set bits=3``)."""
import sdmbench
from sdmbench.plugin_api.model import ModelRecipe

from .converter import convert_qcfs
from .pipeline import ConversionPipeline, settle
from .qunet import make_qunet

#: the model's own settings (``--set bits=3 --set fine_tune=true --set converter=NAME``)
OPTIONS = dict(bits=2, converter="qcfs", fine_tune=False)
COMMON = dict(neuron="if")
# CPU presets start the clip at 2 instead of the paper's 6: GroupNorm'd inputs are about N(0, 1), and a
# 2-bit ReLU clipped at 6 maps most of them to 0 (quick preset, Fashion-MNIST: ANN FID 176 with 6, 137 with 2)
SMOKE = dict(COMMON, image_size=16, backbone=dict(ch=16, ch_mult=(1, 2), num_res_blocks=1, dropout=0.0,
                                                  alpha_init=2.0),
             train_steps=60, batch_size=32, lr=2e-3, ema_decay=0.99,
             stages={"finetune": dict(train_steps=10, lr=1e-4)},
             sampler="ddim", sample_steps=10, num_samples=128, sample_batch_size=128, reference_images=2000)
QUICK = dict(COMMON, image_size=32, backbone=dict(ch=32, ch_mult=(1, 2, 2), num_res_blocks=1, dropout=0.0,
                                                  alpha_init=2.0),
             train_steps=800, batch_size=32, lr=1e-3, ema_decay=0.995,
             stages={"finetune": dict(train_steps=100, lr=1e-4)},
             sampler="ddim", sample_steps=20, num_samples=1000, sample_batch_size=50, reference_images=10000,
             sample_every=200)
PAPER = dict(COMMON, image_size=None, backbone=dict(ch=128, ch_mult=(1, 2, 2, 2), num_res_blocks=2, dropout=0.1),
             train_steps=500_000, batch_size=128, lr=2e-4, ema_decay=0.9999,
             stages={"finetune": dict(train_steps=20_000, lr=1e-5)},
             sampler="ddpm", sample_steps=1000, num_samples=50_000, sample_batch_size=500,
             extractor="inception", reference_images=50_000, sample_every=10_000)
PRESETS = {"smoke": SMOKE, "quick": QUICK, "paper": PAPER}


@sdmbench.hookimpl
def sdmbench_register_backbones(registry):
    registry.add("qcfs-unet", make_qunet,
                 description="ANN U-Net with b-bit quantised clipped ReLUs and GroupNorm, convertible to IF")


@sdmbench.hookimpl
def sdmbench_register_converters(registry):
    registry.add("qcfs", convert_qcfs,
                 description="quantised clipped ReLU -> IF neuron: threshold alpha, v0 = alpha/2, reset by "
                             "subtraction")


@sdmbench.hookimpl
def sdmbench_register_models(registry):
    registry.add("sdm-converted",
                 lambda: ModelRecipe("qcfs-unet", "ddpm", PRESETS, spiking=True, pipeline=ConversionPipeline,
                                     options=OPTIONS, settle=settle),
                 description="ANN-to-SNN conversion of SDM: quantised-ReLU U-Net -> IF neurons, T = 2^bits - 1")
