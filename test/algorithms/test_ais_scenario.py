"""The Dunai–Rajin scenario (test/ais_scenario.py): exact truth for rejections, gaps, observed voyages and
dark-voyage candidates, through core/ and through the Processing algorithms, from NMEA and from CSV."""
import numpy as np
import pytest
from qgis.core import QgsVectorLayer

import ais_scenario as S

pytest.importorskip('pyais')

from cargowatch.core import ais_io, gaps, geo, tracks, voyages  # noqa: E402

NAMES = list(S.SITES)


@pytest.fixture(scope='module')
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp('scenario')
    sc = S.make_scenario()
    return {'sc': sc, 'nmea': S.write_nmea(sc, str(d / 'dunai.nmea')), 'csv': S.write_csv(sc, str(d / 'dunai.csv')),
            'mc': S.write_csv(sc, str(d / 'mc.csv'), layout='marinecadastre'),
            'sites': S.write_sites(sc, str(d / 'sites.gpkg')), 'dir': d}


def _site_index(c):
    polys = [[[np.array(S.site_ring(n))]] for n in NAMES]
    return geo.site_index_of_points(c['lon'], c['lat'], polys)


@pytest.mark.parametrize('fmt', ['nmea', 'csv', 'mc'])
def test_import_counts_every_rejection(files, fmt):
    r = ais_io.read_ais(files[fmt])
    expected = S.expected_rejections('nmea' if fmt == 'nmea' else 'csv')
    assert {k: v for k, v in r.reasons.items() if v} == expected
    assert r.rows_kept == len(files['sc'].rows)
    assert r.static[S.ANGARA]['name'] == 'ANGARA' and r.static[S.MARIA]['imo'] == 9234567
    assert r.static[S.ANGARA]['ship_type'] == 'Cargo'
    c = r.cols
    assert tracks.is_sorted(c['mmsi'], c['t'])  # out-of-order rows were sorted in
    # speed 102.3 / course 360 are kept as "not available"
    n_na = sum(1 for row in files['sc'].rows if row['sog'] >= 102.3)
    assert np.count_nonzero(np.isnan(c['sog'])) == n_na


@pytest.mark.parametrize('fmt', ['nmea', 'csv'])
def test_core_gaps_voyages_dark(files, fmt):
    sc = files['sc']
    c = ais_io.read_ais(files[fmt]).cols
    g = gaps.find_gaps(c['mmsi'], c['t'], c['lon'], c['lat'], 12 * 3600)
    found = sorted(zip(c['mmsi'][g['i0']].tolist(), c['t'][g['i0']].tolist(), c['t'][g['i1']].tolist()))
    assert found == sc.truth['gaps']
    si = _site_index(c)
    calls = voyages.port_calls(c['mmsi'], c['t'], si, 3600, merge_gap_s=3600, split_gap_s=12 * 3600)
    v = voyages.voyages_from_calls(calls)
    obs = sorted(zip(v['mmsi'].tolist(), [NAMES[i] for i in v['from_site']], [NAMES[i] for i in v['to_site']]))
    assert obs == sc.truth['observed']
    verts = [(np.array(S.site_ring(n))[:, 0], np.array(S.site_ring(n))[:, 1]) for n in NAMES]
    top = voyages.vessel_top_speed(c['mmsi'], c['t'], c['lon'], c['lat'], c['sog'])
    d = voyages.dark_voyage_candidates(g, c['mmsi'], c['t'], c['lon'], c['lat'], si, verts, top, 6 * 3600, calls)
    dark = sorted(zip(d['mmsi'].tolist(), [NAMES[i] for i in d['from_site']],
                      [tuple(NAMES[j] for j in r) for r in d['reachable']]))
    assert dark == sc.truth['dark']
    # five runs each between Dunai and Rajin: observed round trips + dark candidates
    for m in (S.ANGARA, S.MARIA):
        seen = sum(1 for x in obs if x[0] == m and x[1:] == ('Dunai', 'Rajin'))
        assert seen + sum(1 for x in dark if x[0] == m) == sc.truth['runs'][m] == 5
    # a longer dwell than the gap allows rules Rajin out
    d2 = voyages.dark_voyage_candidates(g, c['mmsi'], c['t'], c['lon'], c['lat'], si, verts, top, 30 * 3600, calls)
    assert len(d2['gap']) == 0


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
    from conftest import warnings_feedback
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
