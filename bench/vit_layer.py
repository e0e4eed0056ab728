"""Where one ViT-g vision layer's time goes on this CPU, in fp32 (torch 1.13, the libtorch
imgsearch links): the four linear products against attention, GELU, layer norms, head
reshapes and residuals, at 257 tokens × batch 8 and 2 threads, as the engine runs them
(attention as matmul, scale, softmax, matmul; libtorch before 2.1 has no fused kernel).
The linear products are what `--precision int8` speeds up: their share bounds what int8
can gain on the whole layer (issue 19).

    .venv/bin/python bench/vit_layer.py [--threads 2] [--batch 8]
"""
import argparse
import time

import torch

parser = argparse.ArgumentParser()
parser.add_argument("--threads", type=int, default=2)
parser.add_argument("--batch", type=int, default=8)
arguments = parser.parse_args()
torch.set_num_threads(arguments.threads)
B, T, D, H, F = arguments.batch, 257, 1408, 16, 6144
head = D // H
scale = head ** -0.5
x = torch.randn(B, T, D)
ln1, ln2 = torch.nn.LayerNorm(D), torch.nn.LayerNorm(D)
qkv, proj = torch.nn.Linear(D, 3 * D), torch.nn.Linear(D, D)
fc1, fc2 = torch.nn.Linear(D, F), torch.nn.Linear(F, D)
times = {}


def timed(name, step):
    start = time.perf_counter()
    result = step()
    times[name] = times.get(name, 0.0) + time.perf_counter() - start
    return result


def plain_attention(q, k, v):
    """softmax(q kᵀ · scale) v, as the engine's `attention` on libtorch 1.13."""
    return torch.matmul(torch.softmax(torch.matmul(q, k.transpose(-1, -2)) * scale, -1), v)


def layer(x, attention):
    h = timed("layer norms", lambda: ln1(x))
    q = timed("linear qkv 1408→4224", lambda: qkv(h))
    q = timed("head reshapes", lambda: q.view(B, T, 3, H, head).permute(2, 0, 3, 1, 4))
    a = timed("attention", lambda: attention(q[0], q[1], q[2]))
    a = timed("head reshapes", lambda: a.transpose(1, 2).reshape(B, T, D))
    o = timed("linear proj 1408→1408", lambda: proj(a))
    x = timed("residuals", lambda: x + o)
    h = timed("layer norms", lambda: ln2(x))
    h = timed("linear fc1 1408→6144", lambda: fc1(h))
    h = timed("gelu", lambda: torch.nn.functional.gelu(h))
    h = timed("linear fc2 6144→1408", lambda: fc2(h))
    return timed("residuals", lambda: x + h)


print(f"torch {torch.__version__}, {arguments.threads} threads, batch {B} × {T} tokens")
with torch.no_grad():
    layer(x, plain_attention)
    times.clear()
    repeats = 3
    for _ in range(repeats):
        layer(x, plain_attention)
total = sum(times.values())
linear = sum(v for k, v in times.items() if k.startswith("linear"))
print(f"{total / repeats * 1000:.0f} ms a layer, linear products {linear / total * 100:.1f} %")
for key, value in sorted(times.items(), key=lambda item: -item[1]):
    print(f"  {key:24s} {value / repeats * 1000:7.1f} ms  {value / total * 100:5.1f} %")
share = linear / total
print(f"bound on the whole layer with the linear products g× faster: 1 / ({share:.3f} / g + {1 - share:.3f});"
      f" g = 1.7 gives {1 / (share / 1.7 + 1 - share):.2f}×, g = 2.2 gives {1 / (share / 2.2 + 1 - share):.2f}×;"
      f" 1.6× needs g ≥ {share / (1 / 1.6 - (1 - share)):.2f}")
