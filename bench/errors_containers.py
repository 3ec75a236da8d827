"""What the shipped container model gets wrong on the project's own generator (benchmark, not a test).

    .venv/bin/python bench/errors_containers.py [--patches 100] [--seed0 7600000] [--rows-of-any SHARE]
                                                [--rail-share SHARE] [--gsd LO HI]

On new generator patches (seeds from --seed0; --rows-of-any sets the share of blocks whose rows hold boxes of both
sizes end to end, --rail-share the share of patches with a rail yard, --gsd the range of sensor resolutions, default
the generator's own), matched within 2 m as the shared scorer matches: recall of 20 ft and 40 ft tops, and how
many false detections are a 20 ft box within 4 m of a 40 ft top (a 40 ft top taken for one or two 20 ft ones, the
main error on the validation scenes); and, for each missed top, the network's highest centre probability within 2 m
of it: whether the net does not see it or sees it under the threshold (a peak over the threshold that near is a
neighbour's); and what the false detections stand on (the generator's map of what each pixel shows: a look-alike,
a stack's shadow, a container's side or another part of a box, ...); and recall by the brightness of the top (its
pixel's mean band value at the centre: dark boxes are the validation scenes' misses). Never reads ../shared; runs by
hand.
"""
import argparse
import collections

import numpy as np
from scipy.spatial import cKDTree

import calibrate_containers as cc
from scenes import match

from cargowatch.core import nets  # noqa: E402  (importable once calibrate_containers is)

gen, containers = cc.gen, cc.containers


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--patches', type=int, default=100)
    ap.add_argument('--seed0', type=int, default=7_600_000)
    ap.add_argument('--rows-of-any', type=float, default=None)
    ap.add_argument('--rail-share', type=float, default=None)
    ap.add_argument('--gsd', type=float, nargs=2, default=None)
    a = ap.parse_args()
    if a.rows_of_any is not None:
        gen.ROWS_OF_ANY = a.rows_of_any
    if a.rail_share is not None:
        gen.RAIL_SHARE = a.rail_share
    if a.gsd:
        gen.GSD_RANGE = tuple(a.gsd)
    n = dict.fromkeys(['true20', 'true40', 'found20', 'found40', 'detections', 'false', 'false20_at_40'], 0)
    p = containers.ContainerParams()
    missed, on = [], collections.Counter()
    bright = np.array([0, 0.12, 0.2, 0.3, 0.45, 0.6, 1.01])
    by_bright = np.zeros((2, len(bright) - 1))                      # tops, found
    for seed in range(a.seed0, a.seed0 + a.patches):
        img, lab, what = gen.patch(seed, cc.SIZE, what=True)
        b = cc.patch_block(img)
        h, w = b.valid.shape
        lab = lab[[cc.inner(x, y, w, h) for x, y, *_ in lab]].reshape(-1, 5)
        T, big_t = lab[:, :2], lab[:, 3] > 0
        rgb = nets.three_bands(b.data)
        maps = containers.maps(rgb, b.valid, b.gsd)                 # run once: the detections and the centre map
        cols = containers.decode(maps, rgb, b, p)
        heat = maps[0][0]                                           # centre probability, 1 m cells
        D = cols['corners'].mean(1).reshape(-1, 2)
        inside = np.array([cc.inner(x, y, w, h) for x, y in D], bool)
        D, big_d = D[inside], cols['big'][inside]
        md = match(D, T, cc.MATCH_M / gen.WORK_GSD)
        top = img[T[:, 1].astype(int).clip(0, h - 1), T[:, 0].astype(int).clip(0, w - 1)].mean(-1)
        tone = np.digitize(top, bright) - 1
        np.add.at(by_bright[0], tone, 1)
        np.add.at(by_bright[1], tone[list(md.values())], 1)
        n['true20'] += int((~big_t).sum())
        n['true40'] += int(big_t.sum())
        n['found40'] += sum(int(big_t[j]) for j in md.values())
        n['found20'] += sum(int(not big_t[j]) for j in md.values())
        n['detections'] += len(D)
        false = [i for i in range(len(D)) if i not in md]
        n['false'] += len(false)
        on.update(gen.WHAT[what[min(int(y), h - 1), min(int(x), w - 1)]] for x, y in D[false])
        for x, y in T[[j for j in range(len(T)) if j not in md.values()]]:
            i, k = int((y - 1) / 2), int((x - 1) / 2)                 # the top's output cell
            missed.append(heat[max(0, i - 2):i + 3, max(0, k - 2):k + 3].max())
        if len(T) and false:
            d, j = cKDTree(T).query(D[false])
            n['false20_at_40'] += int(np.sum(~big_d[false] & (d < 4 / gen.WORK_GSD) & big_t[j]))
    print(n)
    print(f"recall 20 ft {n['found20'] / max(1, n['true20']):.3f}, 40 ft {n['found40'] / max(1, n['true40']):.3f}; "
          f"false {n['false']} of {n['detections']} detections, of which 20 ft within 4 m of a 40 ft top: "
          f"{n['false20_at_40']} ({100 * n['false20_at_40'] / max(1, n['false']):.0f} %)")
    print('false detections on: ' + ', '.join(f'{k} {100 * v / max(1, n["false"]):.0f} %' for k, v in on.most_common()))
    print('recall by the top\'s brightness: ' + ', '.join(f'[{lo:.2f}, {hi:.2f}) {f / max(1, t):.2f} of {int(t)}'
                                                          for lo, hi, t, f in zip(bright, bright[1:], *by_bright)))
    edges = sorted({0, 0.1, 0.2, round(p.threshold - 0.05, 3), p.threshold, 1.01})
    share = np.histogram(missed, edges)[0] / max(1, len(missed))
    print(f'{len(missed)} tops missed; the centre probability within 2 m of them: ' + ', '.join(
        f'{100 * v:.0f} % in [{lo:.2f}, {hi:.2f})' for v, lo, hi in zip(share, edges, edges[1:])))


if __name__ == '__main__':
    main()
