"""cargowatch:countcontainers (algorithms/count_containers.py) through Processing in real QGIS:
counts and fields, batch runs, MIN_CONFIDENCE, bands/dtypes/CRS, AOI, bad inputs, cancel, qgis_process, and the
validation scenes of another generator and real photos (../shared, skipped with a reason when absent)."""
import json
import math
import subprocess
import sys

import numpy as np
import pytest
from qgis.core import QgsProcessingException, QgsProcessingFeedback, QgsVectorLayer

import processing
from helpers.paths import ROOT
from helpers.qgis_run import run_qgis_process, warnings_feedback, write_aoi
from cargowatch.core import containers as core
from helpers import scenes


ALG = 'cargowatch:countcontainers'


def run(params, **kw):
    params.setdefault('OUTPUT', 'memory:')
    return processing.run(ALG, params, **kw)


def test_counts_through_processing(scene_tif, small_scene):
    res = run({'INPUT': scene_tif})
    layer = res['OUTPUT']
    names = [f.name() for f in layer.fields()]
    for name in ('size_class', 'length_m', 'width_m', 'containers', 'teu', 'colour', 'r', 'g', 'b', 'confidence',
                 'angle_deg', 'on_ship'):
        assert name in names
    feats = list(layer.getFeatures())
    assert res['COUNT'] == sum(f['containers'] for f in feats)
    assert res['TEU'] == sum(f['teu'] for f in feats)
    assert res['COUNT'] > 0.5 * small_scene.n_containers
    for f in feats:
        assert f['size_class'] in ('20ft', '40ft')
        assert 0 <= f['confidence'] <= 1
        assert f['teu'] >= f['containers']
        assert f['colour'] in ('white', 'grey', 'black', 'red', 'orange', 'yellow', 'green', 'blue', 'purple',
                               'magenta', 'brown')
        assert f.geometry().area() == pytest.approx(f['length_m'] * f['width_m'], rel=0.05)
    assert layer.crs().authid() == 'EPSG:32652'


def test_the_wide_model(scene_tif, small_scene):
    """MODEL = 1 runs the wider network: its own threshold, its own detections, as good a count on this yard."""
    standard, wide = run({'INPUT': scene_tif}), run({'INPUT': scene_tif, 'MODEL': 1})
    assert wide['COUNT'] > 0.8 * small_scene.n_containers
    conf = [sorted(f['confidence'] for f in r['OUTPUT'].getFeatures()) for r in (standard, wide)]
    assert conf[0] != conf[1]


def test_drop_lone_boxes(scene_tif, small_scene):
    """DROP_LONE keeps of the default count the boxes with two others within GROUP_M and the lone ones at the
    threshold + GROUP_MARGIN, and says so in the log; without it the log says how many it would leave out."""
    from scipy.spatial import cKDTree
    class Infos(QgsProcessingFeedback):
        def __init__(self):
            super().__init__()
            self.infos = []

        def pushInfo(self, text):  # noqa: N802 (QGIS API)
            self.infos.append(text)

    every_fb, fb = Infos(), Infos()
    every = run({'INPUT': scene_tif}, feedback=every_fb)
    kept = run({'INPUT': scene_tif, 'DROP_LONE': True}, feedback=fb)
    centre = {}
    for name, res in (('every', every), ('kept', kept)):
        feats = list(res['OUTPUT'].getFeatures())
        centre[name] = {(round(f.geometry().centroid().asPoint().x(), 2), round(f.geometry().centroid().asPoint().y(),
                                                                              2)): f['confidence'] for f in feats}
    xy = np.array(list(centre['every']))
    near = np.array([len(n) - 1 for n in cKDTree(xy).query_ball_point(xy, core.GROUP_M)])
    sure = np.array(list(centre['every'].values())) >= core.ContainerParams().threshold + core.GROUP_MARGIN - 5e-4
    expected = {tuple(p) for p, n, s in zip(xy.tolist(), near, sure) if n >= 2 or s}
    assert 0 < kept['COUNT'] < every['COUNT'] and kept['COUNT'] >= 0.9 * every['COUNT']
    assert set(centre['kept']) == expected
    assert any('Lone boxes dropped' in m for m in fb.infos)
    # without it, the log says how many it would leave out
    hint = [m for m in every_fb.infos if 'stand alone or in pairs' in m]
    assert hint and int(hint[0].split()[0]) == every['COUNT'] - kept['COUNT']
    assert not any('stand alone or in pairs' in m for m in fb.infos)
    # make test runs this with Debian's OpenCV 4.6 and again with OpenCV 5 (bench/.venv-cv): the hint only with 4.6
    import cv2
    older = tuple(int(v) for v in cv2.__version__.split('.')[:2]) < (4, 7)
    assert any(m.startswith(f'OpenCV {cv2.__version__}: OpenCV 5 counts') for m in fb.infos) == older, fb.infos


