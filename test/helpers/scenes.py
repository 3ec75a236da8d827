"""Synthetic very-high-resolution scenes with exact ground truth, for tests and benchmarks.

A reusable rendering library (the depot/pits scenes import it) plus port scenes:
container terminals with blocks of touching containers at any orientation, rail yards with
containers on flatcars, and the distractors that must not be counted (cars, trucks, roofs,
cranes, road markings, painted slot outlines, shadows).

Coordinates: scene metres, x to the right, y down from the top-left corner. A scene is
rendered in linear reflectance-like units 0..1 (float32, bands R, G, B), then converted with
:func:`to_bands` (1 pan band, 3 RGB, 4 BGRN like WorldView) and :func:`to_dtype` (Byte,
11-bit UInt16, Float32) and written with :func:`write_geotiff` (any CRS, nodata, tiling).

Rendering: every shape is a convex polygon painted with supersampled coverage (anti-aliased
edges at sub-pixel accuracy), optionally modulated by a texture function of (x, y) metres.
"""
import math
from dataclasses import dataclass, field

import numpy as np
from osgeo import gdal, osr
from scipy import ndimage

# ---------------------------------------------------------------------------------------------
# Colours (linear RGB 0..1 as seen from orbit: a little desaturated) and ISO footprints
# ---------------------------------------------------------------------------------------------
CONTAINER_COLOURS = {
    # name used in the truth: (r, g, b)
    'blue': [(0.10, 0.28, 0.55), (0.22, 0.45, 0.70), (0.08, 0.14, 0.38)],
    'red': [(0.62, 0.12, 0.10), (0.50, 0.10, 0.12)],
    'brown': [(0.38, 0.20, 0.12), (0.45, 0.24, 0.16)],
    'green': [(0.12, 0.42, 0.22), (0.20, 0.50, 0.30)],
    'white': [(0.82, 0.82, 0.80), (0.74, 0.75, 0.76)],
    'grey': [(0.50, 0.51, 0.52), (0.58, 0.58, 0.57)],
    'orange': [(0.85, 0.42, 0.10), (0.80, 0.35, 0.08)],
    'yellow': [(0.85, 0.72, 0.18), (0.78, 0.66, 0.35)],
    'magenta': [(0.60, 0.16, 0.42)],
}
COLOUR_WEIGHTS = {'blue': 4, 'red': 2, 'brown': 2, 'green': 1.5, 'white': 2, 'grey': 2, 'orange': 1,
                  'yellow': 1, 'magenta': 0.7}
ISO = {'20ft': (6.058, 2.438), '40ft': (12.192, 2.438), '45ft': (13.716, 2.438)}
TIER_HEIGHT = 2.59


@dataclass
class Container:
    """Ground truth of one container: centre (m), length/width (m), long-axis angle (rad)."""
    cx: float
    cy: float
    length: float
    width: float
    angle: float
    size_class: str
    colour: str
    rgb: tuple
    tiers: int = 1
    group: int = -1      # id of the block / wagon it belongs to

    @property
    def teu(self):
        return 1 if self.size_class == '20ft' else 2

    def corners(self):
        return rect_corners(self.cx, self.cy, self.length, self.width, self.angle)


@dataclass
class Scene:
    img: np.ndarray                 # float32 (3, h, w) linear RGB 0..1
    gsd: float                      # metres per pixel
    containers: list                # [Container]
    valid: np.ndarray = None        # bool (h, w) or None (all valid)
    name: str = ''
    meta: dict = field(default_factory=dict)

    @property
    def shape(self):
        return self.img.shape[1:]

    @property
    def n_containers(self):
        return len(self.containers)

    @property
    def teu(self):
        return sum(c.teu for c in self.containers)


# ---------------------------------------------------------------------------------------------
# Geometry and painting
# ---------------------------------------------------------------------------------------------
def rect_corners(cx, cy, length, width, angle):
    """4 x 2 corners of a rectangle centred on (cx, cy), long axis at ``angle`` rad."""
    ca, sa = math.cos(angle), math.sin(angle)
    u = np.array([ca, sa]) * length / 2
    v = np.array([-sa, ca]) * width / 2
    c = np.array([cx, cy])
    return np.array([c - u - v, c + u - v, c + u + v, c - u + v])


def convex_hull(points):
    """Convex hull (counter-clockwise in x-right/y-down terms irrelevant: consistently oriented)."""
    pts = sorted(set(map(tuple, np.asarray(points, dtype=float).round(6))))
    if len(pts) <= 2:
        return np.array(pts)

    def cross(o, a, b):
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])
    lower, upper = [], []
    for p in pts:
        while len(lower) >= 2 and cross(lower[-2], lower[-1], p) <= 0:
            lower.pop()
        lower.append(p)
    for p in reversed(pts):
        while len(upper) >= 2 and cross(upper[-2], upper[-1], p) <= 0:
            upper.pop()
        upper.append(p)
    return np.array(lower[:-1] + upper[:-1])


