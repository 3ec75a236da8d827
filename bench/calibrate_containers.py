"""Set the container model's threshold (its sensitivity 0.5) from both of the project's own renderers.

    .venv/bin/python bench/calibrate_containers.py [--patches 150] [--seed0 7900000] [--model wide] [--write]

train_containers.py picks the threshold where F1 peaks on held-out patches of the generator it trained on; that
rewards a threshold fitted to one renderer's look. This script counts, through the plugin's own pipeline
(core.containers), two own sources the model was never trained on:
1. new 160 m patches of bench/container_gen.py (seeds from --seed0, not the training or validation seeds), scored
   16 m inside their edges (a scene block gives the network its context there);
2. six yards of the older renderer (test/helpers/scenes.py; seeds 301-306, not the ones bench_containers.py
   reports), 0.3-0.7 m, RGB and 16-bit pan, and its loaded ship at a quay.
and sweeps the threshold. Rule: the threshold with the highest mean of the two sources' F1 (both matched within
2 m, the shared scorer's rule). Beside it (not in the rule), the false containers per km² on generator patches
of the same kinds without a container (--free of them, by default a third of --patches, other seeds);
--max-false-km2 restricts the rule to the thresholds at or under that rate. --write records the threshold, with every
figure, in the model's sidecar (core/models/containers.json; --model wide: containers_wide.json); with --views N
(the maps averaged over N turns and mirrors of each block), under the sidecar's ``views`` N (--views-entry: one
view's too, for comparison; the model's own threshold is then left as it is).
Never reads ../shared. Runs by hand after training, never in `make test`.
"""
import argparse
import json
import math
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / 'test' / 'helpers'))
sys.path.insert(0, str(ROOT / 'bench'))

from bench_speed import _package_path  # noqa: E402

_package_path()
import container_gen as gen  # noqa: E402
import scenes  # noqa: E402
from cargowatch.core import containers, raster  # noqa: E402

THRESHOLDS = np.round(np.arange(0.25, 0.551, 0.05), 2)
MODEL = 'standard'  # which of core.containers.MODELS (--model)
TRUE_SUN = False    # tell the model the renderers' sun (--true-sun) instead of letting it estimate it
VIEWS = 1           # the network's maps averaged over this many turns and mirrors of each block (--views)
GREY = False        # every image in grey, as a 1-band raster gives it to the network (--grey)
GROUPS = False      # the group rule (ContainerParams.groups, lone boxes dropped) at each threshold (--groups)
MATCH_M = 2.0
SIZE = 320          # generated patches of 160 m, scored inside EDGE_M of their edges: like the inside of a scene block
EDGE_M = 16.0
YARDS = [(301, 0.3, {}, {}), (302, 0.4, {}, dict(layout='pan', dtype='UInt16')), (303, 0.5, dict(concrete=True), {}),
         (304, 0.5, dict(rail=True), {}), (305, 0.6, dict(mixed_angles=True), {}), (306, 0.7, {}, {})]


def params_at(threshold, sun_azimuth=None):
    """Default ContainerParams of MODEL, with the loaded model's own threshold set to ``threshold`` (and with
    TRUE_SUN, the sun's azimuth set to ``sun_azimuth``)."""
    meta = containers.network(MODEL)[1]        # the loaded copy: its threshold for any number of views
    meta['threshold'] = float(threshold)
    meta.pop('views', None)
    return containers.ContainerParams(model=MODEL, sun_azimuth=sun_azimuth if TRUE_SUN else None, views=VIEWS,
                                      groups=False)


def sweep(cols, metres=1.0):
    """{threshold: output dicts above it} from detection columns found at the lowest threshold, without the group
    rule: one detection serves the whole sweep, as a peak kept at a higher threshold is kept at the lowest too (a
    weaker peak only ever gives way to a stronger one); with GROUPS the rule is applied at each threshold (``metres``
    per unit of the columns' coordinates)."""
    p = containers.ContainerParams(model=MODEL)
    out = {}
    for t in THRESHOLDS:
        above = containers.select(cols, cols['conf'] > t)
        if GROUPS:
            xy = above['corners' if 'corners' in above else 'geometry'].mean(axis=1) * metres
            above = containers.select(above, containers.grouped(xy, above['conf'], t))
        out[t] = list(containers.records(above, p))
    return out


def detected(block, sun_azimuth=None):
    """{threshold: output dicts} of the network on one core Block (detected once, at the lowest threshold); with
    TRUE_SUN, a model trained with shadows one way is told ``sun_azimuth`` (else it estimates it, as by default)."""
    return sweep(containers.detect_columns(block, params_at(THRESHOLDS[0], sun_azimuth)), float(block.gsd))


