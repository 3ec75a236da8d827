"""cargowatch:countcontainers — Count shipping containers on very-high-resolution imagery."""
from qgis.core import (QgsProcessingException, QgsProcessingOutputNumber, QgsProcessingParameterBoolean,
                       QgsProcessingParameterEnum, QgsProcessingParameterFeatureSink, QgsProcessingParameterNumber)

from .base import CargoWatchAlgorithm, progress_cb
from ..compat import Q
from ..core import containers as core
from ..core import nets as core_nets


MODELS = (('standard', 'Standard (faster)'), ('wide', 'Wide (finds more, invents more; about 2 x the time)'))
VIEWS = ((1, 'One (fastest)'), (2, 'Two: the image and its half turn (2 x the time)'),
         (4, 'Four quarter turns (4 x the time)'),
         (8, 'Eight: the quarter turns of the image and of its mirror (8 x the time)'),
         (0, 'Auto: four up to 25 million pixels, else one'))
AUTO = len(VIEWS) - 1     # the default: appended, so that saved models and scripts keep their choices


def chosen_views(alg, parameters, context, feedback, *rasters, aoi=None):
    """The number of views asked for (VIEWS parameter); Auto resolved over ``rasters`` (core.auto_views), and said."""
    views = VIEWS[alg.parameterAsEnum(parameters, alg.VIEWS, context)][0]
    if views:
        return views
    views = core.auto_views(*rasters, aoi=aoi)
    feedback.pushInfo(alg.tr('Views: Auto chose {} (four for an image or area of up to {:g} million pixels, one '
                             'above).').format(views, core.AUTO_VIEWS_PX / 1e6))
    return views


FIELDS = (('size_class', 'string'), ('length_m', 'double'), ('width_m', 'double'), ('containers', 'int'),
          ('teu', 'int'), ('colour', 'string'), ('r', 'int'), ('g', 'int'), ('b', 'int'),
          ('confidence', 'double'), ('angle_deg', 'double'), ('on_ship', 'int'))


def own_sentence():
    """The help's sentence on what the model finds at the default sensitivity on the project's own yards."""
    own = core.own_figures(None, 0.5)
    if not own:
        return ''
    f = own[2]
    return (f"On new yards of the project's own generator (0.3-0.8 m) it finds {f['found_pct']:.0f} % of "
            f"the container tops at 0.5 with a precision of {f['precision']:.2f} (a count {f['count_error_pct']:+.0f} "
            f"% off) and {f['false_per_km2']:.0f} false containers per km² where there are none; the log gives the "
            "figures for your raster's resolution, docs/benchmarks.md all of them.")


