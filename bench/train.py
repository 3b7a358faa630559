"""Training throughput: images per second per core of the GAN training step, for the default MLP and
the small DCGAN (C = 32, as the Fashion-MNIST study trains it), side by side in one run:

(a) one seed alone: repro's training loop, one process, one thread;
(b) three seeds the way the study trains them on this machine (``repro.harness.study.stacks_seeds``: on a
    CPU, apart, one process per core, each one thread); beside it, a stack of three seeds in one
    process (how the study trains them on a GPU);
(c) the naive loop a researcher writes (``naive_step``: nn.Sequential networks, torch's default
    Adam, BCE-with-logits, D on the real and the fake batch apart, one D and one G step, batch 64),
    in one process at torch's default threads (every core), and in one-thread processes, one per core;
(d) the rate of the step's own matrix products at their shapes (linear layers, and the
    convolutions as their im2col products), one thread, and the fraction of it that (a) reaches.

Images per second per core = images trained per second by all processes ÷ cores used. GFLOP/s
count the step's matrix products (``step_products``: about 3 F_G + 8 F_D per image, F the forward
FLOPs per sample, less the input gradients nobody needs); elementwise work is not counted.
Every rate is the best of a few timings, since the machine may be shared; the header of
``python -m bench`` gives the load average.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import torch
from torch import nn

from repro.gan import nets, train as T

B = 64
CASES = {"mlp": T.TrainConfig(), "dcgan": T.TrainConfig(arch="dcgan", conv_channels=32)}
ITERS = {"mlp": 60, "dcgan": 30}  # iterations per timing (a few seconds each)


# --------------------------------------------------------------------------- (a), (b): repro's loop


def engine_rate(cfg: T.TrainConfig, seeds: int, iters: int, repeats: int = 3) -> float:
    """Images per second of ``seeds`` seeds trained as one stack by repro's epoch loop."""
    cfg = cfg.resolve()
    import dataclasses  # noqa: PLC0415

    runs = [T._fresh(dataclasses.replace(cfg, seed=s), Path("."), torch.device("cpu")) for s in range(seeds)]
    st = T._stack(runs, cfg, torch.device("cpu"))
    x = torch.rand(cfg.batch_size * iters, 1, 28, 28) * 2 - 1
    T._train_epoch(st, cfg, x[: cfg.batch_size * 3], torch.device("cpu"), False)  # warm-up
    best = 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        T._train_epoch(st, cfg, x, torch.device("cpu"), False)
        best = max(best, seeds * len(x) / (time.perf_counter() - start))
    return best


# --------------------------------------------------------------------------- (c): the naive loop


def naive_networks(cfg: T.TrainConfig) -> tuple[nn.Module, nn.Module]:
    """The same networks as a researcher writes them with torch.nn."""
    if cfg.arch == "mlp":
        dims = [cfg.z_dim, *cfg.g_widths]
        g_layers: list[nn.Module] = []
        for a, b in zip(dims[:-1], dims[1:]):
            g_layers += [nn.Linear(a, b), nn.LeakyReLU(0.2)]
        G = nn.Sequential(*g_layers, nn.Linear(dims[-1], 784), nn.Tanh(), nn.Unflatten(1, (1, 28, 28)))
        d_layers: list[nn.Module] = [nn.Flatten()]
        dims = [784, *cfg.d_widths]
        for a, b in zip(dims[:-1], dims[1:]):
            d_layers += [nn.Linear(a, b), nn.LeakyReLU(0.2), nn.Dropout(cfg.d_dropout)]
        return G, nn.Sequential(*d_layers, nn.Linear(dims[-1], 1))
    c = cfg.conv_channels
    G = nn.Sequential(nn.Linear(cfg.z_dim, 2 * c * 49, bias=False), nn.Unflatten(1, (2 * c, 7, 7)),
                      nn.BatchNorm2d(2 * c), nn.ReLU(), nn.ConvTranspose2d(2 * c, c, 4, 2, 1, bias=False),
                      nn.BatchNorm2d(c), nn.ReLU(), nn.ConvTranspose2d(c, 1, 4, 2, 1), nn.Tanh())
    D = nn.Sequential(nn.Conv2d(1, c, 4, 2, 1), nn.LeakyReLU(0.2), nn.Conv2d(c, 2 * c, 4, 2, 1), nn.LeakyReLU(0.2),
                      nn.Flatten(), nn.Dropout(cfg.d_dropout), nn.Linear(2 * c * 49, 1))
    return G, D


