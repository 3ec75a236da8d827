"""Fit the storage-pit candidate classifier (core/pit_model.py) on generated depot scenes.

    /usr/bin/python3 bench/train_pits.py [--out /tmp/pit_train] [--pan] [--climbed]

Renders 32 depot scenes (seeds 21-50, 57, 58, distinct from bench/bench_pits.py's 101-106 and
201-202: seasons, sun, 0.4-0.9 m grids, RGB and pan Byte/UInt16, old-pits-only and empty
scenes, other depot orientations and elongated pits), collects every refined box
candidate with its feature vector and corners (no suppression, no threshold), labels it by
the ground truth (a pit when it overlaps the nearest true pit by IoU >= --iou, default 0.6),
fits class-balanced gradient-boosted depth-2 trees (histogram splits) and writes them to
core/pit_model.py (every scene on the colour working grid, core.pits.WORK_PX). With --pan it
fits the model of 1-band images, core/pit_model_pan.py, on the pan scenes among them and PAN_EXTRA
(seeds 83, 86, 87), on their own finer grid (WORK_PX_GREY). Candidates are cached per scene in
--out (delete it after changing the detector). With --climbed the boxes that the current model's
learned-score refinement (core.pits._climb) moves are added as further examples (hard ones: where
the model itself would take a candidate); both models in core/ were fitted so, once, from the models
fitted on the plain candidates (a second round was worse on development scenes). Plain numpy (and
OGR for the box overlaps).
"""
import argparse
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), 'test'))

from core import pits as cp  # noqa: E402
from core.change import ring_wkt  # noqa: E402
from core.raster import open_raster, scan  # noqa: E402
import depot_scenes as ds  # noqa: E402

LABEL_IOU = 0.6     # a candidate box is a pit when it overlaps a true pit this much (IoU)

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
    # more variety: coarser and finer grids, pan Byte/UInt16, old-only and empty scenes, other depot
    # orientations, elongated pits, many old pits
    dict(seed=32, season='summer', sun_az=165, sun_el=52, gsd=0.8),
    dict(seed=33, season='autumn', sun_az=200, sun_el=35, gsd=0.9),
    dict(seed=34, season='spring', sun_az=140, sun_el=48, gsd=0.75, bands=1),
    dict(seed=35, season='summer', sun_az=120, sun_el=35, gsd=0.6, bands=1, dtype='UInt16'),
    dict(seed=36, season='autumn', sun_az=215, sun_el=30, gsd=0.5, which='before', n_old=30),
    dict(seed=37, season='spring', sun_az=135, sun_el=55, gsd=0.7, which='before', n_old=25),
    dict(seed=38, season='summer', sun_az=150, sun_el=60, gsd=0.8, which='before', n_old=30),
    dict(seed=39, season='autumn', sun_az=195, sun_el=38, gsd=0.6, n_old=0, n_new=0),
    dict(seed=40, season='spring', sun_az=160, sun_el=50, gsd=0.8, n_old=0, n_new=0, bands=1, dtype='UInt16'),
    dict(seed=41, season='summer', sun_az=145, sun_el=45, gsd=0.5, lay=dict(depot_angle=40.0, pit_length=(8, 28))),
    dict(seed=42, season='autumn', sun_az=210, sun_el=33, gsd=0.6,
         lay=dict(depot_angle=-25.0, pit_length=(14, 24), pit_width=(6, 10))),
    dict(seed=43, season='summer', sun_az=175, sun_el=58, gsd=0.7, dtype='UInt16', lay=dict(depot_angle=70.0)),
    dict(seed=44, season='autumn', sun_az=225, sun_el=25, gsd=0.45),
    dict(seed=45, season='summer', sun_az=155, sun_el=50, gsd=0.55, n_old=40, n_new=60),
    dict(seed=46, season='spring', sun_az=125, sun_el=42, gsd=0.65, n_old=50, n_new=30, lay=dict(depot_angle=5.0)),
    dict(seed=47, season='summer', sun_az=140, sun_el=56, gsd=0.6, which='before', n_old=40, bands=1,
         dtype='UInt16'),
    dict(seed=48, season='spring', sun_az=135, sun_el=45, gsd=0.6, bands=1, dtype='UInt16'),
    dict(seed=49, season='summer', sun_az=200, sun_el=35, gsd=0.5, bands=1),
    dict(seed=50, season='autumn', sun_az=150, sun_el=55, gsd=0.7, bands=1, dtype='UInt16',
         lay=dict(depot_angle=-10.0, pit_width=(6, 10))),
    dict(seed=57, season='spring', sun_az=165, sun_el=40, gsd=0.55, which='before', n_old=35),
    dict(seed=58, season='summer', sun_az=130, sun_el=62, gsd=0.65, which='before', n_old=35,
         lay=dict(depot_angle=30.0)),
]
# --pan: the model of 1-band images (used alone on them: grey imagery has no colour or bareness cue)
# learns from the 1-band scenes above and these, on the finer grey working grid
PAN_EXTRA = [
    dict(seed=83, season='summer', sun_az=130, sun_el=55, gsd=0.7, n_old=0, n_new=0, bands=1, dtype='UInt16'),
    dict(seed=86, season='spring', sun_az=125, sun_el=50, gsd=0.6, bands=1, dtype='UInt16'),
    dict(seed=87, season='autumn', sun_az=210, sun_el=35, gsd=0.55, bands=1),
]


