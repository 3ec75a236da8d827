"""Training ground for the container network: random yard patches with exact labels (numpy + OpenCV, no GDAL).

Made to be varied rather than pretty. Each patch is drawn at a random sensor resolution (0.3-0.8 m) with
2x supersampling, given a random sensor (RGB, pan, odd white balance, muted colour, haze, blur, noise, JPEG), and
resampled to the detector's working resolution (core.containers.WORK_GSD), as the detector resamples a real block.

What is in a patch (each part random, many optional): ground of any pavement/soil/grass colour with slabs, stains,
painted slot outlines, road markings; blocks of touching containers at one orientation per block, 1-5 high, any
colour (near-black, navy, dark green, rust, grey, white, vivid), corrugated, some faded in part or with panel
joins across, on a slot grid or in rows of both sizes end to end, with seams and shadows cast by a sun
15-70 deg high from any azimuth (a height map is ray-marched, so tall stacks shade low ones, cranes shade
containers), placed with some slack, and in most patches seen 5-30 deg off nadir (tops shifted by their height,
the sides in view lit as the sun lights them); containers on rail flatcars and well cars (raised on their
decks, in yards of parallel tracks) and on a ship's deck (positives).
Look-alikes (negatives): RTG and STS cranes (legs, girders, their long shadows), trucks with box / curtain /
empty-chassis trailers, buses (roof units) in rows and herringbones (off nadir raised bodies, as wagons are), cars,
round tanks, warehouse roofs with skylight lattices, ships with hatch covers, rail tank/box/hopper wagons, yachts on
pontoons, town streets (cars and vans parked nose to tail, terraced houses with gable roofs, garden sheds), trees,
hedges and grass medians, marquee tents in rows (pyramid and gable roofs), water.

Labels: one per visible container top: centre (working px), long-axis angle (rad), class (0 = 20 ft, 1 = 40 ft).
"""
import math

import cv2
import numpy as np

WORK_GSD = 0.5
GSD_RANGE = (0.3, 0.8)   # sensor resolutions drawn (m)
LOOKALIKE_M2 = 150.0     # things drawn up to this size (m²) are look-alikes of a box (a 40 ft top is 30 m²)
SHADOW_NEAR_M = 15.0     # and shadows this close to a container (a 5-high stack's in a 45 deg sun: 13 m)
WHAT = ('ground', 'container', 'look-alike', 'larger thing', 'shadow near a container', 'other shadow')   # patch(what)
HARD = (2, 4)            # of WHAT: the look-alikes and stack shadows that training weighs as hard negatives
RAIL_SHARE = 0.3         # share of patches with a rail yard (loaded flatcars cast box-sized shadow strips)
ROWS_OF_ANY = 0.3        # share of blocks whose rows hold boxes of both sizes end to end, rows not aligned
L20, L40, WID, TIER = 6.058, 12.192, 2.438, 2.59

DARK = [(0.05, 0.05, 0.06), (0.06, 0.09, 0.20), (0.08, 0.16, 0.10), (0.20, 0.10, 0.06), (0.12, 0.12, 0.12),
        (0.10, 0.06, 0.05), (0.05, 0.10, 0.13)]
NAMED = [(0.10, 0.28, 0.55), (0.22, 0.45, 0.70), (0.08, 0.14, 0.38), (0.62, 0.12, 0.10), (0.50, 0.10, 0.12),
         (0.38, 0.20, 0.12), (0.45, 0.24, 0.16), (0.12, 0.42, 0.22), (0.82, 0.82, 0.80), (0.74, 0.75, 0.76),
         (0.50, 0.51, 0.52), (0.58, 0.58, 0.57), (0.85, 0.42, 0.10), (0.85, 0.72, 0.18), (0.60, 0.16, 0.42),
         (0.55, 0.30, 0.15), (0.30, 0.32, 0.35), (0.90, 0.90, 0.88)]


def rect(cx, cy, length, width, ang):
    """4 corners (m) of a rectangle centred at (cx, cy) with its long axis at ``ang`` (rad)."""
    c, s = math.cos(ang), math.sin(ang)
    hl, hw = length / 2, width / 2
    return np.array([(cx + u * hl * c - v * hw * s, cy + u * hl * s + v * hw * c)
                     for u, v in ((-1, -1), (1, -1), (1, 1), (-1, 1))])


def rand_colour(rng, dark_share=0.3):
    r = rng.random()
    if r < dark_share:
        c = np.array(DARK[rng.integers(len(DARK))])
    elif r < dark_share + 0.5:
        c = np.array(NAMED[rng.integers(len(NAMED))])
    else:
        c = rng.random(3) ** 1.5
    return np.clip(c * rng.uniform(0.8, 1.2) + rng.normal(0, 0.02, 3), 0.02, 0.97)


class Canvas:
    """Colour image + height map at resolution ``res`` (m/px) over ``size_m`` metres."""

    def __init__(self, size_m, res):
        self.res = res
        n = int(round(size_m / res))
        self.img = np.zeros((n, n, 3), np.float32)
        self.height = np.zeros((n, n), np.float32)
        self.n = n
        self.lean = np.zeros(2)    # off-nadir view: image shift (m) of a point 1 m above its base (see container)
        self.sun = (0.0, math.pi / 4)   # azimuth (clockwise from north) and elevation (rad)
        # what each pixel shows: 0 ground, 1 a container, 2 anything else of a container's size (look-alikes), 3 larger
        self.kind = np.zeros((n, n), np.uint8)
        self.what = 2                            # the kind that fill() draws (2 becomes 3 over LOOKALIKE_M2)

    def _px(self, poly):
        return np.round(np.asarray(poly) / self.res * 16).astype(np.int32).reshape(-1, 1, 2)

    def fill(self, poly, rgb, height=None):
        p = self._px(poly)
        cv2.fillPoly(self.img, [p], tuple(float(v) for v in rgb), lineType=cv2.LINE_AA, shift=4)
        if height is not None:
            cv2.fillPoly(self.height, [p], float(height), shift=4)
        cv2.fillPoly(self.kind, [p], self._what(cv2.contourArea(np.float32(poly))), shift=4)

    def circle(self, cx, cy, r, rgb, height=None, thickness=-1):
        centre, radius = (int(cx / self.res * 16), int(cy / self.res * 16)), int(r / self.res * 16)
        cv2.circle(self.img, centre, radius, tuple(float(v) for v in rgb), thickness, cv2.LINE_AA, 4)
        if height is not None:
            cv2.circle(self.height, centre, radius, float(height), thickness, 8, 4)
        cv2.circle(self.kind, centre, radius, self._what(math.pi * r * r), thickness, 8, 4)

    def _what(self, area_m2):
        return 3 if self.what == 2 and area_m2 > LOOKALIKE_M2 else self.what

    def mask(self, poly):
        m = np.zeros((self.n, self.n), np.uint8)
        cv2.fillPoly(m, [self._px(poly)], 1, shift=4)
        return m.astype(bool)

    def line(self, p0, p1, width_m, rgb, height=None):
        d = np.subtract(p1, p0)
        L = float(np.hypot(*d))
        if L < 1e-6:
            return
        mid = (np.add(p0, p1)) / 2
        self.fill(rect(mid[0], mid[1], L, width_m, math.atan2(d[1], d[0])), rgb, height)


