"""cargowatch:comparesignatures (algorithms/compare_signatures.py) through Processing."""
import pytest
from qgis.core import (QgsFeature, QgsField, QgsGeometry, QgsPointXY, QgsProcessingException,
                       QgsProcessingOutputNumber, QgsVectorLayer)

import processing


ALG = 'cargowatch:comparesignatures'
RAJIN = {('40ft', 'blue'): 30, ('40ft', 'red'): 20, ('20ft', 'grey'): 10}  # one yard's mix


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
