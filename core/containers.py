"""Shipping-container detection and counting on very-high-resolution imagery (0.15-0.8 m).

Method (per overlapping block of the raster, at its own ground resolution):

1. Light Gaussian smoothing; a colour gradient (sum of per-band Sobel magnitudes) and a
   dark-line filter (black top-hat: seams between touching containers, gaps between bays).
2. "Homogeneous interiors" = pixels with a low gradient and no dark line, whose thresholds
   follow the block's own noise level. Their connected regions are roofs: one container, a
   block of touching containers whose seams are not resolved, ground, buildings, shadows.
3. Every other pixel joins the nearest interior region (within ~2 px): region borders then
   sit half-way across the edges, i.e. on the true outlines.
4. Each region of plausible size gets an oriented rectangle from its second moments (PCA),
   a fill ratio (rectangularity), its mean colour and its contrast with the surrounding
   ground. It is kept when its length fits an ISO 20 ft or 40 ft container and its width a
   whole number of container widths (2.44 m); a width of k > 1 widths is a *block* of k
   touching containers. Shadows (dark, colourless), ground patches inside painted slot lines
   (ground-coloured), cars (too short), trucks/trailers (too long), cranes and markings (too
   thin) and roofs (wrong size, not rectangular) are rejected.

The public API (used by other detectors, keep the names): :class:`ContainerParams`,
:func:`detect_containers`, :func:`count_containers`, :data:`MIN_GSD`, :data:`MAX_GSD`,
:func:`check_gsd`.
"""
import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from .colour import colour_name
from .raster import RasterError, scan

MIN_GSD = 0.15   # m/pixel: finer imagery should be resampled (containers would be > 16 px wide)
DEBUG = None
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
    min_confidence: float = 0.2
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
TUNE = {'e0': 0.03, 'ek': 3.0, 'd0': 0.03, 'dk': 4.0, 'sigma_m': 0.3, 'rho': 0.35, 'grow': 2.0}


def _features(data, gsd):
    """Smoothed bands, luminance, colour gradient magnitude and dark-line strength."""
    sigma = min(1.5, max(0.6, TUNE['sigma_m'] / gsd))
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
    size = 3 if gsd >= 0.42 else 5
    dark = ndimage.grey_closing(lum, size=(size, size))
    dark -= lum
    return sm, lum, grad, dark


