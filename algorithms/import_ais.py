"""cargowatch:importais — Import AIS positions (NMEA, CSV, JSON lines, gzip, OGR point layers).

Also holds the helpers the other AIS algorithms share: reading a point layer into core position columns
(OGR Arrow fast path for file layers, feature by feature otherwise), UTC datetimes, temporal set-up.
"""
import os

import numpy as np
from qgis.core import (Qgis, QgsCoordinateReferenceSystem, QgsFeature, QgsFeatureRequest, QgsFields, QgsGeometry,
                       QgsPointXY, QgsProcessingException, QgsProcessingFeatureSourceDefinition,
                       QgsProcessingLayerPostProcessorInterface, QgsProcessingOutputNumber,
                       QgsProcessingParameterEnum, QgsProcessingParameterFeatureSink, QgsProcessingParameterFile,
                       QgsProcessingParameterNumber, QgsProcessingParameterString, QgsProviderRegistry,
                       QgsVectorLayer, QgsWkbTypes)
from qgis.PyQt.QtCore import QDateTime, QTimeZone

from .base import CargoWatchAlgorithm, progress_cb, qfield
from ..core import ais_io
from ..core.errors import CargoWatchError

WGS84 = 'EPSG:4326'
TEXT_EXTENSIONS = {'.csv', '.txt', '.nmea', '.log', '.aivdm', '.ais', '.raw', '.json', '.jsonl', '.ndjson',
                   '.gz', '.tsv', '.dat'}
_KEEP = []  # layer post-processors must outlive processAlgorithm


def _qenum(*paths):
    """The first enum value that resolves: QGIS 4 / 3.3x scoped names first, then the 3.22 spelling."""
    import qgis.core as qc
    for path in paths:
        obj = qc
        for part in path.split('.'):
            obj = getattr(obj, part, None)
            if obj is None:
                break
        if obj is not None:
            return obj
    raise AttributeError(paths[-1])


class Q:
    """Enums used by the AIS algorithms, resolved once for QGIS 3.22 (Qt5) to QGIS 4 (Qt6)."""
    POINT_GEOMETRY = _qenum('Qgis.GeometryType.Point', 'QgsWkbTypes.GeometryType.PointGeometry')
    FILE = _qenum('Qgis.ProcessingFileParameterBehavior.File', 'QgsProcessingParameterFile.Behavior.File')
    ADVANCED = _qenum('Qgis.ProcessingParameterFlag.Advanced', 'QgsProcessingParameterDefinition.Flag.FlagAdvanced')
    DOUBLE = _qenum('Qgis.ProcessingNumberParameterType.Double', 'QgsProcessingParameterNumber.Type.Double')
    INTEGER = _qenum('Qgis.ProcessingNumberParameterType.Integer', 'QgsProcessingParameterNumber.Type.Integer')
    SRC_ANY = _qenum('Qgis.ProcessingSourceType.Vector', 'QgsProcessing.SourceType.TypeVector')
    SRC_POINT = _qenum('Qgis.ProcessingSourceType.VectorPoint', 'QgsProcessing.SourceType.TypeVectorPoint')
    SRC_LINE = _qenum('Qgis.ProcessingSourceType.VectorLine', 'QgsProcessing.SourceType.TypeVectorLine')
    SRC_POLYGON = _qenum('Qgis.ProcessingSourceType.VectorPolygon', 'QgsProcessing.SourceType.TypeVectorPolygon')
    HOURS = _qenum('Qgis.TemporalUnit.Hours', 'QgsUnitTypes.TemporalUnit.TemporalHours')
    WKB_POINT = _qenum('Qgis.WkbType.Point', 'QgsWkbTypes.Type.Point')
    WKB_NONE = _qenum('Qgis.WkbType.NoGeometry', 'QgsWkbTypes.Type.NoGeometry')
    WKB_LINE = _qenum('Qgis.WkbType.LineString', 'QgsWkbTypes.Type.LineString')
    WKB_LINE_M = _qenum('Qgis.WkbType.LineStringM', 'QgsWkbTypes.Type.LineStringM')
    FAST_INSERT = _qenum('QgsFeatureSink.Flag.FastInsert', 'QgsFeatureSink.FastInsert')


