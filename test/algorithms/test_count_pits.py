"""cargowatch:countpits (algorithms/count_pits.py) through Processing in real QGIS on generated
depots: fields, counts and MIN_CONFIDENCE, batch runs, bands/dtypes/CRS, AOI, nodata, bad inputs, cancel,
qgis_process, the COUNT output in models."""

import numpy as np
import pytest
from osgeo import gdal
from qgis.core import QgsProcessingException, QgsProcessingOutputNumber, QgsVectorLayer

import processing
from helpers.qgis_run import run_qgis_process, warnings_feedback, write_aoi
from helpers import depot_scenes as ds


ALG = 'cargowatch:countpits'


def run(params, **kw):
    params.setdefault('OUTPUT', 'memory:')
    return processing.run(ALG, params, **kw)


def test_counts_through_processing(depot):
    path, truth = depot
    res = run({'INPUT': path})
    layer = res['OUTPUT']
    names = [f.name() for f in layer.fields()]
    for n in ('length_m', 'width_m', 'area_m2', 'orientation_deg', 'fresh_soil', 'confidence'):
        assert n in names
    feats = list(layer.getFeatures())
    assert res['COUNT'] == len(feats) > 0
    for f in feats:
        assert 0 <= f['fresh_soil'] <= 1 and 0 <= f['confidence'] <= 1
        assert 0 <= f['orientation_deg'] < 180
        assert f['length_m'] >= f['width_m'] > 0
        assert f.geometry().area() == pytest.approx(f['area_m2'], rel=0.05)
    assert layer.crs().authid() == 'EPSG:32637'
    tp = ds.match_pits(layer_dets(layer), truth)
    assert tp >= 0.85 * len(truth)          # measured 35 of 36 (recall 0.97, precision 0.90)
    assert tp >= 0.8 * len(feats)


def test_min_confidence_keeps_the_confident_and_counts_them(depot):
    path, _ = depot
    every = [f['confidence'] for f in run({'INPUT': path})['OUTPUT'].getFeatures()]
    floor = float(np.median(every))
    res = run({'INPUT': path, 'MIN_CONFIDENCE': floor})
    kept = [f['confidence'] for f in res['OUTPUT'].getFeatures()]
    assert res['COUNT'] == len(kept) == sum(c >= floor for c in every) < len(every)
    assert min(kept) >= floor


def test_batch_runs_give_the_same_result(depot):
    path, _ = depot
    assert run({'INPUT': path})['COUNT'] == run({'INPUT': path, 'SENSITIVITY': 0.5})['COUNT']


def test_sensitivity_is_monotonic(depot):
    path, _ = depot
    lo = run({'INPUT': path, 'SENSITIVITY': 0.0})['COUNT']
    hi = run({'INPUT': path, 'SENSITIVITY': 1.0})['COUNT']
    assert lo <= hi


def test_one_band_uint16_and_four_band(tmp_path):
    t1 = ds.depot_scene(str(tmp_path / 'pan.tif'), seed=6, size=(200.0, 200.0), n_old=0, n_new=20, bands=1,
                        dtype='UInt16')
    fb = warnings_feedback()
    r1 = run({'INPUT': str(tmp_path / 'pan.tif')}, feedback=fb)
    assert r1['COUNT'] > 0
    assert len(fb.seen) == 1 and 'panchromatic' in fb.seen[0]      # lower accuracy without colour: said
    ds.depot_scene(str(tmp_path / 'ms.tif'), seed=6, size=(200.0, 200.0), n_old=0, n_new=20, bands=4,
                   dtype='Float32')
    fb = warnings_feedback()
    r4 = run({'INPUT': str(tmp_path / 'ms.tif'), 'BANDS': [1, 2, 3]}, feedback=fb)
    assert r4['COUNT'] > 0 and fb.seen == []
    assert ds.match_pits(layer_dets(r1['OUTPUT']), t1) >= 6     # measured 9 of 20 (grey, small and sparse: weak)


def test_geographic_raster_measured_in_metres(tmp_path, depot):
    path, truth = depot
    geo = str(tmp_path / 'geo.tif')
    gdal.Warp(geo, path, dstSRS='EPSG:4326', resampleAlg='bilinear')
    res = run({'INPUT': geo})
    assert res['OUTPUT'].crs().authid() == 'EPSG:32637'
    assert res['COUNT'] > 0
    sizes = [f['length_m'] for f in res['OUTPUT'].getFeatures()]
    assert 5 < np.median(sizes) < 45