def _noise_level(grad, valid):
    v = grad[valid]
    if v.size > 200000:
        v = v[:: v.size // 200000]
    return float(np.median(v)) if v.size else 0.01


def segment(data, valid, gsd, sensitivity=0.5):
    """Partition the block into homogeneous regions; returns (labels int32, n, sm, lum, grad).

    Interior seeds: pixels with a low colour gradient (absolute, following the block's noise
    level, or relative to the strongest edge nearby so that narrow roofs between two edges
    still get a seed) and no dark line. Seeds then grow by watershed on the gradient, so
    region borders land on the edge ridges, i.e. on the true outlines."""
    sm, lum, grad, dark = _features(data, gsd)
    noise = _noise_level(grad, valid)
    k = 1.0 - 0.6 * (sensitivity - 0.5)
    t_edge = max(TUNE['e0'] * k, TUNE['ek'] * noise)
    t_dark = max(TUNE['d0'] * k, TUNE['dk'] * noise)
    local_max = ndimage.maximum_filter(grad, size=5)
    interior = grad < np.maximum(t_edge, TUNE['rho'] * local_max)
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
    # every other pixel joins the nearest seed region, up to a couple of pixels away
    dist, (iy, ix) = ndimage.distance_transform_edt(labels == 0, return_indices=True)
    full = labels[iy, ix]
    full[(dist > TUNE['grow']) | ~valid] = 0
    return full, n, sm, lum, grad


# ------------------------------------------------------------------------------------------------
# Region analysis
# ------------------------------------------------------------------------------------------------
def _fit(length, width, p, gsd, sens):
    """Best ISO interpretation of a (length >= width) rectangle in metres:
    (size_class, rows, unit_length, score 0..1) or None."""
    best = None
    tol_l = max(0.09 + 0.04 * sens, 1.3 * gsd / 12.0)
    for axis_len, axis_w in ((length, width), (width, length)):
        for cls, ul in (('20ft', p.len20), ('40ft', p.len40)):
            el = abs(axis_len - ul) / (ul * max(tol_l, 1.3 * gsd / ul))
            if el > 1:
                continue
            rows = int(round((axis_w + p.side_gap) / (p.width + p.side_gap)))
            if rows < 1 or rows > p.max_block_rows:
                continue
            expect = rows * p.width + (rows - 1) * p.side_gap
            tol_w = max(0.42 + 0.15 * sens, 0.75 * gsd) + 0.06 * (rows - 1)
            tol_w = min(tol_w, 0.48 * (p.width + p.side_gap))
            ew = abs(axis_w - expect) / tol_w
            if ew > 1:
                continue
            score = 1 - 0.5 * (el ** 2 + ew ** 2)
            if best is None or score > best[3]:
                best = (cls, rows, ul, score)
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


def _edge_pos(prof, centre_idx, lo_idx, hi_idx, step):
    """Half-contrast crossing of a colour-distance profile going out from ``centre_idx``
    between ``lo_idx`` and ``hi_idx`` (the search zone): sub-sample position or None."""
    seg = prof[lo_idx:hi_idx] if hi_idx > lo_idx else prof[hi_idx:lo_idx][::-1]
    if seg.size < 2:
        return None
    inside = float(prof[centre_idx])
    outside = float(seg.max())
    if outside - inside < 0.04:
        return None
    half = (inside + outside) / 2
    above = np.nonzero(seg >= half)[0]
    if above.size == 0:
        return None
    j = int(above[0])
    if j == 0:
        return 0.0
    a, b = seg[j - 1], seg[j]
    return (j - 1 + (half - a) / (b - a + 1e-9))


def _refine(sm, col, fx, fy, ct, st, lu, lv, margin=3.0, step=0.5):
    """Refine an oriented rectangle (centre fx, fy; axes (ct, st) and (-st, ct); sizes lu, lv
    in px) from colour-distance profiles across and along it: edges at half contrast.
    Returns (du, dv, lu, lv): centre shift along the axes and the refined sizes."""
    nu = int((lu / 2 + margin) / step)
    nv = int((lv / 2 + margin) / step)
    us = np.arange(-nu, nu + 1) * step
    vs = np.arange(-nv, nv + 1) * step
    U, V = np.meshgrid(us, vs)
    X = fx + U * ct - V * st
    Y = fy + U * st + V * ct
    d = np.zeros(U.shape, dtype=np.float32)
    for i in range(sm.shape[0]):
        smp = ndimage.map_coordinates(sm[i], [Y.ravel(), X.ravel()], order=1, mode='nearest').reshape(U.shape)
        d += (smp - col[i]) ** 2
    d = np.sqrt(d / sm.shape[0])
    cu = np.abs(us) <= max(1.0, 0.3 * lu)
    cv = np.abs(vs) <= max(0.75, 0.3 * lv)
    pv = d[:, cu].mean(axis=1)    # across profile (function of v)
    pu = d[cv, :].mean(axis=0)    # along profile (function of u)
    out = []
    for prof, half, n in ((pu, lu / 2, nu), (pv, lv / 2, nv)):
        inner = max(0, int((half - 2.5) / step))
        lo = n + inner
        e_hi = _edge_pos(prof, n, lo, 2 * n + 1, step)
        e_lo = _edge_pos(prof, n, n - inner, -1 if n - inner - 1 < 0 else 0, step)
        hi_pos = (lo + e_hi) * step - n * step if e_hi is not None else half
        lo_pos = -((inner + e_lo) * step) if e_lo is not None else -half
        out.append((hi_pos, lo_pos))
    (uh, ul), (vh, vl) = out
    return (uh + ul) / 2, (vh + vl) / 2, uh - ul, vh - vl


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
    labels, n, sm, lum, grad = segment(data, valid, g, sens)
    if n == 0:
        return []
    h, w = labels.shape
    unit = p.len20 * p.width
    max_obj = p.len40 * (p.max_block_rows * (p.width + p.side_gap))
    sizes = np.bincount(labels.ravel(), minlength=n + 1) * (g * g)
    cand = np.nonzero((sizes >= 0.5 * unit) & (sizes <= 1.25 * max_obj))[0]
    cand = cand[cand > 0]
    if cand.size == 0:
        return []
    bgs = _background_colours(labels, n, sm, g, max_obj)
    # which window edges are cuts inside the raster (objects touching them are seen whole by a neighbour)
    cx0, cy0, cx1, cy1 = block.core
    cut_l, cut_t = block.x0 < cx0, block.y0 < cy0
    cut_r, cut_b = block.x0 + w > cx1, block.y0 + h > cy1
    slices = ndimage.find_objects(labels)
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
        fy, fx = rr.mean(), cc.mean()
        dy, dx = rr - fy, cc - fx
        cyy, cxx, cxy = (dy * dy).mean(), (dx * dx).mean(), (dx * dy).mean()
        theta = 0.5 * math.atan2(2 * cxy, cxx - cyy)
        ct, st = math.cos(theta), math.sin(theta)
        u = dx * ct + dy * st
        v = -dx * st + dy * ct
        lu = math.sqrt(12 * (u * u).mean() + 1)
        lv = math.sqrt(12 * (v * v).mean() + 1)
        ext_u = u.max() - u.min() + 1
        ext_v = v.max() - v.min() + 1
        fill = npx / (ext_u * ext_v)
        rect = npx / (lu * lv)
        if fill < 0.72 - 0.1 * sens or not (0.85 < rect < 1.15):
            if DEBUG is not None:
                DEBUG.append(('shape', lab, fx + xs.start, fy + ys.start, fill, rect, lu * g, lv * g))
            continue
        col = np.array([sm[i][sl][m].mean() for i in range(sm.shape[0])])
        du, dv, lu, lv = _refine(sm, col, fx + xs.start, fy + ys.start, ct, st, lu, lv)
        fx, fy = fx + du * ct - dv * st, fy + du * st + dv * ct
        # sizes in metres (long axis first)
        if lu >= lv:
            L_m, W_m, ang = lu * g, lv * g, theta
        else:
            L_m, W_m, ang = lv * g, lu * g, theta + math.pi / 2
        fit = _fit(L_m, W_m, p, g, sens)
        if fit is None:
            if DEBUG is not None:
                DEBUG.append(('fit', lab, fx + xs.start, fy + ys.start, fill, rect, L_m, W_m))
            continue
        cls, rows, ul, score = fit
        if col.size == 1:
            col = np.repeat(col, 3)
        # contrast with the ground: shadows and painted slots are ground-coloured or dark+grey
        lum_r = float(col.mean())
        chroma = float(col.max() - col.min())
        dist_bg = min((float(np.abs(col - (np.repeat(b, 3) if b.size == 1 else b)).mean()) for b in bgs), default=1.0)
        bg_l = float(np.mean(bgs[0])) if bgs else 0.3
        min_contrast = 0.045 - 0.03 * sens
        if dist_bg < min_contrast:
            continue
        if lum_r < 0.75 * bg_l and chroma < 0.06 + 0.3 * lum_r:
            continue    # a shadow
        # texture: a container roof is smooth inside (corrugation is fine-grained)
        inner = float(grad[sl][m].mean())
        # geometry in block pixel coordinates (col, row) of the oriented rectangle
        cx, cy = fx + xs.start, fy + ys.start
        half_l, half_w = L_m / g / 2, W_m / g / 2
        ca, sa = math.cos(ang), math.sin(ang)
        cx, cy = float(cx), float(cy)
        corners = [(cx + su * half_l * ca - sv * half_w * sa + 0.5, cy + su * half_l * sa + sv * half_w * ca + 0.5)
                   for su, sv in ((-1, -1), (1, -1), (1, 1), (-1, 1))]
        conf = max(0.0, min(1.0, 0.35 + 0.45 * score + 0.2 * min(1.0, dist_bg / 0.15)
                           - 0.15 * max(0.0, 0.9 - fill) / 0.2))
        if conf < p.min_confidence:
            continue
        teu_unit = 1 if cls == '20ft' else 2
        out.append({
            'corners': corners,
            'size_class': cls if rows == 1 else 'block',
            'length_m': round(float(L_m), 2), 'width_m': round(float(W_m), 2),
            'containers': int(rows), 'teu': int(rows * teu_unit),
            'colour': colour_name(*col[:3]),
            'r': int(round(255 * col[0])), 'g': int(round(255 * col[1])), 'b': int(round(255 * col[2])),
            'confidence': round(float(conf), 3),
            'angle_deg': round(float(math.degrees(-ang) % 180.0), 1),
            'texture': round(float(inner), 4),
        })
    return out


def count_containers(raster, params=None, aoi=None, progress=None, cancelled=None):
    """Count containers over a core Raster (optionally inside an Aoi). Returns dicts with
    ``geometry`` (4 map corners) and the output fields; raises RasterError for rasters too
    coarse to see containers, Cancelled when ``cancelled()`` turns true."""
    p = params or ContainerParams()
    check_gsd(raster.gsd)
    overlap = int(math.ceil(p.overlap_m / raster.gsd))
    found = scan(raster, lambda b: detect_containers(b, p), overlap=overlap, block=p.block_px, aoi=aoi,
                 progress=progress, cancelled=cancelled)
    for d in found:
        d.pop('texture', None)
    return found


def summarise(detections):
    """(containers, teu) totals of a detection list."""
    return sum(d['containers'] for d in detections), sum(d['teu'] for d in detections)
