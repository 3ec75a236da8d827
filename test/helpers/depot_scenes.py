"""Synthetic ammunition-depot scenes with ground truth, for the storage-pit tests and bench.

Everything is modelled in world metres and then *rendered* at any ground sample
distance, so the same place can be imaged twice (before/after) on different grids,
in another season and light, and misregistered by a few metres.

The rendering is physically motivated rather than painted: each object adds to a
height map (berms +1.2..1.8 m, pit floors -0.6..-1 m, buildings, tree crowns) and an
albedo map (grass, field crops, bare soil, roofs, foliage); the image is albedo x
(sky light + sun light x Lambert x cast shadow), then optical blur, sensor noise and
quantisation. Pits therefore show what an analyst sees: bright raised berms on three
sides, a darker floor, a shadow on the sun's far side, fresh bare soil or grassed-over
old earthworks.

Distractors drawn on purpose: buildings (bright or dark roofs with cast shadows), tree
clumps, ploughed strips and ploughed parcels, a dirt-road grid with junctions, field
parcels of different crops, and a few bare-soil patches.

Public helpers:
- ``depot_layout(seed, ...)`` -> :class:`Layout` (world objects; pits carry ``old``/``new``)
- ``render(layout, gsd, ...)`` -> float32 (bands, h, w) in 0..1
- ``write_geotiff(path, arr, gt, epsg, dtype, nodata)``
- ``depot_scene(path, ...)`` -> list of truth pits (dicts with map ``geometry``)
- ``depot_pair(folder, ...)`` -> (before_path, after_path, truth) for change detection
"""
import math
from dataclasses import dataclass, field

import numpy as np
from osgeo import gdal, osr
from scipy import ndimage

# Tikhoretsk area, UTM zone 37N
EPSG = 32637
ORIGIN = (436000.0, 5078000.0)   # map x, y of the world's (0, 0) = upper-left corner

SEASONS = {
    # grass rgb, field crop palette, bare-soil rgb
    'summer': dict(grass=(0.20, 0.30, 0.13), crops=[(0.26, 0.36, 0.15), (0.38, 0.40, 0.20), (0.17, 0.27, 0.12)],
                   soil=(0.55, 0.47, 0.36)),
    'autumn': dict(grass=(0.33, 0.31, 0.18), crops=[(0.42, 0.36, 0.24), (0.30, 0.27, 0.17), (0.46, 0.42, 0.28)],
                   soil=(0.50, 0.42, 0.32)),
    'spring': dict(grass=(0.25, 0.33, 0.15), crops=[(0.36, 0.31, 0.22), (0.24, 0.32, 0.14), (0.40, 0.35, 0.25)],
                   soil=(0.47, 0.40, 0.31)),
}


@dataclass
class Pit:
    cx: float            # world metres (x east, y south)
    cy: float
    length: float        # outer length along the pit axis (m), berms included
    width: float         # outer width (m)
    angle: float         # degrees, pit axis from world x, counter-clockwise in map view
    old: bool = False    # dug before the 'before' date
    freshness: float = 1.0   # 1 freshly dug, 0 grassed over
    berm_w: float = 2.5
    berm_h: float = 1.5
    depth: float = 0.8

    def corners(self):
        a = math.radians(self.angle)
        u = np.array([math.cos(a), -math.sin(a)])   # y grows south, angle is counter-clockwise on the map
        v = np.array([math.sin(a), math.cos(a)])
        hl, hw = self.length / 2, self.width / 2
        c = np.array([self.cx, self.cy])
        return [c + su * hl * u + sv * hw * v for su, sv in ((-1, -1), (1, -1), (1, 1), (-1, 1))]


@dataclass
class Layout:
    size: tuple                       # world extent (w, h) in metres
    pits: list = field(default_factory=list)
    roads: list = field(default_factory=list)      # (x0, y0, x1, y1, width)
    buildings: list = field(default_factory=list)  # (cx, cy, l, w, angle, height, rgb)
    trees: list = field(default_factory=list)      # (cx, cy, radius, height, rgb)
    strips: list = field(default_factory=list)     # (cx, cy, l, w, angle, period)
    parcels: list = field(default_factory=list)    # (x0, y0, x1, y1, crop index)
    patches: list = field(default_factory=list)    # bare soil blobs (cx, cy, r)


