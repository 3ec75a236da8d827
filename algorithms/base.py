"""What every CargoWatch algorithm shares: identity, help, icons, and the adapters
between Processing (parameters, feedback, exceptions) and the QGIS-free core/."""
import functools
import gc
import html
import os
import re

from qgis.core import (QgsCoordinateReferenceSystem, QgsCoordinateTransform, QgsFeature, QgsFields,
                       QgsGeometry, QgsPointXY, QgsProcessingAlgorithm, QgsProcessingException,
                       QgsProcessingParameterBand, QgsProcessingParameterFeatureSource,
                       QgsProcessingParameterNumber, QgsProcessingParameterRasterLayer, QgsProject)
from qgis.PyQt.QtCore import QCoreApplication
from qgis.PyQt.QtGui import QIcon

from ..compat import Q, qfield  # noqa: F401 (qfield: the algorithms import it from here)
from ..core.errors import Cancelled, CargoWatchError
from ..core import raster as core_raster

ICON_PREFIX = ':/plugins/cargowatch/icons/'
HELP_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'help')
GROUPS = {'imagery': 'Imagery', 'ais': 'AIS'}


def polygon_geometry(points):
    """Closed polygon geometry from a list of (x, y) corners."""
    ring = [QgsPointXY(float(x), float(y)) for x, y in points]
    return QgsGeometry.fromPolygonXY([ring + ring[:1]])


def help_markdown(name):
    """The help of algorithm ``name``, written once in help/<name>.md (also the source of docs/algorithms.md)."""
    with open(os.path.join(HELP_DIR, name + '.md'), encoding='utf-8') as f:
        return f.read()


def _inline(text):
    parts = ' '.join(text.split()).split('`')
    out = []
    for k, part in enumerate(parts):
        part = html.escape(part, quote=False)
        if k % 2:
            out.append(f'<code>{part}</code>')
            continue
        part = re.sub(r'\*\*(.+?)\*\*', r'<b>\1</b>', part)
        part = re.sub(r'(?<![\w*])\*(?=\S)(.+?)(?<=\S)\*(?![\w*])', r'<i>\1</i>', part)
        out.append(re.sub(r'\[([^\]]+)\]\(([^)\s]+)\)', r'<a href="\2">\1</a>', part))
    return ''.join(out)


def markdown_html(text):
    """The Markdown of help/*.md as the rich text of Processing's help panel: '## ' headings, paragraphs, '- '
    lists, **bold**, *italic*, `code` and [links](url); the '# ' title line is the dialog's own."""
    out = []
    for block in re.split(r'\n\s*\n', text.strip()):
        if block.startswith('# '):
            continue
        if block.startswith('## '):
            out.append(f'<h3>{_inline(block[3:])}</h3>')
        elif block.startswith('- '):
            out.append('<ul>' + ''.join(f'<li>{_inline(item)}</li>' for item in re.split(r'\n- ', block[2:]))
                       + '</ul>')
        else:
            out.append(f'<p>{_inline(block)}</p>')
    return '\n'.join(out)


def discard_output(destination):
    """Remove what a cancelled or failed run wrote at ``destination`` (a sink's destination or a file output):
    the file with its SQLite/shapefile companions, or only its layer when the GeoPackage holds others."""
    path, _, layer = destination.partition('|layername=')
    if not os.path.isfile(path):
        return  # a memory layer, or nothing written yet
    if layer:
        from osgeo import ogr
        ds = ogr.Open(path, 1)
        names = [ds.GetLayer(i).GetName() for i in range(ds.GetLayerCount())] if ds is not None else []
        if len(names) > 1:
            if layer in names:
                ds.DeleteLayer(names.index(layer))
            return
        ds = None
    stem, ext = os.path.splitext(path)
    companions = ('.shx', '.dbf', '.prj', '.cpg', '.qmd') if ext.lower() == '.shp' else ('-wal', '-shm', '-journal')
    for p in [path] + [(stem if ext.lower() == '.shp' else path) + c for c in companions]:
        if os.path.exists(p):
            os.remove(p)


def plain_gpkg_path(dest):
    """The file path when a sink destination is a plain GeoPackage file (not memory, not a layer URI)."""
    if not isinstance(dest, str) or '|' in dest or not dest.lower().endswith('.gpkg'):
        return None
    return dest if os.path.isfile(dest) else None


