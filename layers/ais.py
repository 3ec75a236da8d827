"""QGIS point layers of AIS positions <-> the columns of core: the one reading path of the dock and the
algorithms, and the UTC date-times written back into features.

Reading: a file layer (OGR, unedited, no selection) goes through OGR's Arrow stream (about a second for a
million positions); any other layer (memory, PostGIS, unsaved edits, selected features) goes feature by
feature and gives the same columns. Times: a date-time without a zone is UTC (QGIS hands GeoPackage and
memory DateTime fields over as zone-less local time: never converted through the machine's zone), a text time
is ISO 8601 (UTC unless it says otherwise), numbers are unix seconds. Any CRS: coordinates are reprojected to
EPSG:4326. The result is cleaned by core (``core.ais.import_from_raw``): rows without a valid MMSI, time or
position are counted and skipped, same-second repeats dropped, sorted by mmsi then t.
"""
import os

import numpy as np
from qgis.core import (QgsCoordinateReferenceSystem, QgsFeatureRequest, QgsProviderRegistry, QgsVectorLayer,
                       QgsVectorLayerFeatureSource, QgsWkbTypes)
from qgis.PyQt.QtCore import QCoreApplication, QDate, QDateTime, Qt

from ..compat import Q, qenum
from ..core import ais, geo, ogr_columns
from ..core.errors import Cancelled, CargoWatchError

WKT_GDAL = qenum('Qgis.CrsWktVariant.PreferredGdal', 'QgsCoordinateReferenceSystem.WktVariant.WKT_PREFERRED_GDAL')
WGS84 = 'EPSG:4326'
ROLES = tuple(r for r in ais.ROLES if r not in ('lat', 'lon'))  # a layer's points give the position


def tr(text):
    return QCoreApplication.translate('CargoWatch', text)


class AisLayerError(CargoWatchError):
    """The layer is not a layer of AIS positions (the message says why)."""


def utc_datetime(t):
    """Unix seconds -> QDateTime in UTC (Qt.TimeSpec.UTC: written with its zone, shown as UTC)."""
    return QDateTime.fromMSecsSinceEpoch(int(round(float(t) * 1000)), Qt.TimeSpec.UTC)


def field_roles(names, user=None):
    """Role (mmsi, time, sog, ..., name, imo) -> field name: the fields given in ``user`` (role -> name),
    else those recognised by core's header synonyms (as the AIS import does)."""
    low = [n.lower() for n in names]
    _layout, found = ais.detect_layout(names)
    roles = {r: names[i] for r, i in found.items() if r in ROLES}
    for role, wanted in (user or {}).items():
        if not wanted:
            continue
        if wanted.lower() not in low:
            raise AisLayerError(tr('The field "{}" is not in the layer (fields: {}).').format(
                wanted, ', '.join(names)))
        roles[role] = names[low.index(wanted.lower())]
    return roles


def _check_roles(name, names, roles):
    missing = [r for r in ('mmsi', 'time') if r not in roles]
    if missing:
        want = {'mmsi': tr('no MMSI field'), 'time': tr('no time field (date-time, ISO text or unix seconds)')}
        raise AisLayerError(tr('Layer "{}" has {}: it does not look like AIS positions (fields: {}). Name the '
                               'fields mmsi and time, or choose them in the MMSI/time field parameters.').format(
            name, tr(' and ').join(want[m] for m in missing), ', '.join(names)))


def _fast_source(layer, selected_only):
    """(path, layer name, layer id, subset) when OGR can read the layer as it is on disk, else None."""
    if (layer is None or selected_only or layer.providerType() != 'ogr' or layer.isEditable()
            or layer.isModified()):
        return None
    parts = QgsProviderRegistry.instance().decodeUri('ogr', layer.source())
    path = parts.get('path')
    if not path or not os.path.isfile(path):
        return None
    return path, parts.get('layerName'), parts.get('layerId'), layer.subsetString()


def attribute_value(v):
    """An attribute as plain Python: NULL -> None, a date-time -> ISO text (its zone when it has one; none =
    UTC, read by core's time parser like any text time), a date -> ISO date."""
    if v is None:
        return None
    if isinstance(v, QDateTime):
        if not v.isValid():
            return None
        return v.toString(Qt.DateFormat.ISODateWithMs)
    if isinstance(v, QDate):
        return v.toString(Qt.DateFormat.ISODate) if v.isValid() else None
    is_null = getattr(v, 'isNull', None)
    if is_null is not None and is_null():
        return None
    return v


