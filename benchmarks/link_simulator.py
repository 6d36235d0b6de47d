"""The editor over a simulated SSH link: bytes per key, key -> frame on screen, backlog.

The real app runs in a pseudo-terminal (120 x 36 cells of 10 x 20 px, pinned to
2 CPU cores). This script is the link and the terminal: it reads everything the
app writes as fast as sshd would, and hands it to the "terminal" no faster than
the link's throughput and 20 ms later; keys and the terminal's answers travel
back with 20 ms of delay too. The terminal answers the cursor-position query
(CSI 6 n) that the app sends after each frame.

A frame is fully received when its cursor-position query reaches the terminal
(the query is written right after the frame). For each key, key -> frame is the
time from the key press until the first frame that shows its state (a frame
requested by that key or a later one) is fully received.

    python benchmarks/link_simulator.py --renderer kitty --mbit 10 --rate 2 --keys 10
    python benchmarks/link_simulator.py --renderer kitty --mbit 10 --rate 10 --keys 20
"""

from __future__ import annotations

import argparse
import fcntl
import heapq
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
CELL = (10, 20)
DELAY_S = 0.020  # each way
PIECE = 2048  # bytes delivered at a time
# Only the app's own query is answered. textual-image's start-up queries (kitty
# graphics, device attributes, cell size) are not: an answer arriving after their
# 0.1 s timeout reaches Textual's input, and one such run stalled the app's keys.
# The renderer is chosen with --renderer, the cell size comes from the pty.
ANSWERS = {b"\x1b[6n": b"\x1b[1;1R"}  # query -> the terminal's answer


def child(args: argparse.Namespace) -> None:
    """Run the editor on this pty; write its frame log when it quits."""
    sys.path.insert(0, str(ROOT))
    from tlgan_tui.cli import build_parser
    from tlgan_tui.cli.edit import build_app, use_cpu_threads_for_app

    edit_args = build_parser().parse_args([
        "edit", "--device", "cpu", "--seed", "3", "--renderer", args.renderer,
        "--max-fps", str(args.max_fps), "--quality", args.quality,
        *(["--generator", args.generator] if args.generator else []),
        "--session", str(Path(args.out).with_suffix(".session.json")),
        "--out-dir", str(Path(args.out).parent)])
    app = build_app(edit_args)
    app.engine.extractor_factory = None  # measure the frames, not the feature scores
    use_cpu_threads_for_app()
    app.run()
    Path(args.out).write_text(json.dumps({
        "frames": [vars(r) for r in app.frame_log], "dropped": app.frames_dropped,
        "answered": sum(d.seconds is not None for d in app.pacer.deliveries),
        "generator": app.engine.generator.info.name}))


class Link:
    """Throughput-limited, delayed delivery of the app's output to a fake terminal."""

    def __init__(self, master: int, bytes_per_second: float) -> None:
        self.master = master
        self.rate = bytes_per_second
        self.queue: list[tuple[float, bytes]] = []
        self.cond = threading.Condition()
        self.uplink: list[tuple[float, int, bytes]] = []
        self.up_cond = threading.Condition()
        self.counter = 0
        self.probes: list[float] = []  # CSI 6 n delivered to the terminal
        self.delivered = 0
        self.closed = False

    def send_up(self, data: bytes, at: float) -> None:
        with self.up_cond:
            self.counter += 1
            heapq.heappush(self.uplink, (at + DELAY_S, self.counter, data))
            self.up_cond.notify()

    def read_app(self) -> None:
        while True:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:
                chunk = b""
            with self.cond:
                if not chunk:
                    self.closed = True
                    self.cond.notify()
                    return
                self.queue.append((time.monotonic(), chunk))
                self.cond.notify()

    def deliver(self) -> None:
        free_at = 0.0
        tail = b""
        while True:
            with self.cond:
                while not self.queue and not self.closed:
                    self.cond.wait()
                if not self.queue:
                    return
                arrived, chunk = self.queue.pop(0)
            for start in range(0, len(chunk), PIECE):
                piece = chunk[start : start + PIECE]
                free_at = max(arrived + DELAY_S, free_at) + len(piece) / self.rate
                pause = free_at - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
                self.delivered += len(piece)
                tail = self._answer(tail, piece, free_at)

    def _answer(self, tail: bytes, piece: bytes, now: float) -> bytes:
        data = tail + piece
        for query, answer in ANSWERS.items():
            position = data.find(query)
            while position >= 0:
                if position + len(query) > len(tail):  # not seen in the last piece
                    if query == b"\x1b[6n":
                        self.probes.append(now)
                    self.send_up(answer, now)
                position = data.find(query, position + 1)
        return data[-16:]

    def up(self) -> None:
        while True:
            with self.up_cond:
                while not self.uplink:
                    self.up_cond.wait()
                due, _, data = self.uplink[0]
                pause = due - time.monotonic()
                if pause > 0:
                    self.up_cond.wait(pause)
                    continue
                heapq.heappop(self.uplink)
            try:
                os.write(self.master, data)
            except OSError:
                return


