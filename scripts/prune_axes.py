"""Drop knobs from an axes file that failed the edit-quality rule, keeping its provenance.

Dev-time tool for the shipped axes: `tlgan fit` fits every feature the
extractors measure; `benchmarks/editing_quality.py` then says which knobs do
not move what they name (under 75% of seeds the right way); this writes the
file without them and records what was dropped and why in its metadata.

    python scripts/prune_axes.py FIT.axes.safetensors --drop Angry --drop Fearful \\
        --why "under 75% of 64 seeds the right way (benchmarks/results/...)" -o OUT
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tlgan_tui.engine.axes import FeatureAxes
from tlgan_tui.engine.axes_edits import without_row


def prune(axes: FeatureAxes, drop: list[str], why: str) -> FeatureAxes:
    fitted = list(axes.names)
    for name in drop:
        axes = without_row(axes, axes.index(name))
    kept = set(axes.names)
    info = dict(axes.info)
    rescoring = info.get("rescoring")
    if isinstance(rescoring, dict) and len(rescoring.get("table", [])) == len(fitted):
        # One re-scoring row per axis of the fit, in its order.
        info["rescoring"] = dict(rescoring, table=[
            row for name, row in zip(fitted, rescoring["table"], strict=True) if name in kept])
    if isinstance(info.get("metrics"), dict):
        info["metrics"] = {k: v for k, v in info["metrics"].items() if k in kept}
    earlier = info.get("pruned")
    if isinstance(earlier, dict) and isinstance(earlier.get("fitted_axes"), list):
        # Pruned before: keep the fit's full list and every earlier reason.
        info["pruned"] = {"fitted_axes": earlier["fitted_axes"],
                          "dropped": [*earlier.get("dropped", []), *drop],
                          "why": f"{earlier.get('why', '')}; then {why}"}
    else:
        info["pruned"] = {"fitted_axes": fitted, "dropped": list(drop), "why": why}
    return FeatureAxes(axes.names, axes.kinds, axes.directions, axes.sigmas, info)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("axes", type=Path)
    parser.add_argument("--drop", action="append", default=[], metavar="NAME")
    parser.add_argument("--why", required=True)
    parser.add_argument("-o", "--output", type=Path, required=True)
    args = parser.parse_args()
    pruned = prune(FeatureAxes.load(args.axes), args.drop, args.why)
    pruned.save(args.output)
    print(f"wrote {args.output}: {len(pruned.names)} axes, dropped {', '.join(args.drop)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
