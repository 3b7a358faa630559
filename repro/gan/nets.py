"""Generator and discriminator networks, stacked over seeds (pure modules: no I/O, no global RNG
at run time).

Every network here holds S independent copies of one architecture, one per training seed, with
each parameter and buffer stacked on a leading seed axis (S, …). Training several seeds of one
configuration is then one model (docs/architecture.md, "Seeds trained together"); a single model
is a stack of one, and ``Single`` gives it the usual interface (``nets.build``).

- ``mlp``: the seed report's pair (z = 100; G 256→512→1024→784 with tanh; D 784→1024→512→256→1,
  LeakyReLU 0.2), widths configurable, optional dropout in D. Its affine maps are one batched
  matrix product for the stack on a GPU, one product per seed on the CPU (``StackedLinear``).
- ``dcgan``: a small DCGAN-style pair (Radford et al. 2016): G linear → 2C×7×7 → transposed
  convs C → 1 with BatchNorm; D convs C → 2C (stride 2, LeakyReLU 0.2) → linear. The
  convolutions run one call per seed: a grouped convolution over the seeds is not bitwise the
  same as one seed's convolution (measured on CPU for the 1-channel first layer), and a seed's
  numbers must not depend on which seeds share its stack.

Shapes: a stacked generator maps z (S, B, z_dim) → images (S, B, 1, 28, 28) in [−1, 1]; a stacked
discriminator maps images (S, B, 1, 28, 28) (or (S, B, 784)) → raw scores v (S, B). ``Single``
maps (B, z_dim) → (B, 1, 28, 28) and (B, 1, 28, 28) → (B,). The meaning of v (logit, T, …) is
set by the training objective (``repro.maths.divergences``).

Dropout in D draws each seed's masks from that seed's explicit ``torch.Generator`` (a CPU
generator; the masks are moved to the network's device), never the global RNG, so that a run is
reproducible and resumable bitwise whatever device or stack it trains in.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

ARCHS = ("mlp", "dcgan")
IMAGE_SHAPE = (1, 28, 28)
IMAGE_DIM = 28 * 28
Gens = Sequence[torch.Generator | None] | None


def dropout(h: torch.Tensor, p: float, training: bool, gens: Gens) -> torch.Tensor:
    """Inverted dropout of stacked activations h (S, B, …), seed s's mask drawn from ``gens[s]``
    on the CPU (identity when not training, p = 0 or no generators). A mask is a uniform draw
    compared with p (a third of the time of ``bernoulli_``)."""
    if not training or p == 0.0 or gens is None:
        return h
    keep = torch.stack([torch.rand(h.shape[1:], generator=g) >= p for g in gens])  # (S, B, …) bool
    return h * keep.to(h.device, h.dtype).mul_(1.0 / (1.0 - p))


def per_seed(fn: Callable[..., torch.Tensor], *stacked: torch.Tensor) -> torch.Tensor:
    """``fn`` on each seed's slices of the ``stacked`` tensors (S, …), stacked again (S, …). A stack
    of one goes through views, without the copies of splitting and stacking."""
    if stacked[0].shape[0] == 1:
        return fn(*(t.squeeze(0) for t in stacked)).unsqueeze(0)
    return torch.stack([fn(*parts) for parts in zip(*(t.unbind(0) for t in stacked), strict=True)])


def bound_scores(v: torch.Tensor, bound: float) -> torch.Tensor:
    """v ↦ b·tanh(v/b) for b > 0 (identity for b = 0): the seed report's "clamping D's outputs"
    (its §3.2), made smooth so that D and G keep a gradient everywhere. The critic family is then
    |T| ≤ b, so a KL critic estimates r = exp(T − 1) only within [e^(−b−1), e^(b−1)]
    (docs/maths.md §3.2)."""
    return v if bound <= 0 else bound * torch.tanh(v / bound)


# --------------------------------------------------------------------------- stacked layers


def _uniform_(t: torch.Tensor, fan_in: int) -> torch.Tensor:
    """U(−1/√fan_in, 1/√fan_in): torch's default for linear and convolution layers."""
    bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
    return nn.init.uniform_(t, -bound, bound)