def _rot(a_deg):
    a = math.radians(a_deg)
    return math.cos(a), -math.sin(a), math.sin(a), math.cos(a)


def depot_layout(seed=1, size=(600.0, 600.0), n_old=15, n_new=110, depot_angle=12.0,
                 distractors=True, pit_length=(10, 20), pit_width=(7, 13), big_share=0.08):
    """A depot: rows of revetments along access roads, old ones in a first block,
    new ones filling the rest; plus distractors around it."""
    rng = np.random.default_rng(seed)
    W, H = size
    lay = Layout(size=size)
    # field parcels (background mosaic)
    xs = np.sort(rng.uniform(0, W, 3))
    ys = np.sort(rng.uniform(0, H, 3))
    gx = [0, *xs, W]
    gy = [0, *ys, H]
    for i in range(len(gx) - 1):
        for j in range(len(gy) - 1):
            lay.parcels.append((gx[i], gy[j], gx[i + 1], gy[j + 1], int(rng.integers(0, 3))))
    n = n_old + n_new
    # rows of pits: each row has pits side by side, open end towards its road
    cxd, cyd = W * 0.5, H * 0.5
    ca, sa = math.cos(math.radians(depot_angle)), math.sin(math.radians(depot_angle))

    def world(u, v):   # depot frame (u along rows, v across) -> world
        return cxd + u * ca + v * sa, cyd - u * sa + v * ca

    per_row = int(min(12, max(3, math.ceil(math.sqrt(n) * 1.2))))
    rows = int(math.ceil(n / per_row))
    row_pitch = 34.0
    v0 = -rows * row_pitch / 2
    placed = 0
    for r in range(rows):
        vrow = v0 + r * row_pitch
        facing = 1 if r % 2 == 0 else -1            # open end towards the road on that side
        road_v = vrow + facing * 15.0
        if r % 2 == 0:
            ru0, ru1 = -per_row * 21 / 2 - 25, per_row * 21 / 2 + 25
            (x0, y0), (x1, y1) = world(ru0, road_v), world(ru1, road_v)
            lay.roads.append((x0, y0, x1, y1, float(rng.uniform(4, 6))))
        u = -per_row * 21 / 2
        for k in range(per_row):
            if placed >= n:
                break
            big = rng.random() < big_share
            L = float(rng.uniform(24, 36)) if big else float(rng.uniform(*pit_length))
            Wd = float(rng.uniform(14, 22)) if big else float(rng.uniform(*pit_width))
            L = min(L, 25.0)   # keep within the row pitch; big ones are wide rather than long
            gap = float(rng.uniform(5, 9))
            uc = u + Wd / 2
            u += Wd + gap
            vc = road_v - facing * (L / 2 + rng.uniform(3, 5))
            cx, cy = world(uc, vc)
            # pit axis across the row; open end (+u of the pit) faces the road
            ang = depot_angle + (90.0 if facing < 0 else -90.0) + float(rng.normal(0, 2))
            old = placed < n_old
            lay.pits.append(Pit(cx, cy, L, Wd, ang, old=old,
                                freshness=float(rng.uniform(0.0, 0.3)) if old else float(rng.uniform(0.75, 1.0)),
                                berm_w=float(np.clip(Wd * 0.2, 1.8, 3.5)), berm_h=float(rng.uniform(1.2, 1.8)),
                                depth=float(rng.uniform(0.6, 1.0))))
            placed += 1
    # depot perimeter road and a cross road: junctions
    half_u, half_v = per_row * 21 / 2 + 25, rows * row_pitch / 2 + 18
    for (a, b), (c, d) in [((-half_u, -half_v), (half_u, -half_v)), ((half_u, -half_v), (half_u, half_v)),
                           ((half_u, half_v), (-half_u, half_v)), ((-half_u, half_v), (-half_u, -half_v)),
                           ((-half_u - 80, 0.0), (-half_u, 0.0))]:
        (x0, y0), (x1, y1) = world(a, b), world(c, d)
        lay.roads.append((x0, y0, x1, y1, 5.0))
    if not distractors:
        return lay
    depot_r = math.hypot(half_u, half_v) + 10

    def outside(r=0.0):
        for _ in range(200):
            x, y = rng.uniform(20, W - 20), rng.uniform(20, H - 20)
            if math.hypot(x - cxd, y - cyd) > depot_r + r:
                return x, y
        return None

    k_area = W * H / 360000.0          # distractor density of the 600 m reference scene

    # a village-like cluster of buildings plus some sheds near the depot gate
    for _ in range(int(round(14 * k_area))):
        if (p := outside(15)) is None:
            continue
        x, y = p
        roof = [(0.55, 0.55, 0.55), (0.45, 0.22, 0.18), (0.75, 0.76, 0.78), (0.18, 0.18, 0.2),
                (0.35, 0.33, 0.3)][int(rng.integers(0, 5))]
        lay.buildings.append((x, y, float(rng.uniform(8, 30)), float(rng.uniform(6, 14)), float(rng.uniform(0, 180)),
                              float(rng.uniform(3, 8)), roof))
    # tree clumps and lines
    for _ in range(int(round(12 * k_area))):
        if (p := outside(12)) is None:
            continue
        x, y = p
        for _ in range(int(rng.integers(3, 14))):
            lay.trees.append((x + rng.normal(0, 6), y + rng.normal(0, 6), float(rng.uniform(2, 4.5)),
                              float(rng.uniform(6, 12)), (0.09 + rng.uniform(0, 0.04), 0.16 + rng.uniform(0, 0.05),
                                                          0.07 + rng.uniform(0, 0.03))))
    # a wind-break tree line along one parcel border
    y = float(ys[0])
    for x in np.arange(10, W - 10, 6.0):
        if math.hypot(x - cxd, y - cyd) > depot_r:
            lay.trees.append((x + rng.normal(0, 1), y + rng.normal(0, 1), float(rng.uniform(2.5, 4)),
                              float(rng.uniform(8, 14)), (0.1, 0.18, 0.08)))
    # ploughed strips (firebreaks) and furrowed parcels
    for _ in range(int(round(5 * k_area))):
        if (p := outside(40)) is None:
            continue
        x, y = p
        lay.strips.append((x, y, float(rng.uniform(50, 160)), float(rng.uniform(6, 14)), float(rng.uniform(0, 180)),
                           float(rng.uniform(2.5, 5))))
    for _ in range(int(round(4 * k_area))):
        if (p := outside(20)) is None:
            continue
        x, y = p
        lay.patches.append((x, y, float(rng.uniform(5, 15))))
    # a country dirt road grid with junctions
    # (kept off the depot, which has its own perimeter road)
    lay.roads.append((0, H - 28.0, W, H - 40.0, 5.0))
    lay.roads.append((32.0, 0, 22.0, H, 4.5))
    lay.roads.append((W - 30.0, 0, W - 24.0, H, 4.0))
    return lay


