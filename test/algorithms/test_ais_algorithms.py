"""The Dunai-Rajin scenario (test/helpers/ais_scenario.py) through the AIS Processing
algorithms (importais, buildtracks, detectgaps, countvoyages) end to end, and point sites skipped with a warning."""
import pytest
from qgis.core import QgsVectorLayer

from helpers import ais_scenario as S

pytest.importorskip('pyais')


def _layer(path, name=None):
    lyr = QgsVectorLayer(str(path) + ('|layername=' + name if name else ''), 'x', 'ogr')
    assert lyr.isValid(), path
    return lyr


def test_algorithms_end_to_end(files):
    import processing
    d = files['dir']
    sc = files['sc']
    res = processing.run('cargowatch:importais', {'INPUT': files['nmea'], 'OUTPUT': str(d / 'pos.gpkg')})
    assert res['ROWS_KEPT'] == len(sc.rows)
    assert res['ROWS_REJECTED'] == sum(S.expected_rejections('nmea').values())
    pos = str(d / 'pos.gpkg')
    tr = processing.run('cargowatch:buildtracks', {'INPUT': pos, 'MAX_GAP': 12 * 3600 * 1000,
                                                   'OUTPUT': str(d / 'tracks.gpkg')})
    # one segment per vessel plus one per gap
    assert tr['TRACK_COUNT'] == len(sc.truth['vessels']) + len(sc.truth['gaps'])
    tl = _layer(d / 'tracks.gpkg')
    f = [f for f in tl.getFeatures() if f['mmsi'] == S.ANGARA][0]
    assert f['name'] == 'ANGARA'
    geom = f.geometry().constGet()
    assert geom.is3D() is False and geom.isMeasure()
    assert geom.mAt(0) == f['start'].toSecsSinceEpoch()
    gp = processing.run('cargowatch:detectgaps', {'INPUT': pos, 'MIN_GAP': 12 * 3600 * 1000,
                                                  'SITES': files['sites'], 'OUTPUT': str(d / 'gaps.gpkg')})
    assert gp['GAP_COUNT'] == len(sc.truth['gaps'])
    gl = _layer(d / 'gaps.gpkg')
    ang = [g for g in gl.getFeatures() if g['mmsi'] == S.ANGARA]
    assert len(ang) == 3 and all(g['site_before'] == 'Dunai' and g['site_after'] == 'Dunai' for g in ang)
    assert all(40 < g['hours'] < 44 for g in ang)
    cv = processing.run('cargowatch:countvoyages', {
        'INPUT': pos, 'SITES': files['sites'], 'MIN_STAY': 3600 * 1000, 'MIN_GAP': 12 * 3600 * 1000,
        'MIN_DWELL': 6 * 3600 * 1000, 'OUTPUT': str(d / 'voyages.gpkg'), 'CALLS': str(d / 'calls.gpkg')})
    assert cv['OBSERVED_COUNT'] == len(sc.truth['observed'])
    assert cv['DARK_COUNT'] == len(sc.truth['dark'])
    assert cv['VOYAGE_COUNT'] == cv['OBSERVED_COUNT'] + cv['DARK_COUNT']
    vl = _layer(d / 'voyages.gpkg')
    dark = [v for v in vl.getFeatures() if v['observed'] == 'no']
    assert {(v['mmsi'], v['from_site'], v['to_site'], v['reachable_sites']) for v in dark} == {
        (S.ANGARA, 'Dunai', 'Rajin', 'Rajin'), (S.MARIA, 'Dunai', 'Rajin', 'Rajin')}
    assert cv['CALL_COUNT'] == _layer(d / 'calls.gpkg').featureCount() > 0


def test_point_sites_are_skipped_with_a_warning(files):
    """The dock stores point sites too: a sites layer holding one is read, the point left out and named."""
    import processing
    from osgeo import ogr
    from helpers.qgis_run import warnings_feedback
    d = files['dir']
    pos = str(d / 'pos_points.gpkg')
    processing.run('cargowatch:importais', {'INPUT': files['nmea'], 'OUTPUT': pos})
    sites = str(d / 'sites_with_point.gpkg')
    ogr.GetDriverByName('GPKG').CopyDataSource(ogr.Open(files['sites']), sites)
    ds = ogr.Open(sites, 1)
    lyr = ds.GetLayer(0)
    f = ogr.Feature(lyr.GetLayerDefn())
    f.SetGeometry(ogr.CreateGeometryFromWkt('POINT (131.0 42.0)'))
    lyr.CreateFeature(f)
    ds = None
    params = {'INPUT': pos, 'MIN_STAY': 3600 * 1000, 'MIN_GAP': 12 * 3600 * 1000, 'MIN_DWELL': 6 * 3600 * 1000,
              'OUTPUT': 'memory:'}
    plain = processing.run('cargowatch:countvoyages', dict(params, SITES=files['sites']))
    fb = warnings_feedback()
    mixed = processing.run('cargowatch:countvoyages', dict(params, SITES=sites), feedback=fb)
    assert mixed['VOYAGE_COUNT'] == plain['VOYAGE_COUNT'] > 0
    assert any('not a polygon' in w for w in fb.seen)
