"""Write tests/fixtures/upstream/: small checkpoints made by the upstream projects' own code.

Dev-time tool; nothing in the package imports it, and no upstream code is
copied into this repository: each subcommand imports the upstream modules from
a checkout whose path you give. The fixtures it writes are committed; rerun it
only to regenerate them.

Check out the upstream repositories (any way you like; e.g. from a bare clone
`git --git-dir=REPO.git archive COMMIT | tar -x -C DIR`) at the commits the
README lists, then, from the repository root:

    python scripts/make_upstream_fixtures.py ada --repo /tmp/up/ada --commit d72cc7d...
    python scripts/make_upstream_fixtures.py zoo --repo /tmp/up/zoo --commit b75dee4...
    python scripts/make_upstream_fixtures.py rosinality --repo /tmp/up/ros --commit bef283a...
    # TF pg-GAN: a throwaway venv, not this project's environment (no torch needed there)
    python -m venv /tmp/tfvenv && /tmp/tfvenv/bin/pip install "tensorflow-cpu==2.15.*" "numpy<2"
    /tmp/tfvenv/bin/python scripts/make_upstream_fixtures.py tf-pggan --repo /tmp/up/tfpg \
        --commit 2504c3f...

Each subcommand writes `<format>.<ext>` (the way the upstream code saves it),
`<format>-p5.<ext>` (the same object written with pickle protocol 5) and
`<format>.npz` (z latents and the upstream code's own output images, NCHW
float32, unclamped), and records the upstream commit in `manifest.json`.

Compatibility shims (none changes the upstream maths; each is applied only in
this process):
- zoo: its `optim.Adam(..., betas=[0, 0.99])` (an int and a float) is refused by
  torch >= 2.x ("betas must be either both floats or both Tensors"); the Adam the
  module sees casts betas to floats. Only the (unused) optimizers are affected.
- rosinality: `torch.utils.cpp_extension.load` is replaced by a stub while
  `op` is imported, because its module-level CUDA build fails on a CPU-only
  machine; the ops' own CPU code paths run. `torchvision` is not imported.
  Channel counts: `Generator.__init__` hard-codes 512 feature maps up to 32 px;
  a subclass caps its `channels` table (set inside the upstream `__init__`) so
  the fixture stays small; the Discriminator's table is capped the same way by
  substituting the literal before executing its class body.
- tf-pggan: the TF1 code runs on `tensorflow.compat.v1` (installed as the
  `tensorflow` module for the import, after `disable_v2_behavior()`); the
  session is created with `allow_soft_placement` because `Network.run` pins its
  graph to /gpu:0.
"""

from __future__ import annotations

import argparse
import json
import pickle
import platform
import sys
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

DEFAULT_OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "upstream"
N_LATENTS = 3
# Both NVIDIA formats embed the source of the module that built each network.
# Our loaders never run it, and their licences keep it out of this repository,
# so the fixtures carry this placeholder instead; the pickling is upstream's own.
OMITTED_SOURCE = "# upstream module source omitted from this test fixture\n"


def _record(out: Path, name: str, entry: dict[str, Any]) -> None:
    manifest_path = out / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    manifest[name] = {**entry, "python": platform.python_version(), "numpy": np.__version__}
    manifest_path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def _save_npz(path: Path, **arrays: np.ndarray) -> None:
    np.savez_compressed(path, **{k: np.asarray(v) for k, v in arrays.items()})


# --- NVIDIA stylegan2-ada-pytorch ----------------------------------------------------


