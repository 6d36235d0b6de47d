"""TL-GAN's 21 knobs first, in TL-GAN's order; everything else after, untouched."""

from __future__ import annotations

from tlgan_tui.engine.extractors.celeba import CELEBA_ATTRIBUTES, feature_names
from tlgan_tui.engine.features import (
    TLGAN_KNOBS,
    knob_label,
    ordered_feature_names,
    tlgan_knobs,
)

TLGAN_ORDER = [
    "Male", "Age", "Skin_Tone", "Bangs", "Hairline", "Bald", "Big_Nose", "Pointy_Nose",
    "Makeup", "Smiling", "Mouth_Open", "Wavy_Hair", "Beard", "Goatee", "Sideburns",
    "Blond_Hair", "Black_Hair", "Gray_Hair", "Eyeglasses", "Earrings", "Necktie",
]


def test_the_knob_table_is_tlgans_21_in_order() -> None:
    assert [label for label, _ in TLGAN_KNOBS] == TLGAN_ORDER


def test_default_plus_celeba_puts_the_21_knobs_first_with_the_default_male_and_age() -> None:
    names = ["Male", "Age", *feature_names()]
    ordered = ordered_feature_names(names)
    assert ordered[:21] == [
        "Male", "Age", "Skin_Tone", "Bangs", "Receding_Hairline", "Bald", "Big_Nose",
        "Pointy_Nose", "Heavy_Makeup", "CelebA_Smiling", "Mouth_Slightly_Open", "Wavy_Hair",
        "Beard", "Goatee", "Sideburns", "Blond_Hair", "Black_Hair", "Gray_Hair",
        "Eyeglasses", "Wearing_Earrings", "Wearing_Necktie",
    ]
    # Nothing lost, nothing repeated; the rest keeps its order.
    assert sorted(ordered) == sorted(names)
    rest = ordered[21:]
    assert rest == [n for n in names if n not in set(ordered[:21])]
    assert {"CelebA_Male", "Old", "Young", "No_Beard", "Pale_Skin"} <= set(rest)
    assert [knob_label(n, names) for n in ordered[:21]] == TLGAN_ORDER


def test_the_default_extractor_provides_smiling_and_mouth_open_beside_celeba() -> None:
    from tlgan_tui.engine.extractors.face_features import FaceFeatures

    names = [f.name for f in FaceFeatures.features] + list(feature_names())
    knobs = dict(tlgan_knobs(names))
    assert knobs["Male"] == "Male" and knobs["Age"] == "Age"
    assert knobs["Smiling"] == "Smiling" and knobs["Mouth_Open"] == "Mouth_Opening"
    ordered = ordered_feature_names(names)
    assert ordered.index("Smiling") < ordered.index("Mouth_Opening") < ordered.index("Wavy_Hair")
    assert sorted(ordered) == sorted(names)


def test_celeba_alone_falls_back_to_its_own_male_and_old() -> None:
    ordered = ordered_feature_names(list(feature_names()))
    assert ordered[:2] == ["CelebA_Male", "Old"]
    assert len(ordered) == len(CELEBA_ATTRIBUTES) + 3


def test_default_extractor_alone_keeps_male_and_age() -> None:
    assert ordered_feature_names(["Age", "Male"]) == ["Male", "Age"]
    assert ordered_feature_names([]) == []


def test_matching_is_case_insensitive_and_keeps_the_spelling() -> None:
    names = ["smiling", "Custom", "BANGS", "male"]
    assert ordered_feature_names(names) == ["male", "BANGS", "smiling", "Custom"]
    assert tlgan_knobs(names) == [("Male", "male"), ("Bangs", "BANGS"), ("Smiling", "smiling")]
    assert knob_label("Custom", names) == "Custom"


def test_tlgan_names_win_over_celeba_names_when_both_exist() -> None:
    names = ["Receding_Hairline", "Hairline"]
    assert ordered_feature_names(names) == ["Hairline", "Receding_Hairline"]
