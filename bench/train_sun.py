"""Train the shadow network and export it for the plugin (core/models/sun.onnx + .json sidecar).

    bench/.venv-train/bin/python bench/train_sun.py [--seed 77] [--patches 3000] [--steps 4000]

Where shadows fall is a property of the whole scene; the container network sees 40 m and must otherwise guess it
from what is in view. This tiny net (on a 1 m copy) tells, per cell, raised things from their shadows and from the
ground; core.sun finds the direction in which "a raised thing here, a shadow a few metres on" outweighs the opposite
way most. Trained only on patches of bench/container_gen.py (what each pixel shows is known there) with every
quarter turn and mirror; the direction it gives is measured on --val other patches, whose sun is known from the
seed (on a single 80 m patch it is weak; over a whole raster good: bench/bench_sun.py). Runs by hand (a few
minutes), never in `make test`.
"""
import argparse
import datetime
import json
import math
import multiprocessing as mp
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import container_gen as gen  # noqa: E402
import train_containers as tc  # noqa: E402
from train_containers import core_sun  # noqa: E402

OUT = HERE.parent / 'core' / 'models'
CLASSES = ('ground', 'raised', 'shadow')     # of container_gen.WHAT: 0 | 1-3 | 4-5


class SunNet(nn.Module):
    """1 m in and out, ~30 m of context: per cell the logits of CLASSES (the shipped sun.onnx: w 12, ~6,700
    multiply-adds per cell; a wider and deeper one, 24 channels and a fifth layer, ~20,000, scored the same)."""

    def __init__(self, w=12):
        super().__init__()
        self.body = nn.Sequential(tc.cbr(3, w), tc.cbr(w, 16, dil=2), tc.cbr(16, 16, dil=4), tc.cbr(16, 16, dil=8),
                                  nn.Conv2d(16, len(CLASSES), 1))

    def forward(self, x):
        return self.body(x)


