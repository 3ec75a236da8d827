"""Storage pits and change detection: accuracy on scenes the detector was not trained on, and speed.

    .venv/bin/python bench/bench_pits.py accuracy [--out DIR] [--pairs-only]
    .venv/bin/python bench/bench_pits.py speed [--out DIR] [--tiles 3]

accuracy: per scene, pit count error %, precision, recall, F1 (a detection is right when its
centre is within max(3 m, 0.45 x pit width) of a true pit, one to one); per before/after pair,
new-pit count error % and the counts. Two sets, neither used to train the network (which saw only
bench/pit_gen.py's tiles): the project's older depot generator (test/helpers/depot_scenes.py), and, when
../shared is there, the validation scenes of another generator (../shared/data/imagery/scenes).

speed: the shared depot pair (else a large generated scene, the 600 m depot tiled N x N): counting
pits on each file and detecting changes between them, each timed against a raw block-by-block read
of the same file(s), in its own process (peak memory = max RSS).
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SHARED = os.path.join(os.path.dirname(ROOT), 'shared', 'data', 'imagery', 'scenes')
SHARED_PITS = ('depot_a_before_rgb_05', 'depot_a_after_rgb_05', 'depot_null_rgb_07')
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, 'test', 'helpers'))

SCENES = [
    ('depot, summer, RGB 0.5 m', dict(seed=101, season='summer', sun_az=150, sun_el=45, gsd=0.5)),
    ('depot, autumn low sun, RGB 0.5 m', dict(seed=102, season='autumn', sun_az=210, sun_el=30, gsd=0.5)),
    ('depot, spring, pan UInt16 0.6 m', dict(seed=103, season='spring', sun_az=130, sun_el=50, gsd=0.6, bands=1,
                                             dtype='UInt16')),
    ('depot, summer, RGB 0.8 m', dict(seed=104, season='summer', sun_az=160, sun_el=55, gsd=0.8)),
    ('old pits only (15), summer 0.6 m', dict(seed=105, season='summer', sun_az=140, sun_el=58, gsd=0.6,
                                             which='before')),
    ('countryside, no pits, RGB 0.5 m', dict(seed=106, season='summer', sun_az=150, sun_el=45, gsd=0.5, n_old=0,
                                             n_new=0)),
]
PAIRS = [
    ('Tikhoretsk-like pair A (15 old, 110 new; 0.6 m summer -> 0.5 m autumn, 1 m shift)', dict(seed=201)),
    ('pair B (15 old, 120 new; 2 px shift)', dict(seed=202, n_new=120, shift=(1.0, 0.6))),
]


def match(dets, truth):
    if not dets or not truth:
        return 0
    tc = np.array([[t['x'], t['y']] for t in truth])
    dc = np.array([np.mean(np.asarray(d['geometry']), axis=0) for d in dets])
    from scipy.optimize import linear_sum_assignment
    D = np.hypot(dc[:, None, 0] - tc[None, :, 0], dc[:, None, 1] - tc[None, :, 1])
    tol = np.array([max(3.0, 0.45 * t['width_m']) for t in truth])[None, :]
    C = np.where(D <= tol, D, 1e6)
    r, c = linear_sum_assignment(C)
    return int((C[r, c] < 1e6).sum())


def shared_truth(name):
    with open(os.path.join(SHARED, name + '.truth.json')) as f:
        t = json.load(f)
    return [dict(x=o['centroid'][0], y=o['centroid'][1], width_m=o['width_m'], new=o.get('new', False))
            for o in t['objects']]


def validation():
    """The shared validation scenes (another generator's, never trained on), if present."""
    from core.pits import count_pits
    from core.raster import open_raster
    from core.change import detect_changes
    if not os.path.isdir(SHARED):
        print(f'(no validation scenes: {SHARED} is absent)')
        return
    rows = []
    for name in SHARED_PITS:
        truth = shared_truth(name)
        t0 = time.time()
        dets = count_pits(open_raster(os.path.join(SHARED, name + '.tif')))
        rows.append(score(name, truth, dets, time.time() - t0))
        print(json.dumps(rows[-1]), flush=True)
    t0 = time.time()
    b, a = (open_raster(os.path.join(SHARED, n + '.tif')) for n in SHARED_PITS[:2])
    recs, info = detect_changes(b, a, kind='pits')
    true_new = sum(t['new'] for t in shared_truth(SHARED_PITS[1]))
    new = [r for r in recs if r['status'] == 'new']
    tp = match(new, [t for t in shared_truth(SHARED_PITS[1]) if t['new']])
    print(json.dumps(dict(pair='depot_a', true_new=true_new, new=info['new'], kept=info['kept'],
                          removed=info['removed'], new_tp=tp, seconds=round(time.time() - t0, 1))), flush=True)
    print()
    table(rows)
    print()
    print('| pair | true new | found new | new-pit count error | new pits right | kept | removed |')
    print('|---|---|---|---|---|---|---|')
    err = 100.0 * (info['new'] - true_new) / true_new
    print(f"| depot_a before -> after | {true_new} | {info['new']} | {err:+.1f} % "
          f"| {tp} | {info['kept']} | {info['removed']} |")


def score(name, truth, dets, dt):
    tp = match(dets, truth)
    n, m = len(truth), len(dets)
    p = tp / m if m else (1.0 if n == 0 else 0.0)
    r = tp / n if n else 1.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    err = 100.0 * (m - n) / n if n else float('nan')
    return dict(scene=name, truth=n, found=m, count_err_pct=round(err, 1), precision=round(p, 3),
                recall=round(r, 3), f1=round(f1, 3), seconds=round(dt, 1))


def table(rows):
    print('| scene | pits | found | count error | precision | recall | F1 |')
    print('|---|---|---|---|---|---|---|')
    for r in rows:
        ce = 'n/a' if r['truth'] == 0 else f"{r['count_err_pct']:+.1f} %"
        print(f"| {r['scene']} | {r['truth']} | {r['found']} | {ce} | {r['precision']:.2f} | {r['recall']:.2f} | "
              f"{r['f1']:.2f} |")


def accuracy(out, pairs_only=False):
    import depot_scenes as ds
    from core.pits import count_pits
    from core.raster import open_raster
    from core.change import detect_changes
    rows = []
    for name, kw in ([] if pairs_only else SCENES):
        kw = dict(kw)
        path = os.path.join(out, f"scene{kw['seed']}.tif")
        truth = ds.depot_scene(path, **kw)
        t0 = time.time()
        dets = count_pits(open_raster(path))
        rows.append(score(name, truth, dets, time.time() - t0))
        print(json.dumps(rows[-1]), flush=True)
    prow = []
    for name, kw in PAIRS:
        b, a, truth = ds.depot_pair(out, names=(f"b{kw['seed']}.tif", f"a{kw['seed']}.tif"), **kw)
        t0 = time.time()
        recs, info = detect_changes(open_raster(b), open_raster(a), kind='pits')
        dt = time.time() - t0
        n_new = len(truth['new'])
        err = 100.0 * (info['new'] - n_new) / n_new
        prow.append(dict(pair=name, true_old=len(truth['old']), true_new=n_new, before=info['before'],
                         after=info['after'], kept=info['kept'], new=info['new'], removed=info['removed'],
                         new_count_err_pct=round(err, 1), shift=[round(v, 2) for v in info['shift']],
                         seconds=round(dt, 1)))
        print(json.dumps(prow[-1]), flush=True)
    print()
    print('Own generator (test/helpers/depot_scenes.py; not used for training):')
    table(rows)
    print()
    print('| pair | true new | found new | new-pit count error | before / after found | kept | removed | shift (m) |')
    print('|---|---|---|---|---|---|---|---|')
    for r in prow:
        print(f"| {r['pair']} | {r['true_new']} | {r['new']} | {r['new_count_err_pct']:+.1f} % | {r['before']} / "
              f"{r['after']} | {r['kept']} | {r['removed']} | {r['shift'][0]:+.2f}, {r['shift'][1]:+.2f} |")
    print()


def make_big(out, tiles):
    import depot_scenes as ds
    from osgeo import gdal
    base = os.path.join(out, 'tile.tif')
    ds.depot_scene(base, seed=301, gsd=0.5)
    src = gdal.Open(base)
    w, h = src.RasterXSize, src.RasterYSize
    big = os.path.join(out, f'big{tiles}.tif')
    if os.path.exists(big):
        return big
    drv = gdal.GetDriverByName('GTiff')
    dst = drv.Create(big, w * tiles, h * tiles, 3, gdal.GDT_Byte,
                     ['TILED=YES', 'COMPRESS=DEFLATE', 'PREDICTOR=2', 'PHOTOMETRIC=RGB'])
    dst.SetGeoTransform(ds.geotransform(0.5))
    dst.SetProjection(src.GetProjection())
    arr = src.ReadAsArray()
    for i in range(tiles):
        for j in range(tiles):
            for b in range(3):
                dst.GetRasterBand(b + 1).WriteArray(arr[b], j * w, i * h)
    dst = None
    return big


def _child(mode, paths):
    from core.raster import open_raster, iter_blocks
    if mode != 'read':      # libraries are imported before the clock starts, as GDAL is for the read
        from core import change, nets, pits  # noqa: F401
        nets.opencv()
    t0 = time.time()
    if mode == 'read':
        n = 0
        for path in paths:
            for _, b in iter_blocks(open_raster(path), 1024, 0):
                n += b.data.size
    elif mode == 'pits':
        from core.pits import count_pits
        n = sum(len(count_pits(open_raster(p))) for p in paths)
    else:
        from core.change import detect_changes
        before, after = (paths * 2)[:2]   # one file: against itself (worst case: all kept)
        recs, info = detect_changes(open_raster(before), open_raster(after), kind='pits')
        n = info['new']
    dt = time.time() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(json.dumps(dict(mode=mode, seconds=round(dt, 2), peak_mb=round(peak, 1), n=n)))


def _timed(mode, paths, reps=3):
    """Best of ``reps`` runs, each in its own process (the machine is shared)."""
    best = None
    for _ in range(reps):
        p = subprocess.run([sys.executable, __file__, '_child', mode, *paths], capture_output=True, text=True)
        line = [ln for ln in p.stdout.splitlines() if ln.startswith('{')]
        if not line:
            print(p.stdout, p.stderr)
            return None
        r = json.loads(line[-1])
        if best is None or r['seconds'] < best['seconds']:
            best = r
    return best


def speed(out, tiles):
    from osgeo import gdal
    pair = [os.path.join(SHARED, n + '.tif') for n in SHARED_PITS[:2]]
    if not all(os.path.exists(p) for p in pair):
        pair = [make_big(out, tiles)]
        print(f'(no shared depot pair: a generated scene, the 600 m depot tiled {tiles} x {tiles})')
    print('| task | file(s) | Mpx | time (s) | raw read (s) | x raw read | peak memory (MB) |')
    print('|---|---|---|---|---|---|---|')
    jobs = [('pits', [p]) for p in pair] + [('change', pair)]
    for mode, paths in jobs:
        mpx = sum(gdal.Open(p).RasterXSize * gdal.Open(p).RasterYSize for p in paths) / 1e6
        rd, r = _timed('read', paths), _timed(mode, paths)
        if rd is None or r is None:
            continue
        label = 'count pits' if mode == 'pits' else 'detect changes (pits)'
        names = ' + '.join(os.path.basename(p) for p in paths)
        print(f"| {label} | {names} | {mpx:.1f} | {r['seconds']:.2f} | {rd['seconds']:.2f} | "
              f"{r['seconds'] / rd['seconds']:.1f} | {r['peak_mb']:.0f} |", flush=True)


def main():
    if len(sys.argv) > 1 and sys.argv[1] == '_child':
        _child(sys.argv[2], sys.argv[3:])
        return
    ap = argparse.ArgumentParser()
    ap.add_argument('what', choices=('accuracy', 'speed', 'validation'))
    ap.add_argument('--out', default='/tmp/cargowatch_bench_pits')
    ap.add_argument('--tiles', type=int, default=3)
    ap.add_argument('--pairs-only', action='store_true', help='accuracy: only the before/after pairs')
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    from docs_section import section_from_output
    if a.what == 'accuracy':
        with section_from_output('pits-accuracy', 'Storage pits: the project\'s own depot generator',
                                 '`bench/bench_pits.py accuracy`: 600 m depots of test/helpers/depot_scenes.py (not '
                                 'used for training) and two before/after pairs; a detection is right within '
                                 'max(3 m, 0.45 x the pit width) of a true pit, one to one.'):
            accuracy(a.out, a.pairs_only)
    elif a.what == 'validation':
        with section_from_output('pits-validation', 'Storage pits: another generator\'s scenes, never trained on',
                                 '`bench/bench_pits.py validation`: the validation scenes of ../shared/data/imagery '
                                 '(default settings, sensitivity 0.5).'):
            validation()
    else:
        with section_from_output('pits-speed', 'Storage pits: speed and memory',
                                 '`bench/bench_pits.py speed`: best of 3 runs, each in its own process, against a '
                                 'raw block-by-block read of the same file(s) (core.raster, as the detector reads).'):
            speed(a.out, a.tiles)


if __name__ == '__main__':
    main()
