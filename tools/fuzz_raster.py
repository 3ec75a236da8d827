"""Fuzz the detectors' raster input: truncated and bit-flipped GeoTIFFs through core.raster and the detectors.

usage: fuzz_raster.py [--cases N] [--seed S] [--case I] [--keep DIR]

Bases: 192 x 192 crops of the bundled scenes (sample_data/rajin_port_sample.tif for the containers,
tikhoretsk_after.tif for the pits) written as JPEG-YCbCr tiles (as the originals), uncompressed strips,
DEFLATE tiles in uint16 and, warped to EPSG:4326, the geographic path. Mutations: the file cut (in its
header, its middle or its last bytes), bits or bytes flipped anywhere or in the first KiB (the TIFF header
and tags), a stretch of bytes zeroed. Case i uses random.Random('<seed>:<i>'); --case replays one.

A case fails when open_raster or the detector (core.containers.count_containers / core.pits.count_pits, which
read every block through core.raster) raises anything but CargoWatchError, i.e. anything that would reach the
analyst as a traceback. Prints the number of cases and failures; exit status 1 when any failed.
test/test_raster_fuzz.py runs a few cases of the same generator, also through the Processing algorithms.
"""
import argparse
import hashlib
import os
import random
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SAMPLE_DATA = os.path.join(ROOT, 'sample_data')
SIZE = 192

if __name__ == '__main__':  # the checkout importable as the package 'cargowatch', whatever its folder is called
    _pkg = os.path.join(tempfile.gettempdir(), 'cargowatch-' + hashlib.sha1(ROOT.encode()).hexdigest()[:10])
    os.makedirs(_pkg, exist_ok=True)
    if not os.path.islink(os.path.join(_pkg, 'cargowatch')):
        os.symlink(ROOT, os.path.join(_pkg, 'cargowatch'))
    sys.path.insert(0, _pkg)

SCENES = {'containers': ('rajin_port_sample.tif', 500), 'pits': ('tikhoretsk_after.tif', 400)}  # file, crop x=y
FLAVOURS = {
    'jpeg_tiles': dict(creationOptions=['TILED=YES', 'BLOCKXSIZE=64', 'BLOCKYSIZE=64', 'COMPRESS=JPEG',
                                        'PHOTOMETRIC=YCBCR']),
    'plain_strips': dict(creationOptions=['BLOCKYSIZE=16']),
    'deflate_uint16': dict(creationOptions=['TILED=YES', 'BLOCKXSIZE=64', 'BLOCKYSIZE=64', 'COMPRESS=DEFLATE'],
                           outputType=None, scaleParams=[[0, 255, 0, 4000]]),
}


def bases(workdir):
    """name -> (bytes of a small GeoTIFF, detector kind). Built once per run from sample_data/."""
    from osgeo import gdal
    out = {}
    for kind, (name, off) in SCENES.items():
        src = os.path.join(SAMPLE_DATA, name)
        for flavour, opts in FLAVOURS.items():
            opts = dict(opts)
            if 'outputType' in opts:
                opts['outputType'] = gdal.GDT_UInt16
            path = os.path.join(workdir, 'base_{}_{}.tif'.format(kind, flavour))
            gdal.Translate(path, src, srcWin=[off, off, SIZE, SIZE], **opts)
            out['{}_{}'.format(kind, flavour)] = (open(path, 'rb').read(), kind)
            os.remove(path)
        path = os.path.join(workdir, 'base_{}_4326.tif'.format(kind))
        crop = gdal.Translate('', src, format='VRT', srcWin=[off, off, SIZE, SIZE])
        gdal.Warp(path, crop, dstSRS='EPSG:4326', creationOptions=['COMPRESS=DEFLATE'])
        out['{}_epsg4326'.format(kind)] = (open(path, 'rb').read(), kind)
        os.remove(path)
    return out


