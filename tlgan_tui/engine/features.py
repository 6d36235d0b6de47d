"""The app's default feature order: TL-GAN's 21 knobs first, then the rest.

TL-GAN's demo showed 21 knobs in a fixed order (REFERENCE.md §1). Each knob is
found among the loaded features by its TL-GAN name or, failing that, by the
name a loaded extractor gives it: `Hairline` is CelebA's `Receding_Hairline`,
`Age` is the default extractor's `Age` (years) or else the CelebA extractor's
`Old` (= 1 - p(Young)), `Male` is the default extractor's `Male` or else
`CelebA_Male`, `Smiling` the default's face-api "happy" or else CelebA's,
`Mouth_Open` the default's measured `Mouth_Opening` or else CelebA's
`Mouth_Slightly_Open`. Matching is case-insensitive; names keep their own spelling.
"""

from __future__ import annotations

from collections.abc import Sequence

# (knob label, names that provide it, most preferred first)
TLGAN_KNOBS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Male", ("Male", "CelebA_Male")),
    ("Age", ("Age", "Old")),
    ("Skin_Tone", ("Skin_Tone",)),
    ("Bangs", ("Bangs",)),
    ("Hairline", ("Hairline", "Receding_Hairline")),
    ("Bald", ("Bald",)),
    ("Big_Nose", ("Big_Nose",)),
    ("Pointy_Nose", ("Pointy_Nose",)),
    ("Makeup", ("Makeup", "Heavy_Makeup")),
    ("Smiling", ("Smiling", "CelebA_Smiling")),
    ("Mouth_Open", ("Mouth_Open", "Mouth_Opening", "Mouth_Slightly_Open")),
    ("Wavy_Hair", ("Wavy_Hair",)),
    ("Beard", ("Beard",)),
    ("Goatee", ("Goatee",)),
    ("Sideburns", ("Sideburns",)),
    ("Blond_Hair", ("Blond_Hair",)),
    ("Black_Hair", ("Black_Hair",)),
    ("Gray_Hair", ("Gray_Hair",)),
    ("Eyeglasses", ("Eyeglasses",)),
    ("Earrings", ("Earrings", "Wearing_Earrings")),
    ("Necktie", ("Necktie", "Wearing_Necktie")),
)


def tlgan_knobs(names: Sequence[str]) -> list[tuple[str, str]]:
    """(knob label, the name in `names` that provides it) for each knob present, in order."""
    index: dict[str, str] = {}
    for name in names:
        index.setdefault(name.lower(), name)
    used: set[str] = set()
    found: list[tuple[str, str]] = []
    for label, candidates in TLGAN_KNOBS:
        for candidate in candidates:
            name = index.get(candidate.lower())
            if name is not None and name.lower() not in used:
                used.add(name.lower())
                found.append((label, name))
                break
    return found


def ordered_feature_names(names: Sequence[str]) -> list[str]:
    """`names` reordered: TL-GAN's knobs first (those present, in TL-GAN's order),
    then every other name in its original order. Nothing is dropped or renamed."""
    first = [name for _, name in tlgan_knobs(names)]
    taken = {name.lower() for name in first}
    rest: list[str] = []
    for name in names:
        if name.lower() in taken:
            taken.discard(name.lower())  # a repeated name (should not happen) stays in `rest`
            continue
        rest.append(name)
    return first + rest


def knob_label(name: str, names: Sequence[str]) -> str:
    """The TL-GAN label shown for feature `name` (e.g. `Hairline` for
    `Receding_Hairline`), or `name` itself when it is not one of the knobs."""
    for label, provider in tlgan_knobs(names):
        if provider.lower() == name.lower():
            return label
    return name