def candidates(path, params, climbed=False):
    """Every refined candidate box of a scene (no suppression, no threshold), or with ``climbed``
    the boxes the learned-score refinement (core.pits._climb, with the current model) moved."""
    r = open_raster(path)
    debug = {'climb_min': params.logit_threshold - cp.CLIMB_FROM} if climbed else {}
    old_nms, old_l = cp.NMS, cp.LOGIT0
    cp.NMS, cp.LOGIT0 = 1.01, -1e9
    try:
        overlap = cp.pit_overlap(r.gsd, params)
        dets = scan(r, lambda b: cp.detect_pits(b, params, debug=dict(debug)), overlap=overlap,
                    block=max(2048, 4 * overlap))
    finally:
        cp.NMS, cp.LOGIT0 = old_nms, old_l
    return dets


def cached(path, params, cache, climbed=False):
    """Features and corners of :func:`candidates`, cached in ``cache`` (delete it after changing
    the detector, or with ``climbed`` after refitting the model)."""
    z = np.load(cache) if os.path.exists(cache) else None
    if z is not None and z['X'].shape[1] == len(cp.FEATURES) and 'G' in z:
        return z['X'], z['G']
    dets = candidates(path, params, climbed)
    X = np.array([d['_feat'] for d in dets]).reshape(-1, len(cp.FEATURES))
    G = np.array([d['geometry'] for d in dets], dtype=float).reshape(-1, 4, 2)
    np.savez(cache, X=X, G=G)
    return X, G


def label(G, truth, min_iou=LABEL_IOU):
    """1 for the candidate boxes (corners ``G``, map coordinates) that outline a pit: overlap
    (intersection over union) with the nearest true pit at least ``min_iou``."""
    from osgeo import ogr
    y = np.zeros(len(G))
    if not truth or not len(G):
        return y

    def poly(c):
        return ogr.CreateGeometryFromWkt(ring_wkt(c))
    tc = np.array([[t['x'], t['y']] for t in truth])
    tpoly = [poly(np.asarray(t['geometry'])) for t in truth]
    cen = G.mean(axis=1)
    dd = np.hypot(cen[:, None, 0] - tc[None, :, 0], cen[:, None, 1] - tc[None, :, 1])
    near = dd.argmin(axis=1)
    reach = np.array([t['length_m'] for t in truth])[near]
    for i in np.nonzero(dd[np.arange(len(G)), near] < reach)[0]:
        a, b = poly(G[i]), tpoly[near[i]]
        inter = a.Intersection(b).GetArea()
        y[i] = inter / (a.GetArea() + b.GetArea() - inter) >= min_iou
    return y


def _best_split(Xb, edges, g, h, idx):
    """Best (feature, threshold, gain) of a Newton split of the samples ``idx`` (features
    pre-binned: ``Xb[f]`` bin indices, split "x <= edges[f][k]" is "bin <= k")."""
    best = (None, None, 0.0)
    gi, hi = g[idx], h[idx]
    G, H = gi.sum(), hi.sum()
    base = G * G / (H + 1.0)
    for f in range(len(Xb)):
        nb = len(edges[f])
        if nb < 2:
            continue
        xb = Xb[f][idx]
        gl = np.cumsum(np.bincount(xb, weights=gi, minlength=nb + 1))[:nb]
        hl = np.cumsum(np.bincount(xb, weights=hi, minlength=nb + 1))[:nb]
        gr, hr = G - gl, H - hl
        gain = np.where((hl > 1e-3) & (hr > 1e-3), gl * gl / (hl + 1.0) + gr * gr / (hr + 1.0) - base, 0.0)
        k = int(np.argmax(gain))
        if gain[k] > best[2]:
            best = (f, float(edges[f][k]), float(gain[k]))
    return best


