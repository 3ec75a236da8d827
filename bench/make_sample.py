"""Regenerate sample_data/rajin_port_sample.tif (+ its container-yard AOI) from the scene generator.

    /usr/bin/python3 bench/make_sample.py

A synthetic 0.5 m RGB scene (1200 x 1200 px, JPEG-in-GeoTIFF like many imagery deliveries) placed on
the port of Rajin (UTM 52N, EPSG:32652): container yard blocks, a rail yard with containers on flatcars,
trucks, cars, sheds, cranes and markings. ``rajin_port_sample_aoi.gpkg`` holds a polygon around the
container yard, and ``rajin_port_sample_truth.gpkg`` the exact truth (one polygon per container).
"""
import sys
from pathlib import Path

from osgeo import gdal, ogr, osr

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / 'test' / 'helpers'))
import scenes  # noqa: E402

OUT = ROOT / 'sample_data'
ORIGIN = (525100.0, 4678300.0)   # Rajin port, 42.24 N 130.30 E, in WGS 84 / UTM 52N
EPSG = 32652


def main():
    OUT.mkdir(exist_ok=True)
    sc = scenes.port_scene(seed=42, gsd=0.5, size_px=1200, rail=True, angle=0.35)
    tmp = '/vsimem/sample.tif'
    arr = scenes.to_dtype(sc.img)
    scenes.write_geotiff(tmp, arr, scenes.geotransform(sc.gsd, ORIGIN), EPSG, None,
                         [gdal.GCI_RedBand, gdal.GCI_GreenBand, gdal.GCI_BlueBand], compress=None)
    path = OUT / 'rajin_port_sample.tif'
    gdal.Translate(str(path), tmp, creationOptions=['COMPRESS=JPEG', 'JPEG_QUALITY=88', 'PHOTOMETRIC=YCBCR',
                                                    'TILED=YES'])
    gdal.Unlink(tmp)
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(EPSG)
    # AOI: the central two thirds of the scene (the container yard, leaving out the edges)
    x0, y0 = ORIGIN
    side = 1200 * sc.gsd
    ring = [(x0 + side * a, y0 - side * b) for a, b in ((0.15, 0.15), (0.85, 0.15), (0.85, 0.85), (0.15, 0.85))]
    _polygons(OUT / 'rajin_port_sample_aoi.gpkg', 'container_yard', srs, [ring], {})
    truth = scenes.truth_map_coords(sc, ORIGIN)
    _polygons(OUT / 'rajin_port_sample_truth.gpkg', 'truth', srs, [t['corners'] for t in truth],
              {'size_class': [t['size_class'] for t in truth], 'colour': [t['colour'] for t in truth]})
    print(f'{path}: {path.stat().st_size / 1e6:.2f} MB, {sc.n_containers} containers, {sc.teu} TEU')


def _polygons(path, name, srs, rings, fields):
    if Path(path).exists():
        Path(path).unlink()
    ds = ogr.GetDriverByName('GPKG').CreateDataSource(str(path))
    lyr = ds.CreateLayer(name, srs, ogr.wkbPolygon)
    for k in fields:
        lyr.CreateField(ogr.FieldDefn(k, ogr.OFTString))
    for i, ring in enumerate(rings):
        f = ogr.Feature(lyr.GetLayerDefn())
        wkt = 'POLYGON((' + ','.join(f'{x} {y}' for x, y in list(ring) + [ring[0]]) + '))'
        f.SetGeometry(ogr.CreateGeometryFromWkt(wkt))
        for k, vals in fields.items():
            f.SetField(k, vals[i])
        lyr.CreateFeature(f)
    ds = None


if __name__ == '__main__':
    main()
