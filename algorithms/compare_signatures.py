"""cargowatch:comparesignatures — Compare container signatures (size class x colour mix) between sites."""
from qgis.core import (QgsFeature, QgsFields, QgsProcessingException, QgsProcessingOutputNumber,
                       QgsProcessingParameterFeatureSink, QgsProcessingParameterMultipleLayers,
                       QgsProcessingParameterString)

from ..compat import Q
from .base import CargoWatchAlgorithm, qfield
from ..core import signatures as core

class CompareSignatures(CargoWatchAlgorithm):
    NAME = 'comparesignatures'
    DISPLAY = 'Compare container signatures between sites'
    GROUP = 'imagery'

    LAYERS, NAMES, OUTPUT, PAIRS, SIMILARITY, COMMON = ('LAYERS', 'NAMES', 'OUTPUT', 'PAIRS', 'SIMILARITY',
                                                        'COMMON_SHARE')

    def initAlgorithm(self, config=None):  # noqa: N802 (QGIS API)
        p = QgsProcessingParameterMultipleLayers(self.LAYERS, self.tr('Container layers'),
                                                 Q.SRC_ANY_GEOMETRY)
        p.setHelp(self.tr('Two or more outputs of "Count shipping containers", one per site or date.'))
        self.addParameter(p)
        p = QgsProcessingParameterString(self.NAMES, self.tr('Names (optional, comma-separated)'), optional=True)
        p.setHelp(self.tr('One name per layer, in the same order, e.g. "Rajin 2023-05, Dunai 2023-06". '
                          'Default: the layer names.'))
        self.addParameter(p)
        p = QgsProcessingParameterFeatureSink(self.OUTPUT, self.tr('Mix'), Q.SRC_ANY)
        p.setHelp(self.tr('Share of each size class and colour in each layer (a table without geometry).'))
        self.addParameter(p)
        p = QgsProcessingParameterFeatureSink(self.PAIRS, self.tr('Pairs'), Q.SRC_ANY)
        p.setHelp(self.tr('Similarity of every pair of layers (a table without geometry).'))
        self.addParameter(p)
        self.addOutput(QgsProcessingOutputNumber(self.SIMILARITY, self.tr('Similarity of the first two layers')))
        self.addOutput(QgsProcessingOutputNumber(self.COMMON, self.tr('Share of the first layer in categories '
                                                                      'the second has')))

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802 (QGIS API)
        layers = self.parameterAsLayerList(parameters, self.LAYERS, context)
        if len(layers) < 2:
            raise QgsProcessingException(self.tr('Give at least two container layers to compare.'))
        names_txt = self.parameterAsString(parameters, self.NAMES, context) or ''
        names = [n.strip() for n in names_txt.split(',')] if names_txt.strip() else []
        if names and len(names) != len(layers):
            raise QgsProcessingException(self.tr('{} names given for {} layers: give one name per layer, or '
                                                 'none.').format(len(names), len(layers)))
        if not names:
            names = [lyr.name() for lyr in layers]
            seen = {}
            for i, n in enumerate(names):           # make duplicates distinct
                seen[n] = seen.get(n, 0) + 1
                if names.count(n) > 1:
                    names[i] = f'{n} ({seen[n]})'
        named = []
        for k, (name, lyr) in enumerate(zip(names, layers)):
            if feedback.isCanceled():
                raise QgsProcessingException(self.tr('Cancelled: no output was written.'))
            fnames = [f.name() for f in lyr.fields()]
            missing = [f for f in ('size_class', 'colour') if f not in fnames]
            if missing:
                raise QgsProcessingException(self.tr('The layer "{}" has no {} field: give outputs of "Count '
                                                     'shipping containers".').format(name, ' or '.join(missing)))
            want = [f for f in ('size_class', 'colour', 'containers') if f in fnames]
            recs = []
            for f in lyr.getFeatures():
                rec = {}
                for fn in want:
                    v = f[fn]
                    rec[fn] = None if v is None or (hasattr(v, 'isNull') and v.isNull()) else v
                recs.append(rec)
            named.append((name, recs))
            feedback.setProgress(80 * (k + 1) / len(layers))
        try:
            mix, pairs = core.compare_sites(named)
        except core.CargoWatchError as e:
            raise QgsProcessingException(str(e))
        mf = QgsFields()
        for n, k in (('layer', 'string'), ('size_class', 'string'), ('colour', 'string'), ('containers', 'double'),
                     ('share', 'double')):
            mf.append(qfield(n, k))
        pf = QgsFields()
        for n, k in (('layer_a', 'string'), ('layer_b', 'string'), ('similarity', 'double'), ('common_a', 'double'),
                     ('common_b', 'double'), ('p_same_mix', 'double'), ('containers_a', 'double'),
                     ('containers_b', 'double')):
            pf.append(qfield(n, k))
        results = {}
        for key, fields, rows in ((self.OUTPUT, mf, mix), (self.PAIRS, pf, pairs)):
            sink, dest = self.parameterAsSink(parameters, key, context, fields, Q.WKB_NONE)
            if sink is None:
                raise QgsProcessingException(self.invalidSinkError(parameters, key))
            for row in rows:
                f = QgsFeature(fields)
                f.setAttributes([row[fields.at(i).name()] for i in range(fields.count())])
                if not sink.addFeature(f, Q.FAST_INSERT):
                    raise QgsProcessingException(self.writeFeatureError(sink, parameters, key))
            results[key] = dest
        for p in pairs:
            feedback.pushInfo(self.tr('{} vs {}: similarity {:.2f}, {:.0f} % / {:.0f} % in shared categories, p(same '
                                      'mix) = {}').format(p['layer_a'], p['layer_b'], p['similarity'],
                                                          100 * p['common_a'], 100 * p['common_b'], p['p_same_mix']))
        results[self.SIMILARITY] = pairs[0]['similarity']
        results[self.COMMON] = pairs[0]['common_a']
        feedback.setProgress(100)
        return results
