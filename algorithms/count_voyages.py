"""cargowatch:countvoyages — port calls, observed voyages between sites and dark-voyage candidates."""
from collections import Counter

from qgis.core import (QgsCoordinateReferenceSystem, QgsFeature, QgsFields, QgsGeometry, QgsLineString, QgsPoint,
                       QgsProcessingException, QgsProcessingOutputNumber, QgsProcessingParameterFeatureSink,
                       QgsProcessingParameterNumber)

from .base import CargoWatchAlgorithm, qfield
from ..compat import Q
from .ais_layers import (WGS84, add_position_inputs, add_site_inputs, duration_param, positions_from,
                         read_sites, set_temporal, vessel_name)
from ..core.ais.defaults import DEFAULTS
from ..layers.ais import utc_datetime
from ..core import gaps as core_gaps
from ..core import voyages as core_voyages

class CountVoyages(CargoWatchAlgorithm):
    NAME = 'countvoyages'
    DISPLAY = 'Port calls and voyages between sites'
    GROUP = 'ais'

    def initAlgorithm(self, config=None):
        add_position_inputs(self, 'AIS positions (points with MMSI and time).')
        add_site_inputs(self, 'Polygons with a name field; any CRS.')
        duration_param(self, 'MIN_STAY', 'Minimum stay for a port call', DEFAULTS.min_stay_s,
                       'Shorter visits (passing through) are not calls.')
        duration_param(self, 'MIN_GAP', 'Minimum gap (dark period)', DEFAULTS.gap_s,
                       'AIS gaps longer than this are examined for dark voyages.')
        duration_param(self, 'MIN_DWELL', 'Minimum dwell at a site during a gap', DEFAULTS.min_dwell_s,
                       'Time the vessel must have stayed at a site for a dark visit to count (loading, '
                       'unloading).')
        p = QgsProcessingParameterNumber('TOP_SPEED', self.tr('Top speed (knots, empty = each vessel\'s own)'),
                                         Q.DOUBLE, optional=True, minValue=0.1)
        p.setHelp(self.tr('Override the speed used to decide reachability for every vessel.'))
        p.setFlags(p.flags() | Q.ADVANCED)
        self.addParameter(p)
        p = QgsProcessingParameterNumber('SPEED_QUANTILE', self.tr('Speed quantile for a vessel\'s top speed'),
                                         Q.DOUBLE, 0.99, minValue=0.5,
                                         maxValue=1.0)
        p.setHelp(self.tr('0.99 ignores the odd wrong speed report; 1 = the maximum.'))
        p.setFlags(p.flags() | Q.ADVANCED)
        self.addParameter(p)
        p = QgsProcessingParameterFeatureSink('OUTPUT', self.tr('Voyages'), Q.SRC_LINE)
        p.setHelp(self.tr('Observed and dark voyages between sites.'))
        self.addParameter(p)
        p = QgsProcessingParameterFeatureSink('CALLS', self.tr('Port calls'), Q.SRC_POINT,
                                              optional=True)
        p.setHelp(self.tr('One point per port call.'))
        self.addParameter(p)
        for key, label in (('VOYAGE_COUNT', 'Voyages (observed + dark)'), ('OBSERVED_COUNT', 'Observed voyages'),
                           ('DARK_COUNT', 'Dark voyage candidates'), ('CALL_COUNT', 'Port calls')):
            self.addOutput(QgsProcessingOutputNumber(key, self.tr(label)))

    def processAlgorithm(self, parameters, context, feedback):
        min_stay = self.parameterAsDouble(parameters, 'MIN_STAY', context) / 1000.0
        min_gap = self.parameterAsDouble(parameters, 'MIN_GAP', context) / 1000.0
        min_dwell = self.parameterAsDouble(parameters, 'MIN_DWELL', context) / 1000.0
        top = parameters.get('TOP_SPEED')
        top = self.parameterAsDouble(parameters, 'TOP_SPEED', context) if top not in (None, '') else None
        quantile = self.parameterAsDouble(parameters, 'SPEED_QUANTILE', context)
        sites = read_sites(self, parameters, context, feedback, required=True)
        cols, static = positions_from(self, parameters, context, feedback, 0, 40)
        mmsi, t, lon, lat = cols['mmsi'], cols['t'], cols['lon'], cols['lat']
        site_index = sites['index_of'](lon, lat)
        feedback.setProgress(50)
        calls = core_voyages.port_calls(mmsi, t, site_index, min_stay, split_gap_s=min_gap)
        vis = core_voyages.voyages_from_calls(calls)
        g = core_gaps.find_gaps(mmsi, t, lon, lat, min_gap)
        speed = top if top else core_voyages.vessel_top_speed(mmsi, t, lon, lat, cols['sog'], quantile)
        dark = core_voyages.dark_voyage_candidates(g, mmsi, t, lon, lat, site_index, sites['vertices'], speed,
                                                   min_dwell, calls)
        if feedback.isCanceled():
            raise QgsProcessingException(self.tr('Cancelled: no output was written.'))
        names = sites['names']

        def sname(i):
            return names[int(i)] if i >= 0 else None

        self._log_summary(feedback, static, calls, vis, dark, g, names)
        feedback.setProgress(70)
        fields = QgsFields()
        for name, kind in (('mmsi', 'long'), ('name', 'string'), ('from_site', 'string'), ('to_site', 'string'),
                           ('depart', 'datetime'), ('arrive', 'datetime'), ('hours', 'double'),
                           ('observed', 'string'), ('reachable_sites', 'string'), ('top_speed_kn', 'double'),
                           ('slack_h', 'double')):
            fields.append(qfield(name, kind))
        sink, dest = self.parameterAsSink(parameters, 'OUTPUT', context, fields, Q.WKB_LINE,
                                          QgsCoordinateReferenceSystem(WGS84))
        if sink is None:
            raise QgsProcessingException(self.invalidSinkError(parameters, 'OUTPUT'))
        for k in range(len(vis['mmsi'])):
            a = int(calls['i1'][vis['call0'][k]])
            b = int(calls['i0'][vis['call1'][k]])
            f = QgsFeature(fields)
            f.setGeometry(QgsGeometry(QgsLineString(lon[a:b + 1].tolist(), lat[a:b + 1].tolist())))
            f.setAttributes([int(vis['mmsi'][k]), vessel_name(static, vis['mmsi'][k]), sname(vis['from_site'][k]),
                             sname(vis['to_site'][k]), utc_datetime(vis['depart'][k]),
                             utc_datetime(vis['arrive'][k]), float(vis['hours'][k]), 'yes', None, None, None])
            sink.addFeature(f, Q.FAST_INSERT)
        for k in range(len(dark['gap'])):
            gi = int(dark['gap'][k])
            a, b = int(g['i0'][gi]), int(g['i1'][gi])
            reach = dark['reachable'][k]
            best = int(reach[0])
            cx, cy = sites['centroids'][best]
            f = QgsFeature(fields)
            f.setGeometry(QgsGeometry(QgsLineString([QgsPoint(lon[a], lat[a]), QgsPoint(cx, cy),
                                                     QgsPoint(lon[b], lat[b])])))
            f.setAttributes([int(dark['mmsi'][k]), vessel_name(static, dark['mmsi'][k]),
                             sname(dark['from_site'][k]), names[best] if len(reach) == 1 else None,
                             utc_datetime(dark['t0'][k]), utc_datetime(dark['t1'][k]), float(dark['hours'][k]),
                             'no', ';'.join(names[int(j)] for j in reach), float(dark['speed_kn'][k]),
                             float(dark['slack_h'][k][0])])
            sink.addFeature(f, Q.FAST_INSERT)
        del sink
        set_temporal(context, dest, 'depart', 'arrive')
        results = {'OUTPUT': dest, 'VOYAGE_COUNT': len(vis['mmsi']) + len(dark['gap']),
                   'OBSERVED_COUNT': len(vis['mmsi']), 'DARK_COUNT': len(dark['gap']),
                   'CALL_COUNT': len(calls['mmsi'])}
        if parameters.get('CALLS') is not None:
            cf = QgsFields()
            for name, kind in (('mmsi', 'long'), ('name', 'string'), ('site', 'string'), ('arrive', 'datetime'),
                               ('depart', 'datetime'), ('hours', 'double'), ('points', 'int')):
                cf.append(qfield(name, kind))
            csink, cdest = self.parameterAsSink(parameters, 'CALLS', context, cf, Q.WKB_POINT,
                                                QgsCoordinateReferenceSystem(WGS84))
            if csink is not None:
                for k in range(len(calls['mmsi'])):
                    a = int(calls['i0'][k])
                    f = QgsFeature(cf)
                    f.setGeometry(QgsGeometry(QgsPoint(lon[a], lat[a])))
                    f.setAttributes([int(calls['mmsi'][k]), vessel_name(static, calls['mmsi'][k]),
                                     names[int(calls['site'][k])], utc_datetime(calls['arrive'][k]),
                                     utc_datetime(calls['depart'][k]),
                                     float(calls['depart'][k] - calls['arrive'][k]) / 3600.0,
                                     int(calls['points'][k])])
                    csink.addFeature(f, Q.FAST_INSERT)
                del csink
                set_temporal(context, cdest, 'arrive', 'depart')
                results['CALLS'] = cdest
        feedback.setProgress(100)
        return results

    def _log_summary(self, feedback, static, calls, vis, dark, g, names):
        feedback.pushInfo(self.tr('{} port calls, {} observed voyages, {} gaps, {} dark voyage candidates').format(
            len(calls['mmsi']), len(vis['mmsi']), len(g['i0']), len(dark['gap'])))
        runs = Counter()
        for m, a, b in zip(vis['mmsi'].tolist(), vis['from_site'].tolist(), vis['to_site'].tolist()):
            runs[(m, names[a], names[b], 'seen')] += 1
        for m, a, r in zip(dark['mmsi'].tolist(), dark['from_site'].tolist(), dark['reachable']):
            for j in r:
                runs[(m, names[a] if a >= 0 else '?', names[int(j)], 'could have (dark)')] += 1
        for m in sorted({k[0] for k in runs}):
            feedback.pushInfo('{} {}:'.format(m, vessel_name(static, m) or ''))
            for (mm, a, b, kind), c in sorted(runs.items()):
                if mm == m:
                    feedback.pushInfo('   {} -> {}: {} {}'.format(a, b, c, kind))
