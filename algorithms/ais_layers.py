"""Processing-side helpers shared by the AIS algorithms: reading a point-layer parameter (through
layers/ais.py, the dock's reader), the parameters every AIS algorithm shares (positions, sites, durations with
the defaults of core.ais.defaults), temporal set-up of outputs and the bulk GeoPackage writer of importais.
No algorithm here."""
import os

import numpy as np
from qgis.core import (Qgis, QgsCoordinateReferenceSystem, QgsCoordinateTransform, QgsFields, QgsGeometry,
                       QgsProcessing, QgsProcessingException, QgsProcessingFeatureSourceDefinition,
                       QgsProcessingLayerPostProcessorInterface, QgsProcessingOutputLayerDefinition,
                       QgsProcessingParameterDuration, QgsProcessingParameterFeatureSource,
                       QgsProcessingParameterField, QgsProcessingUtils, QgsProperty, QgsVectorLayer)

from .base import progress_cb, qfield
from ..compat import Q
from ..core import geo
from ..core.errors import CargoWatchError
from ..layers.ais import WGS84, AisLayerError, LayerReader

_KEEP = []  # layer post-processors must outlive processAlgorithm


def position_fields():
    """The fields of the importais output (the dock reads these names)."""
    fields = QgsFields()
    for name, kind in (('mmsi', 'long'), ('time', 'datetime'), ('sog', 'double'), ('cog', 'double'),
                       ('heading', 'double'), ('status', 'int'), ('name', 'string'), ('imo', 'long'),
                       ('callsign', 'string'), ('ship_type', 'string'), ('destination', 'string')):
        fields.append(qfield(name, kind))
    return fields


class TemporalSetup(QgsProcessingLayerPostProcessorInterface):
    """Switches on the temporal properties of an output layer (instant or start/end fields)."""

    def __init__(self, start_field, end_field=None):
        super().__init__()
        self.start_field = start_field
        self.end_field = end_field

    def postProcessLayer(self, layer, context, feedback):  # noqa: N802 (QGIS API)
        if not isinstance(layer, QgsVectorLayer):
            return
        props = layer.temporalProperties()
        if self.end_field:
            props.setMode(Qgis.VectorTemporalMode.FeatureDateTimeStartAndEndFromFields)
            props.setStartField(self.start_field)
            props.setEndField(self.end_field)
        else:
            props.setMode(Qgis.VectorTemporalMode.FeatureDateTimeInstantFromField)
            props.setStartField(self.start_field)
        props.setIsActive(True)


def set_temporal(context, dest_id, start_field, end_field=None):
    if context.willLoadLayerOnCompletion(dest_id):
        pp = TemporalSetup(start_field, end_field)
        del _KEEP[:-20]
        _KEEP.append(pp)
        context.layerToLoadOnCompletionDetails(dest_id).setPostProcessor(pp)


def site_param_help():
    return ('Polygons of ports, anchorages, rail terminals (any CRS), with a field naming each site.')


# --------------------------------------------------------------------------------------- reading layers
def layer_reader(alg, parameters, name, context, user_fields=None):
    """The LayerReader (layers/ais.py, the dock's too) of a point-layer parameter; QgsProcessingException
    with the reason when it is not a layer of AIS positions."""
    source = alg.parameterAsSource(parameters, name, context)
    if source is None:
        raise QgsProcessingException(alg.tr('{}: the point layer could not be loaded.').format(name))
    value = parameters.get(name)
    subset = isinstance(value, QgsProcessingFeatureSourceDefinition) and (
        value.selectedFeaturesOnly or getattr(value, 'featureLimit', -1) not in (-1, None))
    try:
        return LayerReader(alg.parameterAsVectorLayer(parameters, name, context), source, user_fields,
                           selected_only=subset)
    except AisLayerError as e:
        raise QgsProcessingException(str(e)) from None


def read_positions(alg, parameters, name, context, feedback, user_fields=None, progress=None):
    """A point layer of positions -> (cols sorted by mmsi, t; static; notes). Light cleaning only: rows
    without a valid MMSI, time or position are skipped (counted in notes); same-second repeats are dropped."""
    reader = layer_reader(alg, parameters, name, context, user_fields)
    res = alg.call_core(feedback, reader.read, progress)
    feedback.pushInfo(alg.tr('Read {} features ({}).').format(
        res.rows_read, alg.tr('OGR Arrow') if reader.path == 'arrow' else alg.tr('feature by feature')))
    notes = []
    if res.rows_rejected:
        notes.append('{} of {} positions skipped: {}'.format(res.rows_rejected, res.rows_read, ', '.join(
            '{} {}'.format(v, k) for k, v in res.reasons.items() if v)))
    return res.cols, res.static, notes


