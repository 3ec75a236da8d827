"""core/ AIS functions on small exact inputs and on the real trajectools GeoPackage (MarineCadastre schema)."""
import numpy as np
import pytest
from osgeo import ogr

from helpers import paths
from helpers.paths import SHARED_AIS
from cargowatch.core import ais, gaps, geo, tracks, voyages
from cargowatch.core.errors import CargoWatchError

GPKG = SHARED_AIS / 'trajectools_ais.gpkg'
needs_shared = paths.needs_shared(GPKG, 'the shared AIS sample')


def cols(mmsi, t, lon, lat, sog=None):
    n = len(mmsi)
    return {'mmsi': np.array(mmsi, dtype=np.int64), 't': np.array(t, dtype=np.int64),
            'lon': np.array(lon, dtype=float), 'lat': np.array(lat, dtype=float),
            'sog': np.array(sog if sog is not None else [np.nan] * n, dtype=np.float32),
            'cog': np.full(n, np.nan, np.float32), 'heading': np.full(n, np.nan, np.float32),
            'status': np.full(n, -1, np.int16)}


def test_haversine_one_degree_of_latitude_is_60_nm():
    assert geo.haversine_nm(0, 0, 0, 1) == pytest.approx(60.04, abs=0.01)
    assert geo.haversine_nm(179.9, 0, -179.9, 0) == pytest.approx(12.0, abs=0.05)  # across the antimeridian


def test_point_in_polygon_with_hole():
    ext = np.array([(0, 0), (10, 0), (10, 10), (0, 10)])
    hole = np.array([(4, 4), (6, 4), (6, 6), (4, 6)])
    inside = geo.points_in_polygon([1, 5, 11, 9.9], [1, 5, 5, 9.9], [ext, hole])
    assert inside.tolist() == [True, False, False, True]
    idx = geo.site_index_of_points([1, 5, 20], [1, 5, 20], [[[ext, hole]], [[hole]]])
    assert idx.tolist() == [0, 1, -1]


def test_sort_and_segments():
    c = cols([2, 1, 1, 1, 2], [50, 100, 0, 100000, 0], [0, 1, 0, 2, 0], [0, 0, 0, 0, 1])
    s = tracks.sort_positions(c)
    assert s['mmsi'].tolist() == [1, 1, 1, 2, 2] and s['t'].tolist() == [0, 100, 100000, 0, 50]
    assert tracks.sort_positions(s) is s
    seg = tracks.segment_ids(s['mmsi'], s['t'], 43200)
    assert seg.tolist() == [0, 0, 1, 2, 2]
    summ = tracks.segments(s['mmsi'], s['t'], s['lon'], s['lat'], 43200, min_points=2)
    assert summ['mmsi'].tolist() == [1, 2] and summ['points'].tolist() == [2, 2]
    assert summ['length_nm'][0] == pytest.approx(60.04, abs=0.05)
    assert tracks.segment_ids(np.zeros(0), np.zeros(0), 10).shape == (0,)


def test_find_gaps_strictly_longer_and_per_vessel():
    m = [1, 1, 1, 2, 2]
    t = [0, 43200, 86401, 0, 90000]
    g = gaps.find_gaps(m, t, [0, 0, 0, 5, 6], [0, 0, 1, 0, 0], 43200)
    assert g['i0'].tolist() == [1, 3] and g['i1'].tolist() == [2, 4]   # exactly 12 h is not a gap
    assert g['hours'][1] == pytest.approx(25.0)
    assert g['implied_speed_kn'][0] == pytest.approx(60.04 / (43201 / 3600), rel=1e-3)
    e = gaps.find_gaps([], [], [], [], 10)
    assert all(len(v) == 0 for v in e.values())


def test_port_calls_merge_split_and_min_stay():
    m = [1] * 8
    t = [0, 600, 1200, 1800, 2400, 100000, 100600, 200000]
    site = [0, 0, -1, 0, 0, 0, 1, 1]
    c = voyages.port_calls(m, t, site, 0, merge_gap_s=1200)
    assert c['site'].tolist() == [0, 1] and c['arrive'].tolist() == [0, 100600]  # excursion merged
    c = voyages.port_calls(m, t, site, 0, merge_gap_s=0, split_gap_s=50000)
    assert c['site'].tolist() == [0, 0, 0, 1, 1]  # no merging; split where nothing was sent for > 50000 s
    c = voyages.port_calls(m, t, site, 1000, merge_gap_s=1200, split_gap_s=50000)
    assert c['site'].tolist() == [0] and c['depart'].tolist() == [2400]  # single-fix calls are under 1000 s
    v = voyages.voyages_from_calls(voyages.port_calls(m, t, site, 0, merge_gap_s=1200))
    assert (v['from_site'].tolist(), v['to_site'].tolist(), v['depart'].tolist(), v['arrive'].tolist()) == \
        ([0], [1], [100000], [100600])