def mutate(data, rng):
    """One or two mutations of a GeoTIFF's bytes -> (bytes, short description)."""
    desc = []
    for _ in range(rng.choice((1, 1, 2))):
        n = len(data)
        kind = rng.choice(('cut', 'cut', 'flip', 'flip', 'flip_header', 'flip_header', 'zero'))
        if kind == 'cut':
            i = rng.choice((rng.randrange(min(n, 1024)), rng.randrange(n), n - 1 - rng.randrange(min(n, 256))))
            data = data[:i]
            desc.append('cut@{}'.format(i))
        elif kind in ('flip', 'flip_header') and n:
            b = bytearray(data)
            top = min(n, 1024) if kind == 'flip_header' else n
            k = rng.choice((1, 1, 3, 10, 100))
            for _ in range(k):
                i = rng.randrange(top)
                b[i] ^= (1 << rng.randrange(8)) if rng.random() < 0.7 else rng.randrange(1, 256)
            data = bytes(b)
            desc.append('{} x{}'.format(kind, k))
        elif kind == 'zero' and n:
            i = rng.randrange(n)
            j = min(n, i + rng.choice((8, 64, 4096)))
            data = data[:i] + bytes(j - i) + data[j:]
            desc.append('zero{}-{}'.format(i, j))
    return data, ', '.join(desc)


def make_case(i, seed, base_set):
    """Case ``i``: (base name, detector kind, mutated bytes, description)."""
    rng = random.Random('raster:{}:{}'.format(seed, i))
    name = rng.choice(sorted(base_set))
    data, kind = base_set[name]
    data, desc = mutate(data, rng)
    return name, kind, data, desc


def detect(path, kind):
    """Open ``path`` and run the detector of ``kind`` on it (core only) -> number of detections."""
    from cargowatch.core import raster as core_raster
    if kind == 'containers':
        from cargowatch.core import containers
        return len(containers.count_containers(core_raster.open_raster(path)))
    from cargowatch.core import pits
    return len(pits.count_pits(core_raster.open_raster(path)))


def run_case(i, seed, base_set, workdir):
    """'read' (the detector ran) or 'refused' (a clear error) when case i passes, else a dict describing the
    failure (with the file kept in workdir)."""
    from cargowatch.core.errors import CargoWatchError
    name, kind, data, desc = make_case(i, seed, base_set)
    path = os.path.join(workdir, 'case{}.tif'.format(i))
    with open(path, 'wb') as f:
        f.write(data)
    error = None
    outcome = 'read'
    try:
        detect(path, kind)
    except CargoWatchError:
        outcome = 'refused'
    except Exception as e:  # noqa: BLE001 - any other exception is the failure
        tb = traceback.extract_tb(e.__traceback__)[-1]
        error = '{}: {} ({}:{})'.format(type(e).__name__, e, os.path.basename(tb.filename), tb.lineno)
    if error is None:
        os.remove(path)
        return outcome
    return {'case': i, 'base': name, 'mutation': desc, 'error': error, 'file': path}


def run(cases, seed=0, workdir=None, first=0, report=None):
    """Run cases first..first+cases-1 -> (failures list, outcomes {'read': n, 'refused': n}, slowest (seconds,
    case))."""
    workdir = workdir or tempfile.mkdtemp(prefix='fuzz_raster_')
    base_set = bases(workdir)
    failures = []
    outcomes = {'read': 0, 'refused': 0}
    slowest = (0.0, None)
    for i in range(first, first + cases):
        t0 = time.perf_counter()
        f = run_case(i, seed, base_set, workdir)
        slowest = max(slowest, (time.perf_counter() - t0, i))
        if isinstance(f, str):
            outcomes[f] += 1
        else:
            failures.append(f)
            if report:
                report(f)
    return failures, outcomes, slowest


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--cases', type=int, default=300)
    ap.add_argument('--seed', default='0')
    ap.add_argument('--case', type=int, default=None, help='replay this one case')
    ap.add_argument('--keep', default=None, help='folder for the failing files (default: a temporary one)')
    a = ap.parse_args(argv)
    workdir = a.keep or tempfile.mkdtemp(prefix='fuzz_raster_')
    os.makedirs(workdir, exist_ok=True)
    first, cases = (a.case, 1) if a.case is not None else (0, a.cases)

    def report(f):
        print('FAIL case {case} ({base}; {mutation}): {error} -> {file}'.format(**f), flush=True)

    t0 = time.perf_counter()
    failures, outcomes, slowest = run(cases, a.seed, workdir, first, report)
    print('Raster fuzz: {} cases (seed {}): {read} read, {refused} refused with a clear error, {} failures; '
          '{:.1f} s, slowest case {} ({:.2f} s)'.format(cases, a.seed, len(failures), time.perf_counter() - t0,
                                                       slowest[1], slowest[0], **outcomes))
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
