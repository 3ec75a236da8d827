"""Site evidence report: one self-contained HTML file (images embedded as base64 PNG, the chart as inline SVG)
with a site map per date, image chips of sampled detections, counts over time, AIS tables, and what is needed
to reproduce it. Pure functions: arrays, records and strings in, bytes and text out (no qgis)."""
import base64
import datetime as _dt
import hashlib
import html
import os
import re

import cv2
import numpy as np

from .raster import read_window

# what the figures can and cannot show (printed in every report)
LIMITS = (
    'A container count is of the container tops the detector finds on the image: boxes stacked below the top '
    'tier or under cranes and roofs are not counted. At its default setting the detector keeps false containers '
    'rare at the price of missing tops (on new yards of the project\'s own generator it finds little more than '
    'half of them, fewer of the dark ones and on coarse or 1-band images), so counts usually run low, while '
    'look-alikes (wagons, buses, trailers) can add some.',
    'A storage-pit count is of open earthen revetments the image shows: covered, roofed, tree-shaded or '
    'snow-filled pits are not seen, and pits closer than about 2 m to each other can merge.',
    'Counts from different images differ also by resolution, season, sun and haze: compare dates with the '
    'confidence of the detections in mind, and look at the chips and maps before reporting a change.',
    'AIS shows only vessels that transmitted and whose messages were received. A port call is a stay of '
    'positions inside the site polygon; a dark period is an interval without positions: it says "not seen", '
    'not "hiding" (receiver coverage, transponder faults and spoofing look alike). A dark voyage is a visit '
    'that was possible in the time, not one that happened.',
    'Nothing in this report identifies cargo: a container or a pit says nothing about what it holds.',
)

DETECTION_COLOURS = {'20ft': (255, 212, 59), '40ft': (255, 0, 255), 'pit': (255, 80, 40)}
SERIES_COLOURS = ('#1c7ed6', '#e8590c', '#2f9e44', '#ae3ec9', '#f08c00', '#0ca678', '#c2255c', '#5c940d')


# --- images -----------------------------------------------------------------------------------------

def site_window(raster, rings, margin_m=15.0):
    """Pixel window (x0, y0, w, h) of ``rings`` (lists of map (x, y) in the raster's working CRS) plus a
    margin, clipped to the raster; None if the site and the raster do not overlap."""
    pts = np.concatenate([np.asarray(r, dtype=float) for r in rings])
    cols, rows = raster.map_to_pixel(pts[:, 0], pts[:, 1])
    m = margin_m / raster.gsd
    x0, x1 = max(0, int(np.floor(cols.min() - m))), min(raster.width, int(np.ceil(cols.max() + m)))
    y0, y1 = max(0, int(np.floor(rows.min() - m))), min(raster.height, int(np.ceil(rows.max() + m)))
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    return x0, y0, x1 - x0, y1 - y0


def read_rgb(raster, window):
    """The window as 8-bit RGB (h, w, 3) stretched as the detectors see it; no-data dark grey."""
    data, valid = read_window(raster, *window)
    if data.shape[0] == 1:
        data = np.repeat(data, 3, axis=0)
    rgb = (np.transpose(data[:3], (1, 2, 0)) * 255.0 + 0.5).astype(np.uint8)
    rgb[~valid] = 40
    return rgb


def _to_px(raster, window, scale, xy, origin=(0, 0)):
    """Map (x, y) -> drawing coordinates on the window (offset by ``origin`` pixels) scaled by ``scale``
    (pixel edges to OpenCV's pixel centres)."""
    xy = np.asarray(xy, dtype=float)
    cols, rows = raster.map_to_pixel(xy[:, 0], xy[:, 1])
    return np.round(np.stack([(cols - window[0] - origin[0]) * scale - 0.5,
                              (rows - window[1] - origin[1]) * scale - 0.5], axis=1)).astype(np.int32)


def draw_map(rgb, raster, window, rings, detections, max_px=900):
    """The window scaled to ``max_px`` on its longer side (enlarged at most 3 times), the site outline in white
    and each detection (dict with ``corners`` map (x, y) and ``kind``) outlined in its colour. Returns RGB."""
    h, w = rgb.shape[:2]
    scale = min(3.0, max_px / max(h, w))
    img = cv2.resize(rgb, (max(1, round(w * scale)), max(1, round(h * scale))),
                     interpolation=cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR)
    for d in detections:
        cv2.polylines(img, [_to_px(raster, window, scale, d['corners'])], True,
                      DETECTION_COLOURS.get(d['kind'], (0, 229, 255)), 1, cv2.LINE_AA)
    for ring in rings:
        cv2.polylines(img, [_to_px(raster, window, scale, ring)], True, (255, 255, 255), 2, cv2.LINE_AA)
    return img


