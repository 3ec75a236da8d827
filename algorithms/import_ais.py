"""cargowatch:importais — Import AIS positions (NMEA, CSV, JSON lines, gzip, OGR point layers)."""
import os

import numpy as np
from qgis.core import (QgsCoordinateReferenceSystem, QgsFeature, QgsFields, QgsGeometry, QgsPointXY,
                       QgsProcessingException, QgsProcessingOutputNumber, QgsProcessingParameterEnum,
                       QgsProcessingParameterFeatureSink, QgsProcessingParameterFile,
                       QgsProcessingParameterNumber, QgsProcessingParameterString, QgsVectorLayer)

from .ais_layers import (WGS84, layer_reader, position_fields, set_temporal, temporary_as_geopackage,
                         write_gpkg_points)
from ..core.ais.defaults import DEFAULTS
from ..layers.ais import utc_datetime
from .base import CargoWatchAlgorithm, plain_gpkg_path, progress_cb, qfield
from ..compat import Q
from ..core import ais
from ..core.errors import CargoWatchError

TEXT_EXTENSIONS = {'.csv', '.txt', '.nmea', '.log', '.aivdm', '.ais', '.raw', '.json', '.jsonl', '.ndjson',
                   '.gz', '.tsv', '.dat'}


class ImportAis(CargoWatchAlgorithm):
    NAME = 'importais'
    DISPLAY = 'Import AIS positions'
    GROUP = 'ais'

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
                                         Q.DOUBLE, DEFAULTS.max_speed_kn, minValue=0.0)
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
            reader = layer_reader(self, params, 'INPUT', context,
                                  {k: v for k, v in mapping.items() if k not in ('lat', 'lon')})
            raw, static, _n = self.call_core(feedback, reader.read_raw, progress_cb(feedback, 0, 70))
            name = reader.describe()
            res = self.call_core(feedback, ais.import_from_raw, raw, static, name, [], max_speed,
                                 progress=progress_cb(feedback, 70, 80))
        else:
            res = self.call_core(feedback, ais.read_ais, path, fmt=fmt, mapping=mapping,
                                 max_speed_kn=max_speed, progress=progress_cb(feedback, 0, 80))
        for line in res.summary():
            (feedback.pushWarning if 'damaged or cut short' in line else feedback.pushInfo)(line)
        # sinks after the core work
        parameters = temporary_as_geopackage(parameters, 'OUTPUT')
        sink, dest = self.parameterAsSink(parameters, 'OUTPUT', context, position_fields(),
                                          Q.WKB_POINT, QgsCoordinateReferenceSystem(WGS84))
        if sink is None:
            raise QgsProcessingException(self.invalidSinkError(parameters, 'OUTPUT'))
        gpkg = plain_gpkg_path(dest)
        written = False
        if gpkg:
            del sink  # closes the (empty) layer the sink created: rows go in with one bulk insert
            try:
                written = write_gpkg_points(gpkg, res.cols, res.static, progress_cb(feedback, 80, 99),
                                            feedback.isCanceled)
            except Exception as e:  # noqa: BLE001 - any trouble: the ordinary (slower) way below
                if feedback.isCanceled():
                    raise QgsProcessingException(self.tr('Cancelled: no output was written.'))
                feedback.pushInfo(self.tr('Bulk GeoPackage write not possible ({}); writing feature by feature.')
                                  .format(e))
            if not written:
                layer = QgsVectorLayer(gpkg, 'positions', 'ogr')
                if not layer.isValid():
                    raise QgsProcessingException(self.tr('Cannot reopen {}').format(gpkg))
                self.write_positions(layer.dataProvider(), res.cols, res.static, feedback, 80, 98)
                del layer
        else:
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
                texts = {} if layer_mode else ais.read_source_lines(file_path, res.rejected_line)
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
                return ais.sniff_format(file_path)
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
