"""Fit the storage-pit candidate classifier (core.pits.WEIGHTS) on generated depot scenes.

    /usr/bin/python3 bench/train_pits.py [--out /tmp/pit_train]

Renders a few depot scenes (seeds distinct from bench/bench_pits.py's), collects every
refined box candidate with its feature vector (no suppression, no threshold), labels it
by the ground truth (centre within max(2.5 m, 0.35 x width) of a pit whose size it fits
within 40 %), fits a class-balanced L2 logistic regression and prints the weight vector
to paste into core/pits.py. Plain numpy/scipy.
"""
import argparse
import math
import os
import sys

import numpy as np
from scipy.optimize import minimize

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), 'test'))

from core import pits as cp  # noqa: E402
from core.raster import open_raster, scan  # noqa: E402
import depot_scenes as ds  # noqa: E402

TRAIN = [
    dict(seed=21, season='summer', sun_az=150, sun_el=45, gsd=0.5),
    dict(seed=22, season='autumn', sun_az=205, sun_el=32, gsd=0.5),
    dict(seed=23, season='spring', sun_az=120, sun_el=55, gsd=0.6),
    dict(seed=24, season='summer', sun_az=170, sun_el=60, gsd=0.6, which='before'),
    dict(seed=25, season='autumn', sun_az=220, sun_el=28, gsd=0.4, n_new=60),
    dict(seed=26, season='autumn', sun_az=190, sun_el=40, gsd=0.5, bands=1, dtype='UInt16'),
    dict(seed=27, season='summer', sun_az=135, sun_el=50, gsd=0.7),
    dict(seed=28, season='spring', sun_az=200, sun_el=30, gsd=0.5, which='before'),
    dict(seed=29, season='summer', sun_az=160, sun_el=40, gsd=0.5, n_old=0, n_new=0),
    dict(seed=30, season='summer', sun_az=150, sun_el=45, gsd=0.5, size=(260.0, 260.0), n_old=6, n_new=30),
    dict(seed=31, season='autumn', sun_az=210, sun_el=35, gsd=0.5, size=(300.0, 300.0), n_old=10, n_new=40),
]


def candidates(path, params):
    r = open_raster(path)
    old_nms, old_l = cp.NMS, cp.LOGIT0
    cp.NMS, cp.LOGIT0, cp.PREFILTER = 1.01, -1e9, False
    try:
        overlap = cp.pit_overlap(r.gsd, params)
        dets = scan(r, lambda b: cp.detect_pits(b, params, debug={}), overlap=overlap,
                    block=max(1024, 4 * overlap))
    finally:
        cp.NMS, cp.LOGIT0, cp.PREFILTER = old_nms, old_l, True
    return dets


def label(dets, truth):
    y = np.zeros(len(dets))
    if not truth:
        return y
    tc = np.array([[t['x'], t['y']] for t in truth])
    for i, d in enumerate(dets):
        c = np.mean(np.asarray(d['geometry']), axis=0)
        dd = np.hypot(*(tc - c).T)
        j = int(np.argmin(dd))
        t = truth[j]
        ok = dd[j] <= max(2.5, 0.35 * t['width_m'])
        ok &= abs(d['length_m'] / t['length_m'] - 1) < 0.4 and abs(d['width_m'] / t['width_m'] - 1) < 0.4
        y[i] = 1.0 if ok else 0.0
    return y


def _best_split(X, g, hsum, idx, qs):
    """Best (feature, threshold, gain) of a Newton split of the samples ``idx``."""
    best = (None, None, 0.0)
    G, H = g[idx].sum(), hsum[idx].sum()
    base = G * G / (H + 1.0)
    for f in range(X.shape[1]):
        x = X[idx, f]
        for t in qs[f]:
            left = x <= t
            gl, hl = g[idx][left].sum(), hsum[idx][left].sum()
            gr, hr = G - gl, H - hl
            if hl < 1e-3 or hr < 1e-3:
                continue
            gain = gl * gl / (hl + 1.0) + gr * gr / (hr + 1.0) - base
            if gain > best[2]:
                best = (f, float(t), gain)
    return best