def sample(detections, n):
    """Up to ``n`` detections spread evenly over the confidence ranking (the surest, the doubtful and those
    between), surest first; deterministic."""
    ranked = sorted(detections, key=lambda d: -float(d.get('confidence') or 0.0))
    if len(ranked) <= n:
        return ranked
    return [ranked[int(round(i))] for i in np.linspace(0, len(ranked) - 1, n)]


def chip(rgb, raster, window, detection, margin_m=4.0, size=120):
    """A ``size`` px square crop of the full-resolution window around one detection, outline drawn."""
    xy = np.asarray(detection['corners'], dtype=float)
    cols, rows = raster.map_to_pixel(xy[:, 0], xy[:, 1])
    x0, x1, y0, y1 = cols.min() - window[0], cols.max() - window[0], rows.min() - window[1], rows.max() - window[1]
    cx, cy = (x0 + x1) / 2.0, (y0 + y1) / 2.0
    half = max(x1 - x0, y1 - y0) / 2.0 + margin_m / raster.gsd
    a, b = int(max(0, cx - half)), int(min(rgb.shape[1], cx + half + 1))
    c, e = int(max(0, cy - half)), int(min(rgb.shape[0], cy + half + 1))
    crop = rgb[c:e, a:b]
    if crop.size == 0:
        return None
    k = size / max(crop.shape[:2])
    img = cv2.resize(crop, (max(1, round(crop.shape[1] * k)), max(1, round(crop.shape[0] * k))),
                     interpolation=cv2.INTER_NEAREST if k > 1 else cv2.INTER_AREA)
    colour = DETECTION_COLOURS.get(detection['kind'], (0, 229, 255))
    cv2.polylines(img, [_to_px(raster, window, k, xy, origin=(a, c))], True, colour, 2, cv2.LINE_AA)
    return img


def png(rgb):
    ok, buf = cv2.imencode('.png', np.ascontiguousarray(rgb[..., ::-1]))
    if not ok:
        raise ValueError('PNG encoding failed')
    return buf.tobytes()


def data_uri(png_bytes):
    return 'data:image/png;base64,' + base64.b64encode(png_bytes).decode('ascii')


# --- chart ------------------------------------------------------------------------------------------

def _day(iso):
    return _dt.date.fromisoformat(str(iso)[:10]).toordinal()


def counts_chart_svg(series, width=680, height=280):
    """Inline SVG line chart of counts over time. ``series``: [(label, [(iso date, value), ...]), ...];
    points carry a <title> (label, date, value). None when there is nothing to draw."""
    series = [(label, sorted((d, float(v)) for d, v in pts if v is not None)) for label, pts in series]
    series = [(label, pts) for label, pts in series if pts]
    if not series:
        return None
    days = [_day(d) for _, pts in series for d, _ in pts]
    top = max(v for _, pts in series for _, v in pts)
    top = max(1.0, top * 1.1)
    lo, hi = min(days), max(days)
    if hi == lo:
        lo, hi = lo - 15, hi + 15
    left, right, up, down = 56, 200, 16, 46
    pw, ph = width - left - right, height - up - down

    def sx(day):
        return left + pw * (day - lo) / (hi - lo)

    def sy(v):
        return up + ph * (1.0 - v / top)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img" aria-label="Counts over time">',
           f'<rect x="{left}" y="{up}" width="{pw}" height="{ph}" fill="#fafafa" stroke="#bbb"/>']
    for i in range(6):
        v = top * i / 5
        y = sy(v)
        out.append(f'<line x1="{left}" x2="{left + pw}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e3e3e3"/>'
                   f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11">{v:.0f}</text>')
    for d in sorted({d for _, pts in series for d, _ in pts}):
        x = sx(_day(d))
        out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{up + ph}" y2="{up + ph + 4}" stroke="#888"/>'
                   f'<text x="{x:.1f}" y="{up + ph + 18}" text-anchor="middle" font-size="11">'
                   f'{html.escape(str(d)[:10])}</text>')
    for k, (label, pts) in enumerate(series):
        colour = SERIES_COLOURS[k % len(SERIES_COLOURS)]
        xy = [(sx(_day(d)), sy(v)) for d, v in pts]
        if len(xy) > 1:
            out.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="'
                       + ' '.join(f'{x:.1f},{y:.1f}' for x, y in xy) + '"/>')
        for (x, y), (d, v) in zip(xy, pts):
            out.append(f'<circle class="point" cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{colour}">'
                       f'<title>{html.escape(label)} {html.escape(str(d)[:10])}: {v:g}</title></circle>')
        ly = up + 14 + 18 * k
        out.append(f'<rect x="{left + pw + 12}" y="{ly - 9}" width="12" height="12" fill="{colour}"/>'
                   f'<text class="legend" x="{left + pw + 30}" y="{ly + 1}" font-size="12">{html.escape(label)}</text>')
    out.append('</svg>')
    return ''.join(out)