# ---------------------------------------------------------------- rendering

def _local(X, Y, cx, cy, angle):
    """World pixel-centre grids -> object frame (u along the axis, v across)."""
    c, s = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    dx, dy = X - cx, Y - cy
    # axis u = (c, -s) in world (y south), v = (s, c)
    return dx * c - dy * s, dx * s + dy * c


def _window(cx, cy, r, x0, y0, gsd, shape):
    h, w = shape
    c0 = max(0, int((cx - r - x0) / gsd))
    c1 = min(w, int((cx + r - x0) / gsd) + 2)
    r0 = max(0, int((cy - r - y0) / gsd))
    r1 = min(h, int((cy + r - y0) / gsd) + 2)
    if c1 <= c0 or r1 <= r0:
        return None
    return slice(r0, r1), slice(c0, c1)


def _smoothstep(e0, e1, x):
    t = np.clip((x - e0) / (e1 - e0), 0.0, 1.0)
    return t * t * (3 - 2 * t)


def _noise(rng, shape, sigma_px):
    n = ndimage.gaussian_filter(rng.standard_normal(shape).astype(np.float32), sigma_px, mode='wrap')
    return n / (n.std() + 1e-9)


def render(layout, gsd=0.5, season='summer', sun_az=150.0, sun_el=45.0, offset=(0.0, 0.0), seed=0,
           gain=1.0, haze=0.02, blur_px=0.6, noise=0.012, extent=None):
    """Image the layout at ``gsd`` metres/pixel. ``offset`` (dx, dy) metres shifts the
    content relative to the grid (misregistration). Returns float32 (3, h, w) in 0..1."""
    rng = np.random.default_rng(seed)
    pal = SEASONS[season]
    Wm, Hm = extent or layout.size
    w, h = int(round(Wm / gsd)), int(round(Hm / gsd))
    x0, y0 = offset
    X = (x0 + (np.arange(w, dtype=np.float32) + 0.5) * gsd)[None, :].repeat(h, 0)
    Y = (y0 + (np.arange(h, dtype=np.float32) + 0.5) * gsd)[:, None].repeat(w, 1)
    alb = np.empty((3, h, w), np.float32)
    for c in range(3):
        alb[c] = pal['grass'][c]
    for (px0, py0, px1, py1, k) in layout.parcels:
        m = (X >= px0) & (X < px1) & (Y >= py0) & (Y < py1)
        for c in range(3):
            alb[c][m] = pal['crops'][k][c]
    # texture: low frequency tone, medium blotches, fine grain (in world scale)
    tex = (1 + 0.10 * _noise(rng, (h, w), 30 / gsd) + 0.06 * _noise(rng, (h, w), 4 / gsd)
           + 0.05 * _noise(rng, (h, w), 0.8 / gsd))
    alb *= tex[None]
    Hmap = np.zeros((h, w), np.float32)
    soil = np.array(pal['soil'], np.float32)[:, None]

    def paint(win, weight, rgb):
        for c in range(3):
            alb[c][win] = alb[c][win] * (1 - weight) + rgb[c] * weight

    # bare patches
    for (cx, cy, r) in layout.patches:
        win = _window(cx, cy, r * 1.5, x0, y0, gsd, (h, w))
        if win is None:
            continue
        d = np.hypot(X[win] - cx, Y[win] - cy)
        wgt = _smoothstep(r, r * 0.6, d) * 0.7
        paint(win, wgt, soil[:, 0] * 0.95)
    # ploughed strips: furrows of dark and lighter soil
    for (cx, cy, L, Wd, ang, period) in layout.strips:
        win = _window(cx, cy, math.hypot(L, Wd) / 2 + 2, x0, y0, gsd, (h, w))
        if win is None:
            continue
        u, v = _local(X[win], Y[win], cx, cy, ang)
        inside = _smoothstep(0.5, -0.5, np.maximum(np.abs(u) - L / 2, np.abs(v) - Wd / 2))
        furrow = 0.5 + 0.5 * np.sin(2 * np.pi * v / period)
        col = soil[:, 0][:, None, None] * (0.65 + 0.45 * furrow)[None]
        for c in range(3):
            alb[c][win] = alb[c][win] * (1 - inside) + col[c] * inside
        Hmap[win] += inside * 0.25 * furrow
    # roads
    for (ax, ay, bx, by, rw) in layout.roads:
        L = math.hypot(bx - ax, by - ay)
        ang = math.degrees(math.atan2(-(by - ay), bx - ax))
        cx, cy = (ax + bx) / 2, (ay + by) / 2
        # process in chunks along the road to keep windows small
        nseg = max(1, int(L / 60))
        for k in range(nseg):
            t0, t1 = k / nseg, (k + 1) / nseg
            sx, sy = ax + (bx - ax) * (t0 + t1) / 2, ay + (by - ay) * (t0 + t1) / 2
            win = _window(sx, sy, L / nseg / 2 + rw, x0, y0, gsd, (h, w))
            if win is None:
                continue
            u, v = _local(X[win], Y[win], cx, cy, ang)
            inside = _smoothstep(rw / 2 + 0.4, rw / 2 - 0.4, np.abs(v)) * _smoothstep(L / 2 + 0.5, L / 2 - 0.5, np.abs(u))
            rut = 1 - 0.18 * np.exp(-((np.abs(v) - rw * 0.25) / 0.35) ** 2)
            col = soil[:, 0] * 1.12
            for c in range(3):
                alb[c][win] = alb[c][win] * (1 - inside) + col[c] * rut * inside
            Hmap[win] -= 0.1 * inside
    # pits
    for p in layout.pits:
        win = _window(p.cx, p.cy, math.hypot(p.length, p.width) / 2 + 3, x0, y0, gsd, (h, w))
        if win is None:
            continue
        u, v = _local(X[win], Y[win], p.cx, p.cy, p.angle)
        hl, hw, b = p.length / 2, p.width / 2, p.berm_w
        # distance inside the outer footprint from the closed sides (u = -hl, v = +-hw)
        d_side = hw - np.abs(v)
        d_back = u + hl
        d_open = hl - u
        d_in = np.minimum(d_side, d_back)
        footprint = (d_in > -0.3) & (d_open > -0.3)
        berm = np.clip(np.sin(np.pi * np.clip(d_in, 0, b) / b), 0, None) * (d_in < b) * (d_in > 0)
        berm *= _smoothstep(-0.5, 1.5, d_open) * 0.85 + 0.15 * (d_open > 0)
        floor = _smoothstep(b * 0.85, b * 1.25, d_in) * _smoothstep(-0.2, 2.5, d_open)
        relief = p.berm_h * (0.55 + 0.45 * p.freshness)
        Hmap[win] += berm * relief - floor * p.depth
        # albedo: bare soil on berms, darker moist floor; old pits grassed over
        f = p.freshness
        disturbed = np.clip(np.maximum(berm * 1.3, floor), 0, 1) * footprint
        soil_rgb = soil[:, 0] * (1.05 + 0.1 * rng.uniform(-1, 1))
        for c in range(3):
            target = soil_rgb[c] * (1 - 0.28 * floor)          # floor darker than berms
            a = alb[c][win]
            grassy = a * (1 - 0.15 * floor)                   # old: grass, floor a bit darker
            mix = grassy * (1 - f) + target * f
            alb[c][win] = a * (1 - disturbed) + mix * disturbed
    # buildings
    for (cx, cy, L, Wd, ang, hb, roof) in layout.buildings:
        win = _window(cx, cy, math.hypot(L, Wd) / 2 + 1, x0, y0, gsd, (h, w))
        if win is None:
            continue
        u, v = _local(X[win], Y[win], cx, cy, ang)
        inside = _smoothstep(0.3, -0.3, np.maximum(np.abs(u) - L / 2, np.abs(v) - Wd / 2))
        ridge = 1 - 0.25 * np.abs(v) / (Wd / 2)
        Hmap[win] = np.maximum(Hmap[win], inside * hb * ridge)
        for c in range(3):
            alb[c][win] = alb[c][win] * (1 - inside) + roof[c] * inside
    # trees
    for (cx, cy, r, ht, rgb) in layout.trees:
        win = _window(cx, cy, r + 1, x0, y0, gsd, (h, w))
        if win is None:
            continue
        d = np.hypot(X[win] - cx, Y[win] - cy)
        crown = np.clip(1 - (d / r) ** 2, 0, None)
        dome = np.sqrt(crown) * ht * 0.35 + ht * 0.65 * (crown > 0)
        Hmap[win] = np.maximum(Hmap[win], dome)
        wgt = (crown > 0).astype(np.float32)
        leaf = 1 + 0.25 * rng.standard_normal(d.shape).astype(np.float32)
        for c in range(3):
            alb[c][win] = alb[c][win] * (1 - wgt) + rgb[c] * leaf * wgt
    # illumination: Lambert on the height map + cast shadows + sky light
    az, el = math.radians(sun_az), math.radians(sun_el)
    sx, sy, sz = math.sin(az) * math.cos(el), -math.cos(az) * math.cos(el), math.sin(el)   # y grows south
    gy_, gx_ = np.gradient(Hmap, gsd)
    nz = 1 / np.sqrt(gx_ ** 2 + gy_ ** 2 + 1)
    lam = np.clip((-gx_ * sx - gy_ * sy) * nz + sz * nz, 0, None)
    lit = np.ones_like(Hmap)
    hmax = float(Hmap.max() - Hmap.min())
    steps = int(hmax / math.tan(el) / gsd) + 1
    dirx, diry = sx / math.cos(el), sy / math.cos(el)   # unit horizontal direction to the sun
    for t in range(1, steps + 1):
        ox, oy = int(round(dirx * t)), int(round(diry * t))
        sh = np.full_like(Hmap, -1e9)
        ys_ = slice(max(0, -oy), h - max(0, oy))
        yd_ = slice(max(0, oy), h - max(0, -oy))
        xs_ = slice(max(0, -ox), w - max(0, ox))
        xd_ = slice(max(0, ox), w - max(0, -ox))
        sh[ys_, xs_] = Hmap[yd_, xd_]
        lit = np.minimum(lit, np.clip(1 - (sh - Hmap - t * gsd * math.tan(el)) / 0.15, 0, 1))
    sky, sun = 0.35, 0.65
    irr = (sky * (0.75 + 0.25 * nz) + sun * lam * lit) / (sky + sun * sz)
    img = alb * irr[None] * gain + haze
    if blur_px:
        img = ndimage.gaussian_filter(img, (0, blur_px, blur_px))
    img += rng.normal(0, noise, img.shape).astype(np.float32)
    return np.clip(img, 0, 1).astype(np.float32)


