"""Storage pits and change detection: accuracy on generated depot scenes, and speed/memory.

    /usr/bin/python3 bench/bench_pits.py accuracy [--out DIR] [--pairs-only]
    /usr/bin/python3 bench/bench_pits.py speed [--out DIR] [--tiles 3]

accuracy: per scene, pit count error %, precision, recall, F1 (a detection is right when its
centre is within max(3 m, 0.45 x pit width) of a true pit, one to one); per before/after pair,
new-pit count error % and the counts. Scenes are rendered by test/depot_scenes.py with seeds
distinct from bench/train_pits.py's.

speed: a large scene (the 600 m depot tiled N x N) timed against a raw GDAL read of the same
raster, block by block; peak memory (max RSS) of each in its own process.
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
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, 'test'))

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
        dt = time.time() - t0
        tp = match(dets, truth)
        n, m = len(truth), len(dets)
        p = tp / m if m else (1.0 if n == 0 else 0.0)
        r = tp / n if n else 1.0
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        err = 100.0 * (m - n) / n if n else float('nan')
        rows.append(dict(scene=name, truth=n, found=m, count_err_pct=round(err, 1), precision=round(p, 3),
                         recall=round(r, 3), f1=round(f1, 3), seconds=round(dt, 1)))
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
    print('| scene | pits | found | count error | precision | recall | F1 |')
    print('|---|---|---|---|---|---|---|')
    for r in rows:
        ce = 'n/a' if r['truth'] == 0 else f"{r['count_err_pct']:+.1f} %"
        print(f"| {r['scene']} | {r['truth']} | {r['found']} | {ce} | {r['precision']:.2f} | {r['recall']:.2f} | "
              f"{r['f1']:.2f} |")
    print()
    print('| pair | true new | found new | new-pit count error | before / after found | kept | removed | shift (m) |')
    print('|---|---|---|---|---|---|---|---|')
    for r in prow:
        print(f"| {r['pair']} | {r['true_new']} | {r['new']} | {r['new_count_err_pct']:+.1f} % | {r['before']} / "
              f"{r['after']} | {r['kept']} | {r['removed']} | {r['shift'][0]:+.2f}, {r['shift'][1]:+.2f} |")


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


def _child(mode, path):
    t0 = time.time()
    if mode == 'read':
        from core.raster import open_raster, iter_blocks
        r = open_raster(path)
        n = 0
        for _, b in iter_blocks(r, 1024, 0):
            n += b.data.size
    elif mode == 'pits':
        from core.raster import open_raster
        from core.pits import count_pits
        n = len(count_pits(open_raster(path)))
    else:   # change: the same image against itself shifted by a few pixels (worst case: all kept)
        from core.raster import open_raster
        from core.change import detect_changes
        recs, info = detect_changes(open_raster(path), open_raster(path), kind='pits')
        n = info['kept']
    dt = time.time() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(json.dumps(dict(mode=mode, seconds=round(dt, 2), peak_mb=round(peak, 1), n=n)))


def speed(out, tiles):
    big = make_big(out, tiles)
    from osgeo import gdal
    d = gdal.Open(big)
    mpx = d.RasterXSize * d.RasterYSize / 1e6
    print(f'scene {d.RasterXSize} x {d.RasterYSize} px ({mpx:.1f} Mpx, 3 bands Byte, 0.5 m)', flush=True)
    res = {}
    for mode in ('read', 'pits', 'change'):
        p = subprocess.run([sys.executable, __file__, '_child', mode, big], capture_output=True, text=True)
        line = [ln for ln in p.stdout.splitlines() if ln.startswith('{')]
        if not line:
            print(p.stdout, p.stderr)
            continue
        res[mode] = json.loads(line[-1])
        print(json.dumps(res[mode]), flush=True)
    if 'read' in res:
        print()
        print('| task | time (s) | x raw GDAL read | Mpx/s | peak memory (MB) |')
        print('|---|---|---|---|---|')
        for mode, label in (('read', 'raw GDAL read (blocks)'), ('pits', 'count pits'),
                            ('change', 'detect changes (pits, 2 images)')):
            if mode in res:
                r = res[mode]
                print(f"| {label} | {r['seconds']:.1f} | {r['seconds'] / res['read']['seconds']:.1f} | "
                      f"{mpx / r['seconds']:.1f} | {r['peak_mb']:.0f} |")


def main():
    if len(sys.argv) > 1 and sys.argv[1] == '_child':
        _child(sys.argv[2], sys.argv[3])
        return
    ap = argparse.ArgumentParser()
    ap.add_argument('what', choices=('accuracy', 'speed'))
    ap.add_argument('--out', default='/tmp/cargowatch_bench_pits')
    ap.add_argument('--tiles', type=int, default=3)
    ap.add_argument('--pairs-only', action='store_true', help='accuracy: only the before/after pairs')
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    if a.what == 'accuracy':
        accuracy(a.out, a.pairs_only)
    else:
        speed(a.out, a.tiles)


if __name__ == '__main__':
    main()