def _read_features(source, roles, total, progress=None, cancelled=None):
    """Columns x, y, fid and one per role, feature by feature (any QgsFeatureSource)."""
    names = source.fields().names()
    idx = {role: names.index(f) for role, f in roles.items()}
    request = QgsFeatureRequest().setSubsetOfAttributes(sorted(set(idx.values())))
    lists = {k: [] for k in list(roles) + ['x', 'y', 'fid']}
    total = max(1, total)
    for i, f in enumerate(source.getFeatures(request)):
        if i % 20000 == 0:
            if cancelled is not None and cancelled():
                raise Cancelled()
            if progress is not None:
                progress(i / total)
        g = f.geometry()
        p = None if g is None or g.isEmpty() else g.constGet()
        if p is not None and QgsWkbTypes.isMultiType(g.wkbType()):  # multipoint: its first point
            p = p.geometryN(0) if p.numGeometries() else None
        lists['x'].append(p.x() if p is not None else np.nan)
        lists['y'].append(p.y() if p is not None else np.nan)
        lists['fid'].append(f.id())
        attrs = f.attributes()
        for role, k in idx.items():
            lists[role].append(attribute_value(attrs[k]))
    cols = {k: np.array(v + [None], dtype=object)[:-1] for k, v in lists.items() if k in roles}
    cols.update(x=np.asarray(lists['x'], dtype=np.float64), y=np.asarray(lists['y'], dtype=np.float64),
                fid=np.asarray(lists['fid'], dtype=np.int64))
    return cols


def _read_ogr(src, roles):
    """The same columns through OGR's Arrow stream, or None when it cannot serve the layer."""
    path, lname, lid, subset = src
    try:
        got = ogr_columns.read_points(path, sorted(set(roles.values())), lname, lid, subset)
    except Exception:  # noqa: BLE001 - any trouble in the fast path: the feature-by-feature path is always right
        return None
    if got is None:
        return None
    cols = {'x': got['x'], 'y': got['y'], 'fid': got['fid']}
    for role, fname in roles.items():
        cols[role] = got[fname]
    return cols


def raw_rows(cols, roles):
    """Columns read from a layer (role -> values, x/y in EPSG:4326, fid) -> (core RawRows, static).
    Rows whose MMSI or time cannot be read are rejected as garbled (their feature id is the line)."""
    n = len(cols['x'])
    line = np.asarray(cols['fid'], dtype=np.int64)
    mmsi, bad_m = ais.to_mmsi(cols['mmsi'])
    t_ms, ok_t = ais.times_ms(cols['time'])
    out = {'mmsi': mmsi, 't_ms': t_ms, 'lon': np.asarray(cols['x'], dtype=np.float64),
           'lat': np.asarray(cols['y'], dtype=np.float64), 'line': line}
    for r in ('sog', 'cog', 'heading'):
        out[r] = ais.to_float(cols[r], np.float32)[0] if r in roles else np.full(n, np.nan, np.float32)
    if 'status' in roles:
        st = np.asarray(cols['status'])
        if st.dtype.kind == 'O':
            st = np.array([b'' if v is None else str(v).encode() for v in st], dtype='S')
        out['status'] = ais.status_codes(st)
    else:
        out['status'] = np.full(n, -1, np.int16)
    raw = ais.RawRows()
    garbled = bad_m | ~ok_t
    raw.reject_many(line[garbled], ais.R_GARBLED)
    keep = ~garbled
    raw.add(**{k: v[keep] for k, v in out.items()})
    static = {}
    st = {}
    for k in ais.STATIC_KEYS:
        if k in roles:
            arr = np.asarray(cols[k])[keep]
            if arr.dtype.kind == 'O':  # feature by feature: str, numbers or None
                arr = np.array([None if v is None else (v.decode('utf-8', 'replace') if isinstance(v, bytes)
                                                        else str(v)) for v in arr] + [None], dtype=object)[:-1]
            st[k] = arr
    if st:
        ais.static_from_columns(static, mmsi[keep], st)
    return raw, static


