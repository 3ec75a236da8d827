"""cargowatch:buildtracks — one LineStringM per vessel segment (M = unix time), split at long gaps."""
import numpy as np
from qgis.core import (QgsCoordinateReferenceSystem, QgsFeature, QgsFields, QgsGeometry, QgsLineString,
                       QgsProcessingException, QgsProcessingOutputNumber, QgsProcessingParameterFeatureSink,
                       QgsProcessingParameterNumber)

from .base import CargoWatchAlgorithm, qfield
from ..compat import Q
from .ais_layers import (WGS84, add_position_inputs, duration_param, positions_from, set_temporal,
                         vessel_name)
from ..core.ais.defaults import DEFAULTS
from ..layers.ais import utc_datetime
from ..core import tracks

class BuildTracks(CargoWatchAlgorithm):
    NAME = 'buildtracks'
    DISPLAY = 'Build vessel tracks'
    GROUP = 'ais'

    def initAlgorithm(self, config=None):
        add_position_inputs(self, 'AIS positions (points with MMSI and time).')
        duration_param(self, 'MAX_GAP', 'Maximum gap within a track', DEFAULTS.track_split_s,
                       'A longer time without positions starts a new segment.')
        p = QgsProcessingParameterNumber('MIN_POINTS', self.tr('Minimum points per segment'),
                                         Q.INTEGER, 2, minValue=2)
        p.setHelp(self.tr('Segments with fewer positions are not written (a line needs 2).'))
        self.addParameter(p)
        p = QgsProcessingParameterFeatureSink('OUTPUT', self.tr('Vessel tracks'),
                                              Q.SRC_LINE)
        p.setHelp(self.tr('One LineStringM per vessel segment.'))
        self.addParameter(p)
        self.addOutput(QgsProcessingOutputNumber('TRACK_COUNT', self.tr('Number of track segments')))

    def processAlgorithm(self, parameters, context, feedback):
        max_gap_s = self.parameterAsDouble(parameters, 'MAX_GAP', context) / 1000.0
        min_points = self.parameterAsInt(parameters, 'MIN_POINTS', context)
        cols, static = positions_from(self, parameters, context, feedback)
        seg = tracks.segments(cols['mmsi'], cols['t'], cols['lon'], cols['lat'], max_gap_s, min_points)
        nseg = len(seg['mmsi'])
        feedback.pushInfo(self.tr('{} segments of {} vessels').format(nseg, len(np.unique(seg['mmsi']))))
        fields = QgsFields()
        for name, kind in (('mmsi', 'long'), ('name', 'string'), ('start', 'datetime'), ('end', 'datetime'),
                           ('duration_h', 'double'), ('length_nm', 'double'), ('points', 'int')):
            fields.append(qfield(name, kind))
        sink, dest = self.parameterAsSink(parameters, 'OUTPUT', context, fields, Q.WKB_LINE_M,
                                          QgsCoordinateReferenceSystem(WGS84))
        if sink is None:
            raise QgsProcessingException(self.invalidSinkError(parameters, 'OUTPUT'))
        lon, lat, t = cols['lon'], cols['lat'], cols['t'].astype(np.float64)
        for k in range(nseg):
            if k % 1000 == 0:
                if feedback.isCanceled():
                    break
                feedback.setProgress(40 + 60 * k / max(nseg, 1))
            a, b = int(seg['start_idx'][k]), int(seg['end_idx'][k])
            line = QgsLineString(lon[a:b].tolist(), lat[a:b].tolist(), [], t[a:b].tolist())
            f = QgsFeature(fields)
            f.setGeometry(QgsGeometry(line))
            f.setAttributes([int(seg['mmsi'][k]), vessel_name(static, seg['mmsi'][k]),
                             utc_datetime(seg['start'][k]), utc_datetime(seg['end'][k]),
                             float(seg['duration_h'][k]), float(seg['length_nm'][k]), int(seg['points'][k])])
            sink.addFeature(f, Q.FAST_INSERT)
        del sink
        set_temporal(context, dest, 'start', 'end')
        return {'OUTPUT': dest, 'TRACK_COUNT': nseg}
