"""GAN inversion: find the edit-space latent whose face matches an aligned photo.

The latent is optimised in whitened coordinates u, latent = mean + basis @ u,
where mean and basis come from the generator's own latent distribution (for
z-space generators z ~ N(0, I), so the basis is the identity; for w-space
ones a PCA of 8192 mapped, untruncated w). In u, one unit is one standard
deviation along every principal direction, so one Adam learning rate suits
every generator and the prior is simple: the Mahalanobis distance |u|, which
is penalised only beyond the typical distance sqrt(d).

Loss = pixel MSE at several scales (the image, 1/2, 1/4, 1/8)
     + identity_weight * face-api descriptor distance on the face box (fine
       phase only: the descriptor net costs more than a small generator)
     + prior_weight * relu(|u| - sqrt(d))^2 / d.

Start: the mean latent and 31 samples ranked by coarse pixel loss; the best 4
race for 10 coarse steps (one batch) and the lowest loss goes on (the start
that looks closest is often not the one that ends closest). Coarse to
fine: the first 60% of the steps at half the working size (a cheaper preview
where the generator has one). Early stopping when the fine phase's loss has
not improved for `patience` steps; the best latent seen is returned. The
generator's noise is fixed (its buffers), so the result renders the same
every time.

W+ (`per_layer`, StyleGAN-type generators): one u per synthesis layer, all
starting from the chosen start; each layer has the prior above, and
`spread_weight` pulls the layers towards their mean so the result stays close
to one w (which keeps the edit directions, fitted in W, meaningful).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
import torch
import torch.nn.functional as F

from tlgan_tui.engine.errors import TlganError
from tlgan_tui.engine.generators.base import Generator

PRIOR_SAMPLES = 8192
PYRAMID_LEVELS = 4


class InversionCancelled(TlganError):
    """The user stopped the projection."""


@dataclass(frozen=True)
class InversionSettings:
    # The defaults fit about a minute per photo on 2 CPU cores at 256 px (FFHQ).
    steps: int = 300
    size: int = 256  # working size in pixels (capped at the generator's resolution)
    lr: float = 0.2
    coarse_fraction: float = 0.6
    identity_weight: float = 0.05
    prior_weight: float = 0.05
    patience: int = 25
    min_improvement: float = 1e-4  # relative
    seed: int = 0  # for the start candidates
    candidates: int = 31  # random start candidates besides the mean latent
    starts: int = 4  # > 1: the best few candidates race for `start_steps` coarse steps
    start_steps: int = 10  # (counted in `steps`); the winner goes on
    per_layer: bool = False  # W+: one latent per synthesis layer
    spread_weight: float = 0.5


@dataclass(frozen=True)
class Progress:
    step: int
    steps: int
    loss: float
    pixel: float
    identity: float
    phase: str  # "coarse" | "fine"


@dataclass
class InversionResult:
    latent: np.ndarray  # float32 (latent_dim,), or (num_ws, latent_dim) for W+
    loss: float  # best fine-phase loss
    steps_run: int
    stopped_early: bool
    seconds: float
    history: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class LatentPrior:
    mean: torch.Tensor  # (d,)
    basis: torch.Tensor  # (d, d): latent = mean + basis @ u

    def latent(self, u: torch.Tensor) -> torch.Tensor:
        return self.mean + u @ self.basis.T

    def whiten(self, latent: torch.Tensor) -> torch.Tensor:
        return torch.linalg.solve(self.basis, (latent - self.mean).T).T


_PRIORS: dict[str, LatentPrior] = {}


def latent_prior(generator: Generator) -> LatentPrior:
    """The whitening of the generator's latent distribution (cached per generator)."""
    key = generator.info.ident
    if key in _PRIORS:
        return _PRIORS[key]
    d = generator.latent_dim
    if generator.info.latent_space == "z":
        prior = LatentPrior(torch.zeros(d), torch.eye(d))
    else:
        rng = np.random.default_rng(12345)
        z = generator.sample_z(PRIOR_SAMPLES, rng)
        map_z = getattr(generator, "map_z", None)
        if map_z is not None:
            w = np.asarray(map_z(z), dtype=np.float64)
        else:  # w = psi-truncated mapping: undo the truncation around the mean
            psi = generator.psi or 1.0
            truncated = np.asarray(generator.z_to_latent(z), dtype=np.float64)
            centre = truncated.mean(axis=0)
            w = centre + (truncated - centre) / psi
        mean = w.mean(axis=0)
        cov = np.cov(w - mean, rowvar=False)
        values, vectors = np.linalg.eigh(cov)
        values = np.maximum(values, values.max() * 1e-6)
        basis = vectors * np.sqrt(values)[None, :]
        prior = LatentPrior(torch.from_numpy(mean).float(), torch.from_numpy(basis).float())
    _PRIORS[key] = prior
    return prior