def nearest(table, threshold):
    """(threshold, entry) of a {'thr_X': entry} table at the threshold nearest to ``threshold``; (None, None) if
    the table is empty."""
    if not table:
        return None, None
    k = min(table, key=lambda k: abs(float(k[4:]) - threshold))
    return float(k[4:]), table[k]


def patch_block(img, seed=0):
    """A generated patch (h, w, 3) as one core Block at the working resolution; with GREY its one grey band (a pan
    band's response 0.3 / 0.5 / 0.2 for even seeds, the mean for odd ones) three times, as core.nets.three_bands gives
    a 1-band raster to the network."""
    if GREY:
        grey = img @ gen.PAN if seed % 2 == 0 else img.mean(axis=2)
        img = np.repeat(grey[..., None], 3, axis=2)
    data = np.ascontiguousarray(np.clip(img, 0, 1).transpose(2, 0, 1), dtype=np.float32)
    h, w = data.shape[1:]
    return raster.Block(0, 0, (0, 0, w, h), data, np.ones((h, w), bool), gen.WORK_GSD)


def f1(tp, n_det, n_true):
    return 2 * tp / max(1, n_det + n_true)


def generated(n, seed0):
    """{threshold: (tp, detected, true)} over ``n`` new generator patches."""
    tot = {t: np.zeros(3, int) for t in THRESHOLDS}
    for seed in range(seed0, seed0 + n):
        img, lab = gen.patch(seed, SIZE)
        block = patch_block(img, seed)
        h, w = block.valid.shape
        truth = [{'x': x, 'y': y, 'teu': 1 + int(c)} for x, y, _, c, _ in lab if inner(x, y, w, h)]
        for t, found in detected(block, gen.sun_azimuth(seed)).items():
            found = [dict(d, geometry=d['corners']) for d in found if inner(*np.mean(d['corners'], axis=0), w, h)]
            ev = scenes.evaluate(found, truth, MATCH_M / gen.WORK_GSD)          # in working pixels
            tot[t] += (ev['matched'], ev['counted'], ev['true'])
    return tot


def container_free(n, seed0):
    """{threshold: false containers per km²} over ``n`` generator patches of the same kinds without a container
    (reported beside the rule, not in it: the rule's F1 sees false containers only among true ones)."""
    tot = {t: 0 for t in THRESHOLDS}
    for seed in range(seed0, seed0 + n):
        block = patch_block(gen.patch(seed, SIZE, containers=False)[0], seed)
        h, w = block.valid.shape
        for t, found in detected(block, gen.sun_azimuth(seed)).items():
            tot[t] += sum(inner(*np.mean(d['corners'], axis=0), w, h) for d in found)
    km2 = n * ((SIZE * gen.WORK_GSD - 2 * EDGE_M) / 1000) ** 2
    return {t: v / km2 for t, v in tot.items()}


def inner(x, y, w, h):
    """Whether (x, y) lies away from the patch edges, where the network sees less than a scene block gives it."""
    m = EDGE_M / gen.WORK_GSD
    return m <= x < w - m and m <= y < h - m


def older(tmp):
    """{threshold: [F1 per yard and the ship]} of the older renderer's scenes."""
    res = {t: [] for t in THRESHOLDS}
    rasters = []
    for seed, gsd, skw, wkw in YARDS:
        sc = scenes.port_scene(seed=seed, gsd=gsd, size_px=int(320 / gsd), **skw)
        wkw = dict(wkw, layout='pan') if GREY else wkw
        rasters.append((scenes.write_scene(sc, Path(tmp) / f'{seed}.tif', **wkw), scenes.truth_map_coords(sc),
                        math.degrees(sc.meta['sun'][0])))
    cv, deck, yard = scenes.loaded_ship(np.random.default_rng(12))
    img = scenes.to_bands(cv.img, 'pan')[0] if GREY else cv.img
    ship = scenes.write_geotiff(Path(tmp) / 'ship.tif', scenes.to_dtype(img), scenes.geotransform(0.4))
    x0, y0 = scenes.ORIGIN
    rasters.append((ship, [{'x': x0 + c.cx, 'y': y0 - c.cy, 'teu': 2} for c in deck + yard], None))
    for path, truth, sun_az in rasters:
        cols = containers.count_columns(raster.open_raster(path), params_at(THRESHOLDS[0], sun_az))
        for t, found in sweep(cols).items():
            res[t].append(scenes.evaluate(found, truth, MATCH_M)['f1'])
    return res


