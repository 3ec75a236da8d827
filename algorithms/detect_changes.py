"""cargowatch:detectchanges — Objects (storage pits or containers) appeared or removed between two dates."""
from qgis.core import (QgsProcessingException, QgsProcessingOutputNumber, QgsProcessingParameterEnum,
                       QgsProcessingParameterFeatureSink, QgsProcessingParameterFeatureSource,
                       QgsProcessingParameterNumber, QgsProcessingParameterRasterLayer)

from ..compat import Q
from .base import CargoWatchAlgorithm, progress_cb
from .count_containers import AUTO, MODELS, VIEWS, chosen_views
from ..core import change as core
from ..core import pits as core_pits

KINDS = ('containers', 'pits')
PIT_FIELDS = (('length_m', 'double'), ('width_m', 'double'), ('area_m2', 'double'), ('orientation_deg', 'double'),
              ('fresh_soil', 'double'), ('confidence', 'double'))
CONTAINER_FIELDS = (('size_class', 'string'), ('length_m', 'double'), ('width_m', 'double'), ('containers', 'int'),
                    ('teu', 'int'), ('colour', 'string'), ('r', 'int'), ('g', 'int'), ('b', 'int'),
                    ('confidence', 'double'), ('on_ship', 'int'))

class DetectChanges(CargoWatchAlgorithm):
    NAME = 'detectchanges'
    DISPLAY = 'Objects appeared or removed between two dates'
    GROUP = 'imagery'

    BEFORE, AFTER, KIND, TOLERANCE, AOI, SENSITIVITY, MODEL, VIEWS, SUNS, OUTPUT = (
        'BEFORE', 'AFTER', 'KIND', 'TOLERANCE', 'AOI', 'SENSITIVITY', 'MODEL', 'VIEWS',
        ('SUN_AZIMUTH_BEFORE', 'SUN_AZIMUTH_AFTER'), 'OUTPUT')
    NEW_COUNT, REMOVED_COUNT, BEFORE_COUNT, AFTER_COUNT, KEPT_COUNT, SHIFT_X, SHIFT_Y = (
        'NEW_COUNT', 'REMOVED_COUNT', 'BEFORE_COUNT', 'AFTER_COUNT', 'KEPT_COUNT', 'SHIFT_X', 'SHIFT_Y')

    def initAlgorithm(self, config=None):  # noqa: N802 (QGIS API)
        p = QgsProcessingParameterRasterLayer(self.BEFORE, self.tr('Before (first date)'))
        p.setHelp(self.tr('Image of the first date.'))
        self.addParameter(p)
        p = QgsProcessingParameterRasterLayer(self.AFTER, self.tr('After (second date)'))
        p.setHelp(self.tr('Image of the second date, same place; grid, resolution and CRS may differ.'))
        self.addParameter(p)
        p = QgsProcessingParameterEnum(self.KIND, self.tr('Objects'), options=[self.tr(k) for k in KINDS],
                                       defaultValue=1)
        p.setHelp(self.tr('Which objects to compare: shipping containers or storage pits.'))
        self.addParameter(p)
        p = QgsProcessingParameterNumber(self.TOLERANCE, self.tr('Tolerance (m)'),
                                         Q.DOUBLE, core.TUNING.tolerance_m, minValue=0.1,
                                         maxValue=100.0)
        p.setHelp(self.tr('Largest distance, after correcting the global misregistration, between the two '
                          'positions of the same object.'))
        self.addParameter(p)
        p = QgsProcessingParameterFeatureSource(self.AOI, self.tr('Area of interest (optional)'),
                                                [Q.SRC_POLYGON], optional=True)
        p.setHelp(self.tr('Compare only inside these polygons.'))
        self.addParameter(p)
        p = QgsProcessingParameterNumber(self.SENSITIVITY, self.tr('Detector sensitivity'),
                                         Q.DOUBLE, 0.5, minValue=0.0, maxValue=1.0)
        p.setHelp(self.tr('Sensitivity of the detector on both dates (0 strict .. 1 permissive).'))
        p.setFlags(p.flags() | Q.ADVANCED)
        self.addParameter(p)
        p = QgsProcessingParameterEnum(self.MODEL, self.tr('Container model'), options=[self.tr(t) for _, t in MODELS],
                                       defaultValue=0)
        p.setHelp(self.tr('The network that finds the containers on both dates, as in Count shipping containers '
                          '(not used for pits).'))
        p.setFlags(p.flags() | Q.ADVANCED)
        self.addParameter(p)
        p = QgsProcessingParameterEnum(self.VIEWS, self.tr('Views of the images'),
                                       options=[self.tr(t) for _, t in VIEWS], defaultValue=AUTO)
        p.setHelp(self.tr('How many turns and mirrors of each image the container network sees, averaged, as in '
                          'Count shipping containers (not used for pits); Auto judges by the larger image, so that '
                          'both dates are seen alike.'))
        p.setFlags(p.flags() | Q.ADVANCED)
        self.addParameter(p)
        for name, date in zip(self.SUNS, ('first', 'second')):
            p = QgsProcessingParameterNumber(name, self.tr("Sun's azimuth on the {} date (degrees from north)").format(
                date), Q.DOUBLE, optional=True, minValue=0.0, maxValue=360.0)
            p.setHelp(self.tr('As in Count shipping containers, from each image\'s metadata (empty: read from the '
                              'image\'s own metadata when GDAL finds it there): with both known and one view, the '
                              'model\'s sun-turned twin finds the containers on both dates, each image turned by its '
                              'own sun (not used for pits).'))
            p.setFlags(p.flags() | Q.ADVANCED)
            self.addParameter(p)
        p = QgsProcessingParameterFeatureSink(self.OUTPUT, self.tr('Changes'),
                                              Q.SRC_POLYGON)
        p.setHelp(self.tr('Detections of both dates with their status: new, removed or kept.'))
        self.addParameter(p)
        for name, label in ((self.NEW_COUNT, 'New objects'), (self.REMOVED_COUNT, 'Removed objects'),
                            (self.BEFORE_COUNT, 'Objects on the first date'),
                            (self.AFTER_COUNT, 'Objects on the second date'), (self.KEPT_COUNT, 'Objects kept'),
                            (self.SHIFT_X, 'Estimated misregistration east (m)'),
                            (self.SHIFT_Y, 'Estimated misregistration north (m)')):
            self.addOutput(QgsProcessingOutputNumber(name, self.tr(label)))

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802 (QGIS API)
        kind = KINDS[self.parameterAsEnum(parameters, self.KIND, context)]
        tol = self.parameterAsDouble(parameters, self.TOLERANCE, context)
        sens = self.parameterAsDouble(parameters, self.SENSITIVITY, context)
        before = self.raster_param(parameters, self.BEFORE, context)
        after = self.raster_param(parameters, self.AFTER, context)
        if kind == 'containers':
            from ..core import containers as core_containers
            for r in (before, after):
                try:
                    core_containers.check_gsd(r.gsd)
                except core_containers.CargoWatchError as e:
                    raise QgsProcessingException(str(e))
            model = MODELS[self.parameterAsEnum(parameters, self.MODEL, context)][0]
            views = chosen_views(self, parameters, context, feedback, before, after)
            suns = [self.sun_azimuth(parameters, n, context, r, feedback) for n, r in zip(self.SUNS, (before, after))]
            both = None not in suns
            params, params_after = (core_containers.ContainerParams(
                sensitivity=sens, views=views, sun_azimuth=sun if both else None,
                model=core_containers.counting_model(model, views, sun if both else None)) for sun in suns)
            if core_containers.uses_sun(params.model):
                feedback.pushInfo(self.tr('The sun stood at {:g} and {:g} degrees: the {} network finds the '
                                          'containers, each image turned by its own sun.').format(
                    *suns, core_containers.LABELS[params.model]))
            elif suns != [None, None]:
                feedback.pushInfo(self.tr('The sun\'s azimuth is used only when both dates have theirs, with one '
                                          'view: not used here.'))
            fields_def = CONTAINER_FIELDS
        else:
            params, params_after = core_pits.PitParams(sensitivity=sens), None
            fields_def = PIT_FIELDS
        aoi_wkts, aoi_crs = None, None
        source = self.parameterAsSource(parameters, self.AOI, context)
        if source is not None:
            aoi_wkts = [f.geometry().asWkt() for f in source.getFeatures() if f.hasGeometry()]
            if not aoi_wkts:
                raise QgsProcessingException(self.tr('The area of interest layer has no polygons.'))
            aoi_crs = source.sourceCrs().toWkt()
        feedback.pushInfo(self.tr('Before: {:.2f} m/pixel; after: {:.2f} m/pixel; comparing {}.').format(
            before.gsd, after.gsd, kind))
        records, info = self.call_core(feedback, core.detect_changes, before, after, kind=kind, tolerance=tol,
                                       params=params, params_after=params_after, aoi_wkts=aoi_wkts,
                                       aoi_srs_wkt=aoi_crs, progress=progress_cb(feedback, 0, 95))
        spec = [('status', 'string'), ('shift_m', 'double')] + list(fields_def)
        dest = self.write_polygons(parameters, self.OUTPUT, context, feedback, spec, records, self.crs_of(after))

        def n(status):
            sel = [d for d in records if d['status'] in status]
            if kind == 'containers':
                return int(sum(int(d.get('containers') or 1) for d in sel))
            return len(sel)
        res = {self.OUTPUT: dest, self.NEW_COUNT: n(('new',)), self.REMOVED_COUNT: n(('removed',)),
               self.KEPT_COUNT: n(('kept',)), self.BEFORE_COUNT: n(('kept', 'removed')),
               self.AFTER_COUNT: n(('kept', 'new')), self.SHIFT_X: round(info['shift'][0], 2),
               self.SHIFT_Y: round(info['shift'][1], 2)}
        how = (f"from the {info['shift_source']}; {info['shift_pairs']} pairs of detections agree"
               if info['shift_source'] != 'none' else 'none found, no shift applied')
        feedback.pushInfo(self.tr('{} new, {} removed, {} kept; estimated misregistration {:+.1f} m east, {:+.1f} m '
                                  'north ({}).').format(res[self.NEW_COUNT], res[self.REMOVED_COUNT],
                                                        res[self.KEPT_COUNT], info['shift'][0], info['shift'][1], how))
        if info.get('cross_checked'):
            feedback.pushInfo(self.tr('{} of the objects one date\'s detection left unpaired are kept: the other '
                                      'image still shows them (second look).').format(info['cross_checked']))
        feedback.setProgress(100)
        return res