def write_geotiff(path, arr, gt, epsg=EPSG, dtype='Byte', nodata=None, compress=True, srs_wkt=None):
    """Write float (bands, h, w) 0..1 as Byte (x255) / UInt16 (x4095, 12-bit like most sensors) / Float32."""
    arr = np.asarray(arr)
    if arr.ndim == 2:
        arr = arr[None]
    nb, h, w = arr.shape
    gtype = {'Byte': gdal.GDT_Byte, 'UInt16': gdal.GDT_UInt16, 'Float32': gdal.GDT_Float32}[dtype]
    opts = ['COMPRESS=DEFLATE', 'PREDICTOR=2', 'TILED=YES'] if compress else []
    if nb >= 3 and dtype == 'Byte':
        opts.append('PHOTOMETRIC=RGB')
    ds = gdal.GetDriverByName('GTiff').Create(str(path), w, h, nb, gtype, opts)
    ds.SetGeoTransform(tuple(gt))
    if srs_wkt is None:
        srs = osr.SpatialReference()
        srs.ImportFromEPSG(epsg)
        srs_wkt = srs.ExportToWkt()
    ds.SetProjection(srs_wkt)
    scale = {'Byte': 255.0, 'UInt16': 4095.0, 'Float32': 1.0}[dtype]
    for i in range(nb):
        a = arr[i] * scale
        if dtype != 'Float32':
            a = np.clip(np.round(a), 0, scale)
        band = ds.GetRasterBand(i + 1)
        if nodata is not None:
            band.SetNoDataValue(nodata)
        band.WriteArray(a)
        if nb >= 3 and i < 3:
            band.SetColorInterpretation([gdal.GCI_RedBand, gdal.GCI_GreenBand, gdal.GCI_BlueBand][i])
    ds.FlushCache()
    ds = None
    return str(path)


