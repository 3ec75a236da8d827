"""Which dark vessel was that? A map tool of the dock: click a ship in a raster, give the time (from the raster's
metadata when it has one), and core.sightings matches it against the positions loaded in the dock; the candidates
are listed in the dock's details and their dark tracks (last fix -> the ship -> next fix) drawn as rubber bands."""
import os

import numpy as np
from qgis.core import QgsPointXY, QgsProject, QgsRasterLayer, QgsRectangle
from qgis.gui import QgsDateTimeEdit, QgsRubberBand
from qgis.PyQt.QtCore import Qt
from qgis.PyQt.QtGui import QColor, QFont
from qgis.PyQt.QtWidgets import (QAbstractItemView, QDialog, QDialogButtonBox, QHeaderView, QLabel, QTableWidget,
                                 QTableWidgetItem, QVBoxLayout)

from ..compat import Q
from ..core import ais, sightings
from ..layers.ais import utc_datetime
from .map_tools import _Tool
from .panels.vessels import fmt_t

# GDAL metadata items that date an image (first found wins); TIFF's own is 'YYYY:MM:DD HH:MM:SS'
TIME_KEYS = ('ACQUISITION_DATETIME', 'ACQUISITIONDATETIME', 'IMAGING_DATETIME', 'DATETIME', 'TIFFTAG_DATETIME',
             'ACQUISITION_DATE', 'IMAGING_DATE')
BEST, OTHER, SEEN = QColor('#d50000'), QColor('#ff9100'), QColor('#2962ff')


