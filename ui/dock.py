"""The CargoWatch dock: ship tracks, dark periods and site annotations on the map canvas."""

import datetime as _dt
import os
import time

import numpy as np
from qgis.core import (QgsApplication, QgsCoordinateTransform, QgsFillSymbol, QgsGeometry, QgsMarkerSymbol,
                       QgsProcessingAlgRunnerTask, QgsProcessingContext, QgsProcessingFeedback, QgsProject,
                       QgsRectangle, QgsSingleSymbolRenderer, QgsTask, QgsTemporalNavigationObject, QgsVectorLayer)
from qgis.gui import QgsColorDialog, QgsDateTimeEdit, QgsDockWidget, QgsFileWidget, QgsFilterLineEdit, QgsMapLayerComboBox
from qgis.PyQt.QtCore import (QAbstractTableModel, QCoreApplication, QDateTime, QModelIndex,
                              QSortFilterProxyModel, Qt, QTimer, pyqtSignal)
from qgis.PyQt.QtGui import QColor, QIcon, QPixmap
from qgis.PyQt.QtWidgets import (QAbstractItemView, QCheckBox, QDoubleSpinBox, QFileDialog, QHBoxLayout,
                                 QHeaderView, QLabel, QMenu, QMessageBox, QProgressBar, QPushButton, QSplitter,
                                 QTableView, QTableWidget, QTableWidgetItem, QTabWidget, QToolButton, QVBoxLayout,
                                 QWidget)

from . import run_results
from ..core.errors import Cancelled
from ..core.ais.defaults import DEFAULTS
from ..layers.ais import AisLayerError, LayerReader
from .chart import SiteChart
from ..compat import qenum
from .compat import GEOM_POINT, GEOM_POLYGON, wgs84
from .map_tools import MoveTool, PickTool, PointTool, PolygonTool
from .match_tool import MatchTool
from .overlay import Overlay, _labeling, label_placement, vessel_colors
from .site_form import ObservationForm, SiteForm
from .site_store import SiteStore, SiteStoreError

SITE_RADIUS_M = 1500.0  # a point site counts positions within this radius for port calls
LEVEL = {k: qenum('Qgis.MessageLevel.' + k, 'Qgis.' + k) for k in ('Info', 'Warning', 'Critical', 'Success')}
SITE_LABEL = (
    "\"name\" || if(\"last_date\" IS NULL, '', '\\n' || trim("
    "if(\"last_containers\" IS NULL, '', format_number(\"last_containers\", 0) || ' cont.  ') || "
    "if(\"last_teu\" IS NULL, '', format_number(\"last_teu\", 0) || ' TEU  ') || "
    "if(\"last_pits\" IS NULL, '', format_number(\"last_pits\", 0) || ' pits  ')) || "
    "'  · ' || format_date(\"last_date\", 'd MMM yyyy'))"
)


RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter


def tr(text):
    return QCoreApplication.translate('CargoWatchDock', text)


def _int_flags(flags):
    try:
        return int(flags)
    except TypeError:  # PyQt6 enum.Flag
        return flags.value


def _fmt_t(t):
    return _dt.datetime.fromtimestamp(int(t), _dt.timezone.utc).strftime('%Y-%m-%d %H:%M')


def _fmt_short(t):
    return _dt.datetime.fromtimestamp(int(t), _dt.timezone.utc).strftime('%m-%d %H:%M')


def _qdt(t):
    return QDateTime.fromSecsSinceEpoch(int(t), Qt.TimeSpec.UTC)


