"""Shapes, ranges, explicit-RNG dropout and FLOP counts of repro.nets."""

from __future__ import annotations

import pytest
import torch

from repro import nets


@pytest.mark.parametrize("arch", nets.ARCHS)
def test_shapes_and_range(arch: str) -> None:
    torch.manual_seed(0)
    G, D = nets.build(arch, z_dim=8, g_widths=(16, 32), d_widths=(32, 16), d_dropout=0.3, conv_channels=4)
    x = G(torch.randn(5, 8) * 10)  # large z: tanh must still bound the output
    assert x.shape == (5, 1, 28, 28)
    assert x.abs().max() <= 1.0
    v = D(x, torch.Generator().manual_seed(0))
    assert v.shape == (5,)
    assert D(x.view(5, 784)).shape == (5,)  # flat images accepted too


def test_seed_report_mlp_sizes() -> None:
    G, D = nets.build("mlp")
    widths_g = [m.out_features for m in G.modules() if isinstance(m, torch.nn.Linear)]
    widths_d = [m.out_features for m in D.modules() if isinstance(m, torch.nn.Linear)]
    assert widths_g == [256, 512, 1024, 784] and G.net[0].in_features == 100
    assert widths_d == [1024, 512, 256, 1]
    assert isinstance(G.net[-1], torch.nn.Tanh)


def test_dropout_reads_only_the_given_generator() -> None:
    D = nets.MLPDiscriminator((32, 16), dropout=0.5).train()
    x = torch.randn(7, 784)
    a = D(x, torch.Generator().manual_seed(3))
    torch.manual_seed(123)  # the global RNG must not matter
    b = D(x, torch.Generator().manual_seed(3))
    c = D(x, torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and not torch.equal(a, c)
    D.eval()
    assert torch.equal(D(x, torch.Generator().manual_seed(3)), D(x, torch.Generator().manual_seed(4)))


def test_dropout_is_unbiased() -> None:
    h = torch.ones(20000)
    out = nets.dropout(h, 0.3, True, torch.Generator().manual_seed(0))
    assert abs(float(out.mean()) - 1.0) < 0.03
    vals = out.unique()
    assert len(vals) == 2 and vals[0] == 0 and abs(float(vals[1]) - 1 / 0.7) < 1e-6


def test_forward_flops_by_hand() -> None:
    G = nets.MLPGenerator(z_dim=10, widths=(20,))
    # 2·(10·20 + 20·784) per sample
    assert nets.forward_flops(G, torch.zeros(3, 10)) == 3 * 2 * (10 * 20 + 20 * 784)
    D = nets.ConvDiscriminator(channels=2)
    conv1 = 2 * (2 * 14 * 14) * 1 * 16
    conv2 = 2 * (4 * 7 * 7) * 2 * 16
    fc = 2 * (4 * 49)
    assert nets.forward_flops(D, torch.zeros(1, 1, 28, 28)) == conv1 + conv2 + fc


def test_unknown_arch() -> None:
    with pytest.raises(ValueError, match="mlp, dcgan"):
        nets.build("resnet")


@pytest.mark.parametrize("arch", nets.ARCHS)
def test_spectral_norm_bounds_each_layer(arch: str) -> None:
    torch.manual_seed(0)
    _, D = nets.build(arch, d_widths=(64, 32), conv_channels=4, d_spectral_norm=True)
    D.train()
    x = torch.randn(16, 1, 28, 28)
    for _ in range(30):  # power iterations run in training forwards
        D(x)
    layers = [m for m in D.modules() if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d))]
    assert layers and all(hasattr(m, "parametrizations") for m in layers)
    for m in layers:
        sigma = torch.linalg.matrix_norm(m.weight.detach().flatten(1), ord=2)
        assert abs(float(sigma) - 1.0) < 1e-3
