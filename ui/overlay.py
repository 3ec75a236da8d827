"""The map overlay: real, styled QGIS memory layers under one "CargoWatch" group of the layer tree.

Rebuilt from numpy columns with vectorised work (no per-position Python except the optional positions layer):

- Ship tracks: one line per vessel, track segment and time chunk, categorised by mmsi, direction arrows;
- Ships: a marker at the end of each chunk (rotated by course, labelled with the name at the last one),
  temporal start/end so QGIS's temporal controller animates the ships along their tracks;
- Dark periods: dashed red line from disappearance to reappearance, labelled with the duration;
- Port calls at sites; positions (optional).

Vessels are shown/hidden by switching categories of the renderers, no rebuild.
"""

import math
import time

import numpy as np
from qgis.core import (QgsCategorizedSymbolRenderer, QgsDateTimeRange, QgsFeature, QgsGeometry, QgsInterval,
                       QgsLineSymbol, QgsMarkerLineSymbolLayer, QgsMarkerSymbol, QgsPalLayerSettings, QgsProject,
                       QgsProperty, QgsRendererCategory, QgsSimpleLineSymbolLayer, QgsSimpleMarkerSymbolLayer,
                       QgsTextBufferSettings, QgsTextFormat, QgsVectorLayer, QgsVectorLayerSimpleLabeling)
from qgis.PyQt.QtCore import QCoreApplication, QDateTime, Qt
from qgis.PyQt.QtGui import QColor, QFont

from ..algorithms.base import qfield
from ..core.gaps import find_gaps
from ..compat import Q, qenum
from ..core.geo import site_index_of_points
from ..core.tracks import segment_ids, take
from ..core.ais.defaults import DEFAULTS
from ..core.voyages import port_calls

GROUP_NAME = 'CargoWatch'
TM_EXPRESSIONS = qenum('Qgis.VectorTemporalMode.FeatureDateTimeStartAndEndFromExpressions',
                       'QgsVectorLayerTemporalProperties.ModeFeatureDateTimeStartAndEndFromExpressions')


def shape(name):
    return qenum('Qgis.MarkerShape.' + name, 'QgsSimpleMarkerSymbolLayerBase.' + name)


def line_placement(name):
    return qenum('Qgis.MarkerLinePlacement.' + name, 'QgsMarkerLineSymbolLayer.' + name)


def label_placement(name):
    return qenum('Qgis.LabelPlacement.' + name, 'QgsPalLayerSettings.' + name)


# positions layer: each dot is a QgsFeature (~12 us to build and add): past MAX_POSITIONS in the time range,
# one dot per cell of a POSITION_CELLS grid across the data (~4 px on a 1200 px canvas: the dot's own size,
# so the picture hardly changes), then every k-th if still too many
MAX_POSITIONS = 30_000
POSITION_CELLS = 300
PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#9467bd', '#17becf', '#e377c2', '#8c564b', '#bcbd22',
           '#0b5394', '#e69138', '#38761d', '#674ea7', '#45818e', '#a64d79', '#7f6000', '#3d85c6',
           '#6aa84f', '#b45f06', '#351c75', '#0097a7']
GAP_RED = QColor('#d62728')


def tr(text):
    return QCoreApplication.translate('CargoWatchOverlay', text)


