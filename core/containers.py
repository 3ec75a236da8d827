"""Shipping-container detection and counting on very-high-resolution imagery (0.15-0.8 m).

Method: a small fully-convolutional network (core/models/containers.onnx, run by OpenCV's ``cv2.dnn``) looks at
each overlapping block of the raster resampled to its working resolution (0.5 m per pixel) and predicts, on a 1 m
grid, how likely each cell holds the centre of a visible container top, the chance that it is a 40 ft one, and the
direction of its long axis. Every local maximum above the threshold (the model's own, from its sidecar) is one
container unless a stronger one sits on the same top (a peak on the seam beside it): it is drawn as an ISO
footprint (20 ft 6.06 x 2.44 m, 40 ft 12.19 x 2.44 m) turned to the predicted direction, its colour read from the
image. The network has ~40 m of context, enough to see a block, its shadow, a crane, a parking row or a ship's
deck (a fifth output flags the tops that stand on a ship's deck: ``on_ship``). It was trained only on randomly
generated yards (bench/container_gen.py, bench/train_containers.py: every container colour from near-black to
white, stacks 1-5 high with their shadows, any sun, seen at nadir or up to 30 degrees off it, 0.3-0.8 m sensors,
pan and colour, blur, noise, JPEG; cranes, trucks, chassis, buses, cars, tanks, ships' hatch covers, warehouse
skylights, rail wagons, yachts, painted slots as things that are not containers).
The sidecar containers.json records how. A twice-wider net (containers_wide.onnx) finds more and invents more.
When the image's metadata gives the sun's azimuth, each net's twin (containers_sun.onnx, containers_wide_sun.onnx,
trained on the same yards each turned so that shadows fall one way) sees each block turned so and tells a box's
shadow from a dark box better (:func:`counting_model`).

The public API (used by other modules, keep the names): :class:`ContainerParams`, :func:`detect_containers`,
:func:`count_containers`, :func:`count_columns`, :func:`records`, :func:`confidence`, :func:`select`, :func:`concat`,
:func:`totals`, :func:`summarise`, :data:`MIN_GSD`, :data:`MAX_GSD`, :func:`check_gsd`, :func:`own_figures`,
:func:`score_at`, :func:`decode`, :data:`MODELS`, :func:`sidecar_path`, :func:`shadow_azimuth`, :func:`uses_sun`,
:func:`counting_model`, :func:`with_image_sun`.
"""
import contextlib
import math
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from osgeo import gdal
from scipy.spatial import cKDTree

from . import nets, sun
from .colour import colour_names
from .errors import Cancelled, CargoWatchError
from .raster import RasterError, in_core, owning_blocks, read_window, scan
from .raster import sun_azimuth as raster_sun_azimuth

MIN_GSD = 0.15   # m/pixel: finer imagery is resampled to the working resolution, but tops are then > 16 px wide
MAX_GSD = 0.8    # m/pixel: coarser and a container is under 3 pixels wide: cannot be seen reliably
MODELS = {'standard': 'containers',     # the default: the faster net
          'wide': 'containers_wide',     # a net twice as wide, about twice the time (docs/containers.md)
          'sun': 'containers_sun',       # the standard net trained on images turned so that shadows fall one way:
                                         # counts when the sun's azimuth is known (counting_model)
          'wide_sun': 'containers_wide_sun'}  # the wide net so trained: counts for 'wide' when the sun is known


