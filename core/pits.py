"""Storage-pit (open earthen revetment) detection on optical imagery.

What a pit looks like from above: a rectangle of disturbed ground, roughly 6-40 m a
side, with raised berms on three sides (bare soil, a sunlit and a shaded slope), a lower
floor (moist soil, and the shadow cast by the berm on the sun's side), open at one end
for the vehicles, and a shadow outside the berm on the sun's far side.

Method, per block of :func:`core.raster.scan` (the block is area-averaged to a working
grid on which the smallest pit spans ~8 pixels, 0.75 m for the default 6 m, whatever the
image's resolution: every image is seen at the same scale; ~10 pixels on 1-band images,
where without colour neighbouring pits are told apart by their berms' geometry alone):

1. Maps: a robust ground model (median over ~2x the largest pit, coarse grid); berm-scale
   structure ``P`` (band-pass difference of Gaussians of the colour image, in units of
   its 30th percentile, so plain ground ~1 whatever the sensor, band count or dtype);
   colour distance to the ground ``D``; signed brightness ``Z``; bareness ``B`` (loss of
   green against the ground; zero on grey images).
2. Orientations: the dominant rectangle orientations (mod 90 deg) of the gradient
   structure, up to three.
3. Box matched filter: in each orientation (image rotated so boxes are axis aligned),
   every box of the allowed sizes (ratio 1.28 steps, aspect <= 3.5) is scored at 1.5 m
   spacing from integral images: three strong sides (a side's strength is the weaker of
   its halves: a berm runs the whole side), an open end weaker than the berms, little
   floor structure, floor colour unlike the ground. Side strips depend on one box
   dimension only and are computed once per size and shifted into place. Local maxima
   are taken per short-side size, so a pit is not outshone by a bigger box over its row.
4. Refinement and classification: each candidate's position and size are refined, then a
   small boosted-tree model (core.pit_model, fitted by bench/train_pits.py on generated
   depot scenes; for panchromatic images core.pit_model_pan, fitted on the 1-band ones)
   scores 31 box features (side/floor/outside structure, brightness and colour, bareness,
   size, aspect, open end, a side whose line runs on past both ends of the box: a track or
   a roof edge; on 1-band images also the darkest band just beyond the berms, where a tree
   or a building casts its long shadow) as log-odds of "pit"; ``confidence`` = sigmoid of it. Hypotheses of several
   sizes at one place compete through it. Candidates near the threshold then climb: a pixel's
   move or a size step at a time while the learned score rises (the berm score alone places a
   faint, grassed-over pit's box off its outline; the models were fitted on such moved boxes too).
5. Non-maximum suppression on covered pixels, best learned score first (a berm belongs
   to one pit); two boxes end to end that are one pit seen as two halves are merged; a
   pit with no neighbour within 30 m needs a much higher score, one with a single neighbour
   a little higher (pits come in groups; neighbours are counted among the pits kept).
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
from scipy.spatial import cKDTree

from .errors import CargoWatchError
from .raster import scan

LOGIT0 = 2.0          # learned-score threshold at sensitivity 0.5 (log-odds + 1.5 - 3 x sensitivity)
NMS = 0.1             # a box is dropped when this share of its pixels is already taken
WORK_PX = 8.0         # the smallest pit spans this many working pixels ...
WORK_PX_GREY = 10.0   # ... on 1-band images (finer: no colour to tell neighbouring pits apart)
STRIDE_M = 1.5        # spacing (m) of the box centres scored before refinement
FLOOR_W = 0.5         # weight of the floor structure against the berms in the box score
ORIENT_REL = 0.35     # an orientation is searched when its gradient weight is this share of the main one
MERGE_M = 2.0         # end-to-end boxes at most this far apart are one pit (see _merge_halves)
ISOLATION = (6.0, 1.5)   # extra log-odds required of a pit with no / one neighbour (see _context)
CONTEXT_M = 30.0      # neighbourhood radius (m) of that test
CLIMB = 3             # steps of the learned-score refinement (see _climb) ...
CLIMB_FROM = 2.5      # ... of the candidates within this of the threshold
CAPK = 1.0           # candidates kept per size: CAPK x as many as boxes of that size fit the block
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
        """Minimum box score of a candidate (berm structure minus floor, in plain-ground units)."""
        return -2.0

    @property
    def logit_threshold(self):
        """Minimum learned score (log-odds of being a pit)."""
        return LOGIT0 + 1.5 - 3.0 * self.sensitivity


def working_factor(gsd, params, grey=False):
    """Down-sampling factor (>= 1, may be fractional) to the working grid, on which the
    smallest pit spans WORK_PX pixels (WORK_PX_GREY on 1-band images): every image of a
    kind is analysed at the same scale."""
    return max(1.0, params.min_size / (WORK_PX_GREY if grey else WORK_PX) / gsd)


def pit_overlap(gsd, params):
    """Block overlap (pixels) so a pit whose centre is in a block's core lies wholly in
    the block, with enough surrounding ground for its measurements."""
    return int(math.ceil((0.72 * params.max_size + 14.0) / gsd))


def _resample(a, f):
    """Area-average ``a`` (..., h, w) down by ``f`` (>= 1). Returns the array and the
    (row, col) factors mapping working pixel edges back to input pixels."""
    h, w = a.shape[-2:]
    if f <= 1.0001:
        return a, (1.0, 1.0)
    fi = int(round(f))
    if abs(f - fi) < 1e-3:
        h2, w2 = h // fi * fi, w // fi * fi
        a = a[..., :h2, :w2]
        return a.reshape(a.shape[:-2] + (h2 // fi, fi, w2 // fi, fi)).mean(axis=(-3, -1)), (float(fi), float(fi))
    oh, ow = max(1, int(h / f)), max(1, int(w / f))
    sig = [0.0] * (a.ndim - 2) + [0.42 * f, 0.42 * f]
    a = ndimage.gaussian_filter(a, sig, mode='nearest')
    zoom = [1.0] * (a.ndim - 2) + [oh / h, ow / w]
    out = ndimage.zoom(a, zoom, order=1, mode='nearest', grid_mode=True)
    return out, (h / out.shape[-2], w / out.shape[-1])


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
        if len(out) >= maxn or hist[i] < ORIENT_REL * top:
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


def _band(a, g):
    """Berm band width (pixels) of a box side ``a`` pixels long."""
    return np.rint(np.clip(0.2 * a, 1.5 / g, 4.0 / g)).astype(int)


def _boxmean(I, r, c, y0, y1, x0, x1):
    """Means over boxes rows r+[y0, y1) x cols c+[x0, x1) (broadcast int arrays) from the
    integral image(s) ``I`` ((H+1, W+1) or (k, H+1, W+1)), boxes clipped to the image."""
    H1, W1 = I.shape[-2] - 1, I.shape[-1] - 1
    ra, rb = np.clip(r + y0, 0, H1), np.clip(r + y1, 0, H1)
    ca, cb = np.clip(c + x0, 0, W1), np.clip(c + x1, 0, W1)
    s = I[..., rb, cb] - I[..., ra, cb] - I[..., rb, ca] + I[..., ra, ca]
    return s / np.maximum(1, (y1 - y0) * (x1 - x0))


def _combine(s0, s1, s2, s3, floor, fdiff):
    """Box score from the four sides' structure, the floor's structure and colour difference:
    three strong berms, an open end weaker than them, a plain floor unlike the ground."""
    lo01, hi01 = np.minimum(s0, s1), np.maximum(s0, s1)
    lo23, hi23 = np.minimum(s2, s3), np.maximum(s2, s3)
    mn = np.minimum(lo01, lo23)
    third = np.minimum(np.maximum(lo01, lo23, out=lo01), np.minimum(hi01, hi23, out=hi01), out=lo23)
    sc = s0 + s1
    sc += s2
    sc += s3
    sc -= mn
    sc *= 0.5 / 3.0                                   # mean of the three strongest sides, halved
    sc += 0.5 * third
    sc -= FLOOR_W * floor
    third *= -0.8
    third += mn
    np.maximum(third, 0.0, out=third)                 # open end not weaker than the berms: a closed outline
    sc -= 0.5 * third
    sc += 0.8 * np.minimum(fdiff, 3.0)
    return sc


def _score_at(I, r, c, hx, hy, t):
    """:func:`_combine` of boxes (half sizes hx, hy, band t; broadcast arrays) centred at
    (r, c); ``I`` stacks the integrals of structure and colour difference. A side's strength
    is the weaker of its two halves: a berm runs the whole side, a road or a neighbour's
    berm only part of an oversized box's side."""
    ti = np.rint(t * 1.25).astype(int)
    E = I[0]
    s0 = np.minimum(_boxmean(E, r, c, -hy + t, 0, -hx, -hx + t), _boxmean(E, r, c, 0, hy - t, -hx, -hx + t))
    s1 = np.minimum(_boxmean(E, r, c, -hy + t, 0, hx - t, hx), _boxmean(E, r, c, 0, hy - t, hx - t, hx))
    s2 = np.minimum(_boxmean(E, r, c, -hy, -hy + t, -hx + t, 0), _boxmean(E, r, c, -hy, -hy + t, 0, hx - t))
    s3 = np.minimum(_boxmean(E, r, c, hy - t, hy, -hx + t, 0), _boxmean(E, r, c, hy - t, hy, 0, hx - t))
    fl = _boxmean(I[:2], r, c, -hy + ti, hy - ti, -hx + ti, hx - ti)
    return _combine(s0, s1, s2, s3, fl[0], fl[1])


