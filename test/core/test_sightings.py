"""Which dark vessel was that? core.sightings and cargowatch:matchsightings on the Dunai-Rajin sample scenario
(sample_data/dunai_rajin_ais.nmea.gz, truth in test/ais_scenario.py): ships seen at the Rajin quay during the
ANGARA's and the MARIA's dark runs, the other one as the decoy, a ship moored in Busan visible on AIS."""

import numpy as np
import pytest

from helpers import ais_scenario as S

pytest.importorskip('pyais')

from cargowatch.core import sightings  # noqa: E402
from cargowatch.core.errors import CargoWatchError  # noqa: E402

RAJIN, BUSAN = S.SITES['Rajin'], S.SITES['Busan']
H = 3600
CASES = S.SIGHTINGS


def _match(sample_cols, cases=CASES, **kw):
    kw.setdefault('near_nm', 120.0)
    return sightings.match_sightings([p[0] for p, _ in cases], [p[1] for p, _ in cases],
                                     [S.T0 + h * H for _, h in cases], sample_cols, **kw)


def _rows(res, k):
    return [{key: v[i] for key, v in res.items()} for i in np.flatnonzero(res['sighting'] == k)]


def test_true_vessel_first_decoy_excluded_with_reason(sample_cols, scenario_truth):
    res = _match(sample_cols)
    s0, s1, s2, s3 = (_rows(res, k) for k in range(4))
    # Rajin at 72 h: the ANGARA (dark, truly at the quay) is the best candidate
    assert s0[0]['mmsi'] == S.ANGARA and s0[0]['status'] == 'dark' and s0[0]['best'] == 1
    assert 41 < s0[0]['gap_h'] < 43 and s0[0]['slack_h'] > 5
    # ... the MARIA, dark too since 69 h but only 10 nm out of Dunai, is excluded with the speed it needed
    maria = [r for r in s0 if r['mmsi'] == S.MARIA][0]
    assert maria['status'] == 'excluded' and maria['score'] == 0 and maria['best'] == 0
    last = max((r for r in scenario_truth.rows if r['mmsi'] == S.MARIA and r['t'] <= S.T0 + 72 * H),
               key=lambda r: r['t'])
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


def test_arrival_boundary_follows_the_last_fix(sample_cols, scenario_truth):
    """The earliest time the ANGARA can be at Rajin is its last fix + distance / speed: 10 min before it is
    excluded, 10 min after it is a candidate (distances by the scenario's own haversine)."""
    vessels, speed = sightings.vessel_speeds(sample_cols)
    v = speed[list(vessels).index(S.ANGARA)]
    last = max((r for r in scenario_truth.rows if r['mmsi'] == S.ANGARA and r['t'] <= S.T0 + 60 * H),
               key=lambda r: r['t'])
    eta = last['t'] + (S.nm((last['lon'], last['lat']), RAJIN) - 500 / 1852) / v * 3600
    res = _match(sample_cols, [(RAJIN, (eta - 600 - S.T0) / H), (RAJIN, (eta + 600 - S.T0) / H)])
    early, late = _rows(res, 0), _rows(res, 1)
    assert [r['status'] for r in early if r['mmsi'] == S.ANGARA] == ['excluded']
    ang = [r for r in late if r['mmsi'] == S.ANGARA][0]
    assert ang['status'] == 'dark' and ang['slack_h'] == pytest.approx(600 / 3600, abs=2e-3)


def test_time_window_and_speed_cap(sample_cols):
    # a +-12 h uncertain date lets the MARIA reach Rajin too (arrival possible from ~78 h); the ANGARA,
    # with more slack, stays first
    res = _match(sample_cols, [(RAJIN, 72)], window_s=[12 * H])
    rows = _rows(res, 0)
    assert [r['mmsi'] for r in rows[:2]] == [S.ANGARA, S.MARIA] and rows[1]['status'] == 'dark'
    assert rows[0]['score'] > rows[1]['score'] > 0
    # at 4 kn the ANGARA could not have made the 90 nm from its last fix by 72 h
    slow = _match(sample_cols, [(RAJIN, 72)], speeds=(np.unique(sample_cols['mmsi']), np.full(5, 4.0)))
    assert not slow['best'].any() and 'would need' in _rows(slow, 0)[0]['reason']