def test_dark_candidates_reachability_rule():
    # vessel at A (0,0) before and after a 30 h gap; B is 60 nm away, C is 300 nm away
    m = [1, 1, 1, 1]
    t = [0, 3600, 3600 + 30 * 3600, 3600 + 31 * 3600]
    lon = [0.0, 0.0, 0.0, 0.0]
    lat = [0.0, 0.0, 0.0, 0.0]
    site_index = np.array([0, 0, 0, 0])
    verts = [(np.array([0.0]), np.array([0.0])), (np.array([1.0]), np.array([0.0])),
             (np.array([5.0]), np.array([0.0]))]
    g = gaps.find_gaps(m, t, lon, lat, 12 * 3600)
    d = voyages.dark_voyage_candidates(g, m, t, lon, lat, site_index, verts, 10.0, 6 * 3600)
    assert d['reachable'][0].tolist() == [1]            # 120 nm / 10 kn = 12 h + 6 h <= 30 h; C needs 60 h
    assert d['slack_h'][0][0] == pytest.approx(30 - 6 - 2 * 60.04 / 10, abs=0.01)
    d = voyages.dark_voyage_candidates(g, m, t, lon, lat, site_index, verts, 3.0, 6 * 3600)
    assert len(d['gap']) == 0                            # too slow for B
    d = voyages.dark_voyage_candidates(g, m, t, lon, lat, site_index, verts, 30.0, 6 * 3600)
    assert d['reachable'][0].tolist() == [1, 2]          # best slack first
    vessels, speed = voyages.vessel_top_speed(np.array([1, 1, 2]), np.array([0, 10, 0]), np.zeros(3), np.zeros(3),
                                              np.array([5, 80, np.nan]), quantile=1.0)
    assert vessels.tolist() == [1, 2] and speed.tolist() == [5.0, 0.0]  # 80 kn is above the cap


def test_parse_times_layouts():
    ms, ok = ais.parse_times(np.array([b'2016-01-12 13:02:11.218', b'12/01/2016 13:02:11',
                                          b'2016-01-12T13:02:11Z', b'2016-01-12T14:02:11+01:00', b'1452603731',
                                          b'2015-10-15T09:15:55.000000Z', b'garbage', b'']))
    assert ok.tolist() == [True] * 6 + [False, False]
    assert ms[:5].tolist() == [1452603731218, 1452603731000, 1452603731000, 1452603731000, 1452603731000]


def test_times_ms_of_any_column_type():
    t0 = 1700000000
    ms, ok = ais.times_ms(np.array(['2023-11-14T22:13:20', 'NaT'], dtype='datetime64[s]'))
    assert ok.tolist() == [True, False] and ms[0] == t0 * 1000
    ms, ok = ais.times_ms(np.array([t0, t0 * 1000.0 + 5, np.nan]))
    assert ok.tolist() == [True, True, False] and ms[:2].tolist() == [t0 * 1000, t0 * 1000 + 5]
    ms, ok = ais.times_ms(np.array(['2023-11-14 22:13:20Z', 'garbage', None], dtype=object))
    assert ok.tolist() == [True, False, False] and ms[0] == t0 * 1000


def test_clean_spike_duplicates_and_order():
    raw = ais.RawRows()
    # vessel 1 along the equator at 10 kn-ish, one spike; vessel 2 duplicates; out of order rows
    t = np.array([0, 600, 1200, 1800, 2400, 1200, 1200, 1200, 600], dtype=np.int64) * 1000
    m = np.array([235000001] * 5 + [235000002] * 3 + [235000002])
    lon = np.array([0, 0.03, 3.0, 0.09, 0.12, 1, 1, 1.01, 1])
    lat = np.ones(9)
    raw.add(mmsi=m, t_ms=t, lon=lon, lat=lat, sog=np.full(9, 10.0), cog=np.full(9, 360.0),
            heading=np.full(9, 511.0), status=np.zeros(9), line=np.arange(1, 10))
    res = ais.import_from_raw(raw, {}, 'test', [])
    assert res.reasons[ais.R_JUMP] == 1 and res.rejected_line[res.rejected_reason == ais.R_JUMP][0] == 3
    assert res.reasons[ais.R_DUP] == 1 and res.reasons[ais.R_REPEAT] == 1
    assert res.cols['t'].tolist() == [0, 600, 1800, 2400, 600, 1200]
    assert np.isnan(res.cols['cog']).all() and np.isnan(res.cols['heading']).all()


def test_nmea_without_pyais_is_a_clear_error(tmp_path, monkeypatch):
    import builtins
    real = builtins.__import__

    def fake(name, *a, **k):
        if name == 'pyais' or name.startswith('pyais.'):
            raise ImportError(name)
        return real(name, *a, **k)
    monkeypatch.setattr(builtins, '__import__', fake)
    p = tmp_path / 'x.nmea'
    p.write_text('!AIVDM,1,1,,B,13aDp<PP000IwSlN?Wm@0?wN2<1T,0*29\n')
    with pytest.raises(CargoWatchError, match='pyais'):
        ais.read_ais(str(p))


def _trajectools_cols():
    ds = ogr.Open(str(GPKG))
    rows = [(f['mmsi'], f['basedatetime'], f.GetGeometryRef().GetX(), f.GetGeometryRef().GetY())
            for f in ds.GetLayer(0)]
    ms, ok = ais.parse_times(np.array([r[1].encode() for r in rows]))
    assert ok.all()
    c = cols([r[0] for r in rows], ms // 1000, [r[2] for r in rows], [r[3] for r in rows])
    return tracks.sort_positions(c)


@needs_shared
def test_trajectools_gaps_of_six_hours_or_more():
    c = _trajectools_cols()
    g = gaps.find_gaps(c['mmsi'], c['t'], c['lon'], c['lat'], 6 * 3600)
    assert len(g['i0']) == 4
    assert g['hours'].max() == pytest.approx(35.0, abs=0.01)
    assert sorted(set(c['mmsi'][g['i0']].tolist())) == [215020081, 257990100]