def naive_rate(cfg: T.TrainConfig, iters: int, repeats: int = 3) -> float:
    """Images per second of the naive loop (``naive_step``) at the process's thread count."""
    cfg = cfg.resolve()
    torch.manual_seed(0)
    G, D = naive_networks(cfg)
    opt_g = torch.optim.Adam(G.parameters(), lr=cfg.lr_g, betas=cfg.betas_g)
    opt_d = torch.optim.Adam(D.parameters(), lr=cfg.lr_d, betas=cfg.betas_d)
    x = torch.rand(B * iters, 1, 28, 28) * 2 - 1

    def naive_step(xb: torch.Tensor) -> None:
        bce = nn.BCEWithLogitsLoss()
        ones, zeros = torch.ones(len(xb), 1), torch.zeros(len(xb), 1)
        fake = G(torch.randn(len(xb), cfg.z_dim))
        opt_d.zero_grad()
        loss_d = bce(D(xb), ones) + bce(D(fake.detach()), zeros)
        loss_d.backward()
        opt_d.step()
        opt_g.zero_grad()
        bce(D(fake), ones).backward()
        opt_g.step()

    for i in range(3):
        naive_step(x[i * B : (i + 1) * B])
    best = 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        for i in range(iters):
            naive_step(x[i * B : (i + 1) * B])
        best = max(best, len(x) / (time.perf_counter() - start))
    return best


# --------------------------------------------------------------------------- (d): the step's products


def step_products(cfg: T.TrainConfig) -> list[tuple[int, int, int, int]]:
    """(M, K, N, count) of the matrix products of one training step on a batch of B (linear layers
    as they are, convolutions as their im2col products): D's forward on 2B and its gradients, D's
    forward and input gradient on B for G's step, G's forward and its gradients."""
    shapes: dict[str, list[tuple[nn.Module, torch.Size, torch.Size]]] = {"G": [], "D": []}
    G, D = T._networks(cfg.resolve())
    for name, net, example in (("G", G, torch.zeros(1, 1, cfg.z_dim)), ("D", D, torch.zeros(1, 1, 1, 28, 28))):
        hooks = [m.register_forward_hook(lambda m, i, o, n=name: shapes[n].append((m, i[0].shape, o.shape)))
                 for m in net.modules() if isinstance(m, (nets.StackedLinear, nets.StackedConv2d))]
        with torch.no_grad():
            net.eval()(example)
        for h in hooks:
            h.remove()
    out = []
    # per product: forwards, input gradients (none into z or the real images), weight gradients;
    # D's batch of 2B counts as two products of B rows
    uses = {"G": ((1, 0, 1), (1, 1, 1)), "D": ((3, 1, 2), (3, 3, 2))}  # (first layer, the others)
    for name in ("G", "D"):
        for j, (m, i_shape, o_shape) in enumerate(shapes[name]):
            fwd, igrad, wgrad = uses[name][min(j, 1)]
            if isinstance(m, nets.StackedLinear):
                rows, k, n = B, m.in_features, m.out_features
            elif not m.transposed:  # (B·H'W', C_in·k²) @ (C_in·k², C_out)
                rows, k, n = B * o_shape[-1] * o_shape[-2], m.c_in * m.kernel ** 2, m.c_out
            else:  # each input pixel: (B·HW, C_in) @ (C_in, C_out·k²), then col2im
                rows, k, n = B * i_shape[-1] * i_shape[-2], m.c_in, m.c_out * m.kernel ** 2
            out += [(rows, k, n, fwd), (rows, n, k, igrad), (k, rows, n, wgrad)]
    return [p for p in out if p[3]]