# --------------------------------------------------------------------------------------- fast GeoPackage
def temporary_as_geopackage(parameters, name):
    """A temporary output becomes a temporary GeoPackage instead of a memory layer: millions of positions
    stay on disk and are written in bulk."""
    value = parameters.get(name)
    target = None
    if isinstance(value, QgsProcessingOutputLayerDefinition):
        if value.sink.propertyType() == Q.PROP_STATIC and \
                value.sink.staticValue() == QgsProcessing.TEMPORARY_OUTPUT:
            target = QgsProcessingOutputLayerDefinition(value)
            target.sink = QgsProperty.fromValue(QgsProcessingUtils.generateTempFilename('ais_positions.gpkg'))
    elif value == QgsProcessing.TEMPORARY_OUTPUT:
        target = QgsProcessingUtils.generateTempFilename('ais_positions.gpkg')
    if target is None:
        return parameters
    out = dict(parameters)
    out[name] = target
    return out

def write_gpkg_points(path, cols, static, progress=None, cancelled=None):
    """Bulk-insert the positions into the single empty point table of a GeoPackage QGIS just created
    (fields of position_fields()). sqlite3 executemany in one transaction: about 20x faster than feature by
    feature. The table's triggers (spatial index, feature count) are set aside, their effect applied in bulk,
    and restored. Returns False (nothing changed) when the file is not as expected."""
    import sqlite3
    n = len(cols['mmsi'])
    con = sqlite3.connect(path)
    try:
        rows = con.execute("SELECT table_name FROM gpkg_contents WHERE data_type='features'").fetchall()
        if len(rows) != 1:
            return False
        table = rows[0][0]
        g = con.execute('SELECT column_name, srs_id FROM gpkg_geometry_columns WHERE table_name=?', (table,)).fetchone()
        if g is None:
            return False
        geom_col, srs_id = g
        names = [r[1] for r in con.execute('PRAGMA table_info("{}")'.format(table.replace('"', '""')))]
        wanted = [f.name() for f in position_fields()]
        if not all(w in names for w in wanted) or con.execute('SELECT COUNT(*) FROM "{}"'.format(
                table.replace('"', '""'))).fetchone()[0]:
            return False
        triggers = con.execute("SELECT name, sql FROM sqlite_master WHERE type='trigger' AND tbl_name=?",
                               (table,)).fetchall()
        rtree = 'rtree_{}_{}'.format(table, geom_col)
        has_rtree = con.execute("SELECT 1 FROM sqlite_master WHERE name=?", (rtree,)).fetchone() is not None
        has_ogr_count = con.execute("SELECT 1 FROM sqlite_master WHERE name='gpkg_ogr_contents'").fetchone()
        vessels, inv = np.unique(cols['mmsi'], return_inverse=True)
        st = [static.get(int(m)) or {} for m in vessels.tolist()]
        per_vessel = {key: np.array([(rec.get(key) or None) for rec in st] + [None], dtype=object)[:-1]
                      for key in ('name', 'imo', 'callsign', 'ship_type', 'destination')}
        blob_t = np.dtype([('magic', 'S2'), ('ver', 'u1'), ('flags', 'u1'), ('srs', '<i4'), ('bo', 'u1'),
                           ('type', '<u4'), ('x', '<f8'), ('y', '<f8')])

        def nn(a):
            a = a.astype(np.float64)
            return np.where(np.isnan(a), None, a).tolist() if np.isnan(a).any() else a.tolist()

        def chunk_rows(a, b):
            # geometry blobs: GeoPackage header (no envelope, little endian) + WKB point
            blob = np.zeros(b - a, dtype=blob_t)
            blob['magic'] = b'GP'
            blob['flags'] = 1
            blob['srs'] = srs_id
            blob['bo'] = 1
            blob['type'] = 1
            blob['x'] = cols['lon'][a:b]
            blob['y'] = cols['lat'][a:b]
            raw = blob.tobytes()
            geoms = [raw[i:i + 29] for i in range(0, 29 * (b - a), 29)]
            times = np.char.add(np.datetime_as_string(cols['t'][a:b].astype('datetime64[s]')).astype('U19'),
                                '.000Z').tolist()
            status = cols['status'][a:b].astype(np.int64)
            status_l = np.where(status < 0, None, status).tolist() if (status < 0).any() else status.tolist()
            iv = inv[a:b]
            return zip(geoms, cols['mmsi'][a:b].tolist(), times, nn(cols['sog'][a:b]), nn(cols['cog'][a:b]),
                       nn(cols['heading'][a:b]), status_l, *(per_vessel[k][iv].tolist() for k in
                                                             ('name', 'imo', 'callsign', 'ship_type', 'destination')))
        columns = [geom_col] + wanted
        q = '"{}"'.format(table.replace('"', '""'))
        insert = 'INSERT INTO {} ({}) VALUES ({})'.format(q, ', '.join('"{}"'.format(c) for c in columns),
                                                         ', '.join('?' * len(columns)))
        con.execute('PRAGMA cache_size=-131072')
        con.execute('BEGIN')
        for name, _sql in triggers:
            con.execute('DROP TRIGGER "{}"'.format(name.replace('"', '""')))
        step = 250000
        for a in range(0, n, step):
            if cancelled is not None and cancelled():
                raise CargoWatchError('cancelled')
            con.executemany(insert, chunk_rows(a, min(n, a + step)))
            if progress is not None:
                progress(min(n, a + step) / max(n, 1) * 0.85)
        if has_rtree and n:
            fids = np.array([r[0] for r in con.execute('SELECT fid FROM {} ORDER BY fid'.format(q))], dtype=np.int64)
            bulk_load_rtree(con, rtree, fids, cols['lon'], cols['lat'])
        if has_ogr_count:
            con.execute('UPDATE gpkg_ogr_contents SET feature_count=? WHERE lower(table_name)=lower(?)', (n, table))
        if n:
            con.execute('UPDATE gpkg_contents SET min_x=?, min_y=?, max_x=?, max_y=? WHERE table_name=?',
                        (float(cols['lon'].min()), float(cols['lat'].min()), float(cols['lon'].max()),
                         float(cols['lat'].max()), table))
        for _name, sql in triggers:
            if sql:
                con.execute(sql)
        con.commit()
        return True
    except Exception:
        con.rollback()
        raise
    finally:
        con.close()