def main():
    global THRESHOLDS, MODEL, TRUE_SUN, VIEWS, GROUPS, GREY
    ap = argparse.ArgumentParser()
    ap.add_argument('--patches', type=int, default=150)
    ap.add_argument('--seed0', type=int, default=7_900_000)
    ap.add_argument('--free', type=int, default=None,
                    help='container-free patches for the false rate (default: a third of --patches)')
    ap.add_argument('--step', type=float, default=0.05, help='threshold grid step (from --lowest to --highest)')
    ap.add_argument('--lowest', type=float, default=0.25, help='lowest threshold of the grid')
    ap.add_argument('--highest', type=float, default=0.55, help='highest threshold of the grid')
    ap.add_argument('--max-false-km2', type=float, default=None,
                    help='pick among the thresholds with at most this many false containers per km² only')
    ap.add_argument('--model', choices=sorted(containers.MODELS), default=MODEL)
    ap.add_argument('--write', action='store_true', help="record the threshold in the model's sidecar")
    ap.add_argument('--true-sun', action='store_true',
                    help='tell a model trained with shadows one way the renderers\' sun (default: it estimates it)')
    ap.add_argument('--views', type=int, choices=sorted(containers.VIEWS), default=VIEWS,
                    help='average the maps over this many turns and mirrors of each block (ContainerParams.views)')
    ap.add_argument('--views-entry', action='store_true',
                    help="with --write and one view: record under the sidecar's views 1 (beside the other numbers of "
                         "views, on their seeds), not as the model's threshold")
    ap.add_argument('--groups', action='store_true',
                    help='drop lone boxes at each threshold (ContainerParams.groups; the thresholds are without)')
    ap.add_argument('--grey', action='store_true',
                    help='every image in grey, as a 1-band raster is counted (the older renderer writes 1-band yards)')
    a = ap.parse_args()
    if a.write and a.groups:
        ap.error("--write records the model's own threshold, which is without the group rule: not with --groups")
    THRESHOLDS = np.round(np.arange(a.lowest, a.highest + 1e-3, a.step), 3)
    MODEL, TRUE_SUN, VIEWS, GROUPS, GREY = a.model, a.true_sun, a.views, a.groups, a.grey
    gen_tot = generated(a.patches, a.seed0)
    free = container_free(a.patches // 3 if a.free is None else a.free, a.seed0 + 50_000)
    with tempfile.TemporaryDirectory() as tmp:
        old = older(tmp)
    table = {}
    print('threshold | generated F1 (P, R, count) | older renderer F1 per scene | mean of the two | '
          'false containers per km² on generated patches without containers')
    for t in THRESHOLDS:
        tp, nd, nt = gen_tot[t]
        g, o = f1(tp, nd, nt), float(np.mean(old[t]))
        key = f'thr_{t:.2f}' if round(t, 2) == t else f'thr_{t:.3f}'     # the training script's keys where it can
        table[key] = {'generated_f1': round(g, 4), 'generated_count_error_pct': round(100 * (nd - nt) / nt, 2),
                      'older_renderer_f1': [round(v, 4) for v in old[t]], 'mean_f1': round((g + o) / 2, 4),
                      'false_per_km2_without_containers': round(free[t], 1)}
        print(f'{t:.3g} | {g:.3f} ({tp / max(1, nd):.3f}, {tp / max(1, nt):.3f}, {100 * (nd - nt) / nt:+.1f} %) | '
              f'{" ".join(f"{v:.3f}" for v in old[t])} | {(g + o) / 2:.4f} | {free[t]:.0f}', flush=True)
    ok = [k for k in table
          if a.max_false_km2 is None or table[k]['false_per_km2_without_containers'] <= a.max_false_km2]
    if not ok:
        sys.exit(f'no threshold has at most {a.max_false_km2} false containers per km²')
    best = max(ok, key=lambda k: table[k]['mean_f1'])
    print('best', best, table[best])
    if a.write:
        path = containers.sidecar_path(MODEL)
        side = json.loads(path.read_text())     # the file, not the loaded copy the sweep changed
        rule = ('bench/calibrate_containers.py: highest mean F1 (within 2 m) of new generator patches '
                f'(seeds {a.seed0}+, {a.patches}) and the older renderer\'s yards and ship'
                + (f', among thresholds with at most {a.max_false_km2:g} false containers per km² on container-free '
                   'generator patches' if a.max_false_km2 is not None else ''))
        if VIEWS > 1 or a.views_entry:      # the threshold with the maps averaged over VIEWS views of each block
            side.setdefault('views', {})[str(VIEWS)] = {'threshold': float(best[4:]), 'threshold_rule': rule,
                                                        'calibration_own': table}
        else:
            side['threshold_generated_peak'] = side.get('threshold_generated_peak', side['threshold'])
            side['threshold'] = float(best[4:])
            t, held_out = nearest(side.get('validation_generated_by_threshold', {}), float(best[4:]))
            if held_out:    # the training script's held-out patches, at the threshold of its sweep nearest this one
                side['validation_generated'] = dict(held_out, threshold=t)
            side['threshold_rule'] = rule
            side['calibration_own'] = table
        path.write_text(json.dumps(side, indent=1) + '\n')


if __name__ == '__main__':
    main()
