"""detectgaps and buildtracks (algorithms/detect_gaps.py, build_tracks.py) on the real trajectools GeoPackage
(MarineCadastre schema): through Processing and qgis_process, time-enabled outputs, layers in another CRS,
a layer without an MMSI field."""
import pytest

from helpers import paths
from helpers.paths import SHARED_AIS
from helpers.qgis_run import run_qgis_process

GPKG = SHARED_AIS / 'trajectools_ais.gpkg'
needs_shared = paths.needs_shared(GPKG, 'the shared AIS sample')



@needs_shared
def test_detectgaps_and_buildtracks_on_trajectools(tmp_path):
    import processing
    from qgis.core import QgsVectorLayer
    res = processing.run('cargowatch:detectgaps', {'INPUT': str(GPKG), 'MIN_GAP': 6 * 3600 * 1000,
                                                   'OUTPUT': str(tmp_path / 'g.gpkg')})
    assert res['GAP_COUNT'] == 4
    lyr = QgsVectorLayer(str(tmp_path / 'g.gpkg'), 'g', 'ogr')
    assert max(f['hours'] for f in lyr.getFeatures()) == pytest.approx(35.0, abs=0.01)
    assert lyr.temporalProperties() is not None
    res = processing.run('cargowatch:buildtracks', {'INPUT': str(GPKG), 'MAX_GAP': 6 * 3600 * 1000,
                                                    'OUTPUT': str(tmp_path / 't.gpkg')})
    assert res['TRACK_COUNT'] == 4 + 4  # 4 vessels, 4 splits


@needs_shared
def test_detectgaps_through_qgis_process(tmp_path):
    proc, results = run_qgis_process('cargowatch:detectgaps', {'INPUT': str(GPKG), 'MIN_GAP': 6 * 3600 * 1000,
                                                               'OUTPUT': str(tmp_path / 'g.gpkg')})
    assert results['GAP_COUNT'] == 4


@needs_shared
def test_outputs_are_time_enabled_when_loaded(tmp_path):
    import processing
    from qgis.core import QgsProject
    before = set(QgsProject.instance().mapLayers())
    processing.runAndLoadResults('cargowatch:buildtracks', {'INPUT': str(GPKG), 'MAX_GAP': 6 * 3600 * 1000,
                                                             'OUTPUT': str(tmp_path / 't.gpkg')})
    new = [lyr for lid, lyr in QgsProject.instance().mapLayers().items() if lid not in before]
    try:
        assert len(new) == 1
        props = new[0].temporalProperties()
        assert props.isActive() and props.startField() == 'start' and props.endField() == 'end'
    finally:
        QgsProject.instance().removeMapLayers([lyr.id() for lyr in new])


@needs_shared
def test_layer_in_another_crs_is_read_feature_by_feature(tmp_path):
    import processing
    from osgeo import gdal
    src = str(tmp_path / 'mercator.gpkg')
    gdal.VectorTranslate(src, str(GPKG), dstSRS='EPSG:3857', layerName='boston')
    res = processing.run('cargowatch:detectgaps', {'INPUT': src, 'MIN_GAP': 6 * 3600 * 1000,
                                                   'OUTPUT': str(tmp_path / 'g.gpkg')})
    assert res['GAP_COUNT'] == 4
    res = processing.run('cargowatch:buildtracks', {'INPUT': src, 'MAX_GAP': 6 * 3600 * 1000,
                                                    'OUTPUT': str(tmp_path / 't.gpkg')})
    assert res['TRACK_COUNT'] == 8


def test_layer_without_mmsi_field_is_a_clear_error(tmp_path):
    import processing
    from qgis.core import QgsProcessingException
    from helpers.qgis_run import write_points
    path = write_points(tmp_path / 'pts.gpkg', [((1, 2), {'when': '2024-01-01T00:00:00Z'})], name='pts')
    with pytest.raises(QgsProcessingException, match='MMSI'):
        processing.run('cargowatch:detectgaps', {'INPUT': path, 'OUTPUT': str(tmp_path / 'g.gpkg')})
    with pytest.raises(QgsProcessingException, match='time'):
        processing.run('cargowatch:buildtracks', {'INPUT': path, 'MMSI_FIELD': 'fid',
                                                  'OUTPUT': str(tmp_path / 't.gpkg')})
