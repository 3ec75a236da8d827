"""core/ogr_columns.py: a GeoPackage point layer read whole through GDAL's Arrow stream."""
import numpy as np
from osgeo import ogr, osr

from cargowatch.core.ogr_columns import read_points


def _gpkg(path, geom_type=ogr.wkbPoint):
    ds = ogr.GetDriverByName('GPKG').CreateDataSource(str(path))
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(4326)
    lyr = ds.CreateLayer('positions', srs, geom_type)
    for name, kind in (('mmsi', ogr.OFTInteger64), ('sog', ogr.OFTReal), ('name', ogr.OFTString)):
        lyr.CreateField(ogr.FieldDefn(name, kind))
    return ds, lyr


def test_points_and_nulls(tmp_path):
    ds, lyr = _gpkg(tmp_path / 'p.gpkg')
    rows = [(273999001, 12.5, 'ANGARA', 130.3, 42.24), (273999002, None, None, 132.37, 42.93)]
    for mmsi, sog, name, x, y in rows:
        f = ogr.Feature(lyr.GetLayerDefn())
        f.SetField('mmsi', mmsi)
        if sog is not None:
            f.SetField('sog', sog)
        if name is not None:
            f.SetField('name', name)
        f.SetGeometry(ogr.CreateGeometryFromWkt(f'POINT ({x} {y})'))
        lyr.CreateFeature(f)
    ds = None
    got = read_points(tmp_path / 'p.gpkg', ['mmsi', 'sog', 'name'], layer_name='positions')
    assert got['x'].tolist() == [130.3, 132.37] and got['y'].tolist() == [42.24, 42.93]
    assert got['mmsi'].tolist() == [273999001, 273999002]
    assert got['sog'][0] == 12.5 and np.isnan(got['sog'][1])      # NULL is not 0
    assert got['name'][0] in (b'ANGARA', 'ANGARA') and got['name'][1] in (b'', '', None)
    sub = read_points(tmp_path / 'p.gpkg', ['mmsi'], layer_name='positions', subset='mmsi = 273999002')
    assert sub['mmsi'].tolist() == [273999002]


def test_not_points_or_not_a_file(tmp_path):
    ds, lyr = _gpkg(tmp_path / 'l.gpkg', ogr.wkbLineString)
    f = ogr.Feature(lyr.GetLayerDefn())
    f.SetGeometry(ogr.CreateGeometryFromWkt('LINESTRING (0 0, 1 1)'))
    lyr.CreateFeature(f)
    ds = None
    assert read_points(tmp_path / 'l.gpkg', ['mmsi'], layer_name='positions') is None
    assert read_points(tmp_path / 'missing.gpkg', ['mmsi']) is None