class _Grid:
    """Box scores of every size on a regular grid of centres (rows/cols ``o + k*stride`` of the
    rotated frame) from the integral images of structure and colour difference, padded by ``M``.
    Side strips depend on one box dimension only: they are computed once per (half size,
    band) and shifted into place for every box size (strided views, no gathers)."""

    def __init__(self, IE, ID, M, stride):
        self.Ep, self.Dp = np.pad(IE, M, mode='edge'), np.pad(ID, M, mode='edge')
        self.M, self.s = M, stride
        H, W = IE.shape[0] - 1, IE.shape[1] - 1
        self.o = stride // 2
        self.nr, self.nc = len(range(self.o, H, stride)), len(range(self.o, W, stride))
        self.Wp, self.Hp = self.Ep.shape[1] - 1, self.Ep.shape[0] - 1
        self.cache = {}

    def _box(self, I, rows, cols, y0, y1, x0, x1):
        """Box means for centre rows ``rows`` (slice start, count, step) x cols likewise."""
        (ra, nr, sr), (ca, nc, sc) = rows, cols
        sl = lambda a, b: I[ra + a:ra + a + sr * nr:sr, ca + b:ca + b + sc * nc:sc]
        out = sl(y1, x1) - sl(y0, x1)
        out -= sl(y1, x0)
        out += sl(y0, x0)
        return (out * (1.0 / max(1, (y1 - y0) * (x1 - x0)))).astype(np.float32)

    def vert(self, hy, t):
        """Left-edge strips (rows r-hy+t..r+hy-t, cols c..c+t) at centre rows, every padded col:
        the weaker of their two halves (a berm runs the whole side)."""
        k = ('v', hy, t)
        if k not in self.cache:
            rows, cols = (self.M + self.o, self.nr, self.s), (0, self.Wp - t, 1)
            self.cache[k] = np.minimum(self._box(self.Ep, rows, cols, -hy + t, 0, 0, t),
                                       self._box(self.Ep, rows, cols, 0, hy - t, 0, t))
        return self.cache[k]

    def horiz(self, hx, t):
        """Top-edge strips (rows r..r+t, cols c-hx+t..c+hx-t) at every padded row, centre cols:
        the weaker of their two halves."""
        k = ('h', hx, t)
        if k not in self.cache:
            rows, cols = (0, self.Hp - t, 1), (self.M + self.o, self.nc, self.s)
            self.cache[k] = np.minimum(self._box(self.Ep, rows, cols, 0, t, -hx + t, 0),
                                       self._box(self.Ep, rows, cols, 0, t, 0, hx - t))
        return self.cache[k]

    def scores(self, hx, hy, t):
        M, o, s, nr, nc = self.M, self.o, self.s, self.nr, self.nc
        V, Hz = self.vert(hy, t), self.horiz(hx, t)
        c0, c1 = M + o - hx, M + o + hx - t
        r0, r1 = M + o - hy, M + o + hy - t
        s0, s1 = V[:, c0:c0 + s * nc:s], V[:, c1:c1 + s * nc:s]
        s2, s3 = Hz[r0:r0 + s * nr:s], Hz[r1:r1 + s * nr:s]
        ti = int(round(t * 1.25))
        rows, cols = (M + o, nr, s), (M + o, nc, s)
        fl = self._box(self.Ep, rows, cols, -hy + ti, hy - ti, -hx + ti, hx - ti)
        fd = self._box(self.Dp, rows, cols, -hy + ti, hy - ti, -hx + ti, hx - ti)
        return _combine(s0, s1, s2, s3, fl, fd)


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


