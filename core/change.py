"""What changed between two dates: detections of the same kind matched across two images.

The two images may differ in grid, resolution, CRS, light and season, and be
misregistered by a few metres. Method:

1. Both images are opened on their own metric grids (core.raster); the part they have
   in common (footprint intersection, optionally clipped by the analyst's AOI) is
   analysed in each, with the *same* detector of core/ (pits or containers).
2. Before-detections are transformed into the after image's working CRS.
3. Misregistration, one global shift: from the images themselves when they agree on one
   (core.coregister: phase correlation of their edges on a common grid, to a fraction of
   a pixel); else from the detections: every before/after pair closer than ``search``
   metres votes for a shift, the densest cluster of votes (a Gaussian-kernel mode on the
   votes, refined by the median of the one-to-one matches it explains) wins. With no or
   too few pairs, no shift is applied.
4. Final one-to-one match (Hungarian assignment on centre distance) within
   ``tolerance`` metres after the shift; for pits, then, the objects left unpaired whose
   outlines overlap by half the smaller one are paired too (one pit outlined whole on one
   date and as its closed half on the other). Matched = kept, unmatched after = new,
   unmatched before = removed.
5. Cross-check: an unmatched after-object whose place, moved back by the shift, still
   scores as one in the before image (the detector's own heatmap, at least its threshold minus
   ChangeTuning.xcheck_margin: core.pits.score_boxes, best within a few metres of the box centre;
   core.containers.score_at, best within 1.5 m) was already there, missed by the before detection (a faint,
   grassed-over pit, a dark container in another light): kept, not new. Likewise an unmatched before-object
   the after image still shows is kept, not removed; one object kept both ways is kept once.

Matched detections are reported with the *after* geometry; removed ones with the before
geometry moved by the estimated shift so they sit on the after image.
"""

from dataclasses import dataclass

import numpy as np
from osgeo import ogr, osr
from scipy.optimize import linear_sum_assignment
from scipy.spatial import cKDTree

from .coregister import image_shift
from .errors import CargoWatchError
from .raster import Aoi, RasterError, _srs, geometries_in

KINDS = ('containers', 'pits')


@dataclass(frozen=True)
class ChangeTuning:
    """Tuning constants of change detection, one reason each (the analyst sets only the tolerance)."""
    tolerance_m: float = 3.0        # default pairing distance: a container's width, well under a pit's size
    search_m: float = 8.0           # misregistration searched at least this far (or 3 x the tolerance)
    search_per_tolerance: float = 3.0   # ... the search grows with a larger tolerance
    min_pairs: int = 3              # a shift from the detections needs this many pairs agreeing
    shift_seeds: int = 400          # mean-shift starts from at most this many displacement votes: enough, and fast
    shift_iterations: int = 20      # mean-shift steps from each seed (it converges in a few)
    bandwidth_share: float = 1 / 8  # mean-shift bandwidth: this share of the search radius, at least 0.5 m
    pit_overlap: float = 0.5        # pits left unpaired whose outlines overlap this much (of the smaller) are one pit
    xcheck_margin: float = 0.2      # heatmap below the detector's threshold at which the other date "still shows a pit"
    footprint_points: int = 16      # points per raster edge of a footprint polygon (edges curve once reprojected)


TUNING = ChangeTuning()


def ring_wkt(points):
    """WKT polygon of a ring of (x, y) points (closed here)."""
    pts = [(float(x), float(y)) for x, y in points]
    return 'POLYGON ((%s))' % ', '.join(f'{x!r} {y!r}' for x, y in pts + pts[:1])


def footprint_wkt(raster, srs_wkt=None):
    """Polygon of the raster's extent (in ``srs_wkt`` if given), densified along edges."""
    w, h = raster.width, raster.height
    n = TUNING.footprint_points
    cols = np.concatenate([np.linspace(0, w, n), np.full(n, w), np.linspace(w, 0, n), np.zeros(n)])
    rows = np.concatenate([np.zeros(n), np.linspace(0, h, n), np.full(n, h), np.linspace(h, 0, n)])
    xs, ys = raster.pixel_to_map(cols, rows)
    if srs_wkt is not None:
        xs, ys = transform_xy(xs, ys, raster.srs_wkt, srs_wkt)
    return ring_wkt(zip(xs, ys))


