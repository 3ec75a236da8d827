"""Colour names for mean object colours (containers, roofs, tarpaulins).

Works on linear-ish 0..1 RGB (as core.raster delivers) or 0..255 values. A name is picked from
hue, saturation and value, the way an analyst would describe a roof seen from orbit:
white, grey, black, red, orange, yellow, green, blue, purple, magenta, brown.
"""
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
    return colour_names([(r, g, b)])[0]


def colour_names(rgb):
    """Plain colour names (a list) for (n, 3) mean RGBs, each 0..1 floats or 0..255 if any of its values exceeds 1."""
    rgb = np.asarray(rgb, dtype=np.float64).reshape(-1, 3)
    rgb = np.clip(np.where(rgb.max(axis=1, keepdims=True) > 1.0, rgb / 255.0, rgb), 0.0, 1.0)
    h, s, v = rgb_to_hsv(rgb).T
    greyish = (rgb.max(axis=1) - rgb.min(axis=1) < 0.06) | (s < 0.18)
    dark = v < 0.12
    names = np.select(
        [greyish & (v > 0.62), greyish & dark, greyish, dark, (h < 18) | (h >= 340), h < 45, h < 70, h < 165,
         h < 255, h < 290],
        [np.array('white'), np.array('black'), np.array('grey'), np.array('black'),
         np.where((v < 0.5) & (s < 0.75), 'brown', 'red'), np.where(v < 0.55, 'brown', 'orange'),
         np.where(v >= 0.45, 'yellow', 'brown'), np.array('green'), np.array('blue'), np.array('purple')],
        default=np.array('magenta'))
    return names.tolist()
