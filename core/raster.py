"""Raster access shared by the detectors: open and validate, work on a metric grid,
stream the image in overlapping blocks and map detections back to coordinates.

Plain GDAL + numpy: no QGIS here, so detectors run (and are tested) anywhere.

A detector is a function ``detect(block) -> list[dict]`` over one :class:`Block`. Each
dict carries ``corners`` (4 x 2 array of block-local pixel (col, row) coordinates) and
any attribute fields. :func:`scan` keeps a detection only in the block whose core
(non-overlap) window holds its centre, so an object across a block border is counted
once, and converts corners to map coordinates.
"""
import contextlib
from concurrent.futures import ThreadPoolExecutor
import math
from dataclasses import dataclass, field

import numpy as np
from osgeo import gdal, ogr, osr

from .errors import Cancelled, CargoWatchError


class RasterError(CargoWatchError):
    """A problem with the input raster, worded for the analyst."""


class NodataError(RasterError):
    """Every pixel scanned (of the raster, or of its ``part``) is nodata."""


@contextlib.contextmanager
def quiet_gdal():
    """Silence GDAL's own printing for the block; errors are read back with GetLastErrorMsg."""
    gdal.PushErrorHandler('CPLQuietErrorHandler')
    gdal.ErrorReset()
    try:
        yield
    finally:
        gdal.PopErrorHandler()


def _srs(wkt):
    srs = osr.SpatialReference()
    srs.ImportFromWkt(wkt)
    srs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    return srs


def utm_epsg(lon, lat):
    """EPSG code of the WGS 84 / UTM zone holding lon, lat."""
    zone = int(math.floor((lon + 180.0) / 6.0)) % 60 + 1
    return (32600 if lat >= 0 else 32700) + zone


@dataclass
class Raster:
    """An opened raster on a metric grid (warped on the fly to UTM when geographic)."""
    ds: object
    path: str
    source_srs_wkt: str
    srs_wkt: str
    gt: tuple
    width: int
    height: int
    gsd: float                      # metres per pixel
    bands: tuple                    # 1-based band numbers used as (r, g, b) or (grey,)
    warped: bool = False
    scale: tuple = field(default=(0.0, 1.0))   # (low, high) mapped to 0..1
    part: tuple = None              # (k, n): scan only the k-th of n consecutive shares of the block grid

    @property
    def is_colour(self):
        return len(self.bands) == 3

    def pixel_to_map(self, cols, rows):
        gt = self.gt
        cols = np.asarray(cols, dtype=float)
        rows = np.asarray(rows, dtype=float)
        return gt[0] + cols * gt[1] + rows * gt[2], gt[3] + cols * gt[4] + rows * gt[5]

    def map_to_pixel(self, x, y):
        inv = gdal.InvGeoTransform(self.gt)
        x = np.asarray(x, dtype=float)
        y = np.asarray(y, dtype=float)
        return inv[0] + x * inv[1] + y * inv[2], inv[3] + x * inv[4] + y * inv[5]


MIN_GSD = 0.001  # metres per pixel: anything finer is a damaged georeferencing, not imagery


