"""Training tiles for the storage-pit network (numpy + OpenCV only: runs in the training venv).

One tile = a random patch of country (WORK_GSD m/px, TILE px square) rendered from a height map and
an albedo map at a random sensor resolution (0.3-1.0 m, rendered at >= 0.5 m) and resampled to the
working grid by the plugin's own core.pits.to_working. What varies, on purpose,
far beyond the project's old depot generator:

- pits: earthen revetments open on one side (a truck's entrance) or closed, 7-30 m wide, 1-2.2 x as long
  (<= 60 m), berms 1.2-4 m wide and 0.5-2.5 m high, floor dug 0-1.2 m; fresh (bright or dark bare soil,
  a spoil apron) or weathered (grassed over, faint relief); in rows along an access road (open end to
  the road, with wheel tracks), in blocks, or scattered; some tiles have none;
- ground: grass, steppe, crops, bare soil of any brightness, snow-light; seasons as colour palettes;
  field parcels with crop rows or furrows and tramlines (thin wheel lines 6-28 m apart), ploughed strips;
- confusers: houses and sheds (L/U-shaped barns too) with cast shadows, tree lines and clumps, spoil
  heaps, bare patches, road grids with junctions, trees among the pits, vehicles (cars to box trailers,
  alone or parked in rows);
- light and sensor: sun 20-65 deg elevation from any azimuth, haze, gain, colour balance, blur, noise,
  8/16-bit quantisation, RGB / pan (replicated to 3 channels) / the RGB of an RGBN image, nodata borders.

``tile(rng)`` -> (img float32 (3, TILE, TILE) 0..1 before normalisation, valid bool (TILE, TILE),
pits: list of (cx, cy, length, width, angle_deg) in working pixels, angle of the long axis
counter-clockwise from the +col axis with rows growing down).
"""
import math

import os
import sys

import cv2
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from core.pits import WORK_GSD, to_working  # noqa: E402  (the plugin's own resampling: GDAL-free)

TILE = 256


def _blur(a, sigma):
    if sigma < 0.3:
        return a
    k = int(2 * math.ceil(3 * sigma) + 1)
    return cv2.GaussianBlur(a, (k, k), sigma, borderType=cv2.BORDER_REFLECT)


