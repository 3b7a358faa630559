"""Shapes, ranges, explicit-RNG dropout, stacking over seeds, spectral norm and FLOP counts of repro.gan.nets."""

from __future__ import annotations

import pytest
import torch

from repro.gan import nets


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
    widths_g = [m.out_features for m in G.modules() if isinstance(m, nets.StackedLinear)]
    widths_d = [m.out_features for m in D.modules() if isinstance(m, nets.StackedLinear)]
    assert widths_g == [256, 512, 1024, 784] and G.stacked.layers[0].in_features == 100
    assert widths_d == [1024, 512, 256, 1]
    assert sum(p.numel() for p in G.parameters()) == 100 * 256 + 256 + 256 * 512 + 512 + 512 * 1024 + 1024 + 1024 * 784 + 784


def test_dropout_reads_only_the_given_generator() -> None:
    D = nets.Single(nets.MLPDiscriminator((32, 16), dropout=0.5)).train()
    x = torch.randn(7, 784)
    a = D(x, torch.Generator().manual_seed(3))
    torch.manual_seed(123)  # the global RNG must not matter
    b = D(x, torch.Generator().manual_seed(3))
    c = D(x, torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and not torch.equal(a, c)
    D.eval()
    assert torch.equal(D(x, torch.Generator().manual_seed(3)), D(x, torch.Generator().manual_seed(4)))


def test_dropout_is_unbiased() -> None:
    h = torch.ones(1, 20000)
    out = nets.dropout(h, 0.3, True, [torch.Generator().manual_seed(0)])
    assert abs(float(out.mean()) - 1.0) < 0.03
    vals = out.unique()
    assert len(vals) == 2 and vals[0] == 0 and abs(float(vals[1]) - 1 / 0.7) < 1e-6


@pytest.mark.parametrize("arch", nets.ARCHS)
def test_a_stack_is_its_seeds(arch: str) -> None:
    """Seed i of a stack computes exactly what the one-seed network with seed i's weights computes
    (forward, dropout masks from seed i's generator, and gradients): nothing crosses seeds."""
    torch.manual_seed(0)
    kw = dict(z_dim=8, g_widths=(16, 32), d_widths=(32, 16), d_dropout=0.3, conv_channels=4)
    pairs = [nets.build_stacked(arch, **kw) for _ in range(3)]
    G3, D3 = nets.build_stacked(arch, **kw, seeds=3)
    for stacked, parts in ((G3, [p[0] for p in pairs]), (D3, [p[1] for p in pairs])):
        stacked.load_state_dict({k: torch.cat([p.state_dict()[k] for p in parts]) for k in stacked.state_dict()})
    z = torch.randn(3, 5, 8, requires_grad=True)
    x3 = G3(z)
    v3 = D3(x3, [torch.Generator().manual_seed(i) for i in range(3)])
    v3.sum().backward()
    for i, (G, D) in enumerate(pairs):
        zi = z.detach()[i : i + 1].clone().requires_grad_()
        vi = D(G(zi), [torch.Generator().manual_seed(i)])
        vi.sum().backward()
        assert torch.equal(vi[0], v3[i])
        assert torch.equal(zi.grad[0], z.grad[i])
        for (name, p), p3 in zip(G.named_parameters(), G3.parameters(), strict=True):
            assert torch.equal(p.grad[0], p3.grad[i]), name


def test_forward_flops_by_hand() -> None:
    G = nets.Single(nets.MLPGenerator(z_dim=10, widths=(20,)))
    # 2·(10·20 + 20·784) per sample
    assert nets.forward_flops(G, torch.zeros(3, 10)) == 3 * 2 * (10 * 20 + 20 * 784)
    D = nets.Single(nets.ConvDiscriminator(channels=2))
    conv1 = 2 * (2 * 14 * 14) * 1 * 16
    conv2 = 2 * (4 * 7 * 7) * 2 * 16
    fc = 2 * (4 * 49)
    assert nets.forward_flops(D, torch.zeros(1, 1, 28, 28)) == conv1 + conv2 + fc
    G3 = nets.ConvGenerator(z_dim=10, channels=2, seeds=3)  # a stack of three costs three seeds
    one = nets.forward_flops(nets.Single(nets.ConvGenerator(z_dim=10, channels=2)), torch.zeros(1, 10))
    assert nets.forward_flops(G3, torch.zeros(3, 1, 10)) == 3 * one


def test_unknown_arch() -> None:
    with pytest.raises(ValueError, match="mlp, dcgan"):
        nets.build("resnet")


@pytest.mark.parametrize("arch", nets.ARCHS)
def test_spectral_norm_bounds_each_layer(arch: str) -> None:
    """Each seed's layer is divided by its own largest singular value, estimated by the power
    iteration that training forwards run (here run on to convergence: close top singular values
    of a random 784 × 64 layer converge slowly)."""
    torch.manual_seed(0)
    _, D = nets.build_stacked(arch, d_widths=(64, 32), conv_channels=4, d_spectral_norm=True, seeds=2)
    D.train()
    for _ in range(3):
        D(torch.randn(2, 16, 1, 28, 28))
    layers = [m for m in D.modules() if isinstance(m, (nets.StackedLinear, nets.StackedConv2d))]
    assert layers and all(m.sn is not None for m in layers)
    for m in layers:
        matrix = (m.weight.mT if isinstance(m, nets.StackedLinear) else m.weight.flatten(2)).detach()  # (S, out, in)
        m.sn.power_iteration(matrix, 2000)
        normalised = m.sn.eval()(matrix, matrix).detach()
        for s in range(2):
            assert abs(float(torch.linalg.matrix_norm(normalised[s], ord=2)) - 1.0) < 1e-3
            assert float(torch.linalg.matrix_norm(matrix[s], ord=2)) != pytest.approx(1.0, abs=1e-3)