def transform_xy(xs, ys, src_wkt, dst_wkt):
    xs = np.asarray(xs, dtype=float)
    ys = np.asarray(ys, dtype=float)
    src, dst = _srs(src_wkt), _srs(dst_wkt)
    if src.IsSame(dst):
        return xs, ys
    ct = osr.CoordinateTransformation(src, dst)
    pts = ct.TransformPoints(np.column_stack([xs, ys]).tolist())
    pts = np.asarray(pts, dtype=float)
    return pts[:, 0], pts[:, 1]


def common_area(before, after, aoi_wkts=None, aoi_srs_wkt=None):
    """WKT (in the after CRS) of the area both images cover, clipped to the AOI, or raise."""
    fa = ogr.CreateGeometryFromWkt(footprint_wkt(after))
    fb = ogr.CreateGeometryFromWkt(footprint_wkt(before, after.srs_wkt))
    common = fa.Intersection(fb)
    if common is None or common.IsEmpty() or common.GetArea() <= 0:
        raise RasterError('The two images do not overlap: they must show the same place '
                          '(check that each has the right coordinate reference system).')
    if aoi_wkts:
        union = None
        for g in geometries_in(aoi_wkts, aoi_srs_wkt, after.srs_wkt):
            union = g if union is None else union.Union(g)
        if union is None:
            raise CargoWatchError('The area of interest holds no polygon.')
        common = common.Intersection(union)
        if common is None or common.IsEmpty() or common.GetArea() <= 0:
            raise CargoWatchError('The area of interest does not overlap the part the two images have in common.')
    return common.ExportToWkt()


def _centres(dets):
    if not dets:
        return np.zeros((0, 2))
    return np.array([np.mean(np.asarray(d['geometry'], dtype=float), axis=0) for d in dets])


def estimate_shift(cb, ca, search=TUNING.search_m, bandwidth=None):
    """Global (dx, dy) taking before centres ``cb`` onto after centres ``ca``: mode of
    the displacement votes of all pairs closer than ``search`` metres, refined by the
    median of the one-to-one nearest matches consistent with it. Returns ((dx, dy), n)."""
    if len(cb) == 0 or len(ca) == 0:
        return (0.0, 0.0), 0
    tree = cKDTree(ca)
    pairs = tree.query_ball_point(cb, r=search)
    votes = [ca[j] - cb[i] for i, js in enumerate(pairs) for j in js]
    if not votes:
        return (0.0, 0.0), 0
    votes = np.asarray(votes)
    bw = bandwidth or max(0.5, search * TUNING.bandwidth_share)
    # mean-shift from every vote on a coarse subset, keep the densest mode
    n_seeds = TUNING.shift_seeds
    seeds = votes if len(votes) <= n_seeds else votes[np.linspace(0, len(votes) - 1, n_seeds).astype(int)]
    vt = cKDTree(votes)
    best, best_n = np.zeros(2), -1
    for s in seeds:
        m = s.copy()
        for _ in range(TUNING.shift_iterations):
            idx = vt.query_ball_point(m, r=2 * bw)
            if not idx:
                break
            v = votes[idx]
            wgt = np.exp(-0.5 * ((v - m) ** 2).sum(axis=1) / bw ** 2)
            nm = (v * wgt[:, None]).sum(axis=0) / wgt.sum()
            if np.hypot(*(nm - m)) < 1e-3:
                m = nm
                break
            m = nm
        n = len(vt.query_ball_point(m, r=bw))
        if n > best_n:
            best, best_n = m, n
    # refine: one-to-one matches under that shift, median displacement
    d, j = tree.query(cb + best, distance_upper_bound=bw * 2)
    ok = np.isfinite(d)
    if ok.sum() >= 1:
        disp = ca[j[ok]] - cb[ok]
        best = np.median(disp, axis=0)
    return (float(best[0]), float(best[1])), int(ok.sum())