@dataclass
class ContainerParams:
    """Container footprints (metres) and detection settings."""
    len20: float = 6.058            # ISO 668 20 ft length: the drawn footprint of a 20 ft top
    len40: float = 12.192           # ISO 668 40 ft length
    width: float = 2.438            # ISO 668 width
    sensitivity: float = 0.5        # 0 strict .. 1 permissive: sets the network's centre threshold (see threshold)
    model: str = 'standard'         # a key of MODELS
    sun_azimuth: float = None       # degrees clockwise from north (image metadata), or None: estimated for the
                                    # raster (a lone block: for it); used by a model trained with shadows one way
    views: int = 1                  # 1, 2, 4 or 8: the network's maps averaged over as many turns and mirrors of
                                    # each block (:data:`VIEWS`), each view costing one pass
    groups: bool = False            # drop lone boxes: keep a box only among others or when clearly one (grouped)
    block_px: int = 1024            # raster block size for streaming (the network's memory grows with it)
    overlap_m: float = 24.0         # block overlap: what a centre's maps depend on (the net's receptive field,
                                    # 38.5 m across, so 19.3 m) + 1 m for the peak test + slack: blocks give the
                                    # same containers as one whole image

    @property
    def threshold(self):
        """Centre probability a peak needs: at sensitivity 0.5 the model's own (its sidecar's ``threshold``, where F1
        peaked on the project's own renderers, set by bench/calibrate_containers.py; with ``views`` > 1, its
        threshold for as many views, calibrated so too, where the sidecar has one), 0.15 higher at sensitivity 0
        and lower at 1."""
        meta = network(self.model)[1]
        base = meta['threshold'] if self.views == 1 else meta.get('views', {}).get(str(self.views), meta)['threshold']
        return base + 0.3 * (0.5 - float(min(1.0, max(0.0, self.sensitivity))))


SUN_TWINS = {'standard': 'sun', 'wide': 'wide_sun'}   # a model -> its twin trained with shadows turned one way
LABELS = {'standard': 'standard', 'wide': 'wide', 'sun': 'sun-turned', 'wide_sun': 'sun-turned wide'}  # for users


def counting_model(model='standard', views=1, sun_azimuth=None):
    """The key of :data:`MODELS` that counts: a model's sun-turned twin (:data:`SUN_TWINS`, one view, shadows turned
    one way by the given azimuth) when the sun's azimuth is known and one view is asked for; else ``model``. (More
    views of the standard model find more than its sun-turned twin: docs/containers.md.)"""
    return SUN_TWINS.get(model, model) if sun_azimuth is not None and views == 1 else model


AUTO_VIEWS_PX = 25_000_000   # "Auto" views: four views up to this many pixels (raster or AOI), one above
AUTO_VIEWS = 4


def auto_views(*rasters, aoi=None):
    """The number of views "Auto" asks for: :data:`AUTO_VIEWS` (four) when the largest of ``rasters`` (core Rasters;
    inside ``aoi``'s pixel window when given) has at most :data:`AUTO_VIEWS_PX` pixels, else one. Four views score
    better than one on the project's own renderers (mean F1 +0.012 at fewer false containers, docs/containers.md) at
    four times the network's work (seconds for a port or a yard: docs/benchmarks.md), while a whole 16384 x 16384 scene
    keeps one view's speed. Counts that are compared (two dates) are asked for with all their rasters at once, so
    that they see the same views."""
    def pixels(r):
        w = aoi.pixel_window if aoi is not None and aoi.raster is r and aoi.pixel_window else (0, 0, r.width, r.height)
        return (w[2] - w[0]) * (w[3] - w[1])
    return AUTO_VIEWS if max(pixels(r) for r in rasters) <= AUTO_VIEWS_PX else 1


def with_image_sun(raster, params):
    """``params`` as the count runs them on ``raster``: with no sun given, the sun's azimuth the image's own metadata
    gives (core.raster.sun_azimuth), and with a sun known the model that counts (:func:`counting_model`)."""
    sun = params.sun_azimuth if params.sun_azimuth is not None else raster_sun_azimuth(raster.path)[0]
    model = counting_model(params.model, params.views, sun)
    return replace(params, model=model, sun_azimuth=sun if uses_sun(model) else params.sun_azimuth)


def check_gsd(gsd):
    """Raise RasterError when the ground resolution cannot show containers (or is too fine)."""
    if not gsd or not math.isfinite(gsd) or gsd <= 0:
        raise RasterError('The raster has no usable pixel size.')
    if gsd > MAX_GSD:
        raise RasterError(f'The raster is too coarse to see shipping containers: {gsd:.2f} m per pixel, '
                          f'the coarsest supported is {MAX_GSD} m (a container is 2.44 m wide, so it would '
                          f'be under {2.44 / gsd:.1f} pixels wide). Use imagery of 0.3-0.7 m resolution.')
    if gsd < MIN_GSD:
        raise RasterError(f'The raster is finer ({gsd:.2f} m per pixel) than this detector supports '
                          f'({MIN_GSD} m). Resample it to about 0.3 m (Raster ▸ Projections ▸ Warp, or '
                          'gdalwarp -tr 0.3 0.3) and run again.')