def utc_datetime(t):
    """Unix seconds -> QDateTime in UTC."""
    return QDateTime.fromSecsSinceEpoch(int(t), QTimeZone.utc())


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
def _field_index(names, wanted, role):
    """Index of the field for a role: the one given by the user, or one of the recognised names."""
    low = [n.lower() for n in names]
    if wanted:
        if wanted.lower() not in low:
            raise CargoWatchError('the field {!r} is not in the layer (fields: {})'.format(wanted, ', '.join(names)))
        return low.index(wanted.lower())
    _layout, auto = ais_io.detect_layout(names)
    return auto.get(role)


def _time_ms(values):
    """Time values of a layer (QDateTime, QDate, str, numbers, numpy datetime64/bytes) -> (ms int64, ok)."""
    values = np.asarray(values) if not isinstance(values, np.ndarray) else values
    n = len(values)
    if values.dtype.kind == 'M':
        ok = ~np.isnat(values)
        return values.astype('datetime64[ms]').astype(np.int64), ok
    if values.dtype.kind in 'iuf':
        f = values.astype(np.float64)
        ok = np.isfinite(f)
        return np.where(np.abs(f) > 1e11, f, f * 1000.0).astype(np.int64), ok
    if values.dtype.kind in 'SU':
        return ais_io.parse_times(values)
    out = np.zeros(n, dtype=np.int64)
    ok = np.zeros(n, dtype=bool)
    strings = []
    sidx = []
    for i, v in enumerate(values):
        if isinstance(v, QDateTime):
            if v.isValid():
                out[i] = v.toMSecsSinceEpoch()
                ok[i] = True
        elif hasattr(v, 'isValid') and hasattr(v, 'toJulianDay'):  # QDate
            if v.isValid():
                out[i] = (v.toJulianDay() - 2440588) * 86400000
                ok[i] = True
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            out[i] = int(v) if abs(v) > 1e11 else int(v * 1000)
            ok[i] = True
        elif v is not None and str(v) not in ('', 'NULL'):
            strings.append(str(v).encode('utf-8'))
            sidx.append(i)
    if strings:
        ms, good = ais_io.parse_times(np.array(strings, dtype='S'))
        sidx = np.asarray(sidx)
        out[sidx] = ms
        ok[sidx] = good
    return out, ok


def _arrow_columns(layer, roles):
    """Whole-layer columns through OGR's Arrow stream (GDAL >= 3.6), or None when not possible."""
    try:
        from osgeo import ogr
    except ImportError:
        return None
    parts = QgsProviderRegistry.instance().decodeUri('ogr', layer.source())
    path = parts.get('path')
    if not path or not os.path.isfile(path):
        return None
    ds = ogr.Open(path)
    if ds is None:
        return None
    lname = parts.get('layerName')
    lyr = ds.GetLayerByName(lname) if lname else (ds.GetLayer(parts.get('layerId') or 0))
    if lyr is None or not hasattr(lyr, 'GetArrowStreamAsNumPy'):
        return None
    names = list(roles.values())
    try:
        lyr.SetIgnoredFields([lyr.GetLayerDefn().GetFieldDefn(i).GetName()
                              for i in range(lyr.GetLayerDefn().GetFieldCount())
                              if lyr.GetLayerDefn().GetFieldDefn(i).GetName() not in names])
        stream = lyr.GetArrowStreamAsNumPy(options=['USE_MASKED_ARRAYS=NO'])
        gname = lyr.GetGeometryColumn() or 'wkb_geometry'
        chunks = {k: [] for k in list(roles) + ['x', 'y', 'fid']}
        for batch in stream:
            geom = batch.get(gname)
            if geom is None:
                return None
            if geom.dtype.kind == 'V' and geom.dtype.itemsize == 21:
                g = geom.view(np.uint8).reshape(len(geom), 21)
                if not np.all(g[:, 0] == 1):
                    return None
                x = np.ascontiguousarray(g[:, 5:13]).view('<f8').ravel()
                y = np.ascontiguousarray(g[:, 13:21]).view('<f8').ravel()
            else:
                x = np.empty(len(geom))
                y = np.empty(len(geom))
                for i, wkb in enumerate(geom):
                    if wkb is None:
                        x[i] = y[i] = np.nan
                        continue
                    gg = ogr.CreateGeometryFromWkb(bytes(wkb))
                    if gg is None or gg.IsEmpty():
                        x[i] = y[i] = np.nan
                    else:
                        x[i], y[i] = gg.GetX(), gg.GetY()
            chunks['x'].append(x)
            chunks['y'].append(y)
            chunks['fid'].append(batch.get(lyr.GetFIDColumn() or 'OGC_FID', np.arange(len(geom))))
            for role, fname in roles.items():
                chunks[role].append(batch[fname])
        return {k: (np.concatenate(v) if v else np.zeros(0)) for k, v in chunks.items()}
    except Exception:  # any Arrow trouble: the slow path is always right
        return None