def test_length_agreement_ranks_two_dark_ships_at_the_quay(sample_cols):
    # Rajin at 80 h: the ANGARA (until 82 h) and the MARIA (from 78 h) are both at the quay, both dark
    lengths = (np.array([S.ANGARA, S.MARIA]), np.array([120.0, 90.0]))
    for seen, first in ((118.0, S.ANGARA), (93.0, S.MARIA)):
        rows = _rows(_match(sample_cols, [(RAJIN, 80)], length_m=[seen], lengths=lengths), 0)
        assert rows[0]['mmsi'] == first and rows[1]['status'] == 'dark'
        assert rows[0]['length_ratio'] == pytest.approx(seen / (120.0 if first == S.ANGARA else 90.0))
    # no image length: no length agreement, both keep their slack-only scores
    rows = _rows(_match(sample_cols, [(RAJIN, 80)], lengths=lengths), 0)
    assert all(np.isnan(r['length_ratio']) for r in rows)


def test_heading_of_a_visible_ship(sample_cols):
    # HANSA PIONEER at sea on a 14 kn leg: a sighting on its AIS position with its heading, then crossways
    i = np.flatnonzero((sample_cols['mmsi'] == S.HANSA) & (sample_cols['sog'] > 10))[40]
    c = sample_cols
    x, y, t, hd = c['lon'][i], c['lat'][i], int(c['t'][i]), float(c['heading'][i])
    on = sightings.match_sightings([x, x], [y, y], [t, t], sample_cols, heading_deg=[(hd + 180) % 360, (hd + 90) % 360])
    a, b = _rows(on, 0)[0], _rows(on, 1)[0]
    assert a['mmsi'] == b['mmsi'] == S.HANSA and a['status'] == 'visible'
    assert a['heading_diff'] == pytest.approx(0, abs=1e-6) and b['heading_diff'] == pytest.approx(90)
    assert a['score'] == pytest.approx(1.0) and b['score'] < 0.01


def test_projected_crs_agrees_with_geodesic(sample_cols):
    from osgeo import osr
    wgs, utm = osr.SpatialReference(), osr.SpatialReference()
    wgs.ImportFromEPSG(4326)
    utm.ImportFromEPSG(32652)
    for s in (wgs, utm):
        s.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    tr = osr.CoordinateTransformation(wgs, utm)
    xy = np.array(tr.TransformPoints(np.c_[sample_cols['lon'], sample_cols['lat']]))
    proj = dict(sample_cols, lon=xy[:, 0], lat=xy[:, 1])
    cases = CASES[:2]
    sxy = np.array(tr.TransformPoints([list(p) for p, _ in cases]))
    a = _match(sample_cols, cases)
    b = sightings.match_sightings(sxy[:, 0], sxy[:, 1], [S.T0 + h * H for _, h in cases], proj, geodesic=False,
                                  near_nm=120.0, speeds=sightings.vessel_speeds(sample_cols))
    assert list(a['mmsi']) == list(b['mmsi']) and list(a['status']) == list(b['status'])
    # UTM scale error here (~0.1 %) moves slack by minutes only
    assert np.allclose(a['slack_h'], b['slack_h'], atol=0.1, equal_nan=True)


def test_core_bad_input(sample_cols):
    with pytest.raises(CargoWatchError, match='same length'):
        sightings.match_sightings([1.0, 2.0], [1.0], [0, 0], sample_cols)
    with pytest.raises(CargoWatchError, match='needs a position'):
        sightings.match_sightings([np.nan], [1.0], [0], sample_cols)
    # before any AIS: nothing bounds where the vessels were, so nothing is listed
    res = sightings.match_sightings([RAJIN[0]], [RAJIN[1]], [S.T0 - 86400], sample_cols, near_nm=500)
    assert list(res['status']) == ['none'] and res['mmsi'][0] == -1 and 'no vessel' in res['reason'][0]


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
