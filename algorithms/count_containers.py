"""cargowatch:countcontainers — Count shipping containers on very-high-resolution imagery."""
from qgis.core import (QgsProcessingException, QgsProcessingOutputNumber, QgsProcessingParameterFeatureSink,
                       QgsProcessingParameterNumber)

from .base import CargoWatchAlgorithm, progress_cb
from ..compat import Q
from ..core import containers as core


FIELDS = (('size_class', 'string'), ('length_m', 'double'), ('width_m', 'double'), ('containers', 'int'),
          ('teu', 'int'), ('colour', 'string'), ('r', 'int'), ('g', 'int'), ('b', 'int'),
          ('confidence', 'double'), ('angle_deg', 'double'))

HELP = f"""
<p>Counts shipping containers on very-high-resolution satellite or aerial imagery (ports, container
yards, rail yards, ships' decks) and draws one oriented rectangle per visible container top, with its size
class, colour and confidence.</p>
<h3>Method</h3>
<p>The raster is read in overlapping blocks (memory stays bounded whatever the scene size; a container on a
block border is counted once), each resampled to 0.5 m per pixel. A small convolutional network (shipped with
the plugin as an ONNX file, run by OpenCV) marks the centre of every visible container top, whether it is a
20 ft or 40 ft box and which way it lies; each centre becomes an ISO footprint turned that way, coloured from
the image. The network sees about 40 m around each point: a block of boxes, its shadow, a crane, a parking row.
It was trained only on generated yards made deliberately varied (every container colour from near-black to
white on light or dark pavement, stacks 1-5 high with their shadows, any sun, 0.3-0.8 m, colour and
panchromatic sensors, blur, noise, compression) with cranes, trucks and empty chassis, buses, cars, round
tanks, warehouse skylights, ships' hatch covers, rail wagons and painted slots as things that are not
containers. Geographic rasters (e.g. EPSG:4326) are reprojected on the fly to UTM so sizes are measured in
metres; the output is in that UTM CRS.</p>
<h3>Parameters</h3>
<ul>
<li><b>Input raster</b>: 1 band (panchromatic), 3 bands (RGB) or 4+ bands; Byte, UInt16 (e.g. 11-bit)
or Float; nodata is respected. Ground resolution between {core.MIN_GSD} and {core.MAX_GSD} m per pixel
(0.3-0.6 m works best). A coarser raster is refused: a container would be under 3 pixels wide.</li>
<li><b>Red, green, blue bands</b> (optional): which bands to use as colour, e.g. 3, 2, 1 for
blue-green-red-NIR imagery. Default: the bands labelled red/green/blue, else bands 1-3, else band 1.</li>
<li><b>Area of interest</b> (optional): count only inside these polygons (e.g. the container yard).</li>
<li><b>20 ft / 40 ft length, width</b>: the footprints drawn, in metres (ISO 668 defaults).</li>
<li><b>Sensitivity</b> 0-1 (default 0.5): the centre probability a detection needs (0.5 at 0, 0.35 at 0.5,
0.2 at 1): higher finds fainter containers and makes more false alarms.</li>
<li><b>Minimum confidence</b> (default 0: all): keep only detections at least this confident; COUNT and
TEU count the kept ones.</li>
</ul>
<h3>Outputs</h3>
<p><b>Containers</b> polygon layer with fields: <i>size_class</i> (20ft or 40ft), <i>length_m</i>,
<i>width_m</i>, <i>containers</i> (1), <i>teu</i> (20 ft = 1, 40 ft = 2), <i>colour</i> (white, grey,
black, red, orange, yellow, green, blue, purple, magenta, brown; grey levels only on a 1-band raster), mean
<i>r</i>, <i>g</i>, <i>b</i> (0-255 after stretch), <i>confidence</i> (0-1, the network's centre
probability: filter on it to trade recall for precision), <i>angle_deg</i> (long axis, degrees clockwise
from east on the raster grid). <b>COUNT</b> and <b>TEU</b>: totals, usable in models.</p>
<h3>Limits</h3>
<p>A count is of visible container tops: boxes stacked below them are not seen (multiply by the typical stack
height yourself if you know it). Touching containers of the same colour are told apart by their seams; where
seams are invisible (coarse or blurred images) neighbours may be missed. Objects the size of a container that
the network was not shown (a new kind of trailer or roof) may be counted: restrict the count with an area of
interest and filter on confidence. Accuracy on other generators' scenes and on real photos is in
docs/benchmarks.md.</p>
"""