class LayerReader:
    """Reads an AIS point layer in two steps: ``LayerReader(...)`` in the main thread (checks, a thread-safe
    snapshot of what is needed), then ``read()`` / ``run()`` anywhere (a QgsTask, a Processing thread).

    layer: the QgsVectorLayer (None when only a source is known); source: the QgsFeatureSource to read feature
    by feature (default: a snapshot of the layer; Processing passes its own, which honours "selected features
    only"); user_fields: role -> field name; selected_only: the source is a selection (no OGR fast path)."""

    def __init__(self, layer=None, source=None, user_fields=None, selected_only=False):
        if source is None:
            if layer is None or not isinstance(layer, QgsVectorLayer) or not layer.isValid():
                raise AisLayerError(tr('Choose a valid vector layer of AIS positions.'))
            source = QgsVectorLayerFeatureSource(layer)
            self.name, crs, wkb, self.count = layer.name(), layer.crs(), layer.wkbType(), layer.featureCount()
        else:
            self.name = layer.name() if layer is not None else source.sourceName()
            crs, wkb, self.count = source.sourceCrs(), source.wkbType(), source.featureCount()
        if QgsWkbTypes.geometryType(wkb) != Q.POINT_GEOMETRY:
            raise AisLayerError(tr('Layer "{}" is not a point layer: AIS positions are points '
                                   '(import an AIS file with "Import AIS…").').format(self.name))
        names = source.fields().names()
        self.roles = field_roles(names, user_fields)
        _check_roles(self.name, names, self.roles)
        self.source = source
        self.fast = _fast_source(layer, selected_only)
        self.crs_wkt = None
        if crs.isValid() and crs != QgsCoordinateReferenceSystem(WGS84):
            self.crs_wkt = crs.toWkt(WKT_GDAL)
        self.path = None  # 'arrow' or 'features' once read

    def describe(self):
        return 'layer {} ({})'.format(self.name, ', '.join('{}={}'.format(r, f) for r, f in self.roles.items()))

    def read_raw(self, progress=None, cancelled=None):
        """-> (core RawRows, static, number of features read)."""
        cols = _read_ogr(self.fast, self.roles) if self.fast is not None else None
        self.path = 'arrow'
        if cols is None or (self.count >= 0 and len(cols['x']) != self.count):  # not what QGIS shows: slow path
            self.path = 'features'
            cols = _read_features(self.source, self.roles, self.count, progress, cancelled)
        if self.crs_wkt:
            cols['x'], cols['y'] = geo.to_wgs84(cols['x'], cols['y'], self.crs_wkt)
        raw, static = raw_rows(cols, self.roles)
        return raw, static, len(cols['x'])

    def read(self, progress=None, cancelled=None):
        """-> core AisImport: clean positions sorted by mmsi then t, static data, counts and notes. Light
        cleaning (no jump filter: the layer is what the analyst chose to look at)."""
        raw, static, _n = self.read_raw(progress, cancelled)
        return ais.import_from_raw(raw, static, self.describe(), [], max_speed_kn=0)

    def run(self, progress=None, cancelled=None):
        """-> AisData for the dock (AisLayerError when nothing usable is left)."""
        res = self.read(progress, cancelled)
        if res.rows_read == 0:
            raise AisLayerError(tr('Layer "{}" holds no positions.').format(self.name))
        if res.rows_kept == 0:
            raise AisLayerError(tr('Layer "{}" holds no valid positions (MMSI, time and lon/lat).').format(
                self.name))
        return AisData(res.cols, res.static, self.name)


def read_ais_layer(layer, progress=None):
    """AisData from an AIS point layer of the project (AisLayerError with a clear message otherwise)."""
    return LayerReader(layer).run(progress)


class AisData:
    """Positions (sorted by mmsi, t) and one row per vessel: what the dock shows."""

    def __init__(self, cols, static=None, source_name=''):
        self.cols = cols
        self.source_name = source_name
        mmsi = cols['mmsi']
        n = len(mmsi)
        starts = np.flatnonzero(np.r_[True, mmsi[1:] != mmsi[:-1]]) if n else np.zeros(0, dtype=np.int64)
        self.v_start = starts.astype(np.int64)
        self.v_end = np.r_[starts[1:], n].astype(np.int64)
        self.v_mmsi = mmsi[starts] if n else np.zeros(0, dtype=np.int64)
        self.v_count = self.v_end - self.v_start
        t = cols['t']
        self.v_first = t[self.v_start] if n else np.zeros(0, dtype=np.int64)
        self.v_last = t[self.v_end - 1] if n else np.zeros(0, dtype=np.int64)
        recs = [(static or {}).get(int(m)) or {} for m in self.v_mmsi.tolist()]
        self.v_name = [rec.get('name') or '' for rec in recs]
        self.v_imo = [str(rec['imo']) if rec.get('imo') else '' for rec in recs]
        self.row_of = {int(m): i for i, m in enumerate(self.v_mmsi.tolist())}

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
