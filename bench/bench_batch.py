"""Throughput of the batch count (core.batch) in this process and on a LocalCluster of 1 and 2
worker processes, and the scaling from 1 to 2 (benchmark, not a test).

    .venv/bin/python bench/bench_batch.py [--kind containers|pits] [--scenes 6] [--size 1024]
                                          [--big 2560] [--share-mpx 2.5] [--out /tmp/cw_batch]

Builds (once, cached in --out) SCENES generated port scenes (or depots for pits) of SIZE x SIZE px
at 0.5 m and one BIG x BIG scene, which is split into shares of its block grid (--share-mpx). Then
counts the list: in this process (no Dask, the single-machine reference), and through
core.batch.run_dask on LocalClusters of 1 and 2 single-threaded workers (cluster start-up not timed),
checks every run's detections equal the reference, and prints wall time, scenes/min, Mpx/s and
the 2-worker speed-up. The machine's core count and load average are printed too: on a shared
machine the scaling is bounded by the cores left free.
"""
import argparse
import hashlib
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / 'test' / 'helpers'))


def _package_path():
    """Make the checkout importable as ``cargowatch`` (whatever its folder is called)."""
    d = Path(tempfile.gettempdir()) / ('cargowatch-bench-' + hashlib.sha1(str(ROOT).encode()).hexdigest()[:10])
    d.mkdir(exist_ok=True)
    link = d / 'cargowatch'     # one folder per checkout: never another checkout's code
    if not link.is_symlink():
        link.symlink_to(ROOT, target_is_directory=True)
    sys.path.insert(0, str(d))
    os.environ['PYTHONPATH'] = os.pathsep.join(p for p in (str(d), os.environ.get('PYTHONPATH')) if p)


def build(kind, n, size, big, out):
    import scenes
    import depot_scenes
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, px in enumerate([size] * n + ([big] if big else [])):
        path = out / f'{kind}_{i}_{px}.tif'
        if not path.exists():
            if kind == 'containers':
                scenes.write_scene(scenes.port_scene(seed=100 + i, gsd=0.5, size_px=px), path)
            else:
                depot_scenes.depot_scene(str(path), seed=100 + i, size=(px * 0.5, px * 0.5), gsd=0.5,
                                         n_old=10, n_new=px // 16)
        paths.append(str(path))
    return paths


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--kind', default='containers', choices=('containers', 'pits'))
    ap.add_argument('--scenes', type=int, default=6)
    ap.add_argument('--size', type=int, default=1024)
    ap.add_argument('--big', type=int, default=2560)
    ap.add_argument('--share-mpx', type=float, default=2.5)
    ap.add_argument('--out', default=os.path.join(tempfile.gettempdir(), 'cw_batch'))
    a = ap.parse_args()
    _package_path()
    from osgeo import gdal
    from cargowatch.core import batch
    from distributed import Client, LocalCluster

    paths = build(a.kind, a.scenes, a.size, a.big, Path(a.out))
    mpx = sum(gdal.Open(p).RasterXSize * gdal.Open(p).RasterYSize for p in paths) / 1e6
    print(f'{len(paths)} scenes, {mpx:.1f} Mpx ({a.kind}); {os.cpu_count()} cores, '
          f'load average {os.getloadavg()[0]:.1f} at start')
    t = time.perf_counter()
    ref = batch.run_serial(a.kind, paths)
    rows = [('this process, no Dask', time.perf_counter() - t, True)]
    for workers in (1, 2):
        with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=':0') as lc, \
                Client(lc) as client:
            t = time.perf_counter()
            got = batch.run_dask(client, a.kind, paths, share_px=int(a.share_mpx * 1e6))
            wall = time.perf_counter() - t
        same = all(r.error is None and list(r.rows()) == list(g.rows()) for r, g in zip(ref, got))
        rows.append((f'LocalCluster, {workers} worker{"s" * (workers > 1)}', wall, same))
    print('| run | wall s | scenes/min | Mpx/s | identical to single machine |\n|---|---|---|---|---|')
    for name, wall, same in rows:
        print(f'| {name} | {wall:.1f} | {len(paths) / wall * 60:.1f} | {mpx / wall:.2f} | {"yes" if same else "NO"} |')
    print(f'speed-up 2 workers / 1 worker: {rows[1][1] / rows[2][1]:.2f}x; '
          f'load average {os.getloadavg()[0]:.1f} at the end; {sum(r.count for r in ref)} {a.kind} in all')
    return 0 if all(same for _, _, same in rows) else 1


if __name__ == '__main__':
    from docs_section import section_from_output
    with section_from_output('batch', 'Counting over a scene archive (Dask)',
                             '`bench/bench_batch.py` (`make bench`): generated scenes counted in this process, then '
                             'on a LocalCluster of 1 and 2 workers.'):
        code = main()
    sys.exit(code)