def test_eight_views(scene_tif, small_scene):
    """VIEWS = 3 averages the network over the eight turns and mirrors of each block, at its own threshold (the
    sidecar's, calibrated for eight views): other detections, as good a count on this yard."""
    from qgis.core import QgsProcessingFeedback
    fb = QgsProcessingFeedback()
    one, eight = run({'INPUT': scene_tif, 'VIEWS': 0}), run({'INPUT': scene_tif, 'VIEWS': 3}, feedback=fb)
    assert core.ContainerParams(views=8).threshold != core.ContainerParams().threshold
    assert (f'Each block is seen 8 times, turned and mirrored, and the views averaged (about 8 times the time of one '
            f'view), at the threshold calibrated for them: {core.ContainerParams(views=8).threshold:.3f}.'
            ) in fb.textLog()
    assert 0.8 * small_scene.n_containers < eight['COUNT'] < 1.2 * small_scene.n_containers
    conf = [sorted(f['confidence'] for f in r['OUTPUT'].getFeatures()) for r in (one, eight)]
    assert conf[0] != conf[1] and min(conf[1]) >= core.ContainerParams(views=8).threshold - 1e-3


def test_auto_views(scene_tif, monkeypatch):
    """VIEWS Auto (the default) counts a raster of up to core.AUTO_VIEWS_PX pixels with four views (the sun in its
    metadata then not used) and a larger one with one view, and says which."""
    def wkts(res):
        return [f.geometry().asWkt() for f in res['OUTPUT'].getFeatures()]
    fb = QgsProcessingFeedback()
    auto, four = run({'INPUT': scene_tif}, feedback=fb), run({'INPUT': scene_tif, 'VIEWS': 2})
    assert 'Views: Auto chose 4' in fb.textLog() and wkts(auto) == wkts(four)
    monkeypatch.setattr(core, 'AUTO_VIEWS_PX', 100)     # as if the raster were larger than the budget
    fb = QgsProcessingFeedback()
    auto, one = run({'INPUT': scene_tif}, feedback=fb), run({'INPUT': scene_tif, 'VIEWS': 0})
    assert 'Views: Auto chose 1' in fb.textLog() and wkts(auto) == wkts(one) != wkts(four)


def test_the_suns_azimuth(scene_tif, small_scene):
    """SUN_AZIMUTH (the image's metadata) makes the standard model's sun-turned twin count, each block turned so
    that its shadows fall one way: its own threshold and detections, as good a count on this yard. With more views
    the standard model counts as without it, and the log says the azimuth was not used. The wide model has its own
    sun-turned twin."""
    az = math.degrees(small_scene.meta['sun'][0]) % 360
    fb = QgsProcessingFeedback()
    plain, turned = run({'INPUT': scene_tif, 'VIEWS': 0}), run({'INPUT': scene_tif, 'VIEWS': 0, 'SUN_AZIMUTH': az},
                                                              feedback=fb)
    assert (f'The sun stood at {az:g} degrees: the sun-turned network counts, each block turned so that its shadows '
            f'fall one way, at its threshold {core.ContainerParams(model="sun").threshold:.3f}.') in fb.textLog()
    assert 0.8 * small_scene.n_containers < turned['COUNT'] < 1.2 * small_scene.n_containers
    conf = [sorted(f['confidence'] for f in r['OUTPUT'].getFeatures()) for r in (plain, turned)]
    assert conf[0] != conf[1]
    fb = QgsProcessingFeedback()
    two, two_sun = run({'INPUT': scene_tif, 'VIEWS': 1}), run({'INPUT': scene_tif, 'VIEWS': 1, 'SUN_AZIMUTH': az},
                                                              feedback=fb)
    assert 'not used here' in fb.textLog()
    assert ([f.geometry().asWkt() for f in two['OUTPUT'].getFeatures()] ==
            [f.geometry().asWkt() for f in two_sun['OUTPUT'].getFeatures()])
    fb = QgsProcessingFeedback()
    wide = run({'INPUT': scene_tif, 'MODEL': 1, 'VIEWS': 0, 'SUN_AZIMUTH': az}, feedback=fb)   # the wide model's twin
    assert 'the sun-turned wide network counts' in fb.textLog()
    assert 0.8 * small_scene.n_containers < wide['COUNT'] < 1.2 * small_scene.n_containers
    with pytest.raises(QgsProcessingException, match='SUN_AZIMUTH'):      # not an azimuth: refused before a count
        run({'INPUT': scene_tif, 'SUN_AZIMUTH': 400})


