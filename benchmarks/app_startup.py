"""Start-up to first face: `tlgan edit` launched in a pseudo-terminal until the
first frame is handed to the terminal (process start, imports, model load,
terminal queries, first forward pass). Default generator, CPU, 2 cores.

    python benchmarks/app_startup.py [--runs 3] [--renderer halfcell]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from statistics import median

sys.path.insert(0, str(Path(__file__).resolve().parent))

from app_latency import run_in_pty


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--renderer", default="halfcell")
    parser.add_argument("--cores", default="0,1")
    args = parser.parse_args()
    cores = {int(c) for c in args.cores.split(",") if c} or None
    times = []
    for _ in range(args.runs):
        result = run_in_pty(args.renderer, keys=0, interval=0.0, cores=cores, warmup=4.0)
        times.append(result["startup_s"])
        print(f"start-up to first face: {result['startup_s']:.2f} s")
    print(f"median over {args.runs} runs: {median(times):.2f} s "
          f"(renderer {args.renderer}, load average {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
