"""Count containers or pits over a list of scenes on a Dask cluster; one GeoPackage out.

usage: batch_count.py --kind containers|pits --scenes LIST.txt --out OUT.gpkg
                      [--workers N | --scheduler tcp://HOST:PORT] [--share-mpx M]

LIST.txt: one raster path or GDAL URL (/vsicurl/..., /vsis3/...) a line; blank lines and
# comments are skipped. Scenes, and shares of large scenes' block grids, are Dask tasks; the
results are those of counting each scene on one machine. OUT.gpkg gets a polygon layer named
after the kind (field `scene` + the detector's fields) and a table `scenes` (scene, count, teu
for containers, seconds, error): a scene that fails is reported there, the others go on.

--workers N    a LocalCluster of N single-threaded worker processes (default 2); 0 counts in this
               process without Dask.
--scheduler    a running scheduler (`dask scheduler`, dask-jobqueue, Kubernetes; see docs/dask.md).
               Workers need numpy, GDAL, scipy and OpenCV, not QGIS: core/ is sent to them.
Progress: one console line per scene; the Dask dashboard's address is printed at the start.
Needs only GDAL/numpy/scipy/OpenCV (no QGIS) and, unless --workers 0, dask[distributed].
"""
import argparse
import hashlib
import os
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def import_package():
    """Import the checkout as the package ``cargowatch`` whatever its folder is called (as the tests do)."""
    folder = os.path.join(tempfile.gettempdir(), 'cargowatch-' + hashlib.sha1(ROOT.encode()).hexdigest()[:10])
    os.makedirs(folder, exist_ok=True)
    link = os.path.join(folder, 'cargowatch')
    if not os.path.islink(link):
        try:
            os.symlink(ROOT, link, target_is_directory=True)
        except FileExistsError:
            pass
    sys.path.insert(0, folder)
    os.environ['PYTHONPATH'] = os.pathsep.join(p for p in (folder, os.environ.get('PYTHONPATH')) if p)
    from cargowatch.core import batch
    return batch


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--kind', required=True, choices=('containers', 'pits'))
    ap.add_argument('--scenes', required=True, help='text file: one raster path or GDAL URL a line')
    ap.add_argument('--out', required=True, help='output GeoPackage (replaced)')
    where = ap.add_mutually_exclusive_group()
    where.add_argument('--workers', type=int, default=2,
                       help='worker processes of a LocalCluster (default 2); 0: count in this process, no Dask')
    where.add_argument('--scheduler', help='address of a running Dask scheduler, e.g. tcp://10.0.0.5:8786')
    ap.add_argument('--share-mpx', type=float, default=None,
                    help='megapixels of a scene per task (default 16): larger scenes are split')
    a = ap.parse_args(argv)
    if a.workers < 0:
        ap.error('--workers must be 0 or more')
    batch = import_package()
    from cargowatch.core.errors import CargoWatchError

    try:
        scenes = batch.read_scene_list(a.scenes)
        t0 = time.perf_counter()

        def report(i, r):
            done[0] += 1
            what = f'error: {r.error}' if r.error else f'{r.count}' + (f' ({r.teu} TEU)' if r.teu is not None else '')
            print(f'[{done[0]}/{len(scenes)}] {r.scene}: {what}  {r.seconds:.1f} s', flush=True)
        done = [0]
        if a.scheduler is None and a.workers == 0:
            results = batch.run_serial(a.kind, scenes, report=report)
        else:
            client = batch.connect(a.scheduler, a.workers)
            try:
                print(f'Dask dashboard: {client.dashboard_link}', flush=True)
                share_px = int(a.share_mpx * 1e6) if a.share_mpx else batch.SHARE_PX
                results = batch.run_dask(client, a.kind, scenes, share_px=share_px, report=report)
            finally:
                cluster = client.cluster
                client.close()
                if cluster is not None:
                    cluster.close()
        batch.write_gpkg(a.out, a.kind, results)
    except CargoWatchError as e:
        print(f'batch_count: {e}', file=sys.stderr)
        return 2
    wall = time.perf_counter() - t0
    ok = [r for r in results if r.error is None]
    total = sum(r.count for r in ok)
    teu = f', {sum(r.teu for r in ok)} TEU' if a.kind == 'containers' else ''
    print(f'{len(ok)}/{len(results)} scenes counted: {total} {a.kind}{teu} in {wall:.1f} s '
          f'({len(results) / wall * 60:.1f} scenes/min); written to {a.out}')
    return 0 if len(ok) == len(results) else 1


if __name__ == '__main__':
    sys.exit(main())
