"""Speed of the bring-your-own generators: latency, throughput, fit rate, cold start.

Builds the full-size architectures with random weights (speed does not depend
on the values): pg-GAN 1024 (CelebA-HQ layout) and StyleGAN2 256/512/1024
(config-f channels), and measures on the chosen device:

- single-image latency (median over repeats), fp32 and fp16 (fp16 on CUDA only);
- key-to-frame: one edit step in numpy -> forward -> uint8 on the CPU -> PIL
  image resized to the 384 px a terminal view shows (what the app does per key);
- batch throughput (images/s) at `auto_batch_size`;
- fit throughput (samples/s) through `sample_pairs` with the default extractors,
  and the time that rate gives for 30,000 pairs;
- the shipped FFHQ MobileStyleGAN: batch-1 latency and batch-64 throughput at
  1024 and 256 px (its preview), fp32 and fp16;
- cold start (fresh processes): the embedded default generator vs a StyleGAN2
  checkpoint loaded from its safetensors conversion cache.

    python benchmarks/gpu_generators.py            # full sizes (meant for a GPU)
    python benchmarks/gpu_generators.py --quick    # small sizes, runs on a CPU
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch

from tlgan_tui.engine.device import resolve_device
from tlgan_tui.engine.generators.base import Generator, to_uint8
from tlgan_tui.engine.generators.batching import auto_batch_size
from tlgan_tui.engine.generators.pggan import PGGANConfig, PGGANGenerator, PGGANNetwork
from tlgan_tui.engine.generators.stylegan2 import (
    MappingNetwork,
    StyleGAN2Config,
    StyleGAN2Generator,
    SynthesisNetwork,
)

FIT_TARGET_PAIRS = 30_000
VIEW_PX = 384


def pggan_config(resolution: int, shrink: int = 1) -> PGGANConfig:
    channels = tuple(max(8, min(512, 16384 // r) // shrink)
                     for r in _resolutions(resolution))
    return PGGANConfig(resolution=resolution, latent_dim=512 // shrink, channels=channels)


def stylegan2_config(resolution: int, shrink: int = 1) -> StyleGAN2Config:
    channels = tuple(max(8, min(512, 32768 // r) // shrink)
                     for r in _resolutions(resolution))
    return StyleGAN2Config(resolution=resolution, z_dim=512 // shrink, w_dim=512 // shrink,
                           mapping_layers=8, channels=channels, conv_clamp=256.0)


def _resolutions(resolution: int) -> list[int]:
    out = [4]
    while out[-1] < resolution:
        out.append(out[-1] * 2)
    return out


def random_pggan(config: PGGANConfig, device: torch.device, dtype: torch.dtype) -> Generator:
    torch.manual_seed(0)
    state = PGGANNetwork(config).state_dict()
    return PGGANGenerator(config, state, "0" * 64, device, dtype, f"pg-GAN-{config.resolution}")


def random_stylegan2(config: StyleGAN2Config, device: torch.device,
                     dtype: torch.dtype) -> Generator:
    torch.manual_seed(0)
    state = {f"mapping.{k}": v for k, v in MappingNetwork(config).state_dict().items()}
    state.update({f"synthesis.{k}": v for k, v in SynthesisNetwork(config).state_dict().items()})
    for name, value in state.items():
        if name.endswith("affine.bias"):
            value.fill_(1.0)
        elif name.endswith((".weight", "const")) and "affine" not in name \
                and not name.startswith("mapping."):
            value.normal_()
        elif name.endswith(".noise"):
            value.normal_(0, 0.1)
    return StyleGAN2Generator(config, state, "0" * 64, device, dtype,
                              f"StyleGAN2-{config.resolution}")


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _median_ms(fn: Callable[[], object], device: torch.device, repeats: int,
               warmup: int = 3) -> float:
    for _ in range(warmup):
        fn()
    _sync(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        _sync(device)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def measure(generator: Generator, repeats: int, fit_samples: int,
            extractors: object | None) -> dict[str, float]:
    device = generator.device
    latent = torch.from_numpy(generator.latent_for_seed(0)[None]).to(device)
    row: dict[str, float] = {}
    with torch.inference_mode():
        row["single_ms"] = _median_ms(lambda: generator.forward(latent), device, repeats)

    edit = generator.latent_for_seed(0)
    axis = np.random.default_rng(1).standard_normal(generator.latent_dim).astype(np.float32)
    axis /= np.linalg.norm(axis)

    def key_to_frame() -> None:
        nonlocal edit
        edit = edit + 0.4 * axis
        generator.render(edit).resize((VIEW_PX, VIEW_PX))

    row["key_to_frame_ms"] = _median_ms(key_to_frame, device, repeats)

    batch = auto_batch_size(generator)
    if device.type == "cpu":
        batch = min(batch, 16)
    latents = torch.from_numpy(generator.sample(batch, 1)).to(device)
    with torch.inference_mode():
        batch_ms = _median_ms(lambda: to_uint8(generator.forward(latents).float().cpu()),
                              device, max(2, repeats // 5), warmup=1)
    row["batch"] = batch
    row["images_per_s"] = batch / (batch_ms / 1000)

    if extractors is not None and fit_samples > 0:
        row.update(measure_fit(generator, extractors, fit_samples, batch))
    return row


def measure_fit(generator: Generator, extractors: object, samples: int,
                batch: int) -> dict[str, float]:
    """Pairs per second the way `tlgan fit` samples them (scoring processes beside a GPU)."""
    from tlgan_tui.cli.fit import default_workers
    from tlgan_tui.engine.extractors.parallel import ParallelScorer
    from tlgan_tui.engine.sampling import sample_pairs

    workers = default_workers(generator)
    scorer = ParallelScorer(workers) if workers else None
    try:
        sample_pairs(generator, extractors, min(batch, samples), 0, batch,  # type: ignore[arg-type]
                     scorer=scorer)  # warm up (and start the workers)
        _sync(generator.device)
        start = time.perf_counter()
        sample_pairs(generator, extractors, samples, 1, batch, scorer=scorer)  # type: ignore[arg-type]
        _sync(generator.device)
        rate = samples / (time.perf_counter() - start)
    finally:
        if scorer is not None:
            scorer.close()
    return {"fit_per_s": rate, "fit_30k_s": FIT_TARGET_PAIRS / rate, "workers": workers}


def ffhq_rows(device: torch.device, precisions: list[torch.dtype], quick: bool,
              repeats: int) -> None:
    """The shipped FFHQ MobileStyleGAN: batch-1 latency and batch-64 throughput.

    At 1024 px (full) and 256 px (its preview); --quick: 128-px preview, batch 2.
    """
    from tlgan_tui.engine.generators.loading import load_generator
    from tlgan_tui.engine.paths import shipped_generator

    shipped = shipped_generator("ffhq")
    assert shipped is not None
    sizes = (128,) if quick else (1024, 256)
    batch = 2 if quick else 64
    print("\nFFHQ MobileStyleGAN (shipped weights):")
    print("| size | precision | batch 1 (ms) | batch | images/s |")
    print("|---|---|---:|---:|---:|")
    for dtype in precisions:
        precision = "fp16" if dtype == torch.float16 else "fp32"
        generator = load_generator(shipped.weights_path, device, precision=precision)
        for size in sizes:
            single, per_s = _ffhq_row(generator, size, batch, repeats)
            print(f"| {size} | {precision} | {single:.1f} | {batch} | {per_s:.1f} |",
                  flush=True)
        del generator
        if device.type == "cuda":
            torch.cuda.empty_cache()


def _ffhq_row(generator: Generator, size: int, batch: int, repeats: int
              ) -> tuple[float, float]:
    """(batch-1 median ms, images/s at `batch`) at one of the generator's sizes."""
    device = generator.device
    one = torch.from_numpy(generator.latent_for_seed(0)[None]).to(device)
    many = torch.from_numpy(generator.sample(batch, 1)).to(device)
    with torch.inference_mode():
        single = _median_ms(lambda: generator.forward_at(one, size), device, repeats)
        batch_ms = _median_ms(lambda: to_uint8(generator.forward_at(many, size)),
                              device, max(2, repeats // 5), warmup=1)
    return single, batch / (batch_ms / 1000)


# --- cold start ------------------------------------------------------------------------


def write_random_rosinality(path: Path, config: StyleGAN2Config) -> None:
    """A rosinality-layout checkpoint with random weights (shapes only matter here)."""
    gen = torch.Generator().manual_seed(0)

    def randn(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=gen)

    w = config.w_dim
    sd: dict[str, torch.Tensor] = {}
    for i in range(1, config.mapping_layers + 1):
        sd[f"style.{i}.weight"] = randn(w, w if i > 1 else config.z_dim) * 100
        sd[f"style.{i}.bias"] = torch.zeros(w)
    ch = config.channels
    sd["input.input"] = randn(1, ch[0], 4, 4)

    def styled(prefix: str, c_in: int, c_out: int, noise: int, res: int) -> None:
        sd[f"{prefix}.conv.weight"] = randn(1, c_out, c_in, 3, 3)
        sd[f"{prefix}.conv.modulation.weight"] = randn(c_in, w)
        sd[f"{prefix}.conv.modulation.bias"] = torch.ones(c_in)
        sd[f"{prefix}.noise.weight"] = torch.zeros(1)
        sd[f"{prefix}.activate.bias"] = torch.zeros(c_out)
        sd[f"noises.noise_{noise}"] = randn(1, 1, res, res)

    def to_rgb(prefix: str, c_in: int) -> None:
        sd[f"{prefix}.conv.weight"] = randn(1, 3, c_in, 1, 1)
        sd[f"{prefix}.conv.modulation.weight"] = randn(c_in, w)
        sd[f"{prefix}.conv.modulation.bias"] = torch.ones(c_in)
        sd[f"{prefix}.bias"] = torch.zeros(1, 3, 1, 1)

    styled("conv1", ch[0], ch[0], 0, 4)
    to_rgb("to_rgb1", ch[0])
    for i in range(1, len(ch)):
        res = 4 * 2**i
        styled(f"convs.{2 * i - 2}", ch[i - 1], ch[i], 2 * i - 1, res)
        styled(f"convs.{2 * i - 1}", ch[i], ch[i], 2 * i, res)
        to_rgb(f"to_rgbs.{i - 1}", ch[i])
    torch.save({"g_ema": sd, "latent_avg": torch.zeros(w)}, path)


_START = (
    "import time, sys; t0 = time.perf_counter(); "
    "import torch; from tlgan_tui.engine.generators.loading import load_generator; "
    "t1 = time.perf_counter(); "
    "g = load_generator(sys.argv[1] if len(sys.argv) > 1 else None, torch.device('cpu')); "
    "t2 = time.perf_counter(); g.render(g.latent_for_seed(0)); t3 = time.perf_counter(); "
    "print(t1 - t0, t2 - t1, t3 - t2)"
)


def _start_seconds(args: list[str], env: dict[str, str]) -> tuple[float, float, float, float]:
    """A fresh process: (wall total, imports, load, first frame) in seconds."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", _START, *args], check=True, env=env,
                          capture_output=True, text=True)
    total = time.perf_counter() - start
    imports, load, frame = (float(x) for x in done.stdout.split())
    return total, imports, load, frame


def _median_runs(args: list[str], env: dict[str, str], repeats: int
                 ) -> tuple[float, float, float, float]:
    runs = [_start_seconds(args, env) for _ in range(repeats)]
    return tuple(statistics.median(r[i] for r in runs) for i in range(4))  # type: ignore[return-value]


def cold_start(resolution: int, shrink: int, repeats: int = 3) -> dict[str, tuple]:
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "stylegan2.pt"
        write_random_rosinality(source, stylegan2_config(resolution, shrink))
        env = {**os.environ, "TLGAN_CACHE_DIR": str(Path(tmp) / "cache")}
        first = _start_seconds([str(source)], env)
        default = _median_runs([], env, repeats)
        cached = _median_runs([str(source)], env, repeats)
        return {"default": default, "first": first, "cached": cached,
                "source_mb": (source.stat().st_size / 1e6,)}


# --- main -------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="small sizes and channel counts (a CPU check of the script)")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--fit-samples", type=int, default=None,
                        help="pairs sampled to time fitting (0 skips; default 2048 / quick 32)")
    parser.add_argument("--no-cold-start", action="store_true")
    parser.add_argument("--no-ffhq", action="store_true", help="skip the shipped FFHQ rows")
    parser.add_argument("--cold-start-only", action="store_true",
                        help="only the cold-start comparison")
    parser.add_argument("--cold-resolution", type=int, default=None,
                        help="StyleGAN2 size for the cold start (default 1024; quick 256)")
    args = parser.parse_args(argv)

    device = resolve_device(args.device)
    shrink = 8 if args.quick else 1
    repeats = args.repeats or (5 if args.quick else 50)
    fit_samples = args.fit_samples if args.fit_samples is not None else (
        32 if args.quick else 2048)
    models: list[tuple[str, Callable[[torch.dtype], Generator]]]
    if args.quick:
        models = [
            ("pg-GAN 64 (1/8 ch)", lambda dt: random_pggan(pggan_config(64, shrink), device, dt)),
            ("StyleGAN2 64 (1/8 ch)",
             lambda dt: random_stylegan2(stylegan2_config(64, shrink), device, dt)),
            ("StyleGAN2 128 (1/8 ch)",
             lambda dt: random_stylegan2(stylegan2_config(128, shrink), device, dt)),
        ]
    else:
        models = [
            ("pg-GAN 1024", lambda dt: random_pggan(pggan_config(1024), device, dt)),
            ("StyleGAN2 256", lambda dt: random_stylegan2(stylegan2_config(256), device, dt)),
            ("StyleGAN2 512", lambda dt: random_stylegan2(stylegan2_config(512), device, dt)),
            ("StyleGAN2 1024", lambda dt: random_stylegan2(stylegan2_config(1024), device, dt)),
        ]
    if args.cold_start_only:
        models = []
    precisions = [torch.float32] + ([torch.float16] if device.type == "cuda" else [])

    extractors = None
    if fit_samples > 0 and models:
        from tlgan_tui.engine.extractors.defaults import load_extractors

        extractors = load_extractors()

    name = torch.cuda.get_device_name(device) if device.type == "cuda" else \
        f"CPU ({torch.get_num_threads()} threads)"
    print(f"device: {name}; torch {torch.__version__}; repeats {repeats}; "
          f"fit samples {fit_samples}\n")
    print("| model | precision | single image (ms) | key-to-frame (ms) | batch | images/s "
          "| fit pairs/s | 30k pairs (s) |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for label, build in models:
        for dtype in precisions:
            generator = build(dtype)
            row = measure(generator, repeats, fit_samples, extractors)
            fit = (f"{row['fit_per_s']:.0f} | {row['fit_30k_s']:.0f}" if "fit_per_s" in row
                   else "- | -")
            precision = "fp16" if dtype == torch.float16 else "fp32"
            print(f"| {label} | {precision} | {row['single_ms']:.1f} | "
                  f"{row['key_to_frame_ms']:.1f} | {row['batch']:.0f} | "
                  f"{row['images_per_s']:.1f} | {fit} |", flush=True)
            del generator
            if device.type == "cuda":
                torch.cuda.empty_cache()

    if not args.no_ffhq and not args.cold_start_only:
        ffhq_rows(device, precisions, args.quick, repeats)
    if fit_samples > 0 and models:
        from tlgan_tui.cli.fit import default_workers

        print(f"\nfit: {fit_samples} pairs through `sample_pairs` as `tlgan fit` runs it "
              f"({default_workers(SimpleNamespace(device=device))} scoring processes), batch from "
              "`auto_batch_size`; 30k pairs = that rate extrapolated")
    if not args.no_cold_start:
        resolution = args.cold_resolution or (256 if args.quick else 1024)
        result = cold_start(resolution, shrink)
        print(f"\ncold start (fresh process on the CPU; median of 3), "
              f"StyleGAN2-{resolution}{' (1/8 ch)' if args.quick else ''} "
              f"rosinality .pt of {result['source_mb'][0]:.0f} MB:")
        print("| start | process wall (s) | imports (s) | load (s) | first frame (s) |")
        print("|---|---:|---:|---:|---:|")
        for label, key in (("default DCGAN-64", "default"),
                           ("StyleGAN2, first start (convert + cache)", "first"),
                           ("StyleGAN2, cached safetensors", "cached")):
            total, imports, load, frame = result[key]
            print(f"| {label} | {total:.2f} | {imports:.2f} | {load:.2f} | {frame:.2f} |")
        ratio = result["cached"][0] / result["default"][0]
        ready = (result["cached"][0] - result["cached"][3]) / \
            (result["default"][0] - result["default"][3])
        print(f"\ncached / default: {ratio:.2f}x to the first frame, "
              f"{ready:.2f}x to a loaded generator")
    return 0


if __name__ == "__main__":
    sys.exit(main())
