"""cargowatch:importais (algorithms/import_ais.py) on the real AIS samples in ../shared/data/ais (read in place,
never copied) and on bad input: GeoPackage output with its spatial index, point layers, NMEA with static data,
JSON lines, temporary outputs."""
import pytest
from qgis.core import QgsProcessingException, QgsVectorLayer

from helpers.paths import needs_shared, SHARED_AIS

pytest.importorskip('pyais')
pytestmark = needs_shared(SHARED_AIS, 'the shared AIS samples')


def run(params):
    import processing
    return processing.run('cargowatch:importais', params)


def layer_of(path):
    lyr = QgsVectorLayer(str(path), 'out', 'ogr')
    assert lyr.isValid()
    return lyr


# ------------------------------------------------------------------------------------------- the algorithm
def test_importais_csv_to_geopackage(tmp_path):
    out = tmp_path / 'solent.gpkg'
    rej = tmp_path / 'rejected.gpkg'
    res = run({'INPUT': str(SHARED_AIS / 'SolentAIS_20160112_130211.csv'), 'OUTPUT': str(out),
               'REJECTED': str(rej)})
    assert res['ROWS_READ'] == 18623
    assert res['ROWS_KEPT'] + res['ROWS_REJECTED'] == 18623
    lyr = layer_of(out)
    assert [f.name() for f in lyr.fields()][-11:] == ['mmsi', 'time', 'sog', 'cog', 'heading', 'status', 'name',
                                                      'imo', 'callsign', 'ship_type', 'destination']
    assert lyr.featureCount() == res['ROWS_KEPT']
    f = next(lyr.getFeatures())
    assert f['time'].toString('yyyy-MM-dd') == '2016-01-12'
    rl = layer_of(rej)
    reasons = [f['reason'] for f in rl.getFeatures()]
    assert reasons.count('impossible jump') == 1 and reasons.count('exact duplicate') == 3
    jump = [f for f in rl.getFeatures() if f['reason'] == 'impossible jump'][0]
    assert '245188000' in jump['raw']


def test_importais_point_layer(tmp_path):
    out = tmp_path / 'boston.gpkg'
    res = run({'INPUT': str(SHARED_AIS / 'trajectools_ais.gpkg'), 'OUTPUT': str(out)})
    assert res['ROWS_READ'] == 972
    lyr = layer_of(out)
    assert lyr.featureCount() == res['ROWS_KEPT'] > 900
    mm = {f['mmsi'] for f in lyr.getFeatures()}
    assert len(mm) == 4


def test_importais_nmea_with_static(tmp_path):
    out = tmp_path / 'nl.gpkg'
    res = run({'INPUT': str(SHARED_AIS / 'gpsd_ais-nmea.log'), 'OUTPUT': str(out)})
    lyr = layer_of(out)
    names = {f['mmsi']: f['name'] for f in lyr.getFeatures()}
    assert res['ROWS_KEPT'] == lyr.featureCount()
    assert any(v == 'SEA ENTERPRISE' for v in names.values()) or 371255000 not in names


def test_importais_jsonl(tmp_path):
    res = run({'INPUT': str(SHARED_AIS / 'gfwseg_263576000.json'), 'OUTPUT': str(tmp_path / 'g.gpkg')})
    assert res['ROWS_READ'] == 948


def test_importais_bad_file(tmp_path):
    p = tmp_path / 'bad.csv'
    p.write_text('foo;bar\n1;2\n')
    with pytest.raises(QgsProcessingException):
        run({'INPUT': str(p), 'OUTPUT': str(tmp_path / 'o.gpkg')})


def test_importais_geopackage_spatial_index(tmp_path):
    import sqlite3
    out = tmp_path / 'solent.gpkg'
    run({'INPUT': str(SHARED_AIS / 'SolentAIS_20160112_130211.csv'), 'OUTPUT': str(out)})
    con = sqlite3.connect(str(out))
    table = con.execute("SELECT table_name FROM gpkg_contents WHERE data_type='features'").fetchone()[0]
    assert con.execute("SELECT rtreecheck('rtree_{}_geom')".format(table)).fetchone()[0] == 'ok'
    con.close()
    lyr = layer_of(out)
    from qgis.core import QgsFeatureRequest, QgsRectangle
    box = QgsRectangle(-1.2, 50.75, -1.1, 50.8)
    via_index = sum(1 for _ in lyr.getFeatures(QgsFeatureRequest().setFilterRect(box)))
    brute = sum(1 for f in lyr.getFeatures() if box.contains(f.geometry().asPoint()))
    assert via_index == brute > 100


def test_importais_temporary_output_is_a_geopackage():
    import processing
    from qgis.core import QgsProject
    res = run({'INPUT': str(SHARED_AIS / 'gfwseg_263576000.json'), 'OUTPUT': 'TEMPORARY_OUTPUT'})
    assert str(res['OUTPUT']).endswith('.gpkg') and layer_of(res['OUTPUT']).featureCount() == res['ROWS_KEPT']
    before = set(QgsProject.instance().mapLayers())
    processing.runAndLoadResults('cargowatch:importais', {'INPUT': str(SHARED_AIS / 'gfwseg_263576000.json'),
                                                          'OUTPUT': 'TEMPORARY_OUTPUT'})
    new = [lyr for lid, lyr in QgsProject.instance().mapLayers().items() if lid not in before]
    try:
        assert len(new) == 1 and new[0].featureCount() == res['ROWS_KEPT']
        assert new[0].source().split('|')[0].endswith('.gpkg') and new[0].temporalProperties().isActive()
    finally:
        QgsProject.instance().removeMapLayers([lyr.id() for lyr in new])
