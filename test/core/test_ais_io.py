"""The AIS readers (core/ais.py) on the real samples in ../shared/data/ais (read in place, never
copied) and on bad input."""
import gzip
import shutil

import numpy as np
import pytest

from helpers.paths import needs_shared, SHARED_AIS

pytest.importorskip('pyais')

from cargowatch.core import ais  # noqa: E402
from cargowatch.core.errors import CargoWatchError  # noqa: E402

pytestmark = needs_shared(SHARED_AIS, 'the shared AIS samples')


# ------------------------------------------------------------------------------------------- core on real data
def test_solent_csv_facts():
    r = ais.read_ais(str(SHARED_AIS / 'SolentAIS_20160112_130211.csv'))
    assert r.rows_read == 18623
    assert r.reasons[ais.R_DUP] == 3
    assert r.reasons[ais.R_JUMP] == 1
    # the corrupt fix (MMSI 245188000 at longitude 54.83) is the impossible jump
    i = list(r.rejected_reason).index(ais.R_JUMP)
    line = ais.read_source_lines(str(SHARED_AIS / 'SolentAIS_20160112_130211.csv'), [r.rejected_line[i]])
    assert '245188000' in line[r.rejected_line[i]] and ',54.83' in line[r.rejected_line[i]]
    c = r.cols
    assert len(np.unique(c['mmsi'])) == 91
    assert c['lon'].max() < 0  # nothing left at 54.83 E
    assert r.rows_read == r.rows_kept + r.rows_rejected
    # course 360 is "not available": kept as nan, never 360
    assert not np.any(c['cog'] >= 360)


def test_gfw_jsonl_not_available_and_duplicates():
    r = ais.read_ais(str(SHARED_AIS / 'gfwseg_263576000.json'))
    assert r.fmt == 'JSON lines'
    assert r.rows_read == 948
    assert r.reasons[ais.R_NOPOS] == 20  # 19 null positions and one at 91/181
    assert r.reasons[ais.R_DUP] + r.reasons[ais.R_REPEAT] > 200
    assert set(np.unique(r.cols['mmsi'])) == {263576000}
    assert np.all(np.abs(r.cols['lat']) <= 90)
    assert np.all(np.diff(r.cols['t']) > 0)


def test_nmea_receiver_log_rmc_clock_and_static():
    r = ais.read_ais(str(SHARED_AIS / 'gpsd_ais-nmea.log'))
    assert r.fmt == 'NMEA'
    assert r.rows_kept > 100
    # lat 91 is "position not available"
    assert r.reasons[ais.R_NOPOS] >= 1
    # the $GPRMC clock dates the messages: 2020-04-07 21:39 UTC onwards
    assert r.cols['t'].min() >= 1586295590 - 60 and r.cols['t'].max() < 1586295590 + 86400
    assert r.static[371255000]['name'] == 'SEA ENTERPRISE'
    assert r.static[371255000]['imo'] == 9266633
    assert r.static[371255000]['destination'] == 'LEMMER'
    # speed 102.3 = not available -> nan, never 102.3
    assert not np.any(r.cols['sog'] > 102.2)


def test_nmea_tag_blocks():
    r = ais.read_ais(str(SHARED_AIS / 'norwegian.raw'))
    t = r.cols['t']
    assert len(t) > 100
    assert t.min() >= 1733782030 and t.max() <= 1733782040  # c: tag times, 5 s of traffic
    assert r.reasons[ais.R_NOTIME] > 0  # sentences without a tag block and no clock yet


def test_nmea_all_types_sample():
    r = ais.read_ais(str(SHARED_AIS / 'gpsd_sample.aivdm'))
    # the type 1 sentence with 163 bits is truncated
    assert r.reasons[ais.R_GARBLED] >= 1
    assert r.static[351759000]['name'] == 'EVER DIADEM'
    assert r.rows_read == r.rows_kept + r.rows_rejected


