"""cargowatch:countpits — Count storage pits (open earthen revetments) on high-resolution imagery."""
from qgis.core import (QgsProcessingException, QgsProcessingOutputNumber, QgsProcessingParameterFeatureSink,
                       QgsProcessingParameterNumber)

from ..compat import Q
from .base import CargoWatchAlgorithm, progress_cb
from ..core import pits as core

FIELDS = (('length_m', 'double'), ('width_m', 'double'), ('area_m2', 'double'), ('orientation_deg', 'double'),
          ('fresh_soil', 'double'), ('confidence', 'double'))

HELP = """
<p>Counts storage pits &mdash; open earthen revetments such as those of ammunition depots and field
storage sites &mdash; and draws one oriented rectangle per pit (outer footprint, berms included).</p>
<h3>Method</h3>
<p>The raster is read in overlapping blocks (bounded memory; a pit across a block border is counted
once). Each block is resampled to a fixed working grid of 0.75 m per pixel and its bands stretched
between their 2nd and 98th percentiles (any sensor, 8 or 16 bits, light or season). A small
fully-convolutional network (run with OpenCV) predicts on a 3 m grid where pit centres are, and each
pit's length, width and orientation; the peaks above the threshold set by <i>sensitivity</i> are the
pits (their height is the <i>confidence</i>). The network was trained only on generated scenes made
far more varied than any one depot: open and closed revetments, fresh and grassed-over, bright and
dark soils, seasons, sun 20-65&deg; from any side, 0.3-1 m, RGB, pan, 4 bands, 8/16 bits, nodata
borders, and look-alikes that are not pits (houses and farm courtyards, tree lines, spoil heaps,
ploughed strips, road junctions). Geographic rasters are reprojected on the fly to UTM; the output is
in the working (projected) CRS. Needs OpenCV for Python (python3-opencv or opencv-python-headless).</p>
<h3>Parameters</h3>
<ul>
<li><b>Input raster</b>: 1 band (panchromatic), 3 bands (RGB) or 4+ bands; Byte, UInt16 or Float;
nodata respected; 0.3-1 m per pixel works best (coarser than 1 m: pits blur into the ground).</li>
<li><b>Red, green, blue bands</b> (optional) for multispectral imagery.</li>
<li><b>Area of interest</b> (optional): count only inside these polygons.</li>
<li><b>Smallest / largest pit side</b> in metres (default 6-70 m: open ammunition revetments are about
8 x 15 m to 30 x 60 m).</li>
<li><b>Sensitivity</b> 0-1: higher finds fainter, grassed-over pits but admits more false alarms.</li>
<li><b>Minimum confidence</b> (default 0: all): keep only pits at least this confident; COUNT counts
the kept ones.</li>
</ul>
<h3>Outputs</h3>
<p><b>Pits</b> polygons with <i>length_m</i>, <i>width_m</i>, <i>area_m2</i>, <i>orientation_deg</i>
(long side, degrees counter-clockwise from east, 0-180), <i>fresh_soil</i> (0-1: bare, bright,
not green berms = freshly dug; grassed-over = low), <i>confidence</i> (0-1). <b>COUNT</b>: number of
pits, usable in models.</p>
<h3>Limits</h3>
<p>Pits touching each other can be found as one; covered (roofed) revetments, pits under trees or snow
are not seen; faint, grassed-over pits are the most often missed (raise the sensitivity). Figures on
scenes the network was not trained on are in docs/benchmarks.md: check detections before reporting.</p>
"""


class CountPits(CargoWatchAlgorithm):
    NAME = 'countpits'
    DISPLAY = 'Count storage pits'
    GROUP = 'imagery'
    HELP = HELP

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
        feedback.pushInfo(self.tr(f'{len(found)} storage pits.'))
        feedback.setProgress(100)
        return {self.OUTPUT: dest, self.COUNT: len(found)}
