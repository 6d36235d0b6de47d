"""`tlgan edit` (and plain `tlgan`): the keyboard-driven face editor."""

from __future__ import annotations

import argparse
import os
import random
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from tlgan_tui.app import RENDERER_CHOICES
from tlgan_tui.app.pacing import DEFAULT_MAX_FPS, QUALITIES, check_max_fps
from tlgan_tui.cli.common import (
    add_extractor_options,
    add_generator_options,
    open_generator,
    use_axes_of,
    use_generator_of,
)
from tlgan_tui.engine.errors import TlganError
from tlgan_tui.engine.paths import shipped_generator

if TYPE_CHECKING:
    from tlgan_tui.app.app import AppConfig, TlganApp
    from tlgan_tui.app.renderers import Renderer
    from tlgan_tui.engine.axes import FeatureAxes
    from tlgan_tui.engine.generators.base import Generator
    from tlgan_tui.engine.session import History, Session

PLACEHOLDER_FEATURES = (("Male", "probability"), ("Age", "continuous"))
PLACEHOLDER_DIRECTIONS = 8


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "edit", help="open the face editor (the default command)",
        description="Edit a face from the keyboard: arrows move a feature, space locks it, "
        "r draws a new face, u undoes, s saves a snapshot, ? lists every key.")
    add_edit_options(parser)
    parser.set_defaults(func=run)


def add_edit_options(parser: argparse.ArgumentParser) -> None:
    add_generator_options(parser)
    add_extractor_options(parser)
    parser.add_argument("--axes", type=Path, metavar="PATH",
                        help="feature axes file from `tlgan fit` (default: the shipped one)")
    from tlgan_tui.cli.options import add_knobs_option

    add_knobs_option(parser)
    parser.add_argument("--pca", type=int, default=5, metavar="K",
                        help="GANSpace directions (principal components of the latents) "
                        "shown in their own section (default 5; 0 for none)")
    parser.add_argument("--seed", type=int, help="the face to start from (default: random)")
    parser.add_argument("--renderer", choices=RENDERER_CHOICES, default="auto",
                        help="how to draw the face (default: ask the terminal)")
    parser.add_argument("--max-fps", type=check_max_fps, default=DEFAULT_MAX_FPS, metavar="N",
                        help="most faces drawn per second (default: %(default)g); over SSH "
                        "a new face is also never sent before the last one arrived")
    parser.add_argument("--quality", choices=QUALITIES, default="auto",
                        help="the face shown once keys stop: full, the cheaper preview "
                        "(slow links), or auto: full unless the measured link is too slow "
                        "(default: auto)")
    parser.add_argument("--out-dir", type=Path, default=Path("tlgan-snapshots"), metavar="DIR",
                        help="where `s` and `g` write (default: ./tlgan-snapshots/)")
    parser.add_argument("--session", type=Path, metavar="FILE",
                        help="session file (default: session.json in the user state directory)")
    start = parser.add_mutually_exclusive_group()
    start.add_argument("--resume", action="store_true",
                       help="reopen the last session exactly (after a crash or lost connection)")
    start.add_argument("--from", dest="from_snapshot", type=Path, metavar="SNAPSHOT.png",
                       help="open the face and offsets saved in a snapshot PNG")


def run(args: argparse.Namespace) -> int:
    if not sys.stdin.isatty():
        # Textual would wait forever for keys that cannot come (and spin a core).
        raise TlganError("the editor needs a terminal: standard input is not a TTY "
                         "(use `tlgan render` to make images without one)")
    app = build_app(args)
    if app.engine.generator.device.type == "cpu":
        use_cpu_threads_for_app()
    app.run()
    return 0


def use_cpu_threads_for_app() -> None:
    """Leave one core to the UI thread: on a 2-core box torch's second thread
    (and its spinning) costs the terminal more than it gains the forward pass."""
    import torch

    cores = os.cpu_count() or 1
    torch.set_num_threads(max(1, min(4, cores - 1)))


def placeholder_axes(latent_dim: int, seed: int = 0) -> FeatureAxes:
    """Random unit directions, until `tlgan fit` has produced the real axes file."""
    import numpy as np

    from tlgan_tui.engine.axes import FeatureAxes

    names = [name for name, _ in PLACEHOLDER_FEATURES]
    kinds = [kind for _, kind in PLACEHOLDER_FEATURES]
    names += [f"Direction {i + 1}" for i in range(PLACEHOLDER_DIRECTIONS)]
    kinds += ["direction"] * PLACEHOLDER_DIRECTIONS
    rng = np.random.default_rng(seed)
    directions = rng.standard_normal((len(names), latent_dim))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    return FeatureAxes(names, kinds, directions, np.ones(len(names)),
                       info={"method": "placeholder (random directions)"})


