"""Read an AIS point layer of the project into numpy columns, once.

Fast path: a file layer read through OGR's Arrow stream (GDAL >= 3.6), about a second for a million positions.
Any other layer (memory, PostGIS, edited) goes feature by feature. Columns follow the core contract
(``mmsi`` int64, ``t`` int64 unix s UTC, ``lon``/``lat`` float64, ``sog``/``cog``/``heading`` float32 nan=n/a),
sorted by mmsi then t, plus a per-vessel table (name, IMO, count, first/last seen).
"""

import numpy as np
from qgis.core import (QgsCoordinateReferenceSystem, QgsFeatureRequest, QgsProviderRegistry, QgsVectorLayerFeatureSource,
                       QgsWkbTypes)
from qgis.PyQt.QtCore import QCoreApplication, QDate, QDateTime, Qt, QTime

from ..core import ais_io
from ..core.errors import Cancelled, CargoWatchError
from ..core.ogr_columns import read_points
from ..core.tracks import sort_positions
from ..compat import qenum
from .compat import GEOM_POINT

WKT_GDAL = qenum('Qgis.CrsWktVariant.PreferredGdal', 'QgsCoordinateReferenceSystem.WktVariant.WKT_PREFERRED_GDAL')

DOCK_ROLES = {'mmsi': 'mmsi', 'time': 't', 'sog': 'sog', 'cog': 'cog', 'heading': 'heading', 'name': 'name',
              'imo': 'imo'}


def tr(text):
    return QCoreApplication.translate('CargoWatchDock', text)


class AisLayerError(CargoWatchError):
    """The chosen layer is not an AIS positions layer."""


class AisData:
    """Positions (sorted by mmsi, t) and one row per vessel."""

    def __init__(self, cols, names=None, imos=None, source_name=''):
        self.cols = sort_positions(cols)
        self.source_name = source_name
        mmsi = self.cols['mmsi']
        n = len(mmsi)
        if n:
            starts = np.flatnonzero(np.r_[True, mmsi[1:] != mmsi[:-1]])
        else:
            starts = np.zeros(0, dtype=np.int64)
        self.v_start = starts.astype(np.int64)
        self.v_end = np.r_[starts[1:], n].astype(np.int64)
        self.v_mmsi = mmsi[starts] if n else np.zeros(0, dtype=np.int64)
        self.v_count = self.v_end - self.v_start
        t = self.cols['t']
        self.v_first = t[self.v_start] if n else np.zeros(0, dtype=np.int64)
        self.v_last = t[self.v_end - 1] if n else np.zeros(0, dtype=np.int64)
        names = names or {}
        imos = imos or {}
        self.v_name = [names.get(int(m), '') for m in self.v_mmsi]
        self.v_imo = [imos.get(int(m), '') for m in self.v_mmsi]
        self.row_of = {int(m): i for i, m in enumerate(self.v_mmsi)}

    def __len__(self):
        return len(self.cols['mmsi'])

    @property
    def n_vessels(self):
        return len(self.v_mmsi)

    def time_range(self):
        t = self.cols['t']
        return (int(t.min()), int(t.max())) if len(t) else (0, 0)

    def vessel_label(self, mmsi):
        i = self.row_of.get(int(mmsi))
        name = self.v_name[i] if i is not None else ''
        return name or str(int(mmsi))


def _field_map(layer):
    """Dock column -> field name, recognised by core's header synonyms (as the AIS import does)."""
    names = [f.name() for f in layer.fields()]
    _layout, found = ais_io.detect_layout(names)
    return {DOCK_ROLES[role]: names[i] for role, i in found.items() if role in DOCK_ROLES}


def check_layer(layer):
    """The field map of an AIS point layer, or AisLayerError saying what is wrong."""
    from qgis.core import QgsVectorLayer

    if layer is None or not isinstance(layer, QgsVectorLayer) or not layer.isValid():
        raise AisLayerError(tr('Choose a valid vector layer of AIS positions.'))
    if QgsWkbTypes.geometryType(layer.wkbType()) != GEOM_POINT:
        raise AisLayerError(tr('Layer "{}" is not a point layer: AIS positions are points '
                               '(import an AIS file with "Import AIS…").').format(layer.name()))
    fmap = _field_map(layer)
    missing = [k for k in ('mmsi', 't') if k not in fmap]
    if missing:
        want = {'mmsi': 'mmsi', 't': 'time (date-time or unix seconds)'}
        raise AisLayerError(tr('Layer "{}" has no {} field: it does not look like AIS positions.').format(
            layer.name(), tr(' and no ').join(want[m] for m in missing)))
    return fmap