def make_ada(repo: Path, out: Path, commit: str) -> None:
    import copy

    import torch

    sys.path.insert(0, str(repo))
    import dnnlib  # noqa: F401  (upstream)
    from training.augment import AugmentPipe  # upstream
    from training.networks import Discriminator, Generator  # upstream

    torch.manual_seed(0)
    common = dict(channel_base=256, channel_max=16, num_fp16_res=2, conv_clamp=256)
    G = Generator(z_dim=32, c_dim=0, w_dim=32, img_resolution=32, img_channels=3,
                  mapping_kwargs=dict(num_layers=2), synthesis_kwargs=dict(common))
    D = Discriminator(c_dim=0, img_resolution=32, img_channels=3, **common)
    augment_pipe = AugmentPipe(xflip=1, rotate90=1, xint=1, scale=1, rotate=1, aniso=1,
                               xfrac=1, brightness=1, contrast=1, lumaflip=1, hue=1,
                               saturation=1)
    G_ema = copy.deepcopy(G)
    generator = torch.Generator().manual_seed(1)

    def perturb(net: torch.nn.Module) -> None:
        with torch.no_grad():
            for name, tensor in [*net.named_parameters(), *net.named_buffers()]:
                if name.endswith("resample_filter") or name.endswith("noise_const"):
                    continue
                noise = torch.randn(tensor.shape, generator=generator)
                if name.endswith("torgb.bias"):
                    tensor.add_(0.05 * noise)  # summed over every resolution (skip path)
                elif name.endswith(("bias", "noise_strength", "w_avg", "const")):
                    tensor.add_(0.3 * noise)
                else:
                    tensor.mul_(1.0 + 0.1 * noise)
                if name.endswith("torgb.weight"):
                    tensor.mul_(0.15)  # images mostly inside [-1, 1]

    perturb(G)
    perturb(G_ema)  # G and G_ema differ, so a test sees which one the loader used
    # Training-loop snapshot, as training/training_loop.py writes it (network-snapshot-*.pkl).
    snapshot = dict(training_set_kwargs=dict(
        class_name="training.dataset.ImageFolderDataset", path="faces32.zip",
        use_labels=False, max_size=1000, xflip=False, resolution=32))
    for name, module in [("G", G), ("D", D), ("G_ema", G_ema), ("augment_pipe", augment_pipe)]:
        snapshot[name] = copy.deepcopy(module).eval().requires_grad_(False).cpu()
    for module in [m for net in (G, D, augment_pipe) for m in net.modules()]:
        if hasattr(type(module), "_orig_module_src"):  # persistence-decorated classes
            type(module)._orig_module_src = OMITTED_SOURCE
    with open(out / "ada.pkl", "wb") as f:
        pickle.dump(snapshot, f)  # the training loop's call: the default protocol
    with open(out / "ada-p5.pkl", "wb") as f:
        pickle.dump(snapshot, f, protocol=5)

    net = snapshot["G_ema"]
    z = torch.from_numpy(np.random.default_rng(15).standard_normal((N_LATENTS, 32),
                                                                    dtype=np.float32))
    c = torch.zeros([N_LATENTS, 0])
    psi = 0.7
    with torch.no_grad():
        fp32 = net(z, c, truncation_psi=psi, noise_mode="const", force_fp32=True)
        fp16 = net(z, c, truncation_psi=psi, noise_mode="const", force_fp32=False)
    _save_npz(out / "ada.npz", z=z.numpy(), images_fp32=fp32.numpy(),
              images_fp16=fp16.float().numpy(), psi=np.float32(psi))
    _record(out, "ada", dict(
        repo="NVlabs/stylegan2-ada-pytorch", commit=commit,
        what="training/training_loop.py snapshot dict (G, D, G_ema, augment_pipe, "
             "training_set_kwargs) pickled with persistence; 32 px, 16-8 channels, "
             "num_fp16_res=2, conv_clamp=256",
        outputs="G_ema(z, c, truncation_psi=0.7, noise_mode='const'), force_fp32 True/False",
        torch=torch.__version__))


# --- facebookresearch pytorch_GAN_zoo ----------------------------------------------------


def make_zoo(repo: Path, out: Path, commit: str) -> None:
    import torch

    sys.path.insert(0, str(repo))
    import models.progressive_gan as progressive_gan  # upstream
    from models.progressive_gan import ProgressiveGAN  # upstream

    class Adam(torch.optim.Adam):  # shim: betas=[0, 0.99] -> (0.0, 0.99)
        def __init__(self, params: Any, betas: Any = (0.9, 0.999), **kwargs: Any) -> None:
            super().__init__(params, betas=tuple(float(b) for b in betas), **kwargs)

    progressive_gan.optim = types.SimpleNamespace(Adam=Adam)

    torch.manual_seed(0)
    model = ProgressiveGAN(dimLatentVector=16, depthScale0=16, useGPU=False)
    for depth in (16, 16, 8):  # 8, 16, 32 px
        model.addScale(depth)
    generator = torch.Generator().manual_seed(2)
    with torch.no_grad():
        for net in (model.getOriginalG(), model.getOriginalAvgG()):
            for name, tensor in net.named_parameters():
                noise = torch.randn(tensor.shape, generator=generator)
                if name.endswith("bias"):
                    tensor.add_(0.2 * noise)
                else:
                    tensor.mul_(1.0 + 0.1 * noise)
                if name.startswith("toRGBLayers") and name.endswith("weight"):
                    tensor.mul_(0.4)  # images mostly inside [-1, 1]
    model.save(str(out / "zoo.pth"))  # upstream BaseGAN.save: torch.save(getStateDict())
    torch.save(model.getStateDict(), out / "zoo-p5.pth", pickle_protocol=5)
    z = torch.from_numpy(np.random.default_rng(15).standard_normal((N_LATENTS, 16),
                                                                    dtype=np.float32))
    with torch.no_grad():
        images = model.test(z, getAvG=True, toCPU=True)
    _save_npz(out / "zoo.npz", z=z.numpy(), images=images.numpy())
    _record(out, "zoo", dict(
        repo="facebookresearch/pytorch_GAN_zoo", commit=commit,
        what="models.progressive_gan.ProgressiveGAN(dimLatentVector=16, depthScale0=16), "
             "addScale 16, 16, 8 (32 px), saved by BaseGAN.save",
        outputs="model.test(z, getAvG=True)", torch=torch.__version__))