def open_axes(path: Path | None, generator: Generator,
              notices: list[tuple[str, str]]) -> tuple[FeatureAxes, Path | None]:
    from tlgan_tui.engine.axes import FeatureAxes
    from tlgan_tui.engine.paths import shipped_axes_for

    if path is None:
        shipped = shipped_axes_for(generator.info.sha256)
        if shipped is None:
            notices.append(("no fitted axes for this generator yet (run `tlgan fit`): the "
                            "features are random placeholder directions", "warning"))
            return placeholder_axes(generator.latent_dim), None
        return shipped, None
    axes = FeatureAxes.load(path)
    axes.check_generator(generator.info, str(path))
    return axes, path.resolve()


def add_directions_and_knobs(axes: FeatureAxes, generator: Generator,
                             args: argparse.Namespace) -> FeatureAxes:
    """The axes plus GANSpace directions, the user's taught knobs and --knobs files."""
    from tlgan_tui.cli.options import with_knobs
    from tlgan_tui.engine.directions import with_ganspace

    if not 0 <= args.pca <= 64:
        raise TlganError("--pca must be between 0 and 64")
    axes = with_knobs(axes, generator, list(args.knobs))
    return with_ganspace(without_renamed_directions(axes), generator, args.pca)


def without_renamed_directions(axes: FeatureAxes) -> FeatureAxes:
    """Drop SeFa directions the user renamed into knobs (`n`), so none shows twice."""
    import numpy as np

    from tlgan_tui.engine.axes_edits import without_row
    from tlgan_tui.engine.knobs import TAUGHT

    taught = axes.directions[[k == TAUGHT for k in axes.kinds]]
    if not len(taught):
        return axes
    for index in reversed(range(len(axes.names))):
        if (axes.kinds[index] == "direction"
                and np.abs(taught @ axes.directions[index]).max() > 0.999):
            axes = without_row(axes, index)
    return axes


def _resumable(path: Path, notices: list[tuple[str, str]]) -> Session | None:
    from tlgan_tui.engine.session import CorruptSessionError, load_session, set_aside

    if not path.is_file():
        notices.append((f"no session to resume at {path}: starting fresh", "warning"))
        return None
    try:
        return load_session(path)
    except CorruptSessionError as error:
        kept = set_aside(path, "corrupt")
        notices.append((f"could not resume: {error}. The file is kept as {kept}; "
                        "starting fresh.", "error"))
        return None


def _history_from_session(session: Session, generator: Generator,
                          axes: FeatureAxes) -> History:
    made_with = session.generator.get("sha256")
    if made_with and made_with != generator.info.sha256:
        raise TlganError(
            f"the session was made with generator {session.generator.get('name', '?')} "
            f"({session.generator.get('ident', made_with[:16])}), not {generator.info.name} "
            f"({generator.info.ident}); pass the same --generator, or start without --resume")
    names = [str(n).lower() for n in session.axes.get("names", [])]
    if names != [n.lower() for n in axes.names]:
        raise TlganError("the session was made with other feature axes "
                         f"({', '.join(session.axes.get('names', []))}); pass the same --axes, "
                         "or start without --resume")
    if not all(generator.fits(state.start) for state in session.history.states):
        raise TlganError("the session's latents do not fit this generator")
    return session.history


def _history_from_snapshot(path: Path, generator: Generator, axes: FeatureAxes,
                           notices: list[tuple[str, str]]) -> History:
    from tlgan_tui.engine.edit_state import EditState
    from tlgan_tui.engine.export import read_snapshot
    from tlgan_tui.engine.session import History

    snapshot = read_snapshot(path)
    made_with = snapshot.generator.get("sha256")
    if made_with and made_with != generator.info.sha256:
        raise TlganError(
            f"{path} was made with generator {snapshot.generator.get('name', '?')} "
            f"({snapshot.generator.get('ident', made_with[:16])}), not {generator.info.name}; "
            "pass the same --generator")
    if not generator.fits(snapshot.latent):
        raise TlganError(f"{path}: its latent does not fit this generator")
    made_with_axes = snapshot.axes.get("sha256")
    if made_with_axes and axes.sha256 and made_with_axes != axes.sha256:
        raise TlganError(
            f"{path} was edited with feature axes {snapshot.axes.get('ident', '?')}, "
            f"not {axes.ident}; pass --axes with the axes file it was made with")
    if [f.lower() for f in snapshot.features] == [n.lower() for n in axes.names]:
        return History([snapshot.edit_state(len(axes.names))])
    notices.append((f"{path.name} was edited with other features; opening its face with "
                    "all offsets at zero", "warning"))
    psi = snapshot.state.get("psi")
    return History([EditState.fresh(snapshot.latent, len(axes.names), seed=None,
                                    psi=None if psi is None else float(psi))])