def match(cb, ca, tolerance):
    """One-to-one matching of two centre arrays within ``tolerance`` (Hungarian on
    distance). Returns list of (i_before, j_after)."""
    if len(cb) == 0 or len(ca) == 0:
        return []
    tree = cKDTree(ca)
    pairs = tree.query_ball_point(cb, r=tolerance)
    rows, cols, cost = [], [], []
    for i, js in enumerate(pairs):
        for j in js:
            rows.append(i)
            cols.append(j)
            cost.append(float(np.hypot(*(ca[j] - cb[i]))))
    if not rows:
        return []
    # solve on the compact sub-problem of candidate pairs
    ub, ua = sorted(set(rows)), sorted(set(cols))
    ib, ia = {v: k for k, v in enumerate(ub)}, {v: k for k, v in enumerate(ua)}
    big = tolerance * 1000.0 + 1.0
    C = np.full((len(ub), len(ua)), big)
    for r, c, d in zip(rows, cols, cost):
        C[ib[r], ia[c]] = d
    ri, ci = linear_sum_assignment(C)
    return [(ub[r], ua[c]) for r, c in zip(ri, ci) if C[r, c] <= tolerance]


def overlap_pairs(before_geoms, after_geoms, share=TUNING.pit_overlap):
    """Pairs (i, j) of outlines of two dates, one-to-one, largest overlap first, that overlap by
    at least ``share`` of the smaller one: the same object outlined differently on each date
    (a pit seen whole on one and as its closed half on the other), too far apart centre to
    centre to pair by distance."""
    if not before_geoms or not after_geoms:
        return []

    def reach(gs):      # centres and radii (farthest corner), to test only outlines that can meet
        P = np.asarray(gs, dtype=float)
        c = P.mean(axis=1)
        return c, np.hypot(*(P - c[:, None]).transpose(2, 0, 1)).max(axis=1)
    (cb, rb), (ca, ra) = reach(before_geoms), reach(after_geoms)
    pb, pa = ([ogr.CreateGeometryFromWkt(ring_wkt(g)) for g in gs] for gs in (before_geoms, after_geoms))
    cands = []
    for i, js in enumerate(cKDTree(ca).query_ball_point(cb, rb + ra.max())):
        for j in js:
            if np.hypot(*(cb[i] - ca[j])) < rb[i] + ra[j]:
                s = pb[i].Intersection(pa[j]).GetArea() / max(1e-9, min(pb[i].GetArea(), pa[j].GetArea()))
                if s >= share:
                    cands.append((s, i, j))
    pairs, used_b, used_a = [], set(), set()
    for s, i, j in sorted(cands, reverse=True):
        if i not in used_b and j not in used_a:
            pairs.append((i, j))
            used_b.add(i)
            used_a.add(j)
    return pairs


def compare(before_dets, after_dets, before_srs_wkt, after_srs_wkt, tolerance=TUNING.tolerance_m, search=None,
            min_pairs=TUNING.min_pairs, shift=None, overlap=None):
    """Match detections of two dates. ``*_dets``: dicts with map ``geometry`` in their
    image's CRS; ``shift``: the misregistration (dx, dy) if known (else estimated from the
    detections); ``overlap``: also pair the objects left unpaired whose outlines (after the
    shift) overlap by this share of the smaller (see :func:`overlap_pairs`). Returns
    (records, info): records are the detection dicts (geometry in the after CRS) with
    ``status`` new | removed | kept and ``shift_m``; info has the shift (dx, dy), where it
    came from ('images', 'detections' or 'none'), the number of detection pairs that agree
    with it and the counts."""
    if tolerance <= 0:
        raise CargoWatchError('The matching tolerance must be a positive distance in metres.')
    before = []
    for d in before_dets:
        g = np.asarray(d['geometry'], dtype=float)
        xs, ys = transform_xy(g[:, 0], g[:, 1], before_srs_wkt, after_srs_wkt)
        nd = dict(d)
        nd['geometry'] = list(zip(xs.tolist(), ys.tolist()))
        before.append(nd)
    cb, ca = _centres(before), _centres(after_dets)
    search = search or shift_search(tolerance)
    if shift is not None:
        (dx, dy), source = shift, 'images'
    else:
        (dx, dy), npairs = estimate_shift(cb, ca, search=search)
        source = 'detections'
        if npairs < min_pairs:
            (dx, dy), source = (0.0, 0.0), 'none'
    moved = cb + np.array([dx, dy]) if len(cb) else cb
    pairs = match(moved, ca, tolerance)
    if shift is not None:       # the detections that agree with the images' shift
        npairs = int(sum(np.hypot(*(ca[j] - moved[i])) <= max(1.0, tolerance / 2) for i, j in pairs))
    if overlap:
        pb, pa = {i for i, _ in pairs}, {j for _, j in pairs}
        ub = [i for i in range(len(before)) if i not in pb]
        ua = [j for j in range(len(after_dets)) if j not in pa]
        more = overlap_pairs([[(x + dx, y + dy) for x, y in before[i]['geometry']] for i in ub],
                             [after_dets[j]['geometry'] for j in ua], overlap)
        pairs = pairs + [(ub[i], ua[j]) for i, j in more]
    mb = {i for i, _ in pairs}
    ma = {j for _, j in pairs}
    out = []
    for i, j in pairs:
        r = dict(after_dets[j])
        r['status'] = 'kept'
        r['shift_m'] = round(float(np.hypot(*(ca[j] - cb[i]))), 2)
        out.append(r)
    for j, d in enumerate(after_dets):
        if j not in ma:
            r = dict(d)
            r['status'] = 'new'
            r['shift_m'] = None
            out.append(r)
    for i, d in enumerate(before):
        if i not in mb:
            r = dict(d)
            r['geometry'] = [(x + dx, y + dy) for x, y in d['geometry']]
            r['status'] = 'removed'
            r['shift_m'] = None
            out.append(r)
    info = dict(shift=(dx, dy), shift_source=source, shift_pairs=npairs, before=len(before_dets),
                after=len(after_dets), kept=len(pairs), new=len(after_dets) - len(pairs),
                removed=len(before_dets) - len(pairs))
    return out, info