class Canvas:
    """A float32 RGB image in metres-space that convex polygons are painted on."""

    def __init__(self, height, width, gsd, supersample=4):
        self.img = np.zeros((3, height, width), dtype=np.float32)
        self.shade = np.ones((3, height, width), dtype=np.float32)   # light left by shadows so far
        self.gsd = float(gsd)
        self.ss = int(supersample)

    @property
    def h(self):
        return self.img.shape[1]

    @property
    def w(self):
        return self.img.shape[2]

    def _coverage(self, poly):
        """(r0, c0, coverage (h, w), X, Y sample metres (h*ss, w*ss), inside) for a convex polygon."""
        poly = np.asarray(poly, dtype=float)
        g, s = self.gsd, self.ss
        c0 = max(0, int(math.floor(poly[:, 0].min() / g)))
        c1 = min(self.w, int(math.ceil(poly[:, 0].max() / g)) + 1)
        r0 = max(0, int(math.floor(poly[:, 1].min() / g)))
        r1 = min(self.h, int(math.ceil(poly[:, 1].max() / g)) + 1)
        if c1 <= c0 or r1 <= r0:
            return None
        xs = (c0 + (np.arange((c1 - c0) * s) + 0.5) / s) * g
        ys = (r0 + (np.arange((r1 - r0) * s) + 0.5) / s) * g
        X, Y = np.meshgrid(xs, ys)
        # orientation-independent half-plane test around the centroid
        centre = poly.mean(axis=0)
        inside = np.ones(X.shape, dtype=bool)
        n = len(poly)
        for i in range(n):
            a, b = poly[i], poly[(i + 1) % n]
            nx, ny = b[1] - a[1], a[0] - b[0]
            sign = np.sign(nx * (centre[0] - a[0]) + ny * (centre[1] - a[1])) or 1.0
            inside &= sign * (nx * (X - a[0]) + ny * (Y - a[1])) >= 0
        return r0, c0, inside, X, Y

    def paint(self, poly, rgb, alpha=1.0, texture=None):
        """Paint ``rgb`` over the polygon; ``texture(X, Y) -> factor`` modulates brightness
        (a scalar array or (3, ...) per band)."""
        cov = self._coverage(poly)
        if cov is None:
            return
        r0, c0, inside, X, Y = cov
        s = self.ss
        h, w = inside.shape[0] // s, inside.shape[1] // s
        val = np.asarray(rgb, dtype=np.float32).reshape(3, 1, 1) * np.ones((1,) + inside.shape, np.float32)
        if texture is not None:
            val = val * np.asarray(texture(X, Y), dtype=np.float32)
        val = val * inside
        frac = inside.reshape(h, s, w, s).mean(axis=(1, 3)) * alpha
        mean_val = val.reshape(3, h, s, w, s).sum(axis=(2, 4)) / np.maximum(inside.reshape(h, s, w, s).sum(axis=(1, 3)), 1)
        sub = self.img[:, r0:r0 + h, c0:c0 + w]
        sub *= 1 - frac
        sub += mean_val * frac
        shade = self.shade[:, r0:r0 + h, c0:c0 + w]     # what is painted over is lit again
        shade += (1 - shade) * frac

    def darken(self, poly, factor, tint=(1.0, 1.0, 1.0)):
        """Darken the polygon's pixels to ``factor`` (shadows), with anti-aliased edges."""
        cov = self._coverage(poly)
        if cov is None:
            return
        r0, c0, inside, _, _ = cov
        s = self.ss
        h, w = inside.shape[0] // s, inside.shape[1] // s
        frac = inside.reshape(h, s, w, s).mean(axis=(1, 3))
        mult = 1 - frac[None] * (1 - factor * np.asarray(tint, np.float32).reshape(3, 1, 1))
        # shadows do not add up: where two overlap (touching containers, a stack behind a
        # stack) the ground is as dark as under the darker one, not darker
        shade = self.shade[:, r0:r0 + h, c0:c0 + w]
        new = np.minimum(shade, mult)
        self.img[:, r0:r0 + h, c0:c0 + w] *= new / shade
        shade[:] = new

    def line(self, p0, p1, width, rgb, alpha=1.0):
        p0, p1 = np.asarray(p0, float), np.asarray(p1, float)
        d = p1 - p0
        length = float(np.hypot(*d))
        if length == 0:
            return
        c = (p0 + p1) / 2
        self.paint(rect_corners(c[0], c[1], length, width, math.atan2(d[1], d[0])), rgb, alpha)


def cast_shadow(canvas, footprint, height, sun_azimuth, sun_elevation, factor=0.45, elevated=False):
    """Shadow of a prism of ``height`` m over ``footprint`` (convex polygon) on the ground, or
    with ``elevated`` of a thin object held at that height (beams, booms: the shifted outline).
    Azimuth in radians clockwise from north (up); the shadow falls away from the sun."""
    if height <= 0:
        return
    d = height / math.tan(sun_elevation)
    off = np.array([-math.sin(sun_azimuth), math.cos(sun_azimuth)]) * d   # y is down: north is -y
    fp = np.asarray(footprint, dtype=float)
    poly = fp + off if elevated else convex_hull(np.vstack([fp, fp + off]))
    canvas.darken(poly, factor, tint=(0.95, 1.0, 1.12))


# ---------------------------------------------------------------------------------------------
# Textures, ground, noise, blur
# ---------------------------------------------------------------------------------------------
def smooth_noise(shape, rng, scale_px, amplitude=1.0):
    """Low-frequency noise field (h, w) with features of ~``scale_px`` pixels, std ~ amplitude."""
    h, w = shape
    sh, sw = max(2, int(h / scale_px) + 2), max(2, int(w / scale_px) + 2)
    coarse = rng.standard_normal((sh, sw)).astype(np.float32)
    coarse = ndimage.gaussian_filter(coarse, 0.8)
    coarse /= coarse.std() + 1e-6
    f = ndimage.zoom(coarse, (h / sh * 1.0001, w / sw * 1.0001), order=3)[:h, :w]
    if f.shape != (h, w):
        f = np.pad(f, ((0, h - f.shape[0]), (0, w - f.shape[1])), mode='edge')
    return f * amplitude


def ground_texture(canvas, rng, rgb=(0.20, 0.20, 0.19), mottling=0.08, grain=0.03, stains=40,
                   joints_m=None):
    """Fill the canvas with pavement: base colour, large-scale mottling, fine grain, dark oil
    stains and (optionally) concrete slab joints every ``joints_m`` metres."""
    h, w = canvas.h, canvas.w
    base = np.asarray(rgb, np.float32).reshape(3, 1, 1)
    field_ = 1 + smooth_noise((h, w), rng, 60 / canvas.gsd, mottling) + smooth_noise((h, w), rng, 8 / canvas.gsd, mottling / 2)
    field_ += rng.standard_normal((h, w)).astype(np.float32) * grain
    canvas.img[:] = base * field_[None]
    for _ in range(stains):
        cx, cy = rng.uniform(0, w * canvas.gsd), rng.uniform(0, h * canvas.gsd)
        r = rng.uniform(0.5, 3.0)
        poly = [(cx + r * math.cos(t), cy + r * 0.6 * math.sin(t)) for t in np.linspace(0, 2 * math.pi, 9)[:-1]]
        canvas.darken(poly, rng.uniform(0.7, 0.9))
    if joints_m:
        W, H = w * canvas.gsd, h * canvas.gsd
        for x in np.arange(joints_m, W, joints_m):
            canvas.line((x, 0), (x, H), 0.05, base.ravel() * 0.6, 0.7)
        for y in np.arange(joints_m, H, joints_m):
            canvas.line((0, y), (W, y), 0.05, base.ravel() * 0.6, 0.7)


def paint_area(canvas, poly, rng, rgb, mottling=0.06, grain=0.03):
    """Paint a textured surface (another pavement, gravel, grass) over a convex polygon."""
    amp = mottling

    def tex(X, Y):
        return 1 + amp * np.sin(X * 0.37 + Y * 0.11) * np.cos(Y * 0.23) + grain * rng.standard_normal(X.shape)
    canvas.paint(poly, rgb, texture=tex)


def corrugated(angle, period=0.28, amplitude=0.10, seed=0, brightness=1.0, streak=0.04):
    """Texture of a corrugated roof: ridges across the long axis (``angle``) plus dirt streaks."""
    ca, sa = math.cos(angle), math.sin(angle)
    rng = np.random.default_rng(seed)
    ph = rng.uniform(0, 2 * math.pi)
    k = rng.uniform(0.5, 2.0)

    def tex(X, Y):
        u = X * ca + Y * sa
        v = -X * sa + Y * ca
        return brightness * (1 + amplitude * np.sin(2 * math.pi * u / period + ph)
                             + streak * np.sin(v * k + ph) * np.sin(u * 0.3 * k))
    return tex


