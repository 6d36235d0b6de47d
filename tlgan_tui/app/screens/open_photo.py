"""The `o` screen: ask for a photo's path; messages of the projection that follows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Input, Static


class OpenPhotoScreen(ModalScreen[Path | None]):
    """A path input: Enter opens the photo, Escape goes back without one."""

    BINDINGS = [Binding("escape", "close", "close")]  # noqa: RUF012  (Textual's convention)
    DEFAULT_CSS = """
    OpenPhotoScreen { align: center middle; }
    OpenPhotoScreen > Vertical { width: 70; height: auto; border: round $accent;
                                 background: $surface; padding: 0 1; }
    """

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("Edit your own photo: the path of a JPEG/PNG with a face "
                         "(Enter opens it, Escape goes back)")
            yield Input(placeholder="~/photos/me.jpg", id="photo-path")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        self.dismiss(Path(text).expanduser() if text else None)

    def action_close(self) -> None:
        self.dismiss(None)


class ProjectionProgress(Message):
    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


class ProjectionDone(Message):
    """latent is None when the projection was cancelled."""

    def __init__(self, latent: np.ndarray | None, summary: str) -> None:
        super().__init__()
        self.latent = latent
        self.summary = summary
