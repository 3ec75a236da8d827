"""Storage-pit (open earthen revetment) detection on optical imagery.

What a pit looks like from above: an earthen revetment, a floor dug a little into the ground with spoil
berms piled around it, usually open on one side for a truck; fresh ones bright bare soil with a sharp
shadow under the sunward berm, old ones grassed over and faint; roughly 8 x 15 m to 30 x 60 m.

Method, per block of :func:`core.raster.scan`:

1. The block is resampled to a fixed working grid of WORK_GSD (0.75) m/pixel (area average down, bilinear
   up: every image is seen at the same scale); 1-band images are replicated to 3 channels, of 4 or more
   bands the first three are used; each channel is stretched between its 2nd and 98th percentile over the
   block's valid pixels and centred (any sensor, 8 or 16 bits, light or season), nodata set to 0.
2. A small fully-convolutional network (core/models/pits.onnx, run with OpenCV's cv2.dnn; ~2,000
   multiply-adds per working pixel) predicts on a 3 m grid a pit-centre heatmap, the centre's offset, the
   pit's length, width and orientation (CenterNet-style). It was trained by bench/train_pits.py only on
   tiles from the project's own generator (bench/pit_gen.py: open and closed revetments, fresh and
   weathered, bright and dark soils, grass, seasons, sun 20-65 deg from any azimuth, 0.3-1.0 m, RGB / pan /
   RGBN, 8/16-bit, nodata borders, and the confusers: houses and barns, tree lines, spoil heaps, ploughed
   strips, fields, road junctions). core/models/pits.json records how.
3. Local maxima of the heatmap above the threshold (set by ``sensitivity``) are pits; a weaker peak whose
   centre lies in the middle of a stronger pit's box is the same pit; sizes outside the range are dropped.
4. ``fresh_soil`` (0-1): how much brighter and less green the footprint is than the ground around it.

Limits: trained on generated scenes only (see docs/benchmarks.md for the figures on scenes it was not
trained on); roofed revetments and pits under trees or snow are not seen; pits touching each other may be
found as one; the box is the outer footprint (berms included), to about a metre.
"""
import math
import os
from dataclasses import dataclass

import numpy as np

from . import nets
from .errors import CargoWatchError

# The network's contract, fixed by its training and recorded in core/models/pits.json (a test checks they agree)
WORK_GSD = 0.75       # m/pixel of the working grid (the network's scale; bench/pit_gen.py's)
STRIDE = 4            # output cell = STRIDE working pixels
SIZE_REF = 16.0       # working pixels; sizes are predicted as log(size / SIZE_REF)
MULTIPLE = 16         # the network's input sides must be multiples of this
MODEL = os.path.join(nets.MODELS, 'pits.onnx')
FIELDS = ('length_m', 'width_m', 'area_m2', 'orientation_deg', 'fresh_soil', 'confidence')


@dataclass(frozen=True)
class PitTuning:
    """The detector's tuning constants, one reason each (the analyst's settings are :class:`PitParams`)."""
    block_px: int = 2048            # pixels a side of the blocks read (plus the overlap): bounded memory, few borders
    same_pit: float = 0.7           # a weaker peak whose centre is within this share of a stronger pit's box is it
    threshold_span: float = 0.4     # heatmap threshold from sensitivity 0 (only clear pits) to 1 (faint ones too)
    min_work_px: int = 16           # a block narrower than this on the working grid holds no pit
    edge_pad_px: int = 76           # the edge pixels repeated outward where a block ends at the image's edge: half
                                    # the network's receptive field (151 px); a bare border makes false pits along it
    min_valid_px: int = 256         # nor one with fewer valid working pixels (a sliver of a nodata border)
    stretch_sample_px: int = 60000  # percentiles from at most this many pixels: plenty, and fast
    size_slack: tuple = (0.8, 1.2)  # boxes down to 0.8 x the smallest and up to 1.2 x the largest size are kept
    overlap_margin_m: float = 24.0  # ground beyond a pit's half-size the network looks at: blocks overlap by it
    max_gsd_m: float = 2.0          # coarser imagery is refused
    min_pit_px: float = 4.0         # so is imagery where the smallest pit is under this many pixels a side
    max_size_m: float = 500.0       # a size range beyond this is a mistake, not a pit
    score_search_m: float = 3.0     # score_boxes: best heatmap within this of a box centre (residual misregistration)
    fresh_crop_px: int = 6          # fresh_soil: the crop reaches this far beyond the box's half-diagonal
    fresh_ring_px: tuple = (2, 8)   # fresh_soil: the ring of ground around the box, working pixels beyond its edge
    fresh_contrast: float = 0.4     # fresh_soil: a box this much (relative) brighter than its ring is fully fresh
    fresh_green: float = 0.1        # fresh_soil: and this much (relative) less green


