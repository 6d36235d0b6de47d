"""Known-answer checks of the generator building blocks."""

from __future__ import annotations

import math

import generators_fixtures as fx
import pytest
import torch
import torch.nn.functional as F

from tlgan_tui.engine.generators.layers import (
    binomial_filter,
    equalized_scale,
    lrelu_gain,
    modulated_conv2d,
    pixel_norm,
    upfirdn2d,
    upsample2d,
)
from tlgan_tui.engine.generators.pggan import convert_gan_zoo, convert_tf_pggan


def test_pixel_norm_known_answer() -> None:
    x = torch.tensor([[3.0, 4.0]])
    expected = torch.tensor([[3.0, 4.0]]) / math.sqrt(12.5 + 1e-8)
    torch.testing.assert_close(pixel_norm(x), expected)
    maps = torch.tensor([3.0, 4.0]).reshape(1, 2, 1, 1).expand(1, 2, 2, 2)
    torch.testing.assert_close(pixel_norm(maps)[0, :, 1, 1], expected[0])
    assert pixel_norm(torch.randn(5, 512)).square().mean(1).sub(1).abs().max() < 1e-4


def test_equalized_lr_constants() -> None:
    assert equalized_scale((8, 4, 3, 3)) == pytest.approx(math.sqrt(2) / 6)
    assert equalized_scale((16, 512), gain=1.0) == pytest.approx(1 / math.sqrt(512))
    # pytorch_GAN_zoo: the wrapped layer runs WITH its bias, then everything is scaled.
    state = {
        "formatLayer.module.weight": torch.ones(16 * 2, 8),
        "formatLayer.module.bias": torch.full((32,), 3.0),
        "groupScale0.0.module.weight": torch.ones(2, 2, 3, 3),
        "groupScale0.0.module.bias": torch.zeros(2),
        "toRGBLayers.0.module.weight": torch.ones(3, 2, 1, 1),
        "toRGBLayers.0.module.bias": torch.zeros(3),
    }
    _cfg, out = convert_gan_zoo(state)
    x = torch.ones(1, 8)
    y = F.linear(x, out["dense.weight"], out["dense.bias"])
    torch.testing.assert_close(y, torch.full((1, 32), (8.0 + 3.0) * math.sqrt(2 / 8)))
    torch.testing.assert_close(out["torgb.0.weight"], torch.full((3, 2, 1, 1), math.sqrt(2 / 2)))


def test_tf_pggan_wscale_and_layout() -> None:
    variables = {name: value for name, value in fx.make_tf_pggan_variables(channels=(4, 2))}
    variables["4x4/Dense/weight"][:] = 1.0
    variables["4x4/Dense/bias"][:] = [0.0, 1.0, 2.0, 3.0]
    _cfg, out = convert_tf_pggan(variables)
    latent = variables["4x4/Dense/weight"].shape[0]
    # dense gain sqrt(2)/4, bias added per channel after the reshape to (c, 4, 4)
    torch.testing.assert_close(out["dense.weight"],
                               torch.full((64, latent), math.sqrt(2) / 4 / math.sqrt(latent)))
    torch.testing.assert_close(out["dense.bias"].reshape(4, 16)[:, 0], torch.arange(4.0))
    kernel = variables["8x8/Conv0/weight"]  # [k, k, in, out]
    torch.testing.assert_close(out["blocks.0.conv0.weight"][1, 3, 0, 2],
                               torch.tensor(float(kernel[0, 2, 3, 1]) * math.sqrt(2) / 6))
    # toRGB gain 1
    rgb = variables["ToRGB_lod0/weight"]
    torch.testing.assert_close(out["torgb.1.weight"][2, 1, 0, 0],
                               torch.tensor(float(rgb[0, 0, 1, 2]) / math.sqrt(2)))


def test_lrelu_gain() -> None:
    torch.testing.assert_close(lrelu_gain(torch.tensor([-1.0, 2.0])),
                               torch.tensor([-0.2, 2.0]) * math.sqrt(2))


def test_binomial_filter() -> None:
    f = binomial_filter()
    torch.testing.assert_close(f, torch.outer(torch.tensor([1.0, 3, 3, 1]),
                                              torch.tensor([1.0, 3, 3, 1])) / 64)


