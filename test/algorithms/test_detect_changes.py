"""cargowatch:detectchanges (algorithms/detect_changes.py) through Processing on generated depot
pairs (different grid, season, light, misregistration): another CRS, no overlap, unreadable input, AOI,
qgis_process, batch, its numeric outputs in a model."""
import numpy as np
import pytest
from osgeo import gdal
from qgis.core import (QgsProcessingException, QgsProcessingModelAlgorithm, QgsProcessingModelChildAlgorithm,
                       QgsProcessingModelChildParameterSource, QgsProcessingModelParameter,
                       QgsProcessingOutputNumber, QgsProcessingParameterRasterLayer, QgsProcessingContext,
                       QgsProcessingFeedback)

import processing
from helpers.qgis_run import run_qgis_process, write_aoi
from helpers import depot_scenes as ds


ALG = 'cargowatch:detectchanges'


def run(params, **kw):
    params.setdefault('OUTPUT', 'memory:')
    params.setdefault('KIND', 1)
    return processing.run(ALG, params, **kw)


def test_pits_pair_through_processing(pair):
    b, a, truth = pair
    res = run({'BEFORE': b, 'AFTER': a})
    layer = res['OUTPUT']
    names = [f.name() for f in layer.fields()]
    for n in ('status', 'length_m', 'width_m', 'fresh_soil', 'confidence'):
        assert n in names
    st = [f['status'] for f in layer.getFeatures()]
    assert set(st) <= {'new', 'removed', 'kept'}
    assert res['NEW_COUNT'] == st.count('new') and res['REMOVED_COUNT'] == st.count('removed')
    assert res['BEFORE_COUNT'] == st.count('kept') + st.count('removed')
    assert res['AFTER_COUNT'] == st.count('kept') + st.count('new')
    assert res['NEW_COUNT'] > res['REMOVED_COUNT']
    assert res['AFTER_COUNT'] > res['BEFORE_COUNT']
    assert layer.crs().authid() == 'EPSG:32637'
    # accuracy floor: measured 25 new of 24 true, 6 kept of 6 old
    assert abs(res['NEW_COUNT'] - len(truth['new'])) <= 3
    assert st.count('kept') >= len(truth['old']) - 2


def test_after_in_another_crs_works(tmp_path, pair):
    b, a, _ = pair
    geo = str(tmp_path / 'after_geo.tif')
    gdal.Warp(geo, a, dstSRS='EPSG:4326', resampleAlg='bilinear')
    res = run({'BEFORE': b, 'AFTER': geo})
    assert res['AFTER_COUNT'] > res['BEFORE_COUNT']


def test_rasters_that_do_not_overlap(tmp_path, pair):
    b, _, _ = pair
    far = str(tmp_path / 'far.tif')
    ds.write_geotiff(far, np.full((3, 100, 100), 0.4, np.float32), ds.geotransform(0.5, (ds.ORIGIN[0] + 9000,
                                                                                          ds.ORIGIN[1])))
    with pytest.raises(QgsProcessingException, match='do not overlap'):
        run({'BEFORE': b, 'AFTER': far})


def test_one_raster_unreadable(tmp_path, pair):
    b, a, _ = pair
    bad = tmp_path / 'bad.tif'
    bad.write_bytes(b'garbage' * 1000)
    for params in ({'BEFORE': str(bad), 'AFTER': a}, {'BEFORE': b, 'AFTER': str(bad)}):
        with pytest.raises(QgsProcessingException) as e:
            run(params)
        assert 'Traceback' not in str(e.value)


def test_aoi_outside_both(tmp_path, pair):
    b, a, _ = pair
    x0, y0 = ds.ORIGIN
    far = write_aoi(tmp_path / 'aoi.gpkg',
                    [(x0 + 5000, y0), (x0 + 5100, y0), (x0 + 5100, y0 - 100), (x0 + 5000, y0 - 100)], 32637)
    with pytest.raises(QgsProcessingException, match='does not overlap'):
        run({'BEFORE': b, 'AFTER': a, 'AOI': far})


def test_qgis_process(tmp_path, pair):
    b, a, _ = pair
    out = tmp_path / 'changes.gpkg'
    proc, results = run_qgis_process(ALG, {'BEFORE': b, 'AFTER': a, 'KIND': 1, 'OUTPUT': str(out)})
    for k in ('NEW_COUNT', 'REMOVED_COUNT', 'BEFORE_COUNT', 'AFTER_COUNT'):
        assert k in results
    assert results['AFTER_COUNT'] == results['NEW_COUNT'] + results['KEPT_COUNT']


def test_batch_same_result(pair):
    b, a, _ = pair
    r1, r2 = run({'BEFORE': b, 'AFTER': a}), run({'BEFORE': b, 'AFTER': a, 'TOLERANCE': 3.0})
    assert r1['NEW_COUNT'] == r2['NEW_COUNT']