def run(args: argparse.Namespace) -> dict[str, Any]:
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ,
                struct.pack("HHHH", ROWS, COLS, COLS * CELL[0], ROWS * CELL[1]))
    cores = {int(c) for c in args.cores.split(",") if c}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "frames.json"
        env = dict(os.environ, TERM="xterm-256color", COLORTERM="truecolor")
        env.pop("TMUX", None)
        command = [sys.executable, str(Path(__file__).resolve()), "--child", "--out", str(out),
                   "--renderer", args.renderer, "--max-fps", str(args.max_fps),
                   "--quality", args.quality,
                   *(["--generator", args.generator] if args.generator else [])]

        def pin() -> None:
            os.setsid()
            if cores:
                os.sched_setaffinity(0, cores)

        process = subprocess.Popen(command, stdin=slave, stdout=slave, stderr=slave, env=env,
                                   preexec_fn=pin, close_fds=True)
        os.close(slave)
        link = Link(master, args.mbit * 1e6 / 8)
        for target in (link.read_app, link.deliver, link.up):
            threading.Thread(target=target, daemon=True).start()
        time.sleep(args.warmup)
        keys: list[float] = []
        start_bytes = link.delivered
        interval = 1.0 / args.rate
        next_at = time.monotonic()
        for i in range(args.keys):
            pause = next_at - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            now = time.monotonic()
            keys.append(now)
            link.send_up(b"l" if (i // 4) % 2 == 0 else b"h", now)
            next_at += interval
        time.sleep(args.settle)
        key_bytes = link.delivered - start_bytes
        link.send_up(b"q", time.monotonic())
        try:
            process.wait(60)
        finally:
            if process.poll() is None:
                process.kill()
        if not out.exists():
            raise SystemExit(f"the app wrote no frame log (exit {process.returncode})")
        result = json.loads(out.read_text())
    if args.frames_json:
        Path(args.frames_json).write_text(json.dumps(
            {"keys": keys, "probes": link.probes, "frames": result["frames"]}))
    return analyse(result, keys, link.probes, key_bytes)


def analyse(result: dict[str, Any], keys: list[float], probes: list[float],
            key_bytes: int) -> dict[str, Any]:
    frames = result["frames"]
    # The i-th frame's query is the i-th one the terminal saw.
    received = [dict(f, received_at=probes[i] if i < len(probes) else None)
                for i, f in enumerate(frames)]
    first_key = keys[0]
    during = [f for f in received if f["requested_at"] >= first_key]
    latencies = []
    for key in keys:
        arrived = key + DELAY_S - 0.002
        shown = [f["received_at"] for f in during
                 if f["requested_at"] >= arrived and f["received_at"] is not None]
        latencies.append((min(shown) - key) * 1000 if shown else float("inf"))
    last_key = keys[-1] + DELAY_S - 0.002
    full = [f["received_at"] for f in during if f["requested_at"] >= last_key
            and not f["preview"] and f["received_at"] is not None]
    previews = [f["nbytes"] for f in during if f["preview"]]
    fulls = [f["nbytes"] for f in during if not f["preview"]]
    ordered = sorted(latencies)
    return {
        "generator": result["generator"],
        "frames": len(during), "dropped": result["dropped"],
        "answered": f"{result.get('answered', '?')}/{len(frames)}",
        "preview_bytes_median": median(previews) if previews else None,
        "full_bytes_median": median(fulls) if fulls else None,
        "bytes_per_key": key_bytes / len(keys),
        "key_to_frame_median_ms": median(latencies),
        "key_to_frame_p90_ms": ordered[int(0.9 * (len(ordered) - 1))],
        "newest_after_last_key_ms": latencies[-1],
        "full_after_last_key_ms": (min(full) - keys[-1]) * 1000 if full else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--renderer", default="kitty", choices=["halfcell", "kitty", "sixel"])
    parser.add_argument("--mbit", type=float, default=10.0, help="link throughput, Mbit/s")
    parser.add_argument("--rate", type=float, default=2.0, help="keys per second")
    parser.add_argument("--keys", type=int, default=10)
    parser.add_argument("--generator", default=None, help="--generator of `tlgan edit`")
    parser.add_argument("--max-fps", type=float, default=30.0)
    parser.add_argument("--quality", default="auto")
    parser.add_argument("--cores", default="0,1")
    parser.add_argument("--warmup", type=float, default=8.0, help="seconds before the first key")
    parser.add_argument("--settle", type=float, default=3.0, help="seconds after the last key")
    parser.add_argument("--frames-json", default=None, metavar="PATH",
                        help="also write the keys, the terminal's query times and the frame log")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    summary = run(args)

    def kib(value: float | None) -> str:
        return "-" if value is None else f"{value / 1024:.1f} KiB"

    def ms(value: float | None) -> str:
        return "-" if value is None else f"{value:.0f} ms"

    print(f"{args.renderer}, {summary['generator']}, {args.mbit:g} Mbit/s + {DELAY_S * 1000:.0f} "
          f"ms each way, {args.keys} keys at {args.rate:g}/s, load {os.getloadavg()[0]:.1f}: "
          f"preview {kib(summary['preview_bytes_median'])}, full "
          f"{kib(summary['full_bytes_median'])}, per key {kib(summary['bytes_per_key'])}; "
          f"key -> frame received median {ms(summary['key_to_frame_median_ms'])} p90 "
          f"{ms(summary['key_to_frame_p90_ms'])}; last key -> newest state "
          f"{ms(summary['newest_after_last_key_ms'])}, full {ms(summary['full_after_last_key_ms'])}"
          f"; frames {summary['frames']}, dropped {summary['dropped']}, "
          f"answered {summary['answered']}")


if __name__ == "__main__":
    main()