def shift_search(tolerance):
    """How far (m) the misregistration between the dates is searched, for a pairing ``tolerance``."""
    return max(TUNING.search_m, TUNING.search_per_tolerance * tolerance)


def score_pits_at(raster, boxes, params=None, kept=None):
    """Pit score (the detector's heatmap, 0-1, see core.pits.score_boxes) of oriented boxes given as map
    corners in ``raster.srs_wkt``: from the heatmaps ``kept`` by core.pits.count_pits on this raster for
    the boxes whose centre lies in a kept block's core, else read block by block as count_pits does (only
    the blocks that own a box centre are read)."""
    from .pits import TUNING, PitParams, pit_overlap, score_boxes
    from .raster import owning_blocks
    params = params or PitParams()
    out = np.full(len(boxes), -np.inf)
    if not boxes:
        return out
    px = []
    for b in boxes:
        g = np.asarray(b, dtype=float)
        cols, rows = raster.map_to_pixel(g[:, 0], g[:, 1])
        px.append(np.column_stack([cols, rows]))
    cen = np.array([p.mean(axis=0) for p in px])
    todo = np.ones(len(boxes), bool)
    for (x0, y0), core, heat in kept or []:
        idx = np.nonzero(todo & (cen[:, 0] >= core[0]) & (cen[:, 0] < core[2]) &
                         (cen[:, 1] >= core[1]) & (cen[:, 1] < core[3]))[0]
        if idx.size:
            out[idx] = score_boxes(None, [px[i] - (x0, y0) for i in idx], params, heat=heat)
            todo[idx] = False
    overlap = pit_overlap(raster.gsd, params)
    for blk, idx in owning_blocks(raster, cen[:, 0], cen[:, 1], max(TUNING.block_px, 4 * overlap), overlap, todo):
        out[idx] = score_boxes(blk, [px[i] - (blk.x0, blk.y0) for i in idx], params)
    return out


