"""Change detection between two dates in core/change.py: matching (shift estimation, tolerance,
CRS) on exact synthetic detections, the image shift, the cross-check of unpaired pits."""
import numpy as np
import pytest
from osgeo import osr

from cargowatch.core import change as core
from cargowatch.core.errors import CargoWatchError
from helpers import depot_scenes as ds

UTM = osr.SpatialReference()
UTM.ImportFromEPSG(32637)
UTM_WKT = UTM.ExportToWkt()


def box(x, y, s=10.0):
    return {'geometry': [(x - s, y - s), (x + s, y - s), (x + s, y + s), (x - s, y + s)], 'length_m': 2 * s}


def grid(n=10, pitch=25.0, x0=436000.0, y0=5077000.0):
    return [(x0 + (i % n) * pitch, y0 + (i // n) * pitch) for i in range(n * n)]


def test_compare_finds_new_removed_kept_under_misregistration():
    pts = grid()
    before = [box(x, y) for x, y in pts[:40]]
    gone = [box(x + 3, y + 400) for x, y in pts[:5]]            # removed later
    shift = (4.2, -3.1)                                          # more than the 3 m tolerance
    after = [box(x + shift[0], y + shift[1]) for x, y in pts[:40]] + \
        [box(x + shift[0], y + shift[1]) for x, y in pts[40:]]  # 60 new
    recs, info = core.compare(before + gone, after, UTM_WKT, UTM_WKT, tolerance=3.0)
    assert info['shift'] == pytest.approx(shift, abs=0.05) and info['shift_source'] == 'detections'
    status = [r['status'] for r in recs]
    assert status.count('kept') == 40 and status.count('new') == 60 and status.count('removed') == 5
    # a shift known from the images is used as given (and the detections that agree are counted)
    recs2, info2 = core.compare(before + gone, after, UTM_WKT, UTM_WKT, tolerance=3.0, shift=(4.0, -3.0))
    assert info2['shift'] == (4.0, -3.0) and info2['shift_source'] == 'images' and info2['shift_pairs'] == 40
    assert [r['status'] for r in recs2] == status
    removed = [r for r in recs if r['status'] == 'removed']
    c = np.mean(removed[0]['geometry'], axis=0)
    assert c[1] > 5077000 + 390          # drawn where they were, moved by the shift


def test_compare_without_shift_correction_would_fail():
    pts = grid(6)
    before = [box(x, y) for x, y in pts]
    after = [box(x + 4.5, y) for x, y in pts]
    recs, info = core.compare(before, after, UTM_WKT, UTM_WKT, tolerance=3.0)
    assert info['kept'] == len(pts) and info['new'] == 0
    # the raw match (no shift) finds nothing within 3 m
    assert core.match(core._centres(before), core._centres(after), 3.0) == []


def test_compare_across_crs():
    pts = grid(5)
    before = [box(x, y) for x, y in pts]
    geo = osr.SpatialReference()
    geo.ImportFromEPSG(4326)
    xs, ys = core.transform_xy([p[0] for p in pts], [p[1] for p in pts], UTM_WKT, geo.ExportToWkt())
    after = [{'geometry': [(x, y)] * 4} for x, y in zip(xs, ys)]
    recs, info = core.compare(after, before, geo.ExportToWkt(), UTM_WKT, tolerance=1.0)
    assert info['kept'] == 25


def test_compare_empty_sides():
    recs, info = core.compare([], [box(436000, 5077000)], UTM_WKT, UTM_WKT)
    assert info['new'] == 1 and info['removed'] == 0
    recs, info = core.compare([box(436000, 5077000)], [], UTM_WKT, UTM_WKT)
    assert info['removed'] == 1
    with pytest.raises(CargoWatchError, match='tolerance'):
        core.compare([], [], UTM_WKT, UTM_WKT, tolerance=0)


def test_one_pit_outlined_differently_on_two_dates_is_kept_once():
    """A pit seen whole on one date (20 x 10 m) and as its closed half on the other (10 x 10 m):
    centres 5 m apart, beyond the 3 m tolerance. Paired by distance alone it was one removed and
    one new pit (and the cross-check then drew it twice as kept); its outlines overlap."""
    whole = {'geometry': [(0.0, 0.0), (20.0, 0.0), (20.0, 10.0), (0.0, 10.0)]}
    half = {'geometry': [(10.0, 0.0), (20.0, 0.0), (20.0, 10.0), (10.0, 10.0)]}
    far = {'geometry': [(40.0, 0.0), (50.0, 0.0), (50.0, 10.0), (40.0, 10.0)]}
    geo = dict(before_srs_wkt=UTM_WKT, after_srs_wkt=UTM_WKT, tolerance=3.0, shift=(0.0, 0.0))
    recs, info = core.compare([whole], [half, far], **geo)
    assert (info['kept'], info['new'], info['removed']) == (0, 2, 1)
    recs, info = core.compare([whole], [half, far], overlap=0.5, **geo)
    assert (info['kept'], info['new'], info['removed']) == (1, 1, 0)
    assert [r['status'] for r in recs] == ['kept', 'new'] and recs[0]['geometry'] == half['geometry']
    # touching or barely overlapping neighbours stay apart
    side = {'geometry': [(18.0, 0.0), (30.0, 0.0), (30.0, 10.0), (18.0, 10.0)]}
    recs, info = core.compare([whole], [side], overlap=0.5, **geo)
    assert (info['kept'], info['new'], info['removed']) == (0, 1, 1)


def test_image_shift_from_the_images(tmp_path):
    """core.coregister on a generated pair (other season, sun and grid) misregistered by 5 m, more
    than the matching tolerance: the shift comes back to a fraction of a pixel; an image without
    any texture gives none (the detections' estimate is used then)."""
    from cargowatch.core.coregister import image_shift
    from cargowatch.core.raster import open_raster
    b, a, _ = ds.depot_pair(tmp_path, seed=5, shift=(4.0, 3.0))
    B, A = open_raster(b), open_raster(a)
    # content drawn with a world offset (dx, dy) sits at (-dx, +dy) on the map (depot_scenes)
    assert image_shift(B, A, core.common_area(B, A)) == pytest.approx((-4.0, 3.0), abs=0.4)
    flat = ds.write_geotiff(str(tmp_path / 'flat.tif'), np.full((3, 200, 200), 0.4), A.gt)
    F = open_raster(flat)
    assert image_shift(B, F, core.common_area(B, F)) is None


def test_shift_ignores_outliers():
    rng = np.random.default_rng(1)
    cb = rng.uniform(0, 500, (80, 2))
    ca = np.vstack([cb[:50] + [1.5, 2.0] + rng.normal(0, 0.2, (50, 2)), rng.uniform(0, 500, (60, 2))])
    (dx, dy), n = core.estimate_shift(cb, ca, search=8.0)
    assert (dx, dy) == pytest.approx((1.5, 2.0), abs=0.2)


def test_cross_check_turns_a_before_missed_pit_into_kept(pair):
    from cargowatch.core.pits import count_pits
    from cargowatch.core.raster import open_raster
    b, a, truth = pair
    B, A = open_raster(b), open_raster(a)
    bd, ad = count_pits(B), count_pits(A)
    old = np.array([(t['x'], t['y']) for t in truth['old']])
    # the before detection misses every old pit: all after detections look new
    recs, info = core.compare([], ad, B.srs_wkt, A.srs_wkt)
    assert info['kept'] == 0
    recs2, info2 = core.cross_check(recs, info, B, A)
    kept = [np.mean(r['geometry'], axis=0) for r in recs2 if r['status'] == 'kept']
    assert 1 <= len(kept) <= len(old) + 1 and info2['new'] == info['new'] - len(kept)
    # ... and what it turns into kept are the old pits (the after image is shifted by (0.8, -0.6) m)
    near_old = [np.hypot(*(old - (c - (0.8, -0.6))).T).min() < 4.0 for c in kept]
    assert sum(near_old) >= len(kept) - 1
    # an old pit the before image still shows is not reported as removed
    recs, info = core.compare(bd, [], B.srs_wkt, A.srs_wkt)
    recs3, info3 = core.cross_check(recs, info, B, A)
    assert info3['removed'] < info['removed'] or info['removed'] == 0
    assert info3['kept'] == info['removed'] - info3['removed']


def test_cross_check_reuses_the_heatmaps_of_the_detection(pair):
    """score_pits_at from the heatmaps count_pits kept gives the same scores as reading the blocks again."""
    from cargowatch.core.pits import count_pits
    from cargowatch.core.raster import open_raster
    b, a, _ = pair
    B, A = open_raster(b), open_raster(a)
    kept = []
    count_pits(B, keep=kept)
    boxes = [d['geometry'] for d in count_pits(A)]
    assert kept and boxes
    again, reused = core.score_pits_at(B, boxes), core.score_pits_at(B, boxes, kept=kept)
    assert np.array_equal(again, reused) and (reused > 0.2).sum() >= 1


def test_containers_a_yard_seen_twice_changes_only_where_it_changed(tmp_path):
    """The same yard on a second date in other light (darker, more contrast, softer, noisier), a quarter of it
    cleared: the containers each date's detection missed are not reported as new or removed (the other image still
    shows a top there), while the cleared ones are removed."""
    from helpers import scenes
    from cargowatch.core.raster import open_raster
    sc = scenes.port_scene(seed=303, gsd=0.5, size_px=600)
    first = scenes.write_scene(sc, tmp_path / 'first.tif')
    second = scenes.write_scene(scenes.another_date(sc, clear=(150, 150, 450, 450)), tmp_path / 'second.tif')
    recs, info = core.detect_changes(open_raster(first), open_raster(second), kind='containers')
    x0, y0 = scenes.ORIGIN

    def cleared(r):
        cx, cy = np.mean(r['geometry'], axis=0)
        return 155 < (cx - x0) / 0.5 < 445 and 155 < (y0 - cy) / 0.5 < 445
    inside = [r['status'] for r in recs if cleared(r)]
    outside = [r['status'] for r in recs if not cleared(r)]
    assert inside.count('removed') >= 50 and inside.count('removed') >= 0.95 * len(inside)
    assert len(outside) >= 150 and outside.count('kept') >= len(outside) - 3
    assert info['cross_checked'] >= 10       # without the second look: 20-40 containers missed on one date


def test_each_date_is_counted_with_its_own_params(tmp_path):
    """``params_after`` (the after image's own sun's azimuth) counts the after image, ``params`` the before one: one
    yard on both dates, told its sun on both, is all kept; told the opposite sun on the after date, the after
    image's containers are other ones."""
    import dataclasses
    import math
    from cargowatch.core import containers, raster
    from helpers import scenes
    sc = scenes.port_scene(seed=31, gsd=0.5, size_px=400, n_blocks=5)
    r = raster.open_raster(scenes.write_scene(sc, tmp_path / 'yard.tif'))
    az = math.degrees(sc.meta['sun'][0]) % 360
    p = containers.ContainerParams(model='sun', sun_azimuth=az)
    told, _ = core.detect_changes(r, r, kind='containers', params=p)
    wrong, _ = core.detect_changes(r, r, kind='containers', params=p,
                                   params_after=dataclasses.replace(p, sun_azimuth=(az + 180) % 360))
    assert len(told) > 30 and {d['status'] for d in told} == {'kept'}

    def after(records):
        return sorted(tuple(np.round(np.mean(d['geometry'], axis=0), 1)) for d in records if d['status'] != 'removed')
    assert after(told) != after(wrong)