def store_utc_zone(dest):
    """Date-times of a GeoPackage output stored with their zone. QGIS 3.22 writes a QDateTime into a GeoPackage
    without it, even a UTC one ('2024-03-09T20:00:00.000'), which other tools then read as local time: the
    DATETIME columns of a plain GeoPackage destination get their 'Z' (the values are UTC already). The base class
    does it for every output of a finished run; other destinations (memory layers, other formats) keep the
    QDateTime."""
    from osgeo import gdal, ogr
    path = plain_gpkg_path(dest)
    if path is None:
        return
    ds = gdal.OpenEx(path, gdal.OF_VECTOR | gdal.OF_UPDATE)  # OGR's SQLite has the GeoPackage functions
    if ds is None:
        return
    for lyr in [ds.GetLayer(i) for i in range(ds.GetLayerCount())]:
        defn = lyr.GetLayerDefn()
        for i in range(defn.GetFieldCount()):
            if defn.GetFieldDefn(i).GetType() != ogr.OFTDateTime:
                continue
            c = '"{}"'.format(defn.GetFieldDefn(i).GetName().replace('"', '""'))
            ds.ExecuteSQL("UPDATE \"{t}\" SET {c} = {c} || 'Z' WHERE length({c}) IN (19, 23) AND substr({c}, 11, 1) "
                          "= 'T'".format(t=lyr.GetName().replace('"', '""'), c=c))
    ds = None


def _clean_on_cancel(process):
    """processAlgorithm of every subclass, wrapped: a run that is cancelled (or fails) removes the outputs it had
    begun to write and says so; a run that finished while cancelled is discarded too."""
    @functools.wraps(process)
    def run(self, parameters, context, feedback):
        self._outputs = []

        def cancelled():
            return feedback is not None and feedback.isCanceled()
        try:
            results = process(self, parameters, context, feedback)
            if not cancelled():
                gc.collect()  # the run's sinks are closed before their files are touched
                for destination, _existed in self._outputs:
                    store_utc_zone(destination)
                return results
            message = None
        except QgsProcessingException as e:
            message = str(e)
        results = None
        gc.collect()  # the failed frame's sinks are closed before their files go
        for destination, existed in self._outputs:
            if not existed:
                discard_output(destination)
        if cancelled():
            raise QgsProcessingException(self.tr('Cancelled: no output was written.'))
        raise QgsProcessingException(message)
    run.cleans_on_cancel = True
    return run


def progress_cb(feedback, start=0.0, end=100.0):
    """A callable taking a fraction 0..1 that drives ``feedback`` between start and end %."""
    return lambda frac: feedback.setProgress(start + (end - start) * frac)


