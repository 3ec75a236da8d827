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
]


def candidates(path, params):
    r = open_raster(path)
    old_nms, old_l = cp.NMS, cp.LOGIT0
    cp.NMS, cp.LOGIT0 = 1.01, -1e9
    try:
        overlap = cp.pit_overlap(r.gsd, params)
        dets = scan(r, lambda b: cp.detect_pits(b, params, debug={}), overlap=overlap,
                    block=max(1024, 4 * overlap))
    finally:
        cp.NMS, cp.LOGIT0 = old_nms, old_l
    return dets


def label(dets, truth):
    tc = np.array([[t['x'], t['y']] for t in truth])
    y = np.zeros(len(dets))
    for i, d in enumerate(dets):
        c = np.mean(np.asarray(d['geometry']), axis=0)
        dd = np.hypot(*(tc - c).T)
        j = int(np.argmin(dd))
        t = truth[j]
        ok = dd[j] <= max(2.5, 0.35 * t['width_m'])
        ok &= abs(d['length_m'] / t['length_m'] - 1) < 0.4 and abs(d['width_m'] / t['width_m'] - 1) < 0.4
        y[i] = 1.0 if ok else 0.0
    return y


def fit(X, y, l2=1.0):
    mu, sd = X.mean(axis=0), X.std(axis=0) + 1e-9
    Xs = (X - mu) / sd
    wpos = 0.5 / max(1, y.sum())
    wneg = 0.5 / max(1, (1 - y).sum())
    sw = np.where(y > 0, wpos, wneg)

    def loss(w):
        z = Xs @ w[:-1] + w[-1]
        p = 1 / (1 + np.exp(-z))
        ll = -(sw * (y * np.log(p + 1e-12) + (1 - y) * np.log(1 - p + 1e-12))).sum()
        grad_z = sw * (p - y)
        g = np.concatenate([Xs.T @ grad_z, [grad_z.sum()]])
        reg = l2 * 1e-3
        return ll + reg * (w[:-1] ** 2).sum(), g + np.concatenate([2 * reg * w[:-1], [0]])

    res = minimize(loss, np.zeros(X.shape[1] + 1), jac=True, method='L-BFGS-B')
    w = res.x
    raw = w[:-1] / sd
    bias = w[-1] - (w[:-1] * mu / sd).sum()
    return np.concatenate([raw, [bias]])


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
        dets = candidates(path, params)
        X = np.array([d['_feat'] for d in dets])
        y = label(dets, truth)
        print(f'scene {k}: {len(dets)} candidates, {int(y.sum())} positive, {len(truth)} pits', flush=True)
        Xs.append(X)
        ys.append(y)
    X, y = np.concatenate(Xs), np.concatenate(ys)
    w = fit(X, y)
    z = X @ w[:-1] + w[-1]
    for th in (-1, 0, 1, 2):
        pred = z > th
        tp = (pred & (y > 0)).sum()
        print(f'logit>{th}: precision {tp / max(1, pred.sum()):.3f} recall {tp / max(1, y.sum()):.3f}')
    print('WEIGHTS = np.array([' + ', '.join(f'{v:.4g}' for v in w) + '])')
    print('features:', cp.FEATURES)


if __name__ == '__main__':
    main()
