"""cargowatch:matchsightings — which dark vessel was that? Ships seen in imagery matched to the vessels whose AIS
allows them there (core.sightings)."""
import numpy as np
from qgis.core import (QgsCoordinateReferenceSystem, QgsCoordinateTransform, QgsFeature, QgsFeatureRequest,
                       QgsFields, QgsGeometry, QgsLineString, QgsProcessingException, QgsProcessingOutputNumber,
                       QgsProcessingParameterFeatureSink, QgsProcessingParameterFeatureSource,
                       QgsProcessingParameterNumber)

from .base import CargoWatchAlgorithm, progress_cb, qfield
from ..compat import Q, qenum
from .ais_layers import WGS84, duration_param, read_positions, vessel_name
from ..core.ais import times_ms
from ..core.ais.defaults import DEFAULTS
from ..layers.ais import attribute_value, utc_datetime
from ..core import sightings as core_sightings

OPTIONAL = {'time_window_h': 'window', 'length_m': 'length', 'heading_deg': 'heading'}
LENGTH_FIELDS = ('length_m', 'length', 'loa')  # a vessel length on the positions layer, if it has one
NO_GEOMETRY = qenum('Qgis.FeatureRequestFlag.NoGeometry', 'QgsFeatureRequest.Flag.NoGeometry')
RESULT_FIELDS = (('mmsi', 'long'), ('name', 'string'), ('status', 'string'), ('slack_h', 'double'),
                 ('detour_nm', 'double'), ('need_kn', 'double'), ('speed_kn', 'double'), ('gap_h', 'double'),
                 ('dist_nm', 'double'), ('length_ais_m', 'double'), ('length_ratio', 'double'),
                 ('heading_diff', 'double'), ('score', 'double'), ('best', 'int'), ('last_fix', 'datetime'),
                 ('next_fix', 'datetime'), ('reason', 'string'))


def _num(v):
    """A finite float, or None (written as NULL)."""
    v = float(v)
    return v if np.isfinite(v) else None


