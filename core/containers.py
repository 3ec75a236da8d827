"""Shipping-container detection and counting on very-high-resolution imagery (0.15-0.8 m).

Method (per overlapping block of the raster, at its own ground resolution):

1. A cheap pre-filter skips blocks without container-sized contrast (water, fields).
2. Thin bright lines that are not ground-coloured (crane girders across a block, road
   markings, painted slot outlines, zebra stripes: brighter than a ~1.6 m grey opening) are
   filled from their neighbours, so a roof under a girder is seen whole.
3. Light Gaussian smoothing; a colour gradient (sum of per-band Sobel magnitudes) and a
   dark-line filter (black top-hat: seams between touching containers, gaps between bays).
   1-band images are worked on as grey^0.65, which spreads apart the dark end (navy roofs,
   their seams and their shadows are all near black in linear grey).
4. Three segmentations with strict, normal and loose seed thresholds (each finds roofs the
   others merge or break). Seeds = pixels with a low gradient (absolute, following the
   block's noise, or relative to the strongest edge nearby so narrow roofs between two edges
   still get one) and no dark line. Connected seeds are roofs: one container, a block of
   touching containers whose seams are not resolved, ground, buildings, shadows. Seeds grow
   ~2 px into the edge zones, and touching regions of one colour without a seam between
   them are merged. On 1-band images, pixels clearly off the ground's local grey are split
   off the ground's region (grey roofs whose faint outline let the ground swallow them).
   Regions under sure detections (>= 0.9) of an earlier segmentation are not analysed again.
5. Regions of plausible size and second moments (vectorised filter) get an oriented
   rectangle (PCA) whose sides are refined on colour-distance profiles (edge at half
   contrast, or on the seam line between two similar roofs). Ground-coloured regions
   (painted slots; on colour rasters only), dark colourless ones (shadows) and striped ones
   (zebra crossings) are dropped. On 1-band images a dark region is a roof, not a shadow, when
   just beyond it, in the direction shadows fall in the block (dark pixels beyond bright ones),
   lies something no brighter than itself: its own shadow. The rectangle is kept when its
   length fits an ISO 20 ft or 40 ft container and its width a whole number k of container
   widths (k > 1: a *block* of touching containers; the tolerances are looser on 1-band
   images, where a roof's end or side fades into its neighbour's grey or its shadow);
   otherwise it is cut at the dark dips of its luminance profiles (seams, bay gaps) and each
   piece is fitted; rectangles of container colour that still fit nothing are counted by
   area (up to 8 TEU). Cars (too short), trailers (too long) and roofs (wrong size) fail the fit.
6. Confidence of each cell = a logistic model (features, their squares and products: ISO fit
   score, fill, leak, contrast with the ground, luminance, chroma, texture, rows, seams seen,
   cells in the region, GSD, evidence of its four sides) learned on generated scenes by
   bench/train_containers.py (other seeds than the benchmark's): the probability that it is
   a real container placed within 1.6 m. Cells below the floor are dropped; of overlapping
   cells of the three segmentations the most confident is kept. Two abutting same-colour
   20 ft halves become one 40 ft.

The public API (used by other detectors, keep the names): :class:`ContainerParams`,
:func:`detect_containers`, :func:`count_containers`, :data:`MIN_GSD`, :data:`MAX_GSD`,
:func:`check_gsd`.
"""
import contextlib
import math
from dataclasses import dataclass

import numpy as np
from osgeo import gdal
from scipy import ndimage

from .colour import colour_name
from .raster import RasterError, scan

MIN_GSD = 0.15   # m/pixel: finer imagery should be resampled (containers would be > 16 px wide)
DEBUG = None
FEATURES = False   # bench/train_containers.py: records carry their confidence features ('_x')
MAX_GSD = 0.8    # m/pixel: coarser and a container is under 3 pixels wide: cannot be seen reliably


@dataclass
class ContainerParams:
    """Container footprints (metres) and detection settings."""
    len20: float = 6.06
    len40: float = 12.19
    width: float = 2.44
    sensitivity: float = 0.5        # 0 (strict, fewer false alarms) .. 1 (permissive)
    side_gap: float = 0.12          # typical gap between touching containers, m
    max_block_rows: int = 12        # widest block of touching containers reported as one feature
    min_confidence: float = 0.45   # detections below are dropped (the field lets users filter higher)
    block_px: int = 1536            # raster block size for streaming
    overlap_m: float = 45.0         # block overlap in metres (> largest block of containers)


def check_gsd(gsd):
    """Raise RasterError when the ground resolution cannot show containers (or is too fine)."""
    if not gsd or not math.isfinite(gsd) or gsd <= 0:
        raise RasterError('The raster has no usable pixel size.')
    if gsd > MAX_GSD:
        raise RasterError(f'The raster is too coarse to see shipping containers: {gsd:.2f} m per pixel, '
                          f'the coarsest supported is {MAX_GSD} m (a container is 2.44 m wide, so it would '
                          f'be under {2.44 / gsd:.1f} pixels wide). Use imagery of 0.3-0.7 m resolution.')
    if gsd < MIN_GSD:
        raise RasterError(f'The raster is finer ({gsd:.2f} m per pixel) than this detector supports '
                          f'({MIN_GSD} m). Resample it to about 0.3 m (Raster ▸ Projections ▸ Warp, or '
                          'gdalwarp -tr 0.3 0.3) and run again.')


