"""importais survives any file (issue #23): a sample of the AIS fuzzer's seeded mutations (tools/fuzz_ais.py)
through the Processing algorithm, a cut gzip, the issue's tag block in the REJECTED table."""
import gzip

import pytest
from qgis.core import QgsProcessingException

from helpers.paths import needs_shared, ROOT, SHARED_AIS

pytest.importorskip('pyais')
pytestmark = needs_shared(SHARED_AIS, 'the shared AIS samples')

import sys  # noqa: E402
sys.path.insert(0, str(ROOT / 'tools'))
import fuzz_ais  # noqa: E402

from cargowatch.core import ais  # noqa: E402

# the line of the issue: an NMEA 4 tag block whose time c: is -1e308 (the sentence itself is sound)
ISSUE_TAG_LINE = rb'\s:2573435,c:-1e308*01\!BSVDM,1,1,,B,13mg1C0P000r;q0Veb1<qwvH00S3,0*1A'


def process(params):
    import processing
    return processing.run('cargowatch:importais', params)


def test_mangled_files_through_importais(tmp_path, sample_set):
    """A sample of the same cases through the Processing algorithm: a result or a QgsProcessingException."""
    read = 0
    for i in range(0, 400, 16):
        _name, asked, data, ext, _desc = fuzz_ais.make_case(i, 0, sample_set)
        p = tmp_path / 'case{}{}'.format(i, ext)
        p.write_bytes(data)
        fmt = ['auto', 'nmea', 'csv', 'jsonl'].index(asked)
        try:
            res = process({'INPUT': str(p), 'FORMAT': fmt, 'OUTPUT': str(tmp_path / 'o{}.gpkg'.format(i)),
                           'REJECTED': 'TEMPORARY_OUTPUT'})
        except QgsProcessingException as e:
            assert 'Traceback' not in str(e), str(e)  # how a Python error inside the algorithm arrives
            continue
        assert res['ROWS_READ'] == res['ROWS_KEPT'] + res['ROWS_REJECTED']
        read += 1
    assert read > 10


def test_importais_warns_about_a_cut_gzip(tmp_path):
    import processing
    from helpers.qgis_run import warnings_feedback
    z = gzip.compress((SHARED_AIS / 'SolentAIS_20160112_130211.csv').read_bytes(), mtime=0)
    cut = tmp_path / 'cut.csv.gz'
    cut.write_bytes(z[:len(z) // 2])
    fb = warnings_feedback()
    res = processing.run('cargowatch:importais', {'INPUT': str(cut), 'OUTPUT': 'TEMPORARY_OUTPUT'}, feedback=fb)
    assert res['ROWS_KEPT'] > 5000
    assert any('damaged or cut short' in w for w in fb.seen)


def test_tag_block_time_out_of_range_is_in_the_rejected_table(tmp_path):
    """The issue's tag block with c:-1e308: the row is in the REJECTED table with its reason, no traceback."""
    good = (SHARED_AIS / 'norwegian.raw').read_bytes()
    ref = ais.read_ais(str(SHARED_AIS / 'norwegian.raw'))
    p = tmp_path / 'bad_tag.nmea'
    p.write_bytes(ISSUE_TAG_LINE + b'\n' + good)
    res = process({'INPUT': str(p), 'OUTPUT': str(tmp_path / 'o.gpkg'), 'REJECTED': 'TEMPORARY_OUTPUT'})
    assert res['ROWS_KEPT'] == ref.rows_kept
    rej = {f['line']: (f['reason'], f['raw']) for f in res['REJECTED'].getFeatures()}
    assert rej[1] == (ais.R_TIME, ISSUE_TAG_LINE.decode())
