"""Training throughput: iterations/s and achieved GFLOP/s of the GAN training step on this machine,
against the machine's dense matmul rate.

FLOPs per iteration (best of 3 short timings, since the CPU may be shared;
one D step on B real + B fake images, one G step reusing the fake batch):
G forward (F_G·B) + D forward/backward on 2B (3·F_D·2B) + D forward and input-gradient backward
on B (2·F_D·B) + G backward (2·F_G·B) = 3·F_G·B + 8·F_D·B, with F = forward FLOPs per sample
(``repro.nets.forward_flops``: 2 × multiply-adds of the linear and conv layers; elementwise
work is not counted, so GFLOP/s is a lower bound).
"""

from __future__ import annotations

import time

import torch

from repro import nets
from repro import train as T

CASES = (("mlp", 64), ("mlp", 256), ("dcgan", 64), ("dcgan", 256))


def flops_per_iteration(cfg: T.TrainConfig) -> float:
    G, D = nets.build(cfg.arch, cfg.z_dim, cfg.g_widths, cfg.d_widths, cfg.d_dropout, cfg.conv_channels)
    f_g = nets.forward_flops(G, torch.zeros(1, cfg.z_dim))
    f_d = nets.forward_flops(D, torch.zeros(1, 1, 28, 28))
    return float(3 * f_g * cfg.batch_size + 8 * f_d * cfg.batch_size)


def iterations_per_second(cfg: T.TrainConfig, iters: int, repeats: int = 3) -> float:
    """Best of ``repeats`` timings of ``iters`` training iterations (the CPU may be shared)."""
    cfg = cfg.resolve()
    st = T._build(cfg, torch.device("cpu"))
    x = torch.rand(cfg.batch_size * iters, 1, 28, 28) * 2 - 1
    T._train_epoch(st, cfg, x[: cfg.batch_size * 3], torch.device("cpu"), False)  # warm-up
    best = 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        T._train_epoch(st, cfg, x, torch.device("cpu"), False)
        best = max(best, iters / (time.perf_counter() - start))
    return best


def matmul_gflops(n: int = 1024, reps: int = 10, repeats: int = 3) -> float:
    """Best of ``repeats`` timings of ``reps`` float32 n×n matrix products."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    for _ in range(3):
        a @ b
    best = 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(reps):
            a @ b
        best = max(best, 2 * n**3 * reps / (time.perf_counter() - start) / 1e9)
    return best


def _skinny_gflops(reps: int = 200, repeats: int = 3) -> float:
    a, b = torch.randn(64, 1024), torch.randn(1024, 784)
    best = 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(reps):
            a @ b
        best = max(best, 2 * 64 * 1024 * 784 * reps / (time.perf_counter() - start) / 1e9)
    return best


def run() -> list[dict]:
    rows = [{"benchmark": "matmul_1024_float32", "value": round(matmul_gflops(), 1), "unit": "GFLOP/s",
             "note": f"torch.mm 1024×1024, best of 3, {torch.get_num_threads()} threads"},
            {"benchmark": "matmul_64x1024x784_float32", "value": round(_skinny_gflops(), 1), "unit": "GFLOP/s",
             "note": "the MLP's largest layer at batch 64, best of 3"}]
    for arch, batch in CASES:
        cfg = T.TrainConfig(arch=arch, batch_size=batch)
        iters = max(4, (4096 if arch == "mlp" else 512) // batch)
        ips = iterations_per_second(cfg, iters)
        gflop = flops_per_iteration(cfg) / 1e9
        note = f"{arch} batch {batch}: {gflop:.2f} GFLOP/iteration, epoch of 50k images ≈ {50_000 / batch / ips:.0f} s"
        rows.append({"benchmark": f"train_{arch}_b{batch}_iters", "value": round(ips, 2), "unit": "it/s", "note": note})
        rows.append({"benchmark": f"train_{arch}_b{batch}_gflops", "value": round(ips * gflop, 1), "unit": "GFLOP/s",
                     "note": note})
    threads = torch.get_num_threads()
    if threads > 1:  # one thread: no barrier waits when the CPU is shared (repro train --threads 1)
        torch.set_num_threads(1)
        try:
            cfg = T.TrainConfig(arch="mlp", batch_size=64)
            ips = iterations_per_second(cfg, 64)
            rows.append({"benchmark": "train_mlp_b64_iters_1thread", "value": round(ips, 2), "unit": "it/s",
                         "note": f"{ips * flops_per_iteration(cfg) / 1e9:.1f} GFLOP/s with 1 thread"})
        finally:
            torch.set_num_threads(threads)
    return rows


if __name__ == "__main__":
    for row in run():
        print(row)