def smooth_noise(rng, n, scale_px, amp):
    k = max(2, int(n / max(scale_px, 1)))
    z = rng.normal(0, 1, (k, k)).astype(np.float32)
    return cv2.resize(z, (n, n), interpolation=cv2.INTER_CUBIC) * amp


# --------------------------------------------------------------------------------------------------------------
# Ground
# --------------------------------------------------------------------------------------------------------------
GROUNDS = [(0.20, 0.20, 0.20), (0.30, 0.30, 0.29), (0.45, 0.45, 0.43), (0.55, 0.54, 0.50), (0.62, 0.60, 0.56),
           (0.40, 0.36, 0.30), (0.30, 0.34, 0.22), (0.15, 0.15, 0.16), (0.50, 0.42, 0.35), (0.70, 0.70, 0.68)]


def ground(cv, rng):
    base = np.array(GROUNDS[rng.integers(len(GROUNDS))]) * rng.uniform(0.8, 1.2) + rng.normal(0, 0.02, 3)
    n = cv.n
    cv.img[:] = np.clip(base, 0.03, 0.9)
    cv.img *= (1 + smooth_noise(rng, n, n / rng.uniform(2, 8), rng.uniform(0.02, 0.12)))[..., None]
    if rng.random() < 0.5:     # mottling of worn, patched pavement, 5-40 m across
        cv.img *= (1 + smooth_noise(rng, n, rng.uniform(5, 40) / cv.res, rng.uniform(0.03, 0.15)))[..., None]
    cv.img *= (1 + rng.normal(0, rng.uniform(0.005, 0.04), (n, n)).astype(np.float32))[..., None]
    S = n * cv.res
    if rng.random() < 0.5:      # concrete slabs
        step = rng.uniform(4, 8)
        ang = rng.uniform(0, math.pi)
        c = base * rng.uniform(0.8, 0.95)
        for k in np.arange(-S, 2 * S, step):
            for a in (ang, ang + math.pi / 2):
                d = np.array([math.cos(a), math.sin(a)])
                nrm = np.array([-d[1], d[0]])
                p = np.array([S / 2, S / 2]) + nrm * (k - S / 2)
                cv.line(p - d * S, p + d * S, 0.08, c)
    for _ in range(rng.integers(0, 12)):   # stains, patches of other surface
        x, y = rng.uniform(0, S, 2)
        cv.fill(rect(x, y, rng.uniform(3, 30), rng.uniform(2, 20), rng.uniform(0, math.pi)),
                np.clip(base * rng.uniform(0.6, 1.3), 0, 1))


def markings(cv, rng, ang, region):
    """Painted slot outlines and lane lines (negatives that look like container outlines)."""
    x0, y0, x1, y1 = region
    col = (0.85, 0.85, 0.8) if rng.random() < 0.7 else (0.85, 0.75, 0.2)
    L = L40 + rng.uniform(0.2, 1.0) if rng.random() < 0.5 else L20 + rng.uniform(0.2, 0.8)
    W = WID + rng.uniform(0.2, 0.6)
    c, s = math.cos(ang), math.sin(ang)
    for i in range(rng.integers(2, 10)):
        for j in range(rng.integers(1, 4)):
            u, v = j * (L + 1.0), i * W
            cx, cy = (x0 + x1) / 2 + u * c - v * s, (y0 + y1) / 2 + u * s + v * c
            p = rect(cx, cy, L, W, ang)
            for k in range(4):
                cv.line(p[k], p[(k + 1) % 4], rng.uniform(0.1, 0.2), col)


# --------------------------------------------------------------------------------------------------------------
# Containers (positives)
# --------------------------------------------------------------------------------------------------------------
def container(cv, rng, cx, cy, length, ang, rgb, tiers, labels, cls, deck=0, base=0.0):
    """One container top, ``tiers`` high on ground (or a ship's deck) at ``base`` metres; ``deck``: on a ship.
    Seen off nadir (``cv.lean``), the top is shifted by its height above the base times the lean, and the stack's
    sides in view, one box per tier in its own colour and shade, fill the band between its foot and its top."""
    cv.what = 1
    shift = cv.lean * tiers * TIER
    if np.any(shift):
        shade = wall_light(cv, rng)
        foot = rect(cx, cy, length, WID, ang)
        for i in range(tiers):
            side = rgb if i == tiers - 1 or rng.random() < 0.4 else rand_colour(rng)
            ends = np.concatenate([foot + cv.lean * i * TIER, foot + cv.lean * (i + 1) * TIER])
            hull = cv2.convexHull(ends.astype(np.float32))[:, 0]
            cv.fill(hull, side * shade, base + (i + 0.5) * TIER)     # half heights: never a top's own height
        cx, cy = cx + shift[0], cy + shift[1]
    cv.fill(rect(cx, cy, length, WID, ang), rgb, base + tiers * TIER)
    c, s = math.cos(ang), math.sin(ang)
    if rng.random() < 0.2:   # weathered: the part from one end to a cut faded, dirty or repainted
        cut = rng.uniform(0.2, 0.8) * length
        u = -length / 2 + cut / 2 if rng.random() < 0.5 else length / 2 - cut / 2
        cv.fill(rect(cx + u * c, cy + u * s, cut, WID, ang), rgb * rng.uniform(0.7, 1.25))
    if rng.random() < 0.7:   # roof frame / corrugation: a darker rim and a few cross lines
        dark = rgb * rng.uniform(0.6, 0.85)
        p = rect(cx, cy, length - 0.3, WID - 0.3, ang)
        for k in range(4):
            cv.line(p[k], p[(k + 1) % 4], 0.12, dark)
        if rng.random() < 0.5:
            for u in np.arange(-length / 2 + 0.8, length / 2, rng.uniform(0.6, 1.5)):
                q = np.array([cx + u * c, cy + u * s])
                nrm = np.array([-s, c]) * (WID / 2 - 0.2)
                cv.line(q - nrm, q + nrm, 0.08, rgb * rng.uniform(0.8, 1.15))
    if rng.random() < 0.35:  # a few roof panel joins or dents: lines across the top, faint to dark, anywhere
        nrm = np.array([-s, c]) * WID / 2
        for u in rng.uniform(-length / 2 + 0.6, length / 2 - 0.6, int(rng.integers(1, 5))):
            q = np.array([cx + u * c, cy + u * s])
            cv.line(q - nrm, q + nrm, rng.uniform(0.08, 0.25), rgb * rng.uniform(0.65, 1.3))
    if rng.random() < 0.15:  # dirt / rust patch
        u = rng.uniform(-length / 3, length / 3)
        cv.fill(rect(cx + u * c, cy + u * s, rng.uniform(1, 3), rng.uniform(0.5, 1.8), ang),
                rgb * rng.uniform(0.6, 1.3))
    labels.append((cx, cy, ang, cls, base + tiers * TIER, deck))
    cv.what = 2


def wall_light(cv, rng):
    """Brightness of the stack sides in view relative to the tops: they face the sensor (against the lean); lit by
    the sun when it stands on that side (vertical walls take cot(elevation) times a top's light per unit of facing),
    else only by the sky, as shadows are."""
    az, elev = cv.sun
    facing = -cv.lean / np.hypot(*cv.lean) @ np.array([math.sin(az), -math.cos(az)])   # toward the sun, y down
    sky = rng.uniform(0.22, 0.55)
    return sky + (1 - sky) * min(1.4, max(0.0, facing) / math.tan(elev))