def test_aoi_restricts_the_count(tmp_path, depot):
    path, _ = depot
    x0, y0 = ds.ORIGIN
    half = write_aoi(tmp_path / 'aoi.gpkg', [(x0, y0), (x0 + 130, y0), (x0 + 130, y0 - 260), (x0, y0 - 260)], 32637)
    full = run({'INPUT': path})
    part = run({'INPUT': path, 'AOI': half})
    assert part['COUNT'] < full['COUNT']
    for f in part['OUTPUT'].getFeatures():
        assert f.geometry().centroid().asPoint().x() < x0 + 131


def test_aoi_not_overlapping(tmp_path, depot):
    path, _ = depot
    x0, y0 = ds.ORIGIN
    far = write_aoi(tmp_path / 'aoi.gpkg',
                    [(x0 + 9000, y0), (x0 + 9100, y0), (x0 + 9100, y0 - 100), (x0 + 9000, y0 - 100)], 32637)
    with pytest.raises(QgsProcessingException, match='does not overlap'):
        run({'INPUT': path, 'AOI': far})


def test_bad_size_range(depot):
    path, _ = depot
    with pytest.raises(QgsProcessingException, match='size range'):
        run({'INPUT': path, 'MIN_SIZE': 30, 'MAX_SIZE': 10})


def test_too_coarse(tmp_path):
    arr = np.random.default_rng(0).random((3, 60, 60)).astype(np.float32)
    path = ds.write_geotiff(str(tmp_path / 'coarse.tif'), arr, ds.geotransform(3.0))
    with pytest.raises(QgsProcessingException, match='too coarse'):
        run({'INPUT': path})


def test_all_nodata(tmp_path):
    arr = np.zeros((3, 200, 200), np.float32)
    path = ds.write_geotiff(str(tmp_path / 'nd.tif'), arr, ds.geotransform(0.5), nodata=0)
    with pytest.raises(QgsProcessingException, match='nodata'):
        run({'INPUT': path})


@pytest.mark.parametrize('damage', ['garbage', 'truncated'])
def test_corrupt_or_truncated_file(tmp_path, depot, damage):
    data = open(depot[0], 'rb').read()
    bad = tmp_path / f'{damage}.tif'
    bad.write_bytes(b'not a tiff at all' * 100 if damage == 'garbage' else data[: len(data) // 3])
    with pytest.raises(QgsProcessingException) as e:
        run({'INPUT': str(bad)})
    assert 'Traceback' not in str(e.value)


def test_no_pits_in_empty_country(tmp_path):
    # fields, roads, buildings, trees and ploughed strips only
    lay = ds.depot_layout(seed=8, size=(300.0, 300.0), n_old=0, n_new=0)
    truth = ds.depot_scene(str(tmp_path / 'country.tif'), layout=lay, n_old=0, n_new=0)
    assert truth == []
    res = run({'INPUT': str(tmp_path / 'country.tif')})
    assert res['COUNT'] <= 6      # a few false alarms at most over 9 ha of distractors


def test_cancel_stops_and_writes_nothing(tmp_path, depot):
    from qgis.core import QgsProcessingFeedback
    out = tmp_path / 'cancelled.gpkg'

    class CancelAtFirstProgress(QgsProcessingFeedback):
        def __init__(self):
            super().__init__()
            self.progressChanged.connect(lambda p: p > 0 and self.cancel())
    with pytest.raises(QgsProcessingException, match='Cancelled'):
        processing.run(ALG, {'INPUT': depot[0], 'OUTPUT': str(out)}, feedback=CancelAtFirstProgress())
    assert not out.exists()


def test_qgis_process(tmp_path, depot):
    out = tmp_path / 'pits.gpkg'
    proc, results = run_qgis_process(ALG, {'INPUT': depot[0], 'OUTPUT': str(out)})
    assert results['COUNT'] > 0
    assert QgsVectorLayer(str(out), 'p', 'ogr').featureCount() == results['COUNT']


def test_count_output_is_a_model_number():
    from qgis.core import QgsApplication
    alg = QgsApplication.processingRegistry().algorithmById(ALG)
    out = alg.outputDefinition('COUNT')
    assert isinstance(out, QgsProcessingOutputNumber)


def layer_dets(layer):
    out = []
    for f in layer.getFeatures():
        ring = f.geometry().asPolygon()[0][:-1]
        out.append({'geometry': [(p.x(), p.y()) for p in ring]})
    return out