def vessel_colors(mmsis):
    """A distinct, stable colour per vessel (palette order, then golden-ratio hues)."""
    out = {}
    for i, m in enumerate(mmsis):
        if i < len(PALETTE):
            c = QColor(PALETTE[i])
        else:
            h = (i * 0.61803398875) % 1.0
            c = QColor.fromHsvF(h, 0.65 + 0.3 * ((i // 7) % 2), 0.75 - 0.15 * ((i // 3) % 2))
        out[int(m)] = c
    return out


def _qdt(t):
    return QDateTime.fromSecsSinceEpoch(int(t), Qt.TimeSpec.UTC)


def _line_wkb(x, y, starts, lens):
    """WKB LineStrings for vertex runs [starts[i], starts[i]+lens[i]) of x/y, one bytes object each."""
    if len(lens) == 0 or int(lens.sum()) == 0:
        return []
    xy = np.empty((len(x), 2), dtype='<f8')  # the runs are slices of x/y: interleaved once, cut per line
    xy[:, 0] = x
    xy[:, 1] = y
    raw = xy.tobytes()
    return [b'\x01\x02\x00\x00\x00' + n.to_bytes(4, 'little') + raw[16 * s:16 * (s + n)]
            for s, n in zip(starts.tolist(), lens.tolist())]


def _point_wkb(x, y):
    a = np.zeros(len(x), dtype=[('bo', 'u1'), ('ty', '<u4'), ('x', '<f8'), ('y', '<f8')])
    a['bo'] = 1
    a['ty'] = 1
    a['x'] = x
    a['y'] = y
    raw = a.tobytes()
    return [raw[21 * i:21 * i + 21] for i in range(len(x))]


def thin_positions(lon, lat, mmsi, hidden=()):
    """Indices of the positions to draw: every position of the shown vessels up to MAX_POSITIONS; past it the
    latest one in each cell of a POSITION_CELLS grid across their extent, then every k-th."""
    sel = np.flatnonzero(~np.isin(mmsi, np.fromiter(hidden, dtype=np.int64))) if hidden else np.arange(len(lon))
    if len(sel) <= MAX_POSITIONS:
        return sel
    x, y = lon[sel], lat[sel]
    cell = max(float(x.max() - x.min()), float(y.max() - y.min()), 1e-9) / POSITION_CELLS
    cx = ((x - x.min()) / cell).astype(np.int64)
    cy = ((y - y.min()) / cell).astype(np.int64)
    key = cx * (POSITION_CELLS + 2) + cy
    _u, last = np.unique(key[::-1], return_index=True)
    sel = np.sort(sel[len(sel) - 1 - last])
    return sel[::max(1, int(math.ceil(len(sel) / MAX_POSITIONS)))]


def _features(fields, wkbs, rows):
    feats = []
    for wkb, attrs in zip(wkbs, rows):
        f = QgsFeature(fields)
        g = QgsGeometry()
        g.fromWkb(wkb)
        f.setGeometry(g)
        f.setAttributes(list(attrs))
        feats.append(f)
    return feats


def _text_format(size=8.0, color='#202020', bold=False, buffer='#ffffff'):
    fmt = QgsTextFormat()
    font = QFont('DejaVu Sans')
    font.setBold(bold)
    fmt.setFont(font)
    fmt.setSize(size)
    fmt.setColor(QColor(color))
    buf = QgsTextBufferSettings()
    buf.setEnabled(True)
    buf.setSize(1.0)
    buf.setColor(QColor(buffer))
    fmt.setBuffer(buf)
    return fmt


def _labeling(expr, placement, size=8.0, color='#202020', bold=False, show_expr=None, dist=1.5, priority=5):
    s = QgsPalLayerSettings()
    s.priority = priority
    s.fieldName = expr
    s.isExpression = True
    s.placement = placement
    s.dist = dist
    s.setFormat(_text_format(size, color, bold))
    if show_expr:
        props = s.dataDefinedProperties()
        props.setProperty(qenum('QgsPalLayerSettings.Property.Show', 'QgsPalLayerSettings.Show'), QgsProperty.fromExpression(show_expr))
        s.setDataDefinedProperties(props)
    return QgsVectorLayerSimpleLabeling(s)


# --- symbols -------------------------------------------------------------------------------------------

def _symbol(cls, *layers):
    """A symbol made of the given symbol layers (the list constructors are unsafe from Python in 3.22)."""
    sym = cls.createSimple({})
    sym.changeSymbolLayer(0, layers[0])
    for sl in layers[1:]:
        sym.appendSymbolLayer(sl)
    return sym


def track_symbol(color):
    casing = QgsSimpleLineSymbolLayer(QColor(255, 255, 255, 200), 1.4)
    casing.setPenCapStyle(Qt.PenCapStyle.RoundCap)
    casing.setPenJoinStyle(Qt.PenJoinStyle.RoundJoin)
    line = QgsSimpleLineSymbolLayer(color, 0.7)
    line.setPenCapStyle(Qt.PenCapStyle.RoundCap)
    line.setPenJoinStyle(Qt.PenJoinStyle.RoundJoin)
    arrow = QgsSimpleMarkerSymbolLayer(shape('EquilateralTriangle'), 2.2, 90)
    arrow.setColor(color)
    arrow.setStrokeColor(QColor('white'))
    arrow.setStrokeWidth(0.15)
    arrows = QgsMarkerLineSymbolLayer(True, 18)
    arrows.setPlacement(line_placement('Interval'))
    arrows.setOffsetAlongLine(9)
    arrows.setSubSymbol(_symbol(QgsMarkerSymbol, arrow))
    # symbol levels: every casing first, then the lines, then the arrows (no seams between track pieces)
    for level, sl in enumerate((casing, line, arrows)):
        sl.setRenderingPass(level)
    return _symbol(QgsLineSymbol, casing, line, arrows)


def gap_symbol():
    halo = QgsSimpleLineSymbolLayer(QColor(255, 255, 255, 180), 1.2)
    dash = QgsSimpleLineSymbolLayer(GAP_RED, 0.6)
    dash.setPenStyle(Qt.PenStyle.DashLine)
    start = QgsSimpleMarkerSymbolLayer(shape('Circle'), 2.0)
    start.setColor(QColor('white'))
    start.setStrokeColor(GAP_RED)
    start.setStrokeWidth(0.5)
    ends = QgsMarkerLineSymbolLayer(True)
    ends.setPlacement(line_placement('FirstVertex'))
    ends.setSubSymbol(_symbol(QgsMarkerSymbol, start))
    stop = QgsSimpleMarkerSymbolLayer(shape('Circle'), 2.0)
    stop.setColor(GAP_RED)
    stop.setStrokeColor(QColor('white'))
    stop.setStrokeWidth(0.3)
    ends2 = QgsMarkerLineSymbolLayer(True)
    ends2.setPlacement(line_placement('LastVertex'))
    ends2.setSubSymbol(_symbol(QgsMarkerSymbol, stop))
    return _symbol(QgsLineSymbol, halo, dash, ends, ends2)


def ship_symbol(color):
    ship = QgsSimpleMarkerSymbolLayer(shape('ArrowHeadFilled'), 4.6)
    ship.setColor(color)
    ship.setStrokeColor(QColor('#1a1a1a'))
    ship.setStrokeWidth(0.3)
    ship.setDataDefinedProperty(qenum('QgsSymbolLayer.Property.Angle', 'QgsSymbolLayer.PropertyAngle'),
                                QgsProperty.fromExpression('coalesce("cog", "heading", 0) - 90'))  # the arrow points east
    ship.setDataDefinedProperty(qenum('QgsSymbolLayer.Property.LayerEnabled', 'QgsSymbolLayer.PropertyLayerEnabled'),
                                QgsProperty.fromExpression('"is_last" = 1 OR @map_start_time IS NOT NULL'))
    return _symbol(QgsMarkerSymbol, ship)


def position_symbol(color):
    dot = QgsSimpleMarkerSymbolLayer(shape('Circle'), 1.2)
    dot.setColor(color)
    dot.setStrokeColor(QColor(255, 255, 255, 160))
    dot.setStrokeWidth(0.1)
    return _symbol(QgsMarkerSymbol, dot)


def call_symbol(color):
    ring = QgsSimpleMarkerSymbolLayer(shape('Square'), 3.0)
    ring.setColor(QColor('white'))
    ring.setStrokeColor(color)
    ring.setStrokeWidth(0.6)
    inner = QgsSimpleMarkerSymbolLayer(shape('Square'), 1.4)
    inner.setColor(color)
    inner.setStrokeStyle(Qt.PenStyle.NoPen)
    return _symbol(QgsMarkerSymbol, ring, inner)


# --- the overlay -----------------------------------------------------------------------------------------

LAYERS = {  # key: (geometry, display name, fields)
    'calls': ('Point', 'Port calls', [('mmsi', 'long'), ('name', 'string'), ('site', 'string'),
                                      ('t_arrive', 'long'), ('t_depart', 'long'), ('hours', 'double'),
                                      ('points', 'long')]),
    'ships': ('Point', 'Ships', [('mmsi', 'long'), ('name', 'string'), ('t', 'long'), ('sog', 'double'),
                                 ('cog', 'double'), ('heading', 'double'), ('is_last', 'int'),
                                 ('t_start', 'long'), ('t_end', 'long')]),
    'gaps': ('LineString', 'Dark periods', [('mmsi', 'long'), ('name', 'string'), ('t_start', 'long'),
                                            ('t_end', 'long'), ('hours', 'double'), ('distance_nm', 'double'),
                                            ('implied_speed_kn', 'double'), ('label', 'string')]),
    'positions': ('Point', 'Positions', [('mmsi', 'long'), ('t', 'long'), ('sog', 'double'), ('cog', 'double'),
                                         ('heading', 'double')]),
    'tracks': ('LineString', 'Ship tracks', [('mmsi', 'long'), ('name', 'string'), ('t_start', 'long'),
                                             ('t_end', 'long'), ('points', 'long'), ('segment', 'long')]),
}
ORDER = ['calls', 'ships', 'gaps', 'positions', 'tracks']
# times are stored as unix seconds (fast to build); these virtual fields show them as UTC date-times
TIME_FIELDS = {'calls': (('arrive', 't_arrive'), ('depart', 't_depart')), 'positions': (('time', 't'),),
               'ships': (('time', 't'), ('start', 't_start'), ('end', 't_end')),
               'gaps': (('start', 't_start'), ('end', 't_end')), 'tracks': (('start', 't_start'), ('end', 't_end'))}
# temporal controller: (start, end) unix-second fields; end None = stays once it began (tracks grow)
TEMPORAL = {'calls': ('t_arrive', 't_depart'), 'ships': ('t_start', 't_end'), 'gaps': ('t_start', 't_end'),
            'tracks': ('t_start', None), 'positions': ('t', None)}


def duration_text(hours):
    if hours >= 48:
        return tr('{:.1f} d dark').format(hours / 24.0)
    h = int(hours)
    m = int(round((hours - h) * 60))
    if m == 60:
        h, m = h + 1, 0
    return tr('{} h {:02d} min dark').format(h, m) if h else tr('{} min dark').format(m)


class Overlay:
    """Owns the CargoWatch layers of one project."""

    def __init__(self, project=None):
        self.project = project or QgsProject.instance()
        self.layer_ids = {}
        self.colors = {}
        self.names = {}
        self.hidden = set()
        self.chunk_s = 3600
        self.stats = {}
        self._data = None
        self._generation = 0  # renderers are rebuilt only for new data (their categories are the vessels)
        self._applied = {}  # layer key -> (renderer, (generation, hidden)) set_hidden last applied

    # --- layer tree -------------------------------------------------------------------------------

    def group(self, create=True):
        root = self.project.layerTreeRoot()
        g = root.findGroup(GROUP_NAME)
        if g is None and create:
            g = root.insertGroup(0, GROUP_NAME)
        return g

    def layer(self, key):
        lid = self.layer_ids.get(key)
        return self.project.mapLayer(lid) if lid else None

    def add_to_group(self, layer, index=None):
        """Add any layer (e.g. the sites) to the CargoWatch group."""
        self.project.addMapLayer(layer, False)
        g = self.group()
        if index is None:
            g.addLayer(layer)
        else:
            g.insertLayer(index, layer)
        return layer

    def _ensure(self, key):
        lyr = self.layer(key)
        if lyr is not None:
            return lyr
        # a layer of an earlier session (saved project, reloaded plugin): replace it rather than duplicate it
        for old in list(self.project.mapLayers().values()):
            if old.customProperty('cargowatch/overlay') == key:
                self.project.removeMapLayer(old.id())
        geom, name, fields = LAYERS[key]
        uri = geom + '?crs=EPSG:4326&' + '&'.join(
            f'field={n}:{ {"long": "long", "int": "integer", "double": "double", "string": "string", "datetime": "datetime"}[k]}'
            for n, k in fields)
        lyr = QgsVectorLayer(uri, tr(name), 'memory')
        lyr.setCustomProperty('cargowatch/overlay', key)
        for name, src in TIME_FIELDS[key]:
            lyr.addExpressionField(f'datetime_from_epoch("{src}" * 1000)', qfield(name, 'datetime'))
        self.project.addMapLayer(lyr, False)
        g = self.group()
        # keep ORDER inside the group, below the sites (which the dock inserts at the top)
        present = [k for k in ORDER if self.layer(k) is not None]
        after = [k for k in ORDER[ORDER.index(key) + 1:] if k in present]
        node = None
        if after:
            node = g.findLayer(self.layer_ids[after[0]])
        if node is not None:
            g.insertLayer(g.children().index(node), lyr)
        else:
            g.addLayer(lyr)
        self.layer_ids[key] = lyr.id()
        self._style(key, lyr)
        return lyr

    def _style(self, key, lyr):
        tp = lyr.temporalProperties()
        start, end = TEMPORAL[key]
        tp.setMode(TM_EXPRESSIONS)
        tp.setStartExpression(f'datetime_from_epoch("{start}" * 1000)')
        tp.setEndExpression(f'datetime_from_epoch("{end}" * 1000)' if end else
                            ('' if key == 'tracks' else f'datetime_from_epoch("{start}" * 1000)'))
        tp.setIsActive(True)
        if key == 'gaps':
            lyr.setLabeling(_labeling('"label"', label_placement('Line'), 7.5, '#b71c1c', True, priority=7))
            lyr.setLabelsEnabled(True)
        elif key == 'ships':
            lyr.setLabeling(_labeling('coalesce(nullif("name", \'\'), to_string("mmsi"))',
                                      label_placement('AroundPoint'), 7, '#102030', False,
                                      priority=3, show_expr='"is_last" = 1 OR @map_start_time IS NOT NULL', dist=1.0))
            lyr.setLabelsEnabled(True)
        elif key == 'calls':
            lyr.setLabeling(_labeling("coalesce(nullif(\"name\", ''), to_string(\"mmsi\")) || '\n' || "
                                      "format_number(\"hours\", 1) || ' h at ' || \"site\"",
                                      label_placement('AroundPoint'), 7, '#333333', False))
            lyr.setLabelsEnabled(False)  # busy ports: on demand through the layer's label toggle

    def _renderer(self, key, mmsis):
        maker = {'tracks': track_symbol, 'ships': ship_symbol, 'positions': position_symbol,
                 'calls': call_symbol, 'gaps': lambda c: gap_symbol()}[key]
        cats = []
        for m in mmsis:
            m = int(m)
            c = self.colors.get(m, QColor('#555555'))
            cats.append(QgsRendererCategory(m, maker(c), self.names.get(m) or str(m), m not in self.hidden))
        r = QgsCategorizedSymbolRenderer('mmsi', cats)
        r.setUsingSymbolLevels(key == 'tracks')
        return r

    # --- building ---------------------------------------------------------------------------------

    def rebuild(self, data, t0=None, t1=None, min_gap_s=DEFAULTS.gap_s, show_positions=False, sites=None,
                min_stay_s=DEFAULTS.min_stay_s):
        """Rebuild every overlay layer from AisData within [t0, t1] (unix s, inclusive). Returns stats."""
        tic = time.perf_counter()
        if data is not self._data:
            self._data = data
            self._generation += 1
        cols = data.cols
        self.names = {int(m): n for m, n in zip(data.v_mmsi.tolist(), data.v_name)}
        for m in data.v_mmsi.tolist():
            self.colors.setdefault(int(m), QColor('#555555'))
        t = cols['t']
        lo = t.min() if t0 is None else t0
        hi = t.max() if t1 is None else t1
        if len(t):
            mask = (t >= lo) & (t <= hi)
            sub = take(cols, mask) if not mask.all() else cols
        else:
            sub = cols
        mmsi, tt, lon, lat = sub['mmsi'], sub['t'], sub['lon'], sub['lat']
        n = len(mmsi)
        span = int(tt.max() - tt.min()) if n else 0
        out_vessels = int(np.count_nonzero(np.diff(mmsi)) + 1) if n else 0
        out = {'positions': n, 'vessels': out_vessels}
        # chunk length: about 60 animation steps over the range, rounded to a friendly duration
        # (and at most ~9,000 pieces in all, each a track line and a ship marker, ~25 us to build: fewer steps
        # for big fleets, at least 8)
        n_steps = int(np.clip(9000 / max(1, out_vessels), 8, 60))
        steps = [60, 300, 600, 900, 1800, 3600, 2 * 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400]
        self.chunk_s = next((s for s in steps if span / s <= n_steps), 86400)
        name_of = self.names
        t_read = time.perf_counter()

        # tracks: break at vessel changes, dark periods and chunk boundaries
        seg = segment_ids(mmsi, tt, min_gap_s)
        chunk = (tt - (tt.min() if n else 0)) // self.chunk_s
        brk = np.ones(n, dtype=bool)
        if n > 1:
            brk[1:] = (seg[1:] != seg[:-1]) | (chunk[1:] != chunk[:-1])
        starts = np.flatnonzero(brk)
        ends = np.r_[starts[1:], n]  # exclusive
        # each chunk line runs on to the first position of the next chunk of the same segment
        nxt_same = np.zeros(len(starts), dtype=bool)
        if len(starts) > 1:
            nxt_same[:-1] = seg[ends[:-1]] == seg[starts[:-1]]
        vlen = ends - starts + nxt_same.astype(np.int64)
        is_line = vlen >= 2
        s_l, v_l = starts[is_line], vlen[is_line]
        wkbs = _line_wkb(lon, lat, s_l, v_l)
        last_idx = s_l + v_l - 1
        tr_rows = zip(mmsi[s_l].tolist(), (name_of.get(int(m), '') for m in mmsi[s_l].tolist()),
                      tt[s_l].tolist(), tt[last_idx].tolist(),
                      v_l.tolist(), seg[s_l].tolist())
        track_feats = _features(self._ensure('tracks').fields(), wkbs, tr_rows)

        # ships: the last position of each chunk, shown from the chunk's start to the next chunk's start
        ci = ends - 1
        c_end_t = np.where(nxt_same, tt[np.minimum(ends, n - 1)] if n else ends, tt[ci] if n else ends)
        is_last = np.zeros(len(starts), dtype=np.int64)
        if len(starts):
            newv = np.r_[mmsi[starts[1:]] != mmsi[starts[:-1]], True]
            is_last[newv] = 1
        sog, cog, hdg = (sub[k] for k in ('sog', 'cog', 'heading'))  # float32, read at the rows drawn
        # course for markers: reported COG, else bearing from the previous position (at the markers only)
        course = cog[ci].astype(np.float64)
        prev = np.maximum(ci - 1, 0)
        dx = (lon[ci] - lon[prev]) * np.cos(np.radians(lat[ci]))
        brg = (np.degrees(np.arctan2(dx, lat[ci] - lat[prev])) + 360) % 360
        brg[(ci == 0) | (mmsi[prev] != mmsi[ci])] = np.nan
        course = np.where(np.isfinite(course), course, brg)

        def nn(a):
            return [None if not math.isfinite(x) else x for x in a.tolist()]

        sh_rows = zip(mmsi[ci].tolist(), (name_of.get(int(m), '') for m in mmsi[ci].tolist()),
                      tt[ci].tolist(), nn(sog[ci]), nn(course), nn(hdg[ci]),
                      is_last.tolist(), tt[starts].tolist(), c_end_t.tolist())
        ship_feats = _features(self._ensure('ships').fields(), _point_wkb(lon[ci], lat[ci]), sh_rows)

        # dark periods
        gaps = find_gaps(mmsi, tt, lon, lat, min_gap_s)
        i0, i1 = gaps['i0'], gaps['i1']
        gw = _line_wkb(np.c_[lon[i0], lon[i1]].ravel(), np.c_[lat[i0], lat[i1]].ravel(),
                       np.arange(len(i0)) * 2, np.full(len(i0), 2, dtype=np.int64)) if len(i0) else []
        g_rows = zip(mmsi[i0].tolist(), (name_of.get(int(m), '') for m in mmsi[i0].tolist()),
                     tt[i0].tolist(), tt[i1].tolist(),
                     gaps['hours'].tolist(), gaps['distance_nm'].tolist(), gaps['implied_speed_kn'].tolist(),
                     (duration_text(h) for h in gaps['hours'].tolist()))
        gap_feats = _features(self._ensure('gaps').fields(), gw, g_rows)
        out['gaps'] = len(gap_feats)

        # port calls at sites
        call_feats = []
        if sites and n:
            polys = [s['parts'] for s in sites]
            site_idx = site_index_of_points(lon, lat, polys)
            calls = port_calls(mmsi, tt, site_idx, min_stay_s, split_gap_s=min_gap_s)
            k = len(calls['mmsi'])
            if k:
                a, b = calls['i0'], calls['i1'] + 1
                csum_x = np.r_[0, np.cumsum(lon)]
                csum_y = np.r_[0, np.cumsum(lat)]
                cx = (csum_x[b] - csum_x[a]) / (b - a)
                cy = (csum_y[b] - csum_y[a]) / (b - a)
                c_rows = zip(calls['mmsi'].tolist(), (name_of.get(int(m), '') for m in calls['mmsi'].tolist()),
                             (sites[s]['name'] for s in calls['site'].tolist()),
                             calls['arrive'].tolist(), calls['depart'].tolist(),
                             ((calls['depart'] - calls['arrive']) / 3600.0).tolist(), calls['points'].tolist())
                call_feats = _features(self._ensure('calls').fields(), _point_wkb(cx, cy), c_rows)
        out['calls'] = len(call_feats)

        # positions, on demand (thinned past MAX_POSITIONS)
        pos_feats = []
        if show_positions and n:
            sel = thin_positions(lon, lat, mmsi, self.hidden)
            p_rows = zip(mmsi[sel].tolist(), tt[sel].tolist(), nn(sog[sel]), nn(cog[sel]), nn(hdg[sel]))
            pos_feats = _features(self._ensure('positions').fields(), _point_wkb(lon[sel], lat[sel]), p_rows)
            out['positions_shown'] = len(sel)
        t_build = time.perf_counter()

        vessel_ids = data.v_mmsi
        for key, feats in (('tracks', track_feats), ('ships', ship_feats), ('gaps', gap_feats),
                           ('calls', call_feats), ('positions', pos_feats)):
            lyr = self.layer(key)
            if lyr is None and not feats:
                continue
            if key == 'positions' and not show_positions:
                self.remove_layer('positions')
                continue
            lyr = self._ensure(key)
            pr = lyr.dataProvider()
            pr.truncate()
            pr.addFeatures(feats, Q.FAST_INSERT)
            lyr.updateExtents()
            if lyr.customProperty('cargowatch/renderer') != self._generation:
                lyr.setRenderer(self._renderer(key, vessel_ids))
                lyr.setCustomProperty('cargowatch/renderer', self._generation)
            lyr.triggerRepaint()
        self.extent_range = (int(lo), int(hi))
        toc = time.perf_counter()
        out.update(tracks=len(track_feats), ships=len(ship_feats), chunk_s=self.chunk_s,
                   seconds_filter=t_read - tic, seconds_features=t_build - t_read, seconds_layers=toc - t_build,
                   seconds=toc - tic)
        self.stats = out
        return out

    def set_hidden(self, hidden):
        """Show/hide vessels (set of mmsi to hide) by switching renderer categories; no rebuild."""
        self.hidden = set(int(m) for m in hidden)
        for key in ORDER:
            lyr = self.layer(key)
            if lyr is None or not isinstance(lyr.renderer(), QgsCategorizedSymbolRenderer):
                continue
            r = lyr.renderer()
            state = (self._generation, frozenset(self.hidden))
            if self._applied.get(key) == (id(r), state):  # this renderer shows these vessels already
                continue
            self._applied[key] = (id(r), state)
            for i, cat in enumerate(r.categories()):
                on = int(cat.value()) not in self.hidden
                if cat.renderState() != on:
                    r.updateCategoryRenderState(i, on)
            lyr.triggerRepaint()
            lyr.emitStyleChanged()

    def set_color(self, mmsi, color):
        self.colors[int(mmsi)] = QColor(color)
        for key in ORDER:
            lyr = self.layer(key)
            if lyr is None or not isinstance(lyr.renderer(), QgsCategorizedSymbolRenderer) or key == 'gaps':
                continue
            r = lyr.renderer()
            i = r.categoryIndexForValue(int(mmsi))
            if i >= 0:
                maker = {'tracks': track_symbol, 'ships': ship_symbol, 'positions': position_symbol,
                         'calls': call_symbol}[key]
                r.updateCategorySymbol(i, maker(QColor(color)))
                lyr.triggerRepaint()

    def remove_layer(self, key):
        lid = self.layer_ids.pop(key, None)
        if lid and self.project.mapLayer(lid) is not None:
            self.project.removeMapLayer(lid)

    def temporal_range(self):
        lo, hi = getattr(self, 'extent_range', (0, 0))
        return QgsDateTimeRange(_qdt(lo), _qdt(hi))

    def frame_interval(self):
        return QgsInterval(self.chunk_s)

    def remove_all(self, remove_group=True):
        for key in list(self.layer_ids):
            self.remove_layer(key)
        if remove_group:
            g = self.group(create=False)
            if g is not None and not g.children():
                g.parent().removeChildNode(g)
