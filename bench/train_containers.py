"""Learn the confidence model of the container detector (core.containers.CONF_MODEL).

    /usr/bin/python3 bench/train_containers.py [--seeds 401-460] [--write]

Renders the benchmark's scene kinds (test/scenes.py) with OTHER seeds than bench_containers.py
(201-210), runs the detector keeping every cell of every segmentation (no confidence floor, no
overlap resolution), labels each cell by the share of its container units that lie within 1.6 m
of a true container centre, and fits a logistic regression on the cell features, their squares and
pairwise products (L2, Newton).
Prints the held-out log-loss and the model; ``--write`` replaces CONF_MODEL in core/containers.py.
"""
import argparse
import re
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / 'test'))
sys.path.insert(0, str(ROOT / 'bench'))
from bench_speed import _package_path  # noqa: E402

_package_path()
import scenes  # noqa: E402
from bench_containers import SCENES  # noqa: E402
from cargowatch.core import containers, raster  # noqa: E402
from scipy.spatial import cKDTree  # noqa: E402


def samples(seeds, tmp):
    X, y, wt, grp = [], [], [], []
    containers.FEATURES = True
    # the current model scores the cells while sampling (it decides which regions are sure),
    # on its own features when new ones were appended to the feature vector
    conf, k = containers._confidence, len(containers.CONF_MODEL['mean'])
    containers._confidence = lambda x: conf(x[:k])
    overlap = containers.TUNE['overlap']
    containers.TUNE['overlap'] = 10.0
    try:
        for i, seed in enumerate(seeds):
            name, skw, wkw = SCENES[i % len(SCENES)]
            sc = scenes.port_scene(**dict(skw, seed=seed))
            path = scenes.write_scene(sc, Path(tmp) / f'{seed}.tif', **wkw)
            r = raster.open_raster(path, bands=(3, 2, 1) if wkw.get('layout') == 'bgrn' else None)
            found = containers.count_containers(r, containers.ContainerParams(min_confidence=-1.0))
            truth = scenes.truth_map_coords(sc)
            tree = cKDTree(np.array([[t['x'], t['y']] for t in truth]))
            n = 0
            for d in found:
                if '_x' not in d:
                    continue
                dist, _ = tree.query(np.array(scenes.detection_units(d)))
                X.append(d['_x'])
                y.append(float((dist < 1.6).mean()))
                wt.append(float(d['containers']))
                grp.append(seed)
                n += 1
            print(f'{seed} {name}: {n} cells', flush=True)
    finally:
        containers.FEATURES = False
        containers._confidence = conf
        containers.TUNE['overlap'] = overlap
    return np.array(X, float), np.array(y), np.array(wt), np.array(grp)


def design(X, mean, scale):
    """Constant, standardised features and all their pairwise products (squares included)."""
    S = (X - mean) / scale
    iu = np.triu_indices(X.shape[1])
    return np.hstack([np.ones((len(X), 1)), S, (S[:, :, None] * S[:, None, :])[:, iu[0], iu[1]]])


def fit(X, y, w, l2=1.0, iters=30):
    """Weighted quadratic logistic regression with soft labels (Newton steps)."""
    mean, scale = X.mean(axis=0), X.std(axis=0) + 1e-9
    Z = design(X, mean, scale)
    beta = np.zeros(Z.shape[1])
    reg = np.full(Z.shape[1], l2)
    reg[0] = 0
    for _ in range(iters):
        pr = 1 / (1 + np.exp(-np.clip(Z @ beta, -30, 30)))
        grad = Z.T @ (w * (pr - y)) + reg * beta
        H = (Z * (w * pr * (1 - pr))[:, None]).T @ Z + np.diag(reg)
        beta -= np.linalg.solve(H, grad)
    return beta, mean, scale


def predict(X, model):
    beta, mean, scale = model
    return 1 / (1 + np.exp(-np.clip(design(X, mean, scale) @ beta, -30, 30)))


def logloss(p, y, w):
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return float(-(w * (y * np.log(p) + (1 - y) * np.log(1 - p))).sum() / w.sum())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--seeds', default='401-460')
    ap.add_argument('--write', action='store_true')
    ap.add_argument('--cache', help='npz of the samples (reused if it exists)')
    args = ap.parse_args()
    lo, hi = map(int, args.seeds.split('-'))
    if args.cache and Path(args.cache).exists():
        z = np.load(args.cache)
        X, y, w, g = z['X'], z['y'], z['w'], z['g']
    else:
        with tempfile.TemporaryDirectory() as tmp:
            X, y, w, g = samples(range(lo, hi + 1), tmp)
        if args.cache:
            np.savez(args.cache, X=X, y=y, w=w, g=g)
    test = g % 5 == 0
    m = fit(X[~test], y[~test], w[~test])
    base = np.average(y[~test], weights=w[~test])
    print(f'{len(X)} cells, {y.mean():.2f} good; held-out log-loss {logloss(predict(X[test], m), y[test], w[test]):.3f} '
          f'(constant {logloss(np.full(test.sum(), base), y[test], w[test]):.3f})')
    beta, mean, scale = fit(X, y, w)
    k = X.shape[1]

    def fmt(v):
        return '(' + ', '.join(f'{float(x):.4g}' for x in v) + ')'
    text = (f"CONF_MODEL = {{'bias': {float(beta[0]):.4g},\n"
            f"              'mean': {fmt(mean)},\n"
            f"              'scale': {fmt(scale)},\n"
            f"              'w': {fmt(beta[1:k + 1])},\n"
            f"              'q': {fmt(beta[k + 1:])}}}")
    print(text)
    if args.write:
        p = ROOT / 'core' / 'containers.py'
        src = p.read_text()
        src = re.sub(r"CONF_MODEL = \{.*?\}\n", text + '\n', src, count=1, flags=re.S)
        p.write_text(src)
        print('written to', p)


if __name__ == '__main__':
    main()
