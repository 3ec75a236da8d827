"""The CargoWatch dock: ship tracks, dark periods and site annotations on the map canvas.

Assembled from the panels of ui/panels/ (Ships: layer, time range, vessel list, details; Sites: sites file,
sites, observations, chart). The dock itself reads AIS layers and imports AIS files in the background, redraws
the overlay when a panel's settings change, owns the map tools, and cleans up after the project and the plugin."""

import os

from qgis.core import (QgsApplication, QgsProcessingAlgRunnerTask, QgsProcessingContext, QgsProcessingFeedback,
                       QgsProject, QgsTask, QgsTemporalNavigationObject, QgsVectorLayer)
from qgis.gui import QgsDockWidget
from qgis.PyQt.QtCore import Qt, QTimer, pyqtSignal
from qgis.PyQt.QtWidgets import QFileDialog, QMessageBox, QTabWidget

from . import run_results
from ..core.errors import Cancelled
from ..layers.ais import AisLayerError, LayerReader
from ..compat import qenum
from .map_tools import MoveTool, PickTool, PointTool, PolygonTool
from .match_tool import MatchTool
from .overlay import Overlay
from .panels import tr
from .panels.ships import ShipsPanel
from .panels.sites import SitesPanel
from .panels.vessels import fmt_t

LEVEL = {k: qenum('Qgis.MessageLevel.' + k, 'Qgis.' + k) for k in ('Info', 'Warning', 'Critical', 'Success')}
# what the panels show and do, answered by the dock as its own (the plugin, the map tools and tests use them)
SHIPS_NAMES = ('layer_combo', 'load_btn', 'import_btn', 'progress', 'progress_row', 'cancel_btn', 't_from', 't_to',
               'full_range_btn', 'gap_hours', 'show_positions', 'search', 'all_btn', 'none_btn', 'zoom_btn',
               'pick_btn', 'match_btn', 'model', 'proxy', 'table', 'details', 'status', 'reset_time', 'time_range',
               'pick_at', 'select_vessel', 'selected_mmsi', 'listed_mmsi', 'set_listed_visible', 'show_only',
               'set_vessel_color', 'zoom_to_selected', 'zoom_to_data')
SITES_NAMES = ('store_path', 'open_store_btn', 'add_point_btn', 'add_area_btn', 'move_btn', 'edit_site_btn',
               'delete_site_btn', 'sites_table', 'chart', 'site_layers', 'open_store', 'poll_sites',
               'default_store_path', 'selected_site_fid', 'find_site', 'add_site_dialog', 'edit_selected_site',
               'move_site', 'delete_selected_site')