def cross_check(records, info, before, after, params=None, margin=TUNING.xcheck_margin, kept=(None, None),
                kind='pits', tolerance=TUNING.tolerance_m, params_after=None):
    """Second look at the unmatched objects: a "new" one whose place (moved back by the estimated shift) still
    scores as one in the before image (the detector's own heatmap, best within a few metres (pits) or 1.5 m
    (containers), above its threshold minus ``margin``) was there already, missed or badly placed by the before
    detection: it is "kept". Likewise a "removed" one the after image still shows is "kept". A "removed" and a "new"
    both kept this way and paired within ``tolerance`` are one object placed differently on the two dates: it is
    kept once (the after one). ``records``, ``info`` from :func:`compare`; ``kept``: the heatmaps
    core.pits.count_pits kept on (before, after), if any; ``params_after``: the after image's, when they differ
    (containers: its own sun); returns updated ones."""
    if kind == 'pits':
        from .pits import PitParams
        params = params or PitParams()

        def score(raster, boxes, heat, p):
            return score_pits_at(raster, boxes, p, heat)
    else:
        from .containers import ContainerParams, score_at
        params = params or ContainerParams()

        def score(raster, boxes, heat, p):
            return score_at(raster, [np.mean(b, axis=0) for b in boxes], p)
    dx, dy = info['shift']
    need = params.threshold - margin
    new = [k for k, r in enumerate(records) if r['status'] == 'new']
    gone = [k for k, r in enumerate(records) if r['status'] == 'removed']
    boxes = []
    for k in new:
        g = np.asarray(records[k]['geometry'], dtype=float)
        xs, ys = transform_xy(g[:, 0] - dx, g[:, 1] - dy, after.srs_wkt, before.srs_wkt)
        boxes.append(np.column_stack([xs, ys]))
    sb = score(before, boxes, kept[0], params)
    sa = score(after, [records[k]['geometry'] for k in gone], kept[1], params_after or params)
    out = [dict(r) for r in records]
    for k, sc in list(zip(new, sb)) + list(zip(gone, sa)):
        if sc >= need:
            out[k]['status'] = 'kept'
    back_new = [k for k, sc in zip(new, sb) if sc >= need]
    back_gone = [k for k, sc in zip(gone, sa) if sc >= need]
    twice = {back_gone[i] for i, _ in match(_centres([out[k] for k in back_gone]),
                                              _centres([out[k] for k in back_new]), tolerance)}
    out = [r for k, r in enumerate(out) if k not in twice]
    info = dict(info)
    for st in ('kept', 'new', 'removed'):
        info[st] = sum(r['status'] == st for r in out)
    info['cross_checked'] = int(sum(sb >= need) + sum(sa >= need))
    return out, info


def detector(kind):
    """The core/ counting function for ``kind`` (reused, not copied)."""
    if kind == 'pits':
        from .pits import count_pits
        return count_pits
    if kind == 'containers':
        try:
            from .containers import count_containers
        except ImportError as e:   # pragma: no cover - the container detector ships with the plugin
            raise CargoWatchError(f'The container detector is not available: {e}') from e
        return count_containers
    raise CargoWatchError(f'Unknown kind of object {kind!r}: choose one of {", ".join(KINDS)}.')


def detect_changes(before, after, kind='pits', tolerance=TUNING.tolerance_m, params=None, aoi_wkts=None,
                   aoi_srs_wkt=None, progress=None, cancelled=None, params_after=None):
    """Detect ``kind`` in two :class:`core.raster.Raster` of the same place and match them (``params_after``: the
    after image's detector params when they differ from ``params``, e.g. its own sun's azimuth; the same model and
    threshold, or the dates are not compared alike). Returns (records, info) as :func:`compare`; records' geometry
    is in ``after.srs_wkt``."""
    count = detector(kind)
    area = common_area(before, after, aoi_wkts, aoi_srs_wkt)
    aoi_a = Aoi([area], after.srs_wkt, after)
    aoi_b = Aoi([area], after.srs_wkt, before)
    if aoi_a.pixel_window is None or aoi_b.pixel_window is None:
        raise RasterError('The two images do not overlap enough to compare them.')

    def part(lo, hi):
        if progress is None:
            return None
        return lambda f: progress(lo + (hi - lo) * f)

    pb, pa = params, params_after or params
    kept = ([], [])         # the pits' heatmaps, reused by the cross-check
    kb, ka = ({'keep': k} for k in kept) if kind == 'pits' else ({}, {})
    kb.update({} if pb is None else {'params': pb})
    ka.update({} if pa is None else {'params': pa})
    bd = count(before, aoi=aoi_b, progress=part(0.0, 0.45), cancelled=cancelled, **kb)
    ad = count(after, aoi=aoi_a, progress=part(0.45, 0.9), cancelled=cancelled, **ka)
    out, info = compare(bd, ad, before.srs_wkt, after.srs_wkt, tolerance=tolerance,
                        shift=image_shift(before, after, area, search=shift_search(tolerance)),
                        overlap=TUNING.pit_overlap if kind == 'pits' else None)
    out, info = cross_check(out, info, before, after, params, kept=kept, kind=kind, tolerance=tolerance,
                            params_after=params_after)
    if progress is not None:
        progress(1.0)
    info['common_area_wkt'] = area
    return out, info
