"""Training throughput of the CelebA extractor, and the time one real epoch would take.

Writes a synthetic data set in CelebA's layout at CelebA's real image size
(178x218 JPEG, so decoding costs what it costs on the real files), then measures:

- decode: images/s of one process reading + cropping + resizing (the data loader's work);
- compute: images/s of training steps on ready-made batches (network, loss, optimizer,
  mixed precision on CUDA), no data loading;
- pipeline: images/s of `train_extractor` end to end (workers decoding while training),
  on the last of `--epochs` epochs, so start-up costs are left out;

and projects the time of one epoch of CelebA's 162,770 training images from the pipeline
figure. Run:

    python benchmarks/train_extractor_throughput.py                      # CPU or CUDA
    python benchmarks/train_extractor_throughput.py --device cuda --images 8192 --workers 12
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from tlgan_tui.engine.device import resolve_device
from tlgan_tui.engine.extractors.celeba import DEFAULT_MEAN, DEFAULT_STD, AttributeNet
from tlgan_tui.engine.training.celeba_data import load_face, read_celeba
from tlgan_tui.engine.training.synthetic import write_synthetic_celeba
from tlgan_tui.engine.training.train import TrainConfig, default_workers, train_extractor

CELEBA_TRAIN_IMAGES = 162_770


def measure_decode(root: Path, size: int, count: int) -> float:
    index = read_celeba(root, check_images=False)
    names = index.files[:count]
    start = time.perf_counter()
    for name in names:
        load_face(index.image_dir / name, size)
    return len(names) / (time.perf_counter() - start)


def measure_compute(device: torch.device, size: int, batch: int, width: float,
                    steps: int) -> float:
    net = AttributeNet(width=width).to(device)
    cuda = device.type == "cuda"
    amp = (torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16) if cuda else None
    scaler = torch.amp.GradScaler("cuda") if amp == torch.float16 else None
    if cuda:
        net = net.to(memory_format=torch.channels_last)
        torch.backends.cudnn.benchmark = True
    optimizer = torch.optim.AdamW(net.parameters(), lr=1e-3)
    mean = torch.tensor(DEFAULT_MEAN, device=device).view(1, 3, 1, 1)
    std = torch.tensor(DEFAULT_STD, device=device).view(1, 3, 1, 1)
    images = torch.randint(0, 256, (batch, 3, size, size), dtype=torch.uint8, device=device)
    labels = torch.randint(0, 2, (batch, 40), device=device).float()

    def step() -> None:
        x = (images.float() / 255 - mean) / std
        if cuda:
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast(device.type, dtype=amp or torch.float32, enabled=amp is not None):
            logits = net(x)
        loss = F.binary_cross_entropy_with_logits(logits.float(), labels)
        optimizer.zero_grad(set_to_none=True)
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        else:
            loss.backward()
            optimizer.step()

    for _ in range(3):
        step()
    if cuda:
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    if cuda:
        torch.cuda.synchronize()
    return steps * batch / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=1024,
                        help="synthetic images (the train split is 80%%)")
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--width", type=float, default=1.0)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--workers", type=int, default=None,
                        help="decoding processes (default: as train-extractor)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--compute-steps", type=int, default=10)
    parser.add_argument("--data", type=Path, help="reuse (or create) the synthetic set here")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    device = resolve_device(args.device)
    if args.workers is None:
        args.workers = default_workers(device)

    with tempfile.TemporaryDirectory() as tmp:
        root = args.data or Path(tmp) / "celeba"
        if not (root / "list_attr_celeba.txt").exists():
            start = time.perf_counter()
            write_synthetic_celeba(root, n=args.images, width=178, split=(0.8, 0.1))
            print(f"wrote {args.images} synthetic 178x218 images in "
                  f"{time.perf_counter() - start:.1f} s")
        decode = measure_decode(root, args.image_size, min(400, args.images))
        print(f"decode (one process): {decode:.0f} images/s")
        compute = measure_compute(device, args.image_size, args.batch_size, args.width,
                                  args.compute_steps)
        print(f"compute ({device}, batch {args.batch_size}, {args.image_size} px): "
              f"{compute:.0f} images/s")
        metrics = train_extractor(TrainConfig(
            root, Path(tmp) / "bench.safetensors", epochs=args.epochs,
            image_size=args.image_size, batch_size=args.batch_size, width=args.width,
            device=args.device, workers=args.workers))
        pipeline = metrics["history"][-1]["images_per_s"]
        epoch_s = CELEBA_TRAIN_IMAGES / pipeline
        print(f"pipeline ({args.workers} workers): {pipeline:.0f} images/s")
        print(f"projected epoch of {CELEBA_TRAIN_IMAGES:,} images: {epoch_s / 60:.1f} min "
              f"(+ val/test passes)")
    result = {
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda"
        else platform.processor() or platform.machine(),
        "cpu_threads": torch.get_num_threads(),
        "image_size": args.image_size, "batch_size": args.batch_size, "width": args.width,
        "workers": args.workers,
        "decode_images_per_s_one_process": round(decode, 1),
        "compute_images_per_s": round(compute, 1),
        "pipeline_images_per_s": pipeline,
        "projected_epoch_minutes": round(epoch_s / 60, 2),
        "torch": torch.__version__,
    }
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