def _ogr_source(layer):
    if layer.providerType() != 'ogr' or layer.isEditable() or layer.isModified():
        return None
    parts = QgsProviderRegistry.instance().decodeUri('ogr', layer.source())
    path = parts.get('path')
    if not path:
        return None
    return path, parts.get('layerName'), parts.get('layerId'), layer.subsetString()


def _read_ogr(fmap, src):
    path, lname, lid, subset = src
    got = read_points(path, list(fmap.values()), lname, lid, subset)
    if got is None:
        return None
    cols = {'lon': got['x'], 'lat': got['y']}
    for key, fname in fmap.items():
        cols[key] = got[fname]
    return cols, len(got['x'])


def _qvariant_py(v):
    if v is None:
        return None
    if isinstance(v, QDateTime):
        if not v.isValid():
            return None
        if v.timeSpec() == Qt.TimeSpec.LocalTime:  # no zone in the data: AIS times are UTC
            v = QDateTime(v)
            v.setTimeSpec(Qt.TimeSpec.UTC)
        return v.toSecsSinceEpoch()
    if isinstance(v, QDate):
        return QDateTime(v, QTime(0, 0), Qt.TimeSpec.UTC).toSecsSinceEpoch() if v.isValid() else None
    try:
        if v.isNull():
            return None
    except AttributeError:
        pass
    return v


def _read_features(source, fields, n_total, fmap, progress=None, cancelled=None):
    """Feature by feature from a QgsVectorLayerFeatureSource (a thread-safe snapshot of the layer)."""
    names = list(fmap.values())
    req = QgsFeatureRequest().setSubsetOfAttributes(names, fields)
    n_total = max(1, n_total)
    idx = {k: fields.indexOf(v) for k, v in fmap.items()}
    lists = {k: [] for k in fmap}
    lon, lat = [], []
    for i, f in enumerate(source.getFeatures(req)):
        g = f.geometry()
        if g.isNull():
            continue
        p = g.constGet()
        try:
            x, y = p.x(), p.y()
        except AttributeError:  # multipoint: first part
            q = g.asMultiPoint()
            if not q:
                continue
            x, y = q[0].x(), q[0].y()
        lon.append(x)
        lat.append(y)
        attrs = f.attributes()
        for k, j in idx.items():
            lists[k].append(_qvariant_py(attrs[j]))
        if i % 50000 == 0:
            if cancelled is not None and cancelled():
                raise Cancelled()
            if progress:
                progress(i / n_total)
    cols = {'lon': np.asarray(lon, dtype=np.float64), 'lat': np.asarray(lat, dtype=np.float64)}
    for k, v in lists.items():
        if k in ('name', 'imo'):
            cols[k] = np.asarray(['' if x is None else str(x) for x in v], dtype=object)
        elif k == 't':
            if any(isinstance(x, str) for x in v[:10]):
                cols[k] = np.asarray(['' if x is None else x for x in v], dtype='U')
            else:
                cols[k] = np.asarray([0 if x is None else x for x in v], dtype=np.float64)
        else:
            cols[k] = np.asarray([np.nan if x is None else x for x in v], dtype=np.float64)
    return cols, len(lon)


