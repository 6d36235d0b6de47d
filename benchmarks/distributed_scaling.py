"""How `tlgan fit` and `tlgan train-extractor` scale over torchrun ranks (1 vs N).

    python benchmarks/distributed_scaling.py                          # CPU, 1 vs 2 ranks
    python benchmarks/distributed_scaling.py --ranks 1 2 4 --device cuda --samples 20000

Every run is a fresh `torchrun --standalone --nproc-per-node N` (one rank runs
without torchrun, with one torch thread as torchrun gives each rank). Reported:

- fit: samples/s of the sampling phase across all ranks (rank 0's report: from
  the first batch to the gathered pairs), and whether the axes file has the
  same sha256 for every rank count;
- train: images/s of the last training epoch across all ranks (from
  `--metrics-json`), on a synthetic CelebA of CelebA-sized JPEGs.

Start-up is left out of both. Each configuration runs `--repeats` times; the
best and the worst are printed (the development machine is shared).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]


def command(ranks: int, argv: list[str]) -> list[str]:
    if ranks == 1:
        return [sys.executable, "-m", "tlgan_tui", *argv]
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node",
            str(ranks), "-m", "tlgan_tui", *argv]


def run(ranks: int, argv: list[str], cwd: Path) -> str:
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    done = subprocess.run(command(ranks, argv), cwd=cwd, env=env, capture_output=True,
                          text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"{' '.join(command(ranks, argv))} failed:\n{done.stderr[-3000:]}")
    return done.stdout


def fit_rate(ranks: int, args: argparse.Namespace, cwd: Path) -> tuple[float, str]:
    out = Path("axes.safetensors")
    stdout = run(ranks, ["fit", "--samples", str(args.samples), "--batch-size",
                         str(args.fit_batch), "--device", args.device, "--sefa", "1",
                         "--rescore-faces", "4", "-o", str(out)], cwd)
    match = re.search(r"sampled \d+ faces in [\d.]+ s \((\d+)/s\)", stdout)
    if match is None:
        sys.exit(f"no sampling rate in the fit report:\n{stdout}")
    return float(match.group(1)), hashlib.sha256((cwd / out).read_bytes()).hexdigest()


def train_rate(ranks: int, args: argparse.Namespace, celeba: Path, cwd: Path) -> float:
    metrics = cwd / "metrics.json"
    run(ranks, ["train-extractor", "--celeba", str(celeba), "-o", str(cwd / "x.safetensors"),
                "--epochs", str(args.epochs), "--image-size", str(args.image_size),
                "--batch-size", str(args.train_batch), "--device", args.device,
                "--metrics-json", str(metrics)], cwd)
    history = json.loads(metrics.read_text())["metrics"]["history"]
    return float(history[-1]["images_per_s"])


def spread(values: list[float]) -> str:
    best = f"{max(values):.0f}"
    return best if len(values) == 1 else f"{best} (worst {min(values):.0f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--samples", type=int, default=3000)
    parser.add_argument("--fit-batch", type=int, default=100)
    parser.add_argument("--images", type=int, default=1024, help="synthetic CelebA images")
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--train-batch", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--skip-train", action="store_true")
    args = parser.parse_args()
    print(f"# {platform.platform()}; {os.cpu_count()} cpu cores; torch {torch.__version__}; "
          f"device {args.device}" + (f" ({torch.cuda.get_device_name()})"
                                     if args.device == "cuda" else ""))
    print(f"# fit: --samples {args.samples} --batch-size {args.fit_batch}, default "
          f"generator and extractors; train: {args.images} synthetic CelebA images "
          f"(178x218 JPEG), --image-size {args.image_size} --batch-size {args.train_batch} "
          f"(global), last of {args.epochs} epochs; one torch thread per rank; "
          f"best of {args.repeats}")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        fit: dict[int, list[float]] = {}
        digests: dict[int, set[str]] = {}
        for repeat in range(args.repeats):
            for ranks in args.ranks:
                cwd = root / f"fit-{ranks}-{repeat}"
                cwd.mkdir()
                rate, digest = fit_rate(ranks, args, cwd)
                fit.setdefault(ranks, []).append(rate)
                digests.setdefault(ranks, set()).add(digest)
        base = max(fit[args.ranks[0]])
        for ranks in args.ranks:
            print(f"fit   {ranks} rank(s): {spread(fit[ranks])} samples/s, "
                  f"{max(fit[ranks]) / base:.2f}x; axes sha256 {sorted(digests[ranks])[0][:16]}")
        same = len(set().union(*digests.values())) == 1
        print(f"fit   axes files identical across rank counts and repeats: {same}")
        if args.skip_train:
            return
        from tlgan_tui.engine.training.synthetic import write_synthetic_celeba

        celeba = root / "celeba"
        write_synthetic_celeba(celeba, n=args.images, width=178, split=(0.9, 0.05))
        train: dict[int, list[float]] = {}
        for repeat in range(args.repeats):
            for ranks in args.ranks:
                cwd = root / f"train-{ranks}-{repeat}"
                cwd.mkdir()
                train.setdefault(ranks, []).append(train_rate(ranks, args, celeba, cwd))
        base = max(train[args.ranks[0]])
        for ranks in args.ranks:
            print(f"train {ranks} rank(s): {spread(train[ranks])} images/s, "
                  f"{max(train[ranks]) / base:.2f}x")


if __name__ == "__main__":
    main()