class CountContainers(CargoWatchAlgorithm):
    NAME = 'countcontainers'
    DISPLAY = 'Count shipping containers'
    GROUP = 'imagery'
    HELP_VALUES = {'min_gsd': core.MIN_GSD, 'max_gsd': core.MAX_GSD, 'own': own_sentence()}

    LEN20, LEN40, WIDTH, SENSITIVITY, MODEL, VIEWS, SUN, LONE, OUTPUT, COUNT, TEU = (
        'LENGTH_20FT', 'LENGTH_40FT', 'WIDTH', 'SENSITIVITY', 'MODEL', 'VIEWS', 'SUN_AZIMUTH', 'DROP_LONE', 'OUTPUT',
        'COUNT', 'TEU')

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
        p = QgsProcessingParameterEnum(self.MODEL, self.tr('Model'), options=[self.tr(t) for _, t in MODELS],
                                       defaultValue=0)
        p.setHelp(self.tr('Standard: the faster network. Wide: a network twice as wide, in about twice the time; on '
                          'ports it finds more of the containers, but where there are none it reports more false '
                          'ones. See docs/benchmarks.md.'))
        self.addParameter(p)
        p = QgsProcessingParameterEnum(self.VIEWS, self.tr('Views of the image'),
                                       options=[self.tr(t) for _, t in VIEWS], defaultValue=AUTO)
        p.setHelp(self.tr('The network looks at each part of the image as it is, or also turned and mirrored, and '
                          'the views are averaged: each view costs one more pass, and each model has its own '
                          'threshold for each number of views. On the project\'s own yards more views find more '
                          'containers and fewer false ones (docs/benchmarks.md); worth it for a port or a yard, less '
                          'so for a whole scene. Auto (the default) takes four views for a raster, or an area of '
                          'interest, of up to 25 million pixels (a port or a yard: seconds) and one above. With '
                          'more than one view the sun\'s azimuth is not used.'))
        self.addParameter(p)
        p = QgsProcessingParameterNumber(self.SUN, self.tr("Sun's azimuth (degrees from north)"), Q.DOUBLE,
                                         optional=True, minValue=0.0, maxValue=360.0)
        p.setHelp(self.tr('Where the sun stood when the image was taken, in degrees clockwise from north, as the '
                          'image\'s metadata gives it (meanSunAz, SUN_AZIMUTH, view:sun_azimuth). With one view, a '
                          'twin of the chosen network trained on images turned so that shadows fall one way counts '
                          'instead: it sees each block turned by this azimuth and tells a box\'s '
                          'shadow from a dark box better (on the project\'s own yards, a little better in all). '
                          'Empty: read from the image\'s own metadata when GDAL finds it there (a Maxar .IMD beside '
                          'the file, a DIMAP) or from a STAC item saved beside the image, else unknown.'))
        self.addParameter(p)
        p = QgsProcessingParameterBoolean(self.LONE, self.tr('Drop lone boxes'), defaults.groups, optional=True)
        p.setHelp(self.tr('Keep a box only where at least two others stand within {:g} m of it (a row, a block, a '
                          'train) or where the network is clearly sure of it (its threshold + {:g}). What stands '
                          'alone, a truck, a shed, a tree with its shadow, is the commonest false container away '
                          'from the yards; on the project\'s own patches without containers this drops about 40 % '
                          'of the false ones for about the same F1 where there are containers, but a real '
                          'container alone (on a truck, in a field) or in a row whose neighbours were missed (coarse '
                          'or grey imagery) is dropped too. Without it, the log says how many boxes it would drop. '
                          'See docs/containers.md.').format(core.GROUP_M,
                                                                                           core.GROUP_MARGIN))
        self.addParameter(p)
        self.add_min_confidence('containers')
        p = QgsProcessingParameterFeatureSink(self.OUTPUT, self.tr('Containers'), Q.SRC_POLYGON)
        p.setHelp(self.tr('One oriented rectangle per visible container top.'))
        self.addParameter(p)
        self.addOutput(QgsProcessingOutputNumber(self.COUNT, self.tr('Number of containers')))
        self.addOutput(QgsProcessingOutputNumber(self.TEU, self.tr('Twenty-foot equivalent units (TEU)')))

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802 (QGIS API)
        raster, aoi = self.raster_inputs(parameters, context, feedback)
        try:
            core.check_gsd(raster.gsd)
        except core.RasterError as e:
            raise QgsProcessingException(str(e))
        model = MODELS[self.parameterAsEnum(parameters, self.MODEL, context)][0]
        views = chosen_views(self, parameters, context, feedback, raster, aoi=aoi)
        sun = self.sun_azimuth(parameters, self.SUN, context, raster, feedback)
        params = core.ContainerParams(
            len20=self.parameterAsDouble(parameters, self.LEN20, context),
            len40=self.parameterAsDouble(parameters, self.LEN40, context),
            width=self.parameterAsDouble(parameters, self.WIDTH, context),
            sensitivity=self.parameterAsDouble(parameters, self.SENSITIVITY, context),
            model=core.counting_model(model, views, sun), views=views, sun_azimuth=sun,
            groups=self.parameterAsBool(parameters, self.LONE, context))
        if params.len40 <= params.len20 or params.width >= params.len20:
            raise QgsProcessingException(self.tr('Container sizes must satisfy width < 20 ft length < 40 ft length.'))
        self.expect(raster, params, feedback)
        if core.uses_sun(params.model):
            feedback.pushInfo(self.tr('The sun stood at {:g} degrees: the {} network counts, each block turned so '
                                      'that its shadows fall one way, at its threshold {:.3f}.').format(
                sun, core.LABELS[params.model], params.threshold))
        elif sun is not None:
            feedback.pushInfo(self.tr('The sun\'s azimuth is used with one view only: not used here.'))
        if params.views > 1:
            feedback.pushInfo(self.tr('Each block is seen {} times, turned and mirrored, and the views averaged '
                                      '(about {} times the time of one view), at the threshold calibrated for them: '
                                      '{:.3f}.').format(params.views, params.views, params.threshold))
        older = core_nets.older_opencv()
        if older:
            feedback.pushInfo(self.tr('OpenCV {}: OpenCV 5 counts about 1.5 times as fast (python -m pip install '
                                      '--no-deps opencv-python-headless, then restart QGIS).').format(older))
        if params.groups:
            feedback.pushInfo(self.tr('Lone boxes dropped: a box counts with at least two others within {:g} m, or '
                                      'alone at a centre probability of at least {:.3f}.').format(
                core.GROUP_M, params.threshold + core.GROUP_MARGIN))
        found = self.call_core(feedback, core.count_columns, raster, params, aoi=aoi,
                               progress=progress_cb(feedback, 0, 95))
        found = core.select(found, core.confidence(found) >= self.min_confidence(parameters, context))
        dest = self.write_polygons(parameters, self.OUTPUT, context, feedback, FIELDS, core.records(found, params),
                                   self.crs_of(raster))
        count, teu = core.totals(found)
        feedback.pushInfo(self.tr('{} containers ({} TEU).').format(count, teu))
        lone = int(found['lone'].sum())
        if lone:
            feedback.pushInfo(self.tr('{} of them stand alone or in pairs (not two others within {:g} m) at a centre '
                                      'probability under {:.3f}: about half the false containers on real photos without '
                                      'containers stand so (docs/benchmarks.md); Drop lone boxes leaves them out.').format(
                lone, core.GROUP_M, params.threshold + core.GROUP_MARGIN))
        feedback.setProgress(100)
        return {self.OUTPUT: dest, self.COUNT: count, self.TEU: teu}

    def expect(self, raster, params, feedback):
        """Tell what the model found on the project's own generated yards like this raster (its resolution, or
        grey); a warning for a 1-band or coarse raster, where it finds fewer."""
        grey, coarse = not raster.is_colour, raster.gsd > 0.65
        text = (self.tr('A 1-band (panchromatic) raster: in grey, dark container roofs look like the asphalt or '
                        'shadows around them and touching roofs of equal grey merge, so the count is less reliable '
                        '(low on some yards, high on others): use a colour or pan-sharpened image of the same date '
                        'if you have one.') if grey else
                self.tr('At {:.2f} m per pixel a container is under 4 pixels wide and touching containers are '
                        'rarely told apart.').format(raster.gsd) if coarse else '')
        own = core.own_figures(raster.gsd, params.sensitivity, grey, params.model)
        if own:
            kind, s, f = own
            text += ' ' + self.tr('On new yards of the project\'s own generator ({} imagery) the {} model found '
                                  '{:.0f} % of the container tops at sensitivity {:g} with one view, with a precision '
                                  'of {:.2f}: a count {:+.0f} % off. {} Other imagery differs: see '
                                  'docs/benchmarks.md.').format(
                kind, core.LABELS[params.model], f['found_pct'], s, f['precision'],
                f['count_error_pct'],
                self.tr('Raise Sensitivity to find more (and more false ones).') if f['count_error_pct'] < 0 else
                self.tr('Lower Sensitivity for fewer false ones.'))
        if text:
            (feedback.pushWarning if grey or coarse else feedback.pushInfo)(text.strip())