class LayerReader:
    """Reads an AIS layer in two steps: ``LayerReader(layer)`` in the main thread (checks, a snapshot of
    what is needed), then ``run()`` anywhere, e.g. in a QgsTask (OGR or a QgsVectorLayerFeatureSource)."""

    def __init__(self, layer):
        self.fmap = check_layer(layer)
        self.name = layer.name()
        self.src = _ogr_source(layer)
        self.source = QgsVectorLayerFeatureSource(layer)
        self.fields = layer.fields()
        self.count = layer.featureCount()
        crs = layer.crs()
        self.crs_wkt = None
        if crs.isValid() and crs != QgsCoordinateReferenceSystem('EPSG:4326'):
            self.crs_wkt = crs.toWkt(WKT_GDAL)

    def run(self, progress=None, cancelled=None):
        got = None
        if self.src is not None:
            try:
                got = _read_ogr(self.fmap, self.src)
            except Exception:  # noqa: BLE001 - any trouble in the fast path: read feature by feature
                got = None
        if got is None:
            got = _read_features(self.source, self.fields, self.count, self.fmap, progress, cancelled)
        return _columns(got, self.name, self.crs_wkt)


def read_ais_layer(layer, progress=None):
    """AisData from an AIS point layer of the project (AisLayerError with a clear message otherwise)."""
    return LayerReader(layer).run(progress)


def _columns(got, layer_name, crs_wkt):
    raw, n = got
    if n == 0:
        raise AisLayerError(tr('Layer "{}" holds no positions.').format(layer_name))
    mmsi = np.asarray(raw['mmsi'])
    if mmsi.dtype.kind not in 'iu':
        m = np.asarray(mmsi, dtype=object)
        try:
            mmsi = np.array([int(x) if x not in (None, '') else -1 for x in m], dtype=np.int64)
        except (TypeError, ValueError):
            raise AisLayerError(tr('The mmsi field of "{}" is not numeric.').format(layer_name)) from None
    lon = np.asarray(raw['lon'], dtype=np.float64)
    lat = np.asarray(raw['lat'], dtype=np.float64)
    if crs_wkt:
        from osgeo import osr
        s_in = osr.SpatialReference()
        s_in.ImportFromWkt(crs_wkt)
        s_out = osr.SpatialReference()
        s_out.ImportFromEPSG(4326)
        for s in (s_in, s_out):
            s.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
        ct = osr.CoordinateTransformation(s_in, s_out)
        xy = np.asarray(ct.TransformPoints(np.c_[lon, lat]), dtype=np.float64)
        lon, lat = xy[:, 0], xy[:, 1]
    t_ms, t_ok = ais_io.times_ms(raw['t'])
    if not t_ok.any():
        raise AisLayerError(tr('The time field of "{}" holds no date-times.').format(layer_name))
    t = t_ms // 1000
    cols = {
        'mmsi': mmsi.astype(np.int64), 't': t, 'lon': lon, 'lat': lat,
    }
    for k in ('sog', 'cog', 'heading'):
        v = raw.get(k)
        cols[k] = (np.asarray(v, dtype=np.float32) if v is not None else np.full(n, np.nan, dtype=np.float32))
    # AIS "not available" codes
    cols['sog'][cols['sog'] >= 102.3] = np.nan
    cols['cog'][cols['cog'] >= 360] = np.nan
    cols['heading'][cols['heading'] >= 360] = np.nan
    ok = (np.isfinite(lon) & np.isfinite(lat) & (np.abs(lat) <= 90) & (np.abs(lon) <= 180) & (mmsi > 0) & t_ok)
    names, imos = {}, {}
    for key, out in (('name', names), ('imo', imos)):
        v = raw.get(key)
        if v is None:
            continue
        v = np.asarray(v)
        if v.dtype.kind == 'S':
            v = np.char.decode(v, 'utf-8', 'replace')
        elif v.dtype.kind == 'f':
            v = np.where(np.isfinite(v), v, 0).astype(np.int64)
        s = np.char.strip(v.astype('U'))
        has = (s != '') & (s != '0') & (s != '-1') & (s != 'None') & (s != 'nan') & (s != 'NULL')
        sel = np.flatnonzero(has & ok)[::-1]  # the last non-empty value of each vessel wins
        u, first = np.unique(mmsi[sel], return_index=True)
        out.update(zip(u.tolist(), s[sel][first].tolist()))
    cols = {k: a[ok] for k, a in cols.items()}
    if len(cols['mmsi']) == 0:
        raise AisLayerError(tr('Layer "{}" holds no valid positions (mmsi, time and lon/lat).').format(
            layer_name))
    return AisData(cols, names, imos, source_name=layer_name)