def block(cv, rng, cx, cy, ang, labels, gaps=None):
    """Rows x bays of containers (one orientation), touching or spaced, stacks 1-5 high, one or many colours."""
    rows = int(rng.integers(1, 11))
    bays = int(rng.integers(1, 9))
    big = rng.random() < 0.5
    length = L40 if big else L20
    side_gap = rng.uniform(0.03, 0.45) if gaps is None else gaps
    end_gap = rng.uniform(0.05, 1.5)
    if gaps is None and rng.random() < 0.3:    # spaced rows and bays (chassis, reach-stacker and empty depots)
        side_gap, end_gap = rng.uniform(0.8, 6.0), rng.uniform(0.5, 5.0)
    mode = rng.random()
    palette = [rand_colour(rng) for _ in range(int(rng.integers(1, 6)))]
    max_t = int(rng.integers(1, 6))
    c, s = math.cos(ang), math.sin(ang)
    mixed = rng.random() < 0.25
    jitter, twist = rng.uniform(0, 0.25) * (rng.random() < 0.6), rng.uniform(0, 0.012)   # placement slack (m, rad)

    def at(u, v):        # a box centre u along and v across the block, with its slack
        return cx + u * c - v * s + rng.normal(0, jitter), cy + u * s + v * c + rng.normal(0, jitter)

    runs = rng.random() < 0.35     # a line's boxes grouped: runs of one colour along a row, nearly alike
    shade = (0.97, 1.03) if runs else (0.9, 1.1)
    last = {}

    def colour(r):       # from the block's palette, or any colour; in runs, often row r's last colour again
        if not (runs and r in last and rng.random() < 0.8):
            last[r] = palette[rng.integers(len(palette))] if mode < 0.8 else rand_colour(rng)
        return last[r]

    boxes = []
    if rng.random() < ROWS_OF_ANY:   # rows filled end to end with boxes of both sizes, each row from its own start
        span = bays * (length + end_gap)
        for r in range(rows):
            v = (r - (rows - 1) / 2) * (WID + side_gap)
            u = -span / 2 + rng.uniform(0, L20 + end_gap)
            while True:
                L = L40 if rng.random() < 0.5 else L20
                if u + L > span / 2:
                    break
                if rng.random() > 0.08:
                    x, y = at(u + L / 2, v)
                    rgb = colour(r)
                    boxes.append((x, y, L, ang + rng.normal(0, twist), rgb * rng.uniform(*shade),
                                  int(rng.integers(1, max_t + 1)), int(L == L40)))
                u += L + end_gap
    else:                            # a slot grid: rows x bays
        for b in range(bays):
            for r in range(rows):
                if rng.random() < 0.08:
                    continue          # an empty slot
                L = (L40 if rng.random() < 0.5 else L20) if mixed else length
                u = (b - (bays - 1) / 2) * (length + end_gap)
                v = (r - (rows - 1) / 2) * (WID + side_gap)
                x, y = at(u, v)
                a = ang + rng.normal(0, twist)
                tiers = int(rng.integers(1, max_t + 1))
                rgb = colour(r)
                if mixed and L == L20 and length == L40:   # two 20 ft in a 40 ft slot, often the line's own colour
                    for h in (-1, 1):
                        o = h * (L20 / 2 + 0.04)
                        boxes.append((x + o * c, y + o * s, L20, a, rgb if rng.random() < 0.5 else rand_colour(rng),
                                      tiers, 0))
                else:
                    boxes.append((x, y, L, a, rgb * rng.uniform(*shade), tiers, int(L == L40)))
    for x, y, L, a, rgb, tiers, cls in sorted(boxes, key=lambda k: -(k[0] * cv.lean[0] + k[1] * cv.lean[1])):
        container(cv, rng, x, y, L, a, rgb, tiers, labels, cls)     # far from the sensor first: near ones hide them


# --------------------------------------------------------------------------------------------------------------
# Look-alikes (negatives) and context
# --------------------------------------------------------------------------------------------------------------
def rtg(cv, rng, cx, cy, ang, span):
    """Rubber-tyred gantry: girders across the span and beams along it up high; at ground level, on some, the sill
    beams over the wheels (long boxes in the crane's colour), a cab or engine house: box-sized, not boxes. Off nadir
    the legs show as bars from their feet to the top, which is shifted by its height."""
    col = np.array([(0.85, 0.75, 0.15), (0.8, 0.8, 0.78), (0.7, 0.15, 0.1), (0.2, 0.35, 0.6)][rng.integers(4)])
    h = rng.uniform(15, 22)
    c, s = math.cos(ang), math.sin(ang)
    d = np.array([c, s])
    nrm = np.array([-s, c])
    base = np.array([cx, cy])
    gl = rng.uniform(6, 14)
    feet = [base + nrm * side * span / 2 + d * e * gl / 2 for side in (-1, 1) for e in (-1, 1)]
    for side in (-1, 1):
        p = base + nrm * side * span / 2
        if rng.random() < 0.6:      # sill beam over the wheel bogies, and the legs' feet
            cv.fill(rect(p[0], p[1], gl + rng.uniform(0, 4), rng.uniform(1.0, 2.4), ang),
                    col * rng.uniform(0.8, 1.1), rng.uniform(1.0, 2.5))
    top = cv.lean * h
    _legs(cv, rng, feet, top, rng.uniform(0.8, 1.5), col, h)
    for side in (-1, 1):
        p = base + nrm * side * span / 2 + top
        cv.line(p - gl / 2 * d, p + gl / 2 * d, rng.uniform(0.8, 1.5), col, h)
    for e in (-1, 1):
        p = base + e * gl / 2 * d + top
        cv.line(p - nrm * span / 2, p + nrm * span / 2, rng.uniform(1.0, 2.0), col, h)
    if rng.random() < 0.7:          # the trolley on the girders
        p = base + nrm * rng.uniform(-0.35, 0.35) * span + top * (h + 1.5) / h
        cv.fill(rect(p[0], p[1], gl + rng.uniform(-1, 1), rng.uniform(3, 6), ang),
                col * rng.uniform(0.8, 1.1) if rng.random() < 0.6 else np.array([0.85, 0.85, 0.82]), h + 1.5)
    if rng.random() < 0.5:          # engine house / cab beside one leg
        p = base + nrm * rng.choice([-1, 1]) * (span / 2 - rng.uniform(1.5, 3))
        raised(cv, rng, rect(p[0], p[1], rng.uniform(3, 7), rng.uniform(2, 3), ang), rng.uniform(4, 10),
               col if rng.random() < 0.5 else np.array([0.85, 0.85, 0.82]))


def _legs(cv, rng, feet, top, width, col, h):
    """Vertical legs of height ``h`` seen off nadir: bars from each foot to the foot shifted by ``top`` (the lean
    times ``h``), their side in view shaded; nothing at nadir."""
    if np.hypot(*top) < 0.5:
        return
    for f in feet:
        cv.line(f, f + top, width, col * wall_light(cv, rng), h / 2)