def open_raster(path, bands=None, metric=True):
    """Open ``path`` for detection, or raise :class:`RasterError` saying what is wrong.

    ``bands``: optional 1-based (r, g, b) band numbers; default the colour-interpreted
    RGB bands, else bands 1-3, else band 1 alone (panchromatic).
    """
    with quiet_gdal():  # a damaged file's complaints come back in the messages below
        ds = gdal.Open(str(path), gdal.GA_ReadOnly)
        msg = gdal.GetLastErrorMsg()
        if ds is not None:
            wkt = ds.GetProjection()
            gt = ds.GetGeoTransform(can_return_null=True)
    if ds is None:
        raise RasterError(f'Cannot open the raster {path}: {msg or "not a raster GDAL can read"}. '
                          'Check that the file is complete and not corrupt.')
    if ds.RasterCount < 1 or ds.RasterXSize < 1 or ds.RasterYSize < 1:
        raise RasterError(f'The raster {path} holds no image data.')
    if not wkt:
        raise RasterError(f'The raster {path} has no coordinate reference system. Georeference it '
                          '(e.g. Raster ▸ Projections ▸ Assign Projection) so sizes can be measured in metres.')
    if gt is None or (gt[1] == 0 and gt[2] == 0):
        raise RasterError(f'The raster {path} has no georeferencing (geotransform).')
    if not all(math.isfinite(v) for v in gt):
        raise RasterError(f'The georeferencing of {path} is damaged: its origin or pixel size is not a finite '
                          'number.')
    bands = _pick_bands(ds, bands)
    source_wkt = wkt
    warped = False
    srs = _srs(wkt)
    if metric and srs.IsGeographic():
        ds, wkt = _warp_to_utm(ds, srs)
        gt = ds.GetGeoTransform()
        warped = True
    elif metric and not srs.IsProjected():
        raise RasterError(f'The CRS of {path} is neither geographic nor projected; cannot measure in metres.')
    unit = srs.GetLinearUnits() if srs.IsProjected() else 1.0
    gsd = math.sqrt(abs(gt[1] * gt[5] - gt[2] * gt[4])) * unit
    if not (MIN_GSD <= gsd < math.inf):
        raise RasterError(f'The pixel size of {path} ({gsd:.3g} m) is not plausible: its georeferencing is '
                          'probably damaged.')
    r = Raster(ds=ds, path=str(path), source_srs_wkt=source_wkt, srs_wkt=wkt, gt=tuple(gt),
               width=ds.RasterXSize, height=ds.RasterYSize, gsd=gsd, bands=bands, warped=warped)
    r.scale = _value_range(r)
    return r


def _pick_bands(ds, bands):
    n = ds.RasterCount
    if bands:
        bands = tuple(int(b) for b in bands)
        if len(bands) not in (1, 3) or any(b < 1 or b > n for b in bands):
            raise RasterError(f'Bands {list(bands)} do not fit a raster with {n} band(s): give 3 band '
                              f'numbers (red, green, blue) between 1 and {n}, or one for a grey image.')
        return bands
    if n < 3:
        return (1,)
    interp = {ds.GetRasterBand(i).GetColorInterpretation(): i for i in range(1, n + 1)}
    rgb = (gdal.GCI_RedBand, gdal.GCI_GreenBand, gdal.GCI_BlueBand)
    if all(c in interp for c in rgb):
        return tuple(interp[c] for c in rgb)
    return (1, 2, 3)


def _warp_to_utm(ds, srs):
    gt = ds.GetGeoTransform()
    lon = gt[0] + gt[1] * ds.RasterXSize / 2 + gt[2] * ds.RasterYSize / 2
    lat = gt[3] + gt[4] * ds.RasterXSize / 2 + gt[5] * ds.RasterYSize / 2
    if not (abs(lon) <= 540 and abs(lat) <= 90):
        raise RasterError(f'The geographic raster is centred at longitude {lon:.6g}, latitude {lat:.6g}: not on '
                          'the Earth; its georeferencing is probably damaged.')
    dst = osr.SpatialReference()
    dst.ImportFromEPSG(utm_epsg(lon, lat))
    with quiet_gdal():
        vrt = gdal.Warp('', ds, format='VRT', dstSRS=dst.ExportToWkt(), resampleAlg='bilinear',
                        dstAlpha=True, multithread=True)
        msg = gdal.GetLastErrorMsg()
    if vrt is None:
        raise RasterError(f'Cannot reproject the geographic raster to UTM: {msg}')
    return vrt, dst.ExportToWkt()


def _value_range(r, samples=4, win=256):
    """(low, high) raw values mapped to 0..1: full range for Byte, else a common
    1-99 % stretch over the colour bands, estimated from a few windows (cheap on huge files)."""
    dtype = r.ds.GetRasterBand(r.bands[0]).DataType
    if dtype == gdal.GDT_Byte:
        return (0.0, 255.0)
    vals = []
    w, h = min(win, r.width), min(win, r.height)
    for fy in np.linspace(0, 1, samples):
        for fx in np.linspace(0, 1, samples):
            x, y = int(fx * (r.width - w)), int(fy * (r.height - h))
            data, valid = read_window(r, x, y, w, h, normalise=False)
            if valid.any():
                vals.append(data[:, valid].ravel()[::7])
    if not vals:
        return (0.0, 1.0)
    v = np.concatenate(vals)
    low, high = np.percentile(v, [0.5, 99.5])
    return (float(low), float(high if high > low else low + 1.0))


