"""The Ships tab: which AIS layer, which time range, what counts as a dark period, the vessel list (search,
show/hide, colours, zoom) and the details of the selected vessel. It owns the loaded AIS data (``data``);
reading the layer and drawing the overlay are the dock's."""

import numpy as np
from qgis.core import QgsCoordinateTransform, QgsRectangle
from qgis.gui import QgsColorDialog, QgsDateTimeEdit, QgsFilterLineEdit, QgsMapLayerComboBox
from qgis.PyQt.QtCore import Qt, pyqtSignal
from qgis.PyQt.QtGui import QColor
from qgis.PyQt.QtWidgets import (QAbstractItemView, QCheckBox, QDoubleSpinBox, QHBoxLayout, QHeaderView, QLabel,
                                 QMenu, QProgressBar, QSplitter, QTableView, QVBoxLayout, QWidget)

from ...compat import qenum, wgs84
from ...core.ais.defaults import DEFAULTS
from ...layers.ais import utc_datetime
from ..overlay import vessel_colors
from . import button, tr
from .vessels import VesselFilter, VesselModel, fmt_t



class ShipsPanel(QWidget):
    """Vessel list, time range and details. ``settingsChanged``: the time range, the dark-period threshold or
    the positions switch changed (the dock redraws)."""
    settingsChanged = pyqtSignal()

    def __init__(self, overlay, canvas, project, host, parent=None):
        super().__init__(parent)
        self.overlay, self.canvas, self.project, self.host = overlay, canvas, project, host
        self.data = None
        self._picked = None  # (mmsi, index) of the position picked on the map
        lay = QVBoxLayout(self)
        lay.addLayout(self._layer_row())
        lay.addWidget(self._progress_row())
        lay.addLayout(self._time_row())
        lay.addLayout(self._threshold_row())
        lay.addLayout(self._list_buttons())
        self._build_table()
        self.details = QLabel(tr('Load an AIS layer or import a file to see ship tracks.'))
        self.details.setWordWrap(True)
        self.details.setMinimumHeight(self.details.fontMetrics().lineSpacing() * 4 + 12)
        self.details.setTextFormat(Qt.TextFormat.RichText)
        self.details.setStyleSheet('QLabel { background: #f4f6f8; border: 1px solid #d8dde3; border-radius: 3px;'
                                   ' padding: 5px; }')
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.table)
        split.addWidget(self.details)
        split.setStretchFactor(0, 4)
        split.setStretchFactor(1, 1)
        lay.addWidget(split, 1)
        self.status = QLabel('')
        self.status.setStyleSheet('color: #555;')
        lay.addWidget(self.status)

    # --- widgets -----------------------------------------------------------------------------------

    def _layer_row(self):
        row = QHBoxLayout()
        self.layer_combo = QgsMapLayerComboBox()
        self.layer_combo.setFilters(qenum('Qgis.LayerFilter.PointLayer', 'QgsMapLayerProxyModel.PointLayer'))
        self.layer_combo.setAllowEmptyLayer(True)
        self.layer_combo.setToolTip(tr('AIS positions: a point layer with mmsi and time fields'))
        row.addWidget(QLabel(tr('AIS layer')))
        row.addWidget(self.layer_combo, 1)
        self.load_btn = button(tr('Show'), tr('Read the layer and draw its tracks'))
        self.import_btn = button(tr('Import…'), tr('Import an AIS file (NMEA, CSV, JSON) in the background '
                                                  'with cargowatch:importais'))
        row.addWidget(self.load_btn)
        row.addWidget(self.import_btn)
        return row

    def _progress_row(self):
        row = QHBoxLayout()
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.cancel_btn = button(tr('Cancel'), tr('Stop the import or the reading'))
        row.addWidget(self.progress, 1)
        row.addWidget(self.cancel_btn)
        self.progress_row = QWidget()
        self.progress_row.setLayout(row)
        self.progress_row.setVisible(False)
        return self.progress_row

    def _time_row(self):
        row = QHBoxLayout()
        self.t_from = QgsDateTimeEdit()
        self.t_to = QgsDateTimeEdit()
        for e in (self.t_from, self.t_to):
            e.setDisplayFormat('yyyy-MM-dd HH:mm')
            e.setTimeSpec(Qt.TimeSpec.UTC)
            e.setAllowNull(False)
            e.setCalendarPopup(True)
            e.dateTimeChanged.connect(self.settingsChanged)
        row.addWidget(QLabel(tr('UTC from')))
        row.addWidget(self.t_from, 1)
        row.addWidget(QLabel(tr('to')))
        row.addWidget(self.t_to, 1)
        self.full_range_btn = button(tr('All'), tr('The whole time range of the layer'), self.reset_time)
        row.addWidget(self.full_range_btn)
        return row

    def _threshold_row(self):
        row = QHBoxLayout()
        row.addWidget(QLabel(tr('Dark period ≥')))
        self.gap_hours = QDoubleSpinBox()
        self.gap_hours.setRange(0.05, 720)
        self.gap_hours.setDecimals(2)
        self.gap_hours.setValue(DEFAULTS.gap_s / 3600)
        self.gap_hours.setSuffix(' h')
        self.gap_hours.setToolTip(tr('Time without positions that counts as a dark period (also breaks tracks)'))
        self.gap_hours.valueChanged.connect(self.settingsChanged)
        row.addWidget(self.gap_hours)
        self.show_positions = QCheckBox(tr('Positions'))
        self.show_positions.setToolTip(tr('Also draw every position (thinned past 300,000)'))
        self.show_positions.toggled.connect(self.settingsChanged)
        row.addWidget(self.show_positions)
        row.addStretch(1)
        return row

    def _list_buttons(self):
        row = QHBoxLayout()
        self.search = QgsFilterLineEdit()
        self.search.setPlaceholderText(tr('Search name, MMSI or IMO'))
        self.search.textChanged.connect(lambda text: self.proxy.setFilterFixedString(text))
        row.addWidget(self.search, 1)
        self.all_btn = button(tr('All'), tr('Show every listed vessel'), lambda: self.set_listed_visible(True))
        self.none_btn = button(tr('None'), tr('Hide every listed vessel'), lambda: self.set_listed_visible(False))
        self.zoom_btn = button(tr('Zoom'), tr('Zoom to the selected vessels'), self.zoom_to_selected)
        self.pick_btn = button(tr('Pick'), tr('Click a ship on the map to select it'), checkable=True)
        self.match_btn = button(tr('Match'), tr('Click a ship in an image: which vessels could it be, dark '
                                                'or visible on AIS then?'), checkable=True)
        for b in (self.all_btn, self.none_btn, self.zoom_btn, self.pick_btn, self.match_btn):
            row.addWidget(b)
        return row

    def _build_table(self):
        self.model = VesselModel(self)
        self.model.visibilityChanged.connect(lambda: self.overlay.set_hidden(self.model.hidden))
        self.proxy = VesselFilter(self)
        self.proxy.setSourceModel(self.model)
        self.table = t = QTableView()
        t.setModel(self.proxy)
        t.setSortingEnabled(True)
        t.sortByColumn(3, Qt.SortOrder.DescendingOrder)
        t.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        t.setAlternatingRowColors(True)
        t.verticalHeader().setVisible(False)
        t.verticalHeader().setDefaultSectionSize(22)
        t.horizontalHeader().setStretchLastSection(True)
        # fixed widths: ResizeToContents would scan every row at each selection change
        t.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        t.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        t.doubleClicked.connect(lambda _i: self.zoom_to_selected())
        t.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        t.customContextMenuRequested.connect(self._vessel_menu)
        t.selectionModel().selectionChanged.connect(self._selection_changed)

    # --- data and time range -----------------------------------------------------------------------

    def set_data(self, data):
        """Show newly read AIS data: colours (most positions first get the clearest), list, full time range."""
        self.data = data
        order = np.argsort(-data.v_count, kind='stable')
        self.overlay.colors = vessel_colors(data.v_mmsi[order])
        self.overlay.hidden = set()
        self.model.set_data(data, self.overlay.colors)
        self.table.setColumnHidden(2, not any(data.v_imo))
        fm = self.table.fontMetrics()
        for c, sample in ((1, '000000000 '), (2, '0000000 '), (3, '000,000 '), (4, '00-00 00:00  '),
                          (5, '00-00 00:00  ')):
            self.table.setColumnWidth(c, max(fm.horizontalAdvance(sample) + 14, fm.horizontalAdvance(
                self.model.headerData(c, Qt.Orientation.Horizontal)) + 30))  # cell margins, sort arrow
        for e in (self.t_from, self.t_to):
            e.blockSignals(True)
        self.reset_time()
        for e in (self.t_from, self.t_to):
            e.blockSignals(False)
        self._picked = None
        self.details.setText(tr('<b>{}</b>: {:,} vessels, {:,} positions. Select a vessel in the list, or press '
                                '<i>Pick</i> and click a ship on the map.').format(
            data.source_name, data.n_vessels, len(data)))

    def reset_time(self):
        if self.data is None:
            return
        lo, hi = self.data.time_range()
        self.t_from.setDateTime(utc_datetime(lo))
        self.t_to.setDateTime(utc_datetime(hi + 60))  # the editors show minutes: include the last position

    def time_range(self):
        return self.t_from.dateTime().toSecsSinceEpoch(), self.t_to.dateTime().toSecsSinceEpoch()

    def show_progress(self, text):
        """A progress bar with text (a format with %p%), or none (None)."""
        self.progress_row.setVisible(text is not None)
        if text is not None:
            self.progress.setValue(0)
            self.progress.setFormat(text)
        self.load_btn.setEnabled(text is None)
        self.import_btn.setEnabled(text is None)

    def show_stats(self, stats):
        self.status.setText(tr('{v:,} vessels · {p:,} positions · {g:,} dark periods · {c:,} port calls · '
                               'drawn in {s:.2f} s').format(v=stats['vessels'], p=stats['positions'],
                                                           g=stats['gaps'], c=stats['calls'], s=stats['seconds']))

    # --- the vessel list ---------------------------------------------------------------------------

    def _vessel_menu(self, pos):
        sel = self.selected_mmsi()
        if not sel:
            return
        menu = QMenu(self)
        menu.addAction(tr('Zoom to vessel'), self.zoom_to_selected)
        menu.addAction(tr('Show only this vessel') if len(sel) == 1 else tr('Show only these vessels'),
                       lambda: self.show_only(sel))
        if len(sel) == 1:
            menu.addAction(tr('Change colour…'), lambda: self._choose_color(sel[0]))
        menu.exec(self.table.viewport().mapToGlobal(pos))

    def show_only(self, mmsis):
        keep = {int(m) for m in mmsis}
        self.model.hidden = {int(m) for m in self.data.v_mmsi if int(m) not in keep}
        self.model.set_visible([], True)

    def _choose_color(self, mmsi):
        color = QgsColorDialog.getColor(self.overlay.colors.get(mmsi, QColor('#555555')), self,
                                        tr('Colour of {}').format(self.data.vessel_label(mmsi)))
        if color.isValid():
            self.set_vessel_color(mmsi, color)

    def set_vessel_color(self, mmsi, color):
        self.overlay.set_color(mmsi, QColor(color))
        self.model.recolor(mmsi)

    def listed_mmsi(self):
        return [self.model.mmsi(self.proxy.mapToSource(self.proxy.index(r, 0)).row())
                for r in range(self.proxy.rowCount())]

    def set_listed_visible(self, visible):
        self.model.set_visible(self.listed_mmsi(), visible)

    def selected_mmsi(self):
        rows = {self.proxy.mapToSource(i).row() for i in self.table.selectionModel().selectedRows()}
        return [self.model.mmsi(r) for r in sorted(rows)]

    def select_vessel(self, mmsi):
        row = self.data.row_of.get(int(mmsi)) if self.data is not None else None
        if row is None:
            return False
        if self.search.text():
            self.search.clear()
        idx = self.proxy.mapFromSource(self.model.index(row, 0))
        self.table.selectRow(idx.row())
        self.table.scrollTo(idx)
        return True

    def _selection_changed(self, *_):
        sel = self.selected_mmsi()
        if len(sel) == 1 and (self._picked is None or self._picked[0] != sel[0]):
            self._picked = None
            self.details.setText(self._vessel_html(sel[0]))

    def _vessel_html(self, mmsi, idx=None):
        d = self.data
        r = d.row_of[int(mmsi)]
        name = d.v_name[r] or tr('(no name)')
        color = self.overlay.colors.get(int(mmsi), QColor('#555')).name()
        html = (f'<b style="color:{color}">■</b> <b>{name}</b> &nbsp; MMSI {mmsi}'
                + (f' &nbsp; IMO {d.v_imo[r]}' if d.v_imo[r] else '')
                + f'<br>{int(d.v_count[r]):,} ' + tr('positions') + f', {fmt_t(d.v_first[r])} → '
                + f'{fmt_t(d.v_last[r])} UTC')
        if idx is not None:
            c = d.cols
            sog, cog, hdg = (float(c[k][idx]) for k in ('sog', 'cog', 'heading'))
            html += ('<br><b>' + tr('At') + f' {fmt_t(c["t"][idx])} UTC</b>: '
                     + f'{c["lat"][idx]:.5f}°, {c["lon"][idx]:.5f}° · '
                     + (tr('speed {:.1f} kn').format(sog) if np.isfinite(sog) else tr('speed n/a')) + ' · '
                     + (tr('course {:.0f}°').format(cog) if np.isfinite(cog) else tr('course n/a'))
                     + (' · ' + tr('heading {:.0f}°').format(hdg) if np.isfinite(hdg) else ''))
        return html

    def pick_at(self, lon, lat, box=None):
        """Select the visible vessel nearest to lon/lat (within box, a QgsRectangle in lon/lat) in the list
        and show its details at that position. Returns the mmsi or None."""
        if self.data is None:
            return None
        c = self.data.cols
        t0, t1 = self.time_range()
        m = (c['t'] >= t0) & (c['t'] <= t1)
        if box is not None:
            m &= ((c['lon'] >= box.xMinimum()) & (c['lon'] <= box.xMaximum()) & (c['lat'] >= box.yMinimum())
                  & (c['lat'] <= box.yMaximum()))
        idx = np.flatnonzero(m)
        if self.model.hidden and len(idx):
            idx = idx[~np.isin(c['mmsi'][idx], np.fromiter(self.model.hidden, dtype=np.int64))]
        if len(idx) == 0:
            return None
        d2 = ((c['lon'][idx] - lon) * np.cos(np.radians(lat))) ** 2 + (c['lat'][idx] - lat) ** 2
        best = int(idx[np.argmin(d2)])
        mmsi = int(c['mmsi'][best])
        self._picked = (mmsi, best)
        self.select_vessel(mmsi)
        self.details.setText(self._vessel_html(mmsi, best))
        return mmsi

    # --- zoom --------------------------------------------------------------------------------------

    def _vessel_extent(self, mmsis):
        c = self.data.cols
        t0, t1 = self.time_range()
        sel = np.zeros(len(c['mmsi']), dtype=bool)
        for m in mmsis:
            r = self.data.row_of[int(m)]
            sel[self.data.v_start[r]:self.data.v_end[r]] = True
        sel &= (c['t'] >= t0) & (c['t'] <= t1)
        if not sel.any():
            return None
        return QgsRectangle(c['lon'][sel].min(), c['lat'][sel].min(), c['lon'][sel].max(), c['lat'][sel].max())

    def _zoom(self, rect):
        if rect is None:
            return
        xf = QgsCoordinateTransform(wgs84(), self.canvas.mapSettings().destinationCrs(), self.project)
        r = xf.transformBoundingBox(rect)
        pad = max(r.width(), r.height()) * 0.08 or 500.0
        self.canvas.setExtent(r.buffered(pad))
        self.canvas.refresh()

    def zoom_to_selected(self):
        sel = self.selected_mmsi()
        if not sel:
            self.host.message(tr('Select a vessel in the list first.'), 'Info', 3)
            return
        self._zoom(self._vessel_extent(sel))

    def zoom_to_data(self):
        if self.data is not None:
            visible = [int(m) for m in self.data.v_mmsi if int(m) not in self.model.hidden]
            self._zoom(self._vessel_extent(visible))
