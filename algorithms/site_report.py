"""cargowatch:sitereport — Site evidence report: one self-contained HTML file for an editor."""
import datetime as _dt
import os
import sys

import numpy as np
from qgis.core import (Qgis, QgsApplication, QgsCoordinateReferenceSystem, QgsDistanceArea, QgsFeature, QgsGeometry,
                       QgsMapLayer, QgsPointXY, QgsProcessingException, QgsProcessingMultiStepFeedback,
                       QgsProcessingOutputNumber, QgsProcessingParameterEnum, QgsProcessingParameterFeatureSource,
                       QgsProcessingParameterField, QgsProcessingParameterFileDestination,
                       QgsProcessingParameterMultipleLayers, QgsProcessingParameterNumber, QgsProcessingParameterString,
                       QgsProcessingUtils, QgsVectorLayer)

from .ais_layers import WGS84, read_sites
from .base import CargoWatchAlgorithm
from ..compat import Q, qenum
from ..core import raster as core_raster
from ..core import report as core
from ..core.errors import CargoWatchError

POLYGON = qenum('Qgis.GeometryType.Polygon', 'QgsWkbTypes.GeometryType.PolygonGeometry')
SRC_RASTER = qenum('Qgis.ProcessingSourceType.Raster', 'QgsProcessing.SourceType.TypeRaster')
OBJECTS = ('containers', 'storage pits', 'containers and storage pits')
PLUGIN_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

def _iso(value):
    """A field value for a table: QDateTime (UTC) as 'YYYY-MM-DD HH:MM', NULL as None."""
    if value is None or (hasattr(value, 'isNull') and value.isNull()):
        return None
    if hasattr(value, 'toString') and hasattr(value, 'isValid'):
        return value.toString('yyyy-MM-dd HH:mm')
    return value