def blur(img, sigma_px):
    """Optical blur (Gaussian PSF), per band."""
    if sigma_px <= 0:
        return img
    return np.stack([ndimage.gaussian_filter(b, sigma_px) for b in img])


def add_noise(img, rng, sigma=0.01, shot=0.01):
    """Read noise plus signal-dependent (shot) noise, clipped to 0..1."""
    noise = rng.standard_normal(img.shape).astype(np.float32)
    out = img + noise * np.sqrt(sigma ** 2 + shot ** 2 * np.clip(img, 0, None))
    return np.clip(out, 0, 1, out=out)


def atmosphere(img, haze=0.03, gain=1.0):
    """Path radiance (haze) and gain: a flat, slightly blue veil."""
    return img * gain + np.array([haze * 0.8, haze * 0.9, haze * 1.2], np.float32).reshape(3, 1, 1)


# ---------------------------------------------------------------------------------------------
# Objects
# ---------------------------------------------------------------------------------------------
def pick_colour(rng, weights=COLOUR_WEIGHTS):
    names = list(weights)
    p = np.array([weights[n] for n in names], float)
    name = names[rng.choice(len(names), p=p / p.sum())]
    shades = CONTAINER_COLOURS[name]
    rgb = np.array(shades[rng.integers(len(shades))]) * rng.uniform(0.9, 1.08)
    return name, tuple(np.clip(rgb + rng.normal(0, 0.015, 3), 0, 1))


def paint_container(canvas, c, rng, sun=None, light=1.0):
    """Roof of one container: corrugated, door-end frame slightly darker, top-side lit."""
    tex = corrugated(c.angle, period=rng.uniform(0.25, 0.4), amplitude=rng.uniform(0.04, 0.12),
                     seed=int(rng.integers(1 << 30)), brightness=light * (1 + 0.03 * (c.tiers - 1)))
    canvas.paint(c.corners(), c.rgb, texture=tex)
    # end frames (corner castings and rails) a little darker
    ca, sa = math.cos(c.angle), math.sin(c.angle)
    for s in (-1, 1):
        ex, ey = c.cx + s * ca * (c.length / 2 - 0.12), c.cy + s * sa * (c.length / 2 - 0.12)
        canvas.paint(rect_corners(ex, ey, 0.24, c.width, c.angle), np.array(c.rgb) * 0.7, alpha=0.8)


def container_block(canvas, rng, cx, cy, angle, rows, bays, size_class, sun, colour_mode='mixed',
                    missing=0.08, side_gap=(0.04, 0.2), end_gap=(0.4, 1.4), max_tiers=4, group=0):
    """A yard block: ``bays`` of ``rows`` containers side by side (long sides touching, thin
    dark seams), bays end to end with a gap. Returns the list of Container truths."""
    sizes = [size_class] * bays if isinstance(size_class, str) else list(size_class)
    W = ISO[sizes[0]][1]
    ca, sa = math.cos(angle), math.sin(angle)
    gap_s = rng.uniform(*side_gap)
    gap_e = rng.uniform(*end_gap)
    block_colour = pick_colour(rng) if colour_mode == 'uniform' else None
    out = []
    lens = [ISO[s][0] for s in sizes]
    total_len = sum(lens) + gap_e * (bays - 1)
    total_w = rows * W + (rows - 1) * gap_s
    u0 = -total_len / 2
    tiers_row = rng.integers(1, max_tiers + 1, size=rows)
    for b in range(bays):
        Lb = lens[b]
        uc = u0 + Lb / 2
        u0 += Lb + gap_e
        # dark under-layer: the deep gaps between neighbouring stacks
        bx, by = cx + uc * ca, cy + uc * sa
        present = rng.random(rows) >= missing
        for r in range(rows):
            if not present[r]:
                continue
            vc = -total_w / 2 + W / 2 + r * (W + gap_s)
            x, y = bx - vc * sa, by + vc * ca
            if colour_mode == 'uniform' and rng.random() < 0.85:
                name, rgb = block_colour
                rgb = tuple(np.clip(np.array(rgb) * rng.uniform(0.95, 1.05), 0, 1))
            else:
                name, rgb = pick_colour(rng)
            out.append(Container(x, y, Lb, W, angle, sizes[b], name, rgb, int(tiers_row[r]), group))
    # shadows first (on the ground), then the dark gaps, then the roofs
    for c in out:
        cast_shadow(canvas, c.corners(), c.tiers * TIER_HEIGHT, *sun)
    for c in out:
        canvas.paint(rect_corners(c.cx, c.cy, c.length + 0.05, c.width + 2 * gap_s, c.angle), (0.04, 0.04, 0.045))
    for c in sorted(out, key=lambda c: c.tiers):
        paint_container(canvas, c, rng)
    # taller stacks shade their lower neighbours a little
    return out


def car(canvas, rng, cx, cy, angle, sun, rgb=None):
    L, W = rng.uniform(4.0, 4.9), rng.uniform(1.7, 1.9)
    rgb = rgb if rgb is not None else pick_colour(rng, {'white': 3, 'grey': 3, 'blue': 1, 'red': 1})[1]
    fp = rect_corners(cx, cy, L, W, angle)
    cast_shadow(canvas, fp, 1.4, *sun)
    canvas.paint(fp, rgb)
    ca, sa = math.cos(angle), math.sin(angle)
    canvas.paint(rect_corners(cx + 0.6 * ca, cy + 0.6 * sa, 1.0, W * 0.8, angle), (0.05, 0.06, 0.08))
    canvas.paint(rect_corners(cx - 1.3 * ca, cy - 1.3 * sa, 0.6, W * 0.8, angle), (0.06, 0.07, 0.09))


