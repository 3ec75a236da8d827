"""cargowatch:comparesignatures — Compare container signatures (size class x colour mix) between sites."""
from qgis.core import (QgsFeature, QgsFields, QgsProcessingException, QgsProcessingOutputNumber,
                       QgsProcessingParameterFeatureSink, QgsProcessingParameterMultipleLayers,
                       QgsProcessingParameterString)

from ..compat import Q
from .base import CargoWatchAlgorithm, qfield
from ..core import signatures as core

HELP = """
<p>Compares the <b>container signature</b> of two or more sites or dates: the mix of size classes
(20ft, 40ft, block) and colours of the containers found by <i>Count shipping containers</i>. Use it
to judge whether containers that left one place are plausibly the ones seen at another.</p>
<h3>Method</h3>
<p>Each layer's features are grouped by (<i>size_class</i>, <i>colour</i>), weighted by their
<i>containers</i> field (a block of 4 counts 4; 1 when the field is missing), and turned into shares.
The <b>similarity</b> of two layers is the <i>histogram intersection</i> &Sigma; min(p<sub>k</sub>,
q<sub>k</sub>) of their shares: the share of the mix the two sites have in common once both are scaled
to the same total (1 = identical mix, 0 = nothing in common). It is chosen because it reads directly
as that share, does not depend on how many containers each site has, is not dominated by rare
categories (it is 1 minus the total variation distance) and is defined when a category is missing on
one side. Each pair also gets <i>common_a</i>/<i>common_b</i> (share of each site's containers in
categories the other site has at all) and <i>p_same_mix</i>, a chi-square test p-value on the counts:
a high similarity from a handful of containers, or a low p-value with a high similarity on thousands,
should be read with that in mind.</p>
<h3>Parameters</h3>
<ul>
<li><b>Container layers</b>: two or more outputs of <i>Count shipping containers</i> (fields
size_class, colour, and optionally containers).</li>
<li><b>Names</b> (optional): comma-separated names, one per layer (default: layer names).</li>
</ul>
<h3>Outputs</h3>
<p><b>Mix</b> table: layer, size_class, colour, containers, share. <b>Pairs</b> table: layer_a,
layer_b, similarity, common_a, common_b, p_same_mix, containers_a, containers_b. <b>SIMILARITY</b> and
<b>COMMON_SHARE</b> (common_a of the first pair): numbers for the first two layers, usable in
models.</p>
<h3>Limits</h3>
<p>Colour names come from the image's colour balance: compare images with similar light, or expect a
lower similarity from illumination alone. Identical mixes do not prove identical containers.</p>
"""


class CompareSignatures(CargoWatchAlgorithm):
    NAME = 'comparesignatures'
    DISPLAY = 'Compare container signatures between sites'
    GROUP = 'imagery'
    HELP = HELP

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
            raise QgsProcessingException(self.tr(f'{len(names)} names given for {len(layers)} layers: give one '
                                                 'name per layer, or none.'))
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
                raise QgsProcessingException(self.tr(
                    f'The layer "{name}" has no {" or ".join(missing)} field: give outputs of '
                    '"Count shipping containers".'))
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
            feedback.pushInfo(self.tr(f"{p['layer_a']} vs {p['layer_b']}: similarity {p['similarity']:.2f}, "
                                      f"{100 * p['common_a']:.0f} % / {100 * p['common_b']:.0f} % in shared "
                                      f"categories, p(same mix) = {p['p_same_mix']}"))
        results[self.SIMILARITY] = pairs[0]['similarity']
        results[self.COMMON] = pairs[0]['common_a']
        feedback.setProgress(100)
        return results
