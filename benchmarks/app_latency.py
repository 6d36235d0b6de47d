"""Key press to new frame, measured on the real app in a pseudo-terminal.

The app runs as `tlgan edit` would (Textual's Linux driver writing real escape
sequences to a pty); this script plays the terminal: it drains the output and
types `l` / `h` at a human-ish pace (one key every 150 ms, so no coalescing).
Inside the app each frame records:

- total: the key event's time -> the frame handed to the terminal driver,
- forward: latent maths + generator forward (worker thread),
- fit + encode: scaling to the widget's pixels (worker) + textual-image's
  encoding for the terminal (UI thread).

Pinned to 2 CPU cores (the target machine), default generator, CPU.

With a generator that has previews (`--generator ffhq`) keys come in bursts
(`--burst 3` keys 100 ms apart, then a pause) and the frames split into
previews (key -> preview frame) and full images (last key of the burst ->
full image on screen).

    python benchmarks/app_latency.py [--renderer halfcell|kitty|unicode] [--keys 60]
    python benchmarks/app_latency.py --generator ffhq --burst 3 --keys 30
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from pathlib import Path
from statistics import median
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
COLS, ROWS = 120, 36
CELL = (10, 20)  # pixels per cell the pty reports
CURSOR_POSITION_QUERY = b"\x1b[6n"
CURSOR_POSITION_ANSWER = b"\x1b[1;1R"


def child(args: argparse.Namespace) -> None:
    """Run the editor on this (pty) terminal; write the timings when it quits."""
    sys.path.insert(0, str(ROOT))
    from tlgan_tui.cli import build_parser
    from tlgan_tui.cli.edit import build_app, use_cpu_threads_for_app

    edit_args = build_parser().parse_args([
        "edit", "--device", "cpu", "--seed", "3", "--renderer", args.renderer,
        *(["--generator", args.generator] if args.generator else []),
        "--session", str(Path(args.out).with_suffix(".session.json")),
        "--out-dir", str(Path(args.out).parent)])
    app = build_app(edit_args)
    if args.no_measure:
        app.engine.extractor_factory = None
    use_cpu_threads_for_app()
    if args.torch_threads:
        import torch

        torch.set_num_threads(args.torch_threads)
    app.run()
    records = [vars(r) for r in app.frame_log]
    Path(args.out).write_text(json.dumps({
        "first_frame_at": app.first_frame_at, "frames": records,
        "renderer": app.config.renderer.name, "torch_threads": _torch_threads()}))


def _torch_threads() -> int:
    import torch

    return torch.get_num_threads()


def run_in_pty(renderer: str, keys: int, interval: float, cores: set[int] | None,
               warmup: float = 2.0, measure: bool = True,
               torch_threads: int = 0, generator: str | None = None,
               burst: int = 0, pause: float = 1.5) -> dict[str, Any]:
    """Start the app in a pty, type `keys` keys, quit; the app's timings plus start-up."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ,
                struct.pack("HHHH", ROWS, COLS, COLS * CELL[0], ROWS * CELL[1]))
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.json"
        env = dict(os.environ, TERM="xterm-256color", COLORTERM="truecolor")
        env.pop("TMUX", None)
        command = [sys.executable, str(Path(__file__).resolve()), "--child", "--out", str(out),
                   "--renderer", renderer, *(["--no-measure"] if not measure else []),
                   *(["--torch-threads", str(torch_threads)] if torch_threads else []),
                   *(["--generator", generator] if generator else [])]

        def pin() -> None:
            os.setsid()
            if cores:
                os.sched_setaffinity(0, cores)

        started = time.monotonic()
        process = subprocess.Popen(command, stdin=slave, stdout=slave, stderr=slave,
                                   env=env, preexec_fn=pin, close_fds=True)
        os.close(slave)
        received = bytearray()
        done = threading.Event()

        def drain() -> None:
            tail = b""
            while not done.is_set():
                try:
                    chunk = os.read(master, 65536)
                except OSError:
                    return
                if not chunk:
                    return
                received.extend(chunk[-256:])
                # The app paces frames on the answer to its cursor-position query
                # (app/pacing.py): answer it like a terminal, or every frame waits
                # for the query's timeout.
                data = tail + chunk  # a query may be split between two reads
                for _ in range(data.count(CURSOR_POSITION_QUERY)):
                    os.write(master, CURSOR_POSITION_ANSWER)
                tail = data[-(len(CURSOR_POSITION_QUERY) - 1):]

        reader = threading.Thread(target=drain, daemon=True)
        reader.start()
        time.sleep(warmup)
        for i in range(keys):
            os.write(master, b"l" if (i // 3) % 2 == 0 else b"h")
            time.sleep(pause if burst and (i + 1) % burst == 0 else interval)
        time.sleep(0.5)
        os.write(master, b"q")
        try:
            process.wait(30)
        finally:
            done.set()
            if process.poll() is None:
                process.kill()
            os.close(master)
        if not out.exists():
            raise SystemExit(f"the app wrote no timings (exit {process.returncode}); "
                             f"last output: {bytes(received[-200:])!r}")
        result = json.loads(out.read_text())
    result["startup_s"] = result["first_frame_at"] - started if result["first_frame_at"] else None
    return result


def summarize(result: dict[str, Any], skip: int = 1, preview: bool | None = None
              ) -> dict[str, float]:
    frames = result["frames"][skip:]  # the first frame includes one-off warm-up
    if preview is not None:
        frames = [f for f in frames if bool(f.get("preview")) == preview]
    total = [f["total_ms"] for f in frames]
    forward = [f["forward_ms"] for f in frames]
    encode = [f["fit_ms"] + f["encode_ms"] for f in frames]
    work = [a + b for a, b in zip(forward, encode, strict=True)]
    return {
        "frames": len(frames),
        "key_to_frame_median_ms": median(total),
        "key_to_frame_p90_ms": sorted(total)[int(0.9 * (len(total) - 1))],
        "forward_median_ms": median(forward),
        "encode_median_ms": median(encode),
        "forward_plus_encode_median_ms": median(work),
        "ratio": median(total) / median(work),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--renderer", default="halfcell",
                        choices=["halfcell", "kitty", "unicode", "sixel"])
    parser.add_argument("--keys", type=int, default=60)
    parser.add_argument("--interval", type=float, default=0.15)
    parser.add_argument("--cores", default="0,1", help="CPU cores to pin to ('' for all)")
    parser.add_argument("--no-measure", action="store_true",
                        help="do not run the feature extractors (isolates their cost)")
    parser.add_argument("--torch-threads", type=int, default=0,
                        help="override the app's torch thread count (default: cores - 1)")
    parser.add_argument("--generator", default=None, help="--generator of `tlgan edit`")
    parser.add_argument("--burst", type=int, default=0, metavar="K",
                        help="type K keys --interval apart, then pause --pause s (0: no pauses)")
    parser.add_argument("--pause", type=float, default=1.5)
    parser.add_argument("--warmup", type=float, default=2.0,
                        help="seconds before the first key (model load)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    cores = {int(c) for c in args.cores.split(",") if c} or None
    result = run_in_pty(args.renderer, args.keys, args.interval, cores, args.warmup,
                        measure=not args.no_measure, torch_threads=args.torch_threads,
                        generator=args.generator, burst=args.burst, pause=args.pause)
    load = os.getloadavg()[0]
    print(f"renderer {result['renderer']}, cores {sorted(cores) if cores else 'all'}, "
          f"torch threads {result['torch_threads']}, load average {load:.1f}, "
          f"generator {args.generator or 'default'}")
    if any(f.get("preview") for f in result["frames"]):
        for label, preview in (("key -> preview frame", True),
                               ("last key -> full image", False)):
            part = summarize(result, preview=preview)
            print(f"{label:24s} median {part['key_to_frame_median_ms']:7.1f} ms "
                  f"(p90 {part['key_to_frame_p90_ms']:.1f} ms, {part['frames']:.0f} frames; "
                  f"forward {part['forward_median_ms']:.1f} ms, "
                  f"fit + encode {part['encode_median_ms']:.1f} ms)")
        return
    summary = summarize(result)
    print(f"frames measured           {summary['frames']}")
    print(f"key -> frame   median     {summary['key_to_frame_median_ms']:6.1f} ms   "
          f"(p90 {summary['key_to_frame_p90_ms']:.1f} ms)")
    print(f"generator forward median  {summary['forward_median_ms']:6.1f} ms")
    print(f"fit + encode median       {summary['encode_median_ms']:6.1f} ms")
    print(f"forward + encode median   {summary['forward_plus_encode_median_ms']:6.1f} ms")
    print(f"ratio key->frame / (forward + encode)  {summary['ratio']:.2f}")
    if result.get("startup_s") is not None:
        print(f"start-up to first face    {result['startup_s']:6.2f} s")


if __name__ == "__main__":
    main()
