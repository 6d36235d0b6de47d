"""Wall-clock time of `tlgan fit` (30,000 samples) and a cold `tlgan render`.

    python benchmarks/cli_timing.py [--samples 30000] [--renders 5]

Each command runs in a fresh process, as a user would run it. Targets on
2 CPU cores: fit <= 120 s, cold render <= 3 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time


def timed(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=30_000)
    parser.add_argument("--renders", type=int, default=5)
    parser.add_argument("--skip-fit", action="store_true")
    args = parser.parse_args()
    tlgan = [sys.executable, "-m", "tlgan_tui"]
    print(f"# cpu cores: {os.cpu_count()}")
    with tempfile.TemporaryDirectory() as tmp:
        renders = [timed([*tlgan, "render", "--seed", str(i), "--set", "Male=+2", "-o",
                          f"{tmp}/face{i}.png"]) for i in range(args.renders)]
        print(f"cold render: median {statistics.median(renders):.2f} s "
              f"(min {min(renders):.2f}, max {max(renders):.2f}, n={len(renders)})")
        if not args.skip_fit:
            seconds = timed([*tlgan, "fit", "--samples", str(args.samples), "--seed", "0",
                             "-o", f"{tmp}/axes.safetensors"])
            print(f"fit {args.samples} samples: {seconds:.1f} s "
                  f"({args.samples / seconds:.0f} samples/s, whole command)")


if __name__ == "__main__":
    main()