def sts(cv, rng, cx, cy, ang):
    """Ship-to-shore crane: the boom and its cross members up high over the quay and the water, seen shifted by its
    height off nadir, with the portal's legs as bars."""
    col = np.array([(0.8, 0.2, 0.15), (0.85, 0.85, 0.82), (0.2, 0.4, 0.7)][rng.integers(3)])
    h = rng.uniform(40, 70)
    c, s = math.cos(ang), math.sin(ang)
    d = np.array([c, s])
    nrm = np.array([-s, c])
    base = np.array([cx, cy])
    boom = rng.uniform(50, 90)
    top = cv.lean * h
    gauge = rng.uniform(15, 30)
    _legs(cv, rng, [base + d * side * 8 + nrm * e * gauge / 2 for side in (-1, 1) for e in (-1, 1)],
          cv.lean * h * 0.6, rng.uniform(1.5, 2.5), col, h * 0.6)
    for side in (-1, 1):
        p = base + d * side * 8 + top
        cv.line(p - nrm * boom / 2, p + nrm * boom / 2, rng.uniform(1.2, 2.5), col, h)
    for e in np.linspace(-boom / 2, boom / 2, int(rng.integers(2, 5))):
        p = base + nrm * e + top
        cv.line(p - d * 9, p + d * 9, 1.2, col, h)


def bus_livery(rng):
    return np.array([(0.9, 0.75, 0.1), (0.9, 0.9, 0.88), (0.8, 0.2, 0.15), (0.2, 0.4, 0.7), (0.2, 0.6, 0.3)]
                    [rng.integers(5)]) * rng.uniform(0.85, 1.1)


def vehicle(cv, rng, cx, cy, ang, kind, livery=None):
    """A car, bus or truck; off nadir a bus's or truck's bodies are raised ones (their sides in view, tops shifted)."""
    c, s = math.cos(ang), math.sin(ang)
    d = np.array([c, s])

    def body(poly, rgb, h):
        raised(cv, rng, poly, h, np.asarray(rgb, float))

    def on_top(poly, rgb, h):       # a detail on a body's top, shifted with it
        cv.fill(poly + cv.lean * h, rgb, h)

    def line_on_top(p0, p1, width, rgb, h):
        cv.line(p0 + cv.lean * h, p1 + cv.lean * h, width, rgb, h)

    if kind == 'car':
        rgb = rand_colour(rng, 0.2)
        cv.fill(rect(cx, cy, rng.uniform(4.0, 5.0), rng.uniform(1.7, 1.95), ang), rgb, 1.5)
        cv.fill(rect(cx + 0.2 * c, cy + 0.2 * s, 1.8, 1.4, ang), rgb * 0.5, 1.5)
        return
    if kind == 'bus':
        rgb = (bus_livery(rng) if livery is None else livery) * rng.uniform(0.9, 1.1)
        L, W = rng.uniform(9.0, 13.5), rng.uniform(2.3, 2.6)
        if rng.random() < 0.35:     # a school bus: a hood in front, lower and narrower, a light roof
            hood = rng.uniform(1.2, 2.0)
            p = np.array([cx, cy]) + d * (L / 2 - hood / 2)
            body(rect(p[0], p[1], hood, W - 0.3, ang), rgb, 1.6)
            body(rect(cx - hood / 2 * c, cy - hood / 2 * s, L - hood, W, ang), rgb, 3.2)
            on_top(rect(cx - hood / 2 * c, cy - hood / 2 * s, L - hood - 0.4, W - 0.5, ang),
                   np.clip(rgb * 0.4 + 0.55, 0, 1) if rng.random() < 0.6 else rgb, 3.2)
            L -= hood
        else:
            body(rect(cx, cy, L, W, ang), rgb, 3.2)
            if rng.random() < 0.5:                # windscreen end
                p = np.array([cx, cy]) + d * (L / 2 - 0.4)
                on_top(rect(p[0], p[1], 0.8, W - 0.2, ang), (0.1, 0.12, 0.15), 3.2)
        for _ in range(rng.integers(1, 4)):       # roof units, hatches
            u = rng.uniform(-L / 3, L / 3)
            on_top(rect(cx + u * c, cy + u * s, rng.uniform(0.6, 2.5), rng.uniform(0.6, 1.8), ang),
                   np.array([0.6, 0.6, 0.62]) * rng.uniform(0.5, 1.3), 3.5)
        return
    # trucks: cab + trailer (box, curtain, tanker or empty chassis), or a tractor alone (a dark chassis behind the
    # cab: a box-sized look-alike)
    cab = rand_colour(rng, 0.2)
    if rng.random() < 0.2:
        cl, ch = rng.uniform(2.2, 3.2), rng.uniform(2.8, 4.2)
        p = np.array([cx, cy]) + d * ch / 2
        body(rect(p[0], p[1], cl, 2.45, ang), cab, 3.0)
        q = np.array([cx, cy]) - d * cl / 2
        frame = np.array([0.1, 0.1, 0.1]) * rng.uniform(0.6, 2.0)
        body(rect(q[0], q[1], ch, rng.uniform(2.2, 2.5), ang), frame, 1.1)
        w = q - d * ch * rng.uniform(0.0, 0.25)
        on_top(rect(w[0], w[1], 1.3, 1.3, ang), frame * rng.uniform(1.5, 3), 1.2)    # fifth wheel
        return
    tl = rng.uniform(12.0, 13.8) if rng.random() < 0.7 else rng.uniform(6.5, 9)
    p = np.array([cx, cy]) + d * (tl / 2 + 1.6)
    body(rect(p[0], p[1], rng.uniform(2.2, 3.2), 2.45, ang), cab, 3.0)
    t = rng.random()
    centre, across = np.array([cx, cy]), np.array([-s, c])
    if t < 0.3:     # empty chassis: a thin frame
        frame = np.array([0.12, 0.12, 0.12]) * rng.uniform(0.7, 2.5)
        for o in (-0.5, 0.5):
            q = centre + across * o
            line_on_top(q - d * tl / 2, q + d * tl / 2, 0.25, frame, 1.2)
        line_on_top(centre - d * tl / 2, centre + d * tl / 2, 0.2, frame, 1.2)
    elif t < 0.45:  # tanker
        body(rect(cx, cy, tl, 2.4, ang), np.array([0.75, 0.76, 0.78]) * rng.uniform(0.6, 1.2), 3.5)
        line_on_top(centre - d * tl / 2, centre + d * tl / 2, 0.5, np.array([0.95, 0.95, 0.95]), 3.6)
    else:           # box / curtain-side trailer
        rgb = rand_colour(rng, 0.15) if rng.random() < 0.5 else np.array([0.85, 0.85, 0.83])
        body(rect(cx, cy, tl, 2.5, ang), rgb, 4.0)
        if rng.random() < 0.5:
            for u in np.arange(-tl / 2 + 1, tl / 2, 1.2):
                q = centre + d * u
                line_on_top(q - across * 1.2, q + across * 1.2, 0.1, rgb * 0.85, 4.0)


