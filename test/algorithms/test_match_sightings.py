"""Which dark vessel was that? core.sightings and cargowatch:matchsightings on the Dunai-Rajin sample scenario
(sample_data/dunai_rajin_ais.nmea.gz, truth in test/ais_scenario.py): ships seen at the Rajin quay during the
ANGARA's and the MARIA's dark runs, the other one as the decoy, a ship moored in Busan visible on AIS."""
from pathlib import Path

import numpy as np
import pytest
from qgis.core import QgsProcessingException, QgsVectorLayer

import ais_scenario as S
from conftest import run_qgis_process

pytest.importorskip('pyais')

from cargowatch.core import ais_io, sightings  # noqa: E402
from cargowatch.core.errors import CargoWatchError  # noqa: E402

SAMPLE = Path(__file__).resolve().parents[1] / 'sample_data' / 'dunai_rajin_ais.nmea.gz'
RAJIN, BUSAN = S.SITES['Rajin'], S.SITES['Busan']
H = 3600
# (place, hours after T0, the truth): ANGARA at the Rajin quay 58-82 h of its first dark run (AIS off 49-91 h);
# MARIA at Rajin 170-194 h of her second dark run (off 161-203 h) while the ANGARA sails home with AIS on;
# DONGBANG 12 moored in Busan with AIS on (HANSA PIONEER at sea then); Rajin at 120 h: nobody dark there.
CASES = [(RAJIN, 72), (RAJIN, 180), (BUSAN, 150), (RAJIN, 120)]


@pytest.fixture(scope='module')
def cols():
    return ais_io.read_ais(str(SAMPLE)).cols


@pytest.fixture(scope='module')
def truth():
    return S.make_scenario()


def _match(cols, cases=CASES, **kw):
    kw.setdefault('near_nm', 120.0)
    return sightings.match_sightings([p[0] for p, _ in cases], [p[1] for p, _ in cases],
                                     [S.T0 + h * H for _, h in cases], cols, **kw)


def _rows(res, k):
    return [{key: v[i] for key, v in res.items()} for i in np.flatnonzero(res['sighting'] == k)]


def test_true_vessel_first_decoy_excluded_with_reason(cols, truth):
    res = _match(cols)
    s0, s1, s2, s3 = (_rows(res, k) for k in range(4))
    # Rajin at 72 h: the ANGARA (dark, truly at the quay) is the best candidate
    assert s0[0]['mmsi'] == S.ANGARA and s0[0]['status'] == 'dark' and s0[0]['best'] == 1
    assert 41 < s0[0]['gap_h'] < 43 and s0[0]['slack_h'] > 5
    # ... the MARIA, dark too since 69 h but only 10 nm out of Dunai, is excluded with the speed it needed
    maria = [r for r in s0 if r['mmsi'] == S.MARIA][0]
    assert maria['status'] == 'excluded' and maria['score'] == 0 and maria['best'] == 0
    last = max((r for r in truth.rows if r['mmsi'] == S.MARIA and r['t'] <= S.T0 + 72 * H), key=lambda r: r['t'])
    away = S.nm((last['lon'], last['lat']), RAJIN)
    need = (away - 500 / 1852) / ((S.T0 + 72 * H - last['t']) / 3600)
    assert maria['need_kn'] == pytest.approx(need, rel=2e-3) and need > 25
    assert 'would need {:.1f} kn'.format(need) in maria['reason'] and 'dark' in maria['reason']
    # Rajin at 180 h: the MARIA is the one; the ANGARA is visible, 60 nm away on its way home
    assert s1[0]['mmsi'] == S.MARIA and s1[0]['status'] == 'dark' and s1[0]['best'] == 1
    angara = [r for r in s1 if r['mmsi'] == S.ANGARA][0]
    assert angara['status'] == 'excluded' and 55 < angara['dist_nm'] < 65
    assert angara['reason'].startswith('AIS places it 6')
    # Busan at 150 h: AIS places the moored DONGBANG 12 there (rules it in); nothing is dark there
    assert s2[0]['mmsi'] == S.MOORED and s2[0]['status'] == 'visible' and s2[0]['score'] == 1.0
    assert s2[0]['dist_nm'] < 0.05 and 'AIS places it here' in s2[0]['reason']
    assert {r['status'] for r in s2[1:]} <= {'excluded'}
    # Rajin at 120 h: both shuttles are visibly in Dunai, 100 nm away: no candidate
    assert [r['status'] for r in s3] == ['excluded', 'excluded'] and not any(r['best'] for r in s3)
    assert sum(res['best']) == 3


