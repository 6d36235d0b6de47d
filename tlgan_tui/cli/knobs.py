"""`tlgan knobs list|rename|delete|export|import|refit`: your taught knobs.

Your knobs live in one file per generator in the user data directory
(`$TLGAN_DATA_DIR` overrides it); every command loads them beside the axes.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tlgan_tui.cli.common import add_generator_options, open_generator
from tlgan_tui.engine.errors import TlganError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "knobs", help="list, rename, delete, export, import or refit your taught knobs",
        description="Manage the knobs you taught (in the editor with `t`, or `tlgan teach`). "
        "They are kept per generator in the user data directory.")
    add_generator_options(parser)
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    actions.add_parser("list", help="your knobs, their answers and accuracy")
    rename = actions.add_parser("rename", help="rename a knob")
    rename.add_argument("old")
    rename.add_argument("new")
    delete = actions.add_parser("delete", help="delete a knob (and its answers)")
    delete.add_argument("name")
    export = actions.add_parser("export", help="write knobs (all, or those named) to a file")
    export.add_argument("names", nargs="*", metavar="NAME")
    export.add_argument("-o", "--output", type=Path, required=True, metavar="FILE")
    imported = actions.add_parser("import", help="add the knobs of a file to yours")
    imported.add_argument("file", type=Path)
    refit = actions.add_parser("refit", help="fit a knob again from its answers")
    refit.add_argument("name")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tlgan_tui.cli.options import shipped_feature_names
    from tlgan_tui.engine.knobs import KnobFile, load_store, store_path

    generator = open_generator(args)
    info = generator.info
    path = store_path(info)
    store = load_store(info)
    if args.action == "list":
        if not store.knobs:
            print(f"no taught knobs for {info.name} yet (press t in the editor, or "
                  "`tlgan teach`)")
            return 0
        print(f"{'knob':<20} {'yes':>4} {'no':>4} {'cv acc':>7}  source")
        for knob in store.knobs:
            n_yes, n_no = knob.counts
            accuracy = knob.meta.get("cv_accuracy")
            text = "-" if accuracy is None else f"{accuracy:.3f}"
            print(f"{knob.name:<20} {n_yes:>4} {n_no:>4} {text:>7}  "
                  f"{knob.meta.get('source', '?')}")
        print(f"({path})")
        return 0
    taken = shipped_feature_names(generator)
    if args.action == "rename":
        store.rename(args.old, args.new, taken)
        store.save(path)
        print(f"renamed {args.old} to {args.new}")
    elif args.action == "delete":
        knob = store.delete(args.name)
        store.save(path)
        print(f"deleted {knob.name} ({len(knob.labels)} answers)")
    elif args.action == "export":
        chosen = [store.get(n) for n in args.names] if args.names else list(store.knobs)
        if not chosen:
            raise TlganError("you have no taught knobs to export")
        out = Path(args.output)
        if out.exists():
            raise TlganError(f"{out} exists; choose another file name")
        KnobFile(store.generator, chosen).save(out)
        print(f"wrote {len(chosen)} knob(s) to {out}")
    elif args.action == "import":
        incoming = KnobFile.load(args.file)
        incoming.check_generator(info, str(args.file))
        for knob in incoming.knobs:  # all or nothing: check every name first
            if store.find(knob.name) is not None or knob.name.lower() in {
                    t.lower() for t in taken}:
                raise TlganError(f"{args.file}: a knob named {knob.name!r} already exists; "
                                 "rename yours first (`tlgan knobs rename`)")
        for knob in incoming.knobs:
            store.add(knob, taken)
        store.save(path)
        print(f"imported {len(incoming.knobs)} knob(s): "
              + ", ".join(k.name for k in incoming.knobs))
    elif args.action == "refit":
        from tlgan_tui.engine.knob_fitting import generator_prior, refit

        knob = store.get(args.name)
        new, fit = refit(knob, generator, generator_prior(generator))
        store.add(new, replace_same=True)
        store.save(path)
        print(f"{new.name}: cross-validated accuracy {fit.cv_accuracy:.3f} "
              f"({fit.n_yes} yes, {fit.n_no} no)")
    return 0