def own_figures(gsd, sensitivity, grey=False, model='standard'):
    """What the model did on the project's own generated yards of this kind (the sidecar's ``own_by_resolution``,
    written by bench/sensitivity_containers.py): (imagery label, sensitivity measured nearest, {found_pct, precision,
    count_error_pct}), or None when the sidecar has no figures for it. ``gsd`` None: all resolutions together."""
    own = nets.sidecar(MODELS[model]).get('own_by_resolution', {})
    bands = [k for k in own if gsd is not None and '-' in k and float(k.split('-')[0]) <= gsd < float(k.split('-')[1])]
    key = 'grey' if grey else 'all' if gsd is None else (bands[0] if bands else None)
    if key not in own:
        return None
    s = min((k for k in own[key] if k != 'tops'), key=lambda k: abs(float(k) - sensitivity))
    label = {'grey': '1-band', 'all': '0.3-0.8 m'}.get(key, f'{key} m')
    return label, float(s), dict(own[key][s], false_per_km2=own.get('false_per_km2', {}).get(s))


def sidecar_path(model='standard'):
    """The JSON sidecar of a container model (a key of :data:`MODELS`): how it was trained, calibrated, measured."""
    return Path(nets.MODELS) / (MODELS[model] + '.json')


def network(model='standard'):
    """(cv2.dnn net, sidecar dict) of a container model (a key of :data:`MODELS`), loaded once per process."""
    if model not in MODELS:
        raise CargoWatchError(f'Unknown container model {model!r}: use one of {", ".join(MODELS)}.')
    return nets.load(MODELS[model])


VIEWS = nets.VIEWS     # the views of each block ContainerParams.views may ask for (1, 2, 4, 8)


def maps(data, valid, gsd, model='standard', sun_azimuth=None, views=1):
    """Run the network on one block (its three bands, :func:`core.nets.three_bands`): (maps (5, h2, w2) float32,
    factor) where ``factor`` converts block pixels to working pixels; maps are the centre probability and the logits
    of 40 ft, cos 2a, sin 2a and on a ship's deck (their sigmoid and tanh are taken at the peaks only) on a grid of
    stride 2 in working pixels. A model trained on images turned so that shadows fall one way (its sidecar's
    ``canonical_shadow``) sees the block turned so too: by ``sun_azimuth`` (degrees clockwise from north, north up)
    when given, else by the direction core.sun estimates from the block. Any other model with ``views`` > 1 sees the
    block in as many of its turns and mirrors (:data:`VIEWS`): their centre probabilities and logits are averaged."""
    net, meta = network(model)
    data = _ground_filled(data, valid, meta['mean'])
    f = gsd / meta['work_gsd']
    work = nets.to_working(data, gsd, meta['work_gsd'])[0]
    if meta.get('canonical_shadow'):            # one view: the one that brings shadows one way
        chosen = [sun.as_view(*sun.canonical(sun.shadow_of_azimuth(sun_azimuth) if sun_azimuth is not None else
                                             sun.estimate(work, meta['work_gsd'])[0]))]
    elif views in VIEWS:
        chosen = VIEWS[views]
    else:
        raise CargoWatchError(f'views must be one of {", ".join(map(str, VIEWS))}, not {views!r}.')
    work = (work - np.float32(meta['mean'])) * np.float32(meta['scale'])
    H, W = work.shape[1:]
    if H % 4 or W % 4:                          # the net halves twice
        work = np.pad(work, ((0, 0), (0, -H % 4), (0, -W % 4)), mode='symmetric')
    out = sum(_view(net, meta, work, *v) for v in chosen)       # a new array, also of one view
    out /= len(chosen)
    return out, f


def _forward(net, meta, work):
    """The network's five maps (logits) of one working block (3, h, w), h and w multiples of 4."""
    net.setInput(work[None])
    r = meta.get('subpixel', 1)                 # maps of r x r sub-cells as channels: the first 5 maps' are used
    return nets.depth_to_space(net.forward()[0][:5 * r * r], r)