class _SpectralNorm(nn.Module):
    """W ↦ W / σ(W) per seed (Miyato et al. 2018): σ by one power iteration per training forward,
    as torch's ``spectral_norm``; ``matrix`` turns the stacked weight into (S, out, in) matrices."""

    def __init__(self, matrix: torch.Tensor) -> None:
        super().__init__()
        seeds, rows, cols = matrix.shape
        self.register_buffer("u", F.normalize(torch.randn(seeds, rows), dim=1, eps=1e-12))
        self.register_buffer("v", F.normalize(torch.randn(seeds, cols), dim=1, eps=1e-12))
        self.power_iteration(matrix.detach(), 15)  # as torch's does when it is attached

    @torch.no_grad()
    def power_iteration(self, matrix: torch.Tensor, n: int = 1) -> None:
        for _ in range(n):
            self.v.copy_(F.normalize(torch.bmm(matrix.mT, self.u.unsqueeze(2)).squeeze(2), dim=1, eps=1e-12))
            self.u.copy_(F.normalize(torch.bmm(matrix, self.v.unsqueeze(2)).squeeze(2), dim=1, eps=1e-12))

    def forward(self, weight: torch.Tensor, matrix: torch.Tensor) -> torch.Tensor:
        if self.training:
            self.power_iteration(matrix.detach())
        sigma = torch.bmm(self.u.unsqueeze(1), torch.bmm(matrix, self.v.unsqueeze(2))).reshape(-1)  # (S,)
        return weight / sigma.view(-1, *([1] * (weight.dim() - 1)))


class StackedLinear(nn.Module):
    """S independent affine maps, x (S, B, in) → x_s W_s + b_s (S, B, out), one batched matrix
    product. W is stored (S, in, out): its gradient then comes out of the product contiguous
    (stored (S, out, in), autograd copies every weight gradient once more: a third of a step)."""

    def __init__(self, seeds: int, in_features: int, out_features: int, bias: bool = True) -> None:
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = nn.Parameter(_uniform_(torch.empty(seeds, in_features, out_features), in_features))
        self.bias = nn.Parameter(_uniform_(torch.empty(seeds, 1, out_features), in_features)) if bias else None
        self.sn: _SpectralNorm | None = None

    def spectral_norm(self) -> None:
        self.sn = _SpectralNorm(self.weight.mT)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight if self.sn is None else self.sn(self.weight, self.weight.mT)
        if x.is_cuda:  # one batched kernel for the stack: the speed-up of stacking on a GPU
            return torch.bmm(x, w) if self.bias is None else torch.baddbmm(self.bias, x, w)
        # CPU: one product per seed. A batched product is not bitwise the same on a slice as the
        # one seed's product (measured: batches of 5, single-output layers), and a seed's numbers
        # must not depend on its stack; per seed it costs the same here (compute-bound).
        if self.bias is None:
            return per_seed(torch.mm, x, w)
        return per_seed(torch.addmm, self.bias, x, w)