class MatchSightings(CargoWatchAlgorithm):
    NAME = 'matchsightings'
    DISPLAY = 'Match sightings to dark vessels'
    GROUP = 'ais'

    def initAlgorithm(self, config=None):
        p = QgsProcessingParameterFeatureSource('SIGHTINGS', self.tr('Sightings (ships seen in imagery)'),
                                                [Q.SRC_POINT])
        p.setHelp(self.tr('Points with a field time (DateTime or ISO 8601 text, UTC); optional time_window_h, '
                          'length_m, heading_deg.'))
        self.addParameter(p)
        p = QgsProcessingParameterFeatureSource('POSITIONS', self.tr('AIS positions'), [Q.SRC_POINT])
        p.setHelp(self.tr('The output of Import AIS positions (points with mmsi and time).'))
        self.addParameter(p)
        p = QgsProcessingParameterNumber('MAX_SPEED', self.tr('Maximum speed (knots, optional)'), Q.DOUBLE,
                                         optional=True, minValue=0.0)
        p.setHelp(self.tr('The same top speed for every vessel. Empty: each vessel\'s own top observed speed '
                          '(its reported and implied speeds), kept between 6 and 25 kn.'))
        self.addParameter(p)
        duration_param(self, 'MIN_GAP', 'Dark when no position for more than', DEFAULTS.sighting_gap_s,
                       'A vessel without positions for longer than this around the sighting counts as dark; '
                       'shorter, AIS itself says where it was.')
        p = QgsProcessingParameterNumber('NEAR_NM', self.tr('List excluded vessels within (nm)'), Q.DOUBLE, 50.0,
                                         minValue=0.0)
        p.setHelp(self.tr('Vessels that could not have been there are listed, with the reason, when their '
                          'position nearest in time is within this distance of the sighting.'))
        p.setFlags(p.flags() | Q.ADVANCED)
        self.addParameter(p)
        p = QgsProcessingParameterNumber('TOLERANCE_M', self.tr('Position tolerance (m)'), Q.DOUBLE, 500.0,
                                         minValue=0.0)
        p.setHelp(self.tr('Distances are reduced by this much: the berth a ship occupies, GPS and '
                          'georeferencing errors.'))
        p.setFlags(p.flags() | Q.ADVANCED)
        self.addParameter(p)
        p = QgsProcessingParameterFeatureSink('OUTPUT', self.tr('Sighting candidates'), Q.SRC_LINE)
        p.setHelp(self.tr('One line per sighting and listed vessel: last fix, sighting, next fix.'))
        self.addParameter(p)
        self.addOutput(QgsProcessingOutputNumber('MATCHED', self.tr('Sightings with a candidate')))

    def _sightings(self, parameters, context):
        source = self.parameterAsSource(parameters, 'SIGHTINGS', context)
        if source is None:
            raise QgsProcessingException(self.tr('Sightings: the point layer could not be loaded.'))
        names = [f.name() for f in source.fields()]
        low = [n.lower() for n in names]
        if 'time' not in low:
            raise QgsProcessingException(self.tr('Sightings need a field "time" (DateTime or ISO 8601 text); '
                                                 'fields: {}').format(', '.join(names)))
        xform = QgsCoordinateTransform(source.sourceCrs(), QgsCoordinateReferenceSystem(WGS84),
                                       context.transformContext())
        feats, xs, ys = [], [], []
        for f in source.getFeatures():
            g = f.geometry()
            if g is None or g.isEmpty():
                raise QgsProcessingException(self.tr('Sighting {} has no point.').format(f.id()))
            g = QgsGeometry(g)
            g.transform(xform)
            p = g.asPoint() if not g.isMultipart() else g.asMultiPoint()[0]
            feats.append(f)
            xs.append(p.x())
            ys.append(p.y())
        if not feats:
            raise QgsProcessingException(self.tr('The sightings layer has no points.'))
        t_ms, ok = times_ms(np.array([attribute_value(f[names[low.index('time')]]) for f in feats] + [None],
                                     dtype=object)[:-1])
        if not ok.all():
            bad = [feats[i].id() for i in np.flatnonzero(~ok)[:5]]
            raise QgsProcessingException(self.tr('Sightings {}: the time is empty or not a date and time '
                                                 '(use ISO 8601, e.g. 2023-03-03T22:00:00Z).').format(bad))
        extra = {}
        for field, key in OPTIONAL.items():
            vals = np.full(len(feats), np.nan)
            if field in low:
                for i, f in enumerate(feats):
                    v = f[names[low.index(field)]]
                    try:
                        vals[i] = float(v) if v is not None and str(v) not in ('', 'NULL') else np.nan
                    except (TypeError, ValueError):
                        raise QgsProcessingException(self.tr('Sighting {}: {} must be a number, not {!r}.').format(
                            f.id(), field, v))
            extra[key] = vals
        return source, feats, np.array(xs), np.array(ys), t_ms // 1000, extra

    def _lengths(self, parameters, context):
        """(vessels, median length m) from a length field of the positions layer, or None."""
        source = self.parameterAsSource(parameters, 'POSITIONS', context)
        names = [f.name() for f in source.fields()]
        low = [n.lower() for n in names]
        field = next((names[low.index(n)] for n in LENGTH_FIELDS if n in low), None)
        if field is None or 'mmsi' not in low:
            return None
        req = QgsFeatureRequest().setFlags(NO_GEOMETRY).setSubsetOfAttributes(
            [names.index(field), low.index('mmsi')])
        m, L = [], []
        for f in source.getFeatures(req):
            try:
                mm, length = int(f[names[low.index('mmsi')]]), float(f[field])
            except (TypeError, ValueError):  # NULL or not a number: no length for this row
                continue
            m.append(mm)
            L.append(length)
        m, L = np.array(m, dtype=np.int64), np.array(L)
        good = np.isfinite(L) & (L > 0)
        if not good.any():
            return None
        m, L = m[good], L[good]
        o = np.lexsort((L, m))  # per vessel, its lengths in order: the median is the middle one (or two)
        m, L = m[o], L[o]
        vessels, starts, counts = np.unique(m, return_index=True, return_counts=True)
        return vessels, 0.5 * (L[starts + (counts - 1) // 2] + L[starts + counts // 2])

    def processAlgorithm(self, parameters, context, feedback):
        source, feats, sx, sy, st, extra = self._sightings(parameters, context)
        cols, static, notes = read_positions(self, parameters, 'POSITIONS', context, feedback,
                                             progress=progress_cb(feedback, 0, 50))
        for n in notes:
            feedback.pushInfo(n)
        if len(cols['mmsi']) == 0:
            raise QgsProcessingException(self.tr('The positions layer has no usable positions (MMSI, time, point).'))
        max_speed = self.parameterAsDouble(parameters, 'MAX_SPEED', context) if parameters.get('MAX_SPEED') \
            not in (None, '') else None
        speeds = core_sightings.vessel_speeds(cols, max_speed or None)
        lengths = self._lengths(parameters, context)
        res = self.call_core(feedback, core_sightings.match_sightings, sx, sy, st, cols,
                             window_s=extra['window'] * 3600.0, length_m=extra['length'],
                             heading_deg=extra['heading'], speeds=speeds, lengths=lengths,
                             min_gap_s=self.parameterAsDouble(parameters, 'MIN_GAP', context) / 1000.0,
                             tolerance_m=self.parameterAsDouble(parameters, 'TOLERANCE_M', context),
                             near_nm=self.parameterAsDouble(parameters, 'NEAR_NM', context),
                             progress=progress_cb(feedback, 50, 90))
        matched = int(res['best'].sum())
        feedback.pushInfo(self.tr('{} of {} sightings have a candidate; {} rows').format(
            matched, len(feats), len(res['mmsi'])))
        fields = QgsFields()
        carried = [i for i, f in enumerate(source.fields()) if f.name().lower() != 'fid']  # a GeoPackage key
        own = [source.fields().at(i).name().lower() for i in carried]
        for i in carried:
            fields.append(source.fields().at(i))
        for name, kind in RESULT_FIELDS:
            fields.append(qfield(('match_' + name) if name in own else name, kind))
        sink, dest = self.parameterAsSink(parameters, 'OUTPUT', context, fields, Q.WKB_LINE,
                                          QgsCoordinateReferenceSystem(WGS84))
        if sink is None:
            raise QgsProcessingException(self.invalidSinkError(parameters, 'OUTPUT'))
        lon, lat, t = cols['lon'], cols['lat'], cols['t']
        v_len = (core_sightings.lookup(lengths[0], lengths[1], res['mmsi']) if lengths is not None
                 else np.full(len(res['mmsi']), np.nan))
        for r in range(len(res['mmsi'])):
            if feedback.isCanceled():
                raise QgsProcessingException(self.tr('Cancelled: no output was written.'))
            s, a, b = int(res['sighting'][r]), int(res['i0'][r]), int(res['i1'][r])
            out = QgsFeature(fields)
            if a >= 0:
                out.setGeometry(QgsGeometry(QgsLineString([lon[a], sx[s], lon[b]], [lat[a], sy[s], lat[b]])))
            m = int(res['mmsi'][r])
            attrs = feats[s].attributes()
            out.setAttributes([attrs[i] for i in carried] + [
                m if m >= 0 else None, vessel_name(static, m) if m >= 0 else None, str(res['status'][r])]
                + [_num(res[k][r]) for k in ('slack_h', 'detour_nm', 'need_kn', 'speed_kn', 'gap_h', 'dist_nm')]
                + [_num(v_len[r])] + [_num(res[k][r]) for k in ('length_ratio', 'heading_diff', 'score')]
                + [int(res['best'][r]), utc_datetime(t[a]) if a >= 0 else None,
                   utc_datetime(t[b]) if b >= 0 else None, res['reason'][r]])
            if not sink.addFeature(out, Q.FAST_INSERT):
                raise QgsProcessingException(self.writeFeatureError(sink, parameters, 'OUTPUT'))
        del sink
        feedback.setProgress(100)
        return {'OUTPUT': dest, 'MATCHED': matched}
