"""Storage-pit (open earthen revetment) detection on optical imagery.

What a pit looks like from above: a rectangle of disturbed ground, roughly 6-40 m a
side, with raised berms on three sides (bare soil, a sunlit and a shaded slope), a lower
floor (moist soil, and the shadow cast by the berm on the sun's side), open at one end
for the vehicles, and a shadow outside the berm on the sun's far side.

Method, per block of :func:`core.raster.scan` (the block is averaged down so the
smallest pit spans ~12 working pixels):

1. Maps: a robust ground model (median over ~2x the largest pit, coarse grid); berm-scale
   structure ``P`` (band-pass difference of Gaussians of the colour image, in units of
   its 30th percentile, so plain ground ~1 whatever the sensor, band count or dtype);
   colour distance to the ground ``D``; signed brightness ``Z``; bareness ``B`` (loss of
   green against the ground; zero on grey images).
2. Orientations: the dominant rectangle orientations (mod 90 deg) of the gradient
   structure, up to three.
3. Box matched filter: in each orientation (image rotated so boxes are axis aligned),
   every box of the allowed sizes (ratio 1.28 steps, aspect <= 3.5) is scored at 1 m
   spacing from integral images: three strongest sides' structure, a plain floor, an open
   end weaker than the berms, floor colour unlike the ground. Local maxima are candidates.
4. Refinement and classification: each candidate's size and position are refined, then a
   small boosted-tree model (core.pit_model, fitted by bench/train_pits.py on generated
   depot scenes) scores 15 box features (side/floor/outside structure, brightness and
   colour, bareness, size, aspect) as log-odds of "pit". ``confidence`` = sigmoid of it.
5. Non-maximum suppression on covered pixels (a berm belongs to one pit).
6. ``fresh_soil`` (0-1): bright, bare (not green) footprint against the ground = freshly
   dug; grassed-over old pits score low.

Limits: tuned and validated on generated scenes only (see the README table); elongated
pits and grassed-over old pits are the most often missed; pits touching each other or a
road can merge; roofed revetments, pits under trees or snow are not seen.
"""
import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from .errors import CargoWatchError
from .raster import scan

SIGNED = False
LOGIT0 = 1.0
NMS = 0.1
PREFILTER = True
FIELDS = ('length_m', 'width_m', 'area_m2', 'orientation_deg', 'fresh_soil', 'confidence')


@dataclass
class PitParams:
    min_size: float = 6.0       # metres, shortest side of the smallest pit
    max_size: float = 40.0      # metres, longest side of the largest pit
    sensitivity: float = 0.5    # 0 (only clear pits) .. 1 (faint, grassed-over ones too)

    def check(self):
        if not (self.min_size > 0 and self.max_size > self.min_size):
            raise CargoWatchError(f'The pit size range {self.min_size:g}-{self.max_size:g} m is not valid: '
                                  'the minimum must be positive and smaller than the maximum.')
        if self.max_size > 500:
            raise CargoWatchError('Storage pits larger than 500 m a side are not plausible: check the size range.')
        if not 0.0 <= self.sensitivity <= 1.0:
            raise CargoWatchError('Sensitivity must be between 0 and 1.')
        return self

    @property
    def threshold(self):
        """Minimum box score (berm brightness minus floor, in ground-contrast units)."""
        return -2.0

    @property
    def logit_threshold(self):
        """Minimum learned score (log-odds of being a pit)."""
        return LOGIT0 + 1.5 - 3.0 * self.sensitivity

    @property
    def min_berm(self):
        """The third-brightest side must be at least this much brighter than the ground."""
        return -5.0


def working_factor(gsd, params):
    """Integer down-sampling factor so the smallest pit spans ~12 working pixels."""
    return max(1, int(math.floor(params.min_size / 12.0 / gsd)))


def pit_overlap(gsd, params):
    """Block overlap (pixels) so a pit whose centre is in a block's core lies wholly in
    the block, with enough surrounding ground for its measurements."""
    return int(math.ceil((0.72 * params.max_size + 14.0) / gsd))