def make(seed):
    img, _, what = gen.patch(seed, tc.SIZE, what=True)
    one = np.stack([what == 0, (what >= 1) & (what <= 3), what >= 4], -1).astype(np.float32)
    share = cv2.resize(one, (tc.SIZE // 2, tc.SIZE // 2), interpolation=cv2.INTER_AREA)   # 0.5 m -> 1 m cells
    return (np.clip(img, 0, 1) * 255).astype(np.uint8), (share * 255).round().astype(np.uint8)


def dataset(n, seed0):
    """Images (n, 160, 160, 3) uint8 at 0.5 m and class shares (n, 80, 80, 3) uint8 on the 1 m grid."""
    path = tc.CACHE / f'sun1m_{seed0}_{n}_{tc.SIZE}.npz'
    if path.exists():
        z = np.load(path)
        return z['imgs'], z['share']
    tc.CACHE.mkdir(parents=True, exist_ok=True)
    with mp.Pool(2) as pool:
        res = pool.map(make, range(seed0, seed0 + n), chunksize=16)
    imgs, share = np.stack([r[0] for r in res]), np.stack([r[1] for r in res])
    np.savez(path, imgs=imgs, share=share)
    return imgs, share


def shadow_dir(seed):
    """Image direction (radians) of the shadows in the generator's patch ``seed``."""
    return core_sun.shadow_of_azimuth(gen.sun_azimuth(seed))


def prepare(imgs):
    """uint8 (n, 160, 160, 3) patches at 0.5 m -> float (n, 3, 80, 80) at 1 m, as the plugin feeds the net."""
    x = np.stack([cv2.resize(im, (im.shape[1] // 2, im.shape[0] // 2), interpolation=cv2.INTER_AREA) for im in imgs])
    return ((x.astype(np.float32) / 255 - tc.MEAN) * tc.SCALE).transpose(0, 3, 1, 2)


def turned(arrays, rng):
    """Arrays (n, c, h, w) all turned by one random quarter turn and mirror."""
    t, k = bool(rng.integers(2)), int(rng.integers(4))
    return [np.ascontiguousarray(core_sun.turn(a, t, k)) for a in arrays]


def directions(p):
    """core.sun's shadow direction (radians, image axes) from class probabilities (n, 3, h, w)."""
    return np.array([core_sun.direction(core_sun.pairs(q[1], q[2], 1.0))[0] for q in p])


def errors(net, x, d):
    """Degrees between the directions from the net's classes on x and the true ones ``d``."""
    net.eval()
    with torch.no_grad():
        p = torch.softmax(net(torch.from_numpy(x)), 1).numpy()
    net.train()
    return off(directions(p), d)


def off(est, d):
    return np.degrees(np.abs((est - d + math.pi) % (2 * math.pi) - math.pi))


def summary(e):
    return {'median_error_deg': round(float(np.median(e)), 1), 'within_22_5': round(float(np.mean(e < 22.5)), 3),
            'within_45': round(float(np.mean(e < 45)), 3), 'over_90': round(float(np.mean(e > 90)), 3)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--seed', type=int, default=77)
    ap.add_argument('--patches', type=int, default=3000)
    ap.add_argument('--val', type=int, default=300)
    ap.add_argument('--steps', type=int, default=4000)
    ap.add_argument('--batch', type=int, default=24)
    ap.add_argument('--lr', type=float, default=3e-3)
    ap.add_argument('--out', default=str(OUT))
    a = ap.parse_args()
    torch.manual_seed(a.seed)
    torch.set_num_threads(2)
    rng = np.random.default_rng(a.seed)
    s0, v0 = 1_000_000 * a.seed + 500_000, 1_000_000 * a.seed + 950_000
    imgs, share = dataset(a.patches, s0)
    x, y = prepare(imgs), share.transpose(0, 3, 1, 2).astype(np.float32) / 255
    vimgs, vshare = dataset(a.val, v0)
    vx = prepare(vimgs)
    vd = np.array([shadow_dir(s) for s in range(v0, v0 + a.val)])
    print('truth of the own generator: shadow direction error of core.sun on the true classes',
          summary(off(directions(vshare.transpose(0, 3, 1, 2) / 255.0), vd)), flush=True)
    net = SunNet()
    opt = torch.optim.AdamW(net.parameters(), lr=a.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, a.lr, total_steps=a.steps, pct_start=0.1)
    t0 = time.time()
    for step in range(1, a.steps + 1):
        idx = rng.integers(0, len(x), a.batch)
        xb, yb = turned([x[idx], y[idx]], rng)
        loss = -(torch.from_numpy(yb) * F.log_softmax(net(torch.from_numpy(xb)), 1)).sum(1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % 500 == 0 or step == a.steps:
            print(f'step {step} loss {loss.item():.3f} held-out {summary(errors(net, vx, vd))} '
                  f'{time.time() - t0:.0f} s', flush=True)
    net.eval()
    e = errors(net, vx, vd)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(net, torch.zeros(1, 3, 64, 64), str(out / 'sun.onnx'), opset_version=13, dynamo=False,
                      input_names=['image'], output_names=['logits'],
                      dynamic_axes={'image': {2: 'h', 3: 'w'}, 'logits': {2: 'h', 3: 'w'}})
    side = {'model': 'sun.onnx', 'inputs': 'RGB reflectance 0..1 at work_gsd, (x - mean) * scale',
            'work_gsd': 2 * gen.WORK_GSD, 'mean': tc.MEAN, 'scale': tc.SCALE, 'stride': 1,
            'outputs': [f'{c} logit' for c in CLASSES],
            'script': 'bench/train_sun.py', 'generator': 'bench/container_gen.py',
            'data': f'{a.patches} generated patches of {tc.SIZE} px at 0.5 m (seeds from {s0}), halved to 1 m, every '
                    f'quarter turn and mirror; validation {a.val} other patches (seeds from {v0})',
            'seed': a.seed, 'steps': a.steps, 'batch': a.batch, 'lr': a.lr,
            'date': datetime.date.today().isoformat(), 'train_seconds': round(time.time() - t0),
            'validation_generated': summary(e), 'torch': torch.__version__}
    (out / 'sun.json').write_text(json.dumps(side, indent=1) + '\n')


if __name__ == '__main__':
    main()
