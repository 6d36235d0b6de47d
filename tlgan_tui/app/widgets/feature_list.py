"""The right pane: one row per feature with its offset, lock and measured value."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.text import Text
from textual.geometry import Region
from textual.widget import Widget

BAR_HALF = 6  # cells each side of zero
BAR_SIGMAS = 3.0  # offset shown at the end of the bar


@dataclass(frozen=True)
class FeatureRow:
    """What one row shows."""

    name: str
    offset: float
    locked: bool
    value: str  # the measured value, "" when the feature has no extractor column
    note: str = ""  # what moving it does (re-scoring), for knobs without a measured value
    section: str = ""  # the heading it is listed under ("" = no headings)


def offset_bar(offset: float, half: int = BAR_HALF, full: float = BAR_SIGMAS) -> Text:
    """A bar centred on zero: filled to the right for +, to the left for -."""
    cells = min(half, round(abs(offset) / full * half)) if offset else 0
    if offset and cells == 0:
        cells = 1  # any non-zero offset shows
    left = right = "─" * half
    if offset < 0:
        left = "─" * (half - cells) + "█" * cells
    elif offset > 0:
        right = "█" * cells + "─" * (half - cells)
    bar = Text()
    colour = "green" if offset > 0 else "magenta"
    for char in left:
        bar.append(char, style=colour if char == "█" else "bright_black")
    bar.append("┼" if not offset else "│", style="bold")
    for char in right:
        bar.append(char, style=colour if char == "█" else "bright_black")
    return bar


class FeatureList(Widget):
    """Renders all rows; the selected one is highlighted and kept in view."""

    DEFAULT_CSS = """
    FeatureList {
        height: auto;
        width: 1fr;
    }
    """

    def __init__(self, rows: Sequence[FeatureRow] = (), *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.rows: list[FeatureRow] = list(rows)
        self.selected = 0
        self.name_width = max((len(r.name) for r in self.rows), default=8)

    def update(self, rows: Sequence[FeatureRow], selected: int) -> None:
        rows = list(rows)
        moved = selected != self.selected
        if rows == self.rows and not moved:
            return
        resized = (self._line_count(rows) != self._line_count(self.rows)
                   or [r.note for r in rows] != [r.note for r in self.rows])
        self.rows = rows
        self.selected = selected
        self.name_width = max((len(r.name) for r in self.rows), default=8)
        self.refresh(layout=resized)
        if moved:
            self.call_after_refresh(self._keep_selected_in_view)

    def _keep_selected_in_view(self) -> None:
        parent = self.parent
        if parent is not None and hasattr(parent, "scroll_to_region"):
            parent.scroll_to_region(  # type: ignore[attr-defined]
                Region(0, self._line_of(self.selected), 1, 1), animate=False, immediate=True)

    @staticmethod
    def _headings(rows: Sequence[FeatureRow]) -> list[str | None]:
        """Per row, the heading drawn above it (None: none)."""
        out: list[str | None] = []
        previous = None
        for row in rows:
            out.append(row.section if row.section and row.section != previous else None)
            previous = row.section
        return out

    def _line_count(self, rows: Sequence[FeatureRow]) -> int:
        return len(rows) + sum(h is not None for h in self._headings(rows))

    def _line_of(self, index: int) -> int:
        return index + sum(h is not None for h in self._headings(self.rows[: index + 1]))

    def natural_width(self, value_width: int = 10) -> int:
        """Cells a row needs: marker, name, lock, bar, offset and value."""
        return 2 + self.name_width + 1 + 2 + (2 * BAR_HALF + 1) + 6 + 2 + value_width

    def get_content_width(self, container: object, viewport: object) -> int:
        notes = max((len(r.note) + 1 for r in self.rows if r.note), default=0)
        return self.natural_width() + notes

    def get_content_height(self, container: object, viewport: object, width: int) -> int:
        return max(1, self._line_count(self.rows))

    def render(self) -> Text:
        lines = Text(no_wrap=True, overflow="ellipsis")
        for i, (row, heading) in enumerate(zip(self.rows, self._headings(self.rows),
                                               strict=True)):
            if heading is not None:
                lines.append(f"{'── ' + heading + ' ':─<{self.name_width + 4}}\n",
                             style="bold bright_black")
            chosen = i == self.selected
            line = Text(no_wrap=True)
            line.append("▶ " if chosen else "  ", style="bold yellow")
            line.append(f"{row.name:<{self.name_width}} ", style="bold" if chosen else "")
            line.append("L " if row.locked else "· ",
                        style="bold black on yellow" if row.locked else "bright_black")
            line.append_text(offset_bar(row.offset))
            line.append(f" {row.offset:+5.2f}", style="bold" if row.offset else "bright_black")
            line.append(f"  {row.value}", style="cyan")
            if row.note:
                line.append(f" {row.note}", style="italic bright_black")
            if chosen:
                line.stylize("on #303040")
            lines.append_text(line)
            if i < len(self.rows) - 1:
                lines.append("\n")
        return lines