# --- rosinality stylegan2-pytorch --------------------------------------------------------


def _import_rosinality(repo: Path, cap: int) -> tuple[Any, type, type]:
    import torch.utils.cpp_extension as cpp_extension

    sys.path.insert(0, str(repo))
    real_load = cpp_extension.load
    cpp_extension.load = lambda *args, **kwargs: types.SimpleNamespace()  # CPU: no CUDA build
    try:
        import model as ros_model  # upstream
    finally:
        cpp_extension.load = real_load

    class SmallGenerator(ros_model.Generator):  # upstream __init__/forward; channels capped
        @property
        def channels(self) -> dict[int, int]:
            return self.__dict__["_capped_channels"]

        @channels.setter
        def channels(self, value: dict[int, int]) -> None:
            self.__dict__["_capped_channels"] = {k: min(v, cap) for k, v in value.items()}

    import inspect
    import textwrap

    source = textwrap.dedent(inspect.getsource(ros_model.Discriminator))
    source = source.replace("class Discriminator(", "class SmallDiscriminator(")
    source = source.replace(": 512,", f": {cap},")
    namespace: dict[str, Any] = {}
    exec(compile(source, "<rosinality Discriminator, channels capped>", "exec"),
         vars(ros_model), namespace)
    return ros_model, SmallGenerator, namespace["SmallDiscriminator"]


def make_rosinality(repo: Path, out: Path, commit: str) -> None:
    import torch
    from torch import optim

    _, SmallGenerator, SmallDiscriminator = _import_rosinality(repo, cap=8)
    torch.manual_seed(0)
    size, latent, n_mlp = 32, 16, 3
    generator_g = SmallGenerator(size, latent, n_mlp)
    g_ema = SmallGenerator(size, latent, n_mlp)
    g_ema.eval()
    discriminator = SmallDiscriminator(size)
    rng = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for net in (generator_g, g_ema):
            for name, tensor in [*net.named_parameters(), *net.named_buffers()]:
                if name.endswith(".kernel"):
                    continue  # the fixed [1, 3, 3, 1] resampling filters, not weights
                noise = torch.randn(tensor.shape, generator=rng)
                if name.endswith(("bias", "noise.weight")) or name.startswith("noises."):
                    tensor.add_(0.3 * noise)
                else:
                    tensor.mul_(1.0 + 0.1 * noise)
                if name.startswith("to_rgb") and name.endswith("conv.weight"):
                    tensor.mul_(0.3)  # images mostly inside [-1, 1]
    # One optimizer step, as train.py's, so the checkpoint holds real optimizer state.
    g_reg_ratio, d_reg_ratio = 4 / 5, 16 / 17
    g_optim = optim.Adam(generator_g.parameters(), lr=0.002 * g_reg_ratio,
                         betas=(0 ** g_reg_ratio, 0.99 ** g_reg_ratio))
    d_optim = optim.Adam(discriminator.parameters(), lr=0.002 * d_reg_ratio,
                         betas=(0 ** d_reg_ratio, 0.99 ** d_reg_ratio))
    fake, _ = generator_g([torch.randn(2, latent)])
    discriminator(fake).mean().backward()
    g_optim.step()
    d_optim.step()
    args = argparse.Namespace(
        path="lmdb", arch="stylegan2", iter=800000, batch=16, n_sample=64, size=size, r1=10.0,
        path_regularize=2.0, path_batch_shrink=2, d_reg_every=16, g_reg_every=4, mixing=0.9,
        ckpt=None, lr=0.002, channel_multiplier=2, wandb=False, local_rank=0, augment=False,
        augment_p=0.0, ada_target=0.6, ada_length=500000, ada_every=256, latent=latent,
        n_mlp=n_mlp, start_iter=0, distributed=False)
    checkpoint = {  # train.py's torch.save call, field for field
        "g": generator_g.state_dict(), "d": discriminator.state_dict(),
        "g_ema": g_ema.state_dict(), "g_optim": g_optim.state_dict(),
        "d_optim": d_optim.state_dict(), "args": args, "ada_aug_p": 0.0,
    }
    torch.save(checkpoint, out / "rosinality-train.pt")
    torch.save(checkpoint, out / "rosinality-train-p5.pt", pickle_protocol=5)
    with torch.no_grad():
        latent_avg = g_ema.mean_latent(4096)[0]
    converted = {"g_ema": g_ema.state_dict(), "latent_avg": latent_avg}  # convert_weight.py
    torch.save(converted, out / "rosinality-converted.pt")
    torch.save(converted, out / "rosinality-converted-p5.pt", pickle_protocol=5)
    z = torch.from_numpy(np.random.default_rng(15).standard_normal((N_LATENTS, latent),
                                                                    dtype=np.float32))
    psi = 0.7
    with torch.no_grad():
        # train.py checkpoints hold no latent_avg: compare untruncated (generate.py, truncation 1)
        train_images, _ = g_ema([z], randomize_noise=False)
        # convert_weight.py's own check: truncation against the file's latent_avg
        converted_images, _ = g_ema([z], truncation=psi, truncation_latent=latent_avg,
                                    randomize_noise=False)
    _save_npz(out / "rosinality.npz", z=z.numpy(), images_train=train_images.numpy(),
              images_converted=converted_images.numpy(), psi=np.float32(psi))
    _record(out, "rosinality", dict(
        repo="rosinality/stylegan2-pytorch", commit=commit,
        what="model.Generator(32, 16, n_mlp=3), feature maps capped at 8; train.py "
             "checkpoint dict (g, d, g_ema, g_optim, d_optim, args, ada_aug_p) and "
             "convert_weight.py's dict (g_ema, latent_avg)",
        outputs="g_ema([z], randomize_noise=False) (train, psi 1); "
                "g_ema([z], truncation=0.7, truncation_latent=latent_avg) (converted)",
        torch=torch.__version__))