def truck(canvas, rng, cx, cy, angle, sun, trailer='curtain', container=None):
    """Tractor + trailer. ``trailer``: curtain (13.6 m box), tank, flatbed, box (rigid 7.5 m) or
    chassis carrying ``container`` (a Container truth, painted and returned)."""
    ca, sa = math.cos(angle), math.sin(angle)
    tl = {'curtain': 13.6, 'tank': 12.5, 'flatbed': 13.6, 'box': 7.2, 'chassis': 12.4}[trailer]
    cab_rgb = pick_colour(rng, {'white': 2, 'red': 1, 'blue': 1, 'yellow': 1})[1]
    cab_c = (cx + (tl / 2 + 1.4) * ca, cy + (tl / 2 + 1.4) * sa)
    cab = rect_corners(cab_c[0], cab_c[1], 2.4, 2.45, angle)
    body = rect_corners(cx, cy, tl, 2.55, angle)
    cast_shadow(canvas, cab, 3.2, *sun)
    cast_shadow(canvas, body, 4.0 if trailer in ('curtain', 'box', 'tank') else 1.5, *sun)
    canvas.paint(cab, cab_rgb)
    out = []
    if trailer == 'curtain' or trailer == 'box':
        canvas.paint(body, pick_colour(rng, {'white': 4, 'grey': 2, 'blue': 1})[1],
                     texture=corrugated(angle + math.pi / 2, period=1.0, amplitude=0.03))
    elif trailer == 'tank':
        def tex(X, Y):
            v = -(X - cx) * sa + (Y - cy) * ca
            return 0.55 + 0.6 * np.cos(np.clip(v / 1.25, -1.2, 1.2))
        canvas.paint(rect_corners(cx, cy, tl, 2.4, angle), (0.75, 0.76, 0.78), texture=tex)
    elif trailer == 'flatbed':
        canvas.paint(body, (0.22, 0.20, 0.18))
    elif trailer == 'chassis':
        canvas.paint(body, (0.10, 0.10, 0.10))
        if container is not None:
            container.cx, container.cy, container.angle = cx, cy, angle
            paint_container(canvas, container, rng)
            out.append(container)
    return out


def building(canvas, rng, cx, cy, length, width, angle, sun, height=None, rgb=None, ridged=True):
    """A warehouse/shed: flat or corrugated roof, cast shadow."""
    height = height or rng.uniform(5, 15)
    rgb = rgb if rgb is not None else pick_colour(rng, {'grey': 4, 'white': 2, 'blue': 1, 'green': 1, 'red': 1})[1]
    fp = rect_corners(cx, cy, length, width, angle)
    cast_shadow(canvas, fp, height, *sun)
    tex = corrugated(angle + math.pi / 2, period=rng.uniform(0.3, 1.0), amplitude=0.08,
                     seed=int(rng.integers(1 << 30))) if ridged else None
    canvas.paint(fp, rgb, texture=tex)
    # roof ridge line and skylights
    canvas.paint(rect_corners(cx, cy, length, 0.4, angle), np.array(rgb) * 0.8)
    ca, sa = math.cos(angle), math.sin(angle)
    for k in range(int(rng.integers(0, 6))):
        t = rng.uniform(-0.4, 0.4) * length
        s = rng.choice([-1, 1]) * width / 4
        canvas.paint(rect_corners(cx + t * ca - s * sa, cy + t * sa + s * ca, 2.0, 1.2, angle), (0.85, 0.88, 0.9))


def rtg_crane(canvas, rng, cx, cy, angle, span, sun):
    """Rubber-tyred gantry: two long girders across the block with a trolley; high shadows."""
    ca, sa = math.cos(angle), math.sin(angle)
    yellow = (0.85, 0.70, 0.12) if rng.random() < 0.7 else (0.80, 0.80, 0.78)
    for s in (-1, 1):
        gx, gy = cx - s * 3.5 * sa, cy + s * 3.5 * ca
        beam = rect_corners(gx, gy, span, 1.0, angle)
        cast_shadow(canvas, beam, 20, *sun, factor=0.6, elevated=True)
        canvas.paint(beam, yellow)
    # trolley parked over the truck lane at one end of the span (not hiding the stack)
    canvas.paint(rect_corners(cx + ca * (span / 2 - 2), cy + sa * (span / 2 - 2), 3.0, 8.0, angle), np.array(yellow) * 0.9)


def sts_crane(canvas, rng, cx, cy, angle, sun):
    """Ship-to-shore crane seen from above: long boom and frame, thin lattice."""
    ca, sa = math.cos(angle), math.sin(angle)
    col = (0.75, 0.25, 0.12) if rng.random() < 0.5 else (0.82, 0.82, 0.80)
    for s in (-1, 1):
        bx, by = cx - s * 1.6 * sa, cy + s * 1.6 * ca
        boom = rect_corners(bx, by, 70, 1.0, angle)
        cast_shadow(canvas, boom, 45, *sun, factor=0.65, elevated=True)
        canvas.paint(boom, col)
    for t in np.arange(-30, 31, 6):
        canvas.line((cx + t * ca - 1.6 * sa, cy + t * sa + 1.6 * ca), (cx + t * ca + 1.6 * sa, cy + t * sa - 1.6 * ca), 0.4, col)
    canvas.paint(rect_corners(cx - 20 * ca, cy - 20 * sa, 10, 18, angle), np.array(col) * 0.9)


def road_markings(canvas, rng, p0, p1, dashed=True, width=0.15, colour=(0.85, 0.85, 0.8)):
    p0, p1 = np.asarray(p0, float), np.asarray(p1, float)
    d = p1 - p0
    n = float(np.hypot(*d))
    if not dashed:
        canvas.line(p0, p1, width, colour, 0.9)
        return
    for t in np.arange(0, n - 3, 9.0):
        canvas.line(p0 + d * t / n, p0 + d * (t + 3) / n, width, colour, 0.9)


def slot_outline(canvas, cx, cy, length, width, angle, line=0.12, colour=(0.85, 0.85, 0.78)):
    """A painted (empty) container slot: a thin closed rectangle outline."""
    c = rect_corners(cx, cy, length, width, angle)
    for i in range(4):
        canvas.line(c[i], c[(i + 1) % 4], line, colour, 0.8)


def zebra(canvas, cx, cy, angle, n=6):
    ca, sa = math.cos(angle), math.sin(angle)
    for k in range(n):
        t = (k - n / 2) * 1.0
        canvas.paint(rect_corners(cx + t * ca, cy + t * sa, 0.5, 3.5, angle), (0.85, 0.85, 0.82))


def rail_track(canvas, p0, p1):
    """Ballast bed, sleepers and two rails from p0 to p1."""
    p0, p1 = np.asarray(p0, float), np.asarray(p1, float)
    d = p1 - p0
    n = float(np.hypot(*d))
    ang = math.atan2(d[1], d[0])
    c = (p0 + p1) / 2
    canvas.paint(rect_corners(c[0], c[1], n, 3.6, ang), (0.30, 0.27, 0.24),
                 texture=lambda X, Y: 1 + 0.12 * np.sin(X * 7.1) * np.sin(Y * 6.3))
    ca, sa = math.cos(ang), math.sin(ang)
    for t in np.arange(0.3, n, 0.65):
        q = p0 + d * t / n
        canvas.paint(rect_corners(q[0], q[1], 0.22, 2.6, ang), (0.32, 0.24, 0.17))
    for s in (-0.75, 0.75):
        off = np.array([-sa, ca]) * s
        canvas.line(p0 + off, p1 + off, 0.08, (0.55, 0.55, 0.58))


