"""Misregistration between two images of the same place, from the images themselves.

Both images are resampled (GDAL warp, area average) onto one north-up grid in the after
image's CRS at the coarser of their resolutions, over a central window of the area they
have in common (at most ``max_px`` pixels a side). Edges survive a change of season and
light where brightness does not, so each becomes its gradient magnitude (of a lightly
smoothed luminance), normalised and tapered by a Hann window; the shift is the peak of
their phase correlation within ``search`` metres, refined to a fraction of a pixel by a
parabola through the peak and its neighbours. The peak must stand out from the rest of
the correlation surface (``min_peak`` times its spread) or no shift is returned.
"""
import math

import numpy as np
from osgeo import gdal, ogr

from .nets import opencv
from .raster import quiet_gdal


def _grid_image(raster, bounds, res, srs_wkt):
    """Luminance of ``raster`` on the grid (bounds = xmin, ymin, xmax, ymax), NaN where nodata."""
    try:
        with quiet_gdal():
            ds = gdal.Warp('', raster.ds, format='MEM', outputBounds=bounds, xRes=res, yRes=res, dstSRS=srs_wkt,
                           resampleAlg='average', outputType=gdal.GDT_Float32, dstNodata=float('nan'),
                           multithread=True, warpOptions=['NUM_THREADS=ALL_CPUS'])
            bands = [ds.GetRasterBand(k).ReadAsArray() for k in raster.bands] if ds is not None else [None]
    except RuntimeError:        # GDAL exceptions on (a corrupt block): no estimate from the images
        return None
    if any(b is None for b in bands):
        return None
    return np.mean(bands, axis=0, dtype=np.float32)


def _structure(lum, sigma=1.0):
    """Gradient magnitude, normalised, NaN-free and tapered (Hann) for the FFT."""
    valid = np.isfinite(lum)
    if valid.mean() < 0.5:
        return None
    cv2 = opencv()
    lum = np.where(valid, lum, np.median(lum[::4, ::4][valid[::4, ::4]])).astype(np.float32)
    sm = cv2.GaussianBlur(lum, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
    g = np.hypot(cv2.Sobel(sm, cv2.CV_32F, 0, 1, borderType=cv2.BORDER_REFLECT),
                 cv2.Sobel(sm, cv2.CV_32F, 1, 0, borderType=cv2.BORDER_REFLECT))
    inner = cv2.erode(valid.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3)), iterations=3,
                      borderType=cv2.BORDER_CONSTANT, borderValue=0)
    g[inner == 0] = 0.0
    scale = np.percentile(g[::4, ::4][valid[::4, ::4]], 90)     # (a sixteenth of the pixels: plenty)
    if not scale > 0:
        return None
    g = np.minimum(g / scale, 3.0)          # a few very strong edges must not dominate
    g -= g[valid].mean()
    g[~valid] = 0.0
    h, w = g.shape
    return g * np.outer(np.hanning(h), np.hanning(w))


def _subpixel(c, i, n):
    """Parabolic offset of the peak at index i in a cyclic 1-D slice c."""
    a, b, d = c[(i - 1) % n], c[i], c[(i + 1) % n]
    den = a - 2 * b + d
    return 0.5 * (a - d) / den if den < 0 else 0.0


def image_shift(before, after, area_wkt, search=8.0, max_px=1024, min_peak=4.0):
    """(dx, dy) in metres of the after image's content relative to the before image's, in the
    after CRS (before position + shift = after position), or None when the images do not
    agree on one (too little texture, too different, or the peak is not clear)."""
    env = ogr.CreateGeometryFromWkt(area_wkt).GetEnvelope()     # xmin, xmax, ymin, ymax
    res = max(before.gsd, after.gsd)
    side = min(env[1] - env[0], env[3] - env[2], max_px * res)
    if side < 64 * res:
        return None
    cx, cy = (env[0] + env[1]) / 2, (env[2] + env[3]) / 2
    bounds = (cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2)
    imgs = [_grid_image(r, bounds, res, after.srs_wkt) for r in (before, after)]
    if any(i is None for i in imgs):
        return None
    b, a = (_structure(i) for i in imgs)
    if b is None or a is None:
        return None
    F = np.fft.rfft2(a) * np.conj(np.fft.rfft2(b))
    corr = np.fft.irfft2(F / np.maximum(np.abs(F), 1e-12), s=a.shape)
    h, w = corr.shape
    reach = int(math.ceil(search / res))
    dy = np.fft.fftfreq(h, 1.0 / h)          # cyclic offsets 0, 1, ..., -1
    dx = np.fft.fftfreq(w, 1.0 / w)
    near = (np.abs(dy)[:, None] <= reach) & (np.abs(dx)[None, :] <= reach)
    masked = np.where(near, corr, -np.inf)
    i, j = np.unravel_index(int(np.argmax(masked)), corr.shape)
    rest = corr[near]
    if corr[i, j] < rest.mean() + min_peak * rest.std():
        return None
    sy = dy[i] + _subpixel(corr[:, j], i, h)
    sx = dx[j] + _subpixel(corr[i, :], j, w)
    return float(sx * res), float(-sy * res)    # rows grow southwards
