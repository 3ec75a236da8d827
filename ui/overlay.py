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
from qgis.core import (QgsCategorizedSymbolRenderer, QgsDateTimeRange, QgsFeature, QgsFillSymbol, QgsGeometry,
                       QgsInterval, QgsLineSymbol, QgsMarkerLineSymbolLayer, QgsMarkerSymbol, QgsPalLayerSettings,
                       QgsProject, QgsProperty, QgsRendererCategory, QgsSimpleLineSymbolLayer,
                       QgsSimpleMarkerSymbolLayer, QgsSingleSymbolRenderer, QgsTextBufferSettings, QgsTextFormat,
                       QgsVectorLayer, QgsVectorLayerSimpleLabeling)
from qgis.PyQt.QtCore import QCoreApplication, Qt
from qgis.PyQt.QtGui import QColor, QFont

from ..core.gaps import find_gaps
from ..compat import Q, qenum, qfield
from ..core.geo import site_index_of_points
from ..core.tracks import segment_ids, take
from ..core.ais.defaults import DEFAULTS
from ..core.voyages import port_calls
from ..layers.ais import utc_datetime

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


SYMBOLS = {'tracks': track_symbol, 'ships': ship_symbol, 'positions': position_symbol, 'calls': call_symbol,
           'gaps': lambda _color: gap_symbol()}  # dark periods are red whatever the vessel


# --- the sites of the analyst's GeoPackage (OGR layers, shown in the same group) ---------------------------

SITE_LABEL = (
    "\"name\" || if(\"last_date\" IS NULL, '', '\\n' || trim("
    "if(\"last_containers\" IS NULL, '', format_number(\"last_containers\", 0) || ' cont.  ') || "
    "if(\"last_teu\" IS NULL, '', format_number(\"last_teu\", 0) || ' TEU  ') || "
    "if(\"last_pits\" IS NULL, '', format_number(\"last_pits\", 0) || ' pits  ')) || "
    "'  · ' || format_date(\"last_date\", 'd MMM yyyy'))"
)


def sites_layer(path, kind):
    """The sites GeoPackage's points ('points': stars) or areas ('areas': dashed outlines), labelled with the
    name and the latest counts; None if OGR cannot open it."""
    geom = 'Point' if kind == 'points' else 'Polygon'
    lyr = QgsVectorLayer(f'{path}|layername=sites|geometrytype={geom}',
                         tr('Sites') if kind == 'points' else tr('Site areas'), 'ogr')
    if not lyr.isValid():
        return None
    lyr.setCustomProperty('cargowatch/overlay', 'sites_' + kind)
    if kind == 'points':
        lyr.setRenderer(QgsSingleSymbolRenderer(QgsMarkerSymbol.createSimple(
            {'name': 'star', 'color': '#ffb300', 'outline_color': '#5d4037', 'outline_width': '0.35', 'size': '5'})))
    else:
        lyr.setRenderer(QgsSingleSymbolRenderer(QgsFillSymbol.createSimple(
            {'color': '255,179,0,50', 'outline_color': '#e65100', 'outline_width': '0.6', 'outline_style': 'dash'})))
    lyr.setLabeling(_labeling(SITE_LABEL, label_placement('AroundPoint'), 8.5, '#3e2723', True,
                              dist=2 if kind == 'points' else 1, priority=10))
    lyr.setLabelsEnabled(True)
    return lyr


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



def _window(cols, t0, t1):
    """The columns within [t0, t1] (None: open end) and the range used."""
    t = cols['t']
    lo = t.min() if t0 is None else t0
    hi = t.max() if t1 is None else t1
    if not len(t):
        return cols, lo, hi
    mask = (t >= lo) & (t <= hi)
    return (cols if mask.all() else take(cols, mask)), lo, hi


CHUNK_STEPS = [60, 300, 600, 900, 1800, 3600, 2 * 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400]


def chunk_length(span_s, vessels):
    """Seconds per animation step: about 60 steps over the range, rounded to a friendly duration (fewer steps
    for big fleets: at most ~9,000 pieces in all, each a track line and a ship marker, ~25 us to build; at
    least 8 steps)."""
    n_steps = int(np.clip(9000 / max(1, vessels), 8, 60))
    return next((s for s in CHUNK_STEPS if span_s / s <= n_steps), 86400)


class _Pieces:
    """Where tracks break: at vessel changes, dark periods (seg) and chunk boundaries. starts/ends (exclusive)
    index the pieces; next_same tells a piece that the next one continues the same segment."""

    def __init__(self, sub, min_gap_s, chunk_s):
        mmsi, tt = sub['mmsi'], sub['t']
        n = len(mmsi)
        self.seg = segment_ids(mmsi, tt, min_gap_s)
        chunk = (tt - (tt.min() if n else 0)) // chunk_s
        brk = np.ones(n, dtype=bool)
        if n > 1:
            brk[1:] = (self.seg[1:] != self.seg[:-1]) | (chunk[1:] != chunk[:-1])
        self.starts = np.flatnonzero(brk)
        self.ends = np.r_[self.starts[1:], n]
        self.next_same = np.zeros(len(self.starts), dtype=bool)
        if len(self.starts) > 1:
            self.next_same[:-1] = self.seg[self.ends[:-1]] == self.seg[self.starts[:-1]]