def render_for_grad(generator: Generator, latents: torch.Tensor, size: int) -> torch.Tensor:
    """Differentiable images (N, 3, size, size), about [-1, 1], not clamped.

    MobileStyleGAN renders through its preview path at the smallest preview
    size >= `size`; other generators render at their resolution. Either is
    area-resized to `size` when it differs.
    """
    synthesis = getattr(generator, "synthesis", None)
    skip_for = getattr(generator, "skip_for", None)
    render = min((s for s in generator.preview_sizes if s >= size), default=generator.resolution)
    if synthesis is not None and skip_for is not None and render < generator.resolution:
        images: torch.Tensor = synthesis(latents.to(generator.device), skip=skip_for(render))
    else:
        images = generator.forward(latents.to(generator.device)).float()
    if images.shape[-1] != size:
        images = F.interpolate(images, size=(size, size), mode="area"
                               if images.shape[-1] > size else "bilinear")
    return images.float()


def working_sizes(generator: Generator, size: int) -> tuple[int, int]:
    """(fine, coarse) sizes: fine = `size` capped at the resolution; coarse = half of it."""
    fine = min(size, generator.resolution)
    previews = generator.preview_sizes
    if len(previews) > 1:
        fitting = [s for s in previews if s <= fine]
        fine = fitting[-1] if fitting else previews[0]
    return fine, max(8, fine // 2)


def pyramid_mse(image: torch.Tensor, target: torch.Tensor,
                per_sample: bool = False) -> torch.Tensor:
    """Mean of the MSEs at full, 1/2, 1/4 and 1/8 scale (per sample: shape (N,))."""
    total = image.new_zeros(len(image))
    levels = 0
    for level in range(PYRAMID_LEVELS):
        if level:
            if image.shape[-1] < 8:
                break
            image, target = F.avg_pool2d(image, 2), F.avg_pool2d(target, 2)
        total = total + (image - target).square().mean(dim=(1, 2, 3))
        levels += 1
    total = total / levels
    return total if per_sample else total.mean()


IdentityFn = Callable[[torch.Tensor], torch.Tensor]  # images in [-1, 1] -> (N,) distance


def invert(generator: Generator, target: np.ndarray, settings: InversionSettings,
           identity: IdentityFn | None = None,
           progress: Callable[[Progress], None] | None = None,
           cancel: threading.Event | None = None) -> InversionResult:
    """Latent whose rendering matches `target` (uint8 RGB at the fine working size).

    With `settings.starts` > 1 the best candidates by pixel loss race first: the
    start that looks closest is often not the one that ends closest.
    """
    race_steps = min(settings.start_steps, settings.steps - 1)
    if settings.starts < 2 or race_steps < 1:
        return invert_batch(generator, target[None], settings, identity, progress, cancel)[0]
    started = time.perf_counter()
    _, coarse = working_sizes(generator, settings.size)
    goal = _as_images(target[None], generator.device)
    goal = F.interpolate(goal, size=(coarse, coarse), mode="area")
    ranked = _ranked_candidates(generator, goal, settings, coarse)[0, :settings.starts]
    race = replace(settings, steps=race_steps, coarse_fraction=1.0, identity_weight=0.0,
                   per_layer=False, patience=race_steps)
    runners = invert_batch(generator, np.repeat(target[None], len(ranked), axis=0), race,
                           cancel=cancel, starts=ranked.cpu().numpy())
    winner = min(runners, key=lambda r: r.loss)
    rest = replace(settings, steps=settings.steps - race_steps)
    result = invert_batch(generator, target[None], rest, identity, progress, cancel,
                          starts=winner.latent[None])[0]
    result.steps_run += race_steps
    result.seconds = time.perf_counter() - started
    return result


def _as_images(targets: np.ndarray, device: torch.device) -> torch.Tensor:
    """uint8 (N, H, W, 3) -> float (N, 3, H, W) in [-1, 1]."""
    pixels = torch.from_numpy(np.array(targets, dtype=np.uint8)).permute(0, 3, 1, 2).float()
    return (pixels / 127.5 - 1.0).to(device)


def _ranked_candidates(generator: Generator, goals: torch.Tensor, settings: InversionSettings,
                       size: int) -> torch.Tensor:
    """(N, candidates + 1, d): the mean latent and random ones, best first for each goal
    (pixel loss at `size`; goals (N, 3, size, size))."""
    prior = latent_prior(generator)
    w_avg = getattr(generator, "w_avg", None)
    first = prior.mean.numpy() if w_avg is None else np.asarray(w_avg, dtype=np.float32)
    # Their own random stream: "seed N" of the generator is never a candidate by chance.
    rng = np.random.default_rng([settings.seed, 0x1A7E])
    drawn = generator.z_to_latent(generator.sample_z(settings.candidates, rng))
    candidates = np.concatenate([first[None], drawn]).astype(np.float32)
    with torch.no_grad():
        cand = torch.from_numpy(candidates).to(generator.device)
        images = torch.cat([render_for_grad(generator, c[None], size) for c in cand])
        losses = torch.stack([pyramid_mse(images, goal[None].expand_as(images), per_sample=True)
                              for goal in goals])  # (N, candidates)
        return cand[losses.argsort(dim=1)]


def invert_batch(generator: Generator, targets: np.ndarray, settings: InversionSettings,
                 identity: IdentityFn | None = None,
                 progress: Callable[[Progress], None] | None = None,
                 cancel: threading.Event | None = None,
                 starts: np.ndarray | None = None) -> list[InversionResult]:
    """One independent inversion per target (N, H, W, 3), run as one batch, from
    `starts` (N, d) or else each target's best candidate.

    Each sample has its own latent, loss, best latent and early stop; the batch
    stops when every sample has stopped (a stopped sample is kept at its best).
    `identity` maps images (N, 3, H, W) in [-1, 1] to (N,) distances.
    """
    started = time.perf_counter()
    if settings.steps < 1:
        raise TlganError("--steps must be at least 1")
    layers = generator.num_ws if settings.per_layer else 0
    if settings.per_layer and not layers:
        raise TlganError(f"{generator.info.name} takes one latent per face; W+ needs a "
                         "StyleGAN-type generator")
    fine, coarse = working_sizes(generator, settings.size)
    n = len(targets)
    if targets.shape[1:3] != (fine, fine):
        raise TlganError(f"the aligned photo is {targets.shape[2]} px, expected {fine}")
    target_t = _as_images(targets, generator.device)
    target_coarse = F.interpolate(target_t, size=(coarse, coarse), mode="area")
    prior = latent_prior(generator)
    mean, basis = prior.mean.to(generator.device), prior.basis.to(generator.device)
    d = generator.latent_dim
    typical = math.sqrt(d)

    # Start: the mean latent or the best of a few samples, by coarse pixel loss.
    if starts is None:
        start = _ranked_candidates(generator, target_coarse, settings, coarse)[:, 0]
    else:
        start = torch.from_numpy(np.asarray(starts, dtype=np.float32)).to(generator.device)
    with torch.no_grad():
        u0 = torch.linalg.solve(basis, (start - mean).T).T
        if layers:
            u0 = u0[:, None].repeat(1, layers, 1)  # (N, layers, d)
    u = u0.clone().requires_grad_(True)
    optimizer = torch.optim.Adam([u], lr=settings.lr, betas=(0.9, 0.999))
    coarse_steps = round(settings.steps * settings.coarse_fraction) if coarse < fine else 0
    best_loss = torch.full((n,), math.inf)
    best_u = u.detach().clone()
    since_best = torch.zeros(n, dtype=torch.long)
    active = torch.ones(n, dtype=torch.bool)
    steps_run = torch.zeros(n, dtype=torch.long)
    history: list[list[float]] = [[] for _ in range(n)]
    step = 0
    for step in range(1, settings.steps + 1):
        if cancel is not None and cancel.is_set():
            raise InversionCancelled("projection cancelled")
        phase = "coarse" if step <= coarse_steps else "fine"
        if step == coarse_steps + 1:
            best_loss[:] = math.inf  # losses at a new size are not comparable
            since_best[:] = 0
        size, goal = (coarse, target_coarse) if phase == "coarse" else (fine, target_t)
        optimizer.param_groups[0]["lr"] = _lr(settings.lr, step, settings.steps)
        latent = mean + u @ basis.T
        image = render_for_grad(generator, latent, size)
        pixel = pyramid_mse(image, goal, per_sample=True)
        loss = pixel
        ident = torch.zeros(n)
        if identity is not None and settings.identity_weight > 0 and phase == "fine":
            full = image if size == fine else F.interpolate(image, size=(fine, fine),
                                                            mode="bilinear")
            ident = identity(full)
            loss = loss + settings.identity_weight * ident
        excess = F.relu(u.norm(dim=-1) - typical)
        if layers:
            loss = loss + settings.prior_weight * excess.square().mean(dim=1) / d
            spread = (u - u.mean(dim=1, keepdim=True)).square().sum(dim=-1).mean(dim=1)
            loss = loss + settings.spread_weight * spread / d
        else:
            loss = loss + settings.prior_weight * excess.square() / d
        values = loss.detach().cpu()
        if not torch.isfinite(values).all():
            raise TlganError("the projection diverged (loss is not finite)")
        improved = active & (values < best_loss * (1 - settings.min_improvement))
        best_loss = torch.where(improved, values, best_loss)
        best_u[improved] = u.detach()[improved]
        since_best = torch.where(improved, 0, since_best + active.long())
        steps_run += active.long()
        for i in torch.nonzero(active).flatten().tolist():
            history[i].append(float(values[i]))
        if progress is not None:
            progress(Progress(step, settings.steps, float(values[active].mean()),
                              float(pixel.detach()[active].mean()),
                              float(ident.detach()[active].mean()), phase))
        if phase == "fine":
            active &= since_best < settings.patience
            if not active.any():
                break
        optimizer.zero_grad(set_to_none=True)
        (loss * active.to(loss.device)).sum().backward()
        optimizer.step()
    with torch.no_grad():
        latents = (mean + best_u @ basis.T).float().cpu().numpy().astype(np.float32)
    seconds = time.perf_counter() - started
    return [InversionResult(latents[i], float(best_loss[i]), int(steps_run[i]),
                            int(steps_run[i]) < settings.steps, seconds, history[i])
            for i in range(n)]


def _lr(base: float, step: int, steps: int) -> float:
    """StyleGAN2's projector ramp: 5% warm-up, cosine ramp-down over the last 25%."""
    t = step / steps
    ramp = min(1.0, (1.0 - t) / 0.25)
    ramp = 0.5 - 0.5 * math.cos(ramp * math.pi)
    return base * ramp * min(1.0, t / 0.05) if steps > 1 else base