OBSERVATIONS_NAMES = ('obs_table', 'add_obs_btn', 'from_run_btn', 'edit_obs_btn', 'delete_obs_btn',
                      'add_observation_dialog', 'selected_observation_fid', 'edit_selected_observation',
                      'delete_selected_observation', 'add_from_last_run')


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
        self.ais_layer_id = None
        self.last_message = None
        self.last_stats = {}
        self._task = None
        self._read_task = None
        self._task_ctx = None
        self._task_feedback = None
        self.form_runner = lambda dialog: dialog.exec()  # tests replace it to fill in and accept forms
        self.confirm = self._confirm
        self.refresh_timer = QTimer(self)
        self.refresh_timer.setSingleShot(True)
        self.refresh_timer.setInterval(300)
        self.refresh_timer.timeout.connect(self.refresh)
        self.watcher = run_results.RunWatcher(self)
        self.ships = ShipsPanel(self.overlay, self.canvas, self.project, host=self)
        self.sites = SitesPanel(self.overlay, self.project, host=self)
        for panel, names in ((self.ships, SHIPS_NAMES), (self.sites, SITES_NAMES),
                             (self.sites.observations, OBSERVATIONS_NAMES)):
            for name in names:
                setattr(self, name, getattr(panel, name))
        self.tabs = QTabWidget()
        self.tabs.addTab(self.ships, tr('Ships'))
        self.tabs.addTab(self.sites, tr('Sites'))
        self.setWidget(self.tabs)
        self.setMinimumWidth(380)
        self._tools = {
            'pick': PickTool(self.canvas), 'point': PointTool(self.canvas), 'polygon': PolygonTool(self.canvas),
            'move': MoveTool(self.canvas, self.find_site), 'match': MatchTool(self),
        }
        self._wire()

    def _wire(self):
        """Signals across panels, tools and the project."""
        self.load_btn.clicked.connect(self.load_current_layer)
        self.import_btn.clicked.connect(self.choose_import_file)
        self.cancel_btn.clicked.connect(self.cancel_import)
        self.ships.settingsChanged.connect(self._schedule_refresh)
        self.sites.changed.connect(self.refresh)  # port calls follow the sites
        for key, btn in self._tool_buttons().items():
            btn.toggled.connect(lambda on, key=key: self._toggle_tool(key, on))
        self._tools['pick'].picked.connect(self.pick_at)
        self._tools['point'].placed.connect(self.add_site_dialog)
        self._tools['polygon'].placed.connect(self.add_site_dialog)
        self._tools['move'].moved.connect(self.move_site)
        self._tools['move'].clicked.connect(self.select_site)
        self.canvas.mapToolSet.connect(self._tool_changed)
        self.project.cleared.connect(self._project_cleared)
        self.project.layersWillBeRemoved.connect(self._layers_removed)
        self.project.fileNameChanged.connect(self._project_file_changed)

    @property
    def data(self):
        """The AIS data read from the layer (core AisData), or None."""
        return self.ships.data

    @data.setter
    def data(self, data):
        self.ships.data = data

    @property
    def store(self):
        """The open sites GeoPackage (core SiteStore), or None."""
        return self.sites.store

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
            self.ships.show_progress(None)
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
        self.ships.show_progress(tr('Reading {} … %p%').format(reader.name))
        QgsApplication.taskManager().addTask(task)
        return True

    def _use_data(self, layer, data):
        self.ais_layer_id = layer.id()
        if self.layer_combo.currentLayer() is not layer:
            self.layer_combo.setLayer(layer)
        self.ships.set_data(data)
        self.refresh()
        self.zoom_to_data()
        return True

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
                                     show_positions=self.show_positions.isChecked(), sites=self.sites.port_sites())
        self.overlay.set_hidden(self.model.hidden)
        self.last_stats = stats
        if stats['positions'] == 0:
            self.message(tr('No positions between {} and {} UTC: widen the time range.').format(
                fmt_t(t0), fmt_t(t1)), 'Warning')
        self.ships.show_stats(stats)
        self._wire_temporal()
        return stats

    def _wire_temporal(self):
        ctrl = self.canvas.temporalController() if hasattr(self.canvas, 'temporalController') else None
        if isinstance(ctrl, QgsTemporalNavigationObject):
            ctrl.setTemporalExtents(self.overlay.temporal_range())
            ctrl.setFrameDuration(self.overlay.frame_interval())

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
        self.ships.show_progress(tr('Importing {} … %p%').format(os.path.basename(path)))
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
        self.ships.show_progress(None)
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

    # --- map tools and sites ---------------------------------------------------------------------------

    def _tool_buttons(self):
        return {'pick': self.pick_btn, 'point': self.add_point_btn, 'polygon': self.add_area_btn,
                'move': self.move_btn, 'match': self.match_btn}

    def _toggle_tool(self, key, on):
        tool = self._tools[key]
        if on:
            if key not in ('pick', 'match') and not self.sites.ensure_store():
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

    def select_site(self, fid):
        """Select a site in the list and show the Sites tab. False if there is no such site."""
        if self.sites.select_site(fid):
            self.tabs.setCurrentWidget(self.sites)
            return True
        return False

    # --- housekeeping ----------------------------------------------------------------------------------

    def _project_cleared(self):
        """A new or another project: its layers are gone; the sites file of the old one is closed."""
        self.overlay.layer_ids.clear()
        self.sites.clear()

    def _project_file_changed(self, *_):
        if self.store is None:
            self.store_path.setFilePath(self.default_store_path())

    def _layers_removed(self, ids):
        ids = set(ids)
        for owned in (self.overlay.layer_ids, self.site_layers):
            for key, lid in list(owned.items()):
                if lid in ids:
                    owned.pop(key)

    def close_and_cleanup(self, remove_layers=True):
        """Called by the plugin's unload(): stop the import, release map tools, signals, the file and layers."""
        self.refresh_timer.stop()
        if self._task is not None or self._read_task is not None:
            self.cancel_import()
        self.watcher.stop()
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
        self.sites.close_store(remove_layers=remove_layers)
        if remove_layers:
            self.overlay.remove_all()
        self.data = None