def _downsample(a, f):
    if f == 1:
        return a
    h, w = a.shape[-2] // f * f, a.shape[-1] // f * f
    a = a[..., :h, :w]
    return a.reshape(a.shape[:-2] + (h // f, f, w // f, f)).mean(axis=(-3, -1))


def _background(img, valid, gsd, window_m):
    """Robust ground level per band: median over ``window_m`` on a ~4 m coarse grid."""
    nb, h, w = img.shape
    k = max(1, int(round(4.0 / gsd)))
    k = min(k, max(1, min(h, w) // 8))
    hc, wc = h // k * k, w // k * k
    out = np.empty_like(img)
    vmask = valid[:hc, :wc].reshape(hc // k, k, wc // k, k).mean(axis=(1, 3)) > 0.5
    size = max(3, int(round(window_m / (gsd * k))) | 1)
    for b in range(nb):
        c = img[b, :hc, :wc].reshape(hc // k, k, wc // k, k).mean(axis=(1, 3))
        if vmask.any():
            c = np.where(vmask, c, np.median(c[vmask]))
        med = ndimage.median_filter(c, size=size, mode='reflect')
        up = ndimage.zoom(med, (hc / med.shape[0], wc / med.shape[1]), order=1, mode='nearest')
        full = np.empty((h, w), np.float32)
        full[:hc, :wc] = up[:hc, :wc]
        if hc < h:
            full[hc:, :wc] = full[hc - 1:hc, :wc]
        if wc < w:
            full[:, wc:] = full[:, wc - 1:wc]
        out[b] = full
    return out


def _orientations(lum, valid, g, maxn=3):
    """Dominant rectangle orientations (degrees, mod 90) from the gradient structure."""
    sm = ndimage.gaussian_filter(lum, max(0.7, 0.8 / g))
    gy, gx = np.gradient(sm)
    mag = (gx * gx + gy * gy) * valid
    ang = np.degrees(np.arctan2(gy, gx)) % 90.0
    hist = np.bincount((ang.ravel() // 2).astype(int) % 45, weights=mag.ravel(), minlength=45)
    hist = ndimage.gaussian_filter1d(hist, 1.0, mode='wrap')
    peaks = [i for i in range(45) if hist[i] >= hist[i - 1] and hist[i] >= hist[(i + 1) % 45]]
    peaks.sort(key=lambda i: -hist[i])
    top = hist[peaks[0]] if peaks else 0
    out = []
    for i in peaks:
        if len(out) >= maxn or hist[i] < 0.35 * top:
            break
        # refine the peak by a parabola through its neighbours
        y0, y1, y2 = hist[i - 1], hist[i], hist[(i + 1) % 45]
        d = 0.5 * (y0 - y2) / (y0 - 2 * y1 + y2) if (y0 - 2 * y1 + y2) != 0 else 0.0
        out.append(((i + 0.5 + d) * 2.0) % 90.0)
    return out or [0.0]


def _rotate(a, deg, cval=0.0):
    """Rotate ``a`` by ``deg`` (counter-clockwise on screen) about its centre into a
    bigger canvas; returns the image and the matrix/offsets mapping back."""
    h, w = a.shape
    t = math.radians(deg)
    c, s = math.cos(t), math.sin(t)
    H = int(math.ceil(abs(h * c) + abs(w * s)))
    W = int(math.ceil(abs(w * c) + abs(h * s)))
    # output (row, col) -> input (row, col): in = R (out - co) + ci
    R = np.array([[c, -s], [s, c]])
    co = np.array([(H - 1) / 2, (W - 1) / 2])
    ci = np.array([(h - 1) / 2, (w - 1) / 2])
    off = ci - R @ co
    out = ndimage.affine_transform(a, R, offset=off, output_shape=(H, W), order=1, cval=cval)
    return out, R, off


def _sizes(lo, hi, ratio=1.28):
    out = [lo]
    while out[-1] * ratio < hi:
        out.append(out[-1] * ratio)
    out.append(hi)
    return out


def _rsum(I, rc, cc, y0, y1, x0, x1):
    """Mean over the box rows rc+[y0, y1) x cols cc+[x0, x1) from integral image ``I``."""
    H1, W1 = I.shape[0] - 1, I.shape[1] - 1
    r0 = np.minimum(np.maximum(rc + y0, 0), H1)[:, None]      # (np.clip is slow on tiny arrays)
    r1 = np.minimum(np.maximum(rc + y1, 0), H1)[:, None]
    c0 = np.minimum(np.maximum(cc + x0, 0), W1)[None, :]
    c1 = np.minimum(np.maximum(cc + x1, 0), W1)[None, :]
    return (I[r1, c1] - I[r0, c1] - I[r1, c0] + I[r0, c0]) / max(1, (y1 - y0) * (x1 - x0))


def _box_scores(IE, ID, rc, cc, hx, hy, t):
    """Score of an axis-aligned pit hypothesis (half sizes hx, hy, berm band t, pixels)
    centred at rows rc x cols cc. ``IE``: integral of berm-scale structure; ``ID``:
    integral of the colour distance to the surrounding ground. Returns
    (score, third-best side, floor structure, floor difference, side means (4, ...))."""
    ti = int(round(t * 1.25))
    sides = np.stack([
        _rsum(IE, rc, cc, -hy + t, hy - t, -hx, -hx + t),
        _rsum(IE, rc, cc, -hy + t, hy - t, hx - t, hx),
        _rsum(IE, rc, cc, -hy, -hy + t, -hx + t, hx - t),
        _rsum(IE, rc, cc, hy - t, hy, -hx + t, hx - t),
    ])
    floor = _rsum(IE, rc, cc, -hy + ti, hy - ti, -hx + ti, hx - ti)
    fdiff = _rsum(ID, rc, cc, -hy + ti, hy - ti, -hx + ti, hx - ti)
    srt = np.sort(sides, axis=0)
    top3 = srt[1:].mean(axis=0)
    third = srt[1]
    # a pit's open end is weaker than its three berms; a roof outline is closed
    closed = np.maximum(0.0, srt[0] - 0.8 * third)
    if SIGNED:
        score = 0.5 * top3 + 0.5 * third - 1.0 * floor - 0.5 * closed + 0.5 * np.minimum(fdiff, 3.0)
    else:
        score = 0.5 * top3 + 0.5 * third - 1.5 * floor - 0.5 * closed + 0.8 * np.minimum(fdiff, 3.0)
    return score, third, floor, fdiff, sides


def _grid_scores(Ip, M, rc0, stride, nr, nc, ID_p, hx, hy, t):
    """:func:`_box_scores` on the whole regular grid of centres (rows rc0 + k*stride), from
    integral images padded by ``M`` on every side: strided views instead of gathers."""
    def rs(I, y0, y1, x0, x1):
        a0, a1 = rc0 + M + y0, rc0 + M + y1
        b0, b1 = rc0 + M + x0, rc0 + M + x1
        sl = lambda a, b: I[a:a + stride * nr:stride, b:b + stride * nc:stride]
        return (sl(a1, b1) - sl(a0, b1) - sl(a1, b0) + sl(a0, b0)) * (1.0 / max(1, (y1 - y0) * (x1 - x0)))
    ti = int(round(t * 1.25))
    s0 = rs(Ip, -hy + t, hy - t, -hx, -hx + t)
    s1 = rs(Ip, -hy + t, hy - t, hx - t, hx)
    s2 = rs(Ip, -hy, -hy + t, -hx + t, hx - t)
    s3 = rs(Ip, hy - t, hy, -hx + t, hx - t)
    floor = rs(Ip, -hy + ti, hy - ti, -hx + ti, hx - ti)
    fdiff = rs(ID_p, -hy + ti, hy - ti, -hx + ti, hx - ti)
    lo01, hi01 = np.minimum(s0, s1), np.maximum(s0, s1)
    lo23, hi23 = np.minimum(s2, s3), np.maximum(s2, s3)
    mn = np.minimum(lo01, lo23)
    second = np.minimum(np.maximum(lo01, lo23), np.minimum(hi01, hi23))
    top3 = (s0 + s1 + s2 + s3 - mn) / 3.0
    closed = np.maximum(0.0, mn - 0.8 * second)
    return 0.5 * top3 + 0.5 * second - 1.5 * floor - 0.5 * closed + 0.8 * np.minimum(fdiff, 3.0)


def _box_pixels(cx, cy, ex, ey, hx, hy, h, w):
    """(rows, cols) of the working-grid pixels inside an oriented box."""
    R = abs(hx) + abs(hy) + 1
    r0, r1 = max(0, int(cy - R)), min(h, int(cy + R) + 1)
    c0, c1 = max(0, int(cx - R)), min(w, int(cx + R) + 1)
    if r1 <= r0 or c1 <= c0:
        return np.zeros(0, int), np.zeros(0, int)
    yy, xx = np.mgrid[r0:r1, c0:c1]
    dy, dx = yy - cy, xx - cx
    u = dy * ex[0] + dx * ex[1]
    v = dy * ey[0] + dx * ey[1]
    m = (np.abs(u) <= hx) & (np.abs(v) <= hy)
    return yy[m], xx[m]


FEATURES = ('box_bare', 'outside_bare', 'outside_colour', 'berm3', 'berm_third', 'side_min', 'floor_structure', 'floor_colour', 'berm_minus_floor_lum',
            'floor_lum', 'outside_structure', 'outside_lum', 'log_area', 'aspect', 'berm_lum_spread')
# logistic-regression weights over FEATURES (+ bias), fitted by bench/train_pits.py on
# generated depot scenes (seeds distinct from the benchmark's), see the README
WEIGHTS = np.array([1.637, 0.5258, 0.7451, -1.442, -0.6584, -0.9115, -0.3578, -1.334, 0.08225, -0.5088, -0.6148, 0.2877, 0.001655])


def _features(IE, ID, IZ, IB, r, c, hx, hy, g):
    """Feature vector of the box (rotated frame) centred at (r, c), half sizes hx, hy."""
    t = int(round(min(max(0.4 * min(hx, hy), 1.5 / g), 4.0 / g)))
    ti = int(round(t * 1.25))
    H1, W1 = IE.shape[0] - 1, IE.shape[1] - 1

    def q(I, y0, y1, x0, x1):
        r0, r1 = min(max(r + y0, 0), H1), min(max(r + y1, 0), H1)
        c0, c1 = min(max(c + x0, 0), W1), min(max(c + x1, 0), W1)
        return float(I[r1, c1] - I[r0, c1] - I[r1, c0] + I[r0, c0]) / max(1, (y1 - y0) * (x1 - x0))
    boxes = [(-hy + t, hy - t, -hx, -hx + t), (-hy + t, hy - t, hx - t, hx),
             (-hy, -hy + t, -hx + t, hx - t), (hy - t, hy, -hx + t, hx - t)]
    se = np.array([q(IE, *b) for b in boxes])
    sz = np.array([q(IZ, *b) for b in boxes])
    order = np.argsort(se)
    fl = (-hy + ti, hy - ti, -hx + ti, hx - ti)
    floor_e, floor_d, floor_z = q(IE, *fl), q(ID, *fl), q(IZ, *fl)
    o = t
    outs = [(-hy, hy, -hx - o, -hx), (-hy, hy, hx, hx + o), (-hy - o, -hy, -hx, hx), (hy, hy + o, -hx, hx)]
    out_e = np.mean([q(IE, *b) for b in outs])
    out_z = np.mean([q(IZ, *b) for b in outs])
    berm_z = sz[order[1:]].mean()
    in_b = q(IB, -hy, hy, -hx, hx)
    out_b = np.mean([q(IB, *b) for b in outs])
    out_d = np.mean([q(ID, *b) for b in outs])
    return np.array([in_b, out_b, out_d, se[order[1:]].mean(), se[order[1]], se[order[0]], floor_e, min(floor_d, 4.0),
                     berm_z - floor_z, floor_z, out_e, out_z, math.log(max(1.0, 4 * hx * hy * g * g)),
                     max(hx, hy) / max(1, min(hx, hy)), float(sz[order[1:]].std())])


def _classify(x):
    """Log-odds of 'pit' from the boosted trees of core.pit_model (depth-2 trees)."""
    from .pit_model import BIAS, TREES
    z = BIAS
    for f0, t0, f1, t1, f2, t2, v in TREES:
        if x[f0] <= t0:
            z += v[0] if x[f1] <= t1 else v[1]
        else:
            z += v[2] if x[f2] <= t2 else v[3]
    return z


def _sigmoid(x):
    return 1.0 / (1.0 + math.exp(-x))


def detect_pits(block, params, debug=None):
    """Pits in one :class:`core.raster.Block` -> list of dicts (``corners`` in block pixels + fields)."""
    f = working_factor(block.gsd, params)
    g = block.gsd * f
    data = _downsample(block.data, f).astype(np.float32)
    valid = _downsample(block.valid.astype(np.float32), f) > 0.5 if f > 1 else block.valid
    nb = data.shape[0]
    h, w = data.shape[1:]
    if h < 8 or w < 8 or valid.sum() < 64:
        return []
    colour = nb >= 3
    cols = data[:3] if colour else data[:1]
    if not valid.all():
        cols = np.where(valid[None], cols, np.median(cols[:, valid], axis=1)[:, None, None])
    lum = cols.mean(axis=0)
    bg = _background(cols, valid, g, window_m=float(np.clip(2.2 * params.max_size, 40, 120)))
    bg_lum = bg.mean(axis=0)
    lum_s = ndimage.gaussian_filter(lum, max(0.6, 0.4 / g))
    dev = lum_s - bg_lum
    dv = dev[valid]
    lscale = float(np.median(np.abs(dv - np.median(dv)))) * 1.4826 + 2e-3
    # berm-scale structure: band-pass (difference of Gaussians) colour magnitude, in
    # units of its typical level. Berms (two slopes), floor edges and cast shadows are
    # narrow (1-5 m) and stand out; field tone changes and sensor grain do not.
    s1, s2 = max(0.7, 0.5 / g), max(2.0, 2.5 / g)
    e2 = np.zeros_like(lum)
    for i in range(cols.shape[0]):
        d_ = ndimage.gaussian_filter(cols[i], s1) - ndimage.gaussian_filter(cols[i], s2)
        e2 += d_ * d_
    E = ndimage.gaussian_filter(np.sqrt(e2), max(0.7, 0.5 / g))
    emed = float(np.percentile(E[valid], 30)) + 1e-4   # plain ground dominates the low percentiles
    P = np.clip(E / emed, 0.0, 8.0) * valid
    Z = np.clip(dev / lscale, -4.0, 4.0) * valid
    is_bare = None
    if colour:
        r_, g_, b_ = cols
        exg = (2 * g_ - r_ - b_) / (r_ + g_ + b_ + 1e-3)
        exg_bg = (2 * bg[1] - bg[0] - bg[2]) / (bg.sum(axis=0) + 1e-3)
        is_bare = exg_bg - exg              # > 0: less green than the surrounding ground
    # colour distance of every pixel to the surrounding ground, in units of its typical level
    dd = np.sqrt(((cols - bg) ** 2).sum(axis=0))
    D = np.clip(dd / (float(np.percentile(dd[valid], 30)) + 1e-4) - 2.0, 0.0, 4.0) * valid
    B = (np.clip(is_bare / 0.1, -3, 3) if is_bare is not None else np.zeros_like(lum)) * valid
    thr = params.threshold
    stride = max(1, int(round(1.0 / g)))
    smin, smax = params.min_size / g, params.max_size / g
    sizes = _sizes(smin, smax)
    combos = [(a, b) for a in sizes for b in sizes if max(a, b) / min(a, b) <= 3.5]
    cap = int(4 * valid.sum() * g * g / params.min_size ** 2 / 9) + 50   # far more than pits can fit
    cands = []
    for phi in _orientations(lum, valid, g):
        frame = []
        for arr in (P, D, valid.astype(np.float32), Z, B):
            rot, R, off = _rotate(arr, -phi)
            I = np.zeros((rot.shape[0] + 1, rot.shape[1] + 1))
            I[1:, 1:] = rot.cumsum(0).cumsum(1)
            frame.append(I)
        IE, ID, IV, IZ, IB = frame
        Hr, Wr = IE.shape[0] - 1, IE.shape[1] - 1
        rc = np.arange(stride // 2, Hr, stride)
        cc = np.arange(stride // 2, Wr, stride)
        M = int(math.ceil(smax * 0.6 + 4.0 / g)) + 2
        Ep = np.pad(IE, M, mode='edge')
        Dp = np.pad(ID, M, mode='edge')
        best = np.full((rc.size, cc.size), -np.inf)
        arg = np.zeros((rc.size, cc.size), int)
        for k, (a, b) in enumerate(combos):
            hx, hy = int(round(a / 2)), int(round(b / 2))
            t = int(round(float(np.clip(0.2 * min(a, b), 1.5 / g, 4.0 / g))))
            sc = _grid_scores(Ep, M, stride // 2, stride, rc.size, cc.size, Dp, hx, hy, t)
            upd = sc > best
            best[upd] = sc[upd]
            arg[upd] = k
        peak = (best == ndimage.maximum_filter(best, size=max(3, int(smin / stride * 0.6) | 1))) & (best > thr - 0.5)
        for i, j in zip(*np.nonzero(peak)):
            cands.append((float(best[i, j]), int(rc[i]), int(cc[j]), combos[arg[i, j]], (IE, ID, IV, IZ, IB, R, off)))
    cands.sort(key=lambda c: -c[0])
    # refine position and size of the strongest candidates on the full working grid
    refined = []
    for sc0, r0, c0, (a0, b0), fr in cands[:cap]:
        IE, ID, IV, IZ, IB, R, off = fr
        if PREFILTER and _classify(_features(IE, ID, IZ, IB, r0, c0, int(round(a0 / 2)), int(round(b0 / 2)), g)) \
                < params.logit_threshold - 3.0:
            continue                      # clearly not a pit: skip the refinement
        bestc = None
        rr = np.arange(r0 - stride, r0 + stride + 1)
        cc_ = np.arange(c0 - stride, c0 + stride + 1)
        for da in (0.86, 0.93, 1.0, 1.08, 1.16):
            for db in (0.86, 0.93, 1.0, 1.08, 1.16):
                a, b = a0 * da, b0 * db
                if not (smin * 0.85 <= min(a, b) and max(a, b) <= smax * 1.1 and max(a, b) / min(a, b) <= 4):
                    continue
                hx, hy = int(round(a / 2)), int(round(b / 2))
                t = int(round(float(np.clip(0.2 * min(a, b), 1.5 / g, 4.0 / g))))
                sc, third, floor, fdiff, sides = _box_scores(IE, ID, rr, cc_, hx, hy, t)
                i, j = np.unravel_index(np.argmax(sc), sc.shape)
                if bestc is None or sc[i, j] > bestc[0]:
                    bestc = (float(sc[i, j]), int(rr[i]), int(cc_[j]), hx, hy, float(third[i, j]),
                             float(fdiff[i, j]), sides[:, i, j].copy())
        if bestc is None or bestc[0] < thr or bestc[5] < params.min_berm:
            continue
        sc, r, c, hx, hy, third, fdiff, sides = bestc
        floor_e = float(_rsum(IE, np.array([r]), np.array([c]), -hy + 3, hy - 3, -hx + 3, hx - 3)[0, 0])
        if False and third < 1.8 * floor_e:          # the floor must be plain next to its berms
            continue
        vfrac = float(_rsum(IV, np.array([r]), np.array([c]), -hy, hy, -hx, hx)[0, 0])
        if vfrac < 0.85:
            continue
        feat = _features(IE, ID, IZ, IB, r, c, hx, hy, g)
        sc = float(_classify(feat))
        refined.append((sc, r, c, hx, hy, third, fdiff, sides, R, off, feat))
    if debug is not None:
        debug.update(P=P, D=D, lscale=lscale, ncand=len(cands), nref=len(refined), rejects=[])
    refined.sort(key=lambda c: -c[0])
    # non-maximum suppression on the pixels the boxes cover: a berm belongs to one pit
    occ = np.zeros((h, w), bool)
    found = []
    for sc, r, c, hx, hy, third, fdiff, sides, R, off, feat in refined:
        if sc < params.logit_threshold:
            continue
        ci = R @ np.array([r, c]) + off
        cyw, cxw = float(ci[0]), float(ci[1])
        ex = R @ np.array([0.0, 1.0])       # box x axis, as (row, col) in the working grid
        ey = R @ np.array([1.0, 0.0])
        pr, pc = _box_pixels(cxw, cyw, ex, ey, hx, hy, h, w)
        if pr.size == 0 or occ[pr, pc].mean() > NMS:
            continue
        occ[pr, pc] = True
        conf = _sigmoid(sc)
        # freshness: the berms (three strongest sides) and floor against the ground
        ri, cj = min(h - 1, max(0, int(round(cyw)))), min(w - 1, max(0, int(round(cxw))))
        inside_l = float(lum_s[pr, pc].mean())
        lift = (inside_l - float(bg_lum[ri, cj])) / max(float(bg_lum[ri, cj]), 0.05)
        fresh = float(np.clip(0.5 + lift / 0.4, 0, 1))
        if is_bare is not None:
            bare = float(np.percentile(is_bare[pr, pc], 75))
            fresh = 0.4 * fresh + 0.6 * float(np.clip(bare / 0.12, 0, 1))
        Lx, Ly = 2 * hx, 2 * hy
        if Lx >= Ly:
            L, W, axis = Lx, Ly, ex
        else:
            L, W, axis = Ly, Lx, ey
        corners = []
        for su, sv in ((-1, -1), (1, -1), (1, 1), (-1, 1)):
            prow = cyw + su * hx * ex[0] + sv * hy * ey[0]
            pcol = cxw + su * hx * ex[1] + sv * hy * ey[1]
            corners.append(((pcol + 0.5) * f, (prow + 0.5) * f))
        angle = math.degrees(math.atan2(-axis[0], axis[1])) % 180.0
        Lm, Wm = L * g, W * g
        found.append(dict(corners=corners, length_m=round(Lm, 2), width_m=round(Wm, 2), area_m2=round(Lm * Wm, 1),
                          orientation_deg=round(angle, 1), fresh_soil=round(fresh, 3), confidence=round(conf, 3),
                          score=round(sc, 3), **({'_feat': feat} if debug is not None else {})))
    return found


def count_pits(raster, params=None, aoi=None, progress=None, cancelled=None, block=1024):
    """Storage pits in ``raster`` (a :class:`core.raster.Raster`), streamed in blocks.

    Returns dicts with ``geometry`` (4 map corners in ``raster.srs_wkt``) and the fields
    length_m, width_m, area_m2, orientation_deg (0-180, counter-clockwise from east, of
    the long side), fresh_soil (0-1) and confidence (0-1)."""
    params = (params or PitParams()).check()
    f = working_factor(raster.gsd, params)
    if params.min_size / (raster.gsd * f) < 4:
        raise CargoWatchError(f'The image resolution ({raster.gsd:.2f} m/pixel) is too coarse to see pits of '
                              f'{params.min_size:g} m: at least ~4 pixels a side are needed '
                              f'(use imagery of {params.min_size / 6:.1f} m/pixel or finer, or raise the minimum size).')
    overlap = pit_overlap(raster.gsd, params)
    blk = max(block, 4 * overlap)
    blk = int(math.ceil(blk / f) * f)
    return scan(raster, lambda b: detect_pits(b, params), overlap=overlap, block=blk, aoi=aoi,
                progress=progress, cancelled=cancelled)
