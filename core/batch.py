"""Count containers or pits over a list of scenes, spread over the processes or machines of a
Dask cluster (or run in this process), with the single-machine run's results.

A scene is one task, or for a large scene several: each task runs the scene's own counter
(``core.containers.count_containers`` / ``core.pits.count_pits``) on a :class:`core.raster.Raster`
carrying ``part = (k, n)``, so :func:`core.raster.scan` runs the k-th of n consecutive shares of
the very block grid (same block size, overlap and border dedup) the whole-scene run streams.
Shares gathered in order give the whole-scene run's detections, in its order. This holds as long
as a counter is ``scan`` over per-block detection (test/core/test_batch.py checks it against the
single-machine run).

Dask is optional: it is imported only by :func:`run_dask` and :func:`connect`; :func:`run_serial`
counts in this process without it. Workers need only core/ (numpy, GDAL, scipy, OpenCV; no QGIS):
:func:`run_dask` ships it to them as a zip (see docs/dask.md).
"""
import math
import os
import tempfile
import time
import uuid
import zipfile
from collections import namedtuple
from dataclasses import dataclass
from itertools import islice

from osgeo import gdal, ogr, osr

from .errors import Cancelled, CargoWatchError
from .raster import NodataError, open_raster, quiet_gdal

KINDS = ('containers', 'pits')
SHARE_PX = 16 << 20     # pixels of a scene per task: a larger scene is split into shares of its block grid
DASK_MISSING = ('Counting on a Dask cluster needs Dask, which is not installed: '
                'pip install "dask[distributed]" (in the Python that runs QGIS or this command).')


Kind = namedtuple('Kind', 'count join totals rows uniform')


def counter(kind):
    """How core.batch counts ``kind`` ('containers' or 'pits'), joins a scene's shares, totals them and makes the
    output dicts (``rows(detections, params)``; ``uniform``: every row has the same fields of the same types).
    Containers stay numpy columns (~85 bytes each, cheap to send from a worker) until they are written; pits,
    fewer by far, are the counter's dicts."""
    if kind == 'containers':
        from . import containers as c
        return Kind(c.count_columns, c.concat, c.totals, c.records, True)
    if kind == 'pits':
        from .pits import count_pits
        return Kind(count_pits, lambda parts: [d for p in parts for d in p], lambda d: (len(d), None),
                    lambda d, params: iter(d), False)
    raise CargoWatchError(f'Unknown kind of object "{kind}": choose one of {", ".join(KINDS)}.')


def read_scene_list(path):
    """Scene paths or GDAL URLs of a text file, one a line (blank lines and # comments skipped)."""
    try:
        with open(path, encoding='utf-8') as f:
            scenes = [s.strip() for s in f]
    except (OSError, UnicodeDecodeError) as e:
        raise CargoWatchError(f'Cannot read the scene list {path}: {e}.')
    scenes = [s for s in scenes if s and not s.startswith('#')]
    if not scenes:
        raise CargoWatchError(f'The scene list {path} names no scene: write one raster path or GDAL URL a line.')
    return scenes


def scene_shares(path, share_px=SHARE_PX):
    """How many tasks count ``path``: one per ``share_px`` pixels (1 when it cannot be opened:
    that task reports why)."""
    with quiet_gdal():
        ds = gdal.Open(str(path))
    if ds is None:
        return 1
    return max(1, math.ceil(ds.RasterXSize * ds.RasterYSize / share_px))