def test_the_suns_azimuth_read_from_the_images_metadata(tmp_path, small_scene):
    """Without SUN_AZIMUTH, the sun the image's own metadata gives (a Maxar .IMD's meanSunAz, as GDAL reads it) is
    used with one view, and the log says where it came from; a given SUN_AZIMUTH wins over it."""
    from osgeo import gdal
    az = math.degrees(small_scene.meta['sun'][0]) % 360
    path = scenes.write_scene(small_scene, tmp_path / 'maxar.tif')
    ds = gdal.Open(str(path), gdal.GA_Update)
    ds.SetMetadataItem('IMAGE_1.meanSunAz', f'{az:.1f}', 'IMD')
    ds = None
    fb = QgsProcessingFeedback()
    read = run({'INPUT': path, 'VIEWS': 0}, feedback=fb)
    assert f"The metadata of maxar.tif gives the sun's azimuth (IMAGE_1.meanSunAz): {round(az, 1):g} degrees." \
        in fb.textLog() and 'the sun-turned network counts' in fb.textLog()
    given = run({'INPUT': path, 'VIEWS': 0, 'SUN_AZIMUTH': round(az, 1)})
    other = run({'INPUT': path, 'VIEWS': 0, 'SUN_AZIMUTH': (az + 180) % 360})

    def centres(res):
        return sorted(f.geometry().centroid().asWkt(1) for f in res['OUTPUT'].getFeatures())
    assert centres(read) == centres(given) != centres(other)


def test_the_suns_azimuth_read_from_a_stac_item_beside_the_image(tmp_path, small_scene):
    """An image delivered with its STAC item (Maxar Open Data, Planet, a STAC API), the item saved beside it: its
    ``view:sun_azimuth`` is used as the image's own metadata would be, and the log says where it came from."""
    az = round(math.degrees(small_scene.meta['sun'][0]) % 360, 1)
    path = scenes.write_scene(small_scene, tmp_path / 'scene.tif')
    (tmp_path / 'item.json').write_text(json.dumps({
        'type': 'Feature', 'id': 'scene', 'properties': {'view:sun_azimuth': az},
        'assets': {'visual': {'href': 'https://example.com/acquisitions/scene.tif'}}}))
    fb = QgsProcessingFeedback()
    read = run({'INPUT': path, 'VIEWS': 0}, feedback=fb)
    assert f"The metadata of scene.tif gives the sun's azimuth (view:sun_azimuth in item.json): {az:g} degrees." \
        in fb.textLog() and 'the sun-turned network counts' in fb.textLog()
    given = run({'INPUT': path, 'VIEWS': 0, 'SUN_AZIMUTH': az})
    assert read['COUNT'] == given['COUNT']