def read_layer_columns(alg, parameters, name, context, feedback, user_fields=None, progress=None):
    """A point layer -> (RawRows, static, n_features, fmt). Coordinates in WGS84.

    user_fields: role -> field name (empty = recognised names: mmsi/ssvid, time/timestamp/basedatetime...).
    """
    source = alg.parameterAsSource(parameters, name, context)
    if source is None:
        raise QgsProcessingException(alg.tr('{}: the point layer could not be loaded.').format(name))
    if QgsWkbTypes.geometryType(source.wkbType()) != Q.POINT_GEOMETRY:
        raise QgsProcessingException(alg.tr('{}: the layer must hold points (AIS positions).').format(name))
    names = [f.name() for f in source.fields()]
    roles = {}
    try:
        for role in ais_io.ROLES:
            if role in ('lat', 'lon'):
                continue
            idx = _field_index(names, (user_fields or {}).get(role), role)
            if idx is not None:
                roles[role] = names[idx]
    except CargoWatchError as e:
        raise QgsProcessingException(str(e))
    for role in ('mmsi', 'time'):
        if role not in roles:
            raise QgsProcessingException(alg.tr(
                'Cannot tell which field holds the {} (fields: {}); set the {} field parameter.').format(
                role.upper() if role == 'mmsi' else 'time', ', '.join(names), role.upper()))
    crs = source.sourceCrs()
    wgs = QgsCoordinateReferenceSystem(WGS84)
    cols = None
    value = parameters.get(name)
    selected = isinstance(value, QgsProcessingFeatureSourceDefinition) and value.selectedFeaturesOnly
    layer = alg.parameterAsVectorLayer(parameters, name, context)
    if (layer is not None and layer.providerType() == 'ogr' and not layer.subsetString() and not selected
            and not layer.isModified() and crs.authid() == WGS84):
        cols = _arrow_columns(layer, roles)
        if cols is not None:
            feedback.pushInfo(alg.tr('Read {} features through OGR Arrow.').format(len(cols['x'])))
    if cols is None:
        request = QgsFeatureRequest()
        request.setSubsetOfAttributes([names.index(f) for f in roles.values()])
        if crs != wgs:
            request.setDestinationCrs(wgs, context.transformContext())
        total = source.featureCount() or 1
        lists = {k: [] for k in list(roles) + ['x', 'y', 'fid']}
        fidx = {role: names.index(f) for role, f in roles.items()}
        for i, f in enumerate(source.getFeatures(request)):
            if i % 20000 == 0:
                if feedback.isCanceled():
                    raise QgsProcessingException(alg.tr('Cancelled: no output was written.'))
                if progress:
                    progress(i / total)
            attrs = f.attributes()
            g = f.geometry()
            if g is None or g.isEmpty():
                lists['x'].append(np.nan)
                lists['y'].append(np.nan)
            else:
                p = g.constGet()
                if QgsWkbTypes.isMultiType(g.wkbType()):
                    p = p.geometryN(0) if p.numGeometries() else None
                lists['x'].append(p.x() if p is not None else np.nan)
                lists['y'].append(p.y() if p is not None else np.nan)
            lists['fid'].append(f.id())
            for role, k in fidx.items():
                v = attrs[k]
                lists[role].append(None if v is None or (hasattr(v, 'isNull') and v.isNull()) else v)
        cols = {}
        for k, v in lists.items():
            cols[k] = np.array(v, dtype=object) if k in roles else np.asarray(v)
    n = len(cols['x'])
    raw = ais_io.RawRows()
    line = np.asarray(cols['fid'], dtype=np.int64) if n else np.zeros(0, dtype=np.int64)
    mmsi, bad_m = ais_io._to_mmsi(np.asarray(cols['mmsi'], dtype=object) if cols['mmsi'].dtype.kind == 'O'
                                  else cols['mmsi'].astype(np.float64))
    t_ms, ok_t = _time_ms(cols['time'])
    out = {'mmsi': mmsi, 't_ms': t_ms, 'lon': np.asarray(cols['x'], dtype=np.float64),
           'lat': np.asarray(cols['y'], dtype=np.float64), 'line': line}
    for r in ('sog', 'cog', 'heading'):
        if r in cols:
            arr = cols[r]
            out[r] = (ais_io._to_float(arr, np.float32)[0] if arr.dtype.kind == 'O'
                      else arr.astype(np.float32))
        else:
            out[r] = np.full(n, np.nan, np.float32)
    if 'status' in cols:
        arr = cols['status']
        if arr.dtype.kind == 'O':
            arr = np.array([b'' if v is None else str(v).encode() for v in arr], dtype='S')
        out['status'] = ais_io._status_codes(arr) if arr.dtype.kind in 'SO' else \
            np.where((arr >= 0) & (arr <= 15), arr, -1).astype(np.int16)
    else:
        out['status'] = np.full(n, -1, np.int16)
    garbled = bad_m | ~ok_t
    raw.reject_many(line[garbled], ais_io.R_GARBLED)
    keep = ~garbled
    raw.add(**{k: v[keep] for k, v in out.items()})
    static = {}
    st = {}
    for k in ais_io.STATIC_KEYS:
        if k in cols:
            arr = cols[k][keep]
            st[k] = np.array([None if (v is None or str(v) == 'NULL') else
                              (v.decode('utf-8', 'replace') if isinstance(v, bytes) else str(v)) for v in arr],
                             dtype=object)
    if st:
        ais_io._static_from_columns(static, mmsi[keep], st)
    fmt = 'layer {} ({})'.format(source.sourceName(), ', '.join('{}={}'.format(r, f) for r, f in roles.items()))
    return raw, static, n, fmt