def read_window(r, x, y, w, h, normalise=True):
    """Read the used bands of one window as float32 (bands, h, w) and a validity mask (h, w)."""
    with quiet_gdal():
        arrs, valid = [], np.ones((h, w), dtype=bool)
        for b in r.bands:
            band = r.ds.GetRasterBand(b)
            a = band.ReadAsArray(x, y, w, h)
            all_valid = band.GetMaskFlags() == gdal.GMF_ALL_VALID     # no nodata: no mask to read
            m = None if a is None or all_valid else band.GetMaskBand().ReadAsArray(x, y, w, h)
            if a is None or (m is None and not all_valid):
                raise RasterError(f'Cannot read pixels {x},{y} ({w}x{h}) of {r.path}: '
                                  f'{gdal.GetLastErrorMsg() or "read failed"}. The file may be truncated or corrupt.')
            arrs.append(a)
            if m is not None:
                valid &= m > 0
    data = np.stack(arrs).astype(np.float32, copy=False)
    if normalise:
        low, high = r.scale
        data -= low
        data *= 1.0 / (high - low)
        np.maximum(data, 0.0, out=data)         # (twice as fast as np.clip)
        np.minimum(data, 1.0, out=data)
    return data, valid


@dataclass
class Block:
    x0: int            # window origin in raster pixels
    y0: int
    core: tuple        # (cx0, cy0, cx1, cy1) absolute pixel window this block owns
    data: np.ndarray   # float32 (bands, h, w) in 0..1
    valid: np.ndarray  # bool (h, w): not nodata and inside the AOI
    gsd: float


SUN_AZIMUTH_KEYS = ('meansunaz', 'sun_azimuth', 'sunazimuth')   # Maxar / DigitalGlobe IMD, DIMAP (Pleiades, SPOT)


def sun_azimuth(path):
    """(degrees clockwise from north, metadata key) of the sun as the metadata of the image at ``path`` gives it (a
    Raster's ``path``: a warped one's metadata is its source's), or (None, None):
    the first item, in GDAL's default, IMD or IMAGERY domain, whose name ends in meanSunAz (a Maxar .IMD beside the
    file), SUN_AZIMUTH (DIMAP) or sunAzimuth, case aside, with a number from -360 to 360 (-10 is 350); else the
    ``view:sun_azimuth`` of a STAC item beside the file (:func:`stac_sun_azimuth`)."""
    with quiet_gdal():
        ds = gdal.Open(str(path))
    for domain in ('', 'IMD', 'IMAGERY') if ds is not None else ():
        for key, value in (ds.GetMetadata(domain) or {}).items():
            if key.rsplit('.', 1)[-1].lower() in SUN_AZIMUTH_KEYS:
                az = _azimuth(value)
                if az is not None:
                    return az, key
    return stac_sun_azimuth(path)


def _azimuth(value):
    """``value`` (a number or its text) as an azimuth 0-360, or None when it is not a number from -360 to 360."""
    try:
        az = float(str(value).strip().strip(';').strip('"'))
    except ValueError:
        return None
    return az % 360.0 if -360.0 <= az <= 360.0 else None