class CargoWatchAlgorithm(QgsProcessingAlgorithm):
    """Base class: subclasses set NAME, DISPLAY, GROUP (their help is help/<NAME>.md, with HELP_VALUES filled
    into its {placeholders}) and implement initAlgorithm/processAlgorithm. The provider registers every
    subclass it finds."""
    NAME = None
    DISPLAY = None
    GROUP = 'imagery'
    HELP_VALUES = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        process = cls.__dict__.get('processAlgorithm')
        if process is not None and not getattr(process, 'cleans_on_cancel', False):
            cls.processAlgorithm = _clean_on_cancel(process)

    def tr(self, text):
        return QCoreApplication.translate('CargoWatch', text)

    def createInstance(self):
        return type(self)()

    def name(self):
        return self.NAME

    def displayName(self):
        return self.tr(self.DISPLAY)

    def group(self):
        return self.tr(GROUPS[self.GROUP])

    def groupId(self):
        return self.GROUP

    def icon(self):
        return QIcon(ICON_PREFIX + f'{self.GROUP}.svg')

    def shortHelpString(self):  # noqa: N802 (QGIS API)
        text = self.tr(help_markdown(self.NAME))
        return markdown_html(text.format_map(self.HELP_VALUES) if self.HELP_VALUES else text)

    # --- outputs: what a cancelled run must take back -------------------------------------

    def parameterAsSink(self, parameters, name, context, *args, **kwargs):  # noqa: N802 (QGIS API)
        """Processing's sink, remembered so a cancelled or failed run removes it (QGIS has already replaced
        whatever was at that destination)."""
        sink, dest = super().parameterAsSink(parameters, name, context, *args, **kwargs)
        getattr(self, '_outputs', []).append((dest, False))
        return sink, dest

    def parameterAsFileOutput(self, parameters, name, context):  # noqa: N802 (QGIS API)
        """The output file path, remembered (with whether a file was already there, which is then left alone)."""
        path = super().parameterAsFileOutput(parameters, name, context)
        getattr(self, '_outputs', []).append((path, os.path.exists(path)))
        return path

    def check_cancelled(self, feedback):
        """Stop here, before writing, when the user cancelled."""
        if feedback.isCanceled():
            raise QgsProcessingException(self.tr('Cancelled: no output was written.'))

    # --- adapters to core/ ------------------------------------------------------------

    def call_core(self, feedback, fn, *args, **kwargs):
        """Run a core function with progress/cancel wired to ``feedback``; core errors become
        QgsProcessingException with the analyst-facing message."""
        kwargs.setdefault('cancelled', feedback.isCanceled)
        try:
            return fn(*args, **kwargs)
        except Cancelled:
            raise QgsProcessingException(self.tr('Cancelled: no output was written.'))
        except CargoWatchError as e:
            raise QgsProcessingException(str(e))

    def raster_param(self, parameters, name, context, bands=None):
        """The raster parameter ``name`` opened by core (metric grid), or a clear exception."""
        layer = self.parameterAsRasterLayer(parameters, name, context)
        if layer is None:
            raise QgsProcessingException(self.tr('{}: the raster could not be loaded. Is the file complete and in a '
                                                 'format GDAL reads?').format(name))
        if layer.providerType() != 'gdal':
            raise QgsProcessingException(self.tr('{}: "{}" is served by the {} provider; save it to a GeoTIFF first '
                                                 '(Export ▸ Save As).').format(
                                                     name, layer.name(), layer.providerType()))
        path = layer.source().split('|')[0]
        if not layer.crs().isValid():
            raise QgsProcessingException(self.tr('{}: the raster {} has no coordinate reference system. Assign one '
                                                 '(Raster ▸ Projections ▸ Assign Projection) so sizes can be '
                                                 'measured in metres.').format(name, os.path.basename(path)))
        try:
            return core_raster.open_raster(path, bands=bands)
        except CargoWatchError as e:
            raise QgsProcessingException(str(e))

    def add_raster_inputs(self, input_help, aoi_help, bands_advanced=False):
        """The INPUT raster, its optional BANDS (red, green, blue or one grey band) and an optional AOI."""
        p = QgsProcessingParameterRasterLayer('INPUT', self.tr('Input raster'))
        p.setHelp(self.tr(input_help))
        self.addParameter(p)
        p = QgsProcessingParameterBand('BANDS', self.tr('Red, green, blue bands (optional)'), None, 'INPUT',
                                       optional=True, allowMultiple=True)
        p.setHelp(self.tr('Three band numbers in the order red, green, blue (or one band for a grey image). '
                          'Leave empty to use the bands labelled red/green/blue, else 1-3, else band 1.'))
        if bands_advanced:
            p.setFlags(p.flags() | Q.ADVANCED)
        self.addParameter(p)
        p = QgsProcessingParameterFeatureSource('AOI', self.tr('Area of interest (optional)'), [Q.SRC_POLYGON],
                                                optional=True)
        p.setHelp(self.tr(aoi_help))
        self.addParameter(p)

    def add_min_confidence(self, what):
        """MIN_CONFIDENCE: keep only detections at least this confident (the counts follow)."""
        p = QgsProcessingParameterNumber('MIN_CONFIDENCE', self.tr('Minimum confidence'), Q.DOUBLE, 0.0,
                                         minValue=0.0, maxValue=1.0)
        p.setHelp(self.tr('Keep only {} whose confidence is at least this (0 = all the detector keeps); the counts '
                          'are of the kept ones. 0.9 trades recall for far fewer false alarms.').format(what))
        self.addParameter(p)

    def min_confidence(self, parameters, context):
        """The MIN_CONFIDENCE parameter (add_min_confidence)."""
        return self.parameterAsDouble(parameters, 'MIN_CONFIDENCE', context)

    def confident(self, parameters, context, records):
        """The records at or above MIN_CONFIDENCE."""
        floor = self.min_confidence(parameters, context)
        return [d for d in records if d['confidence'] >= floor]

    def sun_azimuth(self, parameters, name, context, raster, feedback):
        """The sun's azimuth (degrees clockwise from north): the number parameter ``name`` when set, else what the
        raster's own metadata says (core.raster.sun_azimuth; the log says so), else None."""
        if parameters.get(name) not in (None, ''):
            return self.parameterAsDouble(parameters, name, context) % 360.0
        az, key = core_raster.sun_azimuth(raster.path)
        if az is not None:
            feedback.pushInfo(self.tr('The metadata of {} gives the sun\'s azimuth ({}): {:g} degrees.').format(
                os.path.basename(str(raster.path)), key, az))
        return az

    def raster_inputs(self, parameters, context, feedback, grey_warning=None):
        """(core Raster, core Aoi or None) from the parameters of add_raster_inputs, or a clear exception;
        ``grey_warning`` is pushed as a warning when the raster is read as one (panchromatic) band."""
        bands = self.parameterAsInts(parameters, 'BANDS', context) or None
        if bands is not None and len(bands) not in (1, 3):
            raise QgsProcessingException(self.tr('Give three bands (red, green, blue) or one band, not {}.').format(
                len(bands)))
        raster = self.raster_param(parameters, 'INPUT', context, bands=bands)
        aoi = self.aoi_param(parameters, 'AOI', context, raster)
        if aoi is not None and aoi.pixel_window is None:
            raise QgsProcessingException(self.tr('The area of interest does not overlap the raster.'))
        feedback.pushInfo((self.tr('Ground resolution {:.2f} m; bands {}; reprojected to UTM') if raster.warped else
                           self.tr('Ground resolution {:.2f} m; bands {}')).format(raster.gsd, list(raster.bands)))
        if grey_warning and not raster.is_colour:
            feedback.pushWarning(self.tr(grey_warning))
        return raster, aoi

    def aoi_param(self, parameters, name, context, raster):
        """The polygon source ``name`` as a core Aoi on the raster's grid, or None if not given."""
        source = self.parameterAsSource(parameters, name, context)
        if source is None:
            return None
        wkts = [f.geometry().asWkt() for f in source.getFeatures() if f.hasGeometry()]
        if not wkts:
            raise QgsProcessingException(self.tr('The area of interest layer has no polygons.'))
        return core_raster.Aoi(wkts, source.sourceCrs().toWkt(), raster)

    def write_polygons(self, parameters, name, context, feedback, spec, records, crs):
        """Create the sink ``name`` with fields ``spec`` [(field, kind)] and write one polygon per record
        (``geometry`` corners, attributes by field name); returns the destination. Called only once the
        core work is done, so a cancelled run leaves no half-written output."""
        self.check_cancelled(feedback)
        fields = QgsFields()
        for field, kind in spec:
            fields.append(qfield(field, kind))
        sink, dest = self.parameterAsSink(parameters, name, context, fields, Q.WKB_POLYGON, crs)
        if sink is None:
            raise QgsProcessingException(self.invalidSinkError(parameters, name))
        for d in records:
            f = QgsFeature(fields)
            f.setGeometry(polygon_geometry(d['geometry']))
            values = (d.get(field) for field, _ in spec)
            f.setAttributes([v.item() if hasattr(v, 'item') else v for v in values])  # numpy scalars too
            if not sink.addFeature(f, Q.FAST_INSERT):
                raise QgsProcessingException(self.writeFeatureError(sink, parameters, name))
        return dest

    @staticmethod
    def crs_of(raster):
        """The QGIS CRS of the core raster's working grid (UTM when the source was geographic)."""
        return QgsCoordinateReferenceSystem.fromWkt(raster.srs_wkt)

    @staticmethod
    def transform(src_crs, dst_crs):
        return QgsCoordinateTransform(src_crs, dst_crs, QgsProject.instance().transformContext())
