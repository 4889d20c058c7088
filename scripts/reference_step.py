#!/usr/bin/python3
"""Baseline for `reviewkd bench step`: the ReviewKD training step of resnet56 -> resnet20 written in PyTorch the
way the reference implementation structures it (spec sections 2-5: CIFAR ResNets returning preact features,
ABF with concatenation + attention conv, HCL, SGD with Nesterov), timed on the same machine and the same
LibTorch build as the engine (Debian's python3-torch 1.13). The teacher runs as in the reference: train mode
(batch statistics) under no-grad. Prints `median_ms=<x> img_per_s=<y>` last, like the engine's benchmark.

Usage: /usr/bin/python3 scripts/reference_step.py [--threads N] [--batch 128] [--steps 10]
Needs the Debian package python3-torch (not installed by scripts/setup: only this benchmark uses it)."""
import argparse
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out = out + (x if self.downsample is None else self.downsample(x))
        return F.relu(out), out


class CifarResNet(nn.Module):
    def __init__(self, depth, classes=100):
        super().__init__()
        n = (depth - 2) // 6
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        stages, cin = [], 16
        for width, stride in ((16, 1), (32, 2), (64, 2)):
            blocks = []
            for i in range(n):
                blocks.append(Block(cin, width, stride if i == 0 else 1))
                cin = width
            stages.append(nn.ModuleList(blocks))
        self.layer1, self.layer2, self.layer3 = stages
        self.fc = nn.Linear(64, classes)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        feats, preacts = [], []
        for stage in (self.layer1, self.layer2, self.layer3):
            for block in stage:
                x, pre = block(x)
            feats.append(x)
            preacts.append(pre)
        pooled = F.adaptive_avg_pool2d(x, 1)
        return feats, preacts, pooled, self.fc(pooled.flatten(1))


class ABF(nn.Module):
    def __init__(self, cin, mid, cout, fuse):
        super().__init__()
        self.conv1 = nn.Sequential(nn.Conv2d(cin, mid, 1, bias=False), nn.BatchNorm2d(mid))
        self.conv2 = nn.Sequential(nn.Conv2d(mid, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout))
        self.att_conv = nn.Sequential(nn.Conv2d(mid * 2, 2, 1), nn.Sigmoid()) if fuse else None

    def forward(self, x, y=None, shape=None, out_shape=None):
        n, _, h, w = x.shape
        x = self.conv1(x)
        if self.att_conv is not None:
            y = F.interpolate(y, (shape, shape), mode="nearest")
            z = self.att_conv(torch.cat([x, y], dim=1))
            x = x * z[:, 0].view(n, 1, h, w) + y * z[:, 1].view(n, 1, h, w)
        if x.shape[-1] != out_shape:
            x = F.interpolate(x, (out_shape, out_shape), mode="nearest")
        return self.conv2(x), x


def hcl(fs_list, ft_list):
    total = 0.0
    for fs, ft in zip(fs_list, ft_list):
        h = fs.shape[2]
        loss = F.mse_loss(fs, ft)
        cnt, tot = 1.0, 1.0
        for size in (4, 2, 1):
            if size >= h:
                continue
            cnt /= 2.0
            loss = loss + F.mse_loss(F.adaptive_avg_pool2d(fs, size), F.adaptive_avg_pool2d(ft, size)) * cnt
            tot += cnt
        total = total + loss / tot
    return total


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=3)
    a = p.parse_args()
    import os
    torch.set_num_threads(a.threads or os.cpu_count())
    torch.manual_seed(0)
    student, teacher = CifarResNet(20), CifarResNet(56)
    channels, shapes = [64, 64, 32, 16], [1, 8, 16, 32]   # deep to shallow
    abfs = nn.ModuleList([ABF(c, 64, c, i > 0) for i, c in enumerate(channels)])
    params = list(student.parameters()) + list(abfs.parameters())
    opt = torch.optim.SGD(params, lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4)
    x = torch.randn(a.batch, 3, 32, 32)
    y = torch.randint(0, 100, (a.batch,))
    times = []
    for i in range(a.warmup + a.steps):
        t0 = time.perf_counter()
        feats, _, pooled, logits = student(x)
        levels = feats + [pooled]
        with torch.no_grad():
            _, t_pre, t_pooled, _ = teacher(x)       # train mode: the reference's batch-statistics teacher
        t_levels = t_pre + [t_pooled]
        rev = levels[::-1]
        out, res = abfs[0](rev[0], out_shape=shapes[0])
        results = [out]
        for feat, abf, shape in zip(rev[1:], abfs[1:], shapes[1:]):
            out, res = abf(feat, res, shape, shape)
            results.insert(0, out)
        loss = F.cross_entropy(logits, y) + 0.6 * hcl(results, t_levels)
        opt.zero_grad()
        loss.backward()
        opt.step()
        loss.item()
        if i >= a.warmup:
            times.append((time.perf_counter() - t0) * 1000)
    med = statistics.median(times)
    print(f"reference-style PyTorch {torch.__version__}, {torch.get_num_threads()} threads, batch {a.batch}")
    print(f"median_ms={med:.1f} img_per_s={1000 * a.batch / med:.1f}")


if __name__ == "__main__":
    main()