def parking_rows(cv, rng, x, y, ang, kind):
    """A row of vehicles side by side, or (buses and trucks) a depot's double herringbone: two rows nose to nose."""
    n = int(rng.integers(3, 16 if kind == 'car' else 30))
    herring = rng.random() < 0.3
    double = kind != 'car' and rng.random() < 0.4
    pitch = rng.uniform(3.0, 4.5) if kind != 'car' else rng.uniform(2.3, 3.0)
    c, s = math.cos(ang), math.sin(ang)
    tilt = rng.uniform(0.5, 0.9) if herring else 0.0
    pitch /= math.cos(tilt)       # the same gap between neighbours, measured across them
    livery = bus_livery(rng) if kind == 'bus' and rng.random() < 0.7 else None     # a fleet's one colour
    for side in ((1, -1) if double else (1,)):
        off = side * rng.uniform(7.2, 8.5) if double else 0.0     # each row's centre line from the middle
        for i in range(n):
            if rng.random() < 0.15:
                continue
            u = i * pitch
            a = ang + side * (math.pi / 2 + (tilt if herring else rng.normal(0, 0.03)))
            vx, vy = x + u * c - off * s, y + u * s + off * c
            vehicle(cv, rng, vx, vy, a, kind, livery)
            if kind != 'car' and rng.random() < 0.5:   # painted bay lines between them
                q = np.array([vx + pitch / 2 * c, vy + pitch / 2 * s])
                dd = np.array([math.cos(a), math.sin(a)]) * 7
                cv.line(q - dd, q + dd, 0.12, (0.85, 0.85, 0.8))


def tank(cv, rng, cx, cy):
    r = rng.uniform(4, 20)
    h = rng.uniform(8, 20)
    col = np.array([0.85, 0.85, 0.84]) * rng.uniform(0.7, 1.1)
    cv.circle(cx, cy, r, col, h)
    cv.circle(cx, cy, r * 0.5, col * 0.9, thickness=2)


def warehouse(cv, rng, cx, cy, ang):
    L, W = rng.uniform(25, 90), rng.uniform(15, 50)
    rgb = np.array(GROUNDS[rng.integers(len(GROUNDS))]) * rng.uniform(0.8, 1.4) if rng.random() < 0.6 \
        else rand_colour(rng, 0.3)
    h = rng.uniform(6, 15)
    cv.fill(rect(cx, cy, L, W, ang), np.clip(rgb, 0, 0.95), h)
    c, s = math.cos(ang), math.sin(ang)
    if rng.random() < 0.6:    # skylight lattice: rows of bright or dark rectangles
        sl, sw = rng.uniform(2, 7), rng.uniform(1.0, 2.5)
        col = np.array([0.9, 0.92, 0.95]) if rng.random() < 0.6 else np.array([0.2, 0.25, 0.3])
        for u in np.arange(-L / 2 + sl, L / 2 - sl / 2, sl + rng.uniform(1, 4)):
            for v in np.arange(-W / 2 + 2, W / 2 - 1, rng.uniform(3.5, 7)):
                cv.fill(rect(cx + u * c - v * s, cy + u * s + v * c, sl, sw, ang), col, h + 0.3)
    elif rng.random() < 0.5:  # ridges
        for v in np.arange(-W / 2, W / 2, rng.uniform(2, 6)):
            q = np.array([cx - v * s, cy + v * c])
            cv.line(q - np.array([c, s]) * L / 2, q + np.array([c, s]) * L / 2, 0.2, rgb * 0.75)


