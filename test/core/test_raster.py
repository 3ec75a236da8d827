"""core/raster.py on real GDAL files: validation messages, metric grid, block streaming, AOI."""
import numpy as np
import pytest
from osgeo import gdal, osr

from cargowatch.core import raster as cr


def write_tif(path, data, epsg=32652, gt=(500000.0, 0.5, 0.0, 4700000.0, 0.0, -0.5), nodata=None, tiled=True):
    data = np.asarray(data)
    if data.ndim == 2:
        data = data[None]
    dtype = {np.uint8: gdal.GDT_Byte, np.uint16: gdal.GDT_UInt16, np.float32: gdal.GDT_Float32}[data.dtype.type]
    opts = ['TILED=YES', 'BLOCKXSIZE=256', 'BLOCKYSIZE=256'] if tiled else []
    ds = gdal.GetDriverByName('GTiff').Create(str(path), data.shape[2], data.shape[1], data.shape[0], dtype, opts)
    ds.SetGeoTransform(gt)
    if epsg:
        srs = osr.SpatialReference()
        srs.ImportFromEPSG(epsg)
        ds.SetProjection(srs.ExportToWkt())
    for i, band in enumerate(data, 1):
        b = ds.GetRasterBand(i)
        b.WriteArray(band)
        if nodata is not None:
            b.SetNoDataValue(nodata)
    ds = None
    return str(path)


def test_open_projected_rgb(tmp_path):
    p = write_tif(tmp_path / 'a.tif', np.random.default_rng(0).integers(0, 255, (3, 300, 400), dtype=np.uint8))
    r = cr.open_raster(p)
    assert r.width == 400 and r.height == 300 and r.bands == (1, 2, 3)
    assert r.gsd == pytest.approx(0.5) and not r.warped and r.scale == (0.0, 255.0)


def test_single_band_and_band_choice(tmp_path):
    p = write_tif(tmp_path / 'pan.tif', np.full((1, 50, 50), 7, dtype=np.uint16))
    assert cr.open_raster(p).bands == (1,)
    p4 = write_tif(tmp_path / 'ms.tif', np.ones((4, 50, 50), dtype=np.uint16))
    assert cr.open_raster(p4, bands=(3, 2, 1)).bands == (3, 2, 1)
    with pytest.raises(cr.RasterError, match='do not fit a raster with 4 band'):
        cr.open_raster(p4, bands=(5, 2, 1))


def test_uint16_is_stretched_to_unit_range(tmp_path):
    rng = np.random.default_rng(1)
    p = write_tif(tmp_path / 'u16.tif', rng.integers(100, 2047, (3, 600, 600)).astype(np.uint16))
    r = cr.open_raster(p)
    low, high = r.scale
    assert 90 <= low < 200 and 1900 < high <= 2047
    data, valid = cr.read_window(r, 0, 0, 600, 600)
    assert data.dtype == np.float32 and 0.0 <= data.min() and data.max() <= 1.0 and valid.all()


def test_geographic_raster_is_measured_in_metres(tmp_path):
    # 0.5 m at 42.3 N (Rajin): 0.5 / 111320 deg of latitude, 0.5 / (111320 cos 42.3) of longitude
    lat = 42.25
    dlat = 0.5 / 111320.0
    dlon = 0.5 / (111320.0 * np.cos(np.radians(lat)))
    p = write_tif(tmp_path / 'geo.tif', np.full((3, 200, 200), 90, dtype=np.uint8), epsg=4326,
                  gt=(130.4, dlon, 0.0, lat, 0.0, -dlat))
    r = cr.open_raster(p)
    assert r.warped
    assert osr.SpatialReference(wkt=r.srs_wkt).GetAuthorityCode(None) == '32652'
    assert r.gsd == pytest.approx(0.5, rel=0.05)
    data, valid = cr.read_window(r, 0, 0, r.width, r.height)
    assert valid.mean() > 0.9   # the warped edges are masked through the alpha band, not black pixels


def test_no_crs_is_refused(tmp_path):
    p = write_tif(tmp_path / 'nocrs.tif', np.ones((1, 10, 10), dtype=np.uint8), epsg=None)
    with pytest.raises(cr.RasterError, match='no coordinate reference system'):
        cr.open_raster(p)