def read_positions(alg, parameters, name, context, feedback, user_fields=None, progress=None):
    """A point layer of positions -> (cols sorted by mmsi, t; static; notes). Light cleaning only: rows
    without a valid MMSI, time or position are skipped (counted in notes); same-second repeats are dropped."""
    raw, static, n, fmt = read_layer_columns(alg, parameters, name, context, feedback, user_fields, progress)
    res = ais_io.import_from_raw(raw, static, fmt, [], max_speed_kn=0)
    notes = []
    if res.rows_rejected:
        notes.append('{} of {} positions skipped: {}'.format(res.rows_rejected, n, ', '.join(
            '{} {}'.format(v, k) for k, v in res.reasons.items() if v)))
    return res.cols, res.static, notes


# --------------------------------------------------------------------------------------- the algorithm
class ImportAis(CargoWatchAlgorithm):
    NAME = 'importais'
    DISPLAY = 'Import AIS positions'
    GROUP = 'ais'
    HELP = (
        '<p>Reads raw AIS and writes clean vessel positions, counting every row it rejects and why.</p>'
        '<p><b>Input</b>: NMEA 0183 logs (!AIVDM/!AIVDO from any talker, multi-sentence messages, NMEA 4 tag '
        'blocks with <code>c:</code> unix time, lines starting or ending with a timestamp as receivers log; '
        'without any, the receiver clock of $--RMC/ZDA sentences or, roughly, base station reports); CSV exports '
        '(Danish Maritime Authority, NOAA MarineCadastre and Global Fishing Watch layouts are recognised, other '
        'files by their column names or the column parameters); JSON lines (Global Fishing Watch); any OGR '
        'point layer (GeoPackage, Shapefile...). Gzip\'d files too. NMEA needs the Python package pyais.</p>'
        '<p>Static and voyage data (messages 5, 19, 24, or the CSV columns) are joined to each vessel: name, '
        'IMO, call sign, ship type, destination (the latest reported).</p>'
        '<p><b>Cleaning</b>, each rejected row counted under the first reason: bad checksum; truncated/garbled '
        'line; no timestamp; invalid MMSI (not a 9-digit ship station 201000000-775999999); position not '
        'available (91/181, empty, or 0,0) or out of range; exact duplicates; repeated reports of a vessel in '
        'the same second; impossible jumps (a fix implying more than <i>Maximum speed</i> from the previous '
        'and to the next fix, 55 m GPS noise allowed). Out-of-order rows are sorted, not dropped. Speed 102.3, '
        'course 360 and heading 511 mean not available: the position is kept with an empty value.</p>'
        '<p><b>Output</b> points (EPSG:4326, time-enabled) with fields <code>mmsi</code> (long), '
        '<code>time</code> (datetime UTC), <code>sog</code> kn, <code>cog</code>, <code>heading</code> '
        '(double, NULL = not available), <code>status</code> (int navigational status, NULL = n/a), '
        '<code>name</code>, <code>imo</code> (long), <code>callsign</code>, <code>ship_type</code> (text, '
        'e.g. Cargo), <code>destination</code>. Optional <b>Rejected rows</b> table: line number, raw line, '
        'reason. Numbers ROWS_READ, ROWS_KEPT, ROWS_REJECTED; the reasons are summarised in the log.</p>'
        '<p>Time is kept to the second (UTC).</p>')

    FORMATS = ['auto', 'nmea', 'csv', 'jsonl', 'layer']

    def initAlgorithm(self, config=None):
        p = QgsProcessingParameterFile('INPUT', self.tr('AIS file (NMEA, CSV, JSON lines, gzip, or a point layer)'),
                                       behavior=Q.FILE)
        p.setHelp(self.tr('The raw AIS file. A GeoPackage/Shapefile of points is read as a layer '
                          '(path|layername=... to pick one).'))
        self.addParameter(p)
        p = QgsProcessingParameterEnum('FORMAT', self.tr('Format'),
                                       options=[self.tr('Detect'), 'NMEA 0183', 'CSV', self.tr('JSON lines'),
                                                self.tr('Point layer (OGR)')], defaultValue=0)
        p.setHelp(self.tr('Detect looks at the content (not the extension).'))
        p.setFlags(p.flags() | Q.ADVANCED)
        self.addParameter(p)
        p = QgsProcessingParameterNumber('MAX_SPEED', self.tr('Maximum speed (knots)'),
                                         Q.DOUBLE, 50.0, minValue=0.0)
        p.setHelp(self.tr('A fix that would need a higher speed from the previous fix and to the next one is '
                          'an impossible jump and is rejected. 0 disables the check.'))
        self.addParameter(p)
        for role, label in (('mmsi', 'MMSI'), ('time', 'time'), ('lat', 'latitude'), ('lon', 'longitude'),
                            ('sog', 'speed over ground'), ('cog', 'course over ground'), ('heading', 'heading'),
                            ('status', 'navigational status'), ('name', 'vessel name')):
            p = QgsProcessingParameterString(role.upper() + '_FIELD', self.tr('Column for {}').format(label),
                                             optional=True)
            p.setHelp(self.tr('CSV column / JSON key / layer field holding the {}; empty = recognised by name '
                              '(DMA, MarineCadastre, GFW and common names).').format(label))
            p.setFlags(p.flags() | Q.ADVANCED)
            self.addParameter(p)
        p = QgsProcessingParameterFeatureSink('OUTPUT', self.tr('AIS positions'),
                                              Q.SRC_POINT)
        p.setHelp(self.tr('Clean positions, one point per report (GeoPackage by default).'))
        self.addParameter(p)
        p = QgsProcessingParameterFeatureSink('REJECTED', self.tr('Rejected rows'),
                                              Q.SRC_ANY, optional=True,
                                              createByDefault=False)
        p.setHelp(self.tr('Table of rejected rows: line (or feature id), raw line, reason.'))
        self.addParameter(p)
        for key, label in (('ROWS_READ', 'Rows read'), ('ROWS_KEPT', 'Rows kept'),
                           ('ROWS_REJECTED', 'Rows rejected')):
            self.addOutput(QgsProcessingOutputNumber(key, self.tr(label)))

    def processAlgorithm(self, parameters, context, feedback):
        path = self.parameterAsFile(parameters, 'INPUT', context)
        fmt = self.FORMATS[self.parameterAsEnum(parameters, 'FORMAT', context)]
        max_speed = self.parameterAsDouble(parameters, 'MAX_SPEED', context)
        mapping = {}
        for role in ('mmsi', 'time', 'lat', 'lon', 'sog', 'cog', 'heading', 'status', 'name'):
            v = self.parameterAsString(parameters, role.upper() + '_FIELD', context)
            if v:
                mapping[role] = v
        file_path = path.split('|')[0]
        if not file_path or not os.path.exists(file_path):
            raise QgsProcessingException(self.tr('AIS file not found: {}').format(path))
        if fmt == 'auto':
            fmt = self._guess(path)
        layer_mode = fmt == 'layer'
        if layer_mode:
            layer = QgsVectorLayer(path, 'ais', 'ogr')
            if not layer.isValid():
                raise QgsProcessingException(self.tr('{} is not a vector layer OGR can open.').format(path))
            params = {'INPUT': layer}
            context.temporaryLayerStore().addMapLayer(layer)
            raw, static, n, name = read_layer_columns(self, params, 'INPUT', context, feedback, mapping,
                                                      progress_cb(feedback, 0, 70))
            res = self.call_core(feedback, ais_io.import_from_raw, raw, static, name, [], max_speed,
                                 progress=progress_cb(feedback, 70, 80))
        else:
            res = self.call_core(feedback, ais_io.read_ais, path, fmt=fmt, mapping=mapping,
                                 max_speed_kn=max_speed, progress=progress_cb(feedback, 0, 80))
        for line in res.summary():
            feedback.pushInfo(line)
        # sinks after the core work
        sink, dest = self.parameterAsSink(parameters, 'OUTPUT', context, position_fields(),
                                          Q.WKB_POINT, QgsCoordinateReferenceSystem(WGS84))
        if sink is None:
            raise QgsProcessingException(self.invalidSinkError(parameters, 'OUTPUT'))
        self.write_positions(sink, res.cols, res.static, feedback, 80, 98)
        set_temporal(context, dest, 'time')
        results = {'OUTPUT': dest, 'ROWS_READ': res.rows_read, 'ROWS_KEPT': res.rows_kept,
                   'ROWS_REJECTED': res.rows_rejected}
        if parameters.get('REJECTED') is not None:
            rfields = QgsFields()
            rfields.append(qfield('line', 'long'))
            rfields.append(qfield('raw', 'string'))
            rfields.append(qfield('reason', 'string'))
            rsink, rdest = self.parameterAsSink(parameters, 'REJECTED', context, rfields,
                                                Q.WKB_NONE, QgsCoordinateReferenceSystem())
            if rsink is not None:
                texts = {} if layer_mode else ais_io.read_source_lines(file_path, res.rejected_line)
                for ln, reason in zip(res.rejected_line.tolist(), res.rejected_reason.tolist()):
                    f = QgsFeature(rfields)
                    f.setAttributes([int(ln), texts.get(ln, 'feature {}'.format(ln) if layer_mode else ''),
                                     reason])
                    rsink.addFeature(f, Q.FAST_INSERT)
                results['REJECTED'] = rdest
        feedback.setProgress(100)
        return results

    @staticmethod
    def _guess(path):
        file_path = path.split('|')[0]
        ext = os.path.splitext(file_path)[1].lower()
        if '|' in path or ext not in TEXT_EXTENSIONS:
            with open(file_path, 'rb') as f:
                head = f.read(16)
            if head.startswith(b'SQLite format 3') or ext in ('.shp', '.fgb', '.gpkg', '.geojson', '.gml',
                                                               '.kml', '.sqlite', '.tab', '.gdb'):
                return 'layer'
            try:
                return ais_io.sniff_format(file_path)
            except CargoWatchError:
                return 'layer'
        return 'auto'

    @staticmethod
    def write_positions(sink, cols, static, feedback, start=0, end=100):
        fields = position_fields()
        n = len(cols['mmsi'])
        mmsi = cols['mmsi'].tolist()
        t = cols['t'].tolist()
        lon = cols['lon'].tolist()
        lat = cols['lat'].tolist()

        def nn(a):
            return [None if v != v else v for v in a.astype(np.float64).tolist()]
        sog, cog, hdg = nn(cols['sog']), nn(cols['cog']), nn(cols['heading'])
        status = [None if v < 0 else v for v in cols['status'].tolist()]
        last_m = None
        srec = [None] * 5
        batch = []
        step = max(1, n // 50)
        for i in range(n):
            m = mmsi[i]
            if m != last_m:
                rec = static.get(m) or {}
                srec = [rec.get('name') or None, rec.get('imo'), rec.get('callsign') or None,
                        rec.get('ship_type') or None, rec.get('destination') or None]
                last_m = m
            f = QgsFeature(fields)
            f.setGeometry(QgsGeometry.fromPointXY(QgsPointXY(lon[i], lat[i])))
            f.setAttributes([m, utc_datetime(t[i]), sog[i], cog[i], hdg[i], status[i]] + srec)
            batch.append(f)
            if len(batch) >= 5000:
                sink.addFeatures(batch, Q.FAST_INSERT)
                batch = []
            if i % step == 0:
                if feedback.isCanceled():
                    break
                feedback.setProgress(start + (end - start) * i / max(n, 1))
        if batch:
            sink.addFeatures(batch, Q.FAST_INSERT)