def stac_sun_azimuth(path, max_files=50, max_bytes=512 << 10):
    """(degrees, 'view:sun_azimuth in item.json') from a STAC item (a GeoJSON Feature, as Maxar's Open Data, Planet or
    a STAC API deliver them) saved in the image's folder that describes the image: named like it (``scene.json`` or
    ``scene.tif.json`` for ``scene.tif``) or with an asset whose href ends in the image's file name; else (None,
    None). At most ``max_files`` JSON files of at most ``max_bytes`` each are looked at; unreadable ones are skipped."""
    import json
    from pathlib import Path
    image = Path(str(path))
    if not image.parent.is_dir():           # /vsi paths, datasets that are not files
        return None, None
    named = [image.with_suffix('.json'), image.with_name(image.name + '.json')]
    others = sorted(p for p in image.parent.glob('*.json') if p not in named)
    for item in ([p for p in named if p.is_file()] + others)[:max_files]:
        try:
            if item.stat().st_size > max_bytes:
                continue
            doc = json.loads(item.read_text(encoding='utf-8'))
        except (OSError, ValueError):
            continue
        if not isinstance(doc, dict) or doc.get('type') != 'Feature' or not isinstance(doc.get('properties'), dict):
            continue
        hrefs = [str(a.get('href', '')) for a in (doc.get('assets') or {}).values() if isinstance(a, dict)]
        if item in named or any(h.replace('\\', '/').rsplit('/', 1)[-1] == image.name for h in hrefs):
            az = _azimuth(doc['properties'].get('view:sun_azimuth', ''))
            if az is not None:
                return az, f'view:sun_azimuth in {item.name}'
    return None, None


def geometries_in(wkts, srs_wkt, target_wkt):
    """OGR geometries of ``wkts`` (given in ``srs_wkt``, None = already in the target CRS) in
    ``target_wkt``; empty ones are skipped."""
    ct = None
    if srs_wkt and not _srs(srs_wkt).IsSame(_srs(target_wkt)):
        ct = osr.CoordinateTransformation(_srs(srs_wkt), _srs(target_wkt))
    for wkt in wkts:
        g = ogr.CreateGeometryFromWkt(wkt)
        if g is None or g.IsEmpty():
            continue
        if ct is not None:
            g.Transform(ct)
        yield g


class Aoi:
    """Polygons (WKT in ``srs_wkt``) rasterised block by block onto the raster grid."""

    def __init__(self, wkts, srs_wkt, raster):
        self._drv = ogr.GetDriverByName('Memory')
        self._src = self._drv.CreateDataSource('aoi')
        target = _srs(raster.srs_wkt)
        self._layer = self._src.CreateLayer('aoi', srs=target, geom_type=ogr.wkbMultiPolygon)
        env = None
        for g in geometries_in(wkts, srs_wkt, raster.srs_wkt):
            f = ogr.Feature(self._layer.GetLayerDefn())
            f.SetGeometry(g)
            self._layer.CreateFeature(f)
            e = g.GetEnvelope()
            env = e if env is None else (min(env[0], e[0]), max(env[1], e[1]), min(env[2], e[2]), max(env[3], e[3]))
        self.raster = raster
        self.pixel_window = None
        if env is not None:
            cols, rows = raster.map_to_pixel([env[0], env[1], env[0], env[1]], [env[2], env[2], env[3], env[3]])
            c0, c1 = max(0, int(np.floor(cols.min()))), min(raster.width, int(np.ceil(cols.max())))
            r0, r1 = max(0, int(np.floor(rows.min()))), min(raster.height, int(np.ceil(rows.max())))
            if c1 > c0 and r1 > r0:
                self.pixel_window = (c0, r0, c1, r1)

    def mask(self, x, y, w, h):
        gt = self.raster.gt
        ox, oy = self.raster.pixel_to_map(x, y)
        mem = gdal.GetDriverByName('MEM').Create('', w, h, 1, gdal.GDT_Byte)
        mem.SetGeoTransform((float(ox), gt[1], gt[2], float(oy), gt[4], gt[5]))
        mem.SetProjection(self.raster.srs_wkt)
        gdal.RasterizeLayer(mem, [1], self._layer, burn_values=[1])
        return mem.GetRasterBand(1).ReadAsArray() > 0


def block_windows(width, height, block, overlap, window=None):
    """(x0, y0, w, h, core) read windows tiling ``window`` (c0, r0, c1, r1) with overlap."""
    c0, r0, c1, r1 = window or (0, 0, width, height)
    out = []
    for cy in range(r0, r1, block):
        for cx in range(c0, c1, block):
            core = (cx, cy, min(cx + block, c1), min(cy + block, r1))
            x0, y0 = max(0, cx - overlap), max(0, cy - overlap)
            x1, y1 = min(width, core[2] + overlap), min(height, core[3] + overlap)
            out.append((x0, y0, x1 - x0, y1 - y0, core))
    return out


