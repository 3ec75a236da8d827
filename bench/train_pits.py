"""Train the storage-pit network and export it for the plugin (core/models/pits.onnx + pits.json).

    /work/main/bench/.venv-train/bin/python bench/train_pits.py [--tiles 4000] [--minutes 20] [--out /tmp/pit_train]

Run by hand, never by ``make test``; fits in ~20-30 min on 2 CPU cores. Data: bench/pit_gen.py only (the
project's own generator, far more varied than test/helpers/depot_scenes.py); nothing from ../shared/data/imagery,
which is for validation only.

The network is fully convolutional (~2,400 multiply-adds per working pixel; the working grid is
WORK_GSD = 0.75 m/px, so ~1,100 per input pixel of a 0.5 m image), input 3 channels normalised as
core.pits.normalise does (per-channel 2-98 % stretch of the valid pixels, centred; pan replicated), output
at 1/4 of the working grid (3 m cells), 7 channels: pit-centre heatmap logit, the centre's offset in the
cell (2), log length and log width (2), cos and sin of twice the long axis' angle (2). Trained CenterNet-
style (focal loss on the heatmap, L1 on the box at the centres). Batch-norm layers are folded on export.
The sidecar JSON records the script, data recipe, seeds, date, and scores on held-out generated tiles.
"""
import argparse
import datetime
import json
import math
import os
import sys
import time
from multiprocessing import Pool

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import pit_gen  # noqa: E402

ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)
from core.pits import decode, normalise  # noqa: E402  (the plugin's own: GDAL-free)

MODEL_DIR = os.path.join(ROOT, 'core', 'models')
STRIDE = 4
TRAIN_SEED, EXTRA_SEED, VAL_SEED = 1000, 100000, 900000
SIZE_REF = 16.0          # working px; sizes are regressed as log(size / SIZE_REF)


def _one(seed):
    rng = np.random.default_rng(seed)
    img, valid, pits = pit_gen.tile(rng)
    return normalise(img, valid).astype(np.float16), valid, np.array(pits, np.float32).reshape(-1, 5)


def make_set(seed0, n, cache):
    if os.path.exists(cache):
        z = np.load(cache, allow_pickle=True)
        return z['x'], z['v'], list(z['p'])
    t0 = time.time()
    with Pool(2) as pool:
        res = pool.map(_one, range(seed0, seed0 + n), chunksize=16)
    x = np.stack([r[0] for r in res])
    v = np.stack([r[1] for r in res])
    p = [r[2] for r in res]
    pa = np.empty(len(p), object)
    pa[:] = p
    np.savez(cache, x=x, v=v, p=pa)
    print(f'{n} tiles in {time.time() - t0:.0f} s -> {cache}', flush=True)
    return x, v, p


def targets(pits, size):
    """Heatmap (1, s, s) and box targets (6, s, s) with their mask, on the output grid."""
    s = size // STRIDE
    hm = np.zeros((s, s), np.float32)
    reg = np.zeros((6, s, s), np.float32)
    msk = np.zeros((s, s), np.float32)
    yy, xx = np.mgrid[0:s, 0:s].astype(np.float32)
    for cx, cy, L, W, ang in pits:
        gx, gy = cx / STRIDE - 0.5, cy / STRIDE - 0.5        # output cell centres at (i + 0.5) * STRIDE
        sig = max(0.6, W / STRIDE / 5.0)
        hm = np.maximum(hm, np.exp(-((xx - gx) ** 2 + (yy - gy) ** 2) / (2 * sig * sig)))
        ix, iy = int(round(gx)), int(round(gy))
        if 0 <= ix < s and 0 <= iy < s:
            hm[iy, ix] = 1.0
            a = math.radians(2 * ang)
            reg[:, iy, ix] = (gx - ix, gy - iy, math.log(L / SIZE_REF), math.log(W / SIZE_REF), math.cos(a),
                              math.sin(a))
            msk[iy, ix] = 1.0
    return hm, reg, msk