def test_arrival_boundary_follows_the_last_fix(cols, truth):
    """The earliest time the ANGARA can be at Rajin is its last fix + distance / speed: 10 min before it is
    excluded, 10 min after it is a candidate (distances by the scenario's own haversine)."""
    vessels, speed = sightings.vessel_speeds(cols)
    v = speed[list(vessels).index(S.ANGARA)]
    last = max((r for r in truth.rows if r['mmsi'] == S.ANGARA and r['t'] <= S.T0 + 60 * H), key=lambda r: r['t'])
    eta = last['t'] + (S.nm((last['lon'], last['lat']), RAJIN) - 500 / 1852) / v * 3600
    res = _match(cols, [(RAJIN, (eta - 600 - S.T0) / H), (RAJIN, (eta + 600 - S.T0) / H)])
    early, late = _rows(res, 0), _rows(res, 1)
    assert [r['status'] for r in early if r['mmsi'] == S.ANGARA] == ['excluded']
    ang = [r for r in late if r['mmsi'] == S.ANGARA][0]
    assert ang['status'] == 'dark' and ang['slack_h'] == pytest.approx(600 / 3600, abs=2e-3)


def test_time_window_and_speed_cap(cols):
    # a +-12 h uncertain date lets the MARIA reach Rajin too (arrival possible from ~78 h); the ANGARA,
    # with more slack, stays first
    res = _match(cols, [(RAJIN, 72)], window_s=[12 * H])
    rows = _rows(res, 0)
    assert [r['mmsi'] for r in rows[:2]] == [S.ANGARA, S.MARIA] and rows[1]['status'] == 'dark'
    assert rows[0]['score'] > rows[1]['score'] > 0
    # at 4 kn the ANGARA could not have made the 90 nm from its last fix by 72 h
    slow = _match(cols, [(RAJIN, 72)], speeds=(np.unique(cols['mmsi']), np.full(5, 4.0)))
    assert not slow['best'].any() and 'would need' in _rows(slow, 0)[0]['reason']


def test_length_agreement_ranks_two_dark_ships_at_the_quay(cols):
    # Rajin at 80 h: the ANGARA (until 82 h) and the MARIA (from 78 h) are both at the quay, both dark
    lengths = (np.array([S.ANGARA, S.MARIA]), np.array([120.0, 90.0]))
    for seen, first in ((118.0, S.ANGARA), (93.0, S.MARIA)):
        rows = _rows(_match(cols, [(RAJIN, 80)], length_m=[seen], lengths=lengths), 0)
        assert rows[0]['mmsi'] == first and rows[1]['status'] == 'dark'
        assert rows[0]['length_ratio'] == pytest.approx(seen / (120.0 if first == S.ANGARA else 90.0))
    # no image length: no length agreement, both keep their slack-only scores
    rows = _rows(_match(cols, [(RAJIN, 80)], lengths=lengths), 0)
    assert all(np.isnan(r['length_ratio']) for r in rows)


def test_heading_of_a_visible_ship(cols):
    # HANSA PIONEER at sea on a 14 kn leg: a sighting on its AIS position with its heading, then crossways
    i = np.flatnonzero((cols['mmsi'] == S.HANSA) & (cols['sog'] > 10))[40]
    x, y, t, hd = cols['lon'][i], cols['lat'][i], int(cols['t'][i]), float(cols['heading'][i])
    on = sightings.match_sightings([x, x], [y, y], [t, t], cols, heading_deg=[(hd + 180) % 360, (hd + 90) % 360])
    a, b = _rows(on, 0)[0], _rows(on, 1)[0]
    assert a['mmsi'] == b['mmsi'] == S.HANSA and a['status'] == 'visible'
    assert a['heading_diff'] == pytest.approx(0, abs=1e-6) and b['heading_diff'] == pytest.approx(90)
    assert a['score'] == pytest.approx(1.0) and b['score'] < 0.01