def fit_trees(X, y, rounds=700, lr=0.2, nbins=32):
    """Gradient-boosted depth-2 trees on the logistic loss, class-balanced. Returns (bias, trees)."""
    wpos = 0.5 / max(1, y.sum())
    wneg = 0.5 / max(1, (1 - y).sum())
    sw = np.where(y > 0, wpos, wneg) * len(y)
    edges = [np.unique(np.quantile(X[:, f], np.linspace(0.02, 0.98, nbins))) for f in range(X.shape[1])]
    Xb = [np.searchsorted(edges[f], X[:, f], side='left').astype(np.uint8) for f in range(X.shape[1])]
    p0 = np.clip((sw * y).sum() / sw.sum(), 1e-3, 1 - 1e-3)
    bias = float(np.log(p0 / (1 - p0)))
    z = np.full(len(y), bias)
    trees = []
    allidx = np.arange(len(y))
    for it in range(rounds):
        p = 1 / (1 + np.exp(-z))
        g = sw * (y - p)
        h = sw * p * (1 - p)
        f0, t0, _ = _best_split(Xb, edges, g, h, allidx)
        if f0 is None:
            break
        parts = (allidx[X[:, f0] <= t0], allidx[X[:, f0] > t0])
        splits, leaves = [], []
        for part in parts:
            f1, t1, _ = _best_split(Xb, edges, g, h, part)
            if f1 is None:
                f1, t1 = f0, t0
            splits.append((f1, t1))
            for sub in (part[X[part, f1] <= t1], part[X[part, f1] > t1]):
                leaves.append(lr * float(g[sub].sum() / (h[sub].sum() + 1.0)) if len(sub) else 0.0)
                z[sub] += leaves[-1]
        trees.append((int(f0), float(t0), int(splits[0][0]), float(splits[0][1]), int(splits[1][0]),
                      float(splits[1][1]), tuple(round(v, 5) for v in leaves)))
    return bias, trees


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', default='/tmp/pit_train')
    ap.add_argument('--iou', type=float, default=LABEL_IOU, help='overlap with a true pit that labels a box a pit')
    ap.add_argument('--pan', action='store_true', help='fit the panchromatic model (core/pit_model_pan.py)')
    ap.add_argument('--climbed', action='store_true',
                    help='add the boxes the current model\'s learned-score refinement moves (cached per model)')
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    params = cp.PitParams()
    scenes = [sc for sc in TRAIN if sc.get('bands', 3) == 1] + PAN_EXTRA if a.pan else TRAIN
    if not a.pan:       # the joint model learns berm geometry from the grey scenes too, on its grid
        cp.WORK_PX_GREY = cp.WORK_PX
    Xs, ys = [], []
    for k, sc in enumerate(scenes):
        sc = dict(sc)
        path = os.path.join(a.out, f'train{sc["seed"]}.tif')
        gsd, lay = sc.pop('gsd'), sc.pop('lay', None)
        if lay is not None:
            lay = ds.depot_layout(sc['seed'], n_old=sc.get('n_old', 15), n_new=sc.get('n_new', 110), **lay)
        truth = ds.depot_scene(path, gsd=gsd, layout=lay, **sc)
        tag = f'{sc["seed"]}{"_pan" if a.pan else ""}.npz'      # the grids differ
        X, G = cached(path, params, os.path.join(a.out, 'cand' + tag))
        if a.climbed:        # hard examples: where the current model's refinement takes candidates
            Xc, Gc = cached(path, params, os.path.join(a.out, 'climb' + tag), climbed=True)
            X, G = np.concatenate([X, Xc]), np.concatenate([G, Gc])
        y = label(G, truth, a.iou)
        print(f'scene {k}: {len(X)} candidates, {int(y.sum())} positive, {len(truth)} pits', flush=True)
        Xs.append(X)
        ys.append(y)
    names = cp.model_features(grey=a.pan)
    X, y = np.concatenate(Xs)[:, :len(names)], np.concatenate(ys)
    np.savez(os.path.join(a.out, 'train_pan.npz' if a.pan else 'train.npz'), X=X, y=y)
    bias, trees = fit_trees(X, y)
    z = cp.tree_logits(X, bias, trees)
    for th in (-1, 0, 1, 2):
        pred = z > th
        tp = (pred & (y > 0)).sum()
        print(f'logit>{th}: precision {tp / max(1, pred.sum()):.3f} recall {tp / max(1, y.sum()):.3f}')
    model = os.path.join(os.path.dirname(HERE), 'core', 'pit_model_pan.py' if a.pan else 'pit_model.py')
    what = ' of 1-band (panchromatic) images' if a.pan else ''
    with open(model, 'w') as fh:
        fh.write(f'"""Boosted trees of the storage-pit classifier{what} (generated by bench/train_pits.py'
                 f'{" --pan" if a.pan else ""}; do not edit).\n\n'
                 f'Features: {", ".join(names)}.\n"""\n')
        fh.write(f'BIAS = {bias!r}\nTREES = [\n')
        for t in trees:
            fh.write(f'    {t!r},\n')
        fh.write(']\n')
    print('wrote', model, len(trees), 'trees')


if __name__ == '__main__':
    main()
