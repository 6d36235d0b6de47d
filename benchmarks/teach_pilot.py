"""Teach-mode pilot: answers given by a rule on the latent (y when latent . h > 0).

Prints, for hidden unit vectors h inside the generator's top-16 principal
span and for fully random h, the cosine after 60 answers and the answers
needed to reach cosine 0.8, with active learning and with random faces; and
the refit time at 60 answers (100-d and 512-d).

    python benchmarks/teach_pilot.py
"""

from __future__ import annotations

import time

import numpy as np
import torch


def main() -> None:
    from tlgan_tui.engine.directions import ganspace_directions
    from tlgan_tui.engine.generators.loading import load_generator
    from tlgan_tui.engine.knob_fitting import sampler
    from tlgan_tui.engine.teaching import Teacher, fit_knob, prior_matrix

    generator = load_generator(None, torch.device("cpu"))
    basis = ganspace_directions(generator, 16)
    prior = prior_matrix(basis, generator.latent_dim)
    rng = np.random.default_rng(11)

    def run(hidden: np.ndarray, active: bool, seed: int, limit: int = 150
            ) -> tuple[float, int | None, Teacher]:
        teacher = Teacher(generator.latent_dim, prior, sampler(generator), seed=seed,
                          active=active)
        reached, at60 = None, float("nan")
        while (len(teacher.answers) < limit and reached is None) or len(teacher.answers) < 60:
            for latent in teacher.next_faces(12):
                teacher.answer(latent, int(latent @ hidden > 0))
                fit = teacher.fit
                cosine = float(fit.direction @ hidden) if fit is not None else -1.0
                if reached is None and cosine >= 0.8:
                    reached = len(teacher.answers)
                if len(teacher.answers) == 60:
                    at60 = cosine
        return at60, reached, teacher

    for kind in ("principal span", "fully random"):
        hiddens = []
        for _ in range(3):
            h = rng.standard_normal(16) @ basis if kind == "principal span" else \
                rng.standard_normal(generator.latent_dim)
            hiddens.append(h / np.linalg.norm(h))
        for active in (True, False):
            results = [run(h, active, k)[:2] for k, h in enumerate(hiddens)]
            cosines = ", ".join(f"{c:.3f}" for c, _ in results)
            counts = [r for _, r in results]
            total = sum(counts) if all(r is not None for r in counts) else None
            print(f"{kind:>15} {'active' if active else 'random':>6}: cosine at 60 answers "
                  f"{cosines}; answers to reach 0.8: {counts} (sum {total})")

    for dim in (100, 512):
        b = np.linalg.qr(rng.standard_normal((dim, 16)))[0].T
        m = prior_matrix(b, dim)
        x = rng.standard_normal((60, dim))
        y = (x @ b[0] > 0).astype(int)
        fit_knob(x, y, m)
        times = []
        for _ in range(20):
            start = time.perf_counter()
            fit_knob(x, y, m)
            times.append((time.perf_counter() - start) * 1000)
        print(f"refit at 60 answers, {dim}-d: median {np.median(times):.1f} ms, "
              f"max {max(times):.1f} ms (with 5-fold cross-validation)")


if __name__ == "__main__":
    main()