def flatcar_train(canvas, rng, p0, angle, n_cars, sun, group0=0, empty=0.15):
    """Container flatcars coupled along ``angle`` from p0: 40ft, 2x20ft or 20ft loads."""
    ca, sa = math.cos(angle), math.sin(angle)
    t = 0.0
    out = []
    for k in range(n_cars):
        car_len = rng.choice([13.9, 19.6])
        cxy = np.asarray(p0) + np.array([ca, sa]) * (t + car_len / 2)
        t += car_len + 1.6
        deck = rect_corners(cxy[0], cxy[1], car_len, 2.9, angle)
        cast_shadow(canvas, deck, 1.2, *sun, factor=0.6)
        canvas.paint(deck, (0.25, 0.18, 0.14))
        if rng.random() < empty:
            for s in np.arange(-car_len / 2 + 1, car_len / 2, 2.0):   # skeleton cross-members
                q = cxy + np.array([ca, sa]) * s
                canvas.paint(rect_corners(q[0], q[1], 0.3, 2.9, angle), (0.12, 0.10, 0.09))
            continue
        loads = []
        if car_len < 15:
            loads = [['40ft'], ['20ft', '20ft'], ['20ft']][rng.integers(3)]
        else:
            loads = [['40ft', '20ft'], ['20ft', '20ft', '20ft'], ['40ft']][rng.integers(3)]
        used = sum(ISO[s][0] for s in loads) + 0.5 * (len(loads) - 1)
        u = -used / 2
        cs = []
        for s in loads:
            L, W = ISO[s]
            q = cxy + np.array([ca, sa]) * (u + L / 2)
            u += L + 0.5
            name, rgb = pick_colour(rng)
            cs.append(Container(float(q[0]), float(q[1]), L, W, angle, s, name, rgb, 1, group0 + k))
        for c in cs:
            cast_shadow(canvas, c.corners(), 2.6 + 1.2, *sun)
        for c in cs:
            paint_container(canvas, c, rng)
        out += cs
    return out


# ---------------------------------------------------------------------------------------------
# Layouts
# ---------------------------------------------------------------------------------------------
class Occupancy:
    """Coarse occupancy grid (2 m cells) to place objects without overlap."""

    def __init__(self, width_m, height_m, cell=2.0):
        self.cell = cell
        self.grid = np.zeros((int(height_m / cell) + 2, int(width_m / cell) + 2), dtype=bool)

    def _cells(self, poly, margin, clip=False):
        poly = np.asarray(poly, float)
        c = poly.mean(axis=0)
        poly = c + (poly - c) * (1 + margin / max(1e-6, np.abs(poly - c).max()))
        x0, y0 = np.floor(poly.min(axis=0) / self.cell).astype(int)
        x1, y1 = np.ceil(poly.max(axis=0) / self.cell).astype(int)
        h, w = self.grid.shape
        if clip:    # an object partly outside the scene (a train running off the edge) takes what is inside
            return max(y0, 0), min(y1, h - 1), max(x0, 0), min(x1, w - 1)
        if x0 < 0 or y0 < 0 or y1 >= h or x1 >= w:
            return None
        return y0, y1, x0, x1

    def free(self, poly, margin=2.0):
        cells = self._cells(poly, margin)
        if cells is None:
            return False
        y0, y1, x0, x1 = cells
        return not self.grid[y0:y1 + 1, x0:x1 + 1].any()

    def take(self, poly, margin=0.0):
        y0, y1, x0, x1 = self._cells(poly, margin, clip=True)
        self.grid[y0:y1 + 1, x0:x1 + 1] = True