TUNING = PitTuning()


@dataclass
class PitParams:
    min_size: float = 6.0       # metres, shortest side of the smallest pit
    max_size: float = 70.0      # metres, longest side of the largest pit
    sensitivity: float = 0.5    # 0 (only clear pits) .. 1 (faint, grassed-over ones too)

    def check(self):
        if not (self.min_size > 0 and self.max_size > self.min_size):
            raise CargoWatchError(f'The pit size range {self.min_size:g}-{self.max_size:g} m is not valid: '
                                  'the minimum must be positive and smaller than the maximum.')
        if self.max_size > TUNING.max_size_m:
            raise CargoWatchError(f'Storage pits larger than {TUNING.max_size_m:g} m a side are not plausible: '
                                  'check the size range.')
        if not 0.0 <= self.sensitivity <= 1.0:
            raise CargoWatchError('Sensitivity must be between 0 and 1.')
        return self

    @property
    def threshold(self):
        """Minimum heatmap peak (0-1) of a pit: at sensitivity 0.5 the one where F1 peaks on the held-out generated
        tiles (core/models/pits.json ``threshold``, written by the training script), TUNING.threshold_span / 2
        higher at sensitivity 0 and lower at 1."""
        return nets.load('pits')[1]['threshold'] + TUNING.threshold_span * (0.5 - self.sensitivity)


def _net():
    """The network, loaded once per process (cv2.dnn)."""
    return nets.load('pits')[0]


def pit_overlap(gsd, params):
    """Block overlap (pixels): a pit whose centre is in a block's core lies wholly in the block, with
    the ground around it the network looks at."""
    return int(math.ceil((0.5 * params.max_size + TUNING.overlap_margin_m) / gsd))


def to_working(img, gsd):
    """:func:`core.nets.to_working` onto the pit network's grid (WORK_GSD)."""
    return nets.to_working(img, gsd, WORK_GSD)


def normalise(img, valid):
    """Per channel: (x - p2) / (p98 - p2) - 0.5 over the valid pixels, clipped to +-1.5; nodata 0
    (as bench/train_pits.normalise, on which the network was trained)."""
    out = np.zeros_like(img, dtype=np.float32)
    n = int(valid.sum())
    if n < 16:
        return out
    step = max(1, int(math.sqrt(n / float(TUNING.stretch_sample_px))))
    sub = valid[::step, ::step]
    for k in range(img.shape[0]):
        v = img[k, ::step, ::step][sub]
        lo, hi = np.percentile(v, (2, 98))
        np.subtract(img[k], lo + 0.5 * max(hi - lo, 1e-3), out=out[k])
        out[k] *= 1.0 / max(hi - lo, 1e-3)
    np.maximum(out, -1.5, out=out)
    np.minimum(out, 1.5, out=out)
    if not valid.all():
        out[:, ~valid] = 0.0
    return out


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-np.clip(x, -30, 30)))


def decode(out, thr):
    """Pits from the network's output (7, s, s): local maxima of the heatmap >= ``thr``; a weaker
    peak whose centre lies in the middle of a stronger pit's box (or whose box holds the stronger's
    centre) is the same pit. Returns (n, 6) rows of centre col,
    row, length, width (working pixels), long-axis angle (deg, counter-clockwise from +col, 0-180), score."""
    heat = _sigmoid(out[0])
    s0, s1 = heat.shape
    pad = np.pad(heat, 1, constant_values=0.0)
    nb = np.max(np.stack([pad[dy:dy + s0, dx:dx + s1] for dy in range(3) for dx in range(3)]), axis=0)
    iy, ix = np.nonzero((heat >= nb) & (heat >= thr))
    if iy.size == 0:
        return np.zeros((0, 6))
    sc = heat[iy, ix]
    cx = (ix + 0.5 + out[1, iy, ix]) * STRIDE
    cy = (iy + 0.5 + out[2, iy, ix]) * STRIDE
    L = SIZE_REF * np.exp(np.clip(out[3, iy, ix], -4, 4))
    W = SIZE_REF * np.exp(np.clip(out[4, iy, ix], -4, 4))
    L, W = np.maximum(L, W), np.minimum(L, W)
    ang = (np.degrees(np.arctan2(out[6, iy, ix], out[5, iy, ix])) / 2.0) % 180.0
    rad = np.radians(ang)
    ca, sa = np.cos(rad), np.sin(rad)

    def inside(k, j):       # centre of k within the central part of j's box
        dx, dy = cx[k] - cx[j], cy[k] - cy[j]
        same = TUNING.same_pit
        return abs(dx * ca[j] - dy * sa[j]) < same * L[j] / 2 and abs(dx * sa[j] + dy * ca[j]) < same * W[j] / 2
    kept = []
    for k in np.argsort(-sc):
        if not any(inside(k, j) or inside(j, k) for j in kept):
            kept.append(k)
    kept = np.array(kept, int)
    return np.column_stack([cx[kept], cy[kept], L[kept], W[kept], ang[kept], sc[kept]])