def cbr(i, o, s=1, d=1, k=3):
    return nn.Sequential(nn.Conv2d(i, o, k, s, padding=d * (k // 2), dilation=d, bias=False), nn.BatchNorm2d(o),
                         nn.ReLU(inplace=True))


class PitNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.l1 = cbr(3, 16, 2)            # 1/2
        self.l2 = cbr(16, 24, 2)           # 1/4
        self.l3 = cbr(24, 24)
        self.l4 = cbr(24, 48, 2)           # 1/8
        self.l5 = cbr(48, 48)
        self.l6 = cbr(48, 48, d=2)
        self.l7 = cbr(48, 64, 2)           # 1/16
        self.l8 = cbr(64, 64, d=2)
        self.m8 = cbr(64 + 48, 48, k=1)
        self.m4 = cbr(48 + 24, 32, k=1)
        self.h = cbr(32, 32, k=1)         # 1 x 1: a 3 x 3 here cost a quarter of the net for little
        self.out = nn.Conv2d(32, 7, 1)
        self.out.bias.data[0] = -4.0

    def forward(self, x):
        x4 = self.l3(self.l2(self.l1(x)))
        x8 = self.l6(self.l5(self.l4(x4)))
        x16 = self.l8(self.l7(x8))
        y8 = self.m8(torch.cat([F.interpolate(x16, scale_factor=2.0, mode='nearest'), x8], 1))
        y4 = self.m4(torch.cat([F.interpolate(y8, scale_factor=2.0, mode='nearest'), x4], 1))
        return self.out(self.h(y4))


def macs_per_pixel(net, size=256):
    total = 0

    def hook(m, i, o):
        nonlocal total
        total += o.numel() * m.in_channels * m.kernel_size[0] * m.kernel_size[1] // m.groups
    hs = [m.register_forward_hook(hook) for m in net.modules() if isinstance(m, nn.Conv2d)]
    with torch.no_grad():
        net(torch.zeros(1, 3, size, size))
    for h in hs:
        h.remove()
    return total / size / size


def loss_fn(out, hm, reg, msk):
    p = torch.sigmoid(out[:, 0]).clamp(1e-4, 1 - 1e-4)
    pos = (hm >= 0.999).float()
    neg = 1 - pos
    fl = -(pos * (1 - p) ** 2 * torch.log(p) + neg * (1 - hm) ** 4 * p ** 2 * torch.log(1 - p)).sum()
    npos = pos.sum().clamp(min=1)
    m = msk[:, None]
    rl = (F.smooth_l1_loss(out[:, 1:], reg, reduction='none', beta=0.1) * m)
    rl = (rl[:, 0:2].sum() + rl[:, 2:4].sum() + rl[:, 4:6].sum()) / npos
    return fl / npos + rl, fl / npos, rl


def evaluate(net, x, v, p, thr=0.5):
    """Precision, recall, F1 on tiles; a detection is right when its centre is within
    max(3 m, 0.45 x the true width) of a true pit, one to one."""
    from scipy.optimize import linear_sum_assignment
    net.eval()
    tp = fp = fn = 0
    with torch.no_grad():
        for i in range(0, len(x), 32):
            o = net(torch.from_numpy(x[i:i + 32].astype(np.float32))).numpy()
            for k in range(len(o)):
                dets = decode(o[k], thr)
                truth = p[i + k]
                if len(dets) and len(truth):
                    D = np.hypot(dets[:, None, 0] - truth[None, :, 0], dets[:, None, 1] - truth[None, :, 1])
                    tol = np.maximum(3.0 / pit_gen.WORK_GSD, 0.45 * truth[:, 3])[None]
                    C = np.where(D <= tol, D, 1e6)
                    r, c = linear_sum_assignment(C)
                    m = int((C[r, c] < 1e6).sum())
                else:
                    m = 0
                tp += m
                fp += len(dets) - m
                fn += len(truth) - m
    net.train()
    pr = tp / max(1, tp + fp)
    rc = tp / max(1, tp + fn)
    return dict(precision=round(pr, 4), recall=round(rc, 4), f1=round(2 * pr * rc / max(1e-9, pr + rc), 4),
                tp=tp, fp=fp, fn=fn)


def best_threshold(scores):
    """The heatmap threshold (of ``scores``' thr_X keys) where F1 on the held-out generated tiles peaks: the
    detector's threshold at sensitivity 0.5."""
    return round(float(max(scores, key=lambda k: scores[k]['f1'])[4:]), 2)


def fold_bn(net):
    """Fold every BatchNorm into the convolution before it (exported graph: Conv + Relu only)."""
    for m in net.modules():
        if isinstance(m, nn.Sequential) and len(m) == 3 and isinstance(m[1], nn.BatchNorm2d):
            conv, bn = m[0], m[1]
            s = bn.weight.data / torch.sqrt(bn.running_var + bn.eps)
            conv.weight.data = conv.weight.data * s[:, None, None, None]
            conv.bias = nn.Parameter(bn.bias.data - bn.running_mean * s)
            m[1] = nn.Identity()
    return net


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--tiles', type=int, default=4000)
    ap.add_argument('--extra', type=int, default=0, help='more training tiles, of seeds from --extra-seed')
    ap.add_argument('--extra-seed', type=int, default=EXTRA_SEED)
    ap.add_argument('--val', type=int, default=300)
    ap.add_argument('--minutes', type=float, default=20.0, help='training time; 0: evaluate and export --init')
    ap.add_argument('--batch', type=int, default=16)
    ap.add_argument('--out', default='/tmp/pit_train')
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--crop', type=int, default=0, help='train on random square crops of this many px (multiple of 16)')
    ap.add_argument('--init', default=None, help='start from these weights (a pitnet.pt of an earlier run)')
    ap.add_argument('--lr', type=float, default=2e-3)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    torch.manual_seed(a.seed)
    torch.set_num_threads(2)
    x, v, p = make_set(TRAIN_SEED, a.tiles, os.path.join(a.out, f'train_{TRAIN_SEED}_{a.tiles}.npz'))
    if a.extra:             # a second batch of tiles (other seeds), cached apart
        x2, v2, p2 = make_set(a.extra_seed, a.extra, os.path.join(a.out, f'train_{a.extra_seed}_{a.extra}.npz'))
        x, v, p = np.concatenate([x, x2]), np.concatenate([v, v2]), list(p) + list(p2)
    xv, vv, pv = make_set(VAL_SEED, a.val, os.path.join(a.out, f'val_{VAL_SEED}_{a.val}.npz'))
    T = [targets(pp, x.shape[-1]) for pp in p]
    hm = np.stack([t[0] for t in T])
    reg = np.stack([t[1] for t in T])
    msk = np.stack([t[2] for t in T])
    net = PitNet()
    if a.init:
        old, new = torch.load(a.init), net.state_dict()      # layers whose shape changed start afresh
        net.load_state_dict({k: v for k, v in old.items() if k in new and v.shape == new[k].shape}, strict=False)
    print(f'{macs_per_pixel(net):.0f} multiply-adds per working pixel', flush=True)
    opt = torch.optim.AdamW(net.parameters(), lr=2e-3, weight_decay=1e-4)
    budget = a.minutes * 60
    t0 = time.time()
    rng = np.random.default_rng(a.seed)
    step, epoch = 0, 0
    while time.time() - t0 < budget:
        order = rng.permutation(len(x))
        for i in range(0, len(order) - a.batch + 1, a.batch):
            frac = (time.time() - t0) / budget
            if frac >= 1:
                break
            for g in opt.param_groups:
                g['lr'] = a.lr * 0.5 * (1 + math.cos(math.pi * min(1.0, frac)))
            idx = order[i:i + a.batch]
            xb = torch.from_numpy(x[idx].astype(np.float32))
            hb, rb, mb = (torch.from_numpy(t[idx]) for t in (hm, reg, msk))
            if a.crop:      # the same random window of every tile in the batch (output cells: /STRIDE)
                c = a.crop // STRIDE
                i0, j0 = (int(rng.integers(0, hb.shape[-1] - c + 1)) for _ in range(2))
                xb = xb[..., i0 * STRIDE:(i0 + c) * STRIDE, j0 * STRIDE:(j0 + c) * STRIDE]
                hb, rb, mb = (t[..., i0:i0 + c, j0:j0 + c] for t in (hb, rb, mb))
            # augmentation: a flip and a transpose (the labels' angles and offsets follow)
            if rng.random() < 0.5:
                xb, hb, rb, mb = xb.flip(-1), hb.flip(-1), rb.flip(-1), mb.flip(-1)
                rb = rb.clone()
                rb[:, 0] = -rb[:, 0]
                rb[:, 5] = -rb[:, 5]                   # angle -> 180 - angle
            out = net(xb)
            loss, lh, lr_ = loss_fn(out, hb, rb, mb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
            if step % 50 == 0:
                print(f'{time.time() - t0:6.0f}s epoch {epoch} step {step} loss {loss.item():.3f} '
                      f'(heat {lh.item():.3f}, box {lr_.item():.3f})', flush=True)
        epoch += 1
        torch.save(net.state_dict(), os.path.join(a.out, 'pitnet.pt'))
    torch.save(net.state_dict(), os.path.join(a.out, 'pitnet.pt'))
    net.eval()
    scores = {f'thr_{t:.2f}': evaluate(net, xv, vv, pv, t) for t in np.arange(0.15, 0.651, 0.05)}
    print(json.dumps(scores), flush=True)
    fold_bn(net)
    os.makedirs(MODEL_DIR, exist_ok=True)
    onnx_path = os.path.join(MODEL_DIR, 'pits.onnx')
    torch.onnx.export(net, torch.zeros(1, 3, 256, 256), onnx_path, opset_version=13, dynamo=False,
                      input_names=['image'], output_names=['maps'],
                      dynamic_axes={'image': {2: 'h', 3: 'w'}, 'maps': {2: 'h4', 3: 'w4'}})
    meta = dict(
        model='pits.onnx', what='storage-pit centre heatmap + box (CenterNet-style), fully convolutional',
        script='bench/train_pits.py', generator='bench/pit_gen.py',
        init=a.init, crop=a.crop, lr=a.lr,
        data_recipe=dict(train_tiles=a.tiles, train_seeds=[TRAIN_SEED, TRAIN_SEED + a.tiles - 1],
                         extra_tiles=a.extra, extra_seeds=[a.extra_seed, a.extra_seed + a.extra - 1],
                         val_tiles=a.val, val_seeds=[VAL_SEED, VAL_SEED + a.val - 1], tile_px=pit_gen.TILE,
                         augmentation='horizontal flip',
                         note='generated tiles only; ../shared/data/imagery never used for training or tuning'),
        seed=a.seed, date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'),
        torch=torch.__version__, opset=13, train_minutes=round((time.time() - t0) / 60, 1), steps=step,
        epochs=epoch, batch=a.batch,
        input=dict(channels=3, work_gsd_m=pit_gen.WORK_GSD, normalise='per channel (x - p2) / (p98 - p2) - 0.5 '
                   'over valid pixels, clipped to +-1.5, nodata = 0; 1 band replicated to 3; >= 4 bands: the first 3',
                   multiple_of=16),
        output=dict(stride=STRIDE, channels=['heat logit', 'dx', 'dy', 'log(L/16 px)', 'log(W/16 px)', 'cos 2a',
                                             'sin 2a'], size_ref_px=SIZE_REF),
        macs_per_working_pixel=round(macs_per_pixel(net)),
        validation_generated=scores,
        threshold=best_threshold(scores))
    prev = os.path.splitext(a.init)[0] + '.json' if a.init else None
    if prev and os.path.exists(prev):          # the run(s) these weights were trained in, before this one
        with open(prev) as f:
            meta['previous_run'] = {k: v for k, v in json.load(f).items() if k not in ('input', 'output')}
    with open(os.path.join(MODEL_DIR, 'pits.json'), 'w') as f:
        json.dump(meta, f, indent=1)
    with open(os.path.join(a.out, 'pitnet.json'), 'w') as f:
        json.dump(meta, f, indent=1)
    print('wrote', onnx_path, flush=True)


if __name__ == '__main__':
    main()