def build_config(args: argparse.Namespace, renderer: Renderer | None = None) -> AppConfig:
    """Everything the app needs, from the command line (no terminal needed)."""
    import torch

    from tlgan_tui.app.app import AppConfig
    from tlgan_tui.app.renderers import resolve_renderer
    from tlgan_tui.cli.common import open_extractors
    from tlgan_tui.engine.edit_state import EditState
    from tlgan_tui.engine.session import History, default_session_path

    notices: list[tuple[str, str]] = []
    out_dir = Path(args.out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise TlganError(f"--out-dir {out_dir} is a file, not a directory")
    session_path = Path(args.session) if args.session else default_session_path()
    if session_path.exists() and not session_path.is_file():
        raise TlganError(f"--session {session_path} exists and is not a regular file")
    session = _resumable(session_path, notices) if args.resume else None
    if session is not None:
        if args.generator is None and session.generator.get("path"):
            args.generator = Path(session.generator["path"])
        use_generator_of(args, session.generator.get("sha256"))
        if args.axes is None and session.axes.get("path"):
            args.axes = Path(session.axes["path"])
        use_axes_of(args, session.axes.get("sha256"))

    elif args.from_snapshot is not None and Path(args.from_snapshot).is_file():
        from tlgan_tui.engine.export import read_snapshot

        made_with = read_snapshot(Path(args.from_snapshot))
        use_generator_of(args, made_with.generator.get("sha256"))
        use_axes_of(args, made_with.axes.get("sha256"))
    generator = open_generator(args)
    axes, axes_path = open_axes(args.axes, generator, notices)
    axes = add_directions_and_knobs(axes, generator, args)

    step = 0.4
    selected = 0
    if session is not None:
        history = _history_from_session(session, generator, axes)
        step, selected = session.step, session.selected
    elif args.from_snapshot is not None:
        history = _history_from_snapshot(Path(args.from_snapshot), generator, axes, notices)
    else:
        seed = args.seed if args.seed is not None else random.randrange(10_000)
        history = History([EditState.fresh(generator.latent_for_seed(seed), len(axes.names),
                                           seed, generator.psi)])
    state_psi = history.current.psi
    if generator.psi is not None and state_psi is not None and state_psi != generator.psi:
        generator.set_psi(state_psi)

    if session is None and session_path.is_file():
        # A fresh start replaces the last session: keep one copy of it.
        os.replace(session_path, session_path.with_name(session_path.name + ".previous"))

    def cpu_generator() -> Generator:
        return open_generator(argparse.Namespace(**{**vars(args), "device": "cpu"}))

    # Shipped generators are stored as None (found again by their sha256).
    shipped = args.generator is None or shipped_generator(str(args.generator)) is not None
    generator_path = None if shipped else Path(args.generator).resolve()
    renderer = renderer or resolve_renderer(args.renderer)
    if renderer.note:
        notices.append((renderer.note, "warning"))
    return AppConfig(
        generator=generator,
        axes=axes,
        renderer=renderer,
        history=history,
        step=step,
        selected=selected,
        out_dir=Path(args.out_dir),
        session_path=session_path,
        generator_path=generator_path,
        axes_path=axes_path,
        extractor_factory=lambda: open_extractors(args),
        cpu_fallback=cpu_generator if generator.device != torch.device("cpu") else None,
        notices=notices,
        max_fps=args.max_fps,
        quality=args.quality,
    )


# Textual repaints on a timer (60 Hz by default) after something changed; a
# new face would wait up to 17 ms for the next tick. Repaints only happen when
# something changed, so a faster tick costs nothing while the user is idle.
TEXTUAL_FPS = "240"


def build_app(args: argparse.Namespace, renderer: Renderer | None = None) -> TlganApp:
    # Read by Textual when it is first imported (the user's own setting wins).
    os.environ.setdefault("TEXTUAL_FPS", TEXTUAL_FPS)
    # textual_image asks the terminal about graphics and cell size when it is
    # first imported (by the renderers); that must happen before the app reads stdin.
    import tlgan_tui.app.renderers  # noqa: F401
    from tlgan_tui.app.app import TlganApp

    return TlganApp(build_config(args, renderer))
