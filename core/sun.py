"""Which way shadows fall in an image, and the quarter turns and mirror that bring them to one canonical direction.

A container network that always sees shadows fall the same way need not learn every sun: a dark strip the size
of a box on the shadow side of a box may be its shadow, on the sun side it can only be another box. The direction
is the sun's azimuth when the user gives it (image metadata), else estimated from the image: a tiny network
(core/models/sun.onnx, trained on the project's generator only: bench/train_sun.py) tells raised things, their
shadows and the ground apart on a 1 m grid, and the shadows fall the way in which "a raised thing here, a shadow a
few metres on" outweighs the opposite most. Angles here are in image axes: x to the right, y down, radians from +x
toward +y.
"""
import math

import numpy as np

from . import nets

DIRECTIONS = 16
REACH_M = (1.5, 3.0)      # how far beyond a raised thing its shadow is looked for


def shadow_of_azimuth(azimuth_deg):
    """Image direction (radians) in which shadows fall under a sun at ``azimuth_deg`` (clockwise from north, north
    up)."""
    az = math.radians(azimuth_deg)
    return math.atan2(math.cos(az), -math.sin(az))


def azimuth_of_shadow(direction):
    """The sun's azimuth (degrees clockwise from north, north up) that casts shadows toward image ``direction``."""
    return (math.degrees(math.atan2(-math.cos(direction), math.sin(direction))) + 360.0) % 360.0


def pairs(raised, shadow, cell_m):
    """How much "a raised thing here, a shadow a few metres on" each of 16 directions holds, from maps (h, w) of how
    likely each cell of ``cell_m`` metres is a raised thing and a shadow (sums over windows add up)."""
    cv2 = nets.opencv()
    raised, shadow = np.float32(raised), np.float32(shadow)
    out = np.zeros(DIRECTIONS)
    t = 2 * math.pi * np.arange(DIRECTIONS) / DIRECTIONS
    for i in range(DIRECTIONS):
        for r in REACH_M:
            dx, dy = r / cell_m * math.cos(t[i]), r / cell_m * math.sin(t[i])
            there = cv2.warpAffine(shadow, np.float32([[1, 0, -dx], [0, 1, -dy]]), shadow.shape[::-1],
                                   flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)    # shadow at x + d
            out[i] += float((raised * there).sum())
    return out


def direction(pair):
    """(direction, strength) from :func:`pairs`: the direction (radians) in which raised-then-shadow pairs outnumber
    shadow-then-raised ones most (the first Fourier component of that excess) and that excess over all pairs
    (0..1: 0 is no evidence either way)."""
    excess = pair - np.roll(pair, DIRECTIONS // 2)
    t = 2 * math.pi * np.arange(DIRECTIONS) / DIRECTIONS
    z = complex((excess * np.cos(t)).sum(), (excess * np.sin(t)).sum())
    return math.atan2(z.imag, z.real), abs(z) / max(pair.sum(), 1e-9)


def classes(img, gsd):
    """(raised, shadow, cell metres): the sun model's probabilities of a raised thing and of a shadow in each cell
    of ``img``, (3, h, w) reflectance 0..1 at ``gsd`` metres per pixel (nodata filled with plain ground)."""
    net, meta = nets.load('sun')
    x = nets.to_working(img, gsd, meta['work_gsd'])[0] - np.float32(meta['mean'])
    x *= np.float32(meta['scale'])
    net.setInput(x[None])
    logit = net.forward()[0]
    p = np.exp(logit - logit.max(axis=0))
    p /= p.sum(axis=0)
    return p[1], p[2], meta['work_gsd'] * meta.get('stride', 1)


def estimate(img, gsd):
    """(direction, strength) of the shadows in one image (:func:`classes`' arguments)."""
    return direction(pairs(*classes(img, gsd)))


def canonical(direction):
    """(transpose, quarter turns) that bring ``direction`` into [0, pi/4]: transpose first (x <-> y), then
    ``np.rot90(a, turns)`` on (h, w) arrays (:func:`turn`)."""
    for transpose in (False, True):
        for turns in range(4):
            dx, dy = math.cos(direction), math.sin(direction)
            if transpose:
                dx, dy = dy, dx
            for _ in range(turns):
                dx, dy = dy, -dx      # np.rot90: (row, col) -> (w - 1 - col, row)
            a = math.atan2(dy, dx)
            if -1e-9 <= a <= math.pi / 4 + 1e-9:
                return transpose, turns
    raise AssertionError(direction)


def turn(a, transpose, turns):
    """Arrays (..., h, w) turned as :func:`canonical` says."""
    if transpose:
        a = np.swapaxes(a, -1, -2)
    return np.rot90(a, turns, axes=(-2, -1))


def unturn(a, transpose, turns):
    """The inverse of :func:`turn`."""
    a = np.rot90(a, -turns, axes=(-2, -1))
    return np.swapaxes(a, -1, -2) if transpose else a


def as_view(transpose, turns):
    """The same turn as one of core.nets.VIEWS' (transpose, flip rows, flip columns): nets.view(a, *as_view(t, k))
    equals turn(a, t, k) on every array."""
    probe = np.arange(6).reshape(2, 3)
    return next(v for v in nets.VIEWS[8] if np.array_equal(nets.view(probe, *v), turn(probe, transpose, turns)))


def turned_axes(cos2a, sin2a, transpose, turns):
    """(cos 2a, sin 2a) of a long axis in turned images -> in the original's (or the other way: each step is its
    own inverse up to the order, and these commute): a transpose mirrors a to pi/2 - a, a quarter turn adds pi/2."""
    if turns % 2:
        cos2a, sin2a = -cos2a, -sin2a
    if transpose:
        cos2a = -cos2a
    return cos2a, sin2a
