"""Per-layer (W+) latents: edit states, sessions, snapshots, StyleGAN synthesis, `--latent w+`.

Edit-state and session tests use small random latents (no generator); the
generator and the command need the shipped FFHQ model (slow).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tlgan_tui.engine.edit_state import EditState
from tlgan_tui.engine.session import History, Session

LAYERS, DIM, K = 5, 16, 3


def _axes() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    d = rng.standard_normal((K, DIM))
    return d / np.linalg.norm(d, axis=1, keepdims=True), np.array([1.0, 2.0, 0.5])


def _layered(seed: int = 0) -> EditState:
    start = np.random.default_rng(seed).standard_normal((LAYERS, DIM)).astype(np.float32)
    return EditState.fresh(start, K)


def test_an_edit_moves_every_layer_by_the_same_step() -> None:
    directions, sigmas = _axes()
    state = _layered()
    moved = state.set_offset(1, 1.5).latent(directions, sigmas)
    assert moved.shape == (LAYERS, DIM)
    step = moved - state.start
    np.testing.assert_allclose(step, np.tile(1.5 * 2.0 * directions[1], (LAYERS, 1)),
                               atol=1e-5)
    # Locking re-bases on the per-layer latent: the face does not jump.
    locked = state.set_offset(1, 1.5).toggle_lock(0, directions, sigmas)
    np.testing.assert_allclose(locked.latent(directions, sigmas), moved, atol=1e-6)


def test_layered_state_round_trips_and_one_latent_states_read_as_before() -> None:
    directions, sigmas = _axes()
    state = _layered().set_offset(0, -2.0).toggle_lock(2, directions, sigmas).move(1, 0.4)
    data = state.to_dict()
    assert data["layers"] == LAYERS
    again = EditState.from_dict(data, DIM, K)
    assert again.same_as(state)
    np.testing.assert_array_equal(again.latent(directions, sigmas),
                                  state.latent(directions, sigmas))
    plain = EditState.fresh(np.ones(DIM, np.float32), K)
    assert "layers" not in plain.to_dict()
    assert EditState.from_dict(plain.to_dict(), DIM, K).start.shape == (DIM,)
    for bad in (0, LAYERS + 1, "5", True):
        with pytest.raises(ValueError):
            EditState.from_dict(dict(data, layers=bad), DIM, K)


def test_session_with_layered_and_plain_states_resumes_exactly(tmp_path: Path) -> None:
    layered = _layered(1).set_offset(0, 1.0)
    plain = layered.with_start(np.zeros(DIM, np.float32), seed=4)  # a new random face
    history = History([_layered(1), layered, plain], index=1)
    session = Session(history=history,
                      generator={"path": None, "sha256": "ab" * 32, "ident": "g", "name": "G"},
                      axes={"path": None, "sha256": "cd" * 32, "ident": "a",
                            "names": ["Male", "Age", "Smiling"]})
    again = Session.from_json(session.to_json())
    assert again.history.index == 1
    assert [s.start.shape for s in again.history.states] == [(LAYERS, DIM)] * 2 + [(DIM,)]
    for mine, theirs in zip(again.history.states, history.states, strict=True):
        assert mine.same_as(theirs)


def test_stylegan2_per_layer_latent_matches_upstream_layout(tmp_path: Path) -> None:
    import generators_fixtures as fx
    import torch

    from tlgan_tui.engine.generators.loading import load_generator

    net = fx.make_ada_generator(resolution=32, seed=3)
    fx.write_ada_pickle(tmp_path / "network-snapshot-000100.pkl", net)
    generator = load_generator(tmp_path / "network-snapshot-000100.pkl", torch.device("cpu"))
    assert generator.num_ws == 8  # 4..32 px: 7 convs + the last ToRGB's
    ws = np.stack([generator.sample(generator.num_ws, seed) for seed in (1, 2)])
    with torch.no_grad():
        mine = generator.synthesis(torch.from_numpy(ws))
        upstream = fx.ref_synthesis(net, torch.from_numpy(ws))
        one_w = generator.synthesis(torch.from_numpy(ws[:, 0]))
    torch.testing.assert_close(mine, upstream, atol=1e-4, rtol=1e-3)
    assert (mine - one_w).abs().mean() > 1e-2  # the layers are really used apart


# -- the FFHQ generator (slow) ---------------------------------------------------------
@pytest.fixture(scope="module")
def ffhq():  # type: ignore[no-untyped-def]
    import torch

    from tlgan_tui.engine.generators.loading import load_generator
    from tlgan_tui.engine.paths import shipped_generator

    shipped = shipped_generator("ffhq")
    assert shipped is not None
    return load_generator(shipped.weights_path, torch.device("cpu"))


@pytest.mark.slow
def test_per_layer_latent_renders_like_one_w_until_a_layer_differs(ffhq) -> None:  # type: ignore[no-untyped-def]
    w = ffhq.latent_for_seed(2)
    layers = np.tile(w, (ffhq.num_ws, 1))
    assert ffhq.fits(w) and ffhq.fits(layers) and not ffhq.fits(layers[:-1])
    one, per_layer = ffhq.synthesize(np.stack([w]), size=128), ffhq.synthesize(
        layers[None], size=128)
    np.testing.assert_array_equal(one, per_layer)
    coarse = layers.copy()
    coarse[:3] = ffhq.latent_for_seed(5)  # the coarse layers of another face
    mixed = ffhq.synthesize(coarse[None], size=128)
    assert np.abs(mixed.astype(float) - one).mean() > 5


@pytest.mark.slow
def test_project_w_plus_snapshot_reopens_and_rerenders_exactly(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import textual_image

    from tlgan_tui.engine.export import read_snapshot

    photo = Path(textual_image.__file__).parent / "gracehopper.jpg"
    if not photo.is_file():
        pytest.skip("textual-image's photo is absent")
    out = tmp_path / "me.png"
    code, _, err = run_cli("project", photo, "--generator", "ffhq", "--latent", "w+",
                           "--steps", "6", "--size", "128", "-o", out)
    assert code == 0, err
    snapshot = read_snapshot(out)
    assert snapshot.latent.ndim == 2 and snapshot.latent.shape[1] == 512
    assert snapshot.raw["projection"]["latent"] == "w+"
    assert np.ptp(snapshot.latent, axis=0).max() > 0  # the layers really differ
    code, _, err = run_cli("render", "--from", out, "-o", tmp_path / "again.png")
    assert code == 0, err
    np.testing.assert_array_equal(np.asarray(Image.open(out)),
                                  np.asarray(Image.open(tmp_path / "again.png")))
    # An edit through render --from moves the per-layer face.
    code, _, err = run_cli("render", "--from", out, "--set", "Smiling=2",
                           "-o", tmp_path / "smile.png")
    assert code == 0, err
    smiled = read_snapshot(tmp_path / "smile.png")
    assert smiled.latent.shape == snapshot.latent.shape
    assert not np.array_equal(smiled.latent, snapshot.latent)
    # `tlgan --from` opens the per-layer face.
    from tlgan_tui.app.renderers import resolve_renderer
    from tlgan_tui.cli import build_parser
    from tlgan_tui.cli.edit import build_config

    args = build_parser().parse_args(["edit", "--from", str(out), "--generator", "ffhq",
                                      "--session", str(tmp_path / "s.json"),
                                      "--renderer", "halfcell"])
    config = build_config(args, resolve_renderer("halfcell"))
    np.testing.assert_array_equal(config.history.current.start, snapshot.latent)


def test_w_plus_on_a_one_latent_generator_is_one_line(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    Image.new("RGB", (300, 300), (120, 120, 120)).save(tmp_path / "grey.png")
    code, _, err = run_cli("project", tmp_path / "grey.png", "--generator", "digiface",
                           "--latent", "w+", "-o", tmp_path / "o.png")
    assert code == 2 and "w+" in err and err.count("\n") == 1