def truth_features(pits, origin=ORIGIN, status=None):
    """Pits -> dicts with map ``geometry`` (4 corners), size fields, ``old`` flag."""
    out = []
    for p in pits:
        geom = [(origin[0] + x, origin[1] - y) for x, y in p.corners()]
        cx, cy = origin[0] + p.cx, origin[1] - p.cy
        out.append(dict(geometry=geom, x=cx, y=cy, length_m=p.length, width_m=p.width, old=p.old,
                        freshness=p.freshness, status=status))
    return out


def geotransform(gsd, origin=ORIGIN):
    return (origin[0], gsd, 0.0, origin[1], 0.0, -gsd)


def depot_scene(path, seed=1, gsd=0.5, season='summer', sun_az=150.0, sun_el=45.0, n_old=15, n_new=110,
                dtype='Byte', bands=3, distractors=True, size=(600.0, 600.0), which='after', layout=None,
                offset=(0.0, 0.0), nodata=None, gain=1.0):
    """Render one depot image to ``path``; returns the truth pits visible in it.
    ``which='before'`` draws only the old pits, ``'after'`` old and new."""
    lay = layout or depot_layout(seed, size=size, n_old=n_old, n_new=n_new, distractors=distractors)
    pits = lay.pits if which == 'after' else [p for p in lay.pits if p.old]
    shown = Layout(size=lay.size, pits=pits, roads=lay.roads, buildings=lay.buildings, trees=lay.trees,
                   strips=lay.strips, parcels=lay.parcels, patches=lay.patches)
    img = render(shown, gsd=gsd, season=season, sun_az=sun_az, sun_el=sun_el, offset=offset, seed=seed * 7 + 1,
                 gain=gain)
    if bands == 1:
        img = (0.3 * img[0] + 0.55 * img[1] + 0.15 * img[2])[None]
    elif bands == 4:
        nir = np.clip(img[1] * 1.6 + 0.05, 0, 1)
        img = np.concatenate([img, nir[None]])
    write_geotiff(path, img, geotransform(gsd), dtype=dtype, nodata=nodata)
    # content drawn with a world offset appears shifted the other way on the map
    return truth_features(pits, origin=(ORIGIN[0] - offset[0], ORIGIN[1] + offset[1]))


