"""The Dunai-Rajin scenario (test/helpers/ais_scenario.py) through core/: exact truth for
rejections, gaps, observed voyages and dark-voyage candidates, from NMEA and from CSV."""
import numpy as np
import pytest

from helpers import ais_scenario as S

pytest.importorskip('pyais')

from cargowatch.core import ais, gaps, geo, tracks, voyages  # noqa: E402

NAMES = list(S.SITES)


def _site_index(c):
    polys = [[[np.array(S.site_ring(n))]] for n in NAMES]
    return geo.site_index_of_points(c['lon'], c['lat'], polys)


@pytest.mark.parametrize('fmt', ['nmea', 'csv', 'mc'])
def test_import_counts_every_rejection(files, fmt):
    r = ais.read_ais(files[fmt])
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
    c = ais.read_ais(files[fmt]).cols
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