class VesselModel(QAbstractTableModel):
    """One row per vessel: name (check box + colour swatch), MMSI, IMO, positions, first/last seen."""
    visibilityChanged = pyqtSignal()
    HEADERS = ('Vessel', 'MMSI', 'IMO', 'Positions', 'First seen', 'Last seen')

    def __init__(self, parent=None):
        super().__init__(parent)
        self.data_ = None
        self.colors = {}
        self.hidden = set()
        self._icons = {}

    def set_data(self, data, colors):
        self.beginResetModel()
        self.data_ = data
        self.colors = colors
        self.hidden = set()
        self._icons = {}
        self.endResetModel()

    def rowCount(self, parent=QModelIndex()):  # noqa: N802
        return 0 if parent.isValid() or self.data_ is None else self.data_.n_vessels

    def columnCount(self, parent=QModelIndex()):  # noqa: N802
        return len(self.HEADERS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return tr(self.HEADERS[section])
        return None

    def mmsi(self, row):
        return int(self.data_.v_mmsi[row])

    def _icon(self, mmsi):
        icon = self._icons.get(mmsi)
        if icon is None:
            pm = QPixmap(14, 14)
            pm.fill(self.colors.get(mmsi, QColor('#555555')))
            icon = self._icons[mmsi] = QIcon(pm)
        return icon

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or self.data_ is None:
            return None
        r, c = index.row(), index.column()
        d = self.data_
        m = int(d.v_mmsi[r])
        if role == Qt.ItemDataRole.DisplayRole:
            if c == 0:
                return d.v_name[r] or '—'
            return (str(m), d.v_imo[r], f'{int(d.v_count[r]):,}', _fmt_short(d.v_first[r]),
                    _fmt_short(d.v_last[r]))[c - 1]
        if role == Qt.ItemDataRole.ToolTipRole:
            return tr('{name} · MMSI {m}{imo} · {n:,} positions · {a} → {b} UTC').format(
                name=d.v_name[r] or tr('(no name)'), m=m, imo=(' · IMO ' + d.v_imo[r]) if d.v_imo[r] else '',
                n=int(d.v_count[r]), a=_fmt_t(d.v_first[r]), b=_fmt_t(d.v_last[r]))
        if role == Qt.ItemDataRole.UserRole:  # sort key
            return (d.v_name[r].lower() or '~', m, d.v_imo[r], int(d.v_count[r]), int(d.v_first[r]),
                    int(d.v_last[r]))[c]
        if role == Qt.ItemDataRole.UserRole + 1:  # search text
            return f'{d.v_name[r]} {m} {d.v_imo[r]}'
        if c == 0 and role == Qt.ItemDataRole.CheckStateRole:
            return Qt.CheckState.Unchecked if m in self.hidden else Qt.CheckState.Checked
        if c == 0 and role == Qt.ItemDataRole.DecorationRole:
            return self._icon(m)
        if c == 3 and role == Qt.ItemDataRole.TextAlignmentRole:
            return _int_flags(RIGHT)
        return None

    def setData(self, index, value, role=Qt.ItemDataRole.EditRole):  # noqa: N802
        if index.column() != 0 or role != Qt.ItemDataRole.CheckStateRole:
            return False
        checked = value in (Qt.CheckState.Checked, 2, True) or getattr(value, 'value', None) == 2
        self.set_visible([self.mmsi(index.row())], checked)
        return True

    def set_visible(self, mmsis, visible):
        for m in mmsis:
            (self.hidden.discard if visible else self.hidden.add)(int(m))
        if self.rowCount():
            self.dataChanged.emit(self.index(0, 0), self.index(self.rowCount() - 1, 0),
                                  [Qt.ItemDataRole.CheckStateRole])
        self.visibilityChanged.emit()

    def flags(self, index):
        f = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        if index.column() == 0:
            f |= Qt.ItemFlag.ItemIsUserCheckable
        return f


class VesselFilter(QSortFilterProxyModel):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setSortRole(Qt.ItemDataRole.UserRole)
        self.setFilterRole(Qt.ItemDataRole.UserRole + 1)
        self.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.setFilterKeyColumn(0)


class CargoWatchDock(QgsDockWidget):
    """Ship tracks, dark periods, port calls and site annotations over the map."""
    layerLoaded = pyqtSignal(bool)  # a background read finished (True: drawn)

    def __init__(self, iface, parent=None):
        super().__init__(tr('CargoWatch'), parent)
        self.setObjectName('CargoWatchDock')
        self.iface = iface
        self.canvas = iface.mapCanvas()
        self.project = QgsProject.instance()
        self.overlay = Overlay(self.project)
        self.data = None
        self.ais_layer_id = None
        self.store = None
        self.site_layers = {}
        self.last_message = None
        self.last_stats = {}
        self._task = None
        self._read_task = None
        self._task_ctx = None
        self._task_feedback = None
        self._site_list = []
        self.form_runner = lambda dialog: dialog.exec()  # tests replace it to fill in and accept forms
        self.confirm = self._confirm
        self.refresh_timer = QTimer(self)
        self.refresh_timer.setSingleShot(True)
        self.refresh_timer.setInterval(300)
        self.refresh_timer.timeout.connect(self.refresh)
        self.watcher = run_results.RunWatcher(self)
        self.sites_poll = QTimer(self)  # edits made by another QGIS window to the same sites file
        self.sites_poll.setInterval(2000)
        self.sites_poll.timeout.connect(self.poll_sites)
        self._sites_version = None
        self._build_ui()
        self._tools = {
            'pick': PickTool(self.canvas), 'point': PointTool(self.canvas), 'polygon': PolygonTool(self.canvas),
            'move': MoveTool(self.canvas, self.find_site), 'match': MatchTool(self),
        }
        self._tools['pick'].picked.connect(self.pick_at)
        self._tools['point'].placed.connect(self._site_placed)
        self._tools['polygon'].placed.connect(self._site_placed)
        self._tools['move'].moved.connect(self.move_site)
        self._tools['move'].clicked.connect(self.select_site)
        self.canvas.mapToolSet.connect(self._tool_changed)
        self.project.cleared.connect(self._project_cleared)
        self.project.layersWillBeRemoved.connect(self._layers_removed)
        self.project.fileNameChanged.connect(self._project_file_changed)

    # --- UI --------------------------------------------------------------------------------------------

    def _build_ui(self):
        tabs = QTabWidget()
        tabs.addTab(self._ships_tab(), tr('Ships'))
        tabs.addTab(self._sites_tab(), tr('Sites'))
        self.tabs = tabs
        self.setWidget(tabs)
        self.setMinimumWidth(380)

    @staticmethod
    def _button(text, tip, slot, checkable=False):
        b = QToolButton() if checkable else QPushButton(text)
        if checkable:
            b.setText(text)
            b.setCheckable(True)
            b.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        b.setToolTip(tip)
        (b.toggled if checkable else b.clicked).connect(slot)
        return b

    def _ships_tab(self):
        w = QWidget()
        lay = QVBoxLayout(w)
        row = QHBoxLayout()
        self.layer_combo = QgsMapLayerComboBox()
        self.layer_combo.setFilters(qenum('Qgis.LayerFilter.PointLayer', 'QgsMapLayerProxyModel.PointLayer'))
        self.layer_combo.setAllowEmptyLayer(True)
        self.layer_combo.setToolTip(tr('AIS positions: a point layer with mmsi and time fields'))
        row.addWidget(QLabel(tr('AIS layer')))
        row.addWidget(self.layer_combo, 1)
        self.load_btn = self._button(tr('Show'), tr('Read the layer and draw its tracks'), self.load_current_layer)
        row.addWidget(self.load_btn)
        self.import_btn = self._button(tr('Import…'), tr('Import an AIS file (NMEA, CSV, JSON) in the background '
                                                        'with cargowatch:importais'), self.choose_import_file)
        row.addWidget(self.import_btn)
        lay.addLayout(row)

        row = QHBoxLayout()
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.cancel_btn = self._button(tr('Cancel'), tr('Stop the import or the reading'), self.cancel_import)
        row.addWidget(self.progress, 1)
        row.addWidget(self.cancel_btn)
        self.progress_row = QWidget()
        self.progress_row.setLayout(row)
        self.progress_row.setVisible(False)
        lay.addWidget(self.progress_row)

        row = QHBoxLayout()
        self.t_from = QgsDateTimeEdit()
        self.t_to = QgsDateTimeEdit()
        for e in (self.t_from, self.t_to):
            e.setDisplayFormat('yyyy-MM-dd HH:mm')
            e.setTimeSpec(Qt.TimeSpec.UTC)
            e.setAllowNull(False)
            e.setCalendarPopup(True)
            e.dateTimeChanged.connect(self._schedule_refresh)
        row.addWidget(QLabel(tr('UTC from')))
        row.addWidget(self.t_from, 1)
        row.addWidget(QLabel(tr('to')))
        row.addWidget(self.t_to, 1)
        self.full_range_btn = self._button(tr('All'), tr('The whole time range of the layer'), self.reset_time)
        row.addWidget(self.full_range_btn)
        lay.addLayout(row)

        row = QHBoxLayout()
        row.addWidget(QLabel(tr('Dark period ≥')))
        self.gap_hours = QDoubleSpinBox()
        self.gap_hours.setRange(0.05, 720)
        self.gap_hours.setDecimals(2)
        self.gap_hours.setValue(DEFAULTS.gap_s / 3600)
        self.gap_hours.setSuffix(' h')
        self.gap_hours.setToolTip(tr('Time without positions that counts as a dark period (also breaks tracks)'))
        self.gap_hours.valueChanged.connect(self._schedule_refresh)
        row.addWidget(self.gap_hours)
        self.show_positions = QCheckBox(tr('Positions'))
        self.show_positions.setToolTip(tr('Also draw every position (thinned past 300,000)'))
        self.show_positions.toggled.connect(self._schedule_refresh)
        row.addWidget(self.show_positions)
        row.addStretch(1)
        lay.addLayout(row)

        row = QHBoxLayout()
        self.search = QgsFilterLineEdit()
        self.search.setPlaceholderText(tr('Search name, MMSI or IMO'))
        self.search.textChanged.connect(self._search)
        row.addWidget(self.search, 1)
        self.all_btn = self._button(tr('All'), tr('Show every listed vessel'), lambda: self.set_listed_visible(True))
        self.none_btn = self._button(tr('None'), tr('Hide every listed vessel'),
                                     lambda: self.set_listed_visible(False))
        self.zoom_btn = self._button(tr('Zoom'), tr('Zoom to the selected vessels'), self.zoom_to_selected)
        self.pick_btn = self._button(tr('Pick'), tr('Click a ship on the map to select it'), self._toggle_pick,
                                     checkable=True)
        self.match_btn = self._button(tr('Match'), tr('Click a ship in an image: which vessels could it be, dark '
                                                      'or visible on AIS then?'),
                                      lambda on: self._toggle_tool('match', on), checkable=True)
        for b in (self.all_btn, self.none_btn, self.zoom_btn, self.pick_btn, self.match_btn):
            row.addWidget(b)
        lay.addLayout(row)

        self.model = VesselModel(self)
        self.model.visibilityChanged.connect(self._visibility_changed)
        self.proxy = VesselFilter(self)
        self.proxy.setSourceModel(self.model)
        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(3, Qt.SortOrder.DescendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(22)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        # fixed widths: ResizeToContents would scan every row at each selection change
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.doubleClicked.connect(lambda _i: self.zoom_to_selected())
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._vessel_menu)
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)

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
        return w

    def _sites_tab(self):
        w = QWidget()
        lay = QVBoxLayout(w)
        row = QHBoxLayout()
        self.store_path = QgsFileWidget()
        self.store_path.setStorageMode(QgsFileWidget.StorageMode.SaveFile)
        self.store_path.setFilter(tr('GeoPackage (*.gpkg)'))
        self.store_path.setConfirmOverwrite(False)
        self.store_path.setFilePath(self.default_store_path())
        row.addWidget(QLabel(tr('Sites file')))
        row.addWidget(self.store_path, 1)
        self.open_store_btn = self._button(tr('Open'), tr('Open (or create) this sites GeoPackage'),
                                           lambda: self.open_store(self.store_path.filePath()))
        row.addWidget(self.open_store_btn)
        lay.addLayout(row)

        row = QHBoxLayout()
        self.add_point_btn = self._button(tr('+ Point'), tr('Click the map to add a point site'),
                                          lambda on: self._toggle_tool('point', on), checkable=True)
        self.add_area_btn = self._button(tr('+ Area'), tr('Click the outline of a site; right-click to finish'),
                                         lambda on: self._toggle_tool('polygon', on), checkable=True)
        self.move_btn = self._button(tr('Move'), tr('Drag a site on the map (a click selects it)'),
                                     lambda on: self._toggle_tool('move', on), checkable=True)
        self.edit_site_btn = self._button(tr('Edit…'), tr('Edit the selected site'), self.edit_selected_site)
        self.delete_site_btn = self._button(tr('Delete'), tr('Delete the selected site and its observations'),
                                            self.delete_selected_site)
        for b in (self.add_point_btn, self.add_area_btn, self.move_btn, self.edit_site_btn, self.delete_site_btn):
            row.addWidget(b)
        row.addStretch(1)
        lay.addLayout(row)

        self.sites_table = QTableWidget(0, 4)
        self.sites_table.setHorizontalHeaderLabels([tr('Site'), tr('Kind'), tr('Country'), tr('Latest')])
        self.sites_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.sites_table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.sites_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.sites_table.verticalHeader().setVisible(False)
        self.sites_table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.sites_table.horizontalHeader().setStretchLastSection(True)
        self.sites_table.itemSelectionChanged.connect(self._site_selection_changed)
        self.sites_table.doubleClicked.connect(lambda _i: self.edit_selected_site())

        self.obs_table = QTableWidget(0, 6)
        self.obs_table.setHorizontalHeaderLabels([tr('Date'), tr('Containers'), tr('TEU'), tr('Pits'),
                                                  tr('Source'), tr('Note')])
        self.obs_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.obs_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.obs_table.verticalHeader().setVisible(False)
        self.obs_table.horizontalHeader().setStretchLastSection(True)
        self.obs_table.doubleClicked.connect(lambda _i: self.edit_selected_observation())
        obs_row = QHBoxLayout()
        self.add_obs_btn = self._button(tr('+ Observation'), tr('Add a dated count for the selected site'),
                                        self.add_observation_dialog)
        self.from_run_btn = self._button(tr('From last run'), tr('Add the counts of the last CargoWatch algorithm '
                                                                 'run (COUNT, TEU, pits)'), self.add_from_last_run)
        self.edit_obs_btn = self._button(tr('Edit…'), tr('Edit the selected observation'),
                                         self.edit_selected_observation)
        self.delete_obs_btn = self._button(tr('Delete'), tr('Delete the selected observation'),
                                           self.delete_selected_observation)
        for b in (self.add_obs_btn, self.from_run_btn, self.edit_obs_btn, self.delete_obs_btn):
            obs_row.addWidget(b)
        obs_row.addStretch(1)
        obs_box = QWidget()
        ol = QVBoxLayout(obs_box)
        ol.setContentsMargins(0, 0, 0, 0)
        ol.addLayout(obs_row)
        ol.addWidget(self.obs_table)
        self.chart = SiteChart()
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.sites_table)
        split.addWidget(obs_box)
        split.addWidget(self.chart)
        split.setStretchFactor(0, 2)
        split.setStretchFactor(1, 2)
        split.setStretchFactor(2, 3)
        lay.addWidget(split, 1)
        return w

    # --- messages ----------------------------------------------------------------------------------------

    def message(self, text, level='Info', duration=6):
        self.last_message = (level, text)
        bar = self.iface.messageBar() if hasattr(self.iface, 'messageBar') else None
        if bar is not None:
            bar.pushMessage(tr('CargoWatch'), text, LEVEL[level], duration)

    def _confirm(self, text):
        return QMessageBox.question(self, tr('CargoWatch'), text) == QMessageBox.StandardButton.Yes

    # --- AIS data ---------------------------------------------------------------------------------------

    def load_current_layer(self):
        return self.load_layer(self.layer_combo.currentLayer(), background=True)

    def load_layer(self, layer, background=False):
        """Read an AIS layer once into numpy and draw it. False (and a message) if it is not AIS points.

        background: read in a QgsTask (progress, cancel; the UI stays live), draw when done."""
        try:
            reader = LayerReader(layer)
        except AisLayerError as e:
            self.message(str(e), 'Warning')
            return False
        if not background:
            QgsApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
            try:
                data = reader.run()
            except AisLayerError as e:
                self.message(str(e), 'Warning')
                return False
            finally:
                QgsApplication.restoreOverrideCursor()
            self._use_data(layer, data)
            return True
        if self._read_task is not None:
            self.message(tr('Already reading a layer.'), 'Info', 3)
            return False
        lid = layer.id()

        def work(task):
            return reader.run(progress=lambda f: task.setProgress(100.0 * f), cancelled=task.isCanceled)

        def done(exception, data=None):
            self._read_task = None
            self._show_progress(None)
            lyr = self.project.mapLayer(lid)
            if exception is not None:
                if isinstance(exception, Cancelled) or task.isCanceled():
                    self.message(tr('Reading "{}" cancelled.').format(reader.name), 'Info', 3)
                else:
                    self.message(str(exception), 'Warning')
            elif data is not None and lyr is not None:
                self._use_data(lyr, data)
            self.layerLoaded.emit(exception is None and data is not None)

        task = QgsTask.fromFunction(tr('CargoWatch: reading {}').format(reader.name), work, on_finished=done)
        task.progressChanged.connect(lambda p: self.progress.setValue(int(p)))
        self._read_task = task
        self._show_progress(tr('Reading {} … %p%').format(reader.name))
        QgsApplication.taskManager().addTask(task)
        return True

    def _show_progress(self, text):
        self.progress_row.setVisible(text is not None)
        if text is not None:
            self.progress.setValue(0)
            self.progress.setFormat(text)
        self.load_btn.setEnabled(text is None)
        self.import_btn.setEnabled(text is None)

    def _use_data(self, layer, data):
        self.data = data
        self.ais_layer_id = layer.id()
        if self.layer_combo.currentLayer() is not layer:
            self.layer_combo.setLayer(layer)
        order = np.argsort(-data.v_count, kind='stable')  # most positions first get the clearest colours
        self.overlay.colors = vessel_colors(data.v_mmsi[order])
        self.overlay.hidden = set()
        self.model.set_data(data, self.overlay.colors)
        self.table.setColumnHidden(2, not any(data.v_imo))
        fm = self.table.fontMetrics()
        for c, sample in ((1, '000000000 '), (2, '0000000 '), (3, '000,000 '), (4, '00-00 00:00  '),
                          (5, '00-00 00:00  ')):
            self.table.setColumnWidth(c, max(fm.horizontalAdvance(sample) + 14, fm.horizontalAdvance(
                self.model.headerData(c, Qt.Orientation.Horizontal)) + 30))  # cell margins, sort arrow
        lo, hi = data.time_range()
        for e in (self.t_from, self.t_to):
            e.blockSignals(True)
        self.t_from.setDateTime(_qdt(lo))
        self.t_to.setDateTime(_qdt(hi + 60))  # the editors show minutes: include the last position
        for e in (self.t_from, self.t_to):
            e.blockSignals(False)
        self._picked = None
        self.details.setText(tr('<b>{}</b>: {:,} vessels, {:,} positions. Select a vessel in the list, or press '
                                '<i>Pick</i> and click a ship on the map.').format(
            data.source_name, data.n_vessels, len(data)))
        self.refresh()
        self.zoom_to_data()
        return True

    def reset_time(self):
        if self.data is None:
            return
        lo, hi = self.data.time_range()
        self.t_from.setDateTime(_qdt(lo))
        self.t_to.setDateTime(_qdt(hi + 60))

    def time_range(self):
        return self.t_from.dateTime().toSecsSinceEpoch(), self.t_to.dateTime().toSecsSinceEpoch()

    def _schedule_refresh(self, *_):
        if self.data is not None:
            self.refresh_timer.start()

    def refresh(self):
        """Rebuild the overlay layers for the current time range and settings. Returns the stats."""
        self.refresh_timer.stop()
        if self.data is None:
            return None
        t0, t1 = self.time_range()
        if t1 <= t0:
            self.message(tr('The time range is empty ("from" is not before "to"): the map still shows the '
                            'previous range. Pick a later end or press "All".'), 'Warning')
            return None
        stats = self.overlay.rebuild(self.data, t0, t1, min_gap_s=self.gap_hours.value() * 3600,
                                     show_positions=self.show_positions.isChecked(), sites=self._port_sites())
        self.overlay.set_hidden(self.model.hidden)
        self.last_stats = stats
        if stats['positions'] == 0:
            self.message(tr('No positions between {} and {} UTC: widen the time range.').format(
                _fmt_t(t0), _fmt_t(t1)), 'Warning')
        self.status.setText(tr('{v:,} vessels · {p:,} positions · {g:,} dark periods · {c:,} port calls · '
                               'drawn in {s:.2f} s').format(v=stats['vessels'], p=stats['positions'],
                                                           g=stats['gaps'], c=stats['calls'], s=stats['seconds']))
        self._wire_temporal()
        return stats

    def _wire_temporal(self):
        ctrl = self.canvas.temporalController() if hasattr(self.canvas, 'temporalController') else None
        if isinstance(ctrl, QgsTemporalNavigationObject):
            ctrl.setTemporalExtents(self.overlay.temporal_range())
            ctrl.setFrameDuration(self.overlay.frame_interval())

    def _visibility_changed(self):
        self.overlay.set_hidden(self.model.hidden)

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
        self.model._icons.pop(int(mmsi), None)
        row = self.data.row_of[int(mmsi)]
        self.model.dataChanged.emit(self.model.index(row, 0), self.model.index(row, 0))

    def _search(self, text):
        self.proxy.setFilterFixedString(text)

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

    _picked = None

    def _vessel_html(self, mmsi, idx=None):
        d = self.data
        r = d.row_of[int(mmsi)]
        name = d.v_name[r] or tr('(no name)')
        color = self.overlay.colors.get(int(mmsi), QColor('#555')).name()
        html = (f'<b style="color:{color}">■</b> <b>{name}</b> &nbsp; MMSI {mmsi}'
                + (f' &nbsp; IMO {d.v_imo[r]}' if d.v_imo[r] else '')
                + f'<br>{int(d.v_count[r]):,} ' + tr('positions') + f', {_fmt_t(d.v_first[r])} → '
                + f'{_fmt_t(d.v_last[r])} UTC')
        if idx is not None:
            c = d.cols
            sog, cog, hdg = (float(c[k][idx]) for k in ('sog', 'cog', 'heading'))
            html += ('<br><b>' + tr('At') + f' {_fmt_t(c["t"][idx])} UTC</b>: '
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
            self.message(tr('Select a vessel in the list first.'), 'Info', 3)
            return
        self._zoom(self._vessel_extent(sel))

    def zoom_to_data(self):
        if self.data is not None:
            visible = [int(m) for m in self.data.v_mmsi if int(m) not in self.model.hidden]
            self._zoom(self._vessel_extent(visible))

    # --- importing -------------------------------------------------------------------------------------

    def choose_import_file(self):
        path, _ = QFileDialog.getOpenFileName(self, tr('Import AIS file'), '',
                                              tr('AIS files (*.nmea *.txt *.log *.aivdm *.raw *.csv *.json '
                                                 '*.jsonl);;All files (*)'))
        if path:
            self.import_file(path)

    def import_file(self, path, output=None):
        """Run cargowatch:importais on path as a background task; the result is loaded when done."""
        reg = QgsApplication.processingRegistry()
        alg = reg.createAlgorithmById('cargowatch:importais')
        if alg is None:
            self.message(tr('The CargoWatch Processing provider is not loaded: enable the plugin, then retry.'),
                         'Critical')
            return None
        if self._task is not None:
            self.message(tr('An import is already running.'), 'Info', 3)
            return None
        if output is None:
            stem = os.path.splitext(os.path.basename(path))[0]
            folder = os.path.dirname(os.path.abspath(path))
            if not os.access(folder, os.W_OK):
                from qgis.core import QgsProcessingUtils
                folder = QgsProcessingUtils.tempFolder()
            output = os.path.join(folder, stem + '_positions.gpkg')
        ctx = QgsProcessingContext()
        ctx.setProject(self.project)
        feedback = QgsProcessingFeedback()
        task = QgsProcessingAlgRunnerTask(alg, {'INPUT': path, 'OUTPUT': output}, ctx, feedback)
        feedback.progressChanged.connect(lambda p: self.progress.setValue(int(p)))
        task.executed.connect(lambda ok, res: self._import_done(ok, res, path, output))
        self._task, self._task_ctx, self._task_feedback = task, ctx, feedback
        self._show_progress(tr('Importing {} … %p%').format(os.path.basename(path)))
        QgsApplication.taskManager().addTask(task)
        return task

    def cancel_import(self):
        """Cancel button: stops the running import or layer read."""
        if self._task is not None:
            self._task_feedback.cancel()
            self._task.cancel()
        if self._read_task is not None:
            self._read_task.cancel()

    def _import_done(self, ok, results, path, output):
        feedback = self._task_feedback
        self._task = self._task_ctx = self._task_feedback = None
        self._show_progress(None)
        if not ok:
            if feedback is not None and feedback.isCanceled():
                self.message(tr('Import of {} cancelled.').format(os.path.basename(path)), 'Info')
            else:
                log = feedback.textLog().strip().splitlines() if feedback is not None else []
                self.message(tr('Import of {} failed: {}').format(os.path.basename(path),
                                                                   log[-1] if log else tr('see the log')),
                             'Critical', 0)
            return
        out = results.get('OUTPUT') or output
        layer = QgsVectorLayer(out, os.path.splitext(os.path.basename(path))[0] + ' ' + tr('positions'), 'ogr')
        if not layer.isValid():
            self.message(tr('The import wrote {}, but QGIS cannot open it.').format(out), 'Critical', 0)
            return
        self.project.addMapLayer(layer)
        node = self.project.layerTreeRoot().findLayer(layer.id())
        if node is not None:  # the overlay shows it better than thousands of raw points
            node.setItemVisibilityChecked(False)
        self.load_layer(layer)
        self.message(tr('Imported {:,} positions of {:,} vessels.').format(len(self.data), self.data.n_vessels)
                     if self.data is not None else tr('Imported.'), 'Success', 4)

    # --- map tools --------------------------------------------------------------------------------------

    def _toggle_pick(self, on):
        self._toggle_tool('pick', on)

    def _tool_buttons(self):
        return {'pick': self.pick_btn, 'point': self.add_point_btn, 'polygon': self.add_area_btn,
                'move': self.move_btn, 'match': self.match_btn}

    def _toggle_tool(self, key, on):
        tool = self._tools[key]
        if on:
            if key not in ('pick', 'match') and self.store is None and not self.open_store(self.store_path.filePath()):
                self._tool_buttons()[key].setChecked(False)
                return
            self.canvas.setMapTool(tool)
        elif self.canvas.mapTool() is tool:
            self.canvas.unsetMapTool(tool)

    def _tool_changed(self, new, old=None):
        for key, btn in self._tool_buttons().items():
            btn.blockSignals(True)
            btn.setChecked(new is self._tools[key])
            btn.blockSignals(False)

    # --- sites -----------------------------------------------------------------------------------------

    def default_store_path(self):
        p = self.project.fileName()
        if p:
            return os.path.join(os.path.dirname(p), os.path.splitext(os.path.basename(p))[0] + '_sites.gpkg')
        return os.path.join(os.path.expanduser('~'), 'cargowatch_sites.gpkg')

    def open_store(self, path):
        """Open (or create) the sites GeoPackage, show its sites on the map. False + message on failure."""
        path = (path or '').strip()
        if not path:
            self.message(tr('Choose a GeoPackage for the sites first.'), 'Warning')
            return False
        if not path.lower().endswith('.gpkg'):
            path += '.gpkg'
        try:
            store = SiteStore(path)
        except SiteStoreError as e:
            self.message(str(e), 'Critical', 0)
            return False
        self._close_store()
        self.store = store
        self.store_path.setFilePath(store.path)
        if store.read_only:
            self.message(tr('{} is read-only: sites are shown but cannot be edited.').format(store.path), 'Warning')
        self._sites_changed(rebuild=False)
        self._sites_version = store.data_version()
        self.sites_poll.start()
        return True

    def poll_sites(self):
        """Reload the sites when another program changed the file. True if it did."""
        if self.store is None:
            return False
        try:
            version = self.store.data_version()
        except SiteStoreError:
            return False
        if self._sites_version is None or version == self._sites_version:
            self._sites_version = version
            return False
        self._sites_version = version
        self._sites_changed()
        return True

    def _close_store(self):
        self.sites_poll.stop()
        self._sites_version = None
        for key in list(self.site_layers):
            lid = self.site_layers.pop(key)
            if self.project.mapLayer(lid) is not None:
                self.project.removeMapLayer(lid)
        if self.store is not None:
            self.store.close()
            self.store = None

    def _site_layer(self, kind):
        lid = self.site_layers.get(kind)
        lyr = self.project.mapLayer(lid) if lid else None
        if lyr is not None:
            return lyr
        geom = 'Point' if kind == 'points' else 'Polygon'
        lyr = QgsVectorLayer(f'{self.store.path}|layername=sites|geometrytype={geom}',
                             tr('Sites') if kind == 'points' else tr('Site areas'), 'ogr')
        if not lyr.isValid():
            return None
        lyr.setCustomProperty('cargowatch/overlay', 'sites_' + kind)
        if kind == 'points':
            star = QgsMarkerSymbol.createSimple({'name': 'star', 'color': '#ffb300', 'outline_color': '#5d4037',
                                                 'outline_width': '0.35', 'size': '5'})
            lyr.setRenderer(QgsSingleSymbolRenderer(star))
            lyr.setLabeling(_labeling(SITE_LABEL, label_placement('AroundPoint'), 8.5, '#3e2723', True, dist=2,
                                      priority=10))
        else:
            fill = QgsFillSymbol.createSimple({'color': '255,179,0,50', 'outline_color': '#e65100',
                                               'outline_width': '0.6', 'outline_style': 'dash'})
            lyr.setRenderer(QgsSingleSymbolRenderer(fill))
            lyr.setLabeling(_labeling(SITE_LABEL, label_placement('AroundPoint'), 8.5, '#3e2723', True, dist=1,
                                      priority=10))
        lyr.setLabelsEnabled(True)
        self.overlay.add_to_group(lyr, 0)
        self.site_layers[kind] = lyr.id()
        return lyr

    def _sites_changed(self, rebuild=True, select_fid=None):
        """Reload the sites from the file: list, map layers, chart; port calls if tracks are shown."""
        if self.store is None:
            return
        keep = select_fid if select_fid is not None else self.selected_site_fid()
        try:
            self._site_list = self.store.sites()
        except SiteStoreError as e:
            self.message(str(e), 'Critical', 0)
            return
        kinds = {self._geom(s).type() for s in self._site_list if s.wkb}
        for kind, gtype in (('points', GEOM_POINT), ('areas', GEOM_POLYGON)):
            lyr = self._site_layer(kind) if (gtype in kinds or kind in self.site_layers) else None
            if lyr is not None:
                lyr.dataProvider().reloadData()
                lyr.updateExtents()
                lyr.triggerRepaint()
        self.sites_table.blockSignals(True)
        self.sites_table.setRowCount(len(self._site_list))
        for r, s in enumerate(self._site_list):
            latest = self._latest_text(s)
            for c, text in enumerate((s.name, s.kind, s.country, latest)):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, s.fid)
                self.sites_table.setItem(r, c, item)
        self.sites_table.resizeColumnsToContents()
        self.sites_table.blockSignals(False)
        row = next((r for r, s in enumerate(self._site_list) if s.fid == keep), None)
        if row is not None:
            self.sites_table.selectRow(row)
        self._site_selection_changed()
        if rebuild and self.data is not None:
            self.refresh()

    @staticmethod
    def _latest_text(s):
        if not s.last_date:
            return ''
        parts = []
        if s.last_containers is not None:
            parts.append(tr('{:,} cont.').format(s.last_containers))
        if s.last_teu is not None:
            parts.append(tr('{:,.0f} TEU').format(s.last_teu))
        if s.last_pits is not None:
            parts.append(tr('{:,} pits').format(s.last_pits))
        return ', '.join(parts) + f' ({s.last_date})'

    @staticmethod
    def _geom(site):
        g = QgsGeometry()
        g.fromWkb(site.wkb)
        return g

    def _port_sites(self):
        """Sites as polygons (point sites as circles of SITE_RADIUS_M) for port calls."""
        out = []
        for s in self._site_list:
            if not s.wkb:
                continue
            g = self._geom(s)
            if g.type() == GEOM_POINT:
                p = g.asPoint()
                dlat = SITE_RADIUS_M / 111320.0
                dlon = dlat / max(0.05, np.cos(np.radians(p.y())))
                a = np.linspace(0, 2 * np.pi, 33)
                parts = [[np.c_[p.x() + dlon * np.cos(a), p.y() + dlat * np.sin(a)]]]
            else:
                polys = g.asMultiPolygon() if g.isMultipart() else [g.asPolygon()]
                parts = [[np.array([(q.x(), q.y()) for q in ring]) for ring in poly] for poly in polys]
            out.append({'name': s.name, 'parts': parts})
        return out

    def selected_site_fid(self):
        items = self.sites_table.selectedItems()
        return items[0].data(Qt.ItemDataRole.UserRole) if items else None

    def select_site(self, fid):
        for r in range(self.sites_table.rowCount()):
            if self.sites_table.item(r, 0).data(Qt.ItemDataRole.UserRole) == fid:
                self.sites_table.selectRow(r)
                self.tabs.setCurrentIndex(1)
                return True
        return False

    def find_site(self, box):
        """fid of a site under box (QgsRectangle in lon/lat), or None."""
        probe = QgsGeometry.fromRect(box)
        for s in self._site_list:
            if s.wkb and self._geom(s).intersects(probe):
                return s.fid
        return None

    def _site_selection_changed(self):
        fid = self.selected_site_fid()
        obs = []
        title = ''
        if fid is not None and self.store is not None:
            try:
                obs = self.store.observations(fid)
            except SiteStoreError as e:
                self.message(str(e), 'Critical', 0)
            title = next((s.name for s in self._site_list if s.fid == fid), '')
        self.obs_table.setRowCount(len(obs))
        for r, o in enumerate(obs):
            vals = (o.date, '' if o.containers is None else f'{o.containers:,}',
                    '' if o.teu is None else f'{o.teu:,.1f}', '' if o.pits is None else f'{o.pits:,}', o.source,
                    o.note)
            for c, text in enumerate(vals):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, o.fid)
                if 1 <= c <= 3:
                    try:  # Qt6 wants the flag, Qt5 an int
                        item.setTextAlignment(RIGHT)
                    except TypeError:
                        item.setTextAlignment(_int_flags(RIGHT))
                self.obs_table.setItem(r, c, item)
        self.obs_table.resizeColumnsToContents()
        self.chart.plot(obs, title)

    def _write(self, fn, *args, **kw):
        """Run a store write; a failure is a message and False (the form stays open, nothing is lost)."""
        if self.store is None and not self.open_store(self.store_path.filePath()):
            return False
        try:
            return fn(*args, **kw) if fn is not None else True
        except SiteStoreError as e:
            self.message(str(e), 'Critical', 0)
            return False

    def _site_placed(self, geom):
        self.add_site_dialog(geom)

    def add_site_dialog(self, geom):
        result = {}

        def save(values):
            fid = self._write(lambda: self.store.add_site(wkb=bytes(geom.asWkb()), **values))
            if fid is False:
                return False
            result['fid'] = fid
            return True

        self.form_runner(SiteForm(save=save, parent=self, title=tr('New site')))
        if 'fid' in result:
            self._sites_changed(select_fid=result['fid'])
            self.message(tr('Site saved to {}.').format(os.path.basename(self.store.path)), 'Success', 3)
            return result['fid']
        return None

    def _selected_site(self):
        """The Site selected in the list, or None after telling the analyst to select one."""
        fid = self.selected_site_fid()
        site = next((s for s in self._site_list if s.fid == fid), None) if fid is not None else None
        if site is None:
            self.message(tr('Select a site first.'), 'Info', 3)
        return site

    def edit_selected_site(self):
        s = self._selected_site()
        if s is None:
            return False
        fid = s.fid
        ok = {}

        def save(values):
            ok['saved'] = self._write(lambda: self.store.update_site(fid, **values) or True)
            return ok['saved']

        self.form_runner(SiteForm(values=vars(s), save=save, parent=self, title=tr('Edit site')))
        if ok.get('saved'):
            self._sites_changed(select_fid=fid)
        return bool(ok.get('saved'))

    def move_site(self, fid, dx, dy):
        s = next((s for s in self._site_list if s.fid == fid), None)
        if s is None:
            return False
        g = self._geom(s)
        g.translate(dx, dy)
        if self._write(lambda: self.store.update_site(fid, wkb=bytes(g.asWkb())) or True):
            self._sites_changed(select_fid=fid)
            return True
        return False

    def delete_selected_site(self):
        s = self._selected_site()
        if s is None:
            return False
        fid = s.fid
        if not self.confirm(tr('Delete site "{}" and its {} observations?').format(s.name, s.n_obs)):
            return False
        if self._write(lambda: self.store.delete_site(fid) or True):
            self._sites_changed()
            return True
        return False

    # --- observations --------------------------------------------------------------------------------

    def _obs_dialog(self, values=None, obs_fid=None, title=None):
        fid = self.selected_site_fid()
        if fid is None:
            self.message(tr('Select a site first (Sites tab), then add its observation.'), 'Info', 4)
            return False
        saved = {}

        def save(v):
            if all(v[k] is None for k in ('containers', 'teu', 'pits')) and not v['note']:
                self.message(tr('Give at least one count (containers, TEU or pits) or a note.'), 'Warning')
                return False
            if obs_fid is None:
                res = self._write(lambda: self.store.add_observation(fid, **v))
            else:
                res = self._write(lambda: self.store.update_observation(obs_fid, **v) or True)
            saved['ok'] = res is not False
            return saved['ok']

        self.form_runner(ObservationForm(values=values, save=save, parent=self, title=title))
        if saved.get('ok'):
            self._sites_changed(select_fid=fid, rebuild=False)
        return bool(saved.get('ok'))

    def add_observation_dialog(self):
        return self._obs_dialog(title=tr('New observation'))

    def selected_observation_fid(self):
        items = self.obs_table.selectedItems()
        return items[0].data(Qt.ItemDataRole.UserRole) if items else None

    def edit_selected_observation(self):
        ofid = self.selected_observation_fid()
        if ofid is None:
            self.message(tr('Select an observation first.'), 'Info', 3)
            return False
        o = next(o for o in self.store.observations(self.selected_site_fid()) if o.fid == ofid)
        return self._obs_dialog(values=vars(o), obs_fid=ofid, title=tr('Edit observation'))

    def delete_selected_observation(self):
        ofid = self.selected_observation_fid()
        if ofid is None:
            self.message(tr('Select an observation first.'), 'Info', 3)
            return False
        if not self.confirm(tr('Delete this observation?')):
            return False
        if self._write(lambda: self.store.delete_observation(ofid) or True):
            self._sites_changed(rebuild=False)
            return True
        return False

    def add_from_last_run(self):
        last = run_results.last()
        if last is None:
            self.message(tr('No CargoWatch count has run in this QGIS session yet: run "Count containers" or '
                            '"Count pits" (Processing toolbox), then press this again.'), 'Info', 6)
            return False
        when, alg_id, display, results = last
        values = dict(run_results.counts_from_results(alg_id, results))
        values['source'] = tr('{} run at {}').format(display, time.strftime('%Y-%m-%d %H:%M', time.localtime(when)))
        return self._obs_dialog(values=values, title=tr('Observation from {}').format(display))

    # --- housekeeping ----------------------------------------------------------------------------------

    def _project_cleared(self):
        """A new or another project: its layers are gone; the sites file of the old one is closed."""
        self.overlay.layer_ids.clear()
        self.site_layers.clear()
        self._close_store()
        self._site_list = []
        self.sites_table.setRowCount(0)
        self._site_selection_changed()
        self.store_path.setFilePath(self.default_store_path())

    def _project_file_changed(self, *_):
        if self.store is None:
            self.store_path.setFilePath(self.default_store_path())

    def _layers_removed(self, ids):
        ids = set(ids)
        for key, lid in list(self.overlay.layer_ids.items()):
            if lid in ids:
                self.overlay.layer_ids.pop(key)
        for key, lid in list(self.site_layers.items()):
            if lid in ids:
                self.site_layers.pop(key)

    def close_and_cleanup(self, remove_layers=True):
        """Called by the plugin's unload(): stop the import, release map tools, signals, the file and layers."""
        self.refresh_timer.stop()
        if self._task is not None or self._read_task is not None:
            self.cancel_import()
        self.watcher.stop()
        self.sites_poll.stop()
        for sig, slot in ((self.canvas.mapToolSet, self._tool_changed), (self.project.cleared, self._project_cleared),
                          (self.project.layersWillBeRemoved, self._layers_removed),
                          (self.project.fileNameChanged, self._project_file_changed)):
            try:
                sig.disconnect(slot)
            except (TypeError, RuntimeError):
                pass
        for tool in self._tools.values():
            if self.canvas.mapTool() is tool:
                self.canvas.unsetMapTool(tool)
            if hasattr(tool, 'clean'):
                tool.clean()
        if remove_layers:
            self._close_store()
            self.overlay.remove_all()
        elif self.store is not None:
            self.store.close()
            self.store = None
        self.data = None