def test_upfirdn_upsample_known_answers() -> None:
    f = binomial_filter()
    # A constant image stays constant (gain 4 makes up for the inserted zeros).
    out = upsample2d(torch.full((1, 2, 4, 4), 5.0), f)
    assert out.shape == (1, 2, 8, 8)
    torch.testing.assert_close(out[..., 2:-2, 2:-2], torch.full((1, 2, 4, 4), 5.0))
    # An impulse spreads into the (separable) filter times 4.
    impulse = torch.zeros(1, 1, 4, 4)
    impulse[0, 0, 1, 1] = 1.0
    out = upsample2d(impulse, f)[0, 0]
    taps = torch.tensor([1.0, 3, 3, 1]) / 8 * 2
    expected = torch.zeros(8, 8)
    expected[1:5, 1:5] = torch.outer(taps, taps)
    torch.testing.assert_close(out, expected)
    # The same as explicit zero insertion + padding + FIR filter.
    x = torch.randn(2, 3, 5, 5)
    torch.testing.assert_close(upsample2d(x, f), fx._fir(fx._zero_insert(x), (2, 1), 4.0))


def test_upfirdn_pad_crop_and_down() -> None:
    x = torch.arange(16.0).reshape(1, 1, 4, 4)
    ident = torch.ones(1, 1)
    torch.testing.assert_close(upfirdn2d(x, ident, down=2), x[..., ::2, ::2])
    torch.testing.assert_close(upfirdn2d(x, ident, pad=(-1, -1, 0, 0)), x[..., :, 1:3])
    box = torch.ones(2, 2)
    y = upfirdn2d(x, box)  # 2x2 box sums
    assert y.shape == (1, 1, 3, 3) and y[0, 0, 0, 0].item() == 0 + 1 + 4 + 5
    # asymmetric filters are convolved (flipped), not correlated
    ramp = torch.tensor([[1.0, 2.0]])
    z = upfirdn2d(torch.tensor([[[[1.0, 0.0, 0.0]]]]), ramp, pad=(1, 0, 0, 0))
    torch.testing.assert_close(z, torch.tensor([[[[1.0, 2.0, 0.0]]]]))


def test_modulated_conv_demodulation_known_answer() -> None:
    # 1x1 kernel, 2 in, 1 out: w' = [1*2, 1*1] -> demodulated [2, 1]/sqrt(5)
    x = torch.tensor([1.0, 2.0]).reshape(1, 2, 1, 1)
    weight = torch.ones(1, 2, 1, 1)
    styles = torch.tensor([[2.0, 1.0]])
    out = modulated_conv2d(x, weight, styles, demodulate=True)
    torch.testing.assert_close(out.flatten(), torch.tensor([(2 * 1 + 1 * 2) / math.sqrt(5)]))
    out = modulated_conv2d(x, weight, styles, demodulate=False)
    torch.testing.assert_close(out.flatten(), torch.tensor([4.0]))
    # demodulation makes the output invariant to the style's scale
    x = torch.randn(2, 4, 6, 6)
    weight = torch.randn(3, 4, 3, 3)
    styles = torch.randn(2, 4)
    torch.testing.assert_close(modulated_conv2d(x, weight, 7 * styles),
                               modulated_conv2d(x, weight, styles), atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("up", [False, True])
def test_modulated_conv_matches_per_sample_reference(up: bool) -> None:
    torch.manual_seed(0)
    x = torch.randn(3, 4, 5, 5)
    weight = torch.randn(6, 4, 3, 3)
    styles = torch.randn(3, 4) + 1
    out = modulated_conv2d(x, weight, styles, demodulate=True, up=up, kernel=binomial_filter())
    ref = torch.cat([fx.ref_modconv_sample(x[n:n + 1], weight, styles[n], True, up)
                     for n in range(3)])
    assert out.shape == ((3, 6, 10, 10) if up else (3, 6, 5, 5))
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-4)


def test_modulated_conv_half_precision_stays_finite() -> None:
    torch.manual_seed(1)
    x = torch.randn(2, 8, 8, 8) * 100
    weight = torch.randn(8, 8, 3, 3) * 50
    styles = torch.randn(2, 8) * 300
    full = modulated_conv2d(x, weight, styles)
    half = modulated_conv2d(x.half(), weight, styles)
    assert torch.isfinite(half).all()
    assert ((half.float() - full).abs().max() / full.abs().max()) < 0.01


def test_pixel_norm_half_precision_does_not_overflow() -> None:
    x = torch.full((1, 4, 2, 2), 1000.0)
    out = pixel_norm(x.half())
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out.float(), torch.ones(1, 4, 2, 2), atol=1e-3, rtol=1e-3)