def _view(net, meta, work, transpose, flip_rows, flip_cols):
    """:func:`_forward` on one view of ``work`` (3, h, w), its maps brought back to the block's grid, the centre's
    as a probability (output cell (i, j) covers working pixels 2i..2i+2, 2j..2j+2 in every view: mirrored, h and w
    multiples of 4, the cells fall on cells)."""
    out = nets.unview(_forward(net, meta, np.ascontiguousarray(nets.view(work, transpose, flip_rows, flip_cols))),
                      transpose, flip_rows, flip_cols)        # a view of the net's fresh output: changed in place
    out[0] = 1.0 / (1.0 + np.exp(-out[0]))
    if transpose:                               # a long axis at a is at pi/2 - a in the transposed view
        out[2] = -out[2]
    if flip_rows != flip_cols:                  # ... and at -a in a view mirrored once
        out[3] = -out[3]
    return out


def _ground_filled(data, valid, mean):
    """Bands (b, h, w) with nodata read as plain mid-grey ground: ``mean``, a network's input mean."""
    return data if valid.all() else np.where(valid, data, np.float32(mean))


def uses_sun(model='standard'):
    """Whether a container model (a key of :data:`MODELS`) was trained on images turned so that shadows fall one way,
    and so needs the sun's azimuth (given, or :func:`shadow_azimuth`)."""
    return bool(network(model)[1].get('canonical_shadow'))


def with_sun(raster, params, aoi=None):
    """``params`` with ``sun_azimuth`` set for a model trained with shadows one way (its sidecar's
    ``canonical_shadow``): as given, else estimated once for the raster (:func:`shadow_azimuth`), so that every
    block sees the same; other models' params unchanged."""
    if not uses_sun(params.model) or params.sun_azimuth is not None:
        return params
    return replace(params, sun_azimuth=shadow_azimuth(raster, aoi)[0])