def owning_blocks(r, cols, rows, block, overlap, todo=None):
    """For each block window (as :func:`block_windows`) whose core owns some of the pixel points (``cols``,
    ``rows``; only those ``todo`` marks, if given): (Block, indices of its points). Only those blocks are read."""
    todo = np.ones(len(cols), bool) if todo is None else todo
    for x0, y0, w, h, core in block_windows(r.width, r.height, block, overlap):
        idx = np.nonzero(todo & (cols >= core[0]) & (cols < core[2]) & (rows >= core[1]) & (rows < core[3]))[0]
        if idx.size:
            data, valid = read_window(r, x0, y0, w, h)
            yield Block(x0, y0, core, data, valid, r.gsd), idx


def iter_blocks(r, block=1024, overlap=64, aoi=None):
    """Yield (fraction_done, Block) over the raster (or the AOI's bounding window)."""
    window = None
    if aoi is not None:
        if aoi.pixel_window is None:
            raise RasterError('The area of interest does not overlap the raster.')
        window = aoi.pixel_window
    wins = block_windows(r.width, r.height, block, overlap, window)
    if r.part is not None:     # one share of the same grid (core.batch spreads a scene's shares over workers)
        k, n = r.part
        wins = wins[k * len(wins) // n:(k + 1) * len(wins) // n]
    # The next block is read by one worker thread (GDAL releases the GIL) while the caller works on this one;
    # only that thread touches the dataset while the blocks are read.
    with ThreadPoolExecutor(max_workers=1) as pool:
        ahead = pool.submit(read_window, r, *wins[0][:4]) if wins else None
        for i, (x0, y0, w, h, core) in enumerate(wins):
            data, valid = ahead.result()
            ahead = pool.submit(read_window, r, *wins[i + 1][:4]) if i + 1 < len(wins) else None
            if aoi is not None:
                valid &= aoi.mask(x0, y0, w, h)
            yield (i + 1) / len(wins), Block(x0, y0, core, data, valid, r.gsd)


def in_core(r, b, corners):
    """(indices, map corners (m, k, 2)) of the detections of block ``b`` whose centre lies in its core, from their
    block-pixel ``corners`` (n, k, 2): one transform for the whole block."""
    corners = np.asarray(corners, dtype=float)
    cols, rows = corners[..., 0] + b.x0, corners[..., 1] + b.y0
    ccol, crow = cols.mean(axis=1), rows.mean(axis=1)
    cx0, cy0, cx1, cy1 = b.core
    keep = np.flatnonzero((ccol >= cx0) & (ccol < cx1) & (crow >= cy0) & (crow < cy1))
    xs, ys = r.pixel_to_map(cols[keep], rows[keep])
    return keep, np.stack([xs, ys], axis=-1)


def _in_core(r, b, dets):
    """The detections (dicts) of block ``b`` whose centre lies in its core, with map-coordinate ``geometry`` for
    their block-pixel ``corners``."""
    if not dets:
        return []
    keep, geom = in_core(r, b, [d.pop('corners') for d in dets])
    out = []
    for i, g in zip(keep.tolist(), geom.tolist()):
        dets[i]['geometry'] = [tuple(p) for p in g]
        out.append(dets[i])
    return out


def scan(r, detect, overlap=64, block=1024, aoi=None, progress=None, cancelled=None, keep=None):
    """Run ``detect`` over every block; return detections with map-coordinate ``geometry``
    (list of (x, y) corners), deduplicated across block borders. With ``keep(r, block, detections)``, which
    picks and places a block's detections (default: dicts with block-pixel ``corners``, :func:`_in_core`), the list
    of its results, one per block with valid pixels."""
    found, any_valid = [], False
    for frac, b in iter_blocks(r, block, overlap, aoi):
        if cancelled is not None and cancelled():
            raise Cancelled()
        if b.valid.any():
            any_valid = True
            found.append((keep or _in_core)(r, b, detect(b)))
        if progress is not None:
            progress(frac)
    if not any_valid:
        raise NodataError('Every pixel of the raster (inside the area of interest) is nodata: nothing to analyse.')
    return found if keep else [d for part in found for d in part]