def parse_image_time(text):
    """Unix seconds from an image's date text (ISO 8601 or TIFF's 'YYYY:MM:DD HH:MM:SS'), None if unreadable."""
    text = (text or '').strip()
    if len(text) >= 10 and text[4] == ':' and text[7] == ':':
        text = text[:4] + '-' + text[5:7] + '-' + text[8:]
    ms, ok = ais.times_ms(np.array([text]))
    return int(ms[0] // 1000) if ok[0] else None


def raster_time(layer):
    """When the raster was taken: its fixed temporal range when set, else a date in its GDAL metadata; or None."""
    props = layer.temporalProperties()
    if props is not None and props.isActive():
        begin = props.fixedTemporalRange().begin()
        if begin.isValid():
            return begin.toSecsSinceEpoch()
    path = layer.source().split('|')[0]
    if not os.path.isfile(path):
        return None
    from osgeo import gdal
    ds = gdal.Open(path)
    if ds is None:
        return None
    items = {k.upper(): v for dom in (None, 'IMAGERY') for k, v in (ds.GetMetadata(dom) or {}).items()}
    for key in TIME_KEYS:
        t = parse_image_time(items.get(key))
        if t is not None:
            return t
    return None


def ask_time(default_t, parent=None):
    """A small dialog for the sighting's time (UTC); unix seconds or None when cancelled."""
    dlg = QDialog(parent)
    dlg.setWindowTitle('Which dark vessel was that?')
    lay = QVBoxLayout(dlg)
    lay.addWidget(QLabel('When was the image taken (UTC)?'))
    edit = QgsDateTimeEdit()
    edit.setDisplayFormat('yyyy-MM-dd HH:mm')
    edit.setTimeSpec(Qt.TimeSpec.UTC)
    edit.setAllowNull(False)
    edit.setDateTime(utc_datetime(int(default_t)))
    lay.addWidget(edit)
    box = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
    box.accepted.connect(dlg.accept)
    box.rejected.connect(dlg.reject)
    lay.addWidget(box)
    if dlg.exec() != QDialog.DialogCode.Accepted:
        return None
    return edit.dateTime().toSecsSinceEpoch()


class MatchTool(_Tool):
    """Click a ship: the vessels that AIS allows there at that time (dock.data), best first."""

    def __init__(self, dock):
        super().__init__(dock.canvas)
        self.dock = dock
        self.ask_time = lambda default: ask_time(default, dock)  # tests answer without a dialog
        self.bands = []
        self.result = None
        self.panel = None

    def canvasReleaseEvent(self, event):  # noqa: N802
        if event.button() == Qt.MouseButton.LeftButton:
            p = self.event_lonlat(event)
            self.match_at(p.x(), p.y(), self.toMapCoordinates(event.pos()))

    def image_time_at(self, map_point):
        """The date of the topmost visible raster under the click, or None."""
        root = QgsProject.instance().layerTreeRoot()
        for node in root.findLayers():
            lyr = node.layer()
            if (isinstance(lyr, QgsRasterLayer) and node.isVisible() and lyr in self.canvas.layers()
                    and self.canvas.mapSettings().layerExtentToOutputExtent(lyr, lyr.extent()).contains(
                        QgsPointXY(map_point))):
                t = raster_time(lyr)
                if t is not None:
                    return t
        return None

    def match_at(self, lon, lat, map_point=None):
        """Ask the time, match the sighting at lon/lat, list and draw the candidates. Returns the core result."""
        d = self.dock
        if d.data is None or len(d.data) == 0:
            d.message('Load an AIS layer first: the ship is matched against its positions.', 'Warning')
            return None
        t_img = self.image_time_at(map_point) if map_point is not None else None
        t = self.ask_time(t_img if t_img is not None else d.time_range()[1])
        if t is None:
            return None
        res = sightings.match_sightings([lon], [lat], [int(t)], d.data.cols,
                                        min_gap_s=d.gap_hours.value() * 3600.0)
        self.result = res
        self.show(res, lon, lat, t)
        return res

    def show(self, res, lon, lat, t):
        d = self.dock
        self.clear_bands()
        xf = self._xform(reverse=True)
        c = d.data.cols
        here = xf.transform(QgsPointXY(lon, lat))
        for i in np.flatnonzero(np.isin(res['status'], ('dark', 'visible')))[::-1]:  # the best drawn on top
            a, b = int(res['i0'][i]), int(res['i1'][i])
            band = QgsRubberBand(self.canvas, Q.LINE_GEOMETRY)
            band.setColor(BEST if res['best'][i] else (OTHER if res['status'][i] == 'dark' else SEEN))
            band.setWidth(4 if res['best'][i] else 2)
            band.setLineStyle(Qt.PenStyle.DashLine if res['status'][i] == 'dark' else Qt.PenStyle.SolidLine)
            for k, p in enumerate((xf.transform(QgsPointXY(c['lon'][a], c['lat'][a])), here,
                                   xf.transform(QgsPointXY(c['lon'][b], c['lat'][b])))):
                band.addPoint(p, k == 2)
            self.bands.append(band)
        pin = QgsRubberBand(self.canvas, Q.POINT_GEOMETRY)
        pin.setColor(BEST)
        pin.setIconSize(14)
        pin.addPoint(here)
        self.bands.append(pin)
        when = fmt_t(t)
        n = int(np.isin(res['status'], ('dark', 'visible')).sum())
        title = '{} candidate{} for the ship at {:.4f}°, {:.4f}° · {} UTC'.format(n, '' if n == 1 else 's', lat,
                                                                                lon, when)
        d.details.setText('<b>{}</b>{}'.format(title, '' if n else '<br>' + str(res['reason'][0])))
        if self.panel is None:
            self.panel = CandidatesPanel(d)
        self.panel.fill(title, res, d.data.vessel_label)
        self.panel.show()
        d.message(title, 'Info', 4)
        self.canvas.refresh()

    def extent(self):
        """Map extent of what was drawn (to zoom on it), or None."""
        rect = QgsRectangle()
        for b in self.bands:
            rect.combineExtentWith(b.asGeometry().boundingBox())
        return None if rect.isEmpty() else rect

    def clear_bands(self):
        for b in self.bands:
            self.canvas.scene().removeItem(b)
        self.bands = []

    def clean(self):
        self.clear_bands()
        if self.panel is not None:
            self.panel.close()


class CandidatesPanel(QDialog):
    """The candidates of the last click, best first; selecting a row selects the vessel in the dock."""
    COLUMNS = ('Vessel', 'MMSI', 'Status', 'Slack h', 'Detour nm', 'Score', 'Why')

    def __init__(self, dock):
        super().__init__(dock)
        self.dock = dock
        self.setWindowTitle('Which dark vessel was that?')
        self.resize(760, 260)
        lay = QVBoxLayout(self)
        self.title = QLabel()
        self.title.setWordWrap(True)
        lay.addWidget(self.title)
        self.table = QTableWidget(0, len(self.COLUMNS))
        self.table.setHorizontalHeaderLabels(self.COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setSectionResizeMode(len(self.COLUMNS) - 1, QHeaderView.ResizeMode.Stretch)
        self.table.itemSelectionChanged.connect(self._select)
        lay.addWidget(self.table)
        self.mmsi = []

    def fill(self, title, res, label):
        self.title.setText('<b>{}</b>'.format(title))
        listed = np.flatnonzero(res['mmsi'] >= 0)
        self.mmsi = [int(res['mmsi'][i]) for i in listed]
        self.table.setRowCount(len(listed))
        for r, i in enumerate(listed):
            def num(v, fmt):
                return fmt.format(v) if np.isfinite(v) else ''
            cells = (label(res['mmsi'][i]), str(res['mmsi'][i]), str(res['status'][i]),
                     num(res['slack_h'][i], '{:.1f}'), num(res['detour_nm'][i], '{:.0f}'),
                     '{:.2f}'.format(res['score'][i]), str(res['reason'][i]))
            colour = BEST if res['best'][i] else (QColor('#9e9e9e') if res['status'][i] == 'excluded' else None)
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if colour is not None:
                    item.setForeground(colour)
                if res['best'][i]:
                    f = QFont(item.font())
                    f.setBold(True)
                    item.setFont(f)
                self.table.setItem(r, col, item)

    def _select(self):
        rows = {ix.row() for ix in self.table.selectedIndexes()}
        if len(rows) == 1:
            self.dock.select_vessel(self.mmsi[rows.pop()])