def shadow_azimuth(raster, aoi=None, grid=3, window_m=256.0, cancelled=None):
    """(sun azimuth, strength): the azimuth (degrees clockwise from north, north up) of the sun that core.sun sees
    casting the shadows in ``grid`` x ``grid`` windows of ``window_m`` metres spread over the raster (or the AOI's
    bounding window), and how one-sided that evidence is (0..1, :func:`core.sun.direction`). Raises Cancelled when
    ``cancelled()`` turns true."""
    c0, r0, c1, r1 = (aoi.pixel_window if aoi is not None and aoi.pixel_window else
                      (0, 0, raster.width, raster.height))
    n = max(1, int(round(window_m / raster.gsd)))
    w, h = min(n, c1 - c0), min(n, r1 - r0)
    total = np.zeros(sun.DIRECTIONS)
    for y in sorted({r0 + (r1 - r0 - h) * k // max(1, grid - 1) for k in range(grid)}):
        for x in sorted({c0 + (c1 - c0 - w) * k // max(1, grid - 1) for k in range(grid)}):
            if cancelled is not None and cancelled():
                raise Cancelled()
            data, valid = read_window(raster, x, y, w, h)
            total += sun.pairs(*sun.classes(_ground_filled(nets.three_bands(data), valid, network()[1]['mean']),
                                          raster.gsd))
    direction, strength = sun.direction(total)
    return sun.azimuth_of_shadow(direction), strength


def peaks(heat, threshold):
    """(rows, cols) of the local maxima (3 x 3) of ``heat`` above ``threshold``."""
    cv2 = nets.opencv()
    mx = cv2.dilate(heat, np.ones((3, 3), np.uint8))
    return np.nonzero((heat >= mx) & (heat > threshold))


def detect_columns(block, params=None):
    """Detector for :func:`core.raster.scan`: the containers of one Block as columns (numpy arrays, one row per
    container): ``corners`` (n, 4, 2) block pixels, ``big`` (40 ft), ``conf``, ``deg`` (long axis, degrees
    clockwise from east, 0-180), ``rgb`` (mean colour 0..1) and ``lone`` (what ContainerParams.groups leaves out:
    not :func:`grouped`). :func:`records` turns them into output dicts."""
    p = params or ContainerParams()
    rgb = nets.three_bands(block.data)
    return decode(maps(rgb, block.valid, float(block.gsd), p.model, p.sun_azimuth, p.views), rgb, block, p)


def decode(maps_f, rgb, block, params=None):
    """:func:`detect_columns` from the network's ``(maps, factor)`` (:func:`maps`) on the block's three bands ``rgb``
    (for a caller that also wants the maps)."""
    p = params or ContainerParams()
    g = float(block.gsd)
    out, f = maps_f
    rows, cols = peaks(out[0], p.threshold)
    # output cell (i, j) covers working pixels 2j..2j+2: its centre is working px 2j+1, block px (2j+1)/f;
    # a parabola through the neighbours gives the sub-cell position
    heat = np.pad(out[0], 1, mode='edge')
    c, l, r, u, d = (heat[rows + 1, cols + 1], heat[rows + 1, cols], heat[rows + 1, cols + 2],
                     heat[rows, cols + 1], heat[rows + 2, cols + 1])
    x = (2 * (cols + _vertex(l, c, r)) + 1) / f
    y = (2 * (rows + _vertex(u, c, d)) + 1) / f
    h, w = block.valid.shape
    ok = (x >= 0) & (y >= 0) & (x < w) & (y < h)
    ok[ok] = block.valid[y[ok].astype(int), x[ok].astype(int)]
    x, y, rows, cols = x[ok], y[ok], rows[ok], cols[ok]
    conf = out[0, rows, cols]
    ang = 0.5 * np.arctan2(np.tanh(out[3, rows, cols]), np.tanh(out[2, rows, cols]))
    big = out[1, rows, cols] > 0.0            # 40 ft probability > 0.5
    deck = out[4, rows, cols] > 0.0           # on a ship's deck: probability > 0.5
    length = np.where(big, p.len40, p.len20) / g
    keep = same_box(x, y, ang, conf, p.width / g, length) if len(x) else np.zeros(0, int)
    lone = ~grouped(np.column_stack([x[keep], y[keep]]) * g, conf[keep], p.threshold)
    if p.groups:
        keep, lone = keep[~lone], lone[~lone]
    x, y, conf, ang, big, deck = x[keep], y[keep], conf[keep], ang[keep], big[keep], deck[keep]
    return {'corners': _corners(x, y, ang, big, p, g), 'big': big, 'deck': deck, 'conf': conf.astype(np.float32),
            'deg': (np.degrees(-ang.astype(float)) % 180.0).astype(np.float32),
            'rgb': _colours(rgb, x, y, ang, big, p, g).astype(np.float32), 'lone': lone}


def detect_containers(block, params=None):
    """The containers of one Block as output dicts with block-local ``corners`` (see :func:`records`)."""
    p = params or ContainerParams()
    return list(records(detect_columns(block, p), p))


def same_box(x, y, ang, conf, width, length):
    """Indices of the peaks to keep (strongest first): of two peaks less than 3/4 of a container's width apart
    across the axis of the stronger one and, along it, less than half the distance their tops' centres would be
    apart if they stood end to end (``length``: each peak's top length), the weaker is the same top (a peak on
    a seam or an end of it); neighbours in a block stand a full width apart across and a full length along."""
    order = np.argsort(-conf)
    pairs = cKDTree(np.column_stack([x, y])).query_pairs(math.hypot(0.75 * width, 0.5 * np.max(length)),
                                                         output_type='ndarray')
    if not len(pairs):
        return order
    i, j = pairs[:, 0], pairs[:, 1]
    s = np.where(conf[i] >= conf[j], i, j)       # the stronger peak's axis
    dx, dy = x[j] - x[i], y[j] - y[i]
    along = np.abs(dx * np.cos(ang[s]) + dy * np.sin(ang[s]))
    across = np.abs(-dx * np.sin(ang[s]) + dy * np.cos(ang[s]))
    near = (across < 0.75 * width) & (along < 0.25 * (length[i] + length[j]))
    nb = [[] for _ in range(len(x))]
    for a, b in zip(i[near].tolist(), j[near].tolist()):
        nb[a].append(b)
        nb[b].append(a)
    gone = np.zeros(len(x), bool)
    keep = []
    for k in order.tolist():
        if not gone[k]:
            keep.append(k)
            gone[nb[k]] = True
    return np.array(keep, int)


GROUP_M = 14.0       # a 40 ft length and a lane: the neighbours of a box in a row or a block stand nearer
GROUP_MARGIN = 0.1   # over the threshold: a box this sure counts alone


def grouped(xy_m, conf, threshold):
    """Mask of the boxes that count (``xy_m`` their centres in metres, ``conf`` their centre probabilities, all above
    ``threshold``): those with at least two others within :data:`GROUP_M` (a box in a row or a block of three or more,
    on a train of them), and lone ones or pairs only when their probability is at least ``threshold`` +
    :data:`GROUP_MARGIN`. Containers stand in rows, blocks and trains; what stands alone (a truck, a shed, a tree
    with its shadow) is the commonest false box (docs/containers.md). A block needs its neighbours within its
    overlap (24 m > 14 m) for its core's boxes to be judged as in one whole image."""
    n = len(conf)
    if n < 3:
        return conf >= threshold + GROUP_MARGIN
    pairs = cKDTree(xy_m).query_pairs(GROUP_M, output_type='ndarray')
    near = np.bincount(pairs.ravel(), minlength=n)
    return (near >= 2) | (conf >= threshold + GROUP_MARGIN)


def _vertex(a, b, c):
    """Offset (-0.5..0.5) of the top of the parabola through (-1, a), (0, b), (1, c), b the largest."""
    den = a - 2 * b + c
    safe = np.where(den < -1e-6, den, -1.0)
    return np.clip(np.where(den < -1e-6, 0.5 * (a - c) / safe, 0.0), -0.5, 0.5)


def _colours(rgb, x, y, ang, big, p, g):
    """Mean colour (0..1 RGB) of each top, from ~1 m box means at five points along its long axis."""
    k = max(1, int(round(1.0 / g)))
    h, w = rgb.shape[1:]
    half = np.where(big, p.len40, p.len20) / g * 0.3
    t = np.linspace(-1, 1, 5)[:, None]
    xs = np.rint(x + t * half * np.cos(ang)).astype(int)
    ys = np.rint(y + t * half * np.sin(ang)).astype(int)
    off = np.arange(k) - (k - 1) // 2
    total = sum(rgb[:, np.clip(ys + dy, 0, h - 1), np.clip(xs + dx, 0, w - 1)] for dy in off for dx in off)
    return total.mean(axis=1).T / (k * k)


def _corners(cx, cy, ang, big, p, g):
    """(n, 4, 2) corners (block px) of the ISO footprints centred at (cx, cy), long axis at ``ang``."""
    hl, hw = np.where(big, p.len40, p.len20) / g / 2, p.width / g / 2
    ca, sa = np.cos(ang), np.sin(ang)
    return np.stack([np.stack([cx + su * hl * ca - sv * hw * sa, cy + su * hl * sa + sv * hw * ca], -1)
                     for su, sv in ((-1, -1), (1, -1), (1, 1), (-1, 1))], 1)


def records(cols, params=None, chunk=4096):
    """Output dicts, one per row of detection columns (:func:`detect_columns`, :func:`count_columns`), made a chunk
    at a time: ``geometry`` (map) or ``corners`` (block px) as four (x, y), and the output fields (size_class,
    length_m, width_m, containers, teu, colour, r, g, b, confidence, angle_deg, on_ship)."""
    p = params or ContainerParams()
    key = 'geometry' if 'geometry' in cols else 'corners'
    width = round(float(p.width), 2)
    confidences = confidence(cols)
    for s in range(0, len(cols['conf']), chunk):
        part = slice(s, s + chunk)
        corners = cols[key][part].tolist()
        rgb = np.rint(255 * np.clip(cols['rgb'][part], 0, 1)).astype(int).tolist()
        names = colour_names(cols['rgb'][part])
        conf = confidences[part].tolist()
        deg = np.round(cols['deg'][part].astype(float), 1).tolist()
        deck = cols['deck'][part].astype(int).tolist()
        for k, b in enumerate(cols['big'][part].tolist()):
            yield {key: [tuple(c) for c in corners[k]],
                   'size_class': '40ft' if b else '20ft',
                   'length_m': round(float(p.len40 if b else p.len20), 2), 'width_m': width,
                   'containers': 1, 'teu': 2 if b else 1,
                   'colour': names[k], 'r': rgb[k][0], 'g': rgb[k][1], 'b': rgb[k][2],
                   'confidence': conf[k], 'angle_deg': deg[k], 'on_ship': deck[k]}


def count_columns(raster, params=None, aoi=None, progress=None, cancelled=None):
    """Count containers over a core Raster (optionally inside an Aoi), as columns (:func:`detect_columns`, with map
    ``geometry`` (n, 4, 2) in place of block corners): ~85 bytes per container, so a whole port's count stays
    small. Raises RasterError for rasters too coarse to see containers, CargoWatchError when OpenCV or the model
    is missing, Cancelled when ``cancelled()`` turns true."""
    p = params or ContainerParams()
    check_gsd(raster.gsd)
    p = with_sun(raster, p, aoi)
    overlap = int(math.ceil(p.overlap_m / raster.gsd))
    with _bounded_gdal_cache(96 << 20):
        parts = scan(raster, lambda b: detect_columns(b, p), overlap=overlap, block=p.block_px, aoi=aoi,
                     progress=progress, cancelled=cancelled, keep=_in_core_columns)
    return concat(parts)


def score_at(raster, points, params=None, radius_m=1.5):
    """What the raster shows at map ``points`` (n, 2) in its CRS: the network's centre probability, best within
    ``radius_m`` of each (a top's centre placed a little off on another date), -inf outside the raster or in nodata.
    Only the blocks that own a point are read, each as :func:`count_columns` reads it, so a point scores what the
    count saw there (the count keeps no maps: a whole port's would take hundreds of MB)."""
    p = params or ContainerParams()
    pts = np.asarray(points, dtype=float).reshape(-1, 2)
    out = np.full(len(pts), -np.inf)
    if not len(pts):
        return out
    p = with_sun(raster, p)
    cols, rows = raster.map_to_pixel(pts[:, 0], pts[:, 1])
    rad = radius_m / network(p.model)[1]['work_gsd'] / 2           # output cells (stride 2 working pixels)
    for blk, idx in owning_blocks(raster, cols, rows, p.block_px, int(math.ceil(p.overlap_m / raster.gsd))):
        heat, f = maps(nets.three_bands(blk.data), blk.valid, raster.gsd, p.model, p.sun_azimuth, p.views)
        for k in idx.tolist():
            c, r = cols[k] - blk.x0, rows[k] - blk.y0
            if not blk.valid[int(r), int(c)]:
                continue
            gc, gr = c * f / 2 - 0.5, r * f / 2 - 0.5              # output cell coordinates
            i0, i1 = max(0, int(math.floor(gr - rad))), min(heat.shape[1], int(math.ceil(gr + rad)) + 1)
            j0, j1 = max(0, int(math.floor(gc - rad))), min(heat.shape[2], int(math.ceil(gc + rad)) + 1)
            if i1 > i0 and j1 > j0:
                out[k] = float(heat[0, i0:i1, j0:j1].max())
    return out


def concat(parts):
    """Detection columns of several blocks or shares (a non-empty list), one after another."""
    return {k: np.concatenate([c[k] for c in parts]) for k in parts[0]}


def _in_core_columns(r, b, cols):
    """A block's columns for the containers whose centre lies in its core, ``corners`` turned into map ``geometry``."""
    idx, geometry = in_core(r, b, cols.pop('corners'))
    return dict({k: v[idx] for k, v in cols.items()}, geometry=geometry)


def confidence(cols):
    """The confidence of each row of detection columns as written (3 decimals): what a minimum confidence is
    compared with."""
    return np.round(cols['conf'].astype(float), 3)


def select(cols, mask):
    """The rows of detection columns where ``mask`` is true."""
    return {k: v[mask] for k, v in cols.items()}


def totals(cols):
    """(containers, teu) of detection columns."""
    return len(cols['big']), len(cols['big']) + int(np.count_nonzero(cols['big']))


def count_containers(raster, params=None, aoi=None, progress=None, cancelled=None):
    """:func:`count_columns` as output dicts with ``geometry`` (4 map corners) and the output fields."""
    return list(records(count_columns(raster, params, aoi, progress, cancelled), params))


@contextlib.contextmanager
def _bounded_gdal_cache(limit):
    """Cap GDAL's block cache (default 5 % of RAM) while streaming, so memory stays bounded: each block is read
    once, so a large cache buys little."""
    old = gdal.GetCacheMax()
    if old > limit:
        gdal.SetCacheMax(limit)
    try:
        yield
    finally:
        if old > limit:
            gdal.SetCacheMax(old)


def summarise(detections):
    """(containers, teu) totals of a detection list."""
    return sum(d['containers'] for d in detections), sum(d['teu'] for d in detections)
