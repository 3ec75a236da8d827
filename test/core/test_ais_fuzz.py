"""The AIS readers survive any file (issue #23): a few hundred seeded mutations of every sample format
(tools/fuzz_ais.py, whose longer run is `make fuzz`) and the crashes the issue reports, each from its exact
input, as regressions: bad rows rejected with their reason, good rows kept."""
import gzip
import random
import sys

import numpy as np
import pytest

from helpers.paths import needs_shared, ROOT, SHARED_AIS

pytest.importorskip('pyais')
pytestmark = needs_shared(SHARED_AIS, 'the shared AIS samples')

sys.path.insert(0, str(ROOT / 'tools'))
import fuzz_ais  # noqa: E402

from cargowatch.core import ais  # noqa: E402
from cargowatch.core.errors import CargoWatchError  # noqa: E402

# the line of the issue: an NMEA 4 tag block whose time c: is -1e308 (the sentence itself is sound)
ISSUE_TAG_LINE = rb'\s:2573435,c:-1e308*01\!BSVDM,1,1,,B,13mg1C0P000r;q0Veb1<qwvH00S3,0*1A'
EXPECTED_LAYOUT = {'csv_dma': 'CSV (Danish Maritime Authority)', 'csv_marinecadastre': 'CSV (NOAA MarineCadastre)',
                   'csv_gfw': 'CSV (Global Fishing Watch)', 'csv_spire': 'CSV (generic)',
                   'csv_solent': 'CSV (generic)', 'jsonl_gfw': 'JSON lines', 'jsonl_spire': 'JSON lines'}


def read_bytes(tmp_path, data, name='f.txt', **kw):
    p = tmp_path / name
    p.write_bytes(data)
    return ais.read_ais(str(p), **kw), p


# ------------------------------------------------------------------------------------------- the fuzzer itself
def test_every_sample_reads_clean_before_mutation(tmp_path, sample_set):
    assert {n.split('_')[0] for n in sample_set} == {'nmea', 'csv', 'jsonl'} and len(sample_set) == 11
    for name, (data, fmt) in sample_set.items():
        r, p = read_bytes(tmp_path, data, name)
        assert r.rows_read > 10 and r.rows_kept > 0, name  # the all-types sample has few timed rows
        assert fuzz_ais.check_result(r, str(p)) is None, name
        assert r.fmt == EXPECTED_LAYOUT.get(name, 'NMEA'), name
        if name == 'csv_dma':  # text statuses and static columns of the layout are understood
            assert (r.cols['status'] >= 0).any() and any(s['name'] for s in r.static.values())


def test_contract_check_catches_a_broken_result(tmp_path, sample_set):
    r, p = read_bytes(tmp_path, sample_set['csv_solent'][0], 's.csv')
    r.rows_read += 1
    assert fuzz_ais.check_result(r, str(p)) == 'row counts do not add up'
    r.rows_read -= 1
    r.cols['lat'][0] = 95.0
    assert fuzz_ais.check_result(r, str(p)) == 'kept position out of range'


def test_cases_replay_identically_and_differ(sample_set):
    a = fuzz_ais.make_case(17, 0, sample_set)
    assert a == fuzz_ais.make_case(17, 0, sample_set)
    assert len({fuzz_ais.make_case(i, 0, sample_set)[2] for i in range(30)}) == 30


# ------------------------------------------------------------------------------------------- the issue's crashes
def test_tag_block_time_out_of_range_is_a_rejected_row(tmp_path):
    good = (SHARED_AIS / 'norwegian.raw').read_bytes()
    ref = ais.read_ais(str(SHARED_AIS / 'norwegian.raw'))
    r, _ = read_bytes(tmp_path, ISSUE_TAG_LINE + b'\n' + good, 'bad_tag.nmea')
    assert r.rejected_reason[r.rejected_line == 1].tolist() == [ais.R_TIME]
    assert r.rows_kept == ref.rows_kept and r.rows_rejected == ref.rows_rejected + 1
    assert r.reasons[ais.R_TIME] == 1
    # c: +1e308 and c:inf too (too large for 64 bits, infinite); a c: that is no number stays 'no timestamp'
    for c, reason in ((b'1e308', ais.R_TIME), (b'inf', ais.R_TIME), (b'9' * 25, ais.R_TIME),
                      (b'x', ais.R_NOTIME)):
        r, _ = read_bytes(tmp_path, ISSUE_TAG_LINE.replace(b'-1e308', c) + b'\n' + good, 'c.nmea')
        assert r.rejected_reason[r.rejected_line == 1].tolist() == [reason] and r.rows_kept == ref.rows_kept


def test_receiver_log_with_a_number_too_large_for_64_bits(tmp_path):
    log = (SHARED_AIS / 'gpsd_ais-nmea.log').read_bytes()
    ref = ais.read_ais(str(SHARED_AIS / 'gpsd_ais-nmea.log'))
    # a receiver clock ($GPRMC) whose seconds got repeated digits: the clock sentence is ignored, the
    # positions keep the previous clock
    bad_clock = log.replace(b'$GPRMC,213951.00,', b'$GPRMC,2139510000000000000000.00,', 1)
    assert bad_clock != log
    r, _ = read_bytes(tmp_path, bad_clock, 'clock.log')
    assert r.rows_kept == ref.rows_kept and r.reasons == ref.reasons
    # a logged time before a sentence, mangled to 20 digits: that row is out of range, the others kept
    lines = log.split(b'\n')
    k = next(i for i, s in enumerate(lines) if s.startswith(b'!AIVDM,1,1') and i > 100)
    for stamp in (b'99999999999999999999 ', b'-1e308,'):
        lines2 = list(lines)
        lines2[k] = stamp + lines[k]
        r, _ = read_bytes(tmp_path, b'\n'.join(lines2), 'stamp.log')
        assert r.rejected_reason[r.rejected_line == k + 1].tolist() == [ais.R_TIME]
        assert r.rows_kept == ref.rows_kept - 1


