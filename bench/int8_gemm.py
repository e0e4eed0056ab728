"""int8 against fp32 matrix products on this CPU, on the ViT-g vision tower's linear shapes
(1408→4224 qkv, 1408→1408 projection, 1408→6144 and 6144→1408 MLP; 257 tokens × batch 4),
through Debian's torch 1.13 (the libtorch imgsearch links): dynamically quantised
`torch.ao.nn.quantized.dynamic.Linear` (int8 weights per output channel, activations
quantised per call) on each quantized engine this build has, against `nn.Linear` in fp32,
same threads. The ceiling for issue 19's `--precision int8`: the linear layers are most of
the vision tower's arithmetic.

    .venv/bin/python bench/int8_gemm.py [--threads 2] [--batch 4]
"""
import argparse, time
import torch

parser = argparse.ArgumentParser()
parser.add_argument("--threads", type=int, default=2)
parser.add_argument("--batch", type=int, default=4)
arguments = parser.parse_args()
torch.set_num_threads(arguments.threads)
tokens = 257 * arguments.batch
shapes = [(4224, 1408), (1408, 1408), (6144, 1408), (1408, 6144)]  # (out, in)


def seconds(module, x, repeats=5):
    with torch.no_grad():
        module(x)
        start = time.perf_counter()
        for _ in range(repeats):
            module(x)
    return (time.perf_counter() - start) / repeats


print(f"torch {torch.__version__}, {arguments.threads} threads, {tokens} tokens, engines {torch.backends.quantized.supported_engines}")
for engine in [e for e in torch.backends.quantized.supported_engines if e != "none"]:
    torch.backends.quantized.engine = engine
    total_fp32 = total_int8 = 0.0
    for out_features, in_features in shapes:
        linear = torch.nn.Linear(in_features, out_features).eval()
        weight = linear.weight.detach()
        scales = weight.abs().amax(dim=1) / 127
        quantized = torch.ao.nn.quantized.dynamic.Linear(in_features, out_features, dtype=torch.qint8)
        quantized.set_weight_bias(torch.quantize_per_channel(weight, scales, torch.zeros(out_features, dtype=torch.long),
                                                             0, torch.qint8), linear.bias.detach())
        x = torch.randn(tokens, in_features)
        fp32, int8 = seconds(linear, x), seconds(quantized, x)
        total_fp32 += fp32
        total_int8 += int8
        with torch.no_grad():
            cosine = torch.nn.functional.cosine_similarity(linear(x), quantized(x), dim=1).mean().item()
        giga = 2 * tokens * in_features * out_features / 1e9
        print(f"{engine:8s} {in_features:5d}→{out_features:5d}: fp32 {giga / fp32:6.1f} GFLOP/s, int8 {giga / int8:6.1f} GOP/s, "
              f"{fp32 / int8:.2f}×, output cosine {cosine:.5f}")
    print(f"{engine}: the four shapes together, int8 {total_fp32 / total_int8:.2f}× fp32")