# --- reproducibility ----------------------------------------------------------------------------------

def file_facts(path, hash_limit=2 ** 30):
    """(size in bytes, SHA-256 or a reason) of an input file, for the report's inputs table."""
    try:
        size = os.path.getsize(path)
    except OSError:
        return None, 'not a file'
    if size > hash_limit:
        return size, 'not hashed (over 1 GiB)'
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            h.update(block)
    return size, h.hexdigest()


# --- HTML ------------------------------------------------------------------------------------------

CSS = """
body{font-family:'DejaVu Sans',Arial,sans-serif;margin:24px auto;max-width:1000px;color:#222;line-height:1.4}
h1{margin-bottom:0}h2{border-bottom:2px solid #ddd;padding-bottom:3px;margin-top:28px}
.sub{color:#666;margin-top:4px}table{border-collapse:collapse;font-size:13px;margin:8px 0}
td,th{border:1px solid #ccc;padding:3px 7px;text-align:left;vertical-align:top}th{background:#f1f3f5}
.num{text-align:right}.figures td{font-size:15px}.map{max-width:100%;border:1px solid #999}
.chips{display:flex;flex-wrap:wrap;gap:8px}.chip{text-align:center;font-size:12px}
.chip img{display:block;border:1px solid #999;image-rendering:pixelated}.skip{color:#a61e4d}
.limits li{margin-bottom:4px}.key span{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px}
code{font-size:12px;word-break:break-all}
"""


def esc(v):
    if v is None:
        return ''
    if isinstance(v, float):
        return f'{v:.2f}'
    return html.escape(str(v))


def table(columns, rows, css_class='', limit=300):
    """An HTML table of ``rows`` (sequences in the order of ``columns``); at most ``limit`` rows shown."""
    if not rows:
        return '<p class="none">None.</p>'
    head = ''.join(f'<th>{esc(c)}</th>' for c in columns)
    body = ''.join('<tr>' + ''.join(f'<td class="num">{esc(v)}</td>' if isinstance(v, (int, float)) and
                                    not isinstance(v, bool) else f'<td>{esc(v)}</td>' for v in r) + '</tr>'
                   for r in rows[:limit])
    more = f'<p>… and {len(rows) - limit} more rows (see the layers).</p>' if len(rows) > limit else ''
    return f'<table class="{css_class}"><tr>{head}</tr>{body}</table>{more}'


def _key():
    names = {'20ft': '20 ft container', '40ft': '40 ft container', 'pit': 'storage pit'}
    return ('<p class="key">Outlines: <span style="background:#fff;border:1px solid #000"></span>site' + ''.join(
        f'<span style="background:rgb{DETECTION_COLOURS[k]}"></span>{v}' for k, v in names.items()) + '</p>')