def gemm_rate(cfg: T.TrainConfig, reps: int = 20, repeats: int = 5) -> float:
    """GFLOP/s of ``step_products`` (float32, one thread): their FLOPs over the sum of each product's
    best time, what the step's products alone reach at their shapes."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _gemm_rate(step_products(cfg), reps, repeats)
    finally:
        torch.set_num_threads(threads)


def _gemm_rate(products: list[tuple[int, int, int, int]], reps: int, repeats: int) -> float:
    total_flops, total_seconds = 0.0, 0.0
    for m, k, n, count in products:
        a, b = torch.randn(m, k), torch.randn(k, n)
        for _ in range(3):
            a @ b
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            for _ in range(reps):
                a @ b
            best = min(best, (time.perf_counter() - start) / reps)
        total_flops += 2 * m * k * n * count
        total_seconds += best * count
    return total_flops / total_seconds / 1e9


def step_flops_per_image(cfg: T.TrainConfig) -> float:
    """The FLOPs of one step's products (``step_products``) per image of the batch."""
    return sum(2 * m * k * n * c for m, k, n, c in step_products(cfg)) / B


# --------------------------------------------------------------------------- processes


def _in_processes(what: str, arch: str, seeds: int, n: int, threads: int) -> list[float]:
    """Run ``n`` worker processes of ``what`` at once; their images per second."""
    cmd = [sys.executable, "-m", "bench.train", "--worker", what, arch, str(seeds), str(threads)]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env) for _ in range(n)]
    return [float(json.loads(p.communicate()[0])["images_per_second"]) for p in procs]


def _worker(what: str, arch: str, seeds: int, threads: int) -> None:
    torch.set_num_threads(threads)
    cfg, iters = CASES[arch], ITERS[arch]
    rate = engine_rate(cfg, seeds, iters) if what == "engine" else naive_rate(cfg, iters)
    print(json.dumps({"images_per_second": rate}))


def run() -> list[dict]:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    from repro.harness.study import stacks_seeds  # noqa: PLC0415 - the study's own rule, on a spec that leaves it to "auto"
    from repro.harness.spec import load_spec  # noqa: PLC0415
    from repro.core.runtime import PROJECT_ROOT  # noqa: PLC0415

    stacked = stacks_seeds(load_spec(PROJECT_ROOT / "study" / "default.toml"), "local")
    rows: list[dict] = []
    for arch, cfg in CASES.items():
        per_image = step_flops_per_image(cfg)
        a = _in_processes("engine", arch, 1, 1, 1)[0]
        stack3 = _in_processes("engine", arch, 3, 1, 1)[0]
        apart = sum(_in_processes("engine", arch, 1, cores, 1)) / cores
        b = stack3 if stacked else apart
        c_default = _in_processes("naive", arch, 1, 1, torch.get_num_threads())[0] / cores
        c_one = sum(_in_processes("naive", arch, 1, cores, 1)) / cores
        d = gemm_rate(cfg)
        a_gflops = a * per_image / 1e9
        how = "one stack in one process" if stacked else f"apart, {cores} one-thread processes"
        for name, value, note in (
            ("a_one_seed", a, "repro, one seed, one thread"),
            ("b_three_seeds_study", b, f"repro, three seeds as the study trains them here ({how})"),
            ("b_three_seeds_stacked", stack3, "repro, three seeds as one stack, one process, one thread"),
            ("b_three_seeds_apart", apart, f"repro, one seed per process, {cores} processes at once"),
            ("c_naive_default_threads", c_default, f"naive loop, one process, torch's {torch.get_num_threads()} threads"),
            ("c_naive_one_thread", c_one, f"naive loop, one thread per process, {cores} processes at once"),
        ):
            rows.append({"benchmark": f"train_{arch}_{name}", "value": round(value), "unit": "images/s/core",
                         "note": f"{note}; {value * per_image / 1e9:.1f} GFLOP/s per core"})
        rows.append({"benchmark": f"train_{arch}_d_gemm_rate", "value": round(d, 1), "unit": "GFLOP/s",
                     "note": f"the step's products at their shapes, one thread; (a) reaches {a_gflops / d:.0%}"})
        rows.append({"benchmark": f"train_{arch}_speedup_vs_naive", "value": round(b / c_default, 2), "unit": "x",
                     "note": f"(b) / (c) at default threads; {b / c_one:.2f}x against one-thread naive processes"})
    return rows


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "--worker":
        _worker(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
    else:
        for row in run():
            print(row)