# --- NVIDIA progressive_growing_of_gans (TensorFlow) -----------------------------------------


def _tf1() -> Any:
    import tensorflow as tf2

    tf = tf2.compat.v1
    tf.disable_v2_behavior()
    sys.modules["tensorflow"] = tf  # the TF1 code says `import tensorflow as tf`
    return tf


def make_tf_pggan(repo: Path, out: Path, commit: str) -> None:
    tf = _tf1()
    sys.path.insert(0, str(repo))
    import tfutil  # upstream

    tfutil.init_tf({"graph_options.place_pruned_graph": True,
                    "allow_soft_placement": True})  # Network.run pins /gpu:0
    kwargs = dict(num_channels=3, resolution=32, label_size=0, fmap_base=64, fmap_max=16,
                  latent_size=16, fused_scale=False)
    G = tfutil.Network("G", func="networks.G_paper", **kwargs)
    D = tfutil.Network("D", func="networks.D_paper", num_channels=3, resolution=32,
                       label_size=0, fmap_base=64, fmap_max=16, fused_scale=False)
    Gs = G.clone("Gs")
    rng = np.random.default_rng(4)
    for net in (G, Gs):
        values = {}
        for name, var in net.trainables.items():
            value = tfutil.run(var)
            noise = rng.standard_normal(value.shape).astype(np.float32)
            values[var] = value + 0.2 * noise if name.endswith("bias") else value * (
                1.0 + 0.1 * noise)
            if name.startswith("ToRGB") and name.endswith("weight"):
                values[var] *= 0.8  # images mostly inside [-1, 1]
        tfutil.set_vars(values)
    for net in (G, D, Gs):
        net._build_module_src = OMITTED_SOURCE
    with open(out / "tf-pggan.pkl", "wb") as f:
        pickle.dump((G, D, Gs), f, protocol=4)  # HIGHEST_PROTOCOL of the Python it ran on
    with open(out / "tf-pggan-p5.pkl", "wb") as f:
        pickle.dump((G, D, Gs), f, protocol=5)
    z = np.random.default_rng(15).standard_normal((N_LATENTS, 16)).astype(np.float32)
    images = Gs.run(z, np.zeros([N_LATENTS, 0], np.float32))
    _save_npz(out / "tf-pggan.npz", z=z, images=images.astype(np.float32))
    _record(out, "tf-pggan", dict(
        repo="tkarras/progressive_growing_of_gans", commit=commit,
        what="tfutil.Network('G', func='networks.G_paper', resolution=32, fmap_base=64, "
             "fmap_max=16, latent_size=16, fused_scale=False), D, Gs = G.clone('Gs'); "
             "pickled (G, D, Gs)",
        outputs="Gs.run(z, labels[N, 0])", tensorflow=tf.__version__ if hasattr(
            tf, "__version__") else "compat.v1"))


COMMANDS: dict[str, Callable[[Path, Path, str], None]] = {
    "ada": make_ada, "zoo": make_zoo, "rosinality": make_rosinality, "tf-pggan": make_tf_pggan,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("format", choices=sorted(COMMANDS))
    parser.add_argument("--repo", type=Path, required=True, help="upstream checkout")
    parser.add_argument("--commit", required=True, help="the checkout's commit (recorded)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    COMMANDS[args.format](args.repo.resolve(), args.out, args.commit)
    print(f"wrote {args.format} fixtures to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
