"""Generator and discriminator networks (pure modules: no I/O, no global RNG at run time).

- ``mlp``: the seed report's pair (z = 100; G 256→512→1024→784 with tanh; D 784→1024→512→256→1,
  LeakyReLU 0.2), widths configurable, optional dropout in D.
- ``dcgan``: a small DCGAN-style pair (Radford et al. 2016): G linear → 2C×7×7 → transposed
  convs C → 1 with BatchNorm; D convs C → 2C (stride 2, LeakyReLU 0.2) → linear. With the
  default C = 64 this is the "conv 64→128" pair of issue 4.

Shapes: a generator maps z (B, z_dim) → images (B, 1, 28, 28) in [−1, 1]; a discriminator maps
images (B, 1, 28, 28) (or (B, 784)) → raw scores v (B,). The meaning of v (logit, T, …) is set by
the training objective (``repro.divergences``).

Dropout in D draws its masks from an explicit ``torch.Generator`` passed to ``forward`` (never
the global RNG), so that a training run is reproducible and resumable bitwise.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

ARCHS = ("mlp", "dcgan")
IMAGE_SHAPE = (1, 28, 28)
IMAGE_DIM = 28 * 28


def dropout(h: torch.Tensor, p: float, training: bool, gen: torch.Generator | None) -> torch.Tensor:
    """Inverted dropout whose mask comes from ``gen`` (identity when not training or p = 0)."""
    if not training or p == 0.0:
        return h
    keep = torch.empty_like(h).bernoulli_(1.0 - p, generator=gen)
    return h * keep / (1.0 - p)


class MLPGenerator(nn.Module):
    """z (B, z_dim) → Linear-LeakyReLU × len(widths) → Linear → tanh → (B, 1, 28, 28)."""

    def __init__(self, z_dim: int = 100, widths: Sequence[int] = (256, 512, 1024), slope: float = 0.2) -> None:
        super().__init__()
        self.z_dim = z_dim
        layers: list[nn.Module] = []
        prev = z_dim
        for w in widths:
            layers += [nn.Linear(prev, w), nn.LeakyReLU(slope)]
            prev = w
        layers += [nn.Linear(prev, IMAGE_DIM), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).view(-1, *IMAGE_SHAPE)  # (B, 1, 28, 28)


def bound_scores(v: torch.Tensor, bound: float) -> torch.Tensor:
    """v ↦ b·tanh(v/b) for b > 0 (identity for b = 0): the seed report's "clamping D's outputs"
    (its §3.2), made smooth so that D and G keep a gradient everywhere. The critic family is then
    |T| ≤ b, so a KL critic estimates r = exp(T − 1) only within [e^(−b−1), e^(b−1)]
    (docs/maths.md §3)."""
    return v if bound <= 0 else bound * torch.tanh(v / bound)


class MLPDiscriminator(nn.Module):
    """x (B, 1, 28, 28) → flatten → (Linear-LeakyReLU-dropout) × len(widths) → Linear → v (B,)."""

    def __init__(self, widths: Sequence[int] = (1024, 512, 256), dropout: float = 0.0, slope: float = 0.2) -> None:
        super().__init__()
        self.p = float(dropout)
        self.bound = 0.0  # set by ``build``
        self.slope = slope
        dims = [IMAGE_DIM, *widths]
        self.hidden = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:], strict=True))
        self.out = nn.Linear(dims[-1], 1)

    def forward(self, x: torch.Tensor, gen: torch.Generator | None = None) -> torch.Tensor:
        h = x.reshape(len(x), -1)  # (B, 784)
        for layer in self.hidden:
            h = dropout(nn.functional.leaky_relu(layer(h), self.slope), self.p, self.training, gen)
        return bound_scores(self.out(h).squeeze(1), self.bound)  # (B,)


class ConvGenerator(nn.Module):
    """z → Linear → (2C, 7, 7) → BN-ReLU → ConvT(2C→C, 4, 2, 1) 14×14 → BN-ReLU → ConvT(C→1) 28×28 → tanh."""

    def __init__(self, z_dim: int = 100, channels: int = 64) -> None:
        super().__init__()
        self.z_dim = z_dim
        c = channels
        self.c = c
        self.fc = nn.Linear(z_dim, 2 * c * 7 * 7, bias=False)
        self.net = nn.Sequential(
            nn.BatchNorm2d(2 * c), nn.ReLU(),
            nn.ConvTranspose2d(2 * c, c, 4, 2, 1, bias=False), nn.BatchNorm2d(c), nn.ReLU(),
            nn.ConvTranspose2d(c, 1, 4, 2, 1), nn.Tanh(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(self.fc(z).view(-1, 2 * self.c, 7, 7))  # (B, 1, 28, 28)


class ConvDiscriminator(nn.Module):
    """x → Conv(1→C, 4, 2, 1) 14×14 → LReLU → Conv(C→2C, 4, 2, 1) 7×7 → LReLU → dropout → Linear → v (B,)."""

    def __init__(self, channels: int = 64, dropout: float = 0.0, slope: float = 0.2) -> None:
        super().__init__()
        c = channels
        self.p = float(dropout)
        self.bound = 0.0  # set by ``build``
        self.net = nn.Sequential(
            nn.Conv2d(1, c, 4, 2, 1), nn.LeakyReLU(slope),
            nn.Conv2d(c, 2 * c, 4, 2, 1), nn.LeakyReLU(slope),
        )
        self.out = nn.Linear(2 * c * 7 * 7, 1)

    def forward(self, x: torch.Tensor, gen: torch.Generator | None = None) -> torch.Tensor:
        h = self.net(x.reshape(len(x), *IMAGE_SHAPE)).flatten(1)  # (B, 2C·49)
        return bound_scores(self.out(dropout(h, self.p, self.training, gen)).squeeze(1), self.bound)  # (B,)


def build(
    arch: str,
    z_dim: int = 100,
    g_widths: Sequence[int] = (256, 512, 1024),
    d_widths: Sequence[int] = (1024, 512, 256),
    d_dropout: float = 0.0,
    conv_channels: int = 64,
    *,
    d_spectral_norm: bool = False,
    d_bound: float = 0.0,
) -> tuple[nn.Module, nn.Module]:
    """(generator, discriminator) of the named architecture (parameters from the global RNG:
    call inside ``torch.random.fork_rng`` with a manual seed).

    ``d_spectral_norm`` divides each of D's weight matrices by its largest singular value
    (Miyato et al. 2018, one power iteration per training forward), which bounds D's Lipschitz
    constant and so the scores v that the f-divergence losses exponentiate. ``d_bound`` b > 0
    bounds D's output smoothly, v ↦ b·tanh(v/b) (``bound_scores``)."""
    if arch == "mlp":
        G, D = MLPGenerator(z_dim, g_widths), MLPDiscriminator(d_widths, d_dropout)
    elif arch == "dcgan":
        G, D = ConvGenerator(z_dim, conv_channels), ConvDiscriminator(conv_channels, d_dropout)
    else:
        raise ValueError(f"unknown architecture {arch!r}; expected one of {', '.join(ARCHS)}")
    D.bound = float(d_bound)
    if d_spectral_norm:
        for m in list(D.modules()):
            if isinstance(m, (nn.Linear, nn.Conv2d)):
                nn.utils.parametrizations.spectral_norm(m)
    return G, D


def forward_flops(module: nn.Module, example: torch.Tensor) -> int:
    """Multiply-adds × 2 of one forward pass on ``example`` (Linear, Conv2d, ConvTranspose2d only).

    Per-sample cost = forward_flops(m, x[:1]). A training step (forward + backward) costs about
    3× the forward pass.
    """
    total = 0

    def hook(mod: nn.Module, inp: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
        nonlocal total
        if isinstance(mod, nn.Linear):
            total += 2 * inp[0].numel() // mod.in_features * mod.in_features * mod.out_features
        elif isinstance(mod, nn.Conv2d):
            kh, kw = mod.kernel_size
            total += 2 * out.numel() * (mod.in_channels // mod.groups) * kh * kw
        elif isinstance(mod, nn.ConvTranspose2d):
            kh, kw = mod.kernel_size
            total += 2 * inp[0].numel() * (mod.out_channels // mod.groups) * kh * kw

    handles = [m.register_forward_hook(hook) for m in module.modules()
               if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d))]
    try:
        was_training = module.training
        module.eval()
        with torch.no_grad():
            module(example)
        module.train(was_training)
    finally:
        for h in handles:
            h.remove()
    return total