def _noise(rng, shape, sigma_px):
    """Unit-variance smooth noise (cheap: drawn small and enlarged for large scales)."""
    h, w = shape
    f = max(1, int(sigma_px / 3))
    n = rng.standard_normal((h // f + 2, w // f + 2)).astype(np.float32)
    n = _blur(n, sigma_px / f)
    if f > 1:
        n = cv2.resize(n, ((w // f + 2) * f, (h // f + 2) * f), interpolation=cv2.INTER_LINEAR)
    n = n[:h, :w]
    return n / (n.std() + 1e-6)


def _smooth(e0, e1, x):
    t = np.clip((x - e0) / (e1 - e0), 0.0, 1.0)
    return t * t * (3 - 2 * t)


class Canvas:
    """Height (m) and albedo (3 bands) maps of a square of country, in world metres (x east, y south)."""

    def __init__(self, size_m, gsd):
        self.g = gsd
        self.n = int(round(size_m / gsd))
        self.H = np.zeros((self.n, self.n), np.float32)
        self.A = np.zeros((3, self.n, self.n), np.float32)
        self.marks = np.zeros((self.n, self.n), np.float32)     # where something man-made is (pits avoid it)

    def frame(self, cx, cy, r, angle):
        """(window, u, v): pixel window around (cx, cy) of radius r and the object frame there
        (u along ``angle``, counter-clockwise on the map, v across)."""
        g, n = self.g, self.n
        c0, c1 = max(0, int((cx - r) / g)), min(n, int((cx + r) / g) + 2)
        r0, r1 = max(0, int((cy - r) / g)), min(n, int((cy + r) / g) + 2)
        if c1 <= c0 or r1 <= r0:
            return None
        X = ((np.arange(c0, c1, dtype=np.float32) + 0.5) * g)[None, :] - cx
        Y = ((np.arange(r0, r1, dtype=np.float32) + 0.5) * g)[:, None] - cy
        c, s = math.cos(math.radians(angle)), math.sin(math.radians(angle))
        return (slice(r0, r1), slice(c0, c1)), X * c - Y * s, X * s + Y * c

    def paint(self, win, wgt, rgb, mul=None):
        a = self.A[(slice(None),) + win]
        rgb = np.asarray(rgb, np.float32)[:, None, None]
        if mul is not None:
            rgb = rgb * mul[None]
        a += (rgb - a) * wgt[None]


# ------------------------------------------------------------------ palettes
def _ground(rng):
    """(grass, soil, crops) colours of one scene: season and soil type at random."""
    kind = rng.choice(['green', 'steppe', 'dry', 'autumn', 'spring', 'snowlight'], p=[.3, .25, .15, .13, .1, .07])
    base = {'green': (0.20, 0.31, 0.13), 'steppe': (0.33, 0.33, 0.24), 'dry': (0.45, 0.42, 0.30),
            'autumn': (0.36, 0.31, 0.19), 'spring': (0.26, 0.34, 0.16), 'snowlight': (0.62, 0.62, 0.60)}[kind]
    grass = np.clip(np.array(base) * rng.uniform(0.7, 1.3) + rng.normal(0, 0.025, 3), 0.04, 0.95)
    soil = np.array([0.50, 0.43, 0.34]) * rng.uniform(0.45, 1.5) + rng.normal(0, 0.03, 3)
    if rng.random() < 0.2:   # reddish or grey soils
        soil = soil * (np.array([1.15, 0.9, 0.8]) if rng.random() < 0.5 else np.array([0.95, 0.97, 1.0]))
    soil = np.clip(soil, 0.08, 0.95)
    crops = [np.clip(np.array(c) * rng.uniform(0.7, 1.3), 0.04, 0.95) for c in
             [(0.24, 0.36, 0.15), (0.40, 0.40, 0.22), (0.17, 0.27, 0.12), (0.55, 0.50, 0.36), (0.36, 0.30, 0.26),
              (0.30, 0.26, 0.22)]]
    return grass.astype(np.float32), soil.astype(np.float32), crops


# ------------------------------------------------------------------ objects
def _road(cv, rng, x0, y0, x1, y1, width, rgb):
    L = math.hypot(x1 - x0, y1 - y0)
    ang = math.degrees(math.atan2(-(y1 - y0), x1 - x0))
    fr = cv.frame((x0 + x1) / 2, (y0 + y1) / 2, L / 2 + width, ang)
    if fr is None:
        return
    win, u, v = fr
    inside = _smooth(width / 2 + 0.4, width / 2 - 0.4, np.abs(v)) * _smooth(L / 2 + 0.3, L / 2 - 0.3, np.abs(u))
    rut = 1 - rng.uniform(0, 0.2) * np.exp(-((np.abs(v) - width * 0.25) / 0.4) ** 2)
    cv.paint(win, inside, rgb, rut)
    cv.H[win] -= 0.05 * inside
    cv.marks[win] = np.maximum(cv.marks[win], inside)


def _box_frame(cv, cx, cy, L, W, ang, pad=2.0):
    return cv.frame(cx, cy, math.hypot(L, W) / 2 + pad, ang)


def _building(cv, rng, cx, cy, L, W, ang):
    fr = _box_frame(cv, cx, cy, L, W, ang)
    if fr is None:
        return
    win, u, v = fr
    shape = rng.random()
    inside = _smooth(0.3, -0.3, np.maximum(np.abs(u) - L / 2, np.abs(v) - W / 2))
    if shape < 0.25:     # L- or U-shaped farm buildings / courtyards: a pit look-alike
        wing = min(L, W) * rng.uniform(0.25, 0.4)
        hole = _smooth(-0.3, 0.3, np.minimum(W / 2 - wing - np.abs(v), (L / 2 - wing) - u))
        if rng.random() < 0.5:
            hole = hole * (v > 0)
        inside = inside * (1 - hole)
    hb = rng.uniform(2.5, 9)
    flat = rng.random() < 0.4
    ridge = 1.0 if flat else 1 - 0.3 * np.abs(v) / (W / 2)
    cv.H[win] = np.maximum(cv.H[win], inside * hb * ridge)
    roof = [(0.55, 0.55, 0.55), (0.5, 0.22, 0.17), (0.78, 0.78, 0.80), (0.17, 0.17, 0.19), (0.38, 0.35, 0.30),
            (0.30, 0.40, 0.50), (0.62, 0.52, 0.40)][int(rng.integers(0, 7))]
    cv.paint(win, inside, np.clip(np.array(roof) * rng.uniform(0.8, 1.2), 0, 1))
    cv.marks[win] = np.maximum(cv.marks[win], inside)


def _mound(cv, rng, cx, cy, soil):
    """Spoil heap / hay stack / earth pile: a bare mound, round or elongated."""
    a, b = rng.uniform(2, 9), rng.uniform(2, 7)
    ang = rng.uniform(0, 180)
    fr = cv.frame(cx, cy, max(a, b) + 2, ang)
    if fr is None:
        return
    win, u, v = fr
    d = np.sqrt((u / a) ** 2 + (v / b) ** 2)
    m = np.clip(1 - d ** 2, 0, None)
    cv.H[win] += m * rng.uniform(0.8, 4)
    cv.paint(win, np.clip(m * 4, 0, 1) * rng.uniform(0.6, 1), soil * rng.uniform(0.8, 1.3))
    cv.marks[win] = np.maximum(cv.marks[win], (m > 0).astype(np.float32))


def _tree(cv, rng, cx, cy, r, ht, rgb):
    fr = cv.frame(cx, cy, r + 1, 0.0)
    if fr is None:
        return
    win, u, v = fr
    d2 = (u ** 2 + v ** 2) / r ** 2
    crown = np.clip(1 - d2, 0, None)
    cv.H[win] = np.maximum(cv.H[win], (np.sqrt(crown) * 0.35 + 0.65) * ht * (crown > 0))
    leaf = 1 + 0.25 * rng.standard_normal(u.shape).astype(np.float32)
    cv.paint(win, (crown > 0).astype(np.float32), rgb, leaf)
    cv.marks[win] = np.maximum(cv.marks[win], (crown > 0).astype(np.float32))


def _vehicle(cv, rng, cx, cy, ang):
    """Car, van, truck or box trailer (4-16 m x 1.8-2.6 m), pale more often than not, with its height."""
    L = float(rng.choice([rng.uniform(4, 6), rng.uniform(6, 10), rng.uniform(12, 16)]))
    W = rng.uniform(1.8, 2.6)
    fr = _box_frame(cv, cx, cy, L, W, ang)
    if fr is None:
        return
    win, u, v = fr
    m = _smooth(0.2, -0.2, np.maximum(np.abs(u) - L / 2, np.abs(v) - W / 2))
    cv.H[win] = np.maximum(cv.H[win], m * rng.uniform(1.5, 4))
    rgb = np.full(3, rng.uniform(0.6, 0.95)) if rng.random() < 0.5 else rng.uniform(0.1, 0.9, 3)
    cv.paint(win, m, rgb)


def _strip(cv, rng, cx, cy, L, W, ang, soil, furrow_h=0.2):
    fr = _box_frame(cv, cx, cy, L, W, ang)
    if fr is None:
        return
    win, u, v = fr
    inside = _smooth(0.5, -0.5, np.maximum(np.abs(u) - L / 2, np.abs(v) - W / 2))
    per = rng.uniform(1.5, 6)
    fur = 0.5 + 0.5 * np.sin(2 * np.pi * (v if rng.random() < 0.6 else u) / per)
    cv.paint(win, inside, soil * rng.uniform(0.7, 1.2), 0.7 + 0.4 * fur)
    cv.H[win] += inside * furrow_h * fur


def _pit(cv, rng, cx, cy, L, W, ang, fresh, opened, soil, grass):
    """One revetment: outer footprint L x W (berms included), long axis at ``ang``; open at the +u end."""
    fr = _box_frame(cv, cx, cy, L, W, ang, pad=4.0)
    if fr is None:
        return
    win, u, v = fr
    hl, hw = L / 2, W / 2
    b = float(np.clip(rng.uniform(0.14, 0.3) * W, 1.2, 4.0))
    d_side, d_back, d_front = hw - np.abs(v), u + hl, hl - u
    d_in = np.minimum(d_side, d_back) if opened else np.minimum(np.minimum(d_side, d_back), d_front)
    inner = np.clip(d_in / b, 0, None)
    prof = rng.uniform(0.6, 1.6)             # berm shape: sharp or rounded
    berm = np.where((d_in > 0) & (d_in < b), np.sin(np.pi * np.clip(inner, 0, 1)) ** prof, 0.0).astype(np.float32)
    if opened:
        berm *= _smooth(-0.3, 0.8, d_front)
    floor = (_smooth(b * 0.8, b * 1.2, d_in) * _smooth(-0.2, 2.0, d_front)).astype(np.float32)
    relief = rng.uniform(0.8, 2.5) if fresh else rng.uniform(0.3, 1.2)
    depth = rng.uniform(0.0, 1.2) * (1 if fresh else 0.5)
    cv.H[win] += berm * relief - floor * depth
    edge = np.minimum(d_side, np.minimum(d_back, d_front + (3 if opened else 0)))
    foot = np.clip(np.maximum(berm * 1.5, floor), 0, 1) * _smooth(-0.5, 0.3, edge)
    if fresh:
        s_berm = soil * rng.uniform(0.85, 1.35)
        s_floor = soil * rng.uniform(0.6, 1.1) if rng.random() < 0.7 else grass * rng.uniform(0.8, 1.2)
        col = s_berm[:, None, None] * (1 - floor)[None] + s_floor[:, None, None] * floor[None]
        a = cv.A[(slice(None),) + win]
        wgt = foot * rng.uniform(0.75, 1.0)
        a += (col - a) * wgt[None]
        # spoil apron: bare soil spilled around the outside
        if rng.random() < 0.7:
            ring = _smooth(-rng.uniform(1, 4), 0.0,
                           np.minimum(d_side, np.minimum(d_back, d_front + (2 if opened else 0)))) * (d_in <= 0.2)
            cv.paint(win, ring * rng.uniform(0.3, 0.8), soil * rng.uniform(0.9, 1.3))
    else:
        # weathered: grass over it, a slightly other tone on berms (drier) and floor (moister)
        t_b = rng.uniform(-0.15, 0.25)
        t_f = rng.uniform(-0.25, 0.1)
        a = cv.A[(slice(None),) + win]
        a *= (1 + t_b * berm + t_f * floor)[None]
        if rng.random() < 0.4:
            cv.paint(win, foot * rng.uniform(0.1, 0.35), soil)
    cv.marks[win] = np.maximum(cv.marks[win], foot)


def _tracks(cv, rng, x0, y0, x1, y1, rgb):
    """Two wheel ruts from a pit's entrance to the road."""
    L = math.hypot(x1 - x0, y1 - y0)
    if L < 1:
        return
    ang = math.degrees(math.atan2(-(y1 - y0), x1 - x0))
    fr = cv.frame((x0 + x1) / 2, (y0 + y1) / 2, L / 2 + 3, ang)
    if fr is None:
        return
    win, u, v = fr
    gauge = rng.uniform(0.9, 1.3)
    rut = np.exp(-((np.abs(v) - gauge) / 0.35) ** 2) * _smooth(L / 2 + 0.2, L / 2 - 0.5, np.abs(u))
    cv.paint(win, rut * rng.uniform(0.2, 0.6), rgb)


# ------------------------------------------------------------------ light and sensor
def _illuminate(cv, rng, sun_az, sun_el):
    H, g = cv.H, cv.g
    az, el = math.radians(sun_az), math.radians(sun_el)
    sx, sy, sz = math.sin(az) * math.cos(el), -math.cos(az) * math.cos(el), math.sin(el)
    gy, gx = np.gradient(H, g)
    nz = 1 / np.sqrt(gx ** 2 + gy ** 2 + 1)
    lam = np.clip((-gx * sx - gy * sy) * nz + sz * nz, 0, None)
    lit = np.ones_like(H)
    span = float(H.max() - H.min())
    steps = min(int(span / math.tan(el) / g) + 1, 120)
    dx, dy = sx / math.cos(el), sy / math.cos(el)
    n = cv.n
    tan_el = math.tan(el) * g
    for t in range(1, steps + 1):
        ox, oy = int(round(dx * t)), int(round(dy * t))
        if abs(ox) >= n or abs(oy) >= n:
            break
        sh = np.full_like(H, -1e9)
        sh[max(0, -oy):n - max(0, oy), max(0, -ox):n - max(0, ox)] = H[max(0, oy):n - max(0, -oy),
                                                                          max(0, ox):n - max(0, -ox)]
        np.minimum(lit, np.clip(1 - (sh - H - t * tan_el) / 0.15, 0, 1), out=lit)
    sky = rng.uniform(0.2, 0.45)
    sun = 1 - sky
    irr = (sky * (0.75 + 0.25 * nz) + sun * lam * lit) / (sky + sun * sz)
    return irr.astype(np.float32)


def tile(rng, size=TILE):
    """One training tile (see the module docstring)."""
    S = size * WORK_GSD                         # metres
    gsd = float(rng.uniform(0.3, 1.0))          # the sensor's
    rg = max(gsd, 0.5)                          # rendered at (finer adds nothing after area averaging)
    margin = 30.0                               # rendered beyond the tile so shadows and objects enter it
    cv = Canvas(S + 2 * margin, rg)
    n = cv.n
    grass, soil, crops = _ground(rng)
    cv.A[:] = grass[:, None, None]
    # field parcels: a rotated grid of fields with crop rows, furrows or plain
    if rng.random() < 0.7:
        ang = rng.uniform(0, 180)
        pitch = rng.uniform(60, 220)
        ox, oy = rng.uniform(0, pitch, 2)
        fr = cv.frame(n * rg / 2, n * rg / 2, n * rg, ang)
        win, u, v = fr
        iu = np.floor((u + ox) / pitch).astype(int)
        iv = np.floor((v + oy) / (pitch * rng.uniform(0.5, 1.5))).astype(int)
        cell = (iu * 7 + iv * 13) % 11
        for k in range(11):
            if rng.random() < 0.35:
                continue                           # that cell stays grass (the depot's ground)
            m = (cell == k).astype(np.float32)
            col = crops[int(rng.integers(0, len(crops)))] if rng.random() < 0.75 else soil * rng.uniform(0.6, 1.1)
            per = rng.uniform(1.0, 8.0)
            along = u if rng.random() < 0.5 else v
            rows = 1 + rng.uniform(0, 0.25) * np.sin(2 * np.pi * along / per)
            if rng.random() < 0.5:      # tramlines: thin wheel lines a sprayer's width apart (6-28 m)
                gap, lw = rng.uniform(6, 28), rng.uniform(0.25, 0.7)
                d = np.abs((along + rng.uniform(0, gap)) % gap - gap / 2)
                pair = np.minimum(np.abs(d - rng.uniform(0.6, 1.0)), d) if rng.random() < 0.5 else d
                rows = rows * (1 + rng.uniform(-0.3, 0.25) * np.exp(-(pair / lw) ** 2))
            cv.paint(win, m, col, rows)
    tex = 1 + rng.uniform(0.03, 0.14) * _noise(rng, (n, n), rng.uniform(15, 40) / rg) \
        + rng.uniform(0.02, 0.08) * _noise(rng, (n, n), rng.uniform(2, 6) / rg) \
        + rng.uniform(0.01, 0.06) * _noise(rng, (n, n), 0.6 / rg)
    cv.A *= tex[None]
    road_rgb = np.clip(soil * rng.uniform(0.8, 1.3) if rng.random() < 0.7 else np.full(3, rng.uniform(0.3, 0.6)), 0, 1)
    # bare patches and ploughed strips
    for _ in range(rng.poisson(1.2)):
        x, y = rng.uniform(0, n * rg, 2)
        _strip(cv, rng, x, y, rng.uniform(40, 250), rng.uniform(5, 20), rng.uniform(0, 180), soil)
    for _ in range(rng.poisson(1.0)):
        x, y = rng.uniform(0, n * rg, 2)
        fr = cv.frame(x, y, 20, 0)
        if fr:
            win, u, v = fr
            r = rng.uniform(4, 15)
            cv.paint(win, _smooth(r, r * 0.5, np.hypot(u, v)) * rng.uniform(0.3, 0.8), soil)
    # roads: one to three, some crossing (junctions)
    for _ in range(int(rng.integers(0, 4))):
        x, y = rng.uniform(0, n * rg, 2)
        a = rng.uniform(0, 180)
        c, s = math.cos(math.radians(a)), -math.sin(math.radians(a))
        L = n * rg * 1.5
        _road(cv, rng, x - c * L, y - s * L, x + c * L, y + s * L, rng.uniform(3, 7), road_rgb)
    pits = []

    def free(cx, cy, L, W, ang):
        fr = _box_frame(cv, cx, cy, L + 4, W + 4, ang, 0)
        if fr is None:
            return False
        win, u, v = fr
        inside = (np.abs(u) < L / 2 + 2) & (np.abs(v) < W / 2 + 2)
        return not (cv.marks[win][inside] > 0.2).any()

    def add_pit(cx, cy, L, W, ang, fresh, opened):
        if not free(cx, cy, L, W, ang):
            return False
        _pit(cv, rng, cx, cy, L, W, ang, fresh, opened, soil, grass)
        pits.append((cx, cy, L, W, ang))
        return True

    def pit_size():
        W = float(np.clip(rng.lognormal(math.log(11), 0.35), 7, 30))
        L = float(min(60.0, W * rng.uniform(1.0, 2.2)))
        return L, W

    mode = rng.choice(['none', 'rows', 'scatter', 'block'], p=[0.22, 0.45, 0.18, 0.15])
    fresh_share = rng.choice([0.0, 0.5, 1.0, rng.random()])
    open_share = rng.choice([1.0, 0.85, 0.5, 0.0], p=[0.4, 0.3, 0.2, 0.1])
    # access roads with rows of pits, open ends to the road
    if mode == 'rows':
        for _ in range(int(rng.integers(1, 4))):
            x, y = rng.uniform(margin, margin + S, 2)
            a = rng.uniform(0, 180)
            c, s = math.cos(math.radians(a)), -math.sin(math.radians(a))
            L = rng.uniform(80, 300)
            rw = rng.uniform(3, 6)
            _road(cv, rng, x - c * L / 2, y - s * L / 2, x + c * L / 2, y + s * L / 2, rw, road_rgb)
            if rng.random() < 0.3:           # trees scattered along the road, among the pits
                tree_rgb = np.clip(np.array([0.09, 0.16, 0.07]) * rng.uniform(0.7, 1.5), 0, 1)
                for t in rng.uniform(-L / 2, L / 2, int(rng.integers(2, 12))):
                    off = rng.choice([1, -1]) * (rw / 2 + rng.uniform(2, 30))
                    _tree(cv, rng, x + c * t - s * off, y + s * t + c * off, rng.uniform(1.5, 4.5),
                          rng.uniform(4, 14), tree_rgb * rng.uniform(0.8, 1.2))
            sides = [1, -1] if rng.random() < 0.5 else [int(rng.choice([1, -1]))]
            for side in sides:
                t = -L / 2 + rng.uniform(0, 10)
                nx, ny = -s * side, c * side             # normal (world) towards this side
                while t < L / 2:
                    pl, pw = pit_size()
                    set_back = rng.uniform(2, 12)
                    ccx = x + c * (t + pw / 2) + nx * (rw / 2 + set_back + pl / 2)
                    ccy = y + s * (t + pw / 2) + ny * (rw / 2 + set_back + pl / 2)
                    # long axis along the normal; the open end (+u) faces the road
                    ang_p = math.degrees(math.atan2(ny, -nx))
                    ang_p += rng.normal(0, 3)
                    fresh = rng.random() < fresh_share
                    opened = rng.random() < open_share
                    if rng.random() < 0.9 and add_pit(ccx, ccy, pl, pw, ang_p, fresh, opened) and opened \
                            and rng.random() < 0.6:
                        ex, ey = ccx - nx * pl / 2, ccy - ny * pl / 2
                        _tracks(cv, rng, ex, ey, ex - nx * set_back, ey - ny * set_back, road_rgb * 0.9)
                    t += pw + rng.uniform(3, 16)
    elif mode in ('scatter', 'block'):
        base = rng.uniform(0, 180)
        for _ in range(int(rng.integers(3, 18))):
            pl, pw = pit_size()
            ang_p = base + (rng.choice([0, 90, 180, 270]) + rng.normal(0, 4) if mode == 'block'
                            else rng.uniform(0, 360))
            x, y = rng.uniform(margin - 5, margin + S + 5, 2)
            add_pit(x, y, pl, pw, ang_p, rng.random() < fresh_share, rng.random() < open_share)
    # confusers
    for _ in range(rng.poisson(rng.choice([0.5, 3.0]))):
        x, y = rng.uniform(0, n * rg, 2)
        L, W, a = rng.uniform(6, 35), rng.uniform(0.3, 1.0), rng.uniform(0, 180)
        if free(x, y, L, L * W, a):         # not on a pit: its label would stay under the roof
            _building(cv, rng, x, y, L, L * W, a)
    for _ in range(rng.poisson(rng.choice([0.3, 2.5]))):
        x, y = rng.uniform(0, n * rg, 2)
        if free(x, y, 18, 18, 0):
            _mound(cv, rng, x, y, soil)
    tree_rgb = np.clip(np.array([0.09, 0.16, 0.07]) * rng.uniform(0.7, 1.5), 0, 1)
    for _ in range(rng.poisson(1.5)):       # clumps
        x, y = rng.uniform(0, n * rg, 2)
        for _ in range(int(rng.integers(1, 12))):
            _tree(cv, rng, x + rng.normal(0, 6), y + rng.normal(0, 6), rng.uniform(1.5, 5), rng.uniform(4, 14),
                  tree_rgb * rng.uniform(0.8, 1.2))
    if rng.random() < 0.4:                  # a tree line / wind break
        x, y = rng.uniform(0, n * rg, 2)
        a = math.radians(rng.uniform(0, 180))
        for t in np.arange(-150, 150, rng.uniform(3, 7)):
            _tree(cv, rng, x + math.cos(a) * t + rng.normal(0, 0.8), y - math.sin(a) * t + rng.normal(0, 0.8),
                  rng.uniform(2, 4), rng.uniform(6, 14), tree_rgb * rng.uniform(0.8, 1.2))
    for _ in range(rng.poisson(rng.choice([0.5, 2.0]))):   # vehicles: alone, or parked side by side in a row
        x, y, a = *rng.uniform(0, n * rg, 2), rng.uniform(0, 180)
        k = 1 if rng.random() < 0.5 else int(rng.integers(2, 9))
        pitch = rng.uniform(3.0, 4.5)
        c, s_ = math.cos(math.radians(a + 90)), -math.sin(math.radians(a + 90))
        for j in range(k):
            _vehicle(cv, rng, x + c * pitch * j, y + s_ * pitch * j, a + rng.normal(0, 2))
    # light, optics, sensor
    irr = _illuminate(cv, rng, rng.uniform(0, 360), rng.uniform(20, 65))
    img = cv.A * irr[None]
    img = img * rng.uniform(0.6, 1.4) * rng.uniform(0.85, 1.15, 3)[:, None, None] + rng.uniform(0, 0.12)
    img = np.stack([_blur(img[k], rng.uniform(0.3, 0.9) * 0.5 / rg) for k in range(3)])
    # crop the tile, at the sensor's resolution
    m0 = int(round(margin / rg))
    m1 = m0 + int(round(S / rg))
    img = img[:, m0:m1, m0:m1]
    img = img + rng.normal(0, rng.uniform(0.003, 0.02), img.shape).astype(np.float32)
    levels = 255.0 if rng.random() < 0.6 else float(rng.choice([2047.0, 4095.0, 65535.0]))
    img = np.round(np.clip(img, 0, 1) * levels) / levels
    if rng.random() < 0.2:                   # panchromatic, replicated as the plugin does
        img = np.repeat(img.mean(axis=0, keepdims=True), 3, axis=0)
    # resampling to the working grid (sensor gsd -> rendered rg already covers >= 0.5 m)
    work = to_working(img.astype(np.float32), rg)[0]
    work = work[:, :size, :size]
    if work.shape[1] < size or work.shape[2] < size:
        work = np.pad(work, ((0, 0), (0, size - work.shape[1]), (0, size - work.shape[2])), mode='edge')
    valid = np.ones((size, size), bool)
    if rng.random() < 0.15:                  # nodata border: a straight edge at any angle
        a = rng.uniform(0, 2 * math.pi)
        yy, xx = np.mgrid[0:size, 0:size]
        d = (xx - size / 2) * math.cos(a) + (yy - size / 2) * math.sin(a)
        valid = d < rng.uniform(0, size / 2)
    out = []
    for (cx, cy, L, W, ang) in pits:
        px, py = (cx - margin) / WORK_GSD, (cy - margin) / WORK_GSD
        if 0 <= px < size and 0 <= py < size and valid[int(py), int(px)]:
            out.append((px, py, L / WORK_GSD, W / WORK_GSD, ang % 180.0))
    return work, valid, out
