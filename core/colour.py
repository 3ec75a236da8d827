"""Colour names for mean object colours (containers, roofs, tarpaulins).

Works on linear-ish 0..1 RGB (as core.raster delivers) or 0..255 values. A name is picked from
hue, saturation and value, the way an analyst would describe a roof seen from orbit:
white, grey, black, red, orange, yellow, green, blue, purple, magenta, brown.
"""
import colorsys

import numpy as np

NAMES = ('white', 'grey', 'black', 'red', 'orange', 'yellow', 'green', 'blue', 'purple', 'magenta', 'brown')


def rgb_to_hsv(rgb):
    """(..., 3) array of 0..1 RGB to (..., 3) HSV with hue in degrees 0..360."""
    rgb = np.asarray(rgb, dtype=np.float64)
    mx = rgb.max(axis=-1)
    mn = rgb.min(axis=-1)
    d = mx - mn
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    safe = np.where(d > 0, d, 1.0)
    h = np.where(mx == r, ((g - b) / safe) % 6, np.where(mx == g, (b - r) / safe + 2, (r - g) / safe + 4)) * 60.0
    h = np.where(d > 0, h, 0.0)
    s = np.where(mx > 0, d / np.where(mx > 0, mx, 1.0), 0.0)
    return np.stack([h, s, mx], axis=-1)


def colour_name(r, g, b):
    """A plain colour name for a mean RGB (0..1 floats, or 0..255 if any value exceeds 1)."""
    rgb = [float(r), float(g), float(b)]      # plain floats: called once per detection, numpy per call is slow
    if max(rgb) > 1.0:
        rgb = [c / 255.0 for c in rgb]
    rgb = [min(1.0, max(0.0, c)) for c in rgb]
    h, s, v = colorsys.rgb_to_hsv(*rgb)
    h *= 360.0
    chroma = max(rgb) - min(rgb)
    if chroma < 0.06 or s < 0.18:
        if v > 0.62:
            return 'white'
        return 'black' if v < 0.12 else 'grey'
    if v < 0.12:
        return 'black'
    if h < 18 or h >= 340:
        return 'brown' if v < 0.5 and s < 0.75 else 'red'
    if h < 45:
        return 'brown' if v < 0.55 else 'orange'
    if h < 70:
        return 'yellow' if v >= 0.45 else 'brown'
    if h < 165:
        return 'green'
    if h < 255:
        return 'blue'
    if h < 290:
        return 'purple'
    return 'magenta'
