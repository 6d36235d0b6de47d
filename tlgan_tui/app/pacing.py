"""Frame pacing: never write a face while the link still carries the previous one.

Over SSH the terminal is at the far end of a slow pipe. Bytes written to the
pty leave at once into the SSH channel, so the pty's output queue stays empty
(TIOCOUTQ on a pty reads 0 even while the far end is seconds behind) and the
time a write takes says nothing either. What does tell: after each frame the
app asks the terminal for the cursor position (CSI 6 n); the terminal answers
only after it has read everything written before the question, so the answer
arriving means the frame is on screen. Until then new frames are held, and a
newer one replaces a held one, so the screen is never more than one frame
behind the newest state and nothing queues in the channel.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

CURSOR_POSITION_QUERY = "\x1b[6n"
ACK_TIMEOUT_S = 2.0  # a terminal that never answers must not freeze the face
QUALITIES = ("auto", "full", "preview")
DEFAULT_MAX_FPS = 30.0
# `auto`: keep full-quality frames while one is expected on screen this soon.
FULL_FRAME_BUDGET_S = 0.35


@dataclass(frozen=True)
class FrameDelivery:
    """One frame's trip to the terminal."""

    nbytes: int
    seconds: float | None  # written -> terminal answered (None: no answer)
    preview: bool


class FramePacer:
    """Decides when the next frame may be written, and learns the link's speed."""

    def __init__(self, max_fps: float = DEFAULT_MAX_FPS, *, acknowledge: bool = True,
                 ack_timeout: float = ACK_TIMEOUT_S) -> None:
        if max_fps <= 0:
            raise ValueError("max_fps must be positive")
        self.min_interval = 1.0 / max_fps
        self.acknowledge = acknowledge
        self.ack_timeout = ack_timeout
        self.in_flight: tuple[float, int, bool] | None = None  # (written at, bytes, preview)
        self.last_written_at: float | None = None
        self.deliveries: list[FrameDelivery] = []
        self.bytes_per_second: float | None = None
        self.latency_s: float | None = None  # the fastest answer seen: mostly round trip

    def busy(self, now: float) -> bool:
        """True while the previous frame may still be on its way."""
        if self.in_flight is None:
            return False
        written_at, nbytes, _ = self.in_flight
        # A big frame on a slow link may rightly take longer than the timeout.
        if now - written_at > self.ack_timeout + (self.expected_seconds(nbytes) or 0.0):
            self._finish(now, answered=False)
            return False
        return True

    def wait_before_next(self, now: float) -> float:
        """Seconds until --max-fps allows the next frame (0: now), ignoring acks."""
        if self.last_written_at is None:
            return 0.0
        return max(0.0, self.last_written_at + self.min_interval - now)

    def can_write(self, now: float) -> bool:
        return not self.busy(now) and self.wait_before_next(now) == 0.0

    def written(self, now: float, nbytes: int, preview: bool) -> None:
        """A frame of `nbytes` was handed to the terminal (and, with acks, the query after it)."""
        self.last_written_at = now
        if self.acknowledge:
            self.in_flight = (now, nbytes, preview)
        else:
            self.deliveries.append(FrameDelivery(nbytes, None, preview))

    def answered(self, now: float) -> FrameDelivery | None:
        """The terminal answered the query sent after the frame in flight."""
        if self.in_flight is None:
            return None
        return self._finish(now, answered=True)

    def _finish(self, now: float, answered: bool) -> FrameDelivery:
        assert self.in_flight is not None
        written_at, nbytes, preview = self.in_flight
        self.in_flight = None
        seconds = now - written_at if answered else None
        delivery = FrameDelivery(nbytes, seconds, preview)
        self.deliveries.append(delivery)
        if seconds is not None:
            self.latency_s = seconds if self.latency_s is None else min(self.latency_s, seconds)
            # Frames of one size all look like "latency": count at least half of
            # the time as transfer (underestimates the link by at most 2x).
            transfer = max(seconds - self.latency_s, seconds / 2)
            if nbytes >= 4096 and transfer > 0.002:
                rate = nbytes / transfer
                self.bytes_per_second = rate if self.bytes_per_second is None else (
                    0.5 * self.bytes_per_second + 0.5 * rate)
        return delivery

    def expected_seconds(self, nbytes: int) -> float | None:
        """How long a frame of `nbytes` should take to reach the terminal (None: unknown)."""
        if self.bytes_per_second is None:
            return None
        return (self.latency_s or 0.0) + nbytes / self.bytes_per_second


def full_quality_fits(pacer: FramePacer, full_bytes: int | None) -> bool:
    """`--quality auto`: whether a full-quality frame reaches the terminal soon enough."""
    if full_bytes is None:
        return True
    expected = pacer.expected_seconds(full_bytes)
    return expected is None or expected <= FULL_FRAME_BUDGET_S


def check_max_fps(value: str) -> float:
    """argparse type for --max-fps: a positive number of frames per second."""
    try:
        fps = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if not 0 < fps <= 1000:
        raise argparse.ArgumentTypeError("must be above 0 and at most 1000 frames per second")
    return fps