def depot_pair(folder, seed=3, n_old=15, n_new=110, shift=(0.8, -0.6), gsd_before=0.6, gsd_after=0.5,
               size=(600.0, 600.0), dtype='Byte', names=('before.tif', 'after.tif')):
    """Before (summer, high sun, coarser grid) and after (autumn, low sun from the
    south-west) images of the same depot; the after image is misregistered by ``shift``
    metres. Returns (before_path, after_path, truth) with truth = {'old': [...], 'new': [...]}."""
    import os
    lay = depot_layout(seed, size=size, n_old=n_old, n_new=n_new)
    b = os.path.join(str(folder), names[0])
    a = os.path.join(str(folder), names[1])
    depot_scene(b, gsd=gsd_before, season='summer', sun_az=140.0, sun_el=58.0, layout=lay, which='before',
                seed=seed, dtype=dtype)
    depot_scene(a, gsd=gsd_after, season='autumn', sun_az=205.0, sun_el=32.0, layout=lay, which='after',
                seed=seed + 100, offset=shift, gain=0.9, dtype=dtype)
    # truth in the before image's map frame (the after image is the misregistered one)
    old = truth_features([p for p in lay.pits if p.old], status='kept')
    new = truth_features([p for p in lay.pits if not p.old], status='new')
    return b, a, {'old': old, 'new': new}


def match_pits(dets, truth, tol=None):
    """How many of ``dets`` (dicts with geometry, or corner lists) find a pit of ``truth`` of their own (within
    ``tol`` m, else max(3 m, 0.45 x the pit width)), each pit counted once."""
    tc = np.array([[t['x'], t['y']] for t in truth])
    used, tp = set(), 0
    for d in dets:
        c = np.mean(np.asarray(d['geometry'] if isinstance(d, dict) else d), axis=0)
        dd = np.hypot(*(tc - c).T)
        j = int(np.argmin(dd))
        if dd[j] <= (tol or max(3.0, 0.45 * truth[j]['width_m'])) and j not in used:
            used.add(j)
            tp += 1
    return tp

