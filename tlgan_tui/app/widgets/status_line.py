"""The status line: generator, device, seed, step, frame time and size, graphics protocol."""

from __future__ import annotations

from dataclasses import dataclass, replace

from rich.text import Text
from textual.widget import Widget


@dataclass(frozen=True)
class Status:
    generator: str = ""
    device: str = ""
    seed: int | None = None
    step: float = 0.4
    frame_ms: float | None = None
    frame_bytes: int | None = None  # the last frame's bytes on the wire
    link_ms: float | None = None  # frame written -> the terminal answered (over SSH: the link)
    protocol: str = ""
    psi: float | None = None
    message: str = ""


class StatusLine(Widget):
    """One line above the footer."""

    DEFAULT_CSS = """
    StatusLine {
        height: 1;
        background: $panel;
        color: $text;
    }
    """

    def __init__(self, *, show_frame_time: bool = True, id: str | None = None) -> None:
        super().__init__(id=id)
        self.status = Status()
        self.show_frame_time = show_frame_time

    def set(self, **changes: object) -> None:
        status = replace(self.status, **changes)  # type: ignore[arg-type]
        if status != self.status:
            self.status = status
            self.refresh()

    def render(self) -> Text:
        s = self.status
        if not self.show_frame_time:
            frame = "frame -- ms"
        elif s.frame_ms is None:
            frame = "frame … ms"
        else:
            frame = f"frame {s.frame_ms:.0f} ms"
        parts = [
            s.generator,
            s.device,
            f"seed {s.seed}" if s.seed is not None else "seed -",
            f"step {s.step:g}σ",
        ]
        if s.psi is not None:
            parts.append(f"ψ {s.psi:.1f}")
        if s.frame_bytes and self.show_frame_time:
            frame += f" {s.frame_bytes / 1024:.0f} KiB"
            if s.link_ms is not None:
                frame += f" → {s.link_ms:.0f} ms"
        parts += [frame, s.protocol]
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(" " + " │ ".join(parts), style="bold")
        if s.message:
            text.append(f"  {s.message}", style="italic")
        return text