def test_projected_crs_agrees_with_geodesic(cols):
    from osgeo import osr
    wgs, utm = osr.SpatialReference(), osr.SpatialReference()
    wgs.ImportFromEPSG(4326)
    utm.ImportFromEPSG(32652)
    for s in (wgs, utm):
        s.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    tr = osr.CoordinateTransformation(wgs, utm)
    xy = np.array(tr.TransformPoints(np.c_[cols['lon'], cols['lat']]))
    proj = dict(cols, lon=xy[:, 0], lat=xy[:, 1])
    cases = CASES[:2]
    sxy = np.array(tr.TransformPoints([list(p) for p, _ in cases]))
    a = _match(cols, cases)
    b = sightings.match_sightings(sxy[:, 0], sxy[:, 1], [S.T0 + h * H for _, h in cases], proj, geodesic=False,
                                  near_nm=120.0, speeds=sightings.vessel_speeds(cols))
    assert list(a['mmsi']) == list(b['mmsi']) and list(a['status']) == list(b['status'])
    # UTM scale error here (~0.1 %) moves slack by minutes only
    assert np.allclose(a['slack_h'], b['slack_h'], atol=0.1, equal_nan=True)


def test_core_bad_input(cols):
    with pytest.raises(CargoWatchError, match='same length'):
        sightings.match_sightings([1.0, 2.0], [1.0], [0, 0], cols)
    with pytest.raises(CargoWatchError, match='needs a position'):
        sightings.match_sightings([np.nan], [1.0], [0], cols)
    # before any AIS: nothing bounds where the vessels were, so nothing is listed
    res = sightings.match_sightings([RAJIN[0]], [RAJIN[1]], [S.T0 - 86400], cols, near_nm=500)
    assert list(res['status']) == ['none'] and res['mmsi'][0] == -1 and 'no vessel' in res['reason'][0]


# ------------------------------------------------------------------------------------------ the algorithm
@pytest.fixture(scope='module')
def positions(tmp_path_factory):
    import processing
    d = tmp_path_factory.mktemp('match')
    processing.run('cargowatch:importais', {'INPUT': str(SAMPLE), 'OUTPUT': str(d / 'pos.gpkg')})
    return d


def _sightings_layer(path, cases, time_kind='string', extra=None):
    from osgeo import ogr, osr
    ds = ogr.GetDriverByName('GPKG').CreateDataSource(str(path))
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32652)  # the image's UTM zone: sightings need not be in EPSG:4326
    wgs = osr.SpatialReference()
    wgs.ImportFromEPSG(4326)
    for s in (srs, wgs):
        s.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    tr = osr.CoordinateTransformation(wgs, srs)
    lyr = ds.CreateLayer('sightings', srs, ogr.wkbPoint)
    lyr.CreateField(ogr.FieldDefn('label', ogr.OFTString))
    lyr.CreateField(ogr.FieldDefn('time', ogr.OFTString if time_kind == 'string' else ogr.OFTDateTime))
    for name in (extra or {}):
        lyr.CreateField(ogr.FieldDefn(name, ogr.OFTString if isinstance(extra[name][0], str) else ogr.OFTReal))
    for k, ((lon, lat), h) in enumerate(cases):
        f = ogr.Feature(lyr.GetLayerDefn())
        f.SetField('label', 'ship {}'.format(k))
        if isinstance(h, str):  # the time as given
            f.SetField('time', h)
        elif time_kind == 'string':
            f.SetField('time', np.datetime_as_string(np.datetime64(int(S.T0 + h * H), 's')) + 'Z')
        else:
            t = S.T0 + h * H
            d = np.datetime64(int(t), 's').astype(object)
            f.SetField('time', d.year, d.month, d.day, d.hour, d.minute, d.second, 100)
        for name, vals in (extra or {}).items():
            f.SetField(name, vals[k])
        x, y, _ = tr.TransformPoint(lon, lat)
        f.SetGeometry(ogr.CreateGeometryFromWkt('POINT({} {})'.format(x, y)))
        lyr.CreateFeature(f)
    ds = None
    return str(path)