# ------------------------------------------------------------------------------------------------
# Segmentation
# ------------------------------------------------------------------------------------------------
# Internal constants, set by measurement on generated scenes (bench/bench_containers.py uses
# other seeds than those they were set on). Thresholds are in 0..1 image units unless noted.
TUNE = {
    'e0': 0.02, 'ek': 3.0,       # interior seeds: gradient below max(e0, ek x block noise) ...
    'rho': 0.35, 'cap': 2.0, 'capx': 1.0,   # ... or below rho x strongest edge within 5 px,
                                 # capped at cap x (gsd/0.3)^capx x the absolute threshold
    'd0': 0.02, 'dk': 4.0,       # dark-line (seam) strength that breaks a seed region
    'sigma_m': 0.25,             # smoothing, metres ...
    'sigma_min': 0.3,            # ... and pixels at least (at 0.7 m a container is 3.5 px wide: a wider
                                 # smoothing leaves no low-gradient interior to seed its roof)
    'grow': 2.0,                 # px that seed regions grow into the edge zones
    'merge': 0.06,               # colour distance under which touching regions (no seam) merge
    'tw0': 0.55, 'twg': 1.75,     # width tolerance: max(tw0 + 0.3 sensitivity, twg px), metres
    'tl0': 0.12, 'tlpx': 1.8,    # length tolerance: max(tl0 + 0.04 sensitivity relative, tlpx px)
    'tlpx_grey': 2.5, 'twg_grey': 2.2,  # ... on 1-band images, where a roof's end or side often fades into
                                 # its neighbour's grey or its shadow
    'area_fallback': True, 'fb_fill': 0.85, 'fb_max': 8,  # count unfit container-coloured rectangles
                                 # by area (up to fb_max TEU)
    'line_m': 1.6, 'line_t': 0.15,  # thin bright lines (girders, markings): width < line_m, contrast
    'dark5': 0.25,               # below this GSD the seam filter is 5 px wide (else 3)
    'texture': 1.5,              # internal gradient / contrast above which a region is striped
    'texture_grey': 2.2,         # ... on 1-band images (grey ** grey_gamma roughens dark corrugated roofs)
    # segmentations per block (factor on the seed thresholds, shift of the relative one): each
    # finds roofs the others merge or break; overlapping results are resolved by confidence
    'variants': ((1.0, 0.0), (0.67, -0.1), (1.5, 0.1)),
    'overlap': 0.25,             # a detection overlapping kept ones by more than this is dropped
    # 1-band images are segmented as grey ** grey_gamma: it lifts the contrast of dark roofs, their
    # seams and shadows (noise there is smaller, photon noise grows with the signal) to that of the
    # rest, so a block of navy roofs no longer merges into one region with its shadow
    'grey_gamma': 0.65,
    # 1-band: ground regions larger than this (m2) give up their pixels off the ground's grey by
    # more than max(abs, k x its robust spread) as regions of their own (see _split_ground)
    'split_m2': 375.0, 'split_abs': 0.03, 'split_k': 3.0, 'split_win': 20.0,
    # 1-band: a dark region that has something no brighter (+ cast_abs) than itself cast_m beyond
    # it where shadows fall is a roof, not a shadow (direction found if > sun_min of bright pixels vote)
    'cast_m': 1.0, 'cast_abs': 0.02, 'sun_min': 0.05,
    'sure': 0.9,                 # ... and regions under detections this confident are not analysed again
}


def _features(data, gsd):
    """Smoothed bands, luminance, colour gradient magnitude and dark-line strength."""
    sigma = min(1.5, max(TUNE['sigma_min'], TUNE['sigma_m'] / gsd))
    sm = np.empty_like(data)
    grad = np.zeros(data.shape[1:], dtype=np.float32)
    tmp = np.empty(data.shape[1:], dtype=np.float32)
    for i in range(data.shape[0]):
        ndimage.gaussian_filter(data[i], sigma, output=sm[i], truncate=2.5)
        ndimage.sobel(sm[i], axis=0, output=tmp)
        np.abs(tmp, out=tmp)
        grad += tmp
        ndimage.sobel(sm[i], axis=1, output=tmp)
        np.abs(tmp, out=tmp)
        grad += tmp
    grad *= 1.0 / (8.0 * data.shape[0])
    lum = sm.mean(axis=0) if sm.shape[0] > 1 else sm[0]
    size = 3 if gsd >= TUNE['dark5'] else 5
    dark = ndimage.grey_closing(lum, size=(size, size))
    dark -= lum
    return sm, lum, grad, dark