def ship(cv, rng, cx, cy, ang, labels, with_containers):
    L, W = rng.uniform(80, 200), rng.uniform(14, 32)
    c, s = math.cos(ang), math.sin(ang)
    d = np.array([c, s])
    nrm = np.array([-s, c])
    hull = rand_colour(rng, 0.4)
    p = np.array([cx, cy])
    poly = [p - d * L / 2 - nrm * W / 2, p + d * (L / 2 - W) - nrm * W / 2, p + d * L / 2,
            p + d * (L / 2 - W) + nrm * W / 2, p - d * L / 2 + nrm * W / 2]
    top = rng.uniform(3, 12)                    # freeboard: hull top above the water
    cv.fill(poly, hull, top)
    deck = np.array([0.35, 0.2, 0.15]) * rng.uniform(0.6, 1.6) if rng.random() < 0.5 else \
        (hull * 0.8 if rng.random() < 0.5 else np.full(3, rng.uniform(0.2, 0.6)))
    cv.fill(rect(cx - c * W / 2, cy - s * W / 2, L - W - 4, W - 2, ang), deck, top + 0.5)
    aft = rng.random() < 0.8                    # the bridge aft (else midships)
    bridge = p - d * (L / 2 - 8) if aft else p
    cv.fill(rect(bridge[0], bridge[1], 8, W - 2, ang), np.array([0.9, 0.9, 0.88]) * rng.uniform(0.7, 1.05), top + 16)
    covers = np.arange(-L / 2 + 18, L / 2 - W - 2, rng.uniform(13, 22))
    hc = rand_colour(rng, 0.3)
    for u in covers:
        q = p + d * u
        if not aft and abs(u) < 10:
            continue
        if with_containers and rng.random() < 0.7:
            # containers along the hull, rows across the beam, stacks 1-5 high on the hatch covers
            n = int((W - 4) // (WID + 0.1))
            clen = L40 if rng.random() < 0.6 else L20
            for k in range(n):
                v = (k - (n - 1) / 2) * (WID + 0.1)
                qq = q + nrm * v
                container(cv, rng, qq[0], qq[1], clen, ang, rand_colour(rng), int(rng.integers(1, 6)), labels,
                          int(clen == L40), 1, top + 1.0)
        else:
            cv.fill(rect(q[0], q[1], rng.uniform(10, 13), W - 5, ang), hc * rng.uniform(0.9, 1.1), top + 1.0)
            for v in np.arange(-(W - 5) / 2 + 1, (W - 5) / 2, rng.uniform(1.5, 3)):
                qq = q + nrm * v
                cv.line(qq - d * 5, qq + d * 5, 0.15, hc * 0.7, top + 1.0)


def raised(cv, rng, poly, h, rgb, base=0.0):
    """A body of height ``h`` on ``base`` (its top ``poly`` as seen at nadir): off nadir its side in view (shaded as
    walls are) fills the band from its foot to its top, which is drawn shifted by its height. Returns that shift."""
    shift = cv.lean * (base + h)
    if np.any(shift):
        foot = poly + cv.lean * base
        hull = cv2.convexHull(np.concatenate([foot, poly + shift]).astype(np.float32))[:, 0]
        cv.fill(hull, rgb * wall_light(cv, rng), base + h / 2)
    cv.fill(poly + shift, rgb, base + h)
    return shift


def wagon(cv, rng, cx, cy, ang, labels, loaded=True):
    """One rail wagon; seen off nadir its side shows and its top (or its load) shifts with its height."""
    c, s = math.cos(ang), math.sin(ang)
    t = rng.random()
    L = rng.uniform(14, 20)
    if t < 0.4:   # flatcar (deck ~1.2 m) or well car (~0.3 m), maybe with containers on its deck
        deck = rng.uniform(0.3, 1.3)
        shift = raised(cv, rng, rect(cx, cy, L, 2.7, ang), deck, np.array([0.25, 0.2, 0.18]) * rng.uniform(0.6, 1.5))
        cx, cy = cx + shift[0], cy + shift[1]          # the load's foot: on the deck, shifted with it
        if loaded and rng.random() < 0.75:
            if rng.random() < 0.5:
                container(cv, rng, cx, cy, L40, ang, rand_colour(rng), 1, labels, 1, base=deck)
            else:
                for h in (-1, 1):
                    o = h * (L20 / 2 + 0.2)
                    container(cv, rng, cx + o * c, cy + o * s, L20, ang, rand_colour(rng), 1, labels, 0, base=deck)
    elif t < 0.6:   # tank car
        col = np.array([0.08, 0.08, 0.08]) * rng.uniform(0.8, 6)
        shift = raised(cv, rng, rect(cx, cy, L, 3.0, ang), 4, col)
        q = np.array([cx, cy]) + shift
        cv.line(q - np.array([c, s]) * L / 2, q + np.array([c, s]) * L / 2, 0.6, np.clip(col * 1.6 + 0.05, 0, 1), 4.2)
    elif t < 0.8:   # box car, 12.5-20 m (as long as a 40 ft box on a flatcar, or longer)
        rgb = rand_colour(rng, 0.3) if rng.random() < 0.7 else np.array([0.85, 0.85, 0.83]) * rng.uniform(0.85, 1.1)
        L = rng.uniform(12.5, 20)
        shift = raised(cv, rng, rect(cx, cy, L, 3.0, ang), 4.3, rgb)
        q = np.array([cx, cy]) + shift
        cv.line(q - np.array([c, s]) * L / 2, q + np.array([c, s]) * L / 2, 0.3, rgb * 1.2, 4.4)
    else:           # hopper
        rgb = rand_colour(rng, 0.3)
        shift = raised(cv, rng, rect(cx, cy, L, 3.0, ang), 3.8, rgb)
        for u in np.linspace(-L / 3, L / 3, 3):
            cv.fill(rect(cx + u * c + shift[0], cy + u * s + shift[1], 3.5, 2.2, ang), rgb * 0.5, 3.9)
    return L


def train(cv, rng, x, y, ang, labels, loaded=True):
    """A rail yard: 1-8 parallel tracks 4.5-6 m apart, most with a train (the tracks farthest from the sensor
    first: nearer wagons hide them)."""
    c, s = math.cos(ang), math.sin(ang)
    d = np.array([c, s])
    nrm = np.array([-s, c])
    S = cv.n * cv.res
    n = int(rng.integers(1, 9)) if rng.random() < 0.7 else 1
    offsets = np.arange(n) * rng.uniform(4.5, 6.0)
    for v in offsets:             # rails first: wagons stand on them
        p = np.array([x, y]) + nrm * v
        for o in (-0.75, 0.75):
            cv.line(p - d * S * 2 + nrm * o, p + d * S * 2 + nrm * o, 0.12, (0.55, 0.55, 0.56))
    for v in sorted(offsets, key=lambda v: -(nrm @ cv.lean) * v):
        p = np.array([x, y]) + nrm * v
        if n > 1 and rng.random() < 0.2:
            continue              # an empty track
        u = -S + rng.uniform(0, 20)
        while u < S:
            q = p + d * u
            L = wagon(cv, rng, q[0], q[1], ang, labels, loaded) if rng.random() < 0.85 else 15
            u += L + rng.uniform(0.8, 1.5)


def town(cv, rng, x, y, ang):
    """A street of a town (negatives): cars and vans parked nose to tail along both kerbs (a row of boxes like a
    train of containers), terraced houses whose gable roofs have a lit and a shaded slope, garden sheds."""
    c, s = math.cos(ang), math.sin(ang)
    d, nrm, p = np.array([c, s]), np.array([-s, c]), np.array([x, y])
    S = cv.n * cv.res
    road = rng.uniform(6, 12)
    cv.line(p - d * S, p + d * S, road, np.array([0.22, 0.22, 0.23]) * rng.uniform(0.7, 1.8))
    roof = np.array([(0.55, 0.22, 0.15), (0.35, 0.33, 0.33), (0.18, 0.18, 0.2), (0.45, 0.3, 0.22)]
                    [rng.integers(4)]) * rng.uniform(0.7, 1.3)
    for side in (-1, 1):
        u = -S
        while u < S:                                  # parked cars and vans
            L = rng.uniform(4.0, 5.0) if rng.random() < 0.8 else rng.uniform(5.0, 6.8)
            u += L + rng.uniform(0.5, 2.5)
            if rng.random() < 0.8:
                q = p + d * u + nrm * side * (road / 2 - 1.2)
                cv.fill(rect(q[0], q[1], L, rng.uniform(1.75, 2.1), ang + rng.normal(0, 0.03)),
                        rand_colour(rng, 0.25), 1.6)
        depth, front = rng.uniform(8, 12), road / 2 + rng.uniform(2, 8)
        u = -S
        while u < S:                                  # terraced houses: two roof slopes each
            w = rng.uniform(5, 8)
            u += w
            q = p + d * u + nrm * side * (front + depth / 2)
            h = rng.uniform(7, 10)
            col = roof * rng.uniform(0.9, 1.1)
            for k, lit in ((-1, rng.uniform(0.6, 0.8)), (1, rng.uniform(1.0, 1.2))):
                qq = q + nrm * k * depth / 4
                cv.fill(rect(qq[0], qq[1], w - 0.15, depth / 2, ang), np.clip(col * lit, 0, 1), h)
            if rng.random() < 0.4:                    # a shed at the bottom of the garden
                qq = q + nrm * side * (depth / 2 + rng.uniform(4, 12)) + d * rng.uniform(-2, 2)
                cv.fill(rect(qq[0], qq[1], rng.uniform(2, 5), rng.uniform(2, 3.5), ang + rng.normal(0, 0.2)),
                        rand_colour(rng, 0.4), 2.5)


def crown(cv, cx, cy, r, rgb, height):
    """A round crown of radius ``r`` m (a tree, a hedge's bush) in ``rgb``, ``height`` m high."""
    cv.circle(cx, cy, r, rgb, height)


def tree(cv, rng, cx, cy):
    r = rng.uniform(1.5, 5)
    col = np.array([0.08, 0.18, 0.07]) * rng.uniform(0.6, 1.6)
    crown(cv, cx, cy, r, col, rng.uniform(4, 12))


def hedges(cv, rng, cx, cy, ang):
    """Negatives: hedges and grass medians along a road, 1-4 parallel: long dark-green strips a box's width
    across (clipped hedges stand 1-3 m high and cast a shadow; medians lie flat with a pale kerb)."""
    c, s = math.cos(ang), math.sin(ang)
    d, nrm = np.array([c, s]), np.array([-s, c])
    gap = rng.uniform(4, 15)
    for k in range(int(rng.integers(1, 5))):
        p = np.array([cx, cy]) + nrm * gap * k + d * rng.normal(0, 3)
        L, w = rng.uniform(8, 60), rng.uniform(1.2, 3.2)
        col = np.array([0.07, 0.15, 0.06]) * rng.uniform(0.6, 1.8) + rng.uniform(0, 0.06)
        if rng.random() < 0.5:                      # a flat grass median with kerbs
            cv.fill(rect(p[0], p[1], L + 0.4, w + 0.4, ang), np.full(3, rng.uniform(0.5, 0.8)), 0.15)
            cv.fill(rect(p[0], p[1], L, w, ang), col, 0.15)
        else:                                       # a hedge: overlapping crowns along the line
            ht = rng.uniform(1, 3)
            for u in np.arange(-L / 2, L / 2, w * 0.4):
                q = p + d * u + nrm * rng.normal(0, 0.1)
                crown(cv, q[0], q[1], w / 2 * rng.uniform(0.85, 1.1), col * rng.uniform(0.9, 1.1), ht)


def tents(cv, rng, x, y, ang, sun_az):
    """Negatives: marquees and market stalls in a row or a grid: white or pale roofs 3-12 m across, pyramid (four
    facets) or gable (two), each facet as bright as it faces the sun, 2.5-5 m high."""
    c, s = math.cos(ang), math.sin(ang)
    d, nrm = np.array([c, s]), np.array([-s, c])
    size, depth = rng.uniform(3, 12), rng.uniform(3, 12)
    gap = rng.uniform(0, 1.5)
    base = np.full(3, rng.uniform(0.75, 0.95)) if rng.random() < 0.7 else rand_colour(rng, 0.1)
    pyramid, h = rng.random() < 0.5, rng.uniform(2.5, 5)
    sun = math.atan2(-math.cos(sun_az), math.sin(sun_az))      # toward the sun in image axes (as shadows() has it)
    rows = int(rng.integers(1, 4))
    for i in range(int(rng.integers(1, 7))):
        for j in range(rows):
            q = np.array([x, y]) + d * i * (size + gap) + nrm * j * (depth + gap)
            corners = [q + d * u * size / 2 + nrm * v * depth / 2 for u, v in ((-1, -1), (1, -1), (1, 1), (-1, 1))]
            facets = ([[q, corners[k], corners[(k + 1) % 4]] for k in range(4)] if pyramid else
                      [[q - d * size / 2, q + d * size / 2, corners[2], corners[3]],
                       [q - d * size / 2, q + d * size / 2, corners[1], corners[0]]])
            for f in facets:
                out = np.mean(f, axis=0) - q                     # the facet's outward direction
                lit = 0.85 + 0.25 * math.cos(math.atan2(out[1], out[0]) - sun)
                cv.fill(np.array(f), np.clip(base * lit, 0, 1), h)


def boats(cv, rng, x, y, ang):
    """Pontoons with yachts (and the water between)."""
    c, s = math.cos(ang), math.sin(ang)
    d = np.array([c, s])
    nrm = np.array([-s, c])
    p = np.array([x, y])
    cv.line(p - d * 80, p + d * 80, 2.0, (0.6, 0.58, 0.55), 0.5)
    for u in np.arange(-60, 60, rng.uniform(4, 7)):
        for side in (-1, 1):
            if rng.random() < 0.2:
                continue
            L, W = rng.uniform(7, 18), rng.uniform(2.5, 5)
            q = p + d * u + nrm * side * (L / 2 + 1.5)
            a = ang + math.pi / 2
            hull = np.array([0.9, 0.9, 0.9]) * rng.uniform(0.8, 1.05) if rng.random() < 0.8 else rand_colour(rng)
            dd = np.array([math.cos(a), math.sin(a)]) * side
            nn = np.array([-dd[1], dd[0]])
            poly = [q - dd * L / 2 - nn * W / 2, q + dd * (L / 2 - W) - nn * W / 2, q + dd * L / 2,
                    q + dd * (L / 2 - W) + nn * W / 2, q - dd * L / 2 + nn * W / 2]
            cv.fill(poly, hull, 2.0)
            cv.fill(rect(q[0], q[1], L * 0.35, W * 0.5, a), hull * rng.uniform(0.5, 0.9), 3.0)


# --------------------------------------------------------------------------------------------------------------
# Light and sensor
# --------------------------------------------------------------------------------------------------------------
def shadows(cv, rng, az, elev):
    """Ray-march the height map toward the sun: a pixel is shaded when something along the sun's direction
    stands higher than the sun ray through it."""
    res = cv.res * 2
    h = cv2.resize(cv.height, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_NEAREST)
    n = h.shape[0]
    dx, dy = math.sin(az), -math.cos(az)         # toward the sun (azimuth clockwise from north, y down)
    t = math.tan(elev)
    hmax = float(h.max())
    steps = int(min(hmax / t / res, 300))
    shade = np.zeros_like(h, dtype=bool)
    for k in range(1, steps + 1):
        ox, oy = dx * k, dy * k
        M = np.float32([[1, 0, -ox], [0, 1, -oy]])
        sh = cv2.warpAffine(h, M, (n, n), flags=cv2.INTER_NEAREST, borderMode=cv2.BORDER_REPLICATE)
        shade |= sh > h + k * res * t
    m = cv2.resize(shade.astype(np.float32), (cv.n, cv.n), interpolation=cv2.INTER_LINEAR)
    m = cv2.GaussianBlur(m, (0, 0), 0.7)
    amb = rng.uniform(0.22, 0.55)
    r = rng.uniform(0.55, 1.0)      # shade is lit by the sky, bluer than the sun: red and green fall more than blue
    tint = np.array([r, rng.uniform(r, 1.0), 1.0], np.float32)
    cv.img *= (1 - m[..., None] * (1 - amb * tint))
    return m


PAN = np.array([0.3, 0.5, 0.2], np.float32)   # a pan band's response to red, green and blue


def sensor(img, rng):
    """Colour balance, haze, blur, pan or colour, noise, a deep product's percentile stretch, quantisation, JPEG."""
    img = img * rng.uniform(0.6, 1.5) * rng.uniform(0.8, 1.2, 3).astype(np.float32)
    img = img + rng.uniform(0, 0.12) * np.array([0.9, 0.95, 1.0], np.float32)
    img = np.clip(img, 0, 1) ** rng.uniform(0.6, 1.4)
    if rng.random() < 0.6:     # satellite colour is muted: pull towards grey
        g = img.mean(-1, keepdims=True)
        img = g + rng.uniform(0.3, 1.0) * (img - g)
    if rng.random() < 0.9:     # the optics' and the atmosphere's blur (sensor pixels)
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.3, 1.6))
    if rng.random() < 0.25:    # pan
        g = img @ PAN if rng.random() < 0.5 else img.mean(-1)
        img = np.repeat(g[..., None], 3, -1)
    img = img + rng.normal(0, rng.uniform(0.002, 0.03), img.shape).astype(np.float32)
    if rng.random() < 0.35:    # an 11- or 16-bit product as the plugin reads it: stretched between percentiles
        lo, hi = np.percentile(img, [rng.uniform(0, 3), rng.uniform(97, 99.9)])
        img = (img - lo) / max(hi - lo, 0.05)
    img = np.clip(img, 0, 1)
    if rng.random() < 0.4:
        q = int(rng.integers(25, 95))
        ok, enc = cv2.imencode('.jpg', (img * 255).astype(np.uint8)[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, q])
        img = cv2.imdecode(enc, cv2.IMREAD_COLOR)[..., ::-1].astype(np.float32) / 255
    else:
        img = np.round(img * 255) / 255
    return img.astype(np.float32)