def test_algorithm_end_to_end(positions):
    import processing
    d = positions
    sl = _sightings_layer(d / 'seen.gpkg', CASES, 'datetime', {'time_window_h': [0, 0, 0, 0]})
    res = processing.run('cargowatch:matchsightings', {'SIGHTINGS': sl, 'POSITIONS': str(d / 'pos.gpkg'),
                                                       'NEAR_NM': 120, 'OUTPUT': str(d / 'cand.gpkg')})
    assert res['MATCHED'] == 3
    out = QgsVectorLayer(str(d / 'cand.gpkg'), 'c', 'ogr')
    rows = [f for f in out.getFeatures()]
    best = {f['label']: f for f in rows if f['best'] == 1}
    assert best['ship 0']['mmsi'] == S.ANGARA and best['ship 0']['name'] == 'ANGARA'
    assert best['ship 1']['mmsi'] == S.MARIA and best['ship 2']['mmsi'] == S.MOORED
    assert 'ship 3' not in best
    decoy = [f for f in rows if f['label'] == 'ship 0' and f['mmsi'] == S.MARIA][0]
    assert decoy['status'] == 'excluded' and 'would need' in decoy['reason'] and decoy['score'] == 0
    # the dark track: last fix -> sighting -> next fix, times as datetimes
    g = best['ship 0'].geometry().asPolyline()
    assert len(g) == 3 and g[1].x() == pytest.approx(RAJIN[0], abs=1e-6) and g[1].y() == pytest.approx(RAJIN[1],
                                                                                                       abs=1e-6)
    assert best['ship 0']['last_fix'].toSecsSinceEpoch() <= S.T0 + 49 * H < best['ship 0']['next_fix'] \
        .toSecsSinceEpoch()
    assert best['ship 0']['time_window_h'] == 0 and best['ship 0']['slack_h'] > 5
    # the importais layer has no length field: no length agreement
    assert all(f['length_ratio'] is None or str(f['length_ratio']) == 'NULL' for f in rows)


def test_algorithm_iso_text_time_and_max_speed_via_qgis_process(positions):
    d = positions
    sl = _sightings_layer(d / 'iso.gpkg', [(RAJIN, '2023-03-04T00:00:00+00:00'), (RAJIN, '2023-03-04 00:00:00')])
    _proc, res = run_qgis_process('cargowatch:matchsightings', {
        'SIGHTINGS': sl, 'POSITIONS': str(d / 'pos.gpkg'), 'MAX_SPEED': 4, 'NEAR_NM': 120,
        'OUTPUT': str(d / 'iso_out.gpkg')})
    # 72 h after T0; at 4 kn nobody can have been there
    assert res['MATCHED'] == 0
    rows = list(QgsVectorLayer(str(d / 'iso_out.gpkg'), 'c', 'ogr').getFeatures())
    ang = [f for f in rows if f['mmsi'] == S.ANGARA]
    assert len(ang) == 2 and all(f['speed_kn'] == 4 and 'would need' in f['reason'] for f in ang)
    _proc, res = run_qgis_process('cargowatch:matchsightings', {'SIGHTINGS': sl, 'POSITIONS': str(d / 'pos.gpkg'),
                                                                'OUTPUT': str(d / 'iso_out2.gpkg')})
    assert res['MATCHED'] == 2
    # default NEAR_NM (50 nm): the MARIA, 90 nm out, is not listed
    rows = list(QgsVectorLayer(str(d / 'iso_out2.gpkg'), 'c', 'ogr').getFeatures())
    assert {(f['mmsi'], f['status']) for f in rows} == {(S.ANGARA, 'dark')}


def test_algorithm_bad_input(positions, tmp_path):
    import processing
    from osgeo import ogr, osr
    d = positions
    bad_time = _sightings_layer(tmp_path / 'bad.gpkg', [(RAJIN, 'last Tuesday')])
    with pytest.raises(QgsProcessingException, match='not a date and time'):
        processing.run('cargowatch:matchsightings', {'SIGHTINGS': bad_time, 'POSITIONS': str(d / 'pos.gpkg'),
                                                     'OUTPUT': 'TEMPORARY_OUTPUT'})
    ds = ogr.GetDriverByName('GPKG').CreateDataSource(str(tmp_path / 'notime.gpkg'))
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(4326)
    lyr = ds.CreateLayer('s', srs, ogr.wkbPoint)
    lyr.CreateField(ogr.FieldDefn('when', ogr.OFTString))
    f = ogr.Feature(lyr.GetLayerDefn())
    f.SetGeometry(ogr.CreateGeometryFromWkt('POINT(130.3 42.24)'))
    lyr.CreateFeature(f)
    ds = None
    with pytest.raises(QgsProcessingException, match='field "time"'):
        processing.run('cargowatch:matchsightings', {'SIGHTINGS': str(tmp_path / 'notime.gpkg'),
                                                     'POSITIONS': str(d / 'pos.gpkg'), 'OUTPUT': 'TEMPORARY_OUTPUT'})
    win = _sightings_layer(tmp_path / 'win.gpkg', [(RAJIN, 72)], extra={'length_m': ['long']})
    with pytest.raises(QgsProcessingException, match='length_m must be a number'):
        processing.run('cargowatch:matchsightings', {'SIGHTINGS': win, 'POSITIONS': str(d / 'pos.gpkg'),
                                                     'OUTPUT': 'TEMPORARY_OUTPUT'})