def _course(sub, ci):
    """Course at the ship markers ``ci``: the reported COG, else the bearing from the vessel's previous position."""
    mmsi, lon, lat = sub['mmsi'], sub['lon'], sub['lat']
    course = sub['cog'][ci].astype(np.float64)
    prev = np.maximum(ci - 1, 0)
    dx = (lon[ci] - lon[prev]) * np.cos(np.radians(lat[ci]))
    brg = (np.degrees(np.arctan2(dx, lat[ci] - lat[prev])) + 360) % 360
    brg[(ci == 0) | (mmsi[prev] != mmsi[ci])] = np.nan
    return np.where(np.isfinite(course), course, brg)


def _finite(a):
    """Values for attributes: NaN becomes NULL."""
    return [x if math.isfinite(x) else None for x in np.asarray(a, dtype=np.float64).tolist()]


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
        maker = SYMBOLS[key]
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
        self._adopt(data)
        sub, lo, hi = _window(data.cols, t0, t1)
        n = len(sub['mmsi'])
        vessels = int(np.count_nonzero(np.diff(sub['mmsi'])) + 1) if n else 0
        self.chunk_s = chunk_length(int(sub['t'].max() - sub['t'].min()) if n else 0, vessels)
        t_read = time.perf_counter()
        pieces = _Pieces(sub, min_gap_s, self.chunk_s)
        feats = {'tracks': self._tracks(sub, pieces), 'ships': self._ships(sub, pieces),
                 'gaps': self._gaps(sub, min_gap_s), 'calls': self._calls(sub, sites, min_stay_s, min_gap_s),
                 'positions': self._positions(sub) if show_positions else []}
        t_build = time.perf_counter()
        self._fill(feats, data.v_mmsi, show_positions)
        self.extent_range = (int(lo), int(hi))
        toc = time.perf_counter()
        out = {'positions': n, 'vessels': vessels, 'gaps': len(feats['gaps']), 'calls': len(feats['calls']),
               'tracks': len(feats['tracks']), 'ships': len(feats['ships']), 'chunk_s': self.chunk_s,
               'seconds_filter': t_read - tic, 'seconds_features': t_build - t_read, 'seconds_layers': toc - t_build,
               'seconds': toc - tic}
        if show_positions and n:
            out['positions_shown'] = len(feats['positions'])
        self.stats = out
        return out

    def _adopt(self, data):
        """New data: renderers are rebuilt (their categories are its vessels); names and colours known."""
        if data is not self._data:
            self._data = data
            self._generation += 1
        self.names = {int(m): n for m, n in zip(data.v_mmsi.tolist(), data.v_name)}
        for m in data.v_mmsi.tolist():
            self.colors.setdefault(int(m), QColor('#555555'))

    def _names(self, mmsis):
        return [self.names.get(m, '') for m in mmsis.tolist()]

    def _tracks(self, sub, p):
        """One line per vessel, track segment and time chunk (breaks at dark periods), running on to the
        first position of the next chunk of the same segment."""
        mmsi, tt, seg = sub['mmsi'], sub['t'], p.seg
        vlen = p.ends - p.starts + p.next_same.astype(np.int64)
        is_line = vlen >= 2
        s_l, v_l = p.starts[is_line], vlen[is_line]
        rows = zip(mmsi[s_l].tolist(), self._names(mmsi[s_l]), tt[s_l].tolist(), tt[s_l + v_l - 1].tolist(),
                   v_l.tolist(), seg[s_l].tolist())
        return _features(self._ensure('tracks').fields(), _line_wkb(sub['lon'], sub['lat'], s_l, v_l), rows)

    def _ships(self, sub, p):
        """The last position of each chunk, shown from the chunk's start to the next chunk's start, pointing along
        its course; is_last marks the vessel's very last one (labelled)."""
        mmsi, tt, n = sub['mmsi'], sub['t'], len(sub['mmsi'])
        ci = p.ends - 1
        c_end_t = np.where(p.next_same, tt[np.minimum(p.ends, n - 1)] if n else p.ends, tt[ci] if n else p.ends)
        is_last = np.zeros(len(p.starts), dtype=np.int64)
        if len(p.starts):
            is_last[np.r_[mmsi[p.starts[1:]] != mmsi[p.starts[:-1]], True]] = 1
        rows = zip(mmsi[ci].tolist(), self._names(mmsi[ci]), tt[ci].tolist(), _finite(sub['sog'][ci]),
                   _finite(_course(sub, ci)), _finite(sub['heading'][ci]), is_last.tolist(), tt[p.starts].tolist(),
                   c_end_t.tolist())
        return _features(self._ensure('ships').fields(), _point_wkb(sub['lon'][ci], sub['lat'][ci]), rows)

    def _gaps(self, sub, min_gap_s):
        """Dark periods: a line from the last fix to the reappearance, labelled with its duration."""
        mmsi, tt, lon, lat = sub['mmsi'], sub['t'], sub['lon'], sub['lat']
        gaps = find_gaps(mmsi, tt, lon, lat, min_gap_s)
        i0, i1 = gaps['i0'], gaps['i1']
        wkbs = _line_wkb(np.c_[lon[i0], lon[i1]].ravel(), np.c_[lat[i0], lat[i1]].ravel(),
                         np.arange(len(i0)) * 2, np.full(len(i0), 2, dtype=np.int64)) if len(i0) else []
        rows = zip(mmsi[i0].tolist(), self._names(mmsi[i0]), tt[i0].tolist(), tt[i1].tolist(),
                   gaps['hours'].tolist(), gaps['distance_nm'].tolist(), gaps['implied_speed_kn'].tolist(),
                   (duration_text(h) for h in gaps['hours'].tolist()))
        return _features(self._ensure('gaps').fields(), wkbs, rows)

    def _calls(self, sub, sites, min_stay_s, min_gap_s):
        """Port calls at the sites (dicts of name and polygon parts), at the mean position of the stay."""
        mmsi, tt, lon, lat = sub['mmsi'], sub['t'], sub['lon'], sub['lat']
        if not sites or not len(mmsi):
            return []
        site_idx = site_index_of_points(lon, lat, [s['parts'] for s in sites])
        calls = port_calls(mmsi, tt, site_idx, min_stay_s, split_gap_s=min_gap_s)
        if not len(calls['mmsi']):
            return []
        a, b = calls['i0'], calls['i1'] + 1
        csum_x, csum_y = np.r_[0, np.cumsum(lon)], np.r_[0, np.cumsum(lat)]
        cx, cy = (csum_x[b] - csum_x[a]) / (b - a), (csum_y[b] - csum_y[a]) / (b - a)
        rows = zip(calls['mmsi'].tolist(), self._names(calls['mmsi']),
                   (sites[s]['name'] for s in calls['site'].tolist()), calls['arrive'].tolist(),
                   calls['depart'].tolist(), ((calls['depart'] - calls['arrive']) / 3600.0).tolist(),
                   calls['points'].tolist())
        return _features(self._ensure('calls').fields(), _point_wkb(cx, cy), rows)

    def _positions(self, sub):
        """The positions of the shown vessels (thinned to screen cells past MAX_POSITIONS)."""
        if not len(sub['mmsi']):
            return []
        sel = thin_positions(sub['lon'], sub['lat'], sub['mmsi'], self.hidden)
        rows = zip(sub['mmsi'][sel].tolist(), sub['t'][sel].tolist(), _finite(sub['sog'][sel]),
                   _finite(sub['cog'][sel]), _finite(sub['heading'][sel]))
        return _features(self._ensure('positions').fields(), _point_wkb(sub['lon'][sel], sub['lat'][sel]), rows)

    def _fill(self, feats, vessel_ids, show_positions):
        """Replace each layer's features; a new renderer only for new data; no positions layer unless asked."""
        for key, fs in feats.items():
            if self.layer(key) is None and not fs:
                continue
            if key == 'positions' and not show_positions:
                self.remove_layer('positions')
                continue
            lyr = self._ensure(key)
            pr = lyr.dataProvider()
            pr.truncate()
            pr.addFeatures(fs, Q.FAST_INSERT)
            lyr.updateExtents()
            if lyr.customProperty('cargowatch/renderer') != self._generation:
                lyr.setRenderer(self._renderer(key, vessel_ids))
                lyr.setCustomProperty('cargowatch/renderer', self._generation)
            lyr.triggerRepaint()

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
                r.updateCategorySymbol(i, SYMBOLS[key](QColor(color)))
                lyr.triggerRepaint()

    def remove_layer(self, key):
        lid = self.layer_ids.pop(key, None)
        if lid and self.project.mapLayer(lid) is not None:
            self.project.removeMapLayer(lid)

    def temporal_range(self):
        lo, hi = getattr(self, 'extent_range', (0, 0))
        return QgsDateTimeRange(utc_datetime(lo), utc_datetime(hi))

    def frame_interval(self):
        return QgsInterval(self.chunk_s)

    def remove_all(self, remove_group=True):
        for key in list(self.layer_ids):
            self.remove_layer(key)
        if remove_group:
            g = self.group(create=False)
            if g is not None and not g.children():
                g.parent().removeChildNode(g)
