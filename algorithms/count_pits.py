"""cargowatch:countpits — Count storage pits (open earthen revetments) on high-resolution imagery."""
from qgis.core import (QgsProcessingException, QgsProcessingOutputNumber, QgsProcessingParameterFeatureSink,
                       QgsProcessingParameterNumber)

from ..compat import Q
from .base import CargoWatchAlgorithm, progress_cb
from ..core import pits as core

FIELDS = (('length_m', 'double'), ('width_m', 'double'), ('area_m2', 'double'), ('orientation_deg', 'double'),
          ('fresh_soil', 'double'), ('confidence', 'double'))

class CountPits(CargoWatchAlgorithm):
    NAME = 'countpits'
    DISPLAY = 'Count storage pits'
    GROUP = 'imagery'

    MIN_SIZE, MAX_SIZE, SENSITIVITY, OUTPUT, COUNT = 'MIN_SIZE', 'MAX_SIZE', 'SENSITIVITY', 'OUTPUT', 'COUNT'

    def initAlgorithm(self, config=None):  # noqa: N802 (QGIS API)
        self.add_raster_inputs('High-resolution image (about 0.3-1 m per pixel), 1, 3 or 4+ bands, any CRS.',
                               'Count only inside these polygons, for instance the depot perimeter.',
                               bands_advanced=True)
        d = core.PitParams()
        p = QgsProcessingParameterNumber(self.MIN_SIZE, self.tr('Smallest pit side (m)'),
                                         Q.DOUBLE, d.min_size, minValue=1.0,
                                         maxValue=200.0)
        p.setHelp(self.tr('Shortest side of the smallest pit to find, in metres (berms included).'))
        self.addParameter(p)
        p = QgsProcessingParameterNumber(self.MAX_SIZE, self.tr('Largest pit side (m)'),
                                         Q.DOUBLE, d.max_size, minValue=2.0,
                                         maxValue=500.0)
        p.setHelp(self.tr('Longest side of the largest pit to find, in metres (berms included).'))
        self.addParameter(p)
        p = QgsProcessingParameterNumber(self.SENSITIVITY, self.tr('Sensitivity'),
                                         Q.DOUBLE, d.sensitivity,
                                         minValue=0.0, maxValue=1.0)
        p.setHelp(self.tr('0 = strict (fewer false alarms), 1 = permissive (finds faint, grassed-over pits).'))
        self.addParameter(p)
        self.add_min_confidence('pits')
        p = QgsProcessingParameterFeatureSink(self.OUTPUT, self.tr('Storage pits'),
                                              Q.SRC_POLYGON)
        p.setHelp(self.tr('One oriented rectangle per pit.'))
        self.addParameter(p)
        self.addOutput(QgsProcessingOutputNumber(self.COUNT, self.tr('Number of pits')))

    def pit_params(self, parameters, context):
        params = core.PitParams(min_size=self.parameterAsDouble(parameters, self.MIN_SIZE, context),
                                max_size=self.parameterAsDouble(parameters, self.MAX_SIZE, context),
                                sensitivity=self.parameterAsDouble(parameters, self.SENSITIVITY, context))
        try:
            return params.check()
        except core.CargoWatchError as e:
            raise QgsProcessingException(str(e))

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802 (QGIS API)
        params = self.pit_params(parameters, context)
        raster, aoi = self.raster_inputs(parameters, context, feedback, grey_warning=(
            'A 1-band (panchromatic) raster: without colour, fresh soil and grass look alike, so pits are more '
            'often missed or confused with look-alikes than in colour (see docs/benchmarks.md). '
            'Check the detections by eye, or use a colour or pan-sharpened image.'))
        found = self.call_core(feedback, core.count_pits, raster, params, aoi=aoi,
                               progress=progress_cb(feedback, 0, 95))
        found = self.confident(parameters, context, found)
        dest = self.write_polygons(parameters, self.OUTPUT, context, feedback, FIELDS, found, self.crs_of(raster))
        feedback.pushInfo(self.tr('{} storage pits.').format(len(found)))
        feedback.setProgress(100)
        return {self.OUTPUT: dest, self.COUNT: len(found)}