FEATURES = ('box_bare', 'outside_bare', 'outside_colour', 'berm3', 'berm_third', 'side_min', 'floor_structure',
            'floor_colour', 'berm_minus_floor_lum', 'floor_lum', 'outside_structure', 'outside_lum', 'log_area',
            'aspect', 'berm_lum_spread', 'box_score', 'open_end', 'floor_minus_outside_lum', 'log_width',
            'berm_colour', 'outside_minus_berm_bare', 'side_spread', 'outside_colour_max', 'outside_structure_max',
            'outside_lum_min', 'outside_lum_max', 'side_lum_min', 'side_lum_max', 'floor_bare',
            'floor_centre_structure', 'side_continues', 'far_shadow')
GREY_ONLY = 1         # the last features are used by the 1-band model only (core.pit_model_pan)


def model_features(grey):
    """Names of the features a model uses: the colour model does without the grey-only ones."""
    return FEATURES if grey else FEATURES[:len(FEATURES) - GREY_ONLY]


def _features(I, r, c, hx, hy, g, score):
    """Feature matrix (n, len(FEATURES)) of boxes (rotated frame) centred at rows ``r``, cols
    ``c`` with half sizes ``hx``, ``hy`` (int arrays); ``I`` stacks the integral images of
    structure, colour difference, signed brightness and bareness."""
    t = np.rint(np.clip(0.4 * np.minimum(hx, hy), 1.5 / g, 4.0 / g)).astype(int)
    ti = np.rint(t * 1.25).astype(int)
    bm = lambda y0, y1, x0, x1: _boxmean(I, r, c, y0, y1, x0, x1)     # (4, n): E, D, Z, B
    sides = np.stack([bm(-hy + t, hy - t, -hx, -hx + t), bm(-hy + t, hy - t, hx - t, hx),
                      bm(-hy, -hy + t, -hx + t, hx - t), bm(hy - t, hy, -hx + t, hx - t)])   # (4 sides, 4, n)
    fl = bm(-hy + ti, hy - ti, -hx + ti, hx - ti)
    o = t
    around = np.stack([bm(-hy, hy, -hx - o, -hx), bm(-hy, hy, hx, hx + o), bm(-hy - o, -hy, -hx, hx),
                       bm(hy, hy + o, -hx, hx)])           # (4 bands outside the sides, 4, n)
    outs = around.mean(axis=0)
    inside = bm(-hy, hy, -hx, hx)
    # a berm across the middle of the floor: the box straddles two pits (or a pit and a road)
    mid = np.maximum(_boxmean(I[0], r, c, -hy // 6 - 1, hy // 6 + 1, -hx + ti, hx - ti),
                     _boxmean(I[0], r, c, -hy + ti, hy - ti, -hx // 6 - 1, hx // 6 + 1))
    # a side whose line runs on past both ends of the box is a track or a roof edge, not a berm
    e = np.maximum(np.minimum(hx, hy), 2 * t)
    ends_v = lambda x0, x1: np.minimum(_boxmean(I[0], r, c, -hy - e, -hy, x0, x1),      # above and below
                                       _boxmean(I[0], r, c, hy, hy + e, x0, x1))
    ends_h = lambda y0, y1: np.minimum(_boxmean(I[0], r, c, y0, y1, -hx - e, -hx),      # left and right
                                       _boxmean(I[0], r, c, y0, y1, hx, hx + e))
    ext = np.stack([ends_v(-hx, -hx + t), ends_v(hx - t, hx), ends_h(-hy, -hy + t), ends_h(hy - t, hy)])
    continues = (ext / (sides[:, 0] + 0.1)).max(axis=0)
    order = np.argsort(sides[:, 0], axis=0)                # sides by structure, weakest first
    srt = np.take_along_axis(sides, order[:, None, :], axis=0)
    berm3 = srt[1:].mean(axis=0)                           # (4, n) three strongest sides
    berm_z = srt[1:, 2]
    # the darkest half-side band 0-4 m beyond the berms: a tree or a building casts a shadow
    # several metres long, a berm 1-2 m high does not (grey-only: with colour it did not help)
    f = t + int(round(4.0 / g))
    zb = lambda y0, y1, x0, x1: _boxmean(I[2], r, c, y0, y1, x0, x1)
    far = np.min([zb(-hy, 0, -hx - f, -hx - t), zb(0, hy, -hx - f, -hx - t), zb(-hy, 0, hx + t, hx + f),
                  zb(0, hy, hx + t, hx + f), zb(-hy - f, -hy - t, -hx, 0), zb(-hy - f, -hy - t, 0, hx),
                  zb(hy + t, hy + f, -hx, 0), zb(hy + t, hy + f, 0, hx)], axis=0)
    return np.column_stack([
        inside[3], outs[3], outs[1], berm3[0], srt[1, 0], srt[0, 0], fl[0], np.minimum(fl[1], 4.0),
        berm3[2] - fl[2], fl[2], outs[0], outs[2], np.log(np.maximum(1.0, 4 * hx * hy * g * g)),
        np.maximum(hx, hy) / np.maximum(1, np.minimum(hx, hy)), berm_z.std(axis=0), score,
        srt[0, 0] / (srt[1, 0] + 0.1), fl[2] - outs[2], np.log(2 * np.minimum(hx, hy) * g), berm3[1],
        outs[3] - berm3[3], sides[:, 0].std(axis=0), around[:, 1].max(axis=0), around[:, 0].max(axis=0),
        around[:, 2].min(axis=0), around[:, 2].max(axis=0), sides[:, 2].min(axis=0), sides[:, 2].max(axis=0), fl[3],
        mid, continues, far])


def _classify(X, grey=False):
    """Log-odds of 'pit' for feature rows ``X`` from the boosted depth-2 trees of core.pit_model,
    or for 1-band images (``grey``, seen on their finer working grid) of core.pit_model_pan,
    fitted on grey scenes only."""
    from . import pit_model, pit_model_pan
    m = pit_model_pan if grey else pit_model
    return tree_logits(X, m.BIAS, m.TREES)


def tree_logits(X, bias, trees):
    """Sum of boosted depth-2 trees (f0, t0, f1, t1, f2, t2, leaves) over feature rows ``X``."""
    z = np.full(len(X), float(bias))
    for f0, t0, f1, t1, f2, t2, v in trees:
        z += np.where(X[:, f0] <= t0, np.where(X[:, f1] <= t1, v[0], v[1]), np.where(X[:, f2] <= t2, v[2], v[3]))
    return z


def _sigmoid(x):
    return 1.0 / (1.0 + math.exp(-x))


def _maps(data, valid, g, params):
    """Working-grid maps of a block: colours, luminance, ground model, structure P, colour
    distance D, signed brightness Z, bareness B (see the module docstring)."""
    colour = data.shape[0] >= 3
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
    return lum_s, bg_lum, is_bare, P, D, Z, B


def _refine(I, rc, cc, a, b, d, g):
    """Best of the boxes of sizes ``a`` x ``b`` ((n, k) pixels, NaN = not allowed) centred at
    (rc, cc) + every shift in ``d`` x ``d``: (rows, cols, half sizes hx, hy, scores)."""
    a, b = np.broadcast_arrays(a, b)
    ok = np.isfinite(a)
    a = np.where(ok, a, b)
    hx, hy = np.rint(a / 2).astype(int), np.rint(b / 2).astype(int)
    t = _band(np.minimum(a, b), g)
    dr, dc = (v.ravel() for v in np.meshgrid(d, d, indexing='ij'))
    sc = _score_at(I, rc[:, None, None] + dr, cc[:, None, None] + dc, hx[..., None], hy[..., None], t[..., None])
    sc = np.where(ok[..., None], sc, -np.inf)
    iv, ish = np.unravel_index(sc.reshape(len(rc), -1).argmax(axis=1), sc.shape[1:])
    n = np.arange(len(rc))
    return rc + dr[ish], cc + dc[ish], hx[n, iv], hy[n, iv], sc[n, iv, ish]


def _candidates(maps, valid, g, params):
    """Box hypotheses in every dominant orientation: local maxima of the box score over the
    grid of centres, one map per short-side size, refined in position and size. Returns a
    list of (R, off, rows, cols, hx, hy, features) per orientation (rotated-frame pixels;
    ``R``, ``off`` map them back to the working grid)."""
    lum, P, D, Z, B = maps
    stride = max(1, int(round(STRIDE_M / g)))
    smin, smax = params.min_size / g, params.max_size / g
    sizes = _sizes(smin, smax)
    combos = np.array([(a, b) for a in sizes for b in sizes if max(a, b) / min(a, b) <= 3.5])
    chx, chy = np.rint(combos[:, 0] / 2).astype(int), np.rint(combos[:, 1] / 2).astype(int)
    ct = _band(combos.min(axis=1), g)
    out = []
    for phi in _orientations(lum, valid, g):
        rot = [_rotate(a, -phi) for a in (P, D, Z, B, valid.astype(np.float32))]
        R, off = rot[0][1], rot[0][2]
        I = np.zeros((5, rot[0][0].shape[0] + 1, rot[0][0].shape[1] + 1))
        for k, (a, _, _) in enumerate(rot):
            I[k, 1:, 1:] = a.cumsum(0).cumsum(1)
        M = int(math.ceil(smax * 0.6 + 4.0 / g)) + 2
        grid = _Grid(I[0], I[1], M, stride)
        # one best-score map per short side: a pit is a local maximum among boxes of its own
        # scale, not outshone by a bigger box around its row or a berm-sized one inside it
        short = np.searchsorted(sizes, combos.min(axis=1) - 1e-6)
        rc, cc, a0, b0 = [], [], [], []
        area = valid.sum() * g * g
        for q in np.unique(short):
            ks = np.nonzero(short == q)[0]
            best = np.full((grid.nr, grid.nc), -np.inf, np.float32)
            arg = np.zeros((grid.nr, grid.nc), np.int16)
            for k in ks:
                sc = grid.scores(chx[k], chy[k], ct[k])
                upd = sc > best
                best[upd] = sc[upd]
                arg[upd] = k
            win = max(3, int(sizes[q] / stride * 0.6) | 1)
            peak = (best == ndimage.maximum_filter(best, size=win)) & (best > params.threshold - 0.5)
            pi, pj = np.nonzero(peak)
            cap = int(area / (sizes[q] * g) ** 2 * CAPK) + 20     # far more than pits of that size can fit
            keep = np.argsort(-best[pi, pj])[:cap]
            pi, pj = pi[keep], pj[keep]
            rc.append(pi * stride + stride // 2)
            cc.append(pj * stride + stride // 2)
            a0.append(combos[arg[pi, pj], 0])
            b0.append(combos[arg[pi, pj], 1])
        del grid
        rc, cc, a0, b0 = (np.concatenate(v) for v in (rc, cc, a0, b0))
        if rc.size == 0:
            continue
        # refinement: position within a stride, then sizes x0.88..1.13
        rc, cc = _refine(I, rc, cc, a0[:, None], b0[:, None], np.arange(-(stride // 2 + 1), stride // 2 + 2), g)[:2]
        f = np.array([0.88, 1.0, 1.13])
        da, db = np.meshgrid(f, f, indexing='ij')
        a, b = a0[:, None] * da.ravel()[None], b0[:, None] * db.ravel()[None]
        ok = (np.minimum(a, b) >= smin * 0.85) & (np.maximum(a, b) <= smax * 1.1) & \
             (np.maximum(a, b) / np.minimum(a, b) <= 4)
        r, c, hx, hy, score = _refine(I, rc, cc, np.where(ok, a, np.nan), b, np.arange(0, 1), g)
        vfrac = _boxmean(I[4], r, c, -hy, hy, -hx, hx)
        good = (score >= params.threshold) & (vfrac >= 0.85)
        r, c, hx, hy, score = r[good], c[good], hx[good], hy[good], score[good]
        X = _features(I[:4], r, c, hx, hy, g, score)
        out.append((R, off, r, c, hx, hy, X, I))
    return out


def _judge(I, r, c, hx, hy, g, grey):
    """Features and learned score of boxes (rotated frame, ``I`` the integral images of
    structure, colour difference, brightness, bareness and validity); -inf for a box less than
    85 % valid."""
    X = _features(I[:4], r, c, hx, hy, g, _score_at(I, r, c, hx, hy, _band(2 * np.minimum(hx, hy), g)))
    ok = _boxmean(I[4], r, c, -hy, hy, -hx, hx) >= 0.85
    return X, np.where(ok, _classify(X, grey=grey), -np.inf)


def _climb(I, r, c, hx, hy, X, z, g, grey, params, z_min):
    """Refinement by the learned score: the matched filter places a box by its berm score,
    the classifier judges it on more. Candidates scoring at least ``z_min`` move by a pixel or
    grow/shrink by one on both sides of an axis while their learned score rises (at most
    CLIMB steps). Returns the arrays updated and a mask of the boxes that moved."""
    r, c, hx, hy, X, z = r.copy(), c.copy(), hx.copy(), hy.copy(), X.copy(), z.copy()
    moved = np.zeros(len(z), bool)
    sel = np.nonzero(z >= z_min)[0]
    lo, hi = params.min_size / g * 0.85 / 2, params.max_size / g * 1.1 / 2
    steps = np.array([(1, 0, 0, 0), (-1, 0, 0, 0), (0, 1, 0, 0), (0, -1, 0, 0),
                      (0, 0, 1, 0), (0, 0, -1, 0), (0, 0, 0, 1), (0, 0, 0, -1)])
    for _ in range(CLIMB):
        if sel.size == 0:
            break
        rr, cc, hxx, hyy = ((v[sel, None] + steps[None, :, k]).ravel() for k, v in enumerate((r, c, hx, hy)))
        short, long_ = np.minimum(hxx, hyy), np.maximum(hxx, hyy)
        ok = (short >= lo) & (long_ <= hi) & (long_ <= 4 * short)
        Xm, zm = _judge(I, rr, cc, hxx, hyy, g, grey)
        zm = np.where(ok, zm, -np.inf).reshape(len(sel), len(steps))
        best = zm.argmax(axis=1)
        up = zm[np.arange(len(sel)), best] > z[sel]
        sel, j = sel[up], np.nonzero(up)[0] * len(steps) + best[up]
        r[sel], c[sel], hx[sel], hy[sel], X[sel], z[sel] = rr[j], cc[j], hxx[j], hyy[j], Xm[j], zm.ravel()[j]
        moved[sel] = True
    return r, c, hx, hy, X, z, moved


def _pixels(R, off, r, c, hx, hy, h, w):
    """Working-grid pixels of the box (rotated-frame centre r, c; half sizes hx, hy)."""
    ci = R @ np.array([r, c]) + off
    return _box_pixels(float(ci[1]), float(ci[0]), R @ np.array([0.0, 1.0]), R @ np.array([1.0, 0.0]), hx, hy, h, w)


def _merge_halves(kept, gap, longest):
    """Two kept boxes of one orientation, end to end (aligned, same width within 25 %, at most
    ``gap`` pixels apart) are the two halves of one pit seen as two: merged into their union
    when it is no longer than ``longest``. Neighbouring pits stand side by side, not end to end."""
    merged = True
    while merged:
        merged = False
        for i in range(len(kept)):
            for j in range(i + 1, len(kept)):
                a, b = kept[i], kept[j]
                if a[1] is not b[1]:
                    continue
                for ax in (0, 1):          # 0: joined along rows (y), 1: along columns (x)
                    pa, pb = (a[3], b[3]) if ax == 0 else (a[4], b[4])     # along the join
                    qa, qb = (a[4], b[4]) if ax == 0 else (a[3], b[3])     # across
                    la, lb = (a[6], b[6]) if ax == 0 else (a[5], b[5])     # half lengths along
                    wa, wb = (a[5], b[5]) if ax == 0 else (a[6], b[6])     # half widths across
                    if abs(wa - wb) > 0.25 * max(wa, wb) or abs(qa - qb) > 0.3 * min(wa, wb):
                        continue
                    if not -0.3 * min(la, lb) <= abs(pa - pb) - la - lb <= gap:
                        continue
                    lo, hi = min(pa - la, pb - lb), max(pa + la, pb + lb)
                    if hi - lo > longest:
                        continue
                    p, half, q, wd = (lo + hi) // 2, (hi - lo + 1) // 2, (qa + qb) // 2, max(wa, wb)
                    r, c, hx, hy = (p, q, wd, half) if ax == 0 else (q, p, half, wd)
                    kept[i] = [max(a[0], b[0]), a[1], a[2], r, c, hx, hy, a[7] if a[0] >= b[0] else b[7]]
                    del kept[j]
                    merged = True
                    break
                if merged:
                    break
            if merged:
                break
    return kept


def _working(block, params):
    """A block on the working grid: ((fy, fx) factors back to block pixels, working pixel size g,
    validity, :func:`_maps`), or None when too small to hold a pit."""
    f = working_factor(block.gsd, params, grey=block.data.shape[0] < 3)
    data, (fy, fx) = _resample(block.data, f)
    data = data.astype(np.float32)
    valid = _resample(block.valid.astype(np.float32), f)[0] > 0.5 if f > 1.0001 else block.valid
    h, w = data.shape[1:]
    if h < 8 or w < 8 or valid.sum() < 64:
        return None
    g = block.gsd * math.sqrt(fx * fy)
    return (fy, fx), g, valid, _maps(data, valid, g, params)


def score_boxes(block, boxes, params, search_m=1.5):
    """Learned score (log-odds of 'pit', as detect_pits' ``score``) of given oriented boxes in
    one block: ``boxes`` are 4 corners each in block pixels (col, row), in the order of
    detect_pits' ``corners``. The best over a small local search (shifts up to ``search_m``,
    sizes x0.88..1.13) of the same features and classifier as detect_pits; -inf for a box
    outside the block's valid pixels."""
    out = np.full(len(boxes), -np.inf)
    wk = _working(block, params)
    if wk is None:
        return out
    (fy, fx), g, valid, (lum_s, bg_lum, is_bare, P, D, Z, B) = wk
    h, w = valid.shape
    stack = (P, D, Z, B, valid.astype(np.float32))
    s = max(1, int(round(search_m / g)))
    fs = np.array([0.88, 1.0, 1.13])
    dr, dc, fa, fb = (v.ravel() for v in np.meshgrid(np.arange(-s, s + 1), np.arange(-s, s + 1), fs, fs,
                                                          indexing='ij'))
    for k, cs in enumerate(boxes):
        cs = np.asarray(cs, dtype=float)
        rows, cols = cs[:, 1] / fy - 0.5, cs[:, 0] / fx - 0.5       # working-grid (row, col)
        cy, cx = rows.mean(), cols.mean()
        e1 = (rows[1] - rows[0], cols[1] - cols[0])                  # box x axis, 2 hx long
        hx0, hy0 = 0.5 * math.hypot(*e1), 0.5 * math.hypot(rows[2] - rows[1], cols[2] - cols[1])
        rad = int(math.ceil(math.hypot(hx0, hy0) * 1.13 + 4.0 / g + s + 3))
        r0, c0 = int(cy) - rad, int(cx) - rad
        if r0 < 0 or c0 < 0 or r0 + 2 * rad + 1 > h or c0 + 2 * rad + 1 > w or hx0 < 1 or hy0 < 1:
            continue
        # rotate a crop around the box so the box is axis aligned (x axis = rotated columns)
        deg = math.degrees(math.atan2(-e1[0], e1[1]))
        rot = [_rotate(a[r0:r0 + 2 * rad + 1, c0:c0 + 2 * rad + 1], deg) for a in stack]
        R, off = rot[0][1], rot[0][2]
        I = np.zeros((5, rot[0][0].shape[0] + 1, rot[0][0].shape[1] + 1))
        for j, (a, _, _) in enumerate(rot):
            I[j, 1:, 1:] = a.cumsum(0).cumsum(1)
        rc, cc = R.T @ (np.array([cy - r0, cx - c0]) - off)
        r, c = np.rint(rc + dr).astype(int), np.rint(cc + dc).astype(int)
        hx, hy = np.rint(hx0 * fa).astype(int), np.rint(hy0 * fb).astype(int)
        out[k] = float(_judge(I, r, c, hx, hy, g, is_bare is None)[1].max())
    return out


def detect_pits(block, params, debug=None):
    """Pits in one :class:`core.raster.Block` -> list of dicts (``corners`` in block pixels + fields)."""
    wk = _working(block, params)
    if wk is None:
        return []
    (fy, fx), g, valid, (lum_s, bg_lum, is_bare, P, D, Z, B) = wk
    h, w = valid.shape
    hyps = []
    grey = is_bare is None
    climb_min = params.logit_threshold - CLIMB_FROM if debug is None else debug.get('climb_min')
    for R, off, r, c, hx, hy, X, I in _candidates((lum_s, P, D, Z, B), valid, g, params):
        z = _classify(X, grey=grey)
        if CLIMB and climb_min is not None:
            r, c, hx, hy, X, z, moved = _climb(I, r, c, hx, hy, X, z, g, grey, params, climb_min)
            if debug is not None:           # training: the boxes the climb moved
                r, c, hx, hy, X, z = (v[moved] for v in (r, c, hx, hy, X, z))
        hyps += [(float(z[k]), R, off, int(r[k]), int(c[k]), int(hx[k]), int(hy[k]), X[k]) for k in range(len(z))]
    if debug is not None:
        debug.update(P=P, D=D, nref=len(hyps))
    hyps.sort(key=lambda q: -q[0])
    # non-maximum suppression on the pixels the boxes cover: a berm belongs to one pit
    occ = np.zeros((h, w), bool)
    kept = []
    for sc, R, off, r, c, hx, hy, feat in hyps:
        if sc < params.logit_threshold:
            break
        pr, pc = _pixels(R, off, r, c, hx, hy, h, w)
        if pr.size == 0 or occ[pr, pc].mean() > NMS:
            continue
        occ[pr, pc] = True
        kept.append([sc, R, off, r, c, hx, hy, feat])
    if MERGE_M > 0 and debug is None:          # (training sees the raw candidates)
        kept = _merge_halves(kept, MERGE_M / g, params.max_size / g)
    found, centres = [], []
    for sc, R, off, r, c, hx, hy, feat in kept:
        pr, pc = _pixels(R, off, r, c, hx, hy, h, w)
        ci = R @ np.array([r, c]) + off
        cyw, cxw = float(ci[0]), float(ci[1])
        ex = R @ np.array([0.0, 1.0])       # box x axis, as (row, col) in the working grid
        ey = R @ np.array([1.0, 0.0])
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
            corners.append(((pcol + 0.5) * fx, (prow + 0.5) * fy))
        angle = math.degrees(math.atan2(-axis[0], axis[1])) % 180.0
        Lm, Wm = L * g, W * g
        found.append(dict(corners=corners, length_m=round(Lm, 2), width_m=round(Wm, 2), area_m2=round(Lm * Wm, 1),
                          orientation_deg=round(angle, 1), fresh_soil=round(fresh, 3), confidence=round(conf, 3),
                          score=round(sc, 3), **({'_feat': feat} if debug is not None else {})))
        centres.append((cyw * g, cxw * g))
    return _context(found, centres, params)


def _context(found, centres, params):
    """Storage pits come in groups: a pit with no other within CONTEXT_M needs ISOLATION[0]
    more log-odds, one with a single neighbour ISOLATION[1], which removes lone look-alikes
    (a tree clump, a shed, a track junction) far from any depot. Neighbours are counted again
    among those kept until none drops out: a look-alike kept only by a weaker one's support
    goes with it."""
    if not found:
        return found
    C = np.asarray(centres)
    score = np.array([f['score'] for f in found])
    keep = np.ones(len(found), bool)
    while keep.any():       # until no more drop out: only the pits kept support each other
        n = cKDTree(C[keep]).query_ball_point(C, CONTEXT_M, return_length=True) - keep
        new = keep & (score >= params.logit_threshold + np.select([n == 0, n == 1], ISOLATION, 0.0))
        if (new == keep).all():
            break
        keep = new
    return [f for f, k in zip(found, keep) if k]


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
    return scan(raster, lambda b: detect_pits(b, params), overlap=overlap, block=blk, aoi=aoi,
                progress=progress, cancelled=cancelled)
