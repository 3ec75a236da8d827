"""Speed and memory of the container count on a big tiled GeoTIFF (benchmark, not a test).

    /usr/bin/python3 bench/bench_speed.py [--size 16384] [--gsd 0.5] [--out /tmp/cw_bench] [--keep]

Builds (once, cached in --out) a SIZE x SIZE x 3 Byte GeoTIFF, tiled 256 x 256, DEFLATE: a mosaic
of generated 2048 x 2048 port scenes with dense container yards (every tile a yard, every other one with a
rail yard). Then, each in a fresh process (so peak memory is its own):

  read   GDAL reads every block of the three bands (the same windows, overlap included, that the
         count uses; plain ReadAsArray, no processing) -> seconds
  count  the full count over the raster as the algorithm runs it (core.containers.count_columns: every container
         kept, as columns) -> seconds, containers, peak RSS; once with each model (standard, wide), once with
         the standard model on four views of each block (ContainerParams.views) and once told a sun's azimuth (as
         an image whose metadata gives one: the sun-turned model, each block turned); then again with the
         OpenCV of PyPI (bench/setup_cv.sh: bench/.venv-cv, opencv-python-headless) where Debian's is 4.6

Prints the figures and the ratio count / read; ``--markdown`` writes them into docs/benchmarks.md.
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / 'test' / 'helpers'))


def _package_path():
    """Make the checkout importable as ``cargowatch`` (whatever its folder is called)."""
    import hashlib
    import tempfile
    d = Path(tempfile.gettempdir()) / ('cargowatch-bench-' + hashlib.sha1(str(ROOT).encode()).hexdigest()[:10])
    d.mkdir(exist_ok=True)       # one folder per checkout: another checkout's link must not be picked up
    link = d / 'cargowatch'
    if not link.exists():
        link.symlink_to(ROOT, target_is_directory=True)
    sys.path.insert(0, str(d))


def build(path, size, gsd, tile=2048):
    from osgeo import gdal, osr
    import scenes
    if Path(path).exists():
        return
    t = time.time()
    kinds = ['port'] * 8
    cache = {}
    drv = gdal.GetDriverByName('GTiff')
    tmp = str(path) + '.part'
    ds = drv.Create(tmp, size, size, 3, gdal.GDT_Byte,
                    ['TILED=YES', 'BLOCKXSIZE=256', 'BLOCKYSIZE=256', 'COMPRESS=DEFLATE', 'PREDICTOR=2',
                     'PHOTOMETRIC=RGB', 'BIGTIFF=IF_SAFER'])
    ds.SetGeoTransform(scenes.geotransform(gsd))
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32652)
    ds.SetProjection(srs.ExportToWkt())
    n = size // tile
    truth = 0
    for ty in range(n):
        for tx in range(n):
            k = (ty * 3 + tx * 5) % len(kinds)
            key = (kinds[k], k % 4)
            if key not in cache:
                if kinds[k] == 'port':
                    sc = scenes.port_scene(seed=100 + k, gsd=gsd, size_px=tile, rail=(k % 2 == 1))
                else:
                    sc = scenes.empty_scene(seed=k, gsd=gsd, size_px=tile, kind=kinds[k])
                cache[key] = (scenes.to_dtype(sc.img), sc.n_containers)
            arr, nc = cache[key]
            truth += nc
            for b in range(3):
                ds.GetRasterBand(b + 1).WriteArray(arr[b], tx * tile, ty * tile)
    ds = None
    os.replace(tmp, path)
    Path(str(path) + '.json').write_text(json.dumps({'truth_containers': truth}))
    print(f'built {path} ({size}x{size}x3, {os.path.getsize(path) / 1e6:.0f} MB) in {time.time() - t:.0f} s',
          flush=True)


def peak_rss_mb():
    """This process's peak resident memory (VmHWM; unlike ru_maxrss it is not inherited
    from the parent across exec)."""
    for line in Path('/proc/self/status').read_text().splitlines():
        if line.startswith('VmHWM:'):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def phase(kind, path, model='standard', views=1, sun=None):
    """Run one phase in this process; print a JSON line."""
    _package_path()
    from cargowatch.core import containers, raster
    r = raster.open_raster(path)
    p = containers.ContainerParams(model=containers.counting_model(model, views, sun), views=views, sun_azimuth=sun)
    t = time.time()
    if kind == 'read':
        from osgeo import gdal
        gdal.SetCacheMax(96 << 20)      # the same cache the count uses
        overlap = int(-(-p.overlap_m // r.gsd))
        bands = [r.ds.GetRasterBand(b) for b in r.bands]
        for x0, y0, w, h, _ in raster.block_windows(r.width, r.height, p.block_px, overlap):
            for band in bands:
                band.ReadAsArray(x0, y0, w, h)
        out = {'seconds': time.time() - t}
    else:
        c, teu = containers.totals(containers.count_columns(r, p))
        out = {'seconds': time.time() - t, 'containers': c, 'teu': teu}
    out['peak_rss_mb'] = peak_rss_mb()
    out['opencv'] = __import__('cv2').__version__
    print(json.dumps(out), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--size', type=int, default=16384)
    ap.add_argument('--gsd', type=float, default=0.5)
    ap.add_argument('--out', default='/tmp/cw_bench')
    ap.add_argument('--phase', choices=['read', 'count', 'build'])
    ap.add_argument('--path')
    ap.add_argument('--model', default='standard', help='the container model of a count phase')
    ap.add_argument('--views', type=int, default=1, help='the views of each block of a count phase')
    ap.add_argument('--sun', type=float, default=None, help="the sun's azimuth a count phase is told")
    ap.add_argument('--markdown', action='store_true', help='write the figures into docs/benchmarks.md')
    args = ap.parse_args()
    if args.phase == 'build':
        return build(Path(args.path), args.size, args.gsd)
    if args.phase:
        return phase(args.phase, args.path, args.model, args.views, args.sun)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    path = Path(args.out) / f'bench_{args.size}.tif'
    if not path.exists():     # build in a child: its memory must not count for the phases
        subprocess.run([sys.executable, __file__, '--phase', 'build', '--path', str(path), '--size', str(args.size),
                        '--gsd', str(args.gsd)], check=True)
    res = {}
    runs = {'standard': ('standard', 1, []), 'wide': ('wide', 1, []), 'standard, 4 views': ('standard', 4, []),
            'standard told the sun (sun-turned)': ('standard', 1, ['--sun', '150']),
            'wide told the sun (sun-turned wide)': ('wide', 1, ['--sun', '150'])}
    pypi = ROOT / 'bench' / '.venv-cv' / 'bin' / 'python'       # bench/setup_cv.sh: OpenCV from PyPI
    if pypi.exists():
        runs.update({f'{k}, OpenCV of PyPI': v + (str(pypi),) for k, v in list(runs.items()) if 'views' not in k})
    else:
        print(f'{pypi} not found (sh bench/setup_cv.sh): Debian\'s OpenCV only')
    for name in ['read'] + list(runs):       # the read, then a count with each model (views, sun, OpenCV)
        what = (['--phase', 'read'] if name == 'read' else
                ['--phase', 'count', '--model', runs[name][0], '--views', str(runs[name][1])] + runs[name][2])
        python = runs[name][3] if name != 'read' and len(runs[name]) > 3 else sys.executable
        proc = subprocess.run([python, __file__, '--path', str(path)] + what, capture_output=True, text=True)
        if proc.returncode:
            print(proc.stderr)
            raise SystemExit(1)
        res[name] = json.loads(proc.stdout.strip().splitlines()[-1])
        print(name, res[name], flush=True)
    meta = json.loads(Path(str(path) + '.json').read_text())
    mpx = args.size * args.size / 1e6
    read = res['read']
    text = '\n'.join([
        f"{args.size} x {args.size} x 3 Byte GeoTIFF ({mpx:.0f} Mpx, {os.path.getsize(path) / 1e6:.0f} MB DEFLATE) "
        f"at {args.gsd} m, dense generated yards; each phase in a fresh process. Target: count <= 5 x read "
        '(aim 3), peak memory < 1 GB.', '',
        '| model | OpenCV | GDAL read of every block | count | count / read | peak memory (count) | counted / true |',
        '|---|---|---|---|---|---|---|'] + [
        f"| {m} | {res[m]['opencv']} | {read['seconds']:.1f} s | {res[m]['seconds']:.1f} s | "
        f"{res[m]['seconds'] / read['seconds']:.1f} x | {res[m]['peak_rss_mb']:.0f} MB | "
        f"{res[m]['containers']} / {meta['truth_containers']} |" for m in runs])
    print(text)
    if args.markdown:
        from docs_section import machine, write_section
        write_section('speed', '## Containers: speed and memory\n\n' + machine() + '\n\n' + text)

if __name__ == '__main__':
    main()