def _edge_pads(block):
    """Working pixels of the image's edge repeated outward (top, bottom, left, right) on the sides where the block ends at the
    image's edge, with no overlap beyond: the network then sees ground there, not a border (mirroring would make
    closed shapes of a field's edge)."""
    h, w = block.valid.shape
    cx0, cy0, cx1, cy1 = block.core
    m = TUNING.edge_pad_px
    return (m if cy0 == block.y0 else 0, m if cy1 == block.y0 + h else 0,
            m if cx0 == block.x0 else 0, m if cx1 == block.x0 + w else 0)


def _infer(block):
    """The block on the working grid and the network's output there, or None when too small or empty:
    (working image (3, h, w), valid (h, w), (fy, fx), output (7, s, s))."""
    data, (fy, fx) = to_working(nets.three_bands(block.data), block.gsd)
    h, w = data.shape[1:]
    if h < TUNING.min_work_px or w < TUNING.min_work_px:
        return None
    if block.valid.all():
        valid = np.ones((h, w), bool)
    else:
        valid = to_working(block.valid.astype(np.float32)[None], block.gsd)[0][0] > 0.5
    if valid.sum() < TUNING.min_valid_px:
        return None
    x = normalise(data, valid)
    t, b, l, r = _edge_pads(block)
    b += -(h + t + b) % MULTIPLE
    r += -(w + l + r) % MULTIPLE
    cv2 = nets.opencv()
    x = np.stack([cv2.copyMakeBorder(c, t, b, l, r, cv2.BORDER_REPLICATE) for c in x])[None]
    net = _net()
    net.setInput(x)
    out = net.forward()[0][:, t // STRIDE:, l // STRIDE:]
    return data, valid, (fy, fx), out


def _fresh(data, cx, cy, L, W, ang):
    """0-1: brighter and less green inside the box than in a ring of ground around it."""
    h, w = data.shape[1:]
    r = int(math.ceil(0.5 * math.hypot(L, W) + TUNING.fresh_crop_px))
    r0, r1, c0, c1 = max(0, int(cy) - r), min(h, int(cy) + r + 1), max(0, int(cx) - r), min(w, int(cx) + r + 1)
    if r1 <= r0 or c1 <= c0:
        return 0.0
    yy, xx = np.mgrid[r0:r1, c0:c1] + 0.5
    a = math.radians(ang)
    u = (xx - cx) * math.cos(a) - (yy - cy) * math.sin(a)
    v = (xx - cx) * math.sin(a) + (yy - cy) * math.cos(a)
    d = np.maximum(np.abs(u) - L / 2, np.abs(v) - W / 2)
    near, far = TUNING.fresh_ring_px
    inside, ring = d <= 0, (d > near) & (d <= far)
    if not inside.any() or not ring.any():
        return 0.0
    crop = data[:, r0:r1, c0:c1]
    lum = crop.mean(axis=0)
    li, lo = float(lum[inside].mean()), float(lum[ring].mean())
    fresh = float(np.clip(0.5 + (li - lo) / max(lo, 0.02) / TUNING.fresh_contrast, 0, 1))
    if not np.allclose(crop[0], crop[1]):     # colour: loss of green against the ground
        green = crop[1] - 0.5 * (crop[0] + crop[2])
        bare = float(green[ring].mean() - green[inside].mean()) / max(lo, 0.02)
        fresh = 0.5 * fresh + 0.5 * float(np.clip(bare / TUNING.fresh_green, 0, 1))
    return round(fresh, 3)


def _records(block, params, boxes, data, fy, fx):
    out = []
    g = math.sqrt(fx * fy) * block.gsd
    for cx, cy, L, W, ang, sc in boxes:
        Lm, Wm = L * g, W * g
        if Wm < params.min_size * TUNING.size_slack[0] or Lm > params.max_size * TUNING.size_slack[1]:
            continue
        a = math.radians(ang)
        u = np.array([math.cos(a), -math.sin(a)])      # (col, row) of the long axis
        v = np.array([math.sin(a), math.cos(a)])
        corners = []
        for su, sv in ((-1, -1), (1, -1), (1, 1), (-1, 1)):
            pc, pr = np.array([cx, cy]) + su * L / 2 * u + sv * W / 2 * v
            corners.append((float(pc * fx), float(pr * fy)))
        out.append(dict(corners=corners, length_m=round(Lm, 2), width_m=round(Wm, 2), area_m2=round(Lm * Wm, 1),
                        orientation_deg=round(ang % 180.0, 1), fresh_soil=_fresh(data, cx, cy, L, W, ang),
                        confidence=round(float(sc), 3)))
    return out


def detect_pits(block, params, keep=None):
    """Pits in one :class:`core.raster.Block` -> list of dicts (``corners`` in block pixels + fields).
    ``keep``: a list to which the block's heatmap is appended (see :func:`score_boxes`)."""
    r = _infer(block)
    if r is None:
        return []
    data, valid, (fy, fx), out = r
    if keep is not None:
        keep.append(((block.x0, block.y0), block.core, (valid, (fy, fx), _sigmoid(out[0]))))
    h, w = valid.shape
    boxes = [b for b in decode(out, params.threshold)
             if 0 <= int(b[1]) < h and 0 <= int(b[0]) < w and valid[int(b[1]), int(b[0])]]
    return _records(block, params, boxes, data, fy, fx)


def score_boxes(block, boxes, params, search_m=TUNING.score_search_m, heat=None):
    """Pit score (the heatmap, 0-1, best within ``search_m`` of the box centre) of given oriented boxes
    in one block: ``boxes`` are 4 corners each in block pixels (col, row); -inf for a box whose centre
    is outside the block's valid pixels. ``heat``: the block's (valid, (fy, fx), heatmap) kept by
    :func:`detect_pits` (else the network runs on the block)."""
    out = np.full(len(boxes), -np.inf)
    if heat is None:
        r = _infer(block)
        if r is None:
            return out
        heat = (r[1], r[2], _sigmoid(r[3][0]))
    valid, (fy, fx), hm = heat
    s0, s1 = hm.shape
    rad = search_m / WORK_GSD / STRIDE
    for k, cs in enumerate(boxes):
        c = np.asarray(cs, dtype=float).mean(axis=0)
        wc, wr = c[0] / fx, c[1] / fy                       # working (col, row)
        if not (0 <= int(wr) < valid.shape[0] and 0 <= int(wc) < valid.shape[1]) or not valid[int(wr), int(wc)]:
            continue
        gc, gr = wc / STRIDE - 0.5, wr / STRIDE - 0.5
        i0, i1 = max(0, int(math.floor(gr - rad))), min(s0, int(math.ceil(gr + rad)) + 1)
        j0, j1 = max(0, int(math.floor(gc - rad))), min(s1, int(math.ceil(gc + rad)) + 1)
        if i1 > i0 and j1 > j0:
            out[k] = float(hm[i0:i1, j0:j1].max())
    return out


def count_pits(raster, params=None, aoi=None, progress=None, cancelled=None, block=TUNING.block_px, keep=None):
    """Storage pits in ``raster`` (a :class:`core.raster.Raster`), streamed in blocks (``keep``: a list
    that receives every block's heatmap, for :func:`core.change.score_pits_at`).

    Returns dicts with ``geometry`` (4 map corners in ``raster.srs_wkt``) and the fields
    length_m, width_m, area_m2, orientation_deg (0-180, counter-clockwise from east, of
    the long side), fresh_soil (0-1) and confidence (0-1)."""
    params = (params or PitParams()).check()
    if raster.gsd > TUNING.max_gsd_m or params.min_size / raster.gsd < TUNING.min_pit_px:
        raise CargoWatchError(f'The image resolution ({raster.gsd:.2f} m/pixel) is too coarse to see pits of '
                              f'{params.min_size:g} m: at least ~{TUNING.min_pit_px:g} pixels a side are needed '
                              f'(use imagery of {min(1.0, params.min_size / 6):.1f} m/pixel or finer).')
    from .raster import scan    # (here: the rest of this module runs in the GDAL-free training venv too)
    _net()      # a missing OpenCV or model fails here, clearly, before any reading
    overlap = pit_overlap(raster.gsd, params)
    blk = max(block, 4 * overlap)
    return scan(raster, lambda b: detect_pits(b, params, keep), overlap=overlap, block=blk, aoi=aoi,
                progress=progress, cancelled=cancelled)