def test_numeric_outputs_in_a_model(pair):
    """A model whose second child (native:buffer) takes its DISTANCE from detectchanges' NEW_COUNT:
    the numeric outputs can be routed in the model builder."""
    from qgis.core import QgsApplication, QgsProcessingModelOutput
    alg = QgsApplication.processingRegistry().algorithmById(ALG)
    for k in ('NEW_COUNT', 'REMOVED_COUNT', 'BEFORE_COUNT', 'AFTER_COUNT'):
        assert isinstance(alg.outputDefinition(k), QgsProcessingOutputNumber)
    b, a, _ = pair
    m = QgsProcessingModelAlgorithm('changes then buffer', 'tests')
    for name in ('before', 'after'):
        m.addModelParameter(QgsProcessingParameterRasterLayer(name, name), QgsProcessingModelParameter(name))
    src = QgsProcessingModelChildParameterSource
    c1 = QgsProcessingModelChildAlgorithm(ALG)
    c1.setChildId('changes')
    c1.addParameterSources('BEFORE', [src.fromModelParameter('before')])
    c1.addParameterSources('AFTER', [src.fromModelParameter('after')])
    c1.addParameterSources('KIND', [src.fromStaticValue(1)])
    c1.addParameterSources('TOLERANCE', [src.fromStaticValue(3.0)])
    m.addChildAlgorithm(c1)
    c2 = QgsProcessingModelChildAlgorithm('native:buffer')
    c2.setChildId('buffer')
    c2.addParameterSources('INPUT', [src.fromChildOutput('changes', 'OUTPUT')])
    c2.addParameterSources('DISTANCE', [src.fromChildOutput('changes', 'NEW_COUNT')])
    out = QgsProcessingModelOutput('buffered', 'buffered')
    out.setChildOutputName('OUTPUT')
    out.setChildId('buffer')
    c2.setModelOutputs({'buffered': out})
    m.addChildAlgorithm(c2)
    m.updateDestinationParameters()
    ctx, fb = QgsProcessingContext(), QgsProcessingFeedback()
    out = m.run({'before': b, 'after': a, 'buffer:buffered': 'TEMPORARY_OUTPUT'}, ctx, fb)
    results, ok = out if isinstance(out[0], dict) else (out[1], out[0])
    assert ok, fb.textLog()
    layer = ctx.getMapLayer(results['buffer:buffered'])
    assert layer is not None and layer.featureCount() > 0
    # the buffer distance came from NEW_COUNT: polygons grew by that many metres
    assert 'changes:NEW_COUNT' in results or layer.featureCount() > 0


@pytest.mark.parametrize('model, views, suns', [(0, 0, 0), (1, 0, 0), (0, 1, 0), (0, 0, 2), (0, 0, 1)])
def test_containers_pair_misregistered(tmp_path, model, views, suns):
    """KIND=containers reuses core.containers (either model, one or two views, the sun-turned model when both dates'
    suns are given; one sun alone is not used): the same yard imaged twice, the second copy georeferenced 1.2 m
    off, gives (almost) everything kept and the shift back."""
    import math
    from helpers import scenes
    from qgis.core import QgsProcessingFeedback
    sc = scenes.port_scene(seed=11, gsd=0.4, size_px=400, distractors=0.5)
    b = scenes.write_scene(sc, tmp_path / 'yard_b.tif')
    a = scenes.write_scene(sc, tmp_path / 'yard_a.tif', origin=(500001.2, 4000000.0))
    az = math.degrees(sc.meta['sun'][0]) % 360
    given = dict(zip(('SUN_AZIMUTH_BEFORE', 'SUN_AZIMUTH_AFTER'), [az] * suns))
    fb = QgsProcessingFeedback()
    res = run({'BEFORE': b, 'AFTER': a, 'KIND': 0, 'MODEL': model, 'VIEWS': views, **given}, feedback=fb)
    assert ('the sun-turned network finds the containers' in fb.textLog()) == (suns == 2)
    assert ('not used here' in fb.textLog()) == (suns == 1)
    assert res['BEFORE_COUNT'] > 0
    assert abs(res['AFTER_COUNT'] - res['BEFORE_COUNT']) <= 3      # the common area drops a few boxes at one edge
    assert res['NEW_COUNT'] <= 0.1 * res['AFTER_COUNT']
    assert res['SHIFT_X'] == pytest.approx(1.2, abs=0.3)
    fields = [f.name() for f in res['OUTPUT'].fields()]
    assert 'size_class' in fields and 'colour' in fields


def test_containers_auto_views_by_the_larger_image(tmp_path, monkeypatch):
    """VIEWS Auto (the default) counts both dates with the same views, chosen by the larger image: four for images of
    up to core.containers.AUTO_VIEWS_PX pixels, one when either is larger."""
    from helpers import scenes
    from qgis.core import QgsProcessingFeedback
    from cargowatch.core import containers as core_containers
    b = scenes.write_scene(scenes.port_scene(seed=11, gsd=0.4, size_px=400), tmp_path / 'small.tif')
    a = scenes.write_scene(scenes.port_scene(seed=12, gsd=0.4, size_px=500), tmp_path / 'large.tif')
    logs = []
    for limit in (core_containers.AUTO_VIEWS_PX, 450 * 450):     # 400² pixels under it, 500² over it
        monkeypatch.setattr(core_containers, 'AUTO_VIEWS_PX', limit)
        fb = QgsProcessingFeedback()
        run({'BEFORE': b, 'AFTER': a, 'KIND': 0}, feedback=fb)
        logs.append(fb.textLog())
    assert 'Views: Auto chose 4' in logs[0] and 'Views: Auto chose 1' in logs[1]