def test_gzip_is_detected_by_content(tmp_path):
    src = SHARED_AIS / 'SolentAIS_20160112_130211.csv'
    gz = tmp_path / 'solent.dat'
    with open(src, 'rb') as f, gzip.open(gz, 'wb') as g:
        shutil.copyfileobj(f, g)
    r = ais.read_ais(str(gz))
    assert r.rows_read == 18623 and r.reasons[ais.R_JUMP] == 1


def test_csv_without_recognisable_columns(tmp_path):
    p = tmp_path / 'x.csv'
    p.write_text('a,b,c\n1,2,3\n')
    with pytest.raises(CargoWatchError, match='column mapping'):
        ais.read_ais(str(p))
    r = ais.read_ais(str(p), mapping={'mmsi': 'a', 'time': 'b', 'lat': 'c', 'lon': 'c'})
    assert r.rows_read == 1 and r.reasons[ais.R_MMSI] == 1


def test_empty_and_missing_files(tmp_path):
    p = tmp_path / 'empty.csv'
    p.write_text('')
    with pytest.raises(CargoWatchError, match='empty'):
        ais.read_ais(str(p))
    with pytest.raises(CargoWatchError, match='not found'):
        ais.read_ais(str(tmp_path / 'nope.csv'))


def test_bulk_rtree_is_a_valid_sqlite_rtree(tmp_path):
    import sqlite3
    from cargowatch.algorithms.ais_layers import bulk_load_rtree
    rng = np.random.default_rng(3)
    n = 60000  # three levels with ~167 entries per node
    x = rng.uniform(-180, 180, n)
    y = rng.uniform(-85, 85, n)
    ids = np.arange(1, n + 1) * 3
    con = sqlite3.connect(str(tmp_path / 'r.sqlite'))
    con.execute('CREATE VIRTUAL TABLE rt USING rtree(id, minx, maxx, miny, maxy)')
    bulk_load_rtree(con, 'rt', ids, x, y)
    con.commit()
    assert con.execute("SELECT rtreecheck('rt')").fetchone()[0] == 'ok'
    for _ in range(20):
        a, b = sorted(rng.uniform(-180, 180, 2))
        c, d = sorted(rng.uniform(-85, 85, 2))
        got = {r[0] for r in con.execute('SELECT id FROM rt WHERE maxx >= ? AND minx <= ? AND maxy >= ? AND miny <= ?',
                                         (a, b, c, d))}
        want = set(ids[(x >= a) & (x <= b) & (y >= c) & (y <= d)].tolist())
        assert got == want
    # and SQLite can go on updating it
    con.execute('INSERT INTO rt VALUES (1, 0, 0, 0, 0)')
    con.execute('DELETE FROM rt WHERE id = 3')
    assert con.execute("SELECT rtreecheck('rt')").fetchone()[0] == 'ok'


@pytest.mark.parametrize('variant', ['crlf', 'semicolon_bom', 'shuffled'])
def test_csv_variants_give_the_same_result(tmp_path, variant):
    src = (SHARED_AIS / 'SolentAIS_20160112_130211.csv').read_bytes()
    lines = src.splitlines()
    if variant == 'crlf':
        data = b'\r\n'.join(lines) + b'\r\n'
    elif variant == 'semicolon_bom':
        data = b'\xef\xbb\xbf' + b'\n'.join(x.replace(b',', b';') for x in lines) + b'\n'
    else:  # rows out of order: sorted, not dropped
        body = lines[1:]
        np.random.default_rng(1).shuffle(body)
        data = b'\n'.join([lines[0]] + body) + b'\n'
    p = tmp_path / 'v.csv'
    p.write_bytes(data)
    r = ais.read_ais(str(p))
    ref = ais.read_ais(str(SHARED_AIS / 'SolentAIS_20160112_130211.csv'))
    assert r.reasons == ref.reasons and r.rows_kept == ref.rows_kept
    assert np.array_equal(r.cols['t'], ref.cols['t']) and np.array_equal(r.cols['mmsi'], ref.cols['mmsi'])
    if variant == 'shuffled':
        assert any('out-of-order' in n for n in r.notes)