def test_containers_on_a_ship_are_flagged(tmp_path):
    """A loaded ship at a quay: the boxes on its deck come out with on_ship = 1, the yard's beside it with 0."""
    cv, deck, yard = scenes.loaded_ship(np.random.default_rng(12))
    path = scenes.write_geotiff(tmp_path / 'ship.tif', scenes.to_dtype(cv.img), scenes.geotransform(0.4))
    feats = list(run({'INPUT': str(path)})['OUTPUT'].getFeatures())
    water_y = scenes.ORIGIN[1] - 62          # the quay's edge: water to the north
    on_deck = [f['on_ship'] for f in feats if f.geometry().centroid().asPoint().y() > water_y]
    in_yard = [f['on_ship'] for f in feats if f.geometry().centroid().asPoint().y() <= water_y]
    assert len(on_deck) >= 0.9 * len(deck) and sum(on_deck) >= 0.6 * len(deck)    # measured 23 of 30 flagged
    assert len(in_yard) >= 0.9 * len(yard) and sum(in_yard) == 0


def test_batch_runs_give_the_same_result(scene_tif):
    a = run({'INPUT': scene_tif})
    b = run({'INPUT': scene_tif, 'SENSITIVITY': 0.5})
    assert (a['COUNT'], a['TEU']) == (b['COUNT'], b['TEU'])


def test_min_confidence_keeps_the_confident_and_counts_them(scene_tif):
    every = list(run({'INPUT': scene_tif})['OUTPUT'].getFeatures())
    floor = float(np.median([f['confidence'] for f in every]))
    res = run({'INPUT': scene_tif, 'MIN_CONFIDENCE': floor})
    kept = list(res['OUTPUT'].getFeatures())
    sure = [f for f in every if f['confidence'] >= floor]
    assert 0 < len(kept) == len(sure) < len(every)
    assert all(f['confidence'] >= floor for f in kept)
    assert res['COUNT'] == sum(f['containers'] for f in sure)
    assert res['TEU'] == sum(f['teu'] for f in sure)


def shared_count(tmp_path, name, model=0, views=None, sun=True, lone=False):
    """Run the algorithm (with its MODEL ``model``, VIEWS ``views`` (None: the default, Auto) and DROP_LONE ``lone``;
    ``sun`` False: on a copy of the image without the sun's azimuth in its metadata) on a validation image; the shared
    scorer's verdict when the image has a truth file."""
    tif = SHARED / f'{name}.tif'
    out = tmp_path / (tif.stem + '.gpkg')
    truth = tif.with_suffix('').with_suffix('.truth.json')
    image = str(tif) if sun else without_sun(tif, tmp_path / (tif.stem + '.vrt'))
    res = processing.run(ALG, {'INPUT': image, 'MODEL': model, 'DROP_LONE': lone, 'OUTPUT': str(out),
                               **({} if views is None else {'VIEWS': views})})
    if not truth.exists():
        return res['COUNT'], None
    proc = subprocess.run([sys.executable, str(SHARED.parent.parent / 'tools' / 'score.py'), str(truth), str(out),
                           '--kind', 'containers'], capture_output=True, text=True, check=True)
    return res['COUNT'], json.loads(proc.stdout)


def without_sun(tif, vrt):
    """A VRT of ``tif`` whose metadata lacks SUN_AZIMUTH (so the algorithm knows no sun)."""
    from osgeo import gdal
    from cargowatch.core import raster as core_raster
    ds = gdal.Translate(str(vrt), str(tif), format='VRT')
    ds.SetMetadata({k: v for k, v in ds.GetMetadata().items() if k != 'SUN_AZIMUTH'})
    ds = None
    assert core_raster.sun_azimuth(vrt) == (None, None)
    return str(vrt)


def test_missing_opencv_says_how_to_install(no_opencv, scene_tif):
    with pytest.raises(QgsProcessingException, match='apt install python3-opencv'):
        run({'INPUT': scene_tif})


