"""Fuzz the detectors' raster input: truncated and bit-flipped GeoTIFFs through core.raster and the detectors.

usage: fuzz_raster.py [--cases N] [--seed S] [--case I] [--keep DIR]

Bases: 192 x 192 crops of the bundled scenes (sample_data/rajin_port_sample.tif for the containers,
tikhoretsk_after.tif for the pits) written as JPEG-YCbCr tiles (as the originals), uncompressed strips,
DEFLATE tiles in uint16 and, warped to EPSG:4326, the geographic path. Mutations: the file cut (in its
header, its middle or its last bytes), bits or bytes flipped anywhere or in the first KiB (the TIFF header
and tags), a stretch of bytes zeroed, numbers of the georeferencing made odd (not finite, tiny, huge, zero).
Case i uses random.Random('raster:<seed>:<i>'); --case replays one.

A case fails when open_raster or the detector (core.containers.count_containers / core.pits.count_pits, which
read every block through core.raster) raises anything but CargoWatchError, i.e. anything that would reach the
analyst as a traceback, or runs past LIMIT_S (a frozen QGIS). Prints the number of cases and failures; exit
status 1 when any failed. test/core/test_raster_fuzz.py and test/algorithms/test_detectors_fuzz.py runs a few cases of the same generator, also through the
Processing algorithms.
"""
import os
import random
import sys
import tempfile

import fuzzing
from fuzzing import ROOT

SAMPLE_DATA = os.path.join(ROOT, 'sample_data')
SIZE = 192
LIMIT_S = 60  # a case still running after this is a failure (a hang: a frozen QGIS for the analyst)

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
        kind = rng.choice(('cut', 'cut', 'flip', 'flip', 'flip_header', 'flip_header', 'zero', 'georef'))
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
        elif kind == 'georef':
            data, d = _damage_georef(data, rng)
            desc.append(d)
    return data, ', '.join(desc)


_ODD = (float('nan'), float('inf'), -float('inf'), 0.0, -0.0, 1e-300, 1e-12, 1e-7, 1e300, -1e300, 1e9, -5.0)


def _damage_georef(data, rng):
    """One or two numbers of the geotransform (origin, pixel size, rotation) set to an odd value (not finite,
    tiny, huge, zero, negative), as a flipped exponent bit in ModelPixelScale/ModelTiepoint leaves them."""
    from osgeo import gdal
    name = '/vsimem/fuzz_georef_{}.tif'.format(rng.randrange(1 << 30))
    gdal.FileFromMemBuffer(name, data)
    gdal.PushErrorHandler('CPLQuietErrorHandler')  # the damaged file's complaints are the reader's business
    try:
        ds = gdal.Open(name, gdal.GA_Update)
        if ds is None or ds.GetGeoTransform(can_return_null=True) is None:
            return data, 'georef (unreadable)'
        gt = list(ds.GetGeoTransform())
        picks = rng.sample(range(6), rng.choice((1, 2)))
        for k in picks:
            gt[k] = rng.choice(_ODD)
        ds.SetGeoTransform(gt)
        ds = None
        f = gdal.VSIFOpenL(name, 'rb')
        gdal.VSIFSeekL(f, 0, 2)
        size = gdal.VSIFTellL(f)
        gdal.VSIFSeekL(f, 0, 0)
        out = bytes(gdal.VSIFReadL(1, size, f))
        gdal.VSIFCloseL(f)
        return out, 'georef {}'.format(','.join('{}={}'.format(k, gt[k]) for k in picks))
    finally:
        gdal.PopErrorHandler()
        gdal.Unlink(name)


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
    name, kind, data, desc = make_case(i, seed, base_set)
    path = os.path.join(workdir, 'case{}.tif'.format(i))
    with open(path, 'wb') as f:
        f.write(data)
    found, error = fuzzing.attempt(lambda: detect(path, kind), LIMIT_S)
    if error is None:
        os.remove(path)
        return 'refused' if found is None else 'read'
    return {'case': i, 'base': name, 'mutation': desc, 'error': error, 'file': path}


def run(cases, seed=0, workdir=None, first=0, report=None):
    """Run cases first..first+cases-1 -> (failures, outcomes {'read': n, 'refused': n}, slowest (s, case))."""
    workdir = workdir or tempfile.mkdtemp(prefix='fuzz_raster_')
    base_set = bases(workdir)
    return fuzzing.run_cases(lambda i: run_case(i, seed, base_set, workdir), first, cases, report)


if __name__ == '__main__':
    fuzzing.import_checkout()
    sys.exit(fuzzing.main('Raster fuzz', __doc__, run, 300, lambda f: '{base}; {mutation}'.format(**f)))