# --------------------------------------------------------------------------------------------------------------
# A patch
# --------------------------------------------------------------------------------------------------------------
def patch(seed, size_px=192, work_gsd=WORK_GSD, containers=True, what=False):
    """(image float32 (size, size, 3) at ``work_gsd``, labels array (n, 5): x, y (working px), angle, class
    (1: 40 ft), on a ship's deck (1) or not). ``containers=False``: the same kinds of patch without a container
    (no blocks, bare ships and flatcars), to measure false containers. ``what``: also what each working pixel shows
    (uint8, WHAT's indices): bare ground, a container, a look-alike (anything up to LOOKALIKE_M2 drawn that is not a
    container: vehicles, crane legs and beams, wagons, skylights, tanks, houses, trees), a larger thing, a shadow
    within SHADOW_NEAR_M of a container and not on one, another shadow."""
    rng = np.random.default_rng(seed)
    gsd, sun_az = _first_draws(rng)
    size_m = size_px * work_gsd
    margin = 20.0
    S = size_m + 2 * margin
    cv = Canvas(S, gsd / 2)
    cv.sun = (sun_az, math.radians(rng.uniform(15, 70)))
    if rng.random() < 0.6:     # seen off nadir, 5-30 deg, from any side: stacks lean, their sides show
        a = rng.uniform(0, 2 * math.pi)
        cv.lean = math.tan(math.radians(rng.uniform(5, 30))) * np.array([math.cos(a), math.sin(a)])
    labels = []
    cv.what = 0
    ground(cv, rng)
    cv.what = 2
    kind = rng.random()
    yard_ang = rng.uniform(0, math.pi)

    def anywhere():
        return rng.uniform(0, S, 2)

    if rng.random() < 0.35:
        x, y = anywhere()
        markings(cv, rng, yard_ang + rng.normal(0, 0.05), (x - 20, y - 20, x + 20, y + 20))
    if rng.random() < 0.12:
        x, y = anywhere()
        town(cv, rng, x, y, rng.uniform(0, math.pi))
    if kind < 0.12 or not containers:      # a patch with no containers: only look-alikes
        n_blocks = 0
    elif kind < 0.8:
        n_blocks = int(rng.integers(1, 8))
    else:
        n_blocks = int(rng.integers(0, 3))
    for _ in range(n_blocks):
        x, y = anywhere()
        a = yard_ang + (0 if rng.random() < 0.7 else rng.uniform(0, math.pi))
        block(cv, rng, x, y, a, labels)
    # look-alikes, each with some probability
    if rng.random() < 0.45:
        x, y = anywhere()
        for _ in range(rng.integers(1, 4)):
            rtg(cv, rng, x + rng.normal(0, 10), y + rng.normal(0, 10), yard_ang, rng.uniform(20, 30))
    if rng.random() < 0.12:
        x, y = anywhere()
        sts(cv, rng, x, y, rng.uniform(0, math.pi))
    for k in ('car', 'bus', 'truck'):
        if rng.random() < {'car': 0.35, 'bus': 0.25, 'truck': 0.35}[k]:
            for _ in range(rng.integers(1, 4)):
                x, y = anywhere()
                parking_rows(cv, rng, x, y, rng.uniform(0, math.pi), k)
    if rng.random() < 0.15:
        for _ in range(rng.integers(1, 4)):
            x, y = anywhere()
            tank(cv, rng, x, y)
    if rng.random() < 0.25:
        x, y = anywhere()
        warehouse(cv, rng, x, y, rng.uniform(0, math.pi))
    if rng.random() < 0.2:
        x, y = anywhere()
        a = rng.uniform(0, math.pi)
        wide, off = rng.uniform(60, 250), rng.uniform(-0.5, 0.5)      # a basin, or a quay on one side
        c, s = math.cos(a), math.sin(a)
        cv.fill(rect(x - s * off * wide, y + c * off * wide, 400, wide, a),
                np.array([0.05, 0.1, 0.14]) * rng.uniform(0.6, 2.0), 0.0)   # water: hides what was under it
        ship(cv, rng, x, y, a, labels, containers and rng.random() < 0.6)
    if rng.random() < RAIL_SHARE:
        x, y = anywhere()
        train(cv, rng, x, y, rng.uniform(0, math.pi), labels, containers)
    if rng.random() < 0.08:
        x, y = anywhere()
        a = rng.uniform(0, math.pi)
        cv.fill(rect(x, y, 300, 80, a), np.array([0.05, 0.12, 0.15]) * rng.uniform(0.6, 2.0), 0.0)
        boats(cv, rng, x, y, a)
    if rng.random() < 0.3:
        for _ in range(rng.integers(1, 12)):
            x, y = anywhere()
            tree(cv, rng, x, y)
    if rng.random() < 0.25:
        x, y = anywhere()
        hedges(cv, rng, x, y, yard_ang if rng.random() < 0.5 else rng.uniform(0, math.pi))
    if rng.random() < 0.1:
        x, y = anywhere()
        tents(cv, rng, x, y, rng.uniform(0, math.pi), cv.sun[0])
    for _ in range(rng.integers(0, 6)):     # isolated vehicles anywhere
        x, y = anywhere()
        vehicle(cv, rng, x, y, rng.uniform(0, math.pi), ('car', 'truck', 'bus')[rng.integers(3)])
    shade = shadows(cv, rng, *cv.sun)
    # sensor at gsd, then the detector's resampling to work_gsd
    img = cv2.resize(cv.img, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    img = sensor(img, rng)
    f = gsd / work_gsd
    img = cv2.resize(img, None, fx=f, fy=f, interpolation=cv2.INTER_AREA if f < 1 else cv2.INTER_LINEAR)
    o = int(round(margin / work_gsd))
    img = img[o:o + size_px, o:o + size_px]
    lab = np.array([(x / work_gsd - o, y / work_gsd - o, a % math.pi, c, deck) for x, y, a, c, h, deck in labels
                    if _visible(cv, x, y, h)], np.float32).reshape(-1, 5)
    inside = (lab[:, 0] >= -4) & (lab[:, 1] >= -4) & (lab[:, 0] < size_px + 4) & (lab[:, 1] < size_px + 4)
    if what:
        near = cv2.distanceTransform((cv.kind != 1).astype(np.uint8), cv2.DIST_L2, 5) * cv.res < SHADOW_NEAR_M
        shown = np.where((shade > 0.5) & (cv.kind != 1), np.where(near, 4, 5), cv.kind).astype(np.uint8)
        shown = cv2.resize(shown, None, fx=f / 2, fy=f / 2, interpolation=cv2.INTER_NEAREST)  # canvas -> working px
        return img, lab[inside], shown[o:o + size_px, o:o + size_px]
    return img, lab[inside]


def _first_draws(rng):
    """A patch's sensor resolution (m) and sun azimuth (radians clockwise from north): drawn first, so that
    :func:`sun_azimuth` knows a patch's sun without drawing it."""
    return float(rng.uniform(*GSD_RANGE)), float(rng.uniform(0, 2 * math.pi))


def sun_azimuth(seed):
    """The sun's azimuth (degrees clockwise from north) in :func:`patch` ``(seed)``."""
    return math.degrees(_first_draws(np.random.default_rng(seed))[1])


def _visible(cv, x, y, h):
    """A top is visible when the height map at its centre is its own (not painted over by a block placed on
    it, a ship's bridge or a roof); crane girders pass above a few tops and hide them from these labels too."""
    i = int(np.clip(y / cv.res, 0, cv.n - 1))
    j = int(np.clip(x / cv.res, 0, cv.n - 1))
    return abs(cv.height[i, j] - h) < 0.01


if __name__ == '__main__':
    import sys
    seed = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    img, lab = patch(seed, 384)
    out = (np.clip(img, 0, 1) * 255).astype(np.uint8)[..., ::-1].copy()
    for x, y, a, c, deck in lab:
        cv2.circle(out, (int(x), int(y)), 2, (0, 255, 255) if c else (255, 0, 255), -1)
    cv2.imwrite(sys.argv[2] if len(sys.argv) > 2 else '/tmp/patch.png', out)
    print(len(lab), 'containers')
