"""cargowatch:detectgaps — AIS dark periods (intervals without positions longer than MIN_GAP)."""
import numpy as np
from qgis.core import (QgsCoordinateReferenceSystem, QgsFeature, QgsFields, QgsGeometry, QgsLineString,
                       QgsProcessingException, QgsProcessingOutputNumber, QgsProcessingParameterFeatureSink)

from .base import CargoWatchAlgorithm, qfield
from ..compat import Q
from .ais_layers import (WGS84, add_position_inputs, add_site_inputs, duration_param, positions_from,
                         read_sites, set_temporal, vessel_name)
from ..core.ais.defaults import DEFAULTS
from ..layers.ais import utc_datetime
from ..core import gaps as core_gaps
from ..core import voyages as core_voyages


class DetectGaps(CargoWatchAlgorithm):
    NAME = 'detectgaps'
    DISPLAY = 'Detect AIS dark periods'
    GROUP = 'ais'

    def initAlgorithm(self, config=None):
        add_position_inputs(self, 'AIS positions (points with MMSI and time).')
        duration_param(self, 'MIN_GAP', 'Minimum gap', DEFAULTS.gap_s, 'Intervals without positions longer than this.')
        add_site_inputs(self, 'Optional polygons: the nearest one is named at each end of a gap.', optional=True)
        p = QgsProcessingParameterFeatureSink('OUTPUT', self.tr('AIS dark periods'),
                                              Q.SRC_LINE)
        p.setHelp(self.tr('One line per gap.'))
        self.addParameter(p)
        self.addOutput(QgsProcessingOutputNumber('GAP_COUNT', self.tr('Number of gaps')))

    def processAlgorithm(self, parameters, context, feedback):
        min_gap_s = self.parameterAsDouble(parameters, 'MIN_GAP', context) / 1000.0
        cols, static = positions_from(self, parameters, context, feedback, 0, 50)
        g = core_gaps.find_gaps(cols['mmsi'], cols['t'], cols['lon'], cols['lat'], min_gap_s)
        n = len(g['i0'])
        i0, i1 = g['i0'], g['i1']
        sites = read_sites(self, parameters, context, feedback)
        near = None
        if sites is not None:
            d0 = core_voyages.site_distances_nm(cols['lon'][i0], cols['lat'][i0], sites['vertices'])
            d1 = core_voyages.site_distances_nm(cols['lon'][i1], cols['lat'][i1], sites['vertices'])
            for d, ii in ((d0, i0), (d1, i1)):
                si = sites['index_of'](cols['lon'][ii], cols['lat'][ii])
                inside = si >= 0
                d[np.flatnonzero(inside), si[inside]] = 0.0
            near = (d0.argmin(axis=1) if n and d0.shape[1] else None, d0, d1.argmin(axis=1)
                    if n and d1.shape[1] else None, d1)
        feedback.pushInfo(self.tr('{} gaps longer than {:g} h in {} vessels').format(
            n, min_gap_s / 3600.0, len(np.unique(cols['mmsi'][i0])) if n else 0))
        if n:
            feedback.pushInfo(self.tr('longest {:.1f} h, median {:.1f} h').format(g['hours'].max(),
                                                                                 float(np.median(g['hours']))))
        fields = QgsFields()
        for name, kind in (('mmsi', 'long'), ('name', 'string'), ('start', 'datetime'), ('end', 'datetime'),
                           ('hours', 'double'), ('distance_nm', 'double'), ('implied_speed_kn', 'double')):
            fields.append(qfield(name, kind))
        if near is not None:
            for name, kind in (('site_before', 'string'), ('site_before_nm', 'double'), ('site_after', 'string'),
                               ('site_after_nm', 'double')):
                fields.append(qfield(name, kind))
        sink, dest = self.parameterAsSink(parameters, 'OUTPUT', context, fields, Q.WKB_LINE_M,
                                          QgsCoordinateReferenceSystem(WGS84))
        if sink is None:
            raise QgsProcessingException(self.invalidSinkError(parameters, 'OUTPUT'))
        lon, lat, t = cols['lon'], cols['lat'], cols['t']
        for k in range(n):
            if k % 1000 == 0:
                if feedback.isCanceled():
                    break
                feedback.setProgress(50 + 50 * k / max(n, 1))
            a, b = int(i0[k]), int(i1[k])
            f = QgsFeature(fields)
            f.setGeometry(QgsGeometry(QgsLineString([lon[a], lon[b]], [lat[a], lat[b]], [],
                                                    [float(t[a]), float(t[b])])))
            attrs = [int(cols['mmsi'][a]), vessel_name(static, cols['mmsi'][a]), utc_datetime(t[a]),
                     utc_datetime(t[b]), float(g['hours'][k]), float(g['distance_nm'][k]),
                     float(g['implied_speed_kn'][k])]
            if near is not None:
                j0, d0, j1, d1 = near
                attrs += [sites['names'][j0[k]], float(d0[k, j0[k]]), sites['names'][j1[k]], float(d1[k, j1[k]])]
            f.setAttributes(attrs)
            sink.addFeature(f, Q.FAST_INSERT)
        del sink
        set_temporal(context, dest, 'start', 'end')
        return {'OUTPUT': dest, 'GAP_COUNT': n}
