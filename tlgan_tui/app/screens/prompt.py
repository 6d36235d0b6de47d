"""A one-line question: a knob's name (teach, rename) or a yes/no confirmation."""

from __future__ import annotations

from collections.abc import Callable

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

Validate = Callable[[str], str | None]  # the text -> an error line, or None when fine


class NamePrompt(ModalScreen[str | None]):
    """Asks for a name; a refused name shows one line and the prompt stays."""

    BINDINGS = [Binding("escape", "cancel", "cancel")]  # noqa: RUF012

    DEFAULT_CSS = """
    NamePrompt { align: center middle; }
    NamePrompt > Vertical {
        width: 60; max-width: 100%; height: auto;
        border: round $accent; padding: 0 1; background: $surface;
    }
    NamePrompt #prompt-error { color: $error; height: auto; }
    """

    def __init__(self, question: str, validate: Validate, value: str = "") -> None:
        super().__init__()
        self.question = question
        self.validate = validate
        self.value = value

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.question, id="prompt-question")
            yield Input(value=self.value, id="prompt-input")
            yield Static("", id="prompt-error")
            yield Static("[dim]enter to accept, escape to cancel[/dim]")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        name = event.value.strip()
        error = self.validate(name)
        if error is not None:
            self.query_one("#prompt-error", Static).update(error)
            return
        self.dismiss(name)

    def action_cancel(self) -> None:
        self.dismiss(None)


class Confirm(ModalScreen[bool]):
    """y confirms, n or escape cancels."""

    BINDINGS = [  # noqa: RUF012
        Binding("y", "answer(True)", "yes"),
        Binding("n,escape", "answer(False)", "no"),
    ]

    DEFAULT_CSS = """
    Confirm { align: center middle; }
    Confirm > Static {
        width: 60; max-width: 100%; height: auto;
        border: round $warning; padding: 0 1; background: $surface;
    }
    """

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        yield Static(f"{self.question}\n[dim]y to confirm, n or escape to keep it[/dim]")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
