"""Experiment (session 35): rescore the network's container peaks by where they stand among the others.

    .venv/bin/python bench/rescore_containers.py fit [--patches 450] [--seed0 600000]     # -> bench/out/rescore.json
    .venv/bin/python bench/rescore_containers.py calibrate [calibrate_containers.py options]

Containers stand in blocks: boxes of one orientation side by side (a width apart) and end to end (their two half
lengths apart), on a lattice of seams (issue #17's geometric route). A peak of the network is scored again from
its own centre probability and a few measures of that lattice around it, by a logistic model with seven weights
fitted on the project's own generator only (peaks over LOW of the shipped model on new generator patches, labelled
by the shared scorer's 2 m match to the truth). ``calibrate`` runs bench/calibrate_containers.py with every peak's
confidence replaced by the rescored one. Never reads ../shared.
"""
import json
import math
import sys
from pathlib import Path

import numpy as np
from scipy.optimize import minimize
from scipy.spatial import cKDTree

import calibrate_containers as cal

containers, gen, scenes = cal.containers, cal.gen, cal.scenes

LOW = 0.15          # peaks this sure and over take part (and are rescored)
NEAR_M = 14.0       # the group rule's reach (core.containers.GROUP_M)
ALIGNED = math.sin(math.radians(10))
OUT = Path(__file__).resolve().parent / 'out' / 'rescore.json'
NAMES = ['bias', 'logit', 'side', 'end', 'near', 'aligned', 'big']


def features(cols, gsd, p=containers.ContainerParams()):
    """(n, 7) features of the peaks in detection columns with block-pixel ``corners``: 1, the logit of the centre
    probability; the summed probability of its (at most two) neighbours side by side (aligned within 10 degrees,
    less than 1 m apart along, 2.2-3.4 m across) and end to end (under 0.8 m across, their half lengths apart along
    within 1 m); log(1 + the summed probability of every peak within NEAR_M); the share of that sum aligned with it;
    40 ft or not."""
    c = np.asarray(cols['corners'], float) * gsd
    n = len(c)
    xy = c.mean(axis=1)
    u = c[:, 1] - c[:, 0]
    half = np.linalg.norm(u, axis=1) / 2
    u /= np.maximum(2 * half, 1e-9)[:, None]
    conf = np.asarray(cols['conf'], float)
    f = np.zeros((n, 7))
    f[:, 0] = 1.0
    f[:, 1] = np.log(conf / np.maximum(1 - conf, 1e-6))
    f[:, 6] = np.asarray(cols['big'], float)
    if n < 2:
        f[:, 5] = 0.5
        return f
    pairs = cKDTree(xy).query_pairs(NEAR_M, output_type='ndarray')
    i, j = np.concatenate([pairs[:, 0], pairs[:, 1]]), np.concatenate([pairs[:, 1], pairs[:, 0]])
    d = xy[j] - xy[i]
    along = np.abs(np.einsum('ij,ij->i', d, u[i]))
    across = np.abs(d[:, 0] * u[i, 1] - d[:, 1] * u[i, 0])
    aligned = np.abs(u[i, 0] * u[j, 1] - u[i, 1] * u[j, 0]) < ALIGNED
    side = aligned & (along < 1.0) & (across > 2.2) & (across < 3.4)
    end = aligned & (across < 0.8) & (np.abs(along - half[i] - half[j]) < 1.0)
    for col, m in ((2, side), (3, end)):
        f[:, col] = np.minimum(np.bincount(i[m], conf[j][m], n), 2.0)
    near = np.bincount(i, conf[j], n)
    f[:, 4] = np.log1p(near)
    f[:, 5] = np.where(near > 0, np.bincount(i, conf[j] * aligned, n) / np.maximum(near, 1e-9), 0.5)
    return f


def rescored(cols, gsd, w):
    """Columns with ``conf`` replaced by the logistic model's probability."""
    z = features(cols, gsd) @ np.asarray(w)
    return dict(cols, conf=(1 / (1 + np.exp(-z))).astype(np.float32))


def collect(n, seed0, free):
    """Features and labels (1: matched to a true top within 2 m) of the peaks over LOW on ``n`` generator patches
    and ``free`` container-free ones, scored away from the patch edges as the calibration scores."""
    params = cal.params_at(LOW)
    fs, ys = [], []
    jobs = [(s, True) for s in range(seed0, seed0 + n)] + [(s, False) for s in range(seed0 + 50_000,
                                                                                       seed0 + 50_000 + free)]
    for k, (seed, full) in enumerate(jobs):
        img, lab = gen.patch(seed, cal.SIZE, containers=full)
        block = cal.patch_block(img, seed)
        h, w = block.valid.shape
        cols = containers.detect_columns(block, params)
        if not len(cols['conf']):
            continue
        f = features(cols, gen.WORK_GSD)
        xy = np.asarray(cols['corners'], float).mean(axis=1)
        inside = np.array([cal.inner(x, y, w, h) for x, y in xy])
        truth = [(x, y) for x, y, *_ in lab] if full else []
        m = scenes.match(xy, truth, cal.MATCH_M / gen.WORK_GSD) if truth else {}
        y = np.zeros(len(xy))
        y[list(m)] = 1
        fs.append(f[inside])
        ys.append(y[inside])
        if k % 100 == 0:
            print(k, 'patches', flush=True)
    return np.concatenate(fs), np.concatenate(ys)


def fit(f, y):
    """Weights of a logistic model (a little L2 on all but the bias)."""
    def nll(w):
        z = f @ w
        p = 1 / (1 + np.exp(-z))
        reg = 1e-3 * np.sum(w[1:] ** 2) * len(y)
        return (np.sum(np.logaddexp(0, z) - y * z) + reg,
                f.T @ (p - y) + 2e-3 * len(y) * np.r_[0, w[1:]])
    w0 = np.zeros(f.shape[1])
    w0[1] = 1.0
    return minimize(nll, w0, jac=True, method='L-BFGS-B').x


def main():
    if sys.argv[1] == 'fit':
        import argparse
        ap = argparse.ArgumentParser()
        ap.add_argument('cmd')
        ap.add_argument('--patches', type=int, default=450)
        ap.add_argument('--free', type=int, default=300)
        ap.add_argument('--seed0', type=int, default=600_000)
        a = ap.parse_args()
        f, y = collect(a.patches, a.seed0, a.free)
        w = fit(f, y)
        base = fit(f[:, :2], y)
        print(f'{len(y)} peaks, {int(y.sum())} true')
        print(dict(zip(NAMES, np.round(w, 3))), 'only the probability:', np.round(base, 3))
        OUT.write_text(json.dumps({'weights': list(map(float, w)), 'names': NAMES, 'low': LOW,
                                   'patches': a.patches, 'free': a.free, 'seed0': a.seed0,
                                   'peaks': len(y), 'true': int(y.sum())}, indent=1) + '\n')
    else:
        w = json.loads(OUT.read_text())['weights']
        orig = containers.detect_columns

        def detect(block, params=None):
            return rescored(orig(block, cal.params_at(LOW)), float(block.gsd), w)
        containers.detect_columns = detect
        sys.argv = [sys.argv[0]] + sys.argv[2:]
        cal.main()


if __name__ == '__main__':
    main()