def test_corrupt_and_truncated_files(tmp_path):
    bad = tmp_path / 'corrupt.tif'
    bad.write_bytes(b'II*\x00garbage' * 10)
    with pytest.raises(cr.RasterError, match='Cannot open'):
        cr.open_raster(bad)
    p = write_tif(tmp_path / 'full.tif', np.random.default_rng(2).integers(0, 255, (3, 1024, 1024), dtype=np.uint8))
    raw = open(p, 'rb').read()
    cut = tmp_path / 'truncated.tif'
    cut.write_bytes(raw[:len(raw) // 2])
    with pytest.raises(cr.RasterError, match='truncated or corrupt|Cannot open'):
        r = cr.open_raster(cut)
        cr.scan(r, lambda b: [])


def test_all_nodata_is_refused(tmp_path):
    p = write_tif(tmp_path / 'nd.tif', np.zeros((3, 100, 100), dtype=np.uint8), nodata=0)
    r = cr.open_raster(p)
    with pytest.raises(cr.RasterError, match='nodata'):
        cr.scan(r, lambda b: [])


def test_nodata_is_masked(tmp_path):
    a = np.full((1, 100, 100), 50, dtype=np.uint16)
    a[:, :, :30] = 0
    r = cr.open_raster(write_tif(tmp_path / 'nd.tif', a, nodata=0))
    _, valid = cr.read_window(r, 0, 0, 100, 100)
    assert not valid[:, :30].any() and valid[:, 30:].all()


def test_block_windows_cover_once():
    wins = cr.block_windows(2500, 1300, 1024, 64)
    owned = np.zeros((1300, 2500), dtype=int)
    for x0, y0, w, h, (cx0, cy0, cx1, cy1) in wins:
        owned[cy0:cy1, cx0:cx1] += 1
        assert x0 <= cx0 and y0 <= cy0 and x0 + w >= cx1 and y0 + h >= cy1
    assert (owned == 1).all()


def test_scan_counts_objects_across_block_borders_once(tmp_path):
    img = np.zeros((3, 700, 700), dtype=np.uint8)
    centres = [(100, 100), (255, 250), (256, 400), (500, 511), (600, 600)]  # some straddle the 256 px blocks
    for cx, cy in centres:
        img[:, cy - 5:cy + 5, cx - 12:cx + 12] = 255
    r = cr.open_raster(write_tif(tmp_path / 'obj.tif', img))
    from scipy import ndimage

    def detect(block):
        lab, n = ndimage.label(block.data[0] > 0.5)
        out = []
        for sl in ndimage.find_objects(lab):
            y, x = sl
            out.append({'corners': [(x.start, y.start), (x.stop, y.start), (x.stop, y.stop), (x.start, y.stop)]})
        return out

    found = cr.scan(r, detect, overlap=32, block=256)
    assert len(found) == len(centres)
    xs = sorted(round(np.mean([p[0] for p in d['geometry']])) for d in found)
    assert xs == sorted(round(500000 + 0.5 * cx) for cx, _ in centres)


def test_scan_reports_progress_and_cancels(tmp_path):
    r = cr.open_raster(write_tif(tmp_path / 'p.tif', np.ones((1, 600, 600), dtype=np.uint8)))
    seen = []
    cr.scan(r, lambda b: [], block=200, progress=seen.append)
    assert seen[-1] == 1.0 and len(seen) == 9 and seen == sorted(seen)
    calls = []
    with pytest.raises(cr.Cancelled):
        cr.scan(r, lambda b: calls.append(1) or [], block=200, cancelled=lambda: len(calls) >= 2)
    assert len(calls) == 2


def test_aoi_masks_and_rejects_non_overlap(tmp_path):
    r = cr.open_raster(write_tif(tmp_path / 'a.tif', np.ones((1, 400, 400), dtype=np.uint8)))
    wkt = r.srs_wkt
    aoi = cr.Aoi(['POLYGON((500010 4699990, 500050 4699990, 500050 4699950, 500010 4699950, 500010 4699990))'],
                 wkt, r)
    assert aoi.pixel_window == (20, 20, 100, 100)
    m = aoi.mask(0, 0, 400, 400)
    assert m.sum() == pytest.approx(80 * 80, rel=0.03)
    far = cr.Aoi(['POLYGON((0 0, 10 0, 10 10, 0 10, 0 0))'], wkt, r)
    with pytest.raises(cr.RasterError, match='does not overlap'):
        cr.scan(r, lambda b: [], aoi=far)
    # an AOI given in another CRS (lon/lat) is transformed onto the raster grid
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(4326)
    srs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)  # x = lon, as QGIS geometries are
    ct = osr.CoordinateTransformation(osr.SpatialReference(wkt=wkt), srs)
    ll = [ct.TransformPoint(x, y)[:2] for x, y in [(500010, 4699990), (500050, 4699990), (500050, 4699950),
                                                    (500010, 4699950), (500010, 4699990)]]
    ring = ', '.join(f'{a} {b}' for a, b in ll)
    geo = cr.Aoi([f'POLYGON(({ring}))'], srs.ExportToWkt(), r)
    assert geo.pixel_window is not None and abs(geo.pixel_window[0] - 20) <= 1


@pytest.mark.parametrize('domain, key, value, expected', [
    ('IMD', 'IMAGE_1.meanSunAz', '123.4', 123.4),        # a Maxar / DigitalGlobe .IMD, as GDAL reads it
    ('', 'SUN_AZIMUTH', '201.5', 201.5),                  # DIMAP (Pleiades, SPOT), or a plain item
    ('', 'sunAzimuth', '360', 0.0),
    ('', 'SUN_AZIMUTH', '-10.5', 349.5),                  # from -180 to 180 in some products
    ('', 'SUN_AZIMUTH', 'unknown', None),                 # not a number: not a sun
    ('', 'SUN_AZIMUTH', '412', None),                     # not an azimuth
    ('', 'SUN_ELEVATION', '40', None),
])
def test_the_suns_azimuth_from_the_images_own_metadata(tmp_path, domain, key, value, expected):
    path = tmp_path / 'sun.tif'
    write_tif(path, np.zeros((3, 32, 32), np.uint8))
    ds = gdal.Open(str(path), gdal.GA_Update)
    ds.SetMetadataItem(key, value, domain)
    ds = None
    az, found = cr.sun_azimuth(path)
    assert az == (None if expected is None else pytest.approx(expected))
    assert found == (None if expected is None else key)


def stac_item(path, azimuth, href=None):
    """A STAC item (GeoJSON Feature) at ``path`` with the sun's azimuth and one asset."""
    import json
    path.write_text(json.dumps({'type': 'Feature', 'stac_version': '1.0.0', 'id': 'x', 'geometry': None,
                                'properties': {'datetime': '2023-05-01T02:03:04Z', 'view:sun_azimuth': azimuth,
                                               'view:sun_elevation': 55.1},
                                'assets': {'visual': {'href': href or 'https://example.com/other.tif'}}}))


@pytest.mark.parametrize('item, href, expected', [
    ('scene.json', None, 151.2),                                   # named like the image
    ('scene.tif.json', None, 151.2),
    ('10300100ABCD.json', 'https://maxar.example/10300100ABCD/scene.tif', 151.2),    # an asset is the image
    ('10300100ABCD.json', 'C:\\data\\scene.tif', 151.2),
    ('other.json', 'https://maxar.example/other.tif', None),      # another image's item
])
def test_the_suns_azimuth_from_a_stac_item_beside_the_image(tmp_path, item, href, expected):
    path = tmp_path / 'scene.tif'
    write_tif(path, np.zeros((3, 32, 32), np.uint8))
    stac_item(tmp_path / item, 151.2, href)
    (tmp_path / 'broken.json').write_text('{"type": "Feature", ')         # unreadable: skipped
    (tmp_path / 'list.json').write_text('[1, 2]')                          # not an item: skipped
    az, found = cr.sun_azimuth(path)
    assert az == (None if expected is None else pytest.approx(expected))
    assert found == (None if expected is None else f'view:sun_azimuth in {item}')


def test_the_images_own_metadata_wins_over_a_stac_item(tmp_path):
    path = tmp_path / 'scene.tif'
    write_tif(path, np.zeros((3, 32, 32), np.uint8))
    stac_item(tmp_path / 'scene.json', 400)                     # not an azimuth: no sun from it
    assert cr.sun_azimuth(path) == (None, None)
    ds = gdal.Open(str(path), gdal.GA_Update)
    ds.SetMetadataItem('SUN_AZIMUTH', '120')
    ds = None
    stac_item(tmp_path / 'scene.json', 151.2)
    assert cr.sun_azimuth(path) == (120.0, 'SUN_AZIMUTH')