def test_one_band_raster_works_and_warns(tmp_path, small_scene):
    path = scenes.write_scene(small_scene, tmp_path / 'pan.tif', layout='pan', dtype='UInt16')
    fb = warnings_feedback()
    res = run({'INPUT': path}, feedback=fb)
    assert res['COUNT'] > 0.3 * small_scene.n_containers
    colours = {f['colour'] for f in res['OUTPUT'].getFeatures()}
    assert colours <= {'white', 'grey', 'black'}
    assert len(fb.seen) == 1 and 'panchromatic' in fb.seen[0] and 'less reliable' in fb.seen[0]
    # with what the model found on the project's own 1-band yards (its sidecar's figures)
    grey = core.own_figures(0.4, 0.5, grey=True)[2]
    assert f"(1-band imagery) the standard model found {grey['found_pct']:.0f} % of the container tops" in fb.seen[0]
    fb = warnings_feedback()
    run({'INPUT': scenes.write_scene(small_scene, tmp_path / 'rgb.tif')}, feedback=fb)
    assert fb.seen == []            # a colour raster at 0.4 m: nothing to warn about
    fb = warnings_feedback()
    coarse = scenes.port_scene(seed=11, gsd=0.7, size_px=300)
    run({'INPUT': scenes.write_scene(coarse, tmp_path / 'c.tif'), 'SENSITIVITY': 0.8}, feedback=fb)
    band = core.own_figures(0.7, 0.75)[2]       # the sensitivity measured nearest 0.8
    assert len(fb.seen) == 1 and '0.70 m per pixel' in fb.seen[0]
    assert (f"(0.6-0.8 m imagery) the standard model found {band['found_pct']:.0f} % of the container tops at "
            f"sensitivity 0.75 with one view, with a precision of {band['precision']:.2f}") in fb.seen[0]
    fb = warnings_feedback()                    # the wide model's own figures, from its sidecar
    run({'INPUT': scenes.write_scene(coarse, tmp_path / 'c.tif'), 'SENSITIVITY': 0.8, 'MODEL': 1}, feedback=fb)
    wide = core.own_figures(0.7, 0.75, model='wide')[2]
    assert wide != band and f"the wide model found {wide['found_pct']:.0f} % of the container tops" in fb.seen[0]


def test_help_says_what_the_default_finds():
    from qgis.core import QgsApplication
    own = core.own_figures(None, 0.5)[2]
    html = QgsApplication.processingRegistry().algorithmById(ALG).shortHelpString()
    assert f"it finds {own['found_pct']:.0f} % of the container tops at 0.5" in html
    assert f"{own['false_per_km2']:.0f} false containers per km²" in html


def test_four_band_16bit_with_band_choice(tmp_path, small_scene):
    path = scenes.write_scene(small_scene, tmp_path / 'bgrn.tif', layout='bgrn', dtype='UInt16')
    res = run({'INPUT': path, 'BANDS': [3, 2, 1]})
    rgb = run({'INPUT': scenes.write_scene(small_scene, tmp_path / 'rgb.tif')})
    assert res['COUNT'] > 0.5 * small_scene.n_containers
    assert abs(res['COUNT'] - rgb['COUNT']) <= 0.25 * rgb['COUNT']


def test_geographic_raster_measured_in_metres(tmp_path, small_scene):
    path = scenes.write_scene(small_scene, tmp_path / 'geo.tif', geographic=True)
    res = run({'INPUT': path})
    feats = list(res['OUTPUT'].getFeatures())
    assert res['COUNT'] > 0.5 * small_scene.n_containers
    singles = [f['length_m'] for f in feats if f['size_class'] == '40ft']
    assert singles and abs(np.median(singles) - 12.19) < 0.8
    assert res['OUTPUT'].crs().authid().startswith('EPSG:326')


def test_aoi_restricts_the_count(tmp_path, scene_tif):
    x0, y0 = scenes.ORIGIN
    half = write_aoi(tmp_path / 'aoi.gpkg', [(x0, y0), (x0 + 100, y0), (x0 + 100, y0 - 200), (x0, y0 - 200)], 32652)
    full = run({'INPUT': scene_tif})
    part = run({'INPUT': scene_tif, 'AOI': half})
    assert 0 < part['COUNT'] < full['COUNT']
    for f in part['OUTPUT'].getFeatures():
        assert f.geometry().centroid().asPoint().x() < x0 + 102


