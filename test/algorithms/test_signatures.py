"""Container signatures: core measure and cargowatch:comparesignatures through Processing."""
import pytest
from qgis.core import (QgsFeature, QgsField, QgsGeometry, QgsPointXY, QgsProcessingException,
                       QgsProcessingOutputNumber, QgsVectorLayer)

import processing
from cargowatch.core import signatures as core
from cargowatch.core.errors import CargoWatchError

ALG = 'cargowatch:comparesignatures'


def recs(spec):
    """spec: {(size, colour): containers}"""
    out = []
    for (size, colour), n in spec.items():
        for _ in range(n):
            out.append({'size_class': size, 'colour': colour, 'containers': 1})
    return out


def layer(name, spec, with_count=True, blocks=None):
    lyr = QgsVectorLayer('Polygon?crs=EPSG:32652', name, 'memory')
    fields = [QgsField('size_class', 10), QgsField('colour', 10)]
    if with_count:
        fields.append(QgsField('containers', 2))
    lyr.dataProvider().addAttributes(fields)
    lyr.updateFields()
    feats = []
    x = 0.0
    for (size, colour), n in spec.items():
        for _ in range(n):
            f = QgsFeature(lyr.fields())
            ring = [QgsPointXY(x, 0), QgsPointXY(x + 2.4, 0), QgsPointXY(x + 2.4, 6), QgsPointXY(x, 6)]
            f.setGeometry(QgsGeometry.fromPolygonXY([ring + ring[:1]]))
            f.setAttributes([size, colour] + ([1] if with_count else []))
            feats.append(f)
            x += 3
    if blocks:
        for size, colour, n in blocks:
            f = QgsFeature(lyr.fields())
            ring = [QgsPointXY(x, 0), QgsPointXY(x + 2.4 * n, 0), QgsPointXY(x + 2.4 * n, 12), QgsPointXY(x, 12)]
            f.setGeometry(QgsGeometry.fromPolygonXY([ring + ring[:1]]))
            f.setAttributes([size, colour, n])
            feats.append(f)
    lyr.dataProvider().addFeatures(feats)
    return lyr


RAJIN = {('40ft', 'blue'): 30, ('40ft', 'red'): 20, ('20ft', 'grey'): 10}


def test_identical_mix_is_one_whatever_the_totals():
    a = core.signature(recs(RAJIN))
    b = core.signature(recs({k: 3 * v for k, v in RAJIN.items()}))
    assert core.similarity(a, b) == pytest.approx(1.0)
    assert core.common_share(a, b) == pytest.approx(1.0)


def test_disjoint_mix_is_zero():
    a = core.signature(recs({('40ft', 'blue'): 5}))
    b = core.signature(recs({('20ft', 'red'): 5}))
    assert core.similarity(a, b) == 0.0
    assert core.common_share(a, b) == 0.0


def test_partial_overlap_is_the_share_in_common():
    a = core.signature(recs({('40ft', 'blue'): 50, ('20ft', 'red'): 50}))
    b = core.signature(recs({('40ft', 'blue'): 80, ('20ft', 'white'): 20}))
    assert core.similarity(a, b) == pytest.approx(0.5)
    assert core.common_share(a, b) == pytest.approx(0.5)
    assert core.common_share(b, a) == pytest.approx(0.8)


def test_blocks_weighted_by_their_container_count():
    sig = core.signature([{'size_class': 'block', 'colour': 'blue', 'containers': 6},
                          {'size_class': '20ft', 'colour': 'blue', 'containers': 1}])
    assert sig[('block', 'blue')] == 6 and sig[('20ft', 'blue')] == 1


def test_pvalue_low_for_different_mixes_with_many_containers():
    a = core.signature(recs({('40ft', 'blue'): 300, ('20ft', 'red'): 100}))
    b = core.signature(recs({('40ft', 'blue'): 100, ('20ft', 'red'): 300}))
    assert core.chi2_pvalue(a, b) < 0.001
    same = core.signature(recs({('40ft', 'blue'): 30, ('20ft', 'red'): 10}))
    assert core.chi2_pvalue(a, same) > 0.05


def test_core_rejects_one_layer_or_empty_layers():
    with pytest.raises(CargoWatchError, match='at least two'):
        core.compare_sites([('a', recs(RAJIN))])
    with pytest.raises(CargoWatchError, match='no container'):
        core.compare_sites([('a', recs(RAJIN)), ('b', [])])


def test_processing_three_sites():
    rajin = layer('Rajin', RAJIN)
    dunai = layer('Dunai', {('40ft', 'blue'): 12, ('40ft', 'red'): 8, ('20ft', 'grey'): 4})
    tikh = layer('Tikhoretsk', {('40ft', 'green'): 10, ('20ft', 'grey'): 2}, blocks=[('block', 'blue', 4)])
    res = processing.run(ALG, {'LAYERS': [rajin, dunai, tikh], 'NAMES': 'Rajin, Dunai, Tikhoretsk',
                               'OUTPUT': 'memory:', 'PAIRS': 'memory:'})
    assert res['SIMILARITY'] == pytest.approx(1.0)
    assert res['COMMON_SHARE'] == pytest.approx(1.0)
    pairs = {(f['layer_a'], f['layer_b']): f for f in res['PAIRS'].getFeatures()}
    assert set(pairs) == {('Rajin', 'Dunai'), ('Rajin', 'Tikhoretsk'), ('Dunai', 'Tikhoretsk')}
    assert pairs[('Rajin', 'Tikhoretsk')]['similarity'] < 0.3
    mix = list(res['OUTPUT'].getFeatures())
    shares = {}
    for f in mix:
        shares[f['layer']] = shares.get(f['layer'], 0) + f['share']
    assert all(s == pytest.approx(1.0, abs=1e-3) for s in shares.values())
    tik_block = [f for f in mix if f['layer'] == 'Tikhoretsk' and f['size_class'] == 'block']
    assert tik_block[0]['containers'] == 4


def test_processing_layers_without_count_field_and_default_names():
    a = layer('site', RAJIN, with_count=False)
    b = layer('site', RAJIN, with_count=False)
    res = processing.run(ALG, {'LAYERS': [a, b], 'OUTPUT': 'memory:', 'PAIRS': 'memory:'})
    assert res['SIMILARITY'] == pytest.approx(1.0)
    names = {f['layer_a'] for f in res['PAIRS'].getFeatures()} | {f['layer_b'] for f in res['PAIRS'].getFeatures()}
    assert len(names) == 2


def test_processing_bad_inputs():
    good = layer('a', RAJIN)
    with pytest.raises(QgsProcessingException):
        processing.run(ALG, {'LAYERS': [good], 'OUTPUT': 'memory:', 'PAIRS': 'memory:'})
    with pytest.raises(QgsProcessingException, match='names'):
        processing.run(ALG, {'LAYERS': [good, layer('b', RAJIN)], 'NAMES': 'x', 'OUTPUT': 'memory:',
                             'PAIRS': 'memory:'})
    nofields = QgsVectorLayer('Polygon?crs=EPSG:32652&field=name:string', 'x', 'memory')
    with pytest.raises(QgsProcessingException, match='size_class'):
        processing.run(ALG, {'LAYERS': [good, nofields], 'OUTPUT': 'memory:', 'PAIRS': 'memory:'})


def test_similarity_output_is_a_model_number():
    from qgis.core import QgsApplication
    alg = QgsApplication.processingRegistry().algorithmById(ALG)
    assert isinstance(alg.outputDefinition('SIMILARITY'), QgsProcessingOutputNumber)