def _f32(v, up):
    """float64 -> float32 rounded outward (down for minima, up for maxima), as SQLite's R*Tree stores them."""
    f = v.astype(np.float32)
    if up:
        low = f.astype(np.float64) < v
        f[low] = np.nextafter(f[low], np.float32(np.inf))
    else:
        high = f.astype(np.float64) > v
        f[high] = np.nextafter(f[high], np.float32(-np.inf))
    return f


def bulk_load_rtree(con, rtree, ids, x, y):
    """Fill an empty SQLite R*Tree (2-D, float) with points by Sort-Tile-Recursive packing, writing its
    node/rowid/parent tables directly: inserting millions of rows one by one costs ~15 us each."""
    import struct
    root = con.execute('SELECT data FROM "{}_node" WHERE nodeno=1'.format(rtree)).fetchone()
    nodesize = len(root[0]) if root else con.execute('PRAGMA page_size').fetchone()[0] - 64
    cap = (nodesize - 4) // 24
    cell = np.dtype([('id', '>i8'), ('x0', '>f4'), ('x1', '>f4'), ('y0', '>f4'), ('y1', '>f4')])
    # level 0: the points
    ent_id = np.asarray(ids, dtype=np.int64)
    x0 = _f32(np.asarray(x, dtype=np.float64), False)
    x1 = _f32(np.asarray(x, dtype=np.float64), True)
    y0 = _f32(np.asarray(y, dtype=np.float64), False)
    y1 = _f32(np.asarray(y, dtype=np.float64), True)
    levels = []  # per level: (entries in node order as structured cells, node starts)
    while True:
        n = len(ent_id)
        if n <= cap:
            order = np.arange(n)
            starts = np.array([0])
        else:
            nodes = -(-n // cap)
            slices = int(np.ceil(np.sqrt(nodes)))
            per_slice = slices * cap
            ox = np.argsort((x0.astype(np.float64) + x1) * 0.5, kind='stable')
            slice_of = np.arange(n) // per_slice
            cy = ((y0.astype(np.float64) + y1) * 0.5)[ox]
            order = ox[np.lexsort((cy, slice_of))]
            # nodes of cap entries within each slice
            pos_in_slice = np.arange(n) - slice_of * per_slice
            starts = np.flatnonzero((pos_in_slice % cap) == 0)
        cells = np.zeros(n, dtype=cell)
        cells['id'] = ent_id[order]
        cells['x0'] = x0[order]
        cells['x1'] = x1[order]
        cells['y0'] = y0[order]
        cells['y1'] = y1[order]
        levels.append((cells, starts))
        if len(starts) == 1:
            break
        # parents: one entry per node, bounding box of its children (ids assigned later)
        ends = np.r_[starts[1:], n]
        x0 = np.minimum.reduceat(cells['x0'].astype(np.float32), starts)
        x1 = np.maximum.reduceat(cells['x1'].astype(np.float32), starts)
        y0 = np.minimum.reduceat(cells['y0'].astype(np.float32), starts)
        y1 = np.maximum.reduceat(cells['y1'].astype(np.float32), starts)
        ent_id = np.arange(len(starts), dtype=np.int64)  # placeholder: index of the node in its level
        del ends
    # node numbers: root = 1, then every other node level by level from the top
    height = len(levels) - 1
    number = []  # per level: node numbers of its nodes
    next_no = 2
    for lv in range(height, -1, -1):
        k = len(levels[lv][1])
        if lv == height:
            number.append((lv, np.array([1], dtype=np.int64)))
        else:
            number.append((lv, np.arange(next_no, next_no + k, dtype=np.int64)))
            next_no += k
    numbers = dict(number)
    con.execute('DELETE FROM "{}_node"'.format(rtree))
    con.execute('DELETE FROM "{}_rowid"'.format(rtree))
    con.execute('DELETE FROM "{}_parent"'.format(rtree))
    node_rows, parent_rows = [], []
    for lv in range(height, -1, -1):
        cells, starts = levels[lv]
        if lv > 0:
            # children are nodes of the level below: their numbers replace the placeholder indices
            cells = cells.copy()
            child_no = numbers[lv - 1][cells['id']]
            cells['id'] = child_no
            ends = np.r_[starts[1:], len(cells)]
            for node_i, (a, b) in enumerate(zip(starts.tolist(), ends.tolist())):
                for c in child_no[a:b].tolist():
                    parent_rows.append((c, int(numbers[lv][node_i])))
        raw = cells.tobytes()
        ends = np.r_[starts[1:], len(cells)]
        for node_i, (a, b) in enumerate(zip(starts.tolist(), ends.tolist())):
            depth = height if lv == height else 0
            blob = struct.pack('>HH', depth, b - a) + raw[a * 24:b * 24]
            node_rows.append((int(numbers[lv][node_i]), blob + b'\0' * (nodesize - len(blob))))
        if lv == 0:
            leaf_no = np.repeat(numbers[0], np.diff(np.r_[starts, len(cells)]))
            con.executemany('INSERT INTO "{}_rowid" (rowid, nodeno) VALUES (?, ?)'.format(rtree),
                            zip(cells['id'].astype(np.int64).tolist(), leaf_no.tolist()))
    con.executemany('INSERT INTO "{}_node" (nodeno, data) VALUES (?, ?)'.format(rtree), node_rows)
    con.executemany('INSERT INTO "{}_parent" (nodeno, parentnode) VALUES (?, ?)'.format(rtree), parent_rows)


# --------------------------------------------------------------------------------------- the algorithm


def add_position_inputs(alg, help_text):
    """INPUT points + optional MMSI/TIME field parameters (shared by the AIS algorithms)."""
    p = QgsProcessingParameterFeatureSource('INPUT', alg.tr('AIS positions'),
                                            [Q.SRC_POINT])
    p.setHelp(alg.tr(help_text))
    alg.addParameter(p)
    for key, label in (('MMSI_FIELD', 'MMSI field'), ('TIME_FIELD', 'Time field')):
        p = QgsProcessingParameterField(key, alg.tr(label), parentLayerParameterName='INPUT', optional=True)
        p.setHelp(alg.tr('Empty: recognised by name (mmsi/ssvid; time/timestamp/basedatetime). Time may be a '
                         'datetime, an ISO text or unix seconds.'))
        p.setFlags(p.flags() | Q.ADVANCED)
        alg.addParameter(p)


def duration_param(alg, key, label, seconds, help_text):
    """A duration parameter (milliseconds, shown in hours) defaulting to ``seconds``."""
    p = QgsProcessingParameterDuration(key, alg.tr(label), defaultValue=seconds * 1000, minValue=0)
    p.setDefaultUnit(Q.HOURS)
    p.setHelp(alg.tr(help_text))
    alg.addParameter(p)


def positions_from(alg, parameters, context, feedback, start=0, end=40):
    fields = {'mmsi': alg.parameterAsString(parameters, 'MMSI_FIELD', context),
              'time': alg.parameterAsString(parameters, 'TIME_FIELD', context)}
    cols, static, notes = read_positions(alg, parameters, 'INPUT', context, feedback,
                                         {k: v for k, v in fields.items() if v}, progress_cb(feedback, start, end))
    for n in notes:
        feedback.pushInfo(n)
    if len(cols['mmsi']) == 0:
        raise QgsProcessingException(alg.tr('The layer has no usable positions (MMSI, time and a point).'))
    return cols, static


def vessel_name(static, mmsi):
    rec = static.get(int(mmsi)) or {}
    return rec.get('name') or None


DENSIFY_DEG = 0.005  # ~0.3 nm between outline vertices used for distances to a site


def read_sites(alg, parameters, context, feedback, key='SITES', name_key='SITE_NAME', required=False):
    """Site polygons -> dict(names, polygons (list of list of rings, lon/lat), vertices, centroids, index_of)."""
    source = alg.parameterAsSource(parameters, key, context)
    if source is None:
        if required:
            raise QgsProcessingException(alg.tr('Sites: the polygon layer could not be loaded.'))
        return None
    field = alg.parameterAsString(parameters, name_key, context)
    names_f = [f.name() for f in source.fields()]
    if not field:
        low = [n.lower() for n in names_f]
        for cand in ('name', 'site', 'site_name', 'port', 'label'):
            if cand in low:
                field = names_f[low.index(cand)]
                break
        else:
            string = qfield('', 'string').type()  # QVariant.String on Qt5, QMetaType.Type.QString on Qt6
            text = [f.name() for f in source.fields() if f.type() == string]
            field = text[0] if text else None
    xform = QgsCoordinateTransform(source.sourceCrs(), QgsCoordinateReferenceSystem(WGS84),
                                   context.transformContext())
    names, polygons, vertices, centroids = [], [], [], []
    for f in source.getFeatures():
        g = f.geometry()
        if g is None or g.isEmpty():
            continue
        if g.type() != Q.POLYGON_GEOMETRY:     # the dock also stores point sites: they have no area to enter
            feedback.pushWarning(alg.tr('Site feature {} is not a polygon: skipped.').format(f.id()))
            continue
        g = QgsGeometry(g)
        if source.sourceCrs().authid() != WGS84:
            g.transform(xform)
        parts = g.asMultiPolygon() if g.isMultipart() else [g.asPolygon()]
        polys = [[np.array([(p.x(), p.y()) for p in ring]) for ring in poly] for poly in parts if poly]
        if not polys:
            continue
        dense = g.densifyByDistance(DENSIFY_DEG)
        vx = np.array([v.x() for v in dense.vertices()])
        vy = np.array([v.y() for v in dense.vertices()])
        c = g.centroid().asPoint()
        label = f[field] if field else None
        names.append(str(label) if label not in (None, '') and str(label) != 'NULL' else 'site {}'.format(f.id()))
        polygons.append(polys)
        vertices.append((vx, vy))
        centroids.append((c.x(), c.y()))
    if not names:
        raise QgsProcessingException(alg.tr('The sites layer has no polygons.'))
    feedback.pushInfo(alg.tr('{} sites').format(len(names)))
    return {'names': names, 'polygons': polygons, 'vertices': vertices, 'centroids': centroids,
            'index_of': lambda lon, lat: geo.site_index_of_points(lon, lat, polygons)}

def add_site_inputs(alg, help_text, optional=False):
    """SITES polygons + optional SITE_NAME field (read with read_sites)."""
    p = QgsProcessingParameterFeatureSource('SITES', alg.tr('Sites (ports, anchorages, terminals)'),
                                            [Q.SRC_POLYGON], optional=optional)
    p.setHelp(alg.tr(help_text))
    alg.addParameter(p)
    p = QgsProcessingParameterField('SITE_NAME', alg.tr('Site name field'), parentLayerParameterName='SITES',
                                    optional=True)
    p.setHelp(alg.tr('Empty: a field called name (or the first text field).'))
    alg.addParameter(p)