def test_aoi_not_overlapping(tmp_path, scene_tif):
    x0, y0 = scenes.ORIGIN
    far = write_aoi(tmp_path / 'aoi.gpkg',
                    [(x0 + 5000, y0), (x0 + 5100, y0), (x0 + 5100, y0 - 100), (x0 + 5000, y0 - 100)], 32652)
    with pytest.raises(QgsProcessingException, match='does not overlap'):
        run({'INPUT': scene_tif, 'AOI': far})


def test_too_coarse(tmp_path):
    sc = scenes.port_scene(seed=3, gsd=1.0, size_px=200)
    with pytest.raises(QgsProcessingException, match='too coarse'):
        run({'INPUT': scenes.write_scene(sc, tmp_path / 'coarse.tif')})


def test_no_crs(tmp_path, small_scene):
    arr = scenes.to_dtype(small_scene.img)
    path = scenes.write_geotiff(tmp_path / 'nocrs.tif', arr, scenes.geotransform(0.4), epsg=None)
    with pytest.raises(QgsProcessingException, match='coordinate reference system'):
        run({'INPUT': path})


def test_all_nodata(tmp_path):
    arr = np.zeros((3, 200, 200), np.uint8)
    path = scenes.write_geotiff(tmp_path / 'nodata.tif', arr, scenes.geotransform(0.5), nodata=0)
    with pytest.raises(QgsProcessingException, match='nodata'):
        run({'INPUT': path})


