"""Which kernels the 8-bit export's error comes from: image PSNR against float32 with one kernel group changed.

    .venv/bin/python bench/quantization_sensitivity.py [--weights CKPT] [--size 128] [--pairs 4]

Runs in TensorFlow only: model.export.per_channel_model computes exactly what the uint8-per-channel TF.js
export computes (bench/quantization.py measures the export itself in TF.js). For each group of kernels it
prints the PSNR when that group alone is quantized ("alone"), and when the shipped scheme is used except that
group stays float32 ("spared"), with the bytes the group costs at 8 bits and at float16. A group whose
"spared" figure rises most is where extra bits buy the most quality per byte. Inputs as bench/quantization.py.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.quantization import PAIRS, inputs  # noqa: E402
from model.architecture import encoder_layers  # noqa: E402
from model.export import PER_CHANNEL_MIN_SIZE, encoder_keys, per_channel_model  # noqa: E402
from model.sanet_tf import from_torch  # noqa: E402
from model.tfjs_check import pad_nhwc, psnr  # noqa: E402
from model.weights import load_checkpoint  # noqa: E402

GROUPS = {   # kernels by role: encoder convs by name, the rest by key (as in SANetTF.named_convs).
    # conv1_1 and the input transform are small enough to stay float32; conv1_2..conv3_1 ship as float16;
    # conv4_2..conv5_1 use the finer groups (export.relu5_1_path). VGG-19 has conv3_4 and conv4_4 too.
    "encoder conv3_2 to block 3 end": ("conv3_2", "conv3_3", "conv3_4"),
    "encoder conv4_1": ("conv4_1",),
    "encoder conv4_2..conv5_1": ("conv4_2", "conv4_3", "conv4_4", "conv5_1"),
    "attention f, g (relu4_1)": ("transform.sanet4_1.f", "transform.sanet4_1.g"),
    "attention f, g (relu5_1)": ("transform.sanet5_1.f", "transform.sanet5_1.g"),
    "attention h, out (both)": ("transform.sanet4_1.h", "transform.sanet4_1.out_conv",
                                "transform.sanet5_1.h", "transform.sanet5_1.out_conv"),
    "merge conv": ("transform.merge_conv",),
    "decoder": None,   # every decoder kernel
}


def image(model, content, style, iterations):
    return model.stylize_padded(content, style, iterations).numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--weights", default=str(ROOT / "model" / "checkpoints" / "sanet-vgg16-init.safetensors"))
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--iterations", type=int, default=1)
    parser.add_argument("--pairs", type=int, default=len(PAIRS), choices=range(1, len(PAIRS) + 1))
    args = parser.parse_args()

    model, meta = load_checkpoint(args.weights)
    reference_model = from_torch(model)
    convs = reference_model.named_convs()
    big = [k for k, c in convs.items() if c.kernel.shape.num_elements() >= PER_CHANNEL_MIN_SIZE]
    names = {l.name for l in encoder_layers(model.encoder_name)}

    def keys_of(group):
        if group is None:   # every decoder kernel
            return tuple(k for k in big if k.startswith("decoder."))
        if group[0].startswith("transform."):
            return group
        return encoder_keys(model.encoder_name, tuple(n for n in group if n in names))

    groups = {name: keys_of(group) for name, group in GROUPS.items()}
    unknown = [k for keys in groups.values() for k in keys if k not in convs]
    assert not unknown, f"no such kernels: {unknown}"

    cases = []
    for index in PAIRS[:args.pairs]:
        c, s, _ = inputs(args.size, index)
        c, s = pad_nhwc(c), pad_nhwc(s)
        cases.append((c, s, image(reference_model, c, s, args.iterations)))

    def scores(m) -> list[float]:
        return [psnr(image(m, c, s, args.iterations), ref) for c, s, ref in cases]

    fmt = lambda xs: " ".join(f"{x:5.1f}" for x in xs)  # noqa: E731
    print(f"weights: {args.weights} ({'trained' if meta.get('trained') else 'UNTRAINED'}); {len(cases)} pair(s) "
          f"at {args.size} px; image PSNR dB against float32 per pair")
    print(f"{'shipped uint8-per-channel':<31} {'':>16} {fmt(scores(per_channel_model(reference_model)))}")
    print(f"{'group':<31} {'8-bit/fp16 MB':>16} {'alone':>{6 * len(cases)}}   spared")
    for name, keys in groups.items():
        n = sum(convs[k].kernel.shape.num_elements() for k in keys)
        others = tuple(k for k in big if k not in keys)
        alone = per_channel_model(reference_model, float32=others)
        spared = per_channel_model(reference_model, float32=keys)
        print(f"{name:<31} {n / 1e6:7.2f}/{2 * n / 1e6:<7.2f}  {fmt(scores(alone))}   {fmt(scores(spared))}")


if __name__ == "__main__":
    main()
