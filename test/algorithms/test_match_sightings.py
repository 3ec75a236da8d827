"""cargowatch:matchsightings (algorithms/match_sightings.py) on the Dunai-Rajin sample (sample_data/, truth in
test/helpers/ais_scenario.py): end to end, ISO text times and MAX_SPEED through qgis_process, bad input, vessel
lengths from the positions layer."""
import numpy as np
import pytest
from qgis.core import QgsProcessingException, QgsVectorLayer

from helpers import ais_scenario as S
from helpers.paths import SAMPLE as SAMPLE_DIR
from helpers.qgis_run import run_qgis_process, write_points

pytest.importorskip('pyais')

SAMPLE = SAMPLE_DIR / 'dunai_rajin_ais.nmea.gz'
RAJIN = S.SITES['Rajin']
H = 3600
CASES = S.SIGHTINGS


# ------------------------------------------------------------------------------------------ the algorithm
@pytest.fixture(scope='module')
def positions(tmp_path_factory):
    import processing
    d = tmp_path_factory.mktemp('match')
    processing.run('cargowatch:importais', {'INPUT': str(SAMPLE), 'OUTPUT': str(d / 'pos.gpkg')})
    return d


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
    d = positions
    bad_time = _sightings_layer(tmp_path / 'bad.gpkg', [(RAJIN, 'last Tuesday')])
    with pytest.raises(QgsProcessingException, match='not a date and time'):
        processing.run('cargowatch:matchsightings', {'SIGHTINGS': bad_time, 'POSITIONS': str(d / 'pos.gpkg'),
                                                     'OUTPUT': 'TEMPORARY_OUTPUT'})
    notime = write_points(tmp_path / 'notime.gpkg', [((130.3, 42.24), {})], fields=['when'], name='s')
    with pytest.raises(QgsProcessingException, match='field "time"'):
        processing.run('cargowatch:matchsightings', {'SIGHTINGS': notime,
                                                     'POSITIONS': str(d / 'pos.gpkg'), 'OUTPUT': 'TEMPORARY_OUTPUT'})
    win = _sightings_layer(tmp_path / 'win.gpkg', [(RAJIN, 72)], extra={'length_m': ['long']})
    with pytest.raises(QgsProcessingException, match='length_m must be a number'):
        processing.run('cargowatch:matchsightings', {'SIGHTINGS': win, 'POSITIONS': str(d / 'pos.gpkg'),
                                                     'OUTPUT': 'TEMPORARY_OUTPUT'})


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