def test_vectorised_matches_a_plain_loop():
    """Random tracks and sightings: the vectorised statuses and slacks equal a per-pair loop over the formula."""
    rng = np.random.default_rng(3)
    rows = []
    for m in range(100000001, 100000013):
        t = S.T0 + np.cumsum(rng.choice([900, 900, 900, 20 * H], size=60))
        lon = 130 + np.cumsum(rng.normal(0, 0.05, 60))
        lat = 42 + np.cumsum(rng.normal(0, 0.04, 60))
        rows.append((np.full(60, m), t, lon, lat))
    c = {k: np.concatenate([r[i] for r in rows]) for i, k in enumerate(('mmsi', 't', 'lon', 'lat'))}
    c['sog'] = np.full(len(c['t']), 8.0)
    n = 40
    sx, sy = rng.uniform(129.8, 130.6, n), rng.uniform(41.7, 42.5, n)
    st = rng.integers(S.T0, c['t'].max(), n)
    res = sightings.match_sightings(sx, sy, st, c, speeds=(np.unique(c['mmsi']), np.full(12, 8.0)),
                                    near_nm=1e9, tolerance_m=300.0)
    v = 8.0 * 1852 / 3600
    for k in range(n):
        for m, mt, mlon, mlat in rows:
            i = np.searchsorted(mt, st[k], side='right') - 1
            if i < 0 or i + 1 >= len(mt) and mt[i] != st[k]:
                assert not np.any((res['sighting'] == k) & (res['mmsi'] == m[0]))
                continue
            j = i if mt[i] == st[k] else i + 1
            d0 = max(S.nm((mlon[i], mlat[i]), (sx[k], sy[k])) * 1852 - 300, 0)
            d1 = max(S.nm((mlon[j], mlat[j]), (sx[k], sy[k])) * 1852 - 300, 0)
            early, late = mt[i] + d0 / v, mt[j] - d1 / v
            slack = min(st[k] - early, late - st[k], late - early) / 3600
            r = np.flatnonzero((res['sighting'] == k) & (res['mmsi'] == m[0]))
            assert len(r) == 1
            if slack >= 0:
                assert res['status'][r[0]] == ('dark' if mt[j] - mt[i] > 6 * H else 'visible')
                assert res['slack_h'][r[0]] == pytest.approx(slack, abs=1e-3)
            else:
                assert res['status'][r[0]] == 'excluded'
    assert set(res['status']) >= {'dark', 'excluded'}


def test_algorithm_lengths_from_the_positions_layer(positions, tmp_path):
    """A positions layer with a length_m field: lengths are compared. At 80 h both shuttles are at the Rajin
    quay, dark; a 92 m ship on the image is the MARIA (90 m), not the ANGARA (120 m)."""
    import shutil
    import processing
    from osgeo import ogr
    pos = str(tmp_path / 'pos_len.gpkg')
    shutil.copyfile(str(positions / 'pos.gpkg'), pos)
    ds = ogr.Open(pos, 1)
    lyr = ds.GetLayer(0)
    lyr.CreateField(ogr.FieldDefn('length_m', ogr.OFTReal))
    for m, length in ((S.ANGARA, 120.0), (S.MARIA, 90.0)):
        ds.ExecuteSQL('UPDATE "{}" SET length_m={} WHERE mmsi={}'.format(lyr.GetName(), length, m))
    ds = None
    sl = _sightings_layer(tmp_path / 'seen80.gpkg', [(RAJIN, 80)], extra={'length_m': [92.0]})
    processing.run('cargowatch:matchsightings', {'SIGHTINGS': sl, 'POSITIONS': pos,
                                                 'OUTPUT': str(tmp_path / 'len.gpkg')})
    rows = sorted(QgsVectorLayer(str(tmp_path / 'len.gpkg'), 'c', 'ogr').getFeatures(), key=lambda f: -f['score'])
    assert [(f['mmsi'], f['status'], f['best']) for f in rows] == [(S.MARIA, 'dark', 1), (S.ANGARA, 'dark', 0)]
    assert rows[0]['length_ais_m'] == 90 and rows[0]['length_ratio'] == pytest.approx(92 / 90)
    assert rows[1]['length_ais_m'] == 120 and rows[0]['length_m'] == 92