def count_share(kind, path, k, n, params=None, progress=None, cancelled=None):
    """One task: the detections of share ``k`` of ``n`` of one scene's block grid (as the kind keeps them: columns for
    containers), as a dict with the detections, whether any pixel scanned was valid, the error (None) and the seconds
    spent.
    Raises only Cancelled: a broken scene is reported, the other scenes go on."""
    t0 = time.perf_counter()
    out = {'k': k, 'detections': None, 'valid': False, 'error': None, 'nodata': None, 'srs_wkt': None}
    try:
        r = open_raster(path)
        r.part = (k, n) if n > 1 else None
        out['srs_wkt'] = r.srs_wkt
        if kind == 'containers':      # by default as countcontainers: Auto's views for the whole scene's size, and
            from .containers import ContainerParams, auto_views, with_image_sun   # its own sun with one view
            params = with_image_sun(r, params or ContainerParams(views=auto_views(r)))
        out['detections'] = counter(kind).count(r, params, progress=progress, cancelled=cancelled)
        out['valid'] = True
    except Cancelled:
        raise
    except NodataError as e:          # judged over all shares of the scene in gather()
        out['nodata'] = str(e)
    except CargoWatchError as e:
        out['error'] = str(e)
    except Exception as e:  # noqa: BLE001 (a bug or a broken file must not stop the other scenes)
        out['error'] = f'{type(e).__name__}: {e}'
    out['seconds'] = time.perf_counter() - t0
    return out


@dataclass
class SceneResult:
    scene: str
    count: int = None
    teu: int = None
    seconds: float = 0.0            # processing time summed over the scene's tasks
    error: str = None
    srs_wkt: str = None
    detections: object = None       # as the kind keeps them (containers: columns); rows() gives the output dicts
    kind: str = None
    params: object = None

    def rows(self):
        """The output dicts of the scene's detections (none for a failed scene), made as they are asked for."""
        return iter(()) if self.detections is None else counter(self.kind).rows(self.detections, self.params)


def gather(kind, scene, shares, params=None):
    """One scene's result from its shares' dicts (any order)."""
    shares = sorted(shares, key=lambda s: s['k'])
    seconds = sum(s.get('seconds', 0.0) for s in shares)
    error = next((s['error'] for s in shares if s['error']), None)
    if error is None and not any(s['valid'] for s in shares):
        error = next(s['nodata'] for s in shares if s['nodata'])
    if error is not None:
        return SceneResult(scene, seconds=seconds, error=error)
    dets = counter(kind).join([s['detections'] for s in shares if s['valid']])
    count, teu = counter(kind).totals(dets)
    return SceneResult(scene, count, teu, seconds, None, shares[0]['srs_wkt'], dets, kind, params)


def run_serial(kind, scenes, params=None, progress=None, cancelled=None, report=None):
    """Count every scene in this process, one after another (no Dask). ``report(i, result)`` is
    called as each scene is done."""
    results = []
    for i, scene in enumerate(scenes):
        if cancelled is not None and cancelled():
            raise Cancelled()
        step = None if progress is None else (lambda f, i=i: progress((i + f) / len(scenes)))
        results.append(gather(kind, scene, [count_share(kind, scene, 0, 1, params, step, cancelled)], params))
        if report is not None:
            report(i, results[-1])
        if progress is not None:
            progress((i + 1) / len(scenes))
    return results