def port_scene(seed=0, gsd=0.5, size_px=1024, angle=None, n_blocks=None, colour_mode=None, distractors=1.0,
               rail=False, blur_px=None, noise=None, name=None, mixed_angles=False, concrete=None):
    """A container terminal: yard blocks (any orientation, 20ft and 40ft bays, 1-8 rows,
    mixed or uniform colours, stacks 1-4 high with shadows), trucks (some carrying containers),
    parked cars, warehouses, cranes, road markings, painted empty slots and optionally a
    rail yard with containers on flatcars. Returns a :class:`Scene` with exact truth."""
    rng = np.random.default_rng(seed)
    H = W = size_px
    Wm, Hm = W * gsd, H * gsd
    cv = Canvas(H, W, gsd)
    sun = (rng.uniform(0, 2 * math.pi), math.radians(rng.uniform(30, 65)))
    concrete = rng.random() < 0.4 if concrete is None else concrete
    ground_rgb = (0.38, 0.37, 0.35) if concrete else (0.17, 0.17, 0.165)
    ground_texture(cv, rng, np.array(ground_rgb) * rng.uniform(0.9, 1.1), joints_m=6.0 if concrete else None,
                   stains=int(Wm * Hm / 800))
    occ = Occupancy(Wm, Hm)
    angle = rng.uniform(0, math.pi) if angle is None else angle
    truths = []
    gid = 0
    # rail yard strip along one edge
    if rail:
        ra = angle
        ca, sa = math.cos(ra), math.sin(ra)
        centre = np.array([Wm / 2, Hm / 2])
        for k, off in enumerate((-Hm * 0.3, -Hm * 0.3 + 6.5, -Hm * 0.3 + 13)):
            p0 = centre + np.array([-sa, ca]) * off - np.array([ca, sa]) * Wm
            p1 = centre + np.array([-sa, ca]) * off + np.array([ca, sa]) * Wm
            rail_track(cv, p0, p1)
            start = centre + np.array([-sa, ca]) * off - np.array([ca, sa]) * rng.uniform(0.2, 0.45) * Wm
            train = flatcar_train(cv, rng, start, ra, int(rng.integers(4, 9)), sun, group0=1000 * (k + 1))
            truths += train
            for c in train:
                occ.take(c.corners(), 1.0)
            # mark the whole strip occupied (coarse)
            for t in np.linspace(-Wm, Wm, 200):
                q = centre + np.array([-sa, ca]) * off + np.array([ca, sa]) * t
                if 0 < q[0] < Wm and 0 < q[1] < Hm:
                    cell = rect_corners(q[0], q[1], 4, 5, ra)
                    if occ._cells(cell, 0):
                        occ.take(cell, 0)
    # yard blocks
    n_blocks = n_blocks if n_blocks is not None else int(Wm * Hm / 2200)
    placed = tries = 0
    while placed < n_blocks and tries < n_blocks * 30:
        tries += 1
        a = angle if not mixed_angles or rng.random() < 0.5 else rng.uniform(0, math.pi)
        rows = int(rng.integers(1, 9))
        bays = int(rng.integers(1, 4))
        sizes = [('20ft', '40ft')[int(rng.random() < 0.6)] for _ in range(bays)]
        L = sum(ISO[s][0] for s in sizes) + 1.5 * bays
        Wd = rows * 2.6
        cx, cy = rng.uniform(0, Wm), rng.uniform(0, Hm)
        fp = rect_corners(cx, cy, L + 4, Wd + 4, a)
        if not occ.free(fp, 1.0):
            continue
        occ.take(fp)
        mode = colour_mode or ('uniform' if rng.random() < 0.4 else 'mixed')
        truths += container_block(cv, rng, cx, cy, a, rows, bays, sizes, sun, colour_mode=mode, group=gid)
        gid += 1
        placed += 1
        if rng.random() < 0.15 * distractors:
            rtg_crane(cv, rng, cx, cy, a + math.pi / 2, Wd + 8, sun)
    # distractors
    n_d = int(Wm * Hm / 1500 * distractors)
    for _ in range(n_d * 3):
        kind = rng.choice(['cars', 'truck', 'building', 'slots', 'markings', 'zebra', 'sts', 'shed'],
                          p=[0.25, 0.2, 0.1, 0.12, 0.15, 0.06, 0.02, 0.1])
        a = angle + rng.choice([0, math.pi / 2]) if rng.random() < 0.7 else rng.uniform(0, math.pi)
        cx, cy = rng.uniform(0, Wm), rng.uniform(0, Hm)
        if kind == 'cars':
            n = int(rng.integers(3, 12))
            same = rng.random() < 0.5
            col = pick_colour(rng, {'white': 2, 'grey': 2, 'blue': 1, 'red': 1})[1] if same else None
            fp = rect_corners(cx, cy, 5, n * 2.5, a)
            if not occ.free(fp, 1):
                continue
            occ.take(fp)
            ca, sa = math.cos(a), math.sin(a)
            for k in range(n):
                v = (k - n / 2) * rng.uniform(2.3, 2.7)
                car(cv, rng, cx - v * sa, cy + v * ca, a + rng.normal(0, 0.03), sun, col)
        elif kind == 'truck':
            fp = rect_corners(cx, cy, 18, 3.5, a)
            if not occ.free(fp, 1):
                continue
            occ.take(fp)
            t = rng.choice(['curtain', 'tank', 'flatbed', 'box', 'chassis', 'chassis'])
            cont = None
            if t == 'chassis':
                s = '40ft' if rng.random() < 0.6 else '20ft'
                nm, rgb = pick_colour(rng)
                cont = Container(cx, cy, ISO[s][0], ISO[s][1], a, s, nm, rgb, 1, 5000 + _)
            truths += truck(cv, rng, cx, cy, a, sun, t, cont)
        elif kind in ('building', 'shed'):
            L = rng.uniform(20, 70) if kind == 'building' else rng.uniform(3.5, 9)
            Wb = rng.uniform(15, 40) if kind == 'building' else rng.uniform(3.0, 5.0)
            fp = rect_corners(cx, cy, L, Wb, a)
            if not occ.free(fp, 3):
                continue
            occ.take(fp)
            building(cv, rng, cx, cy, L, Wb, a, sun, height=None if kind == 'building' else rng.uniform(2.5, 4))
        elif kind == 'slots':
            n = int(rng.integers(2, 8))
            L = ISO['20ft' if rng.random() < 0.5 else '40ft'][0] + 0.6
            fp = rect_corners(cx, cy, L, n * 3.0, a)
            if not occ.free(fp, 1):
                continue
            occ.take(fp)
            ca, sa = math.cos(a), math.sin(a)
            for k in range(n):
                v = (k - n / 2) * 3.0
                slot_outline(cv, cx - v * sa, cy + v * ca, L, 2.9, a)
        elif kind == 'markings':
            ca, sa = math.cos(a), math.sin(a)
            road_markings(cv, rng, (cx - 60 * ca, cy - 60 * sa), (cx + 60 * ca, cy + 60 * sa), rng.random() < 0.6)
        elif kind == 'zebra':
            zebra(cv, cx, cy, a)
        elif kind == 'sts' and rng.random() < 0.5:
            fp = rect_corners(cx, cy, 70, 18, a)      # stands on the quay, not over the stacks
            if not occ.free(fp, 1):
                continue
            occ.take(fp)
            sts_crane(cv, rng, cx, cy, a, sun)
    img = atmosphere(cv.img, haze=rng.uniform(0.01, 0.05))
    blur_px = rng.uniform(0.4, 0.8) if blur_px is None else blur_px
    img = blur(img, blur_px)
    img = add_noise(img, rng, sigma=rng.uniform(0.004, 0.012) if noise is None else noise, shot=0.01)
    # keep only containers whose centre is inside the image
    truths = [c for c in truths if 0 <= c.cx < Wm and 0 <= c.cy < Hm]
    return Scene(img.astype(np.float32), gsd, truths, None, name or f'port_s{seed}_{gsd}m',
                 {'sun': sun, 'angle': angle, 'concrete': concrete, 'blur_px': blur_px})


def ship_at_quay(cv, rng, sun, loaded=True):
    """Water over the northern 62 m of ``cv`` with a ship in it (bridge aft, bow to the east): 40 ft boxes along its
    deck, 2-4 high, or (``loaded=False``) its closed hatch covers, panels with seams across and a coaming round
    each. Returns the deck's boxes."""
    cv.paint([(0, 0), (120, 0), (120, 62), (0, 62)], (0.05, 0.09, 0.12))                 # water
    hull = [(8, 20), (92, 20), (112, 31), (92, 42), (8, 42)]
    cast_shadow(cv, hull, 6, *sun)
    cv.paint(hull, (0.30, 0.10, 0.08))
    cv.paint([(10, 22), (92, 22), (92, 40), (10, 40)], (0.33, 0.33, 0.34))             # deck
    building(cv, rng, 14, 31, 8, 20, math.pi / 2, sun, height=14, rgb=(0.9, 0.9, 0.88), ridged=False)
    if loaded:
        return container_block(cv, rng, 56, 31, 0.0, 6, 5, '40ft', sun, missing=0.0, max_tiers=3)
    rgb = pick_colour(rng, {'grey': 2, 'red': 1, 'green': 1, 'blue': 1})[1]
    for x in np.arange(25, 90, 13.5):                                                   # five hatches
        cover = rect_corners(x, 31, 12.5, 15.0, 0.0)
        cast_shadow(cv, cover, 1.5, *sun)
        cv.paint(rect_corners(x, 31, 13.1, 15.6, 0.0), (0.22, 0.22, 0.23))              # coaming
        cv.paint(cover, rgb, texture=corrugated(0.0, period=3.1, amplitude=0.12))      # panels across the beam
    return []


SHIP_SUN = (150.0, 45.0)   # the sun of loaded_ship, in radians as cast_shadow takes it (from north clockwise; up)


