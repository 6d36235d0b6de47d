"""Speed of all default extractors together, in ms per face.

    python benchmarks/extractor_speed.py [--faces 256] [--batch 64] [--size PX] [--device cpu]

Scores default-generator faces in batches of 64 (target: <= 15 ms per face on
2 CPU cores), three ways: one process with 1 torch thread, one process with 2
threads, and two worker processes of 1 thread each (what `tlgan fit` uses).
Wall time and, for one thread, CPU time per face: on a machine shared with
other jobs the wall times grow with the load, the CPU time much less; two idle
cores running two workers score about twice as fast as one thread.
Also the time of each stage at 1 thread. With --device cuda: faces per second.
--size renders the faces at one of the generator's preview sizes (`tlgan fit`
scores FFHQ faces shrunk to at most 256 px; the editor scores its previews).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from tlgan_tui.engine.extractors.defaults import load_extractors
from tlgan_tui.engine.extractors.face_features import FaceFeatures
from tlgan_tui.engine.extractors.measures import measure_faces
from tlgan_tui.engine.extractors.parallel import ParallelScorer
from tlgan_tui.engine.generators.loading import load_generator


def per_face_ms(score, faces: np.ndarray, batch: int, repeats: int = 2,
                clock=time.perf_counter) -> float:
    best = np.inf
    for _ in range(repeats):
        started = clock()
        for i in range(0, len(faces), batch):
            score(faces[i:i + batch])
        best = min(best, clock() - started)
    return best / len(faces) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=int, default=256)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--size", type=int, default=None, help="preview size to score at")
    args = parser.parse_args()
    generator = load_generator(None, torch.device("cpu"))
    faces = generator.synthesize(generator.sample(args.faces, 5), size=args.size)
    print(f"# {args.faces} faces, {faces.shape[1]} px, batches of {args.batch}")
    if args.device != "cpu":
        extractor = load_extractors(device=args.device)
        extractor.score(faces[:args.batch])
        ms = per_face_ms(extractor.score, faces, args.batch)
        print(f"{args.device}: {ms:.2f} ms per face, {1000 / ms:.0f} faces/s")
        return
    extractors = load_extractors(threads=1)
    extractors.score(faces[:args.batch])
    print(f"one process, 1 torch thread: CPU time "
          f"{per_face_ms(extractors.score, faces, args.batch, clock=time.process_time):.2f}"
          f" ms per face, wall {per_face_ms(extractors.score, faces, args.batch):.2f} ms")
    extractors = load_extractors(threads=2)
    print(f"one process, 2 torch threads: wall "
          f"{per_face_ms(extractors.score, faces, args.batch):.2f} ms per face")
    with ParallelScorer(2) as scorer:
        scorer.submit(faces[:args.batch]).get()
        scorer.submit(faces[:args.batch]).get()

        def pooled(_: np.ndarray) -> None:
            jobs = [scorer.submit(faces[i:i + args.batch])
                    for i in range(0, len(faces), args.batch)]
            for job in jobs:
                job.get()

        ms = per_face_ms(pooled, faces[:args.batch], args.batch) * args.batch / len(faces)
        print(f"two worker processes, 1 thread each: {ms:.2f} ms per face")

    torch.set_num_threads(1)
    extractor = FaceFeatures()
    batch = faces[:args.batch]
    analysed = extractor.analyse(batch)
    stages = {
        "detector + landmarks + expression + age/gender (analyse)":
            lambda: extractor.analyse(batch),
        "measures (geometry + colour)":
            lambda: measure_faces(batch[analysed.found], analysed.landmarks[analysed.found]),
    }
    for name, run in stages.items():
        run()
        started = time.perf_counter()
        run()
        print(f"  stage at 1 thread, {name}: "
              f"{(time.perf_counter() - started) / len(batch) * 1000:.2f} ms per face")


if __name__ == "__main__":
    main()