def connect(scheduler=None, workers=2, timeout=20):
    """A Dask client: on the scheduler at ``scheduler`` (e.g. tcp://host:8786), else on a new
    LocalCluster of ``workers`` single-threaded worker processes."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise CargoWatchError(DASK_MISSING)
    if scheduler:
        try:
            return Client(scheduler, timeout=timeout)
        except (OSError, TimeoutError, ValueError) as e:
            raise CargoWatchError(f'Cannot reach the Dask scheduler at {scheduler}: {e}. Start one '
                                  '(dask scheduler) with workers (dask worker ADDRESS), or check the address.')
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=':0')
    return Client(cluster)


def core_zip(folder):
    """A zip of the package (its __init__.py, core/*.py and the models) for workers that have no CargoWatch."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    package = __name__.split('.')[0]
    path = os.path.join(folder, f'{package}.zip')
    with zipfile.ZipFile(path, 'w', zipfile.ZIP_DEFLATED) as z:
        z.write(os.path.join(root, '__init__.py'), f'{package}/__init__.py')
        for name in sorted(os.listdir(os.path.join(root, 'core'))):
            if name.endswith('.py'):
                z.write(os.path.join(root, 'core', name), f'{package}/core/{name}')
        for name in sorted(os.listdir(os.path.join(root, 'core', 'models'))):
            z.write(os.path.join(root, 'core', 'models', name), f'{package}/core/models/{name}')
    return path


def run_dask(client, kind, scenes, params=None, share_px=SHARE_PX, progress=None, cancelled=None, report=None):
    """Count every scene on the Dask cluster of ``client``: one task per scene share (see the
    module doc), results as :func:`run_serial` gives them. Ships core/ to the workers first (to
    worker processes only: a worker inside this process would swap this package for the zip)."""
    from distributed import as_completed
    from distributed.diagnostics.plugin import UploadFile
    if '.' not in __name__:
        raise CargoWatchError('core.batch must be imported as part of its package to run on Dask.')
    with tempfile.TemporaryDirectory() as tmp:
        client.register_plugin(UploadFile(core_zip(tmp)), name='cargowatch-core')
    batch = uuid.uuid4().hex[:8]
    pending, parts, expected, results = {}, {}, {}, [None] * len(scenes)
    queue = as_completed()

    def submit(fn, *args, name, i, k=0):
        f = client.submit(fn, *args, key=f'{name}-{batch}-{i}-{k}', priority=-i, pure=False)
        pending[f.key] = (name, i, f)
        queue.add(f)

    def finished():
        """Futures done so far; polls so that ``cancelled`` is checked while long tasks run."""
        while not queue.has_ready():
            if cancelled is not None and cancelled():
                raise Cancelled()
            time.sleep(0.1)
        return queue.next_batch(block=False)

    for i, scene in enumerate(scenes):
        submit(scene_shares, scene, share_px, name='plan', i=i)
    done = 0
    try:
        while pending:
            for f in finished():
                name, i, _ = pending.pop(f.key)
                if f.status == 'error':      # e.g. a worker died (KilledWorker) or cannot import core/
                    exc = f.exception()
                    value = 1 if name == 'plan' else {'k': -1, 'detections': None, 'valid': False, 'nodata': None,
                                                       'error': f'{type(exc).__name__}: {exc}'}
                else:
                    value = f.result()
                f.release()
                if name == 'plan':
                    expected[i], parts[i] = value, []
                    for k in range(value):
                        submit(count_share, kind, scenes[i], k, value, params, name=f'count_{kind}', i=i, k=k)
                    continue
                parts[i].append(value)
                if len(parts[i]) == expected[i]:
                    results[i] = gather(kind, scenes[i], parts.pop(i), params)
                    done += 1
                    if report is not None:
                        report(i, results[i])
                    if progress is not None:
                        progress(done / len(scenes))
    except BaseException:     # cancelled or interrupted: drop the tasks not run yet
        client.cancel([f for _, _, f in pending.values()])
        raise
    return results


# --------------------------------------------------------------------------------------------
# Output: one GeoPackage with a polygon layer of detections and a table `scenes`
# --------------------------------------------------------------------------------------------
def _srs(wkt):
    s = osr.SpatialReference()
    s.ImportFromWkt(wkt)
    s.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    return s


def output_srs(results):
    """The scenes' working CRS when they share one, else WGS 84 (EPSG:4326)."""
    srs = [_srs(r.srs_wkt) for r in results if r.error is None and r.srs_wkt]
    if srs and all(s.IsSame(srs[0]) for s in srs[1:]):
        return srs[0]
    wgs = osr.SpatialReference()
    wgs.ImportFromEPSG(4326)
    wgs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    return wgs


_RANK = {ogr.OFTInteger: 0, ogr.OFTInteger64: 1, ogr.OFTReal: 2, ogr.OFTString: 3}


def _ogr_type(v):
    """OGR field type of a value: bool -> Integer, int -> Integer64, float -> Real, else String."""
    name = type(v).__name__
    if isinstance(v, bool) or name == 'bool_':
        return ogr.OFTInteger
    if isinstance(v, int) or name.startswith(('int', 'uint')):
        return ogr.OFTInteger64
    if isinstance(v, float) or name.startswith('float'):
        return ogr.OFTReal
    return ogr.OFTString


def _plain(v):
    v = v.item() if hasattr(v, 'item') else v
    return v if isinstance(v, (bool, int, float, str)) or v is None else str(v)


def write_gpkg(path, kind, results):
    """Write ``results`` (SceneResult list) to the GeoPackage ``path`` (replaced): a polygon layer
    named ``kind`` (field ``scene`` + the counter's fields) and the table ``scenes`` (scene, count,
    teu for containers, seconds, error). Returns the detections layer's name."""
    drv = ogr.GetDriverByName('GPKG')
    with quiet_gdal():
        if os.path.exists(path):
            drv.DeleteDataSource(str(path))
        ds = drv.CreateDataSource(str(path))
        if ds is None:
            raise CargoWatchError(f'Cannot create the GeoPackage {path}: {gdal.GetLastErrorMsg()}')
    dst = output_srs(results)
    layer = ds.CreateLayer(kind, srs=dst, geom_type=ogr.wkbPolygon)
    types = {'scene': ogr.OFTString}      # the widest type each field takes (an int among floats: Real)
    uniform = counter(kind).uniform       # then one row of a scene tells its types: its rows are not made twice
    for r in results:
        for d in (islice(r.rows(), 1) if uniform else r.rows()):
            for key, v in d.items():
                if key != 'geometry' and not key.startswith('_') and v is not None:
                    t = _ogr_type(v)
                    types[key] = max(types.get(key, t), t, key=_RANK.get)
    for key, t in types.items():
        fd = ogr.FieldDefn(key, t)
        if t == ogr.OFTInteger:
            fd.SetSubType(ogr.OFSTBoolean)
        layer.CreateField(fd)
    names = list(types)
    defn = layer.GetLayerDefn()
    layer.StartTransaction()
    for r in results:
        if r.error is not None:
            continue
        ct = None if _srs(r.srs_wkt).IsSame(dst) else osr.CoordinateTransformation(_srs(r.srs_wkt), dst)
        for d in r.rows():
            f = ogr.Feature(defn)
            f.SetField('scene', r.scene)
            for key in names[1:]:
                if d.get(key) is not None:
                    f.SetField(key, _plain(d[key]))
            ring = ogr.Geometry(ogr.wkbLinearRing)
            for x, y in list(d['geometry']) + [d['geometry'][0]]:
                ring.AddPoint_2D(float(x), float(y))
            poly = ogr.Geometry(ogr.wkbPolygon)
            poly.AddGeometry(ring)
            if ct is not None:
                poly.Transform(ct)
            f.SetGeometry(poly)
            layer.CreateFeature(f)
    layer.CommitTransaction()
    table = ds.CreateLayer('scenes', geom_type=ogr.wkbNone)
    columns = [('scene', ogr.OFTString), ('count', ogr.OFTInteger64)]
    columns += [('teu', ogr.OFTInteger64)] if kind == 'containers' else []
    columns += [('seconds', ogr.OFTReal), ('error', ogr.OFTString)]
    for name, ftype in columns:
        table.CreateField(ogr.FieldDefn(name, ftype))
    table.StartTransaction()
    for r in results:
        f = ogr.Feature(table.GetLayerDefn())
        for name, _ in columns:
            v = getattr(r, name)
            if v is not None:
                f.SetField(name, round(v, 3) if name == 'seconds' else v)
        table.CreateFeature(f)
    table.CommitTransaction()
    ds = None
    return kind