def loaded_ship(rng, gsd=0.4):
    """A 120 m square at a quay: water with a loaded ship (:func:`ship_at_quay`) to the north, a yard block on the
    pavement to the south. Returns (canvas, ship's boxes, yard's boxes)."""
    cv = Canvas(300, 300, gsd)
    sun = SHIP_SUN
    ground_texture(cv, rng, rgb=(0.42, 0.42, 0.40))
    deck = ship_at_quay(cv, rng, sun)
    yard = container_block(cv, rng, 60, 95, 0.0, 6, 4, '40ft', sun, missing=0.0, max_tiers=3)
    return cv, deck, yard


def bus(canvas, rng, cx, cy, angle, sun, rgb=None):
    """A 12 m bus seen from above: its roof in the fleet's colour, a dark windscreen band at the front, two roof
    hatches and an air-conditioning unit."""
    rgb = rgb if rgb is not None else pick_colour(rng, {'white': 2, 'yellow': 2, 'red': 1, 'blue': 1})[1]
    ca, sa = math.cos(angle), math.sin(angle)
    fp = rect_corners(cx, cy, 12.0, 2.55, angle)
    cast_shadow(canvas, fp, 3.1, *sun)
    canvas.paint(fp, rgb)
    canvas.paint(rect_corners(cx + 5.6 * ca, cy + 5.6 * sa, 0.7, 2.3, angle), (0.06, 0.07, 0.09))
    for u, L, W, c in ((-3.5, 0.9, 0.9, (0.7, 0.7, 0.7)), (2.5, 0.9, 0.9, (0.7, 0.7, 0.7)),
                       (-0.5, 2.6, 1.6, (0.55, 0.56, 0.58))):
        canvas.paint(rect_corners(cx + u * ca, cy + u * sa, L, W, angle), c)


def empty_scene(seed=0, gsd=0.5, size_px=1024, kind='fields'):
    """Scenes without containers (fields, water) for tiling big benchmark rasters."""
    rng = np.random.default_rng(seed)
    cv = Canvas(size_px, size_px, gsd)
    if kind == 'water':
        ground_texture(cv, rng, (0.05, 0.08, 0.10), mottling=0.1, grain=0.02, stains=0)
    else:
        ground_texture(cv, rng, (0.18, 0.28, 0.12), mottling=0.2, grain=0.05, stains=0)
    img = add_noise(blur(atmosphere(cv.img), 0.6), rng, 0.008, 0.01)
    return Scene(img.astype(np.float32), gsd, [], None, f'{kind}_s{seed}')


# ---------------------------------------------------------------------------------------------
# Sensor formats and GeoTIFF writing
# ---------------------------------------------------------------------------------------------
def to_bands(img, layout='rgb'):
    """(3, h, w) RGB to the band layout: 'rgb', 'pan' (1 band), 'bgrn' (4 bands, WorldView-like
    order blue, green, red, near-infrared), 'rgbn'. Returns (array, colour interpretations)."""
    r, g, b = img
    if layout == 'rgb':
        return img, [gdal.GCI_RedBand, gdal.GCI_GreenBand, gdal.GCI_BlueBand]
    pan = 0.3 * r + 0.5 * g + 0.2 * b
    if layout == 'pan':
        return pan[None], [gdal.GCI_GrayIndex]
    nir = np.clip(0.6 * pan + 0.25 * np.clip(g - r, 0, None) * 3, 0, 1)
    if layout == 'bgrn':
        return np.stack([b, g, r, nir]), [gdal.GCI_BlueBand, gdal.GCI_GreenBand, gdal.GCI_RedBand, gdal.GCI_Undefined]
    if layout == 'rgbn':
        return np.stack([r, g, b, nir]), [gdal.GCI_RedBand, gdal.GCI_GreenBand, gdal.GCI_BlueBand, gdal.GCI_Undefined]
    raise ValueError(layout)


def to_dtype(img, dtype='Byte', bits=11, gamma=True):
    """0..1 float to sensor numbers: Byte (display gamma), UInt16 with ``bits`` bits (linear,
    with a dark offset) or Float32 (reflectance)."""
    if dtype == 'Byte':
        v = np.power(np.clip(img, 0, 1), 1 / 1.6) if gamma else img
        return np.clip(v * 255 + 0.5, 0, 255).astype(np.uint8)
    if dtype == 'UInt16':
        top = (1 << bits) - 1
        return np.clip(30 + img * (top - 30) * 0.9 + 0.5, 0, top).astype(np.uint16)
    if dtype == 'Float32':
        return img.astype(np.float32)
    raise ValueError(dtype)


GDAL_TYPES = {np.dtype(np.uint8): gdal.GDT_Byte, np.dtype(np.uint16): gdal.GDT_UInt16,
              np.dtype(np.int16): gdal.GDT_Int16, np.dtype(np.float32): gdal.GDT_Float32,
              np.dtype(np.float64): gdal.GDT_Float64}


ORIGIN = (500000.0, 4000000.0)  # upper-left corner of every generated yard (EPSG:32652)


def geotransform(gsd, origin=ORIGIN):
    return (origin[0], gsd, 0.0, origin[1], 0.0, -gsd)


def write_geotiff(path, arr, gt=None, epsg=32652, nodata=None, colour_interp=None, tiled=True,
                  compress='DEFLATE', srs_wkt=None, block=256):
    """Write (bands, h, w) (or (h, w)) to a GeoTIFF; ``epsg=None`` and no ``srs_wkt`` writes no CRS."""
    arr = np.asarray(arr)
    if arr.ndim == 2:
        arr = arr[None]
    n, h, w = arr.shape
    opts = [f'COMPRESS={compress}'] if compress else []
    if tiled:
        opts += ['TILED=YES', f'BLOCKXSIZE={block}', f'BLOCKYSIZE={block}']
    if compress in ('DEFLATE', 'LZW', 'ZSTD'):
        opts.append('PREDICTOR=2' if arr.dtype.kind in 'ui' else 'PREDICTOR=3')
    if n >= 3 and arr.dtype == np.uint8 and compress != 'JPEG':
        opts.append('PHOTOMETRIC=RGB' if n == 3 else 'PHOTOMETRIC=MINISBLACK')
    ds = gdal.GetDriverByName('GTiff').Create(str(path), w, h, n, GDAL_TYPES[arr.dtype], opts)
    if gt is not None:
        ds.SetGeoTransform(gt)
    if srs_wkt:
        ds.SetProjection(srs_wkt)
    elif epsg:
        srs = osr.SpatialReference()
        srs.ImportFromEPSG(epsg)
        ds.SetProjection(srs.ExportToWkt())
    for i in range(n):
        band = ds.GetRasterBand(i + 1)
        if nodata is not None:
            band.SetNoDataValue(float(nodata))
        if colour_interp:
            band.SetColorInterpretation(colour_interp[i])
        band.WriteArray(arr[i])
    ds.FlushCache()
    ds = None
    return str(path)