def build_html(site, dates, chips, chart_svg, ais, provenance, recorded=(), limits=LIMITS):
    """The report page.

    ``site``: dict(name, area_km2, centre (lon, lat), source); ``dates``: one dict per image (date, image,
    counts dict, map PNG bytes or None, skipped reason or None); ``chips``: dicts (png, confidence, label,
    date); ``chart_svg``: str or None; ``ais``: None or dict(summary, calls, voyages, gaps) with (columns, rows)
    tables; ``provenance``: dict(inputs rows, parameters rows, versions rows, generated); ``recorded``: rows
    (date, containers, teu, pits, source, note) of the observations recorded on the site."""
    title = f'Site evidence report: {site["name"]}'
    parts = [f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>'
             f'<style>{CSS}</style></head><body>',
             f'<h1>{esc(title)}</h1><p class="sub">Generated {esc(provenance["generated"])} by CargoWatch. '
             f'Site centre {site["centre"][1]:.5f} N, {site["centre"][0]:.5f} E; area {site["area_km2"]:.3f} km²; '
             f'from {esc(site["source"])}.</p>']
    figures = [('Images', len(dates)), ('Images counted', sum(1 for d in dates if not d['skipped']))]
    latest = next((d for d in reversed(dates) if not d['skipped']), None)
    if latest:
        figures += [(f'{k} ({latest["date"]})', v) for k, v in latest['counts'].items()]
    if ais:
        figures += list(ais['summary'].items())
    parts.append('<h2 id="summary">Summary</h2>' + table(('figure', 'value'), figures, 'figures'))
    parts.append('<h2 id="detections">Detections by date</h2>' + _key())
    if not dates:
        parts.append('<p class="none">No image given.</p>')
    for d in dates:
        counts = ', '.join(f'{k} {v:g}' for k, v in d['counts'].items())
        parts.append(f'<h3>{esc(d["date"])} — {esc(d["image"])}</h3>')
        if d['skipped']:
            parts.append(f'<p class="skip">Not counted: {esc(d["skipped"])}</p>')
            continue
        parts.append(f'<p>{esc(counts)}</p>')
        if d['map'] is not None:
            parts.append(f'<img class="map" alt="Map of {esc(site["name"])} on {esc(d["date"])} with the '
                         f'detections" src="{data_uri(d["map"])}">')
    parts.append('<h2 id="chips">Sample of detections</h2>')
    if chips:
        parts.append('<p>Detections spread over the confidence ranking, surest first (confidence 0-1).</p>'
                     '<div class="chips">' + ''.join(
                         f'<div class="chip"><img alt="{esc(c["label"])} confidence {c["confidence"]:.2f}" '
                         f'src="{data_uri(c["png"])}"><span class="conf">{esc(c["label"])} '
                         f'{c["confidence"]:.2f}</span><br>{esc(c["date"])}</div>' for c in chips) + '</div>')
    else:
        parts.append('<p class="none">No detection to show.</p>')
    parts.append('<h2 id="counts">Counts over time</h2>'
                 + (chart_svg or '<p class="none">No counts to draw.</p>'))
    if recorded:
        parts.append('<h3>Observations recorded on the site</h3>'
                     + table(('date', 'containers', 'TEU', 'pits', 'source', 'note'), list(recorded), 'recorded'))
    parts.append('<h2 id="ais">AIS: port calls, voyages and dark periods touching the site</h2>')
    if ais is None:
        parts.append('<p class="none">No AIS positions given.</p>')
    else:
        for key, heading in (('calls', 'Port calls'), ('voyages', 'Voyages to or from the site (observed, and '
                                                                   'possible while dark)'),
                             ('gaps', 'Dark periods starting or ending near the site')):
            parts.append(f'<h3 id="{key}">{heading}</h3>' + table(*ais[key], css_class=key))
    parts.append('<h2 id="limits">What these figures can and cannot show</h2><ul class="limits">'
                 + ''.join(f'<li>{esc(t)}</li>' for t in limits) + '</ul>')
    parts.append('<h2 id="provenance">Inputs, versions and parameters</h2>'
                 + '<h3>Inputs</h3>' + table(('input', 'path', 'bytes', 'SHA-256'), provenance['inputs'], 'inputs')
                 + '<h3>Parameters</h3>' + table(('parameter', 'value'), provenance['parameters'], 'parameters')
                 + '<h3>Versions</h3>' + table(('software', 'version'), provenance['versions'], 'versions'))
    parts.append('</body></html>')
    return '\n'.join(parts)


# --- dates ------------------------------------------------------------------------------------------

_DATE_RE = re.compile(r'(?<!\d)((?:19|20)\d\d)[-_.]?(0[1-9]|1[0-2])[-_.]?(0[1-9]|[12]\d|3[01])(?!\d)')


def image_date(path, tiff_datetime=None):
    """ISO date of an image: from its file name (2024-05-20, 20240520, 2024_05_20), else from the TIFF
    DateTime tag ('YYYY:MM:DD HH:MM:SS'); None if neither holds a valid date."""
    for text in (os.path.basename(str(path)), (tiff_datetime or '').replace(':', '-', 2)):
        m = _DATE_RE.search(text)
        if m:
            try:
                return _dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3))).isoformat()
            except ValueError:
                continue
    return None