def _unveil(data, valid, g):
    """Remove thin bright lines that are not ground-coloured (crane girders across a block of
    containers, road markings, painted slot outlines, zebra stripes): pixels brighter than a
    grey opening of ~1.6 m (narrower than a container roof) are filled from their unmarked
    neighbours (normalised Gaussian convolution), so a roof under a girder is seen whole."""
    lum = data.mean(axis=0)
    se = max(2, int(round(TUNE['line_m'] / g)))
    flag = lum - ndimage.grey_opening(lum, size=(se, se)) > TUNE['line_t']
    if not flag.any():
        return data
    vi = np.flatnonzero(valid)      # the ground colour from a sample of the valid pixels
    vi = vi[:: max(1, vi.size // 50000)]
    ground = np.median(data.reshape(data.shape[0], -1)[:, vi], axis=1) if vi.size else np.zeros(data.shape[0])
    flag[flag] = np.abs(data[:, flag] - ground.reshape(-1, 1)).mean(axis=0) > TUNE['line_t']   # flagged px only
    flag = ndimage.binary_dilation(flag) & valid
    if not flag.any():
        return data
    keep = (valid & ~flag).astype(np.float32)
    sigma = TUNE['line_m'] / 2 / g
    den = ndimage.gaussian_filter(keep, sigma, truncate=2.5)[flag]
    ok = den > 0.02
    out = data.copy()
    for i in range(data.shape[0]):
        num = ndimage.gaussian_filter(data[i] * keep, sigma, truncate=2.5)[flag]
        out[i][flag] = np.where(ok, num / np.maximum(den, 1e-6), data[i][flag])
    return out


def _noise_level(grad, valid):
    v = grad[valid]
    if v.size > 200000:
        v = v[:: v.size // 200000]
    return float(np.median(v)) if v.size else 0.01


def segment(data, valid, gsd, sensitivity=0.5, feats=None, variant=(1.0, 0.0)):
    """Partition the block into homogeneous regions; returns (labels int32, n, sm, lum, grad).

    Interior seeds: pixels with a low colour gradient (absolute, following the block's noise
    level, or relative to the strongest edge nearby so that narrow roofs between two edges
    still get a seed) and no dark line. Seeds then grow ~2 px into the edge zones, so region
    borders land on the edge ridges, i.e. on the true outlines. ``variant`` = (factor on the
    seed thresholds, shift of the relative one): stricter seeds split touching roofs, looser
    ones keep narrow or textured roofs whole. ``feats`` = :func:`_features` already computed."""
    sm, lum, grad, dark = feats[:4] if feats is not None else _features(data, gsd)
    # variant-independent: the block's noise level and the strongest edge within 5 px
    # (detect_containers passes them in ``feats`` so the three segmentations share them)
    if feats is not None and len(feats) > 4:
        noise, local_max = feats[4], feats[5]
    else:
        noise, local_max = _noise_level(grad, valid), ndimage.maximum_filter(grad, size=5)
    k = 1.0 - 0.6 * (sensitivity - 0.5)
    f, drho, fd, fm = tuple(variant) + (1.0, 1.0)[len(variant) - 2:]
    t_edge = f * max(TUNE['e0'] * k, TUNE['ek'] * noise)
    t_dark = fd * max(TUNE['d0'] * k, TUNE['dk'] * noise)
    cap = TUNE['cap'] * (gsd / 0.3) ** TUNE['capx'] * t_edge
    interior = grad < np.maximum(t_edge, np.minimum((TUNE['rho'] + drho) * local_max, cap))
    interior &= (dark < t_dark) & valid
    labels, n = ndimage.label(interior)
    # drop specks (noise) so they do not steal edge pixels from real objects
    min_px = max(2, int(0.25 / (gsd * gsd)))
    sizes = np.bincount(labels.ravel(), minlength=n + 1)
    keep = sizes >= min_px
    keep[0] = False
    lut = np.zeros(n + 1, dtype=np.int32)
    lut[keep] = np.arange(1, int(keep.sum()) + 1, dtype=np.int32)
    labels = lut[labels]
    n = int(keep.sum())
    # every other pixel joins a neighbouring seed region, growing ~2 px (seeds compete)
    full = _grow(labels, int(round(TUNE['grow'])))
    full[~valid] = 0
    full, n = _merge_fragments(full, n, sm, dark, t_dark, fm * TUNE['merge'] * (1.2 - 0.4 * sensitivity))
    if sm.shape[0] == 1:
        full, n = _split_ground(full, n, lum, gsd)
    return full, n, sm, lum, grad


def _split_ground(labels, n, lum, gsd):
    """1-band images: a roof whose outline is too faint to close (grey roofs on grey ground)
    leaks into the ground's region. In every region larger than any block of containers, the
    pixels clearly off the region's local grey (its mean over ~20 m) become regions of their
    own, which the confidence model judges. (On colour images this only added false roofs.)"""
    cnt = np.bincount(labels.ravel(), minlength=n + 1)
    cnt[0] = 0
    big = np.nonzero(cnt > TUNE['split_m2'] / (gsd * gsd))[0]
    if big.size == 0:
        return labels, n
    out = labels.copy()
    size = max(3, int(round(TUNE['split_win'] / gsd)))
    for lab in big:
        m = labels == lab
        mf = m.astype(np.float32)
        dev = lum - ndimage.uniform_filter(lum * mf, size) / np.maximum(ndimage.uniform_filter(mf, size), 1e-3)
        v = dev[m]
        thr = max(TUNE['split_abs'], TUNE['split_k'] * 1.4826 * float(np.median(np.abs(v - np.median(v)))))
        sub, k = ndimage.label(m & (np.abs(dev) > thr))
        part = sub > 0
        out[part] = sub[part] + n
        n += k
    return out, n


def _grow(labels, steps):
    """Grow labelled regions into unlabelled (0) pixels by ``steps`` 4-neighbour steps."""
    full = labels.copy()
    for _ in range(steps):
        empty = full == 0
        if not empty.any():
            break
        nb = np.zeros_like(full)
        nb[1:, :] = full[:-1, :]
        np.maximum(nb[:-1, :], full[1:, :], out=nb[:-1, :])
        np.maximum(nb[:, 1:], full[:, :-1], out=nb[:, 1:])
        np.maximum(nb[:, :-1], full[:, 1:], out=nb[:, :-1])
        full[empty] = nb[empty]
    return full


def _merge_fragments(labels, n, sm, dark, t_dark, max_dist):
    """Merge touching regions of the same colour whose shared border is not a dark line:
    one roof broken into pieces by texture, not two containers separated by a seam."""
    if n < 2:
        return labels, n
    flat = labels.ravel()
    cnt = np.bincount(flat, minlength=n + 1).astype(np.float64)
    cnt[cnt == 0] = 1
    means = np.stack([np.bincount(flat, weights=b.ravel(), minlength=n + 1) / cnt for b in sm], axis=1)
    pairs, darks = [], []
    for a, b, da, db in ((labels[:, :-1], labels[:, 1:], dark[:, :-1], dark[:, 1:]),
                         (labels[:-1, :], labels[1:, :], dark[:-1, :], dark[1:, :])):
        m = (a != b) & (a > 0) & (b > 0)
        am, bm = a[m], b[m]
        lo = np.minimum(am, bm).astype(np.int64)
        hi = np.maximum(am, bm).astype(np.int64)
        pairs.append(lo * (n + 1) + hi)
        darks.append(np.maximum(da[m], db[m]))
    key = np.concatenate(pairs)
    if key.size == 0:
        return labels, n
    dk = np.concatenate(darks)
    uniq, inv, counts = np.unique(key, return_inverse=True, return_counts=True)
    mean_dark = np.bincount(inv, weights=dk) / counts
    a, b = uniq // (n + 1), uniq % (n + 1)
    cdist = np.sqrt(((means[a] - means[b]) ** 2).mean(axis=1))
    ok = (cdist < max_dist) & (mean_dark < 0.5 * t_dark) & (counts >= 3)
    if not ok.any():
        return labels, n
    parent = np.arange(n + 1)

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x
    for x, y in zip(a[ok].tolist(), b[ok].tolist()):
        rx, ry = find(x), find(y)
        if rx != ry:
            parent[max(rx, ry)] = min(rx, ry)
    roots = np.array([find(i) for i in range(n + 1)])
    uniq_roots, lut = np.unique(roots, return_inverse=True)
    return lut[labels].astype(np.int32), int(uniq_roots.size - 1)


# ------------------------------------------------------------------------------------------------
# Region analysis
# ------------------------------------------------------------------------------------------------
def _fit(length, width, p, gsd, sens, grey=False):
    """Best ISO interpretation of a (length >= width) rectangle in metres:
    (size_class, rows, unit_length, score 0..1, swapped) or None; ``swapped`` when the
    container length lies along the rectangle's shorter side (a wide block of short rows)."""
    best = None
    tol_l = max(TUNE['tl0'] + 0.04 * sens, 1.3 * gsd / 12.0)
    tlpx, twg = (TUNE['tlpx_grey'], TUNE['twg_grey']) if grey else (TUNE['tlpx'], TUNE['twg'])
    for swapped, (axis_len, axis_w) in enumerate(((length, width), (width, length))):
        for cls, ul in (('20ft', p.len20), ('40ft', p.len40)):
            el = abs(axis_len - ul) / (ul * max(tol_l, tlpx * gsd / ul))
            if el > 1:
                continue
            rows = int(round((axis_w + p.side_gap) / (p.width + p.side_gap)))
            if rows < 1 or rows > p.max_block_rows:
                continue
            expect = rows * p.width + (rows - 1) * p.side_gap
            tol_w = max(TUNE['tw0'] + 0.3 * sens, twg * gsd) + 0.06 * (rows - 1)
            tol_w = min(tol_w, 0.48 * (p.width + p.side_gap))
            ew = abs(axis_w - expect) / tol_w
            if ew > 1:
                continue
            score = 1 - 0.5 * (el ** 2 + ew ** 2)
            if best is None or score > best[3]:
                best = (cls, rows, ul, score, bool(swapped))
    return best


def _background_colours(labels, n, sm, gsd, max_obj_m2):
    """Mean colours of the big regions (ground: far larger than any container block)."""
    sizes = np.bincount(labels.ravel(), minlength=n + 1)
    sizes[0] = 0
    big = np.nonzero(sizes * gsd * gsd > 3 * max_obj_m2)[0]
    if big.size == 0:
        big = np.argsort(sizes)[-1:]
        big = big[sizes[big] > 0]
    big = big[np.argsort(sizes[big])[::-1][:4]]
    cols = []
    for lab in big:
        cols.append(np.array([ndimage.mean(sm[i], labels, lab) for i in range(sm.shape[0])]))
    return cols


def _avg(x):
    """``x.mean()`` of a whole array, the same value and type (numpy's own reduction and
    division), without the overhead of ndarray.mean (called tens of thousands of times)."""
    if x.dtype.kind in 'biu':
        return np.add.reduce(x, axis=None, dtype=np.float64) / np.intp(x.size)
    r = np.add.reduce(x, axis=None)
    return r.dtype.type(r / np.intp(x.size))


def _crossing(seg, inside, peak_window):
    """Index (fractional) of the edge in a colour-distance profile ``seg`` going outwards: the
    half-way rise from ``inside`` to its maximum (a step edge), or the top of a narrow peak
    when the profile falls back after it (a thin seam between two similar containers)."""
    if seg.size < 2:
        return None
    outside = float(seg.max())
    if outside - inside < 0.04:
        return None
    half = (inside + outside) / 2
    above = np.nonzero(seg >= half)[0]
    j = int(above[0])
    k = j + int(np.argmax(seg[j:j + peak_window]))
    top = float(seg[k])
    after = seg[k + 1:k + 1 + peak_window]
    if after.size and float(after.min()) < inside + 0.5 * (top - inside) and 0 < k < seg.size - 1:
        a, b, c = float(seg[k - 1]), top, float(seg[k + 1])
        den = a - 2 * b + c
        return k + (0.5 * (a - c) / den if den < 0 else 0.0)
    if j == 0:
        return 0.0
    a, b = float(seg[j - 1]), float(seg[j])
    return j - 1 + (half - a) / (b - a + 1e-9)


def _refine(sm, col, fx, fy, ct, st, lu, lv, start_px, margin=3.0, step=0.5):
    """Refine an oriented rectangle (centre fx, fy; axes (ct, st) and (-st, ct); sizes lu, lv
    in px) from colour-distance profiles across and along it: each edge at the half-contrast
    crossing, searched outwards from ``start_px`` inside the region's own border.
    Returns (du, dv, lu, lv): centre shift along the axes and the refined sizes, in px."""
    nu = int((lu / 2 + margin) / step)
    nv = int((lv / 2 + margin) / step)
    us = np.arange(-nu, nu + 1) * step
    vs = np.arange(-nv, nv + 1) * step
    # sample grid (rows: v, columns: u) by broadcasting, as one (2, N) coordinate array
    X = (fx + us * ct).reshape(1, -1) - (vs * st).reshape(-1, 1)
    Y = (fy + us * st).reshape(1, -1) + (vs * ct).reshape(-1, 1)
    coords = np.stack([Y.ravel(), X.ravel()])
    cu = np.abs(us) <= max(1.0, 0.35 * lu)
    cv = np.abs(vs) <= max(0.75, 0.35 * lv)
    smp = np.empty((sm.shape[0], vs.size * us.size), dtype=sm.dtype)
    for i in range(sm.shape[0]):
        ndimage.map_coordinates(sm[i], coords, output=smp[i], order=1, mode='nearest')
    smp = smp.reshape((sm.shape[0], vs.size, us.size))
    core = smp[:, cv][:, :, cu].reshape(sm.shape[0], -1)
    ref = core.mean(axis=1) if col is None else col
    d = np.sqrt(((smp - ref.reshape(-1, 1, 1)) ** 2).mean(axis=0))
    pv = d[:, cu].mean(axis=1)    # across profile (function of v)
    pu = d[cv, :].mean(axis=0)    # along profile (function of u)
    out = []
    for prof, half, n, central in ((pu, lu / 2, nu, cu), (pv, lv / 2, nv, cv)):
        inside = float(_avg(prof[central]))
        s0 = int(max(0.0, half - start_px) / step)
        edges = []
        for seg in (prof[n + s0:], prof[:n - s0 + 1][::-1]):
            j = _crossing(seg, inside, int(start_px / step) + 1)
            edges.append((s0 + j) * step if j is not None else half)
        out.append(edges)
    (uh, ul), (vh, vl) = out
    return (uh - ul) / 2, (vh - vl) / 2, uh + ul, vh + vl, (us, vs, smp)


def _dips(prof, step, g, min_depth):
    """Positions (sample indices) of narrow dark dips in a profile: the seams between touching
    containers and the gaps between bays. A dip is the lowest sample within +-0.6 m and lies
    ``min_depth`` below the highest samples within 1.2 m on *both* sides."""
    n = prof.size
    w = max(2, int(round(1.2 / g / step)))
    h = max(1, int(round(0.6 / g / step)))
    if n < 5:
        return []
    # sliding minimum / maximum (exact, order free) instead of a Python loop over samples
    win = np.lib.stride_tricks.sliding_window_view
    lo_pad = np.concatenate([np.full(w, -np.inf, prof.dtype), prof, np.full(w, -np.inf, prof.dtype)])
    hi_pad = np.concatenate([np.full(h, np.inf, prof.dtype), prof, np.full(h, np.inf, prof.dtype)])
    idx = np.arange(1, n - 1)
    ok = (idx - np.maximum(0, idx - w) >= 2) & (np.minimum(n, idx + w + 1) - idx >= 3)
    loc_min = win(hi_pad, 2 * h + 1).min(axis=1)[1:n - 1]      # min over [i-h, i+h]
    fwd = win(lo_pad, w).max(axis=1)                             # fwd[j] = max of prof[j-w .. j-1]
    left, right = fwd[idx], fwd[idx + w + 1]                     # max over [i-w, i) and (i, i+w]
    ok &= ~(prof[idx] > loc_min)
    depth = (np.minimum(left, right) - prof[idx]).astype(np.float64)
    out = []
    for i, d, o in zip(idx.tolist(), depth.tolist(), ok.tolist()):
        if o and d >= min_depth and (not out or i - out[-1] > w):
            out.append(i)
    return out


def _segments(lo, hi, cuts, min_len):
    """Split [lo, hi] at the cut positions; drop pieces shorter than ``min_len``."""
    edges = [lo] + [c for c in cuts if lo + min_len <= c <= hi - min_len] + [hi]
    return [(a, b) for a, b in zip(edges[:-1], edges[1:]) if b - a >= min_len]


def _fit_cell(lu_px, lv_px, p, g, sens, grey=False):
    """_fit for a cell with sizes along u and v (px): (cls, rows, ul, score, along_u) or None."""
    a, b = lu_px * g, lv_px * g
    fit = _fit(max(a, b), min(a, b), p, g, sens, grey)
    if fit is None:
        return None
    cls, rows, ul, score, swapped = fit
    along_u = (a >= b) != swapped
    return cls, rows, ul, score, along_u


def _cells(rect, us, vs, lumg, g, p, sens, grey=False):
    """Container cells of a region's rectangle: the whole rectangle when it is one container;
    else cut at the dark dips (seams, bay gaps) of its luminance profiles and fit each piece.
    Returns [((u0, u1, v0, v1), fit)] (px in the region's frame) or []."""
    u0, u1, v0, v1 = rect
    step = us[1] - us[0]
    whole = _fit_cell(u1 - u0, v1 - v0, p, g, sens, grey)
    if whole is not None and whole[1] == 1:
        return [(rect, whole, False)]
    su = (us >= u0) & (us <= u1)
    sv = (vs >= v0) & (vs <= v1)
    if su.sum() < 3 or sv.sum() < 3:
        return []
    cu = (us >= u0 + 0.15 * (u1 - u0)) & (us <= u1 - 0.15 * (u1 - u0))
    cv = (vs >= v0 + 0.15 * (v1 - v0)) & (vs <= v1 - 0.15 * (v1 - v0))
    pu = lumg[cv][:, su].mean(axis=0)
    pv = lumg[sv][:, cu].mean(axis=1)
    level = float(np.median(lumg[sv][:, su]))
    depth = max(0.01, 0.035 * level) * (1.3 - 0.6 * sens)
    cut_u = [us[su][0] + i * step for i in _dips(pu, step, g, depth)]
    cut_v = [vs[sv][0] + i * step for i in _dips(pv, step, g, depth)]
    min_len = 1.6 / g
    segs_u = _segments(u0, u1, cut_u, min_len)
    segs_v = _segments(v0, v1, cut_v, min_len)
    if len(segs_u) * len(segs_v) <= 1:
        return [(rect, whole, True)] if whole is not None else []
    cells = []
    for a0, a1 in segs_u:
        for b0, b1 in segs_v:
            f = _fit_cell(a1 - a0, b1 - b0, p, g, sens, grey)
            if f is not None:
                cells.append(((a0, a1, b0, b1), f, f[1] > 1))
    covered = sum((c[0][1] - c[0][0]) * (c[0][3] - c[0][2]) for c in cells)
    if whole is not None and covered < 0.75 * (u1 - u0) * (v1 - v0):
        return [(rect, whole, True)]
    return cells


def _area_cell(rect, g, p, fill):
    """Fallback for a container-coloured rectangle whose sides fit no ISO combination (pieces
    merged or broken by shadows, cranes, unresolved gaps): count it by area as a block, TEU
    from the 20 ft footprint with its usual gaps, at a low confidence."""
    u0, u1, v0, v1 = rect
    a, b = (u1 - u0) * g, (v1 - v0) * g
    short, long_ = min(a, b), max(a, b)
    if fill < TUNE['fb_fill'] or short < 0.8 * p.width or long_ < 0.8 * p.len20:
        return []
    pitch = p.width + p.side_gap
    if abs(short / pitch - round(short / pitch)) > 0.3 and abs(short / p.len20 - round(short / p.len20)) > 0.15:
        return []       # the short side is no whole number of container widths or lengths
    teu = int(round(a * b / ((p.len20 + 0.4) * (p.width + p.side_gap))))
    if teu < 1 or teu > TUNE['fb_max']:
        return []       # large unfit rectangles are mostly roofs of buildings
    forty = long_ >= 0.8 * p.len40 and short < 0.8 * p.len40
    rows = max(1, int(round(teu / 2))) if forty else teu
    cls = '40ft' if forty else '20ft'
    # container length along the long side for 40 ft rows, else along the side nearer 6.06 m
    along_u = (a >= b) if forty else abs(a - p.len20) <= abs(b - p.len20)
    return [(rect, (cls, rows, p.len40 if forty else p.len20, -0.2, along_u), rows > 1)]


def _side_contrast(cell, us, vs, smp, g):
    """Evidence for the four sides of a cell (px in the region's frame, colour samples ``smp``
    on the grid ``us`` x ``vs``): per side, the larger of the colour distance between the
    cell's inside and a strip 0.3-0.9 m outside it (an outline) and the darkening of the side
    line itself (a seam between two alike roofs). Returns (weakest side, mean of the sides)."""
    u0, u1, v0, v1 = cell
    a, b = 0.3 / g, 0.9 / g
    cu = (us >= u0 + 0.2 * (u1 - u0)) & (us <= u1 - 0.2 * (u1 - u0))
    cv = (vs >= v0 + 0.2 * (v1 - v0)) & (vs <= v1 - 0.2 * (v1 - v0))
    if not cu.any() or not cv.any():
        return 0.0, 0.0
    inner = smp[:, cv][:, :, cu].reshape(smp.shape[0], -1).mean(axis=1)
    ilum = float(_avg(inner))
    out = []
    rows_cv, cols_cu = smp[:, cv], smp[:, :, cu]     # the bands along the u sides / the v sides
    lw = max(0.5, 0.15 / g)
    for pos, lo_out, hi_out, across in ((u0, u0 - b, u0 - a, us), (u1, u1 + a, u1 + b, us),
                                        (v0, v0 - b, v0 - a, vs), (v1, v1 + a, v1 + b, vs)):
        strip = (across >= min(lo_out, hi_out)) & (across <= max(lo_out, hi_out))
        line = np.abs(across - pos) <= lw
        if across is us:
            so, sl = rows_cv[:, :, strip], rows_cv[:, :, line]
        else:
            so, sl = cols_cu[:, strip], cols_cu[:, line]
        d_out = float(np.sqrt(_avg((so.reshape(smp.shape[0], -1).mean(axis=1) - inner) ** 2))) if so.size else 0.0
        d_line = ilum - float(_avg(sl)) if sl.size else 0.0
        out.append(max(d_out, d_line))
    return min(out), sum(out) / 4


def _confidence(x):
    """Probability that a cell is a real container (or block) placed right, from its features:
    a logistic model on the standardised features, their squares and pairwise products, learned
    on generated scenes by bench/train_containers.py (other seeds than the benchmark's)."""
    m = _MODEL.get(id(CONF_MODEL))
    if m is None:       # the model as arrays, built once
        m = _MODEL[id(CONF_MODEL)] = {k: np.asarray(v, dtype=np.float64) for k, v in CONF_MODEL.items()}
        m['iu'] = np.triu_indices(m['mean'].size)
    s = (np.asarray(x, dtype=np.float64) - m['mean']) / m['scale']
    z = float(m['bias'] + m['w'] @ s + m['q'] @ np.outer(s, s)[m['iu']])
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


_MODEL = {}
# features: score, fill, leak, dist_bg, lum, chroma, texture, log rows, seamless, log cells, gsd,
# weakest side, mean side. Generated by bench/train_containers.py; do not edit by hand.
CONF_MODEL = {'bias': 2.438,
              'mean': (0.7456, 0.8947, 0.006745, 0.2073, 0.5473, 0.2223, 0.3281, 0.1114, 0.1302, 0.1716, 0.4736, 0.1321, 0.2374),
              'scale': (0.3576, 0.07914, 0.02003, 0.1334, 0.1737, 0.192, 0.1877, 0.3083, 0.3365, 0.4095, 0.1186, 0.1091, 0.1131),
              'w': (2.346, 0.2457, -0.128, -1.689, -0.3046, 0.3295, -1.857, -0.0798, -0.005958, 0.332, 0.9592, 0.4536, 1.491),
              'q': (0.4852, 0.3491, -0.06437, -0.33, 0.121, 0.1249, -0.3114, -0.4166, 0.3497, 0.2607, 0.01232, 0.442, 0.1195, -0.000323, -0.0317, -0.008591, -0.1628, 0.04275, -0.05277, 0.0382, -0.07982, 0.09751, 0.007179, 0.006443, -0.05023, -0.005194, 0.03377, 0.05106, 0.005602, 0.07109, 0.008369, 0.04042, -0.01533, 0.007521, -0.04233, -0.03412, 0.1177, -0.468, -0.08214, -1.339, -0.2266, 0.1697, 0.1007, 0.1642, 0.4932, 0.006135, 0.04837, -0.1027, 0.06018, 0.1101, 0.07794, -0.08462, -0.1536, -0.2518, 0.1218, -0.1824, -0.07443, -0.08453, 0.1648, -0.02949, 0.01068, 0.2652, -0.2942, -0.006821, -0.4422, 0.3792, 0.1329, 0.1269, 0.5567, 0.02647, -0.01795, -0.2041, 0.03741, 0.05717, 0.4809, -0.3125, -0.0131, -0.04011, -0.05746, -0.8515, 0.3681, -0.1012, 0.02979, -0.1918, 0.002569, -0.2814, -0.3763, 0.6338, -0.3011, 0.08953, -0.3206)}


def _record(cx, cy, L_m, W_m, ang, g, cls, rows, col, conf):
    """Output dict (block-local corners, px) of one container or block."""
    half_l, half_w = L_m / g / 2, W_m / g / 2
    ca, sa = math.cos(ang), math.sin(ang)
    cx, cy = float(cx), float(cy)
    corners = [(cx + su * half_l * ca - sv * half_w * sa + 0.5, cy + su * half_l * sa + sv * half_w * ca + 0.5)
               for su, sv in ((-1, -1), (1, -1), (1, 1), (-1, 1))]
    teu_unit = 1 if cls == '20ft' else 2
    return {
        'corners': corners,
        'size_class': cls if rows == 1 else 'block',
        'length_m': round(float(L_m), 2), 'width_m': round(float(W_m), 2),
        'containers': int(rows), 'teu': int(rows * teu_unit),
        'colour': colour_name(*col[:3]),
        'r': int(round(255 * col[0])), 'g': int(round(255 * col[1])), 'b': int(round(255 * col[2])),
        'confidence': round(float(conf), 3),
        'angle_deg': round(float(math.degrees(-ang) % 180.0), 1),
    }


def _busy(data, valid, g, min_contrast=0.06):
    """Cheap pre-filter: does the block hold any sharp, container-sized contrast at all?
    (Open water, fields and bare pavement are skipped without segmentation.) Looks at the
    range of luminance in ~2.5 m cells of a 2x decimated image."""
    f = max(1, int(round(1.25 / g)))
    lum = data.mean(axis=0)
    h, w = lum.shape
    hh, ww = h // f * f, w // f * f
    if hh == 0 or ww == 0:
        return True
    small = lum[:hh, :ww].reshape(hh // f, f, ww // f, f).mean(axis=(1, 3))
    ok = valid[:hh, :ww].reshape(hh // f, f, ww // f, f).all(axis=(1, 3))
    rng = ndimage.maximum_filter(small, size=2) - ndimage.minimum_filter(small, size=2)
    return bool((rng[ok] > min_contrast).sum() >= 4)


def _candidates(labels, n, sm, g, p, unit, max_obj):
    """Labels whose area and second-moment size could be a container or a block (vectorised,
    so the many shadow pieces, specks and ground regions never reach the per-region loop)."""
    flat = labels.ravel()
    cnt = np.bincount(flat, minlength=n + 1).astype(np.float64)
    area = cnt * g * g
    ok = (area >= 0.5 * unit) & (area <= 1.25 * max_obj)
    ok[0] = False
    idx = np.nonzero(ok)[0]
    if idx.size == 0:
        return idx
    h, w = labels.shape
    sel = ok[flat]
    lab = flat[sel]
    yy, xx = np.divmod(np.nonzero(sel)[0], w)
    c = cnt[idx]
    pos = np.searchsorted(idx, lab)

    def acc(v):
        return np.bincount(pos, weights=v, minlength=idx.size)
    my, mx = acc(yy) / c, acc(xx) / c
    dy, dx = yy - my[pos], xx - mx[pos]
    cyy, cxx, cxy = acc(dy * dy) / c, acc(dx * dx) / c, acc(dx * dy) / c
    tr, det = cxx + cyy, cxx * cyy - cxy * cxy
    disc = np.sqrt(np.maximum(tr * tr / 4 - det, 0))
    big = np.sqrt(12 * (tr / 2 + disc) + 1) * g
    small = np.sqrt(12 * np.maximum(tr / 2 - disc, 0) + 1) * g
    keep = (small >= 0.55 * p.width) & (big >= 0.55 * p.len20) & (area[idx] / (big * small) > 0.6)
    return idx[keep]


def detect_containers(block, params=None):
    """Detector for :func:`core.raster.scan`: containers in one Block as dicts with block-local
    ``corners`` and the output fields (size_class, length_m, width_m, containers, teu, colour,
    r, g, b, confidence)."""
    p = params or ContainerParams()
    g = float(block.gsd)
    sens = float(min(1.0, max(0.0, p.sensitivity)))
    data, valid = block.data, block.valid
    if data.shape[0] > 3:
        data = data[:3]
    if not _busy(data, valid, g):
        return []
    grey = data.shape[0] == 1
    if grey:
        data = data ** TUNE['grey_gamma']
    feats = _features(_unveil(data, valid, g), g)
    feats = feats + (_noise_level(feats[2], valid), ndimage.maximum_filter(feats[2], size=5))
    found, done = [], np.zeros(valid.shape, dtype=bool)
    sun = _shadow_direction(feats[1], valid, g) if grey else None
    for variant in TUNE['variants']:
        labels, n, sm, lum, grad = segment(data, valid, g, sens, feats, variant)
        if n:
            new = _analyse(block, labels, n, sm, grad, g, p, sens, done, sun)
            for d in new:       # roofs found with high confidence need no other segmentation
                if d['confidence'] >= TUNE['sure']:
                    sl, inside = _footprint(d['corners'], done.shape)
                    done[sl] |= inside
            found += new
    return _join_halves(_resolve(found, valid.shape), g, p)


def _footprint(corners, shape):
    """(slices, bool mask) of the pixels whose centres lie inside a detection's rectangle."""
    c = np.asarray(corners, dtype=np.float64)
    h, w = shape
    x0, y0 = np.maximum(0, np.floor(c.min(axis=0)).astype(int))
    x1, y1 = np.ceil(c.max(axis=0)).astype(int)
    x1, y1 = max(x0, min(w, x1)), max(y0, min(h, y1))
    yy = np.arange(y0, y1, dtype=np.float64).reshape(-1, 1) + 0.5
    xx = np.arange(x0, x1, dtype=np.float64).reshape(1, -1) + 0.5
    ea, eb = c[1] - c[0], c[3] - c[0]
    pa = ((xx - c[0, 0]) * ea[0] + (yy - c[0, 1]) * ea[1]) / (ea @ ea)
    pb = ((xx - c[0, 0]) * eb[0] + (yy - c[0, 1]) * eb[1]) / (eb @ eb)
    return (slice(y0, y1), slice(x0, x1)), (pa >= 0) & (pa <= 1) & (pb >= 0) & (pb <= 1)


def _resolve(dets, shape):
    """Keep the most confident of overlapping detections (the same roofs seen by several
    segmentations): a detection is dropped when more than TUNE['overlap'] of its area is
    already covered by kept ones."""
    occ = np.zeros(shape, dtype=bool)
    kept = []
    for d in sorted(dets, key=lambda d: -d['confidence']):
        sl, inside = _footprint(d['corners'], shape)
        area = inside.sum()
        sub = occ[sl]
        if area == 0 or (sub & inside).sum() > TUNE['overlap'] * area:
            continue
        sub |= inside
        kept.append(d)
    return kept


def _analyse(block, labels, n, sm, grad, g, p, sens, done, sun=None):
    """Container records of the regions of one segmentation (block-local corners); regions
    mostly inside ``done`` (sure detections of an earlier segmentation) are skipped."""
    min_conf = p.min_confidence - 0.2 * (sens - 0.5)     # sensitivity 1 keeps down to 0.35 by default
    h, w = labels.shape
    unit = p.len20 * p.width
    max_obj = p.len40 * (p.max_block_rows * (p.width + p.side_gap))
    cand = _candidates(labels, n, sm, g, p, unit, max_obj)
    if cand.size == 0:
        return []
    bgs = _background_colours(labels, n, sm, g, max_obj)
    # which window edges are cuts inside the raster (objects touching them are seen whole by a neighbour)
    cx0, cy0, cx1, cy1 = block.core
    cut_l, cut_t = block.x0 < cx0, block.y0 < cy0
    cut_r, cut_b = block.x0 + w > cx1, block.y0 + h > cy1
    slices = ndimage.find_objects(labels)
    any_done = bool(done.any())     # nothing is done before the first segmentation's sure finds
    grey_only = sm.shape[0] == 1
    out = []
    for lab in cand:
        sl = slices[lab - 1]
        if sl is None:
            continue
        ys, xs = sl
        if (cut_l and xs.start == 0) or (cut_t and ys.start == 0) or (cut_r and xs.stop == w) or (cut_b and ys.stop == h):
            continue
        m = labels[sl] == lab
        rr, cc = np.nonzero(m)
        npx = rr.size
        if any_done and _avg(done[sl][m]) > 0.6:
            continue
        fy, fx = _avg(rr), _avg(cc)
        dy, dx = rr - fy, cc - fx
        cyy, cxx, cxy = _avg(dy * dy), _avg(dx * dx), _avg(dx * dy)
        theta = 0.5 * math.atan2(2 * cxy, cxx - cyy)
        ct, st = math.cos(theta), math.sin(theta)
        u = dx * ct + dy * st
        v = -dx * st + dy * ct
        lu = math.sqrt(12 * _avg(u * u) + 1)
        lv = math.sqrt(12 * _avg(v * v) + 1)
        col = np.array([_avg(c) for c in sm[(slice(None),) + sl][:, m]])
        if not (0.6 < npx / (lu * lv) < 1.4):
            if DEBUG is not None:
                DEBUG.append(('moments', lab, fx + xs.start, fy + ys.start, npx / (lu * lv), 0, lu * g, lv * g))
            continue
        if col.size == 1:
            col = np.repeat(col, 3)
        # contrast with the ground: shadows and painted slots are ground-coloured or dark+grey
        lum_r = float(_avg(col))
        chroma = float(col.max() - col.min())
        dist_bg = min((float(_avg(np.abs(col - (np.repeat(b, 3) if b.size == 1 else b)))) for b in bgs), default=1.0)
        bg_l = float(np.mean(bgs[0])) if bgs else 0.3
        # painted slots: ground-coloured. In grey, though, roofs of the ground's grey are common
        # (outlined by seams and shadows): there the confidence model weighs their contrast
        if not grey_only and dist_bg < 0.045 - 0.03 * sens:
            if DEBUG is not None:
                DEBUG.append(('ground', lab, fx + xs.start, fy + ys.start, dist_bg, 0, lu * g, lv * g))
            continue
        if grey_only:   # in grey a dark roof is told from a shadow by the shadow it casts
            shadow = lum_r < 0.55 * bg_l and not (sun is not None and _stands_up(
                sm[0], labels, lab, rr + ys.start, cc + xs.start, sun, g, lum_r))
        else:
            shadow = lum_r < 0.75 * bg_l and chroma < 0.06 + 0.3 * lum_r
        if shadow:
            if DEBUG is not None:
                DEBUG.append(('shadow', lab, fx + xs.start, fy + ys.start, lum_r, chroma, lu * g, lv * g))
            continue    # a shadow
        # a roof is smooth inside: stripes (zebra crossings, slatted decks) are not containers
        texture = float(_avg(grad[sl][m])) / max(0.05, dist_bg + 0.02)
        if texture > TUNE['texture_grey' if grey_only else 'texture']:
            if DEBUG is not None:
                DEBUG.append(('texture', lab, fx + xs.start, fy + ys.start, texture, dist_bg, lu * g, lv * g))
            continue
        if min(lu, lv) * g < 0.55 * p.width or max(lu, lv) * g < 0.55 * p.len20:
            if DEBUG is not None:
                DEBUG.append(('small', lab, fx + xs.start, fy + ys.start, 0, 0, lu * g, lv * g))
            continue
        du, dv, lu2, lv2, (us, vs, smp) = _refine(sm, None, fx + xs.start, fy + ys.start, ct, st, lu, lv, 1.2 / g)
        lumg = smp.mean(axis=0)
        # how well the region fills its refined rectangle, and how much leaks out of it
        uu, vv = u - du, v - dv
        inside = (np.abs(uu) <= lu2 / 2 + 0.5) & (np.abs(vv) <= lv2 / 2 + 0.5)
        cover = inside.sum() / max(1.0, lu2 * lv2)
        leak = 1.0 - _avg(inside)
        fill = min(cover, 1.0)
        if cover < 0.7 - 0.1 * sens or leak > 0.3:
            if DEBUG is not None:
                DEBUG.append(('shape', lab, fx + xs.start, fy + ys.start, cover, leak, lu2 * g, lv2 * g))
            continue
        # the region's rectangle in its own (u, v) frame, px
        rect = (du - lu2 / 2, du + lu2 / 2, dv - lv2 / 2, dv + lv2 / 2)
        cells = _cells(rect, us, vs, lumg, g, p, sens, grey_only)
        if not cells and TUNE['area_fallback']:
            cells = _area_cell(rect, g, p, fill)
        if not cells:
            if DEBUG is not None:
                DEBUG.append(('fit', lab, fx + xs.start, fy + ys.start, fill, leak, max(lu2, lv2) * g, min(lu2, lv2) * g))
            continue
        ox, oy = fx + xs.start, fy + ys.start
        shown = col ** (1 / TUNE['grey_gamma']) if grey_only else col   # the output's linear grey
        for (u0, u1, v0, v1), fit, seamless in cells:
            cls, rows, ul, score, along_u = fit
            uc, vc = (u0 + u1) / 2, (v0 + v1) / 2
            cx = ox + uc * ct - vc * st
            cy = oy + uc * st + vc * ct
            if along_u:      # container length along u
                L_m, W_m, ang = (u1 - u0) * g, (v1 - v0) * g, theta
            else:
                L_m, W_m, ang = (v1 - v0) * g, (u1 - u0) * g, theta + math.pi / 2
            x = (score, fill, leak, dist_bg, lum_r, chroma, texture, math.log(rows), float(seamless),
                 math.log(len(cells)), g) + _side_contrast((u0, u1, v0, v1), us, vs, smp, g)
            conf = _confidence(x)
            if conf < min_conf:
                if DEBUG is not None:
                    DEBUG.append(('conf', lab, fx + xs.start, fy + ys.start, conf, rows, L_m, W_m))
                continue
            out.append(_record(cx, cy, L_m, W_m, ang, g, cls, rows, shown, conf))
            if FEATURES:
                out[-1]['_x'] = x
    return out


def _shadow_direction(lum, valid, g):
    """Unit vector (x, y in pixels) in which shadows fall in a grey block, or None: the
    direction in which dark pixels most often lie 1.5-3 m beyond bright ones (and not before)."""
    bg = float(np.median(lum[valid])) if valid.any() else 0.0
    if bg <= 0:
        return None
    bright = (lum > 1.3 * bg) & valid
    dark = (lum < 0.7 * bg) & valid
    nb = int(bright.sum())
    h, w = lum.shape
    best, vec = 0, None
    for ang in np.arange(16) * (np.pi / 16):
        score = 0
        for k in (1.5 / g, 3.0 / g):
            dx, dy = int(round(k * math.cos(ang))), int(round(k * math.sin(ang)))
            # bright at (y, x) and dark at (y + dy, x + dx), minus the same the other way
            a = (slice(max(0, -dy), h - max(0, dy)), slice(max(0, -dx), w - max(0, dx)))
            b = (slice(max(0, dy), h + min(0, dy)), slice(max(0, dx), w + min(0, dx)))
            score += int((bright[a] & dark[b]).sum()) - int((bright[b] & dark[a]).sum())
        if abs(score) > abs(best):
            best, vec = score, np.sign(score) * np.array([math.cos(ang), math.sin(ang)])
    return vec if abs(best) > TUNE['sun_min'] * nb else None


def _stands_up(lum, labels, lab, rr, cc, sun, g, own):
    """Whether a dark region stands up (a dark roof) rather than lies flat (a shadow), given
    the direction ``sun`` in which shadows fall: just beyond it that way lies something no
    brighter than itself (its own shadow), where beyond a shadow lies brighter ground."""
    h, w = lum.shape
    k = TUNE['cast_m'] / g
    y = np.clip(np.rint(rr + k * sun[1]).astype(int), 0, h - 1)
    x = np.clip(np.rint(cc + k * sun[0]).astype(int), 0, w - 1)
    out = labels[y, x] != lab
    return out.sum() >= 3 and float(np.mean(lum[y[out], x[out]])) < own + TUNE['cast_abs']


def _join_halves(dets, g, p):
    """Two 20 ft detections of the same colour, end to end on one axis with no gap between
    them, are one 40 ft roof cut in two (by a crane's shadow, a dirt line): join them. Real
    pairs of 20 ft boxes stand with a visible gap and stay apart."""
    idx = [i for i, d in enumerate(dets) if d['size_class'] == '20ft']
    if len(idx) < 2:
        return dets
    from scipy.spatial import cKDTree
    cen = np.array([np.mean(dets[i]['corners'], axis=0) for i in idx])
    ang = np.radians([dets[i]['angle_deg'] for i in idx])
    rgb = np.array([[dets[i]['r'], dets[i]['g'], dets[i]['b']] for i in idx], dtype=float)
    pairs = cKDTree(cen).query_pairs((p.len20 + 0.5) / g)
    used, joined = set(), []
    for a, b in sorted(pairs, key=lambda ab: np.hypot(*(cen[ab[0]] - cen[ab[1]]))):
        if a in used or b in used:
            continue
        da = abs((ang[a] - ang[b] + np.pi / 2) % np.pi - np.pi / 2)
        if da > np.radians(6) or np.abs(rgb[a] - rgb[b]).mean() > 12:
            continue
        d = cen[b] - cen[a]
        # the image y axis points down: angle_deg was measured clockwise (negated)
        axis = np.array([np.cos(-ang[a]), np.sin(-ang[a])])
        along, across = abs(d @ axis), abs(d[0] * axis[1] - d[1] * axis[0])
        if across * g > 0.6 or abs(along * g - (p.len20 + 0.05)) > 0.3:
            continue
        used.update((a, b))
        da_, db_ = dets[idx[a]], dets[idx[b]]
        c = (cen[a] + cen[b]) / 2
        L = along + (da_['length_m'] + db_['length_m']) / 2 / g
        W = (da_['width_m'] + db_['width_m']) / 2 / g
        col = np.array([(da_[k] + db_[k]) / 2 / 255.0 for k in ('r', 'g', 'b')])
        conf = min(da_['confidence'], db_['confidence'])
        joined.append(_record(c[0] - 0.5, c[1] - 0.5, L * g, W * g, -ang[a], g, '40ft', 1, col, conf))
    if not joined:
        return dets
    drop = {idx[i] for i in used}
    return [d for i, d in enumerate(dets) if i not in drop] + joined


def count_containers(raster, params=None, aoi=None, progress=None, cancelled=None):
    """Count containers over a core Raster (optionally inside an Aoi). Returns dicts with
    ``geometry`` (4 map corners) and the output fields; raises RasterError for rasters too
    coarse to see containers, Cancelled when ``cancelled()`` turns true."""
    p = params or ContainerParams()
    check_gsd(raster.gsd)
    overlap = int(math.ceil(p.overlap_m / raster.gsd))
    with _bounded_gdal_cache(96 << 20):
        found = scan(raster, lambda b: detect_containers(b, p), overlap=overlap, block=p.block_px, aoi=aoi,
                     progress=progress, cancelled=cancelled)
    return found


@contextlib.contextmanager
def _bounded_gdal_cache(limit):
    """Cap GDAL's block cache (default 5 % of RAM) while streaming, so memory stays bounded:
    each block is read once, so a large cache buys little."""
    old = gdal.GetCacheMax()
    if old > limit:
        gdal.SetCacheMax(limit)
    try:
        yield
    finally:
        if old > limit:
            gdal.SetCacheMax(old)


def summarise(detections):
    """(containers, teu) totals of a detection list."""
    return sum(d['containers'] for d in detections), sum(d['teu'] for d in detections)