class SiteReport(CargoWatchAlgorithm):
    NAME = 'sitereport'
    DISPLAY = 'Site evidence report'
    GROUP = 'imagery'

    def initAlgorithm(self, config=None):  # noqa: N802 (QGIS API)
        p = QgsProcessingParameterFeatureSource('SITE', self.tr('Site (polygon layer or sites GeoPackage)'),
                                                [Q.SRC_POLYGON])
        p.setHelp(self.tr('Polygons with a name field, e.g. the "sites" layer of the CargoWatch sites GeoPackage.'))
        self.addParameter(p)
        p = QgsProcessingParameterString('SITE_NAME', self.tr('Site name'), optional=True)
        p.setHelp(self.tr('The site to report on (case is ignored); empty when the layer holds one polygon.'))
        self.addParameter(p)
        p = QgsProcessingParameterField('NAME_FIELD', self.tr('Site name field'), parentLayerParameterName='SITE',
                                        optional=True)
        p.setHelp(self.tr('Empty: a field called name (or site, port, label; else the first text field).'))
        p.setFlags(p.flags() | Q.ADVANCED)
        self.addParameter(p)
        p = QgsProcessingParameterMultipleLayers('RASTERS', self.tr('Images (one per date)'), SRC_RASTER,
                                                 optional=True)
        p.setHelp(self.tr('Rasters of the site on one or more dates (dated by Dates, the file name or the TIFF '
                          'DateTime tag).'))
        self.addParameter(p)
        p = QgsProcessingParameterString('DATES', self.tr('Dates of the images (optional)'), optional=True)
        p.setHelp(self.tr('Comma-separated YYYY-MM-DD, one per image in the same order; empty = from the file '
                          'names or the TIFF DateTime tag.'))
        self.addParameter(p)
        p = QgsProcessingParameterEnum('OBJECTS', self.tr('Objects to count'), options=[self.tr(o) for o in OBJECTS],
                                       defaultValue=0)
        p.setHelp(self.tr('Run the container counter, the storage-pit counter, or both on every image.'))
        self.addParameter(p)
        p = QgsProcessingParameterFeatureSource('POSITIONS', self.tr('AIS positions (optional)'), [Q.SRC_POINT],
                                                optional=True)
        p.setHelp(self.tr('Output of Import AIS positions: port calls, voyages and dark periods at the site.'))
        self.addParameter(p)
        p = QgsProcessingParameterNumber('NEAR_NM', self.tr('Dark period near the site within (nm)'), Q.DOUBLE,
                                         2.0, minValue=0.0)
        p.setHelp(self.tr('A dark period is listed when its last position before or first after is this close to '
                          'the site (0 = inside it).'))
        self.addParameter(p)
        p = QgsProcessingParameterNumber('CHIPS', self.tr('Chips'), Q.INTEGER, 12, minValue=0, maxValue=100)
        p.setHelp(self.tr('Number of detections of the latest image shown as image chips.'))
        p.setFlags(p.flags() | Q.ADVANCED)
        self.addParameter(p)
        p = QgsProcessingParameterFileDestination('OUTPUT', self.tr('Report'), self.tr('HTML files (*.html)'))
        p.setHelp(self.tr('The self-contained HTML file.'))
        self.addParameter(p)
        for key, label in (('CONTAINER_COUNT', 'Containers on the latest counted image'),
                           ('TEU', 'TEU on the latest counted image'),
                           ('PIT_COUNT', 'Pits on the latest counted image'),
                           ('IMAGES_COUNTED', 'Images counted'), ('CALL_COUNT', 'Port calls at the site'),
                           ('VOYAGE_COUNT', 'Voyages to or from the site'),
                           ('GAP_COUNT', 'Dark periods near the site')):
            self.addOutput(QgsProcessingOutputNumber(key, self.tr(label)))

    # --- steps ------------------------------------------------------------------------------------

    def _polygons(self, parameters, context):
        """The site layer's polygon features as a memory layer (the sites GeoPackage also holds point sites),
        and the attributes of the others."""
        source = self.parameterAsSource(parameters, 'SITE', context)
        if source is None:
            raise QgsProcessingException(self.tr('Site: the polygon layer could not be loaded.'))
        layer = QgsVectorLayer('MultiPolygon', 'sites', 'memory')
        layer.setCrs(source.sourceCrs())
        layer.dataProvider().addAttributes(source.fields().toList())
        layer.updateFields()
        keep, others = [], []
        for f in source.getFeatures():
            g = f.geometry()
            if f.hasGeometry() and g.type() == POLYGON:
                g.convertToMultiType()
                f.setGeometry(g)
                keep.append(f)
            else:
                others.append([str(v).strip().lower() for v in f.attributes()])
        layer.dataProvider().addFeatures(keep)
        return layer, others

    def _site(self, parameters, context, feedback):
        self.sites_layer, others = self._polygons(parameters, context)
        wanted = (self.parameterAsString(parameters, 'SITE_NAME', context) or '').strip()
        if not self.sites_layer.featureCount() and not any(wanted.lower() in attrs for attrs in others):
            raise QgsProcessingException(self.tr('The site layer has no polygons.'))
        if wanted and any(wanted.lower() in attrs for attrs in others):
            raise QgsProcessingException(self.tr('The site "{}" has no outline (it is a point or has no geometry): '
                                                 'the report counts inside the site, so draw it as a polygon '
                                                 '(CargoWatch panel, or any polygon layer).').format(wanted))
        sites = read_sites(self, {'SITE': self.sites_layer, 'NAME_FIELD': parameters.get('NAME_FIELD')}, context,
                           feedback, key='SITE', name_key='NAME_FIELD', required=True)
        names = sites['names']
        if wanted:
            hits = [i for i, n in enumerate(names) if n.strip().lower() == wanted.lower()]
            if not hits:
                raise QgsProcessingException(self.tr('No site named "{}" in the site layer (sites: {}).').format(
                    wanted, ', '.join(names)))
        elif len(names) == 1:
            hits = [0]
        else:
            raise QgsProcessingException(self.tr('The site layer holds {} sites ({}): give the site name.').format(
                len(names), ', '.join(names[:10])))
        i = hits[0]
        geom = QgsGeometry.fromMultiPolygonXY([[[QgsPointXY(float(x), float(y)) for x, y in ring] for ring in poly]
                                               for poly in sites['polygons'][i]])
        area = QgsDistanceArea()
        area.setEllipsoid('WGS84')
        area.setSourceCrs(QgsCoordinateReferenceSystem(WGS84), context.transformContext())
        c = geom.centroid().asPoint()
        return {'name': names[i], 'geometry': geom, 'area_km2': area.measureArea(geom) / 1e6,
                'centre': (c.x(), c.y())}

    def _images(self, parameters, context):
        """[(date or None, label, path)] sorted by date (undated last, in the given order)."""
        from osgeo import gdal
        layers = self.parameterAsLayerList(parameters, 'RASTERS', context)
        text = self.parameterAsString(parameters, 'DATES', context) or ''
        given = [t.strip() for t in text.split(',')] if text.strip() else []
        if given and len(given) != len(layers):
            raise QgsProcessingException(self.tr('{} dates given for {} images: give one date per image, in the same '
                                                 'order, or none.').format(len(given), len(layers)))
        out = []
        for k, layer in enumerate(layers):
            path = layer.source().split('|')[0]
            if given:
                date = core.image_date(given[k]) if given[k] else None
                if given[k] and date is None:
                    raise QgsProcessingException(self.tr('"{}" is not a date (YYYY-MM-DD).').format(given[k]))
            else:
                ds = gdal.Open(path)
                date = core.image_date(path, ds.GetMetadataItem('TIFFTAG_DATETIME') if ds is not None else None)
            out.append((date, os.path.basename(path), path))
        return sorted(out, key=lambda t: (t[0] is None, t[0] or ''))

    def _count(self, alg_id, path, aoi, context, feedback):
        import processing
        res = processing.run(alg_id, {'INPUT': path, 'AOI': aoi, 'OUTPUT': 'TEMPORARY_OUTPUT'}, context=context,
                             feedback=feedback, is_child_algorithm=True)
        layer = QgsProcessingUtils.mapLayerFromString(res['OUTPUT'], context)
        kind_field = layer.fields().indexOf('size_class')
        found = []
        for f in layer.getFeatures():
            ring = f.geometry().constGet().exteriorRing()
            found.append({'corners': [(ring.xAt(j), ring.yAt(j)) for j in range(ring.numPoints() - 1)],
                          'kind': f[kind_field] if kind_field >= 0 else 'pit',
                          'confidence': float(f['confidence'])})
        return res, found

    def _date_section(self, site, image, kinds, aoi, context, feedback):
        """One image: counts inside the site, the map, and what the chips need; or the reason it was skipped."""
        date, label, path = image
        entry = {'date': date or 'undated', 'image': label, 'counts': {}, 'map': None, 'skipped': None}
        try:
            raster = core_raster.open_raster(path)
        except CargoWatchError as e:
            entry['skipped'] = str(e)
            return entry, None
        crs = self.crs_of(raster)
        geom = QgsGeometry(site['geometry'])
        geom.transform(self.transform(QgsCoordinateReferenceSystem(WGS84), crs))
        rings = [[(p.x(), p.y()) for p in ring] for poly in geom.asMultiPolygon() for ring in poly]
        window = core.site_window(raster, rings)
        if window is None:
            entry['skipped'] = 'the image does not cover the site.'
            return entry, None
        detections = []
        for kind in kinds:
            self._next_step()
            alg_id = 'cargowatch:countcontainers' if kind == 'containers' else 'cargowatch:countpits'
            try:
                res, found = self._count(alg_id, path, aoi, context, feedback)
            except QgsProcessingException as e:
                entry['skipped'] = f'{kind}: {e}'
                feedback.pushWarning(self.tr('{}: not counted ({}).').format(label, e))
                return entry, None
            if kind == 'containers':
                entry['counts'].update({'containers': res['COUNT'], 'TEU': res['TEU']})
            else:
                entry['counts']['pits'] = res['COUNT']
            detections += found
        try:
            rgb = core.read_rgb(raster, window)
        except CargoWatchError as e:
            entry['skipped'] = str(e)
            return entry, None
        entry['map'] = core.png(core.draw_map(rgb, raster, window, rings, detections))
        return entry, (raster, window, rgb, detections, entry['date'])

    def _recorded(self, parameters, context, name):
        """Observations recorded on the site when the site layer is a CargoWatch sites GeoPackage."""
        from ..core.site_store import SiteStore
        layer = self.parameterAsVectorLayer(parameters, 'SITE', context)
        path = layer.source().split('|')[0] if layer is not None else ''
        if not path.lower().endswith('.gpkg') or not os.path.isfile(path):
            return []
        try:
            with SiteStore(path, create=False, read_only=True) as store:
                fids = [s.fid for s in store.sites() if s.name.strip().lower() == name.strip().lower()]
                return store.observations(fids[0]) if fids else []
        except CargoWatchError:
            return []  # not a CargoWatch sites file: nothing recorded

    def _ais(self, parameters, context, feedback, name):
        import processing
        near = self.parameterAsDouble(parameters, 'NEAR_NM', context)
        common = {'INPUT': parameters['POSITIONS'], 'SITES': self.sites_layer,
                  'SITE_NAME': parameters.get('NAME_FIELD')}
        self._next_step()
        voy = processing.run('cargowatch:countvoyages', dict(common, OUTPUT='TEMPORARY_OUTPUT',
                                                             CALLS='TEMPORARY_OUTPUT'),
                             context=context, feedback=feedback, is_child_algorithm=True)
        self._next_step()
        gaps = processing.run('cargowatch:detectgaps', dict(common, OUTPUT='TEMPORARY_OUTPUT'), context=context,
                              feedback=feedback, is_child_algorithm=True)

        def rows(layer_id, keep, cols):
            layer = QgsProcessingUtils.mapLayerFromString(layer_id, context)
            return [[_iso(f[c]) for c in cols] for f in layer.getFeatures() if keep(f)]

        same = name.strip().lower()

        def at(v):
            return v is not None and str(v).strip().lower() == same

        calls = rows(voy['CALLS'], lambda f: at(f['site']), ('mmsi', 'name', 'arrive', 'depart', 'hours', 'points'))
        voyages = rows(voy['OUTPUT'], lambda f: at(f['from_site']) or at(f['to_site']) or any(
            at(s) for s in str(f['reachable_sites'] or '').split(';')),
            ('mmsi', 'name', 'from_site', 'to_site', 'depart', 'arrive', 'hours', 'observed', 'reachable_sites'))
        gap_rows = rows(gaps['OUTPUT'], lambda f: (at(f['site_before']) and f['site_before_nm'] <= near) or (
            at(f['site_after']) and f['site_after_nm'] <= near),
            ('mmsi', 'name', 'start', 'end', 'hours', 'distance_nm', 'implied_speed_kn', 'site_before',
             'site_before_nm', 'site_after', 'site_after_nm'))
        summary = {'Port calls at the site': len(calls),
                   'Voyages to or from the site (observed)': sum(1 for r in voyages if r[7] == 'yes'),
                   'Possible dark visits or voyages': sum(1 for r in voyages if r[7] == 'no'),
                   f'Dark periods within {near:g} nm': len(gap_rows)}
        return {'summary': summary,
                'calls': (('MMSI', 'vessel', 'arrive (UTC)', 'depart (UTC)', 'hours', 'positions'), calls),
                'voyages': (('MMSI', 'vessel', 'from', 'to', 'depart (UTC)', 'arrive (UTC)', 'hours', 'observed',
                             'reachable sites while dark'), voyages),
                'gaps': (('MMSI', 'vessel', 'start (UTC)', 'end (UTC)', 'hours', 'distance nm', 'implied speed kn',
                          'site before', 'nm', 'site after', 'nm'), gap_rows)}

    def _provenance(self, parameters, context, images):
        inputs = []
        for key in ('SITE', 'POSITIONS'):
            layer = self.parameterAsVectorLayer(parameters, key, context) if parameters.get(key) else None
            if layer is not None:
                inputs.append((key, layer.source()) + core.file_facts(layer.source().split('|')[0]))
        for date, label, path in images:
            inputs.append((f'image {date or "undated"}', path) + core.file_facts(path))
        params = []
        for p in self.parameterDefinitions():
            v = parameters.get(p.name())
            if isinstance(v, QgsMapLayer):
                v = v.source()
            elif isinstance(v, (list, tuple)):
                v = ', '.join(x.source() if isinstance(x, QgsMapLayer) else str(x) for x in v)
            params.append((p.name(), '' if v is None else str(v)))
        registry = QgsApplication.processingRegistry()
        for alg_id in ('cargowatch:countcontainers', 'cargowatch:countpits', 'cargowatch:countvoyages',
                       'cargowatch:detectgaps'):  # the steps run at their defaults
            step = registry.algorithmById(alg_id)
            if step is not None:
                params.append((f'{alg_id} (step)', ', '.join(
                    f'{d.name()}={d.defaultValue()}' for d in step.parameterDefinitions()
                    if not d.isDestination() and d.defaultValue() is not None)))
        for date, label, path in images:          # what the container step read from each image's metadata
            az, key = core_raster.sun_azimuth(path)
            if az is not None:
                params.append((f'image {date or "undated"}: the sun\'s azimuth', f'{az:g} degrees ({key} in its '
                               'metadata): its containers counted by the sun-turned network'))
        import cv2
        from osgeo import gdal
        version = '?'
        try:
            with open(os.path.join(PLUGIN_DIR, 'metadata.txt'), encoding='utf-8') as f:
                version = next((ln.split('=', 1)[1].strip() for ln in f if ln.startswith('version=')), '?')
        except OSError:
            pass
        versions = [('CargoWatch', version), ('QGIS', Qgis.QGIS_VERSION), ('GDAL', gdal.__version__),
                    ('NumPy', np.__version__), ('OpenCV', cv2.__version__), ('Python', sys.version.split()[0]),
                    ('algorithms', 'cargowatch:sitereport, countcontainers, countpits, countvoyages, detectgaps '
                                   '(default settings)')]
        return {'inputs': inputs, 'parameters': params, 'versions': versions,
                'generated': _dt.datetime.now(_dt.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802 (QGIS API)
        site = self._site(parameters, context, feedback)
        images = self._images(parameters, context)
        objects = self.parameterAsEnum(parameters, 'OBJECTS', context)
        kinds = (('containers',), ('pits',), ('containers', 'pits'))[objects]
        aoi = QgsVectorLayer(f'Polygon?crs={WGS84}', 'site', 'memory')
        f = QgsFeature()
        f.setGeometry(site['geometry'])
        aoi.dataProvider().addFeatures([f])
        has_ais = parameters.get('POSITIONS') not in (None, '')
        # one step per child run (the counters on every image, then the two AIS algorithms), one to write
        n_steps = len(images) * len(kinds) + 2 * has_ais + 1
        steps = QgsProcessingMultiStepFeedback(n_steps, feedback)
        counter = iter(range(n_steps))
        self._next_step = lambda: steps.setCurrentStep(next(counter))
        dates, latest = [], None
        for k, image in enumerate(images):
            if feedback.isCanceled():
                raise QgsProcessingException(self.tr('Cancelled: no output was written.'))
            feedback.pushInfo(self.tr('Image {}/{}: {} ({})').format(
                k + 1, len(images), image[1], image[0] or 'undated'))
            entry, view = self._date_section(site, image, kinds, aoi, context, steps)
            dates.append(entry)
            latest = view or latest
        chips = []
        if latest is not None:
            raster, window, rgb, detections, date = latest
            n = self.parameterAsInt(parameters, 'CHIPS', context)
            for d in core.sample(detections, n):
                img = core.chip(rgb, raster, window, d)
                if img is not None:
                    chips.append({'png': core.png(img), 'confidence': d['confidence'], 'date': date,
                                  'label': 'pit' if d['kind'] == 'pit' else str(d['kind'])})
        recorded = self._recorded(parameters, context, site['name'])
        series = []
        for key in ('containers', 'TEU', 'pits'):
            series.append((f'{key} (images)', [(d['date'], d['counts'][key]) for d in dates
                                               if key in d['counts'] and d['date'] != 'undated']))
            attr = key.lower()
            series.append((f'{key} (recorded)', [(o.date, getattr(o, attr)) for o in recorded
                                                 if getattr(o, attr) is not None]))
        chart = core.counts_chart_svg(series)
        ais = None
        if has_ais:
            if feedback.isCanceled():
                raise QgsProcessingException(self.tr('Cancelled: no output was written.'))
            ais = self._ais(parameters, context, steps, site['name'])
        steps.setCurrentStep(n_steps - 1)
        site_info = dict(site, source=self.parameterAsVectorLayer(parameters, 'SITE', context).source())
        page = core.build_html(site_info, dates, chips, chart, ais, self._provenance(parameters, context, images),
                               recorded=[(o.date, o.containers, o.teu, o.pits, o.source, o.note) for o in recorded])
        out = self.parameterAsFileOutput(parameters, 'OUTPUT', context)
        with open(out, 'w', encoding='utf-8') as fh:
            fh.write(page)
        feedback.setProgress(100)
        last = next((d for d in reversed(dates) if not d['skipped']), {'counts': {}})
        feedback.pushInfo(self.tr('Report written to {}').format(out))
        return {'OUTPUT': out, 'CONTAINER_COUNT': last['counts'].get('containers'), 'TEU': last['counts'].get('TEU'),
                'PIT_COUNT': last['counts'].get('pits'),
                'IMAGES_COUNTED': sum(1 for d in dates if not d['skipped']),
                'CALL_COUNT': len(ais['calls'][1]) if ais else None,
                'VOYAGE_COUNT': len(ais['voyages'][1]) if ais else None,
                'GAP_COUNT': len(ais['gaps'][1]) if ais else None}