@pytest.mark.parametrize('damage', ['garbage', 'truncated'])
def test_corrupt_or_truncated_file(tmp_path, scene_tif, damage):
    data = open(scene_tif, 'rb').read()
    bad = tmp_path / f'{damage}.tif'
    bad.write_bytes(b'not a tiff at all' * 100 if damage == 'garbage' else data[: len(data) // 3])
    with pytest.raises(QgsProcessingException) as e:
        run({'INPUT': str(bad)})
    assert 'Traceback' not in str(e.value)
    assert any(w in str(e.value) for w in ('corrupt', 'truncated', 'could not be loaded', 'Cannot'))


def test_nodata_corners_respected(tmp_path, small_scene):
    path = scenes.write_scene(small_scene, tmp_path / 'nd.tif', nodata_corners=True)
    res = run({'INPUT': path})
    assert res['COUNT'] > 0


def test_qgis_process(tmp_path, scene_tif):
    out = tmp_path / 'out.gpkg'
    proc, results = run_qgis_process(ALG, {'INPUT': scene_tif, 'OUTPUT': str(out)})
    assert results['COUNT'] > 0 and results['TEU'] >= results['COUNT']
    layer = QgsVectorLayer(str(out), 'c', 'ogr')
    assert layer.featureCount() > 0


def test_bundled_sample_with_aoi():
    from helpers.paths import ROOT
    tif = ROOT / 'sample_data' / 'rajin_port_sample.tif'
    aoi = ROOT / 'sample_data' / 'rajin_port_sample_aoi.gpkg'
    full = run({'INPUT': str(tif)})
    part = run({'INPUT': str(tif), 'AOI': str(aoi)})
    truth = QgsVectorLayer(str(ROOT / 'sample_data' / 'rajin_port_sample_truth.gpkg'), 't', 'ogr').featureCount()
    assert abs(full['COUNT'] - truth) <= 0.3 * truth
    assert 0 < part['COUNT'] < full['COUNT']


def test_cancel_stops_and_writes_nothing(tmp_path, small_scene):
    from qgis.core import QgsProcessingFeedback
    path = scenes.write_scene(small_scene, tmp_path / 'c.tif')
    out = tmp_path / 'cancelled.gpkg'

    class CancelAtFirstProgress(QgsProcessingFeedback):
        def __init__(self):
            super().__init__()
            self.progressChanged.connect(lambda p: p > 0 and self.cancel())
    fb = CancelAtFirstProgress()
    with pytest.raises(QgsProcessingException, match='Cancelled'):
        processing.run(ALG, {'INPUT': path, 'OUTPUT': str(out)}, feedback=fb)
    assert not out.exists()


def test_sensitivity_is_monotonic(tmp_path, scene_tif):
    low = run({'INPUT': scene_tif, 'SENSITIVITY': 0.0})
    high = run({'INPUT': scene_tif, 'SENSITIVITY': 1.0})
    assert low['COUNT'] <= high['COUNT']
    assert min(f['confidence'] for f in low['OUTPUT'].getFeatures()) >= core.ContainerParams(sensitivity=0).threshold


# On another generator's scenes and real photos the targets are 5 % / F1 0.9 / <= 10 and <= 5 false containers;
# these floors are today's measured figures with a small margin, so a worse model fails (docs/benchmarks.md). Every
# validation image has under 25 million pixels, so by default (Auto, 0.3.17) the standard network (run 26) sees four
# views of it (the sun in the scenes' metadata is then not used): measured +4.3 % / 0.789, -30.5 % / 0.655, +38.8 % /
# 0.758; 69 on the empty port; 3, 2, 2 on the real photos. One view, as the default was until 0.3.16, is held to its
# own floors below (SETTINGS).
SHARED_FLOORS = {'port_a_rgb_03': (7.0, 0.78), 'port_c_u16_07': (33.0, 0.64), 'rail_yard_rgb_05': (42.0, 0.75)}


EMPTY_PORT_MAX = 74


REAL_MAX = {'busdepot_mmrotate': 5, 'busdepot_dota_demo': 5, 'marina_p0706': 5}   # measured 3, 2, 2 (one view:
# 5, 8, 6; run 22: 26, 12, 5; run 19: 15, 9, 4; run 15: 7, 8, 4; run 7: 8, 15, 7; run 2: 2, 8, 2)


SHARED = ROOT.parent / 'shared' / 'data' / 'imagery'


needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason=f'validation imagery not found at {SHARED} '
                                  '(../shared beside the checkout): the generalisation tests need it')


@needs_shared
@pytest.mark.parametrize('name', sorted(SHARED_FLOORS))
def test_validation_scenes_of_another_generator(tmp_path, name):
    count, score = shared_count(tmp_path, f'scenes/{name}')
    max_err, min_f1 = SHARED_FLOORS[name]
    assert abs(score['count_error_pct']) <= max_err and score['f1'] >= min_f1, score


@needs_shared
def test_empty_port_of_another_generator(tmp_path):
    """Cranes, chassis, box trucks, curtain-siders, painted slots and no container at all."""
    count, _ = shared_count(tmp_path, 'scenes/port_empty_rgb_05')
    assert count <= EMPTY_PORT_MAX


@needs_shared
@pytest.mark.parametrize('name', ['busdepot_mmrotate', 'busdepot_dota_demo', 'marina_p0706'])
def test_real_photos_without_containers(tmp_path, name):
    """Real aerial photos of bus depots and a marina: buses are container-sized, yachts white boxes."""
    count, _ = shared_count(tmp_path, f'real/{name}')
    assert count <= REAL_MAX[name]


# the Wide model (run 37) on the same images without the sun in their metadata: (count error %, F1) floors where
# there are containers, the most false containers where there are none. Measured +5.4 % / 0.821, -21.9 % / 0.694,
# +42.8 % / 0.785; 108; 19, 9, 20: it finds more than the default where containers are and invents more where there
# are none.
WIDE = {'scenes/port_a_rgb_03': (8.0, 0.80), 'scenes/port_c_u16_07': (25.0, 0.67),
        'scenes/rail_yard_rgb_05': (46.0, 0.76), 'scenes/port_empty_rgb_05': 115,
        'real/busdepot_mmrotate': 21, 'real/busdepot_dota_demo': 11, 'real/marina_p0706': 22}


# Its sun-turned twin (run 52), which counts the scenes for the wide model since 0.3.14 (their metadata gives the
# sun): measured +12.0 % / 0.758, -23.5 % / 0.704, +24.3 % / 0.848; 84 (the real photos have no sun: WIDE).
WIDE_SUN = {'scenes/port_a_rgb_03': (15.0, 0.74), 'scenes/port_c_u16_07': (27.0, 0.68),
            'scenes/rail_yard_rgb_05': (28.0, 0.82), 'scenes/port_empty_rgb_05': 90}


# One view (VIEWS = 0), the default until 0.3.16: the scenes' sun in their metadata makes the sun-turned network
# (run 45) count them: measured +4.5 % / 0.746, -30.3 % / 0.657, +24.0 % / 0.804; 65 on the empty port; the real
# photos (no sun) by the standard network: 5, 8, 6.
ONE_VIEW = {'scenes/port_a_rgb_03': (7.0, 0.72), 'scenes/port_c_u16_07': (33.0, 0.63),
            'scenes/rail_yard_rgb_05': (27.0, 0.78), 'scenes/port_empty_rgb_05': 70,
            'real/busdepot_mmrotate': 7, 'real/busdepot_dota_demo': 10, 'real/marina_p0706': 8}


# Eight views of each block (VIEWS = 3) on the same images, floors as above. Measured (run 26, 0.325): +8.8 % /
# 0.784, -23.1 % / 0.679, +47.7 % / 0.742; 85; 2, 6, 3: closer counts and better F1 on both ports than four views, a
# little worse on the rail yard and the empty port.
VIEWS_FLOORS = {
    3: {'scenes/port_a_rgb_03': (11.0, 0.76), 'scenes/port_c_u16_07': (26.0, 0.66),
        'scenes/rail_yard_rgb_05': (50.0, 0.72), 'scenes/port_empty_rgb_05': 92,
        'real/busdepot_mmrotate': 5, 'real/busdepot_dota_demo': 8, 'real/marina_p0706': 5}}


# The standard network (run 26) on the same scenes without the sun in their metadata, floors as above. Measured
# +6.8 % / 0.775, -30.6 % / 0.644, +44.2 % / 0.751; 75 (run 22 had -0.2 % / 0.772, -38.1 % / 0.614, +16.3 % / 0.771;
# run 19 +3.1 % / 0.728, -37.0 % / 0.600, +2.1 % / 0.736; run 15 -2.4 / 0.730, -40.5 / 0.571, -1.5 / 0.725; run 7
# +8.5 / 0.728, -33.8 / 0.592, +7.4 / 0.717; run 2 +9.3 / 0.664, -9.8 / 0.582, -15.0 / 0.610).
STANDARD = {'scenes/port_a_rgb_03': (9.0, 0.75), 'scenes/port_c_u16_07': (33.0, 0.62),
            'scenes/rail_yard_rgb_05': (47.0, 0.73), 'scenes/port_empty_rgb_05': 80}


# Lone boxes dropped (DROP_LONE, 0.3.15), the default model otherwise (the scenes by its sun-turned twin, the photos
# by it). Measured +3.7 % / 0.747, -31.9 % / 0.647, +20.8 % / 0.815; 49; 3, 4, 3 (without: 5, 8, 6).
LONE = {'scenes/port_a_rgb_03': (7.0, 0.72), 'scenes/port_c_u16_07': (35.0, 0.62),
        'scenes/rail_yard_rgb_05': (24.0, 0.79), 'scenes/port_empty_rgb_05': 55,
        'real/busdepot_mmrotate': 5, 'real/busdepot_dota_demo': 5, 'real/marina_p0706': 5}


# (MODEL, VIEWS, the sun in the scenes' metadata kept, lone boxes dropped) -> floors
SETTINGS = {(1, 0, False, False): WIDE, (1, 0, True, False): WIDE_SUN, (0, 0, True, False): ONE_VIEW,
            (0, 3, True, False): VIEWS_FLOORS[3], (0, 0, False, False): STANDARD, (0, 0, True, True): LONE}


@needs_shared
@pytest.mark.parametrize('model, views, sun, lone, name',
                         [(*k, n) for k, floors in SETTINGS.items() for n in sorted(floors)])
def test_other_settings_on_another_generators_images(tmp_path, model, views, sun, lone, name):
    """The wide model and its sun-turned twin, one and eight views, the standard network on the scenes without
    their sun, and lone boxes dropped, on the validation imagery, against their own floors."""
    count, score = shared_count(tmp_path, name, model=model, views=views, sun=sun, lone=lone)
    floor = SETTINGS[model, views, sun, lone][name]
    if isinstance(floor, tuple):
        max_err, min_f1 = floor
        assert abs(score['count_error_pct']) <= max_err and score['f1'] >= min_f1, score
    else:
        assert count <= floor