def test_csv_with_a_stray_carriage_return(tmp_path):
    src = (SHARED_AIS / 'SolentAIS_20160112_130211.csv').read_bytes()
    ref = ais.read_ais(str(SHARED_AIS / 'SolentAIS_20160112_130211.csv'))
    # in a header field: the header still names its columns
    r, _ = read_bytes(tmp_path, src.replace(b'Latitude_degrees', b'Latitude_deg\rrees', 1), 'h.csv')
    assert r.rows_kept == ref.rows_kept and r.reasons == ref.reasons
    # inside a number (quoted or not): that row is garbled, every other row kept
    for field in (b'235013375,50.77\r66666666667', b'235013375,"50.77\r66666666667"'):
        r, _ = read_bytes(tmp_path, src.replace(b'235013375,50.7766666666667', field, 1), 'd.csv')
        assert r.rejected_reason[r.rejected_line == 3].tolist() == [ais.R_GARBLED]
        assert r.rows_read == ref.rows_read and r.rows_kept == ref.rows_kept - 1
    # after a quoted number: white space, the row is kept
    r, _ = read_bytes(tmp_path, src.replace(b'235013375,50.7766666666667', b'235013375,"50.7766666666667\r"', 1),
                      'q.csv')
    assert r.rows_kept == ref.rows_kept and r.reasons == ref.reasons


def test_random_bytes_given_as_nmea(tmp_path):
    """The issue's second CSV case: random bytes named .nmea (sniffed as CSV) - 200 seeded tries."""
    rng = random.Random(23)
    refused = 0
    for k in range(200):
        data = bytes(rng.randrange(256) for _ in range(rng.choice((16, 300, 3000))))
        try:
            r, p = read_bytes(tmp_path, data, 'r{}.nmea'.format(k))
        except CargoWatchError:
            refused += 1
            continue
        assert fuzz_ais.check_result(r, str(p)) is None
    assert refused > 150  # random bytes are rarely a file with a recognisable header


def test_cut_gzip_keeps_the_rows_before_the_cut(tmp_path):
    src = (SHARED_AIS / 'SolentAIS_20160112_130211.csv').read_bytes()
    z = gzip.compress(src, mtime=0)
    r, _ = read_bytes(tmp_path, z[:len(z) // 2], 'cut.csv.gz')
    assert 5000 < r.rows_kept < 17000
    assert any('damaged or cut short' in n for n in r.notes)
    full, _ = read_bytes(tmp_path, z, 'full.csv.gz')
    assert full.rows_kept > r.rows_kept and not any('damaged' in n for n in full.notes)
    # damaged from its very start: a clear error
    bad = z[:10] + bytes(b ^ 0xFF for b in z[10:40]) + z[40:]
    with pytest.raises(CargoWatchError, match='damaged'):
        read_bytes(tmp_path, bad, 'bad.csv.gz')


def test_json_and_csv_values_beyond_64_bits(tmp_path):
    lines = (SHARED_AIS / 'gfwseg_263576000.json').read_bytes().split(b'\n')[:50]
    ref, _ = read_bytes(tmp_path, b'\n'.join(lines), 'ref.json')
    # an integer beyond float in a number field (JSON allows it): a garbled row, not an OverflowError
    bad = list(lines)
    bad[4] = bad[4].replace(b'"lat": ', b'"lat": 1' + b'0' * 400 + b', "x": ', 1)
    r, _ = read_bytes(tmp_path, b'\n'.join(bad), 'big.json')
    assert r.rejected_reason[r.rejected_line == 5].tolist() == [ais.R_GARBLED]
    assert r.rows_read == ref.rows_read
    # unix times too large for 64 bits or a date: out of range, whatever the reader
    csv = b'mmsi,timestamp,lat,lon\n235000001,1e300,50.1,-1.1\n235000001,1700000000,50.1,-1.1\n' \
          b'235000001,99999999999999,50.1,-1.1\n'
    r, _ = read_bytes(tmp_path, csv, 't.csv')
    assert r.rows_kept == 1 and r.rejected_line.tolist() == [2, 4] and r.reasons[ais.R_TIME] == 2
    ms, ok = ais.times_ms(np.array([1e300, np.inf, 1.7e9, np.nan]))
    assert ok.tolist() == [True, True, True, False] and ms[0] == ms[1] == ais.BAD_TIME


def test_a_few_hundred_mangled_files_are_read_or_refused_cleanly(tmp_path):
    failures, outcomes, _slowest = fuzz_ais.run(400, seed=0, workdir=str(tmp_path))
    assert not failures, '\n'.join('case {case} ({sample}, {format}; {mutation}): {error}'.format(**f)
                                   for f in failures)
    # most mangled files still give rows: the readers themselves are exercised, not only the refusals
    assert outcomes['read'] > 250 and outcomes['refused'] > 20