class CountContainers(CargoWatchAlgorithm):
    NAME = 'countcontainers'
    DISPLAY = 'Count shipping containers'
    GROUP = 'imagery'
    HELP = HELP

    LEN20, LEN40, WIDTH, SENSITIVITY, OUTPUT, COUNT, TEU = ('LENGTH_20FT', 'LENGTH_40FT', 'WIDTH',
                                                          'SENSITIVITY', 'OUTPUT', 'COUNT', 'TEU')

    def initAlgorithm(self, config=None):  # noqa: N802 (QGIS API)
        self.add_raster_inputs('Very-high-resolution image (0.15-0.8 m per pixel), 1, 3 or 4+ bands.',
                               'Count only inside these polygons, for instance the container yard.')
        defaults = core.ContainerParams()
        for name, label, value, help_ in (
                (self.LEN20, '20 ft container length (m)', defaults.len20, 'ISO 668: 6.058 m.'),
                (self.LEN40, '40 ft container length (m)', defaults.len40, 'ISO 668: 12.192 m.'),
                (self.WIDTH, 'Container width (m)', defaults.width, 'ISO 668: 2.438 m.')):
            p = QgsProcessingParameterNumber(name, self.tr(label), Q.DOUBLE,
                                             value, minValue=1.0, maxValue=20.0)
            p.setHelp(self.tr(help_))
            p.setFlags(p.flags() | Q.ADVANCED)
            self.addParameter(p)
        p = QgsProcessingParameterNumber(self.SENSITIVITY, self.tr('Sensitivity'), Q.DOUBLE, defaults.sensitivity,
                                         minValue=0.0, maxValue=1.0)
        p.setHelp(self.tr('0 = strict (fewer false alarms), 1 = permissive (finds fainter containers).'))
        self.addParameter(p)
        self.add_min_confidence('containers')
        p = QgsProcessingParameterFeatureSink(self.OUTPUT, self.tr('Containers'), Q.SRC_POLYGON)
        p.setHelp(self.tr('One oriented rectangle per visible container top.'))
        self.addParameter(p)
        self.addOutput(QgsProcessingOutputNumber(self.COUNT, self.tr('Number of containers')))
        self.addOutput(QgsProcessingOutputNumber(self.TEU, self.tr('Twenty-foot equivalent units (TEU)')))

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802 (QGIS API)
        raster, aoi = self.raster_inputs(parameters, context, feedback, grey_warning=(
            'A 1-band (panchromatic) raster: in grey, dark container roofs look like the asphalt or shadows '
            'around them and touching roofs of equal grey merge, so the count runs low (up to ~10 % on generated '
            'yards). Treat it as a lower bound, or use a colour or pan-sharpened image of the same date.'))
        try:
            core.check_gsd(raster.gsd)
        except core.RasterError as e:
            raise QgsProcessingException(str(e))
        if raster.gsd > 0.65:
            feedback.pushWarning(self.tr(
                f'At {raster.gsd:.2f} m per pixel a container is under 4 pixels wide and touching containers are '
                'rarely told apart: the total stays close, but single detections are less reliable '
                '(F1 0.8-0.9 at 0.7 m on generated yards).'))
        params = core.ContainerParams(
            len20=self.parameterAsDouble(parameters, self.LEN20, context),
            len40=self.parameterAsDouble(parameters, self.LEN40, context),
            width=self.parameterAsDouble(parameters, self.WIDTH, context),
            sensitivity=self.parameterAsDouble(parameters, self.SENSITIVITY, context))
        if params.len40 <= params.len20 or params.width >= params.len20:
            raise QgsProcessingException(self.tr('Container sizes must satisfy width < 20 ft length < 40 ft length.'))
        found = self.call_core(feedback, core.count_containers, raster, params, aoi=aoi,
                               progress=progress_cb(feedback, 0, 95))
        found = self.confident(parameters, context, found)
        dest = self.write_polygons(parameters, self.OUTPUT, context, feedback, FIELDS, found, self.crs_of(raster))
        count, teu = core.summarise(found)
        feedback.pushInfo(self.tr(f'{count} containers ({teu} TEU) in {len(found)} features.'))
        feedback.setProgress(100)
        return {self.OUTPUT: dest, self.COUNT: count, self.TEU: teu}
