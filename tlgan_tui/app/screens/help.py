"""The `?` screen: every key the editor understands."""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

# (keys, what they do); the main screen's bindings are built from the same words.
HELP_KEYS: tuple[tuple[str, str], ...] = (
    ("↑ ↓  k j", "select a feature"),
    ("→ ←  l h  + -", "move the feature by one step"),
    ("shift+→ shift+←", "move it by five steps"),
    ("space", "lock / unlock the feature (a locked feature never moves)"),
    ("0", "reset the selected feature"),
    ("R", "reset all unlocked features"),
    ("r", "a new random face"),
    ("u", "undo"),
    ("ctrl+r", "redo"),
    ("[  ]", "halve / double the step"),
    ("p  P", "lower / raise truncation ψ by 0.1 (w-space generators)"),
    ("s", "save a snapshot PNG (full resolution, reproducible)"),
    ("g", "save an animated GIF of the edit history"),
    ("t", "teach a knob: y / n / s(kip) per face, u undoes, escape when done"),
    ("n", "rename a taught knob, or turn a direction into a named knob"),
    ("x", "delete a taught knob"),
    ("/", "filter the feature list (escape clears it)"),
    ("o", "edit your own photo: find its face and its latent (Escape cancels)"),
    ("?", "this help"),
    ("q", "quit (the session is saved; `tlgan --resume` brings it back)"),
)


class HelpScreen(ModalScreen[None]):
    """Lists the keys; any of escape, q or ? closes it."""

    BINDINGS = [  # noqa: RUF012  (Textual's convention)
        Binding("escape,q,question_mark", "close", "close"),
    ]

    DEFAULT_CSS = """
    HelpScreen {
        align: center middle;
    }
    HelpScreen > Vertical {
        width: 76;
        max-width: 100%;
        height: auto;
        border: round $accent;
        padding: 0 1;
        background: $surface;
    }
    """

    def __init__(self, keys: Sequence[tuple[str, str]] = HELP_KEYS) -> None:
        super().__init__()
        self.keys = tuple(keys)

    def compose(self) -> ComposeResult:
        table = Table(box=None, show_header=False, pad_edge=False)
        table.add_column(style="bold yellow", no_wrap=True)
        table.add_column()
        for keys, what in self.keys:
            table.add_row(keys, what)
        with Vertical():
            yield Static("[b]tlgan — keys[/b]", id="help-title")
            yield Static(table, id="help-table")
            yield Static("[dim]escape, q or ? to close[/dim]", id="help-close")

    def action_close(self) -> None:
        self.dismiss(None)