class StackedConv2d(nn.Module):
    """S independent (transposed) convolutions, x (S, B, C_in, H, W) → (S, B, C_out, H', W'), one
    call per seed. Weights (S, C_out, C_in, k, k), or (S, C_in, C_out, k, k) when transposed, as
    torch's layers store them per seed."""

    def __init__(self, seeds: int, c_in: int, c_out: int, kernel: int, stride: int, padding: int,
                 bias: bool = True, transposed: bool = False) -> None:
        super().__init__()
        self.c_in, self.c_out, self.kernel, self.stride, self.padding = c_in, c_out, kernel, stride, padding
        self.transposed = transposed
        shape = (seeds, c_in, c_out, kernel, kernel) if transposed else (seeds, c_out, c_in, kernel, kernel)
        fan_in = (c_out if transposed else c_in) * kernel * kernel  # torch's fan-in for each kind
        self.weight = nn.Parameter(_uniform_(torch.empty(shape), fan_in))
        self.bias = nn.Parameter(_uniform_(torch.empty(seeds, c_out), fan_in)) if bias else None
        self.sn: _SpectralNorm | None = None

    def spectral_norm(self) -> None:
        if self.transposed:
            raise ValueError("spectral normalisation is for the discriminator's convolutions")
        self.sn = _SpectralNorm(self.weight.flatten(2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight if self.sn is None else self.sn(self.weight, self.weight.flatten(2))
        conv = F.conv_transpose2d if self.transposed else F.conv2d

        def one(xi: torch.Tensor, wi: torch.Tensor, bi: torch.Tensor | None = None) -> torch.Tensor:
            # channels-first: channels-last made a step of the small DCGAN 4-8 % slower here (the
            # layout changes at every seed's slice cost more than oneDNN saves)
            return conv(xi, wi, bi, self.stride, self.padding)

        return per_seed(one, x, w) if self.bias is None else per_seed(one, x, w, self.bias)


class StackedBatchNorm2d(nn.Module):
    """Batch normalisation of each seed's channels, x (S, B, C, H, W); statistics per seed."""

    def __init__(self, seeds: int, channels: int, momentum: float = 0.1, eps: float = 1e-5) -> None:
        super().__init__()
        self.momentum, self.eps = momentum, eps
        self.weight = nn.Parameter(torch.ones(seeds, channels))
        self.bias = nn.Parameter(torch.zeros(seeds, channels))
        self.register_buffer("running_mean", torch.zeros(seeds, channels))
        self.register_buffer("running_var", torch.ones(seeds, channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return per_seed(lambda xi, mean, var, wi, bi: F.batch_norm(xi, mean, var, wi, bi, self.training, self.momentum,
                                                                   self.eps),
                        x, self.running_mean, self.running_var, self.weight, self.bias)


# --------------------------------------------------------------------------- the networks


class MLPGenerator(nn.Module):
    """z (S, B, z_dim) → (StackedLinear-LeakyReLU) × len(widths) → StackedLinear → tanh → (S, B, 1, 28, 28)."""

    def __init__(self, z_dim: int = 100, widths: Sequence[int] = (256, 512, 1024), slope: float = 0.2,
                 seeds: int = 1) -> None:
        super().__init__()
        self.z_dim, self.slope = z_dim, slope
        dims = [z_dim, *widths, IMAGE_DIM]
        self.layers = nn.ModuleList(StackedLinear(seeds, a, b) for a, b in zip(dims[:-1], dims[1:], strict=True))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = z
        for layer in self.layers[:-1]:
            h = F.leaky_relu(layer(h), self.slope)
        return torch.tanh(self.layers[-1](h)).view(len(z), -1, *IMAGE_SHAPE)  # (S, B, 1, 28, 28)


class MLPDiscriminator(nn.Module):
    """x (S, B, 1, 28, 28) → flatten → (StackedLinear-LeakyReLU-dropout) × len(widths) → StackedLinear → v (S, B)."""

    def __init__(self, widths: Sequence[int] = (1024, 512, 256), dropout: float = 0.0, slope: float = 0.2,
                 seeds: int = 1) -> None:
        super().__init__()
        self.p, self.slope = float(dropout), slope
        self.bound = 0.0  # set by ``build``
        dims = [IMAGE_DIM, *widths]
        self.hidden = nn.ModuleList(StackedLinear(seeds, a, b) for a, b in zip(dims[:-1], dims[1:], strict=True))
        self.out = StackedLinear(seeds, dims[-1], 1)

    def forward(self, x: torch.Tensor, gens: Gens = None) -> torch.Tensor:
        h = x.reshape(x.shape[0], x.shape[1], -1)  # (S, B, 784)
        for layer in self.hidden:
            h = dropout(F.leaky_relu(layer(h), self.slope), self.p, self.training, gens)
        return bound_scores(self.out(h).squeeze(2), self.bound)  # (S, B)


class ConvGenerator(nn.Module):
    """z → StackedLinear → (2C, 7, 7) → BN-ReLU → ConvT(2C→C, 4, 2, 1) 14×14 → BN-ReLU → ConvT(C→1) 28×28 → tanh."""

    def __init__(self, z_dim: int = 100, channels: int = 64, seeds: int = 1) -> None:
        super().__init__()
        self.z_dim, self.c = z_dim, channels
        c = channels
        self.fc = StackedLinear(seeds, z_dim, 2 * c * 7 * 7, bias=False)
        self.bn1 = StackedBatchNorm2d(seeds, 2 * c)
        self.up1 = StackedConv2d(seeds, 2 * c, c, 4, 2, 1, bias=False, transposed=True)
        self.bn2 = StackedBatchNorm2d(seeds, c)
        self.up2 = StackedConv2d(seeds, c, 1, 4, 2, 1, transposed=True)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.fc(z).view(z.shape[0], z.shape[1], 2 * self.c, 7, 7)  # (S, B, 2C, 7, 7)
        h = self.up1(F.relu(self.bn1(h)))  # (S, B, C, 14, 14)
        return torch.tanh(self.up2(F.relu(self.bn2(h))))  # (S, B, 1, 28, 28)


class ConvDiscriminator(nn.Module):
    """x → Conv(1→C, 4, 2, 1) 14×14 → LReLU → Conv(C→2C, 4, 2, 1) 7×7 → LReLU → dropout → StackedLinear → v (S, B)."""

    def __init__(self, channels: int = 64, dropout: float = 0.0, slope: float = 0.2, seeds: int = 1) -> None:
        super().__init__()
        c = channels
        self.p, self.slope = float(dropout), slope
        self.bound = 0.0  # set by ``build``
        self.conv1 = StackedConv2d(seeds, 1, c, 4, 2, 1)
        self.conv2 = StackedConv2d(seeds, c, 2 * c, 4, 2, 1)
        self.out = StackedLinear(seeds, 2 * c * 7 * 7, 1)

    def forward(self, x: torch.Tensor, gens: Gens = None) -> torch.Tensor:
        h = x.reshape(x.shape[0], x.shape[1], *IMAGE_SHAPE)
        h = F.leaky_relu(self.conv2(F.leaky_relu(self.conv1(h), self.slope)), self.slope)
        h = dropout(h.flatten(2), self.p, self.training, gens)  # (S, B, 2C·49)
        return bound_scores(self.out(h).squeeze(2), self.bound)  # (S, B)


def build_stacked(arch: str, z_dim: int = 100, g_widths: Sequence[int] = (256, 512, 1024),
                  d_widths: Sequence[int] = (1024, 512, 256), d_dropout: float = 0.0, conv_channels: int = 64,
                  *, d_spectral_norm: bool = False, d_bound: float = 0.0, seeds: int = 1) -> tuple[nn.Module, nn.Module]:
    """(generator, discriminator) of the named architecture stacked over ``seeds`` (parameters from
    the global RNG: call inside ``torch.random.fork_rng`` with a manual seed).

    ``d_spectral_norm`` divides each of D's weight matrices by its largest singular value
    (Miyato et al. 2018, one power iteration per training forward), which bounds D's Lipschitz
    constant and so the scores v that the f-divergence losses exponentiate. ``d_bound`` b > 0
    bounds D's output smoothly, v ↦ b·tanh(v/b) (``bound_scores``)."""
    if arch == "mlp":
        G: nn.Module = MLPGenerator(z_dim, g_widths, seeds=seeds)
        D: nn.Module = MLPDiscriminator(d_widths, d_dropout, seeds=seeds)
    elif arch == "dcgan":
        G, D = ConvGenerator(z_dim, conv_channels, seeds=seeds), ConvDiscriminator(conv_channels, d_dropout, seeds=seeds)
    else:
        raise ValueError(f"unknown architecture {arch!r}; expected one of {', '.join(ARCHS)}")
    D.bound = float(d_bound)
    if d_spectral_norm:
        for m in D.modules():
            if isinstance(m, (StackedLinear, StackedConv2d)):
                m.spectral_norm()
    return G, D


class Single(nn.Module):
    """A stack of one seed with the usual interface: G (B, z_dim) → (B, 1, 28, 28); D (B, 1, 28, 28)
    or (B, 784) → (B,), its dropout masks from ``gen``. Its weights are ``.stacked``'s (a checkpoint
    stores the stacked module's state dict)."""

    def __init__(self, stacked: nn.Module) -> None:
        super().__init__()
        self.stacked = stacked
        self.z_dim = getattr(stacked, "z_dim", None)

    def forward(self, x: torch.Tensor, gen: torch.Generator | None = None) -> torch.Tensor:
        if isinstance(self.stacked, (MLPDiscriminator, ConvDiscriminator)):
            return self.stacked(x.unsqueeze(0), None if gen is None else [gen])[0]
        return self.stacked(x.unsqueeze(0))[0]


def build(arch: str, z_dim: int = 100, g_widths: Sequence[int] = (256, 512, 1024),
          d_widths: Sequence[int] = (1024, 512, 256), d_dropout: float = 0.0, conv_channels: int = 64,
          *, d_spectral_norm: bool = False, d_bound: float = 0.0) -> tuple[Single, Single]:
    """One (generator, discriminator) pair with the usual interface (``build_stacked`` for one seed,
    each wrapped in ``Single``)."""
    G, D = build_stacked(arch, z_dim, g_widths, d_widths, d_dropout, conv_channels,
                         d_spectral_norm=d_spectral_norm, d_bound=d_bound, seeds=1)
    return Single(G), Single(D)


def forward_flops(module: nn.Module, example: torch.Tensor) -> int:
    """Multiply-adds × 2 of one forward pass on ``example`` (the linear and convolution layers
    only), whatever the stack: per-sample cost = forward_flops(m, x[:1]) for a ``Single`` m. A
    training step (forward + backward) costs about 3× the forward pass.
    """
    total = 0

    def hook(mod: nn.Module, inp: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
        nonlocal total
        if isinstance(mod, StackedLinear):
            total += 2 * inp[0].numel() // mod.in_features * mod.in_features * mod.out_features
        elif isinstance(mod, StackedConv2d) and not mod.transposed:
            total += 2 * out.numel() * mod.c_in * mod.kernel ** 2
        elif isinstance(mod, StackedConv2d):
            total += 2 * inp[0].numel() * mod.c_out * mod.kernel ** 2

    handles = [m.register_forward_hook(hook) for m in module.modules() if isinstance(m, (StackedLinear, StackedConv2d))]
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