def fit_trees(X, y, rounds=200, lr=0.25):
    """Gradient-boosted depth-2 trees on the logistic loss, class-balanced. Returns (bias, trees)."""
    wpos = 0.5 / max(1, y.sum())
    wneg = 0.5 / max(1, (1 - y).sum())
    sw = np.where(y > 0, wpos, wneg) * len(y)
    qs = [np.unique(np.quantile(X[:, f], np.linspace(0.03, 0.97, 24))) for f in range(X.shape[1])]
    p0 = np.clip((sw * y).sum() / sw.sum(), 1e-3, 1 - 1e-3)
    bias = float(np.log(p0 / (1 - p0)))
    z = np.full(len(y), bias)
    trees = []
    allidx = np.arange(len(y))
    for it in range(rounds):
        p = 1 / (1 + np.exp(-z))
        g = sw * (y - p)
        h = sw * p * (1 - p)
        f0, t0, _ = _best_split(X, g, h, allidx, qs)
        if f0 is None:
            break
        L = allidx[X[:, f0] <= t0]
        Rr = allidx[X[:, f0] > t0]
        leaves, splits = [], []
        for part in (L, Rr):
            f1, t1, _ = _best_split(X, g, h, part, qs)
            if f1 is None:
                f1, t1 = f0, t0
            splits.append((f1, t1))
            for sub in (part[X[part, f1] <= t1], part[X[part, f1] > t1]):
                leaves.append(lr * float(g[sub].sum() / (h[sub].sum() + 1.0)) if len(sub) else 0.0)
        trees.append((int(f0), float(t0), int(splits[0][0]), float(splits[0][1]), int(splits[1][0]),
                      float(splits[1][1]), tuple(round(v, 5) for v in leaves)))
        # update
        for k, (part, (f1, t1)) in enumerate(zip((L, Rr), splits)):
            lo = part[X[part, f1] <= t1]
            hi = part[X[part, f1] > t1]
            z[lo] += leaves[2 * k]
            z[hi] += leaves[2 * k + 1]
    return bias, trees


def predict(X, bias, trees):
    z = np.full(len(X), bias)
    for f0, t0, f1, t1, f2, t2, v in trees:
        left = X[:, f0] <= t0
        z += np.where(left, np.where(X[:, f1] <= t1, v[0], v[1]), np.where(X[:, f2] <= t2, v[2], v[3]))
    return z


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', default='/tmp/pit_train')
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    params = cp.PitParams()
    Xs, ys = [], []
    for k, sc in enumerate(TRAIN):
        sc = dict(sc)
        path = os.path.join(a.out, f'train{k}.tif')
        gsd = sc.pop('gsd')
        truth = ds.depot_scene(path, gsd=gsd, **sc)
        cache = os.path.join(a.out, f'cand{k}_{sc["seed"]}.npz')
        if os.path.exists(cache):
            z = np.load(cache)
            X, y = z['X'], z['y']
        else:
            dets = candidates(path, params)
            X = np.array([d['_feat'] for d in dets])
            y = label(dets, truth)
            np.savez(cache, X=X, y=y)
        print(f'scene {k}: {len(X)} candidates, {int(y.sum())} positive, {len(truth)} pits', flush=True)
        Xs.append(X)
        ys.append(y)
    X, y = np.concatenate(Xs), np.concatenate(ys)
    np.savez(os.path.join(a.out, 'train.npz'), X=X, y=y)
    bias, trees = fit_trees(X, y)
    z = predict(X, bias, trees)
    for th in (-1, 0, 1, 2):
        pred = z > th
        tp = (pred & (y > 0)).sum()
        print(f'logit>{th}: precision {tp / max(1, pred.sum()):.3f} recall {tp / max(1, y.sum()):.3f}')
    model = os.path.join(os.path.dirname(HERE), 'core', 'pit_model.py')
    with open(model, 'w') as fh:
        fh.write('"""Boosted trees of the storage-pit classifier (generated by bench/train_pits.py; do not edit).\n\n'
                 f'Features: {", ".join(cp.FEATURES)}.\n"""\n')
        fh.write(f'BIAS = {bias!r}\nTREES = [\n')
        for t in trees:
            fh.write(f'    {t!r},\n')
        fh.write(']\n')
    print('wrote', model, len(trees), 'trees')


if __name__ == '__main__':
    main()