def another_date(scene, seed=1, clear=None):
    """The same yard on another date: darker and more contrasted light, softer optics, other noise; ``clear``
    (c0, r0, c1, r1) pixels emptied to bare pavement (the yard's median colour). A copy of ``scene``."""
    import copy
    out = copy.copy(scene)
    img = blur(np.clip(scene.img * 0.85, 0, 1).astype(np.float32) ** 1.15, 0.7)
    if clear:
        c0, r0, c1, r1 = clear
        img[:, r0:r1, c0:c1] = np.median(img, axis=(1, 2))[:, None, None]
    out.img = np.clip(img + np.random.default_rng(seed).normal(0, 0.012, img.shape), 0, 1).astype(np.float32)
    return out


def write_scene(scene, path, layout='rgb', dtype='Byte', bits=11, epsg=32652, origin=ORIGIN,
                nodata=None, nodata_corners=False, geographic=False, compress='DEFLATE'):
    """Write a Scene as a GeoTIFF in the given band layout and data type. ``nodata_corners``
    blanks two triangular corners (like an orthorectified strip edge) to ``nodata``.
    ``geographic`` writes the raster re-projected to EPSG:4326 (truth stays in the UTM metres
    given by :func:`truth_map_coords`). Returns the path."""
    arr, interp = to_bands(scene.img, layout)
    arr = to_dtype(arr, dtype, bits)
    if nodata_corners:
        h, w = arr.shape[1:]
        yy, xx = np.mgrid[0:h, 0:w]
        blank = (xx + yy < min(h, w) * 0.3) | ((w - xx) + (h - yy) < min(h, w) * 0.3)
        arr[:, blank] = 0 if nodata is None else nodata
        nodata = 0 if nodata is None else nodata
    gt = geotransform(scene.gsd, origin)
    if not geographic:
        return write_geotiff(path, arr, gt, epsg, nodata, interp, compress=compress)
    tmp = f'/vsimem/scene_{id(scene)}.tif'
    write_geotiff(tmp, arr, gt, epsg, nodata, interp, compress=None)
    gdal.Warp(str(path), tmp, dstSRS='EPSG:4326', resampleAlg='bilinear',
              creationOptions=['COMPRESS=DEFLATE', 'TILED=YES'], dstNodata=nodata)
    gdal.Unlink(tmp)
    return str(path)


def truth_map_coords(scene, origin=ORIGIN):
    """Truth containers as dicts with map-coordinate centres and corners (the UTM grid)."""
    out = []
    for c in scene.containers:
        corners = c.corners()
        out.append({'x': origin[0] + c.cx, 'y': origin[1] - c.cy, 'size_class': c.size_class, 'teu': c.teu,
                    'colour': c.colour, 'corners': [(origin[0] + x, origin[1] - y) for x, y in corners],
                    'group': c.group})
    return out


def preview_png(scene, path, detections=None, origin=(500000.0, 4000000.0), truth=True):
    """Save the scene as a PNG with truth (thin cyan) and detections (red/yellow outlines)."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    img = np.clip(np.power(np.transpose(scene.img, (1, 2, 0)), 1 / 1.6), 0, 1)
    h, w = img.shape[:2]
    fig = plt.figure(figsize=(w / 100, h / 100), dpi=100)
    ax = fig.add_axes([0, 0, 1, 1])
    ax.imshow(img)
    g = scene.gsd
    if truth:
        for c in scene.containers:
            p = c.corners() / g
            ax.plot(np.r_[p[:, 0], p[0, 0]] - 0.5, np.r_[p[:, 1], p[0, 1]] - 0.5, color='cyan', lw=0.4)
    for d in detections or []:
        p = np.array(d['geometry'])
        cols = (p[:, 0] - origin[0]) / g - 0.5
        rows = (origin[1] - p[:, 1]) / g - 0.5
        colr = 'red' if d['size_class'] != 'block' else 'yellow'
        ax.plot(np.r_[cols, cols[0]], np.r_[rows, rows[0]], color=colr, lw=0.8)
    ax.set_xlim(0, w)
    ax.set_ylim(h, 0)
    ax.axis('off')
    fig.savefig(path, dpi=100)
    plt.close(fig)


# ---------------------------------------------------------------------------------------------
# Scoring detections against the truth
# ---------------------------------------------------------------------------------------------
def detection_units(det):
    """Centres (x, y) of the single containers a detection stands for: a block of k touching
    containers is split into k equal strips across its width."""
    p = np.asarray(det['geometry'], dtype=float)[:4]
    k = max(1, int(det.get('containers', 1)))
    a, b, c = p[0], p[1], p[2]          # a->b along the length, b->c across the width
    centre_l = (a + b) / 2
    across = c - b
    return [tuple(centre_l + across * (j + 0.5) / k) for j in range(k)]


def match(found, truth, max_dist):
    """{index in ``found``: index in ``truth``} of points (x, y) matched one to one, nearest pairs first (each
    found point among its 4 nearest truths), within ``max_dist``."""
    tx, ux = np.array(truth, float).reshape(-1, 2), np.array(found, float).reshape(-1, 2)
    if not len(tx) or not len(ux):
        return {}
    from scipy.spatial import cKDTree
    dist, idx = cKDTree(tx).query(ux, k=4, distance_upper_bound=max_dist)
    pairs = sorted((dist[i, j], i, idx[i, j]) for i in range(len(ux)) for j in range(dist.shape[1])
                   if np.isfinite(dist[i, j]))
    out, used_t = {}, set()
    for _, i, t in pairs:
        if i not in out and t not in used_t:
            out[i] = int(t)
            used_t.add(t)
    return out


def evaluate(detections, truth, max_dist=1.6):
    """Match detected container units to truth centres (greedy, nearest first, within
    ``max_dist`` m). Returns dict: true/counted containers and TEU, matched, count error %, TEU error %,
    precision, recall, F1."""
    units = [u for d in detections for u in detection_units(d)]
    matched = len(match(units, [[t['x'], t['y']] for t in truth], max_dist))
    n_true = len(truth)
    n_det = sum(int(d['containers']) for d in detections)
    teu_true = sum(t['teu'] for t in truth)
    teu_det = sum(int(d['teu']) for d in detections)
    prec = matched / len(units) if units else (1.0 if not n_true else 0.0)
    rec = matched / n_true if n_true else 1.0
    f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
    return {'true': n_true, 'counted': n_det, 'teu_true': teu_true, 'teu_counted': teu_det, 'matched': matched,
            'count_err_pct': 100.0 * (n_det - n_true) / max(1, n_true),
            'teu_err_pct': 100.0 * (teu_det - teu_true) / max(1, teu_true),
            'precision': prec, 'recall': rec, 'f1': f1}
