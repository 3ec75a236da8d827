"""The Sites tab: the sites GeoPackage (opened, created, watched for edits from other windows), the list of
sites and their map layers, adding/moving/editing/deleting sites, and below them the selected site's
observations and chart. ``changed``: the sites changed in a way that moves port calls (the dock redraws)."""

import os

import numpy as np
from qgis.core import QgsGeometry
from qgis.gui import QgsFileWidget
from qgis.PyQt.QtCore import Qt, QTimer, pyqtSignal
from qgis.PyQt.QtWidgets import (QAbstractItemView, QHBoxLayout, QHeaderView, QLabel, QSplitter, QTableWidget,
                                 QTableWidgetItem, QVBoxLayout, QWidget)

from ...compat import Q
from ...core.site_store import SiteStore, SiteStoreError
from ..overlay import sites_layer
from ..site_form import SiteForm
from . import button, tr
from .chart import SiteChart
from .observations import ObservationsPanel

SITE_RADIUS_M = 1500.0  # a point site counts positions within this radius for port calls


def geometry(site):
    g = QgsGeometry()
    g.fromWkb(site.wkb)
    return g


def latest_text(site):
    """'402 cont., 651 TEU (2024-05-20)': the latest observation's counts."""
    if not site.last_date:
        return ''
    parts = []
    if site.last_containers is not None:
        parts.append(tr('{:,} cont.').format(site.last_containers))
    if site.last_teu is not None:
        parts.append(tr('{:,.0f} TEU').format(site.last_teu))
    if site.last_pits is not None:
        parts.append(tr('{:,} pits').format(site.last_pits))
    return ', '.join(parts) + f' ({site.last_date})'


class SitesPanel(QWidget):
    changed = pyqtSignal()

    def __init__(self, overlay, project, host, parent=None):
        super().__init__(parent)
        self.overlay, self.project, self.host = overlay, project, host
        self.store = None
        self.site_list = []
        self.site_layers = {}  # 'points'/'areas' -> layer id
        self._version = None
        self.poll = QTimer(self)  # edits made by another QGIS window to the same sites file
        self.poll.setInterval(2000)
        self.poll.timeout.connect(self.poll_sites)
        lay = QVBoxLayout(self)
        lay.addLayout(self._file_row())
        lay.addLayout(self._site_buttons())
        self._build_table()
        self.observations = ObservationsPanel(self)
        self.chart = SiteChart()
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.sites_table)
        split.addWidget(self.observations)
        split.addWidget(self.chart)
        split.setStretchFactor(0, 2)
        split.setStretchFactor(1, 2)
        split.setStretchFactor(2, 3)
        lay.addWidget(split, 1)

    # --- widgets -----------------------------------------------------------------------------------

    def _file_row(self):
        row = QHBoxLayout()
        self.store_path = QgsFileWidget()
        self.store_path.setStorageMode(QgsFileWidget.StorageMode.SaveFile)
        self.store_path.setFilter(tr('GeoPackage (*.gpkg)'))
        self.store_path.setConfirmOverwrite(False)
        self.store_path.setFilePath(self.default_store_path())
        row.addWidget(QLabel(tr('Sites file')))
        row.addWidget(self.store_path, 1)
        self.open_store_btn = button(tr('Open'), tr('Open (or create) this sites GeoPackage'),
                                     lambda: self.open_store(self.store_path.filePath()))
        row.addWidget(self.open_store_btn)
        return row

    def _site_buttons(self):
        row = QHBoxLayout()
        self.add_point_btn = button(tr('+ Point'), tr('Click the map to add a point site'), checkable=True)
        self.add_area_btn = button(tr('+ Area'), tr('Click the outline of a site; right-click to finish'),
                                   checkable=True)
        self.move_btn = button(tr('Move'), tr('Drag a site on the map (a click selects it)'), checkable=True)
        self.edit_site_btn = button(tr('Edit…'), tr('Edit the selected site'), self.edit_selected_site)
        self.delete_site_btn = button(tr('Delete'), tr('Delete the selected site and its observations'),
                                      self.delete_selected_site)
        for b in (self.add_point_btn, self.add_area_btn, self.move_btn, self.edit_site_btn, self.delete_site_btn):
            row.addWidget(b)
        row.addStretch(1)
        return row

    def _build_table(self):
        self.sites_table = t = QTableWidget(0, 4)
        t.setHorizontalHeaderLabels([tr('Site'), tr('Kind'), tr('Country'), tr('Latest')])
        t.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        t.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        t.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        t.verticalHeader().setVisible(False)
        t.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        t.horizontalHeader().setStretchLastSection(True)
        t.itemSelectionChanged.connect(self._selection_changed)
        t.doubleClicked.connect(lambda _i: self.edit_selected_site())

    # --- the file ----------------------------------------------------------------------------------

    def default_store_path(self):
        p = self.project.fileName()
        if p:
            return os.path.join(os.path.dirname(p), os.path.splitext(os.path.basename(p))[0] + '_sites.gpkg')
        return os.path.join(os.path.expanduser('~'), 'cargowatch_sites.gpkg')

    def open_store(self, path):
        """Open (or create) the sites GeoPackage, show its sites on the map. False + message on failure."""
        path = (path or '').strip()
        if not path:
            self.host.message(tr('Choose a GeoPackage for the sites first.'), 'Warning')
            return False
        if not path.lower().endswith('.gpkg'):
            path += '.gpkg'
        try:
            store = SiteStore(path)
        except SiteStoreError as e:
            self.host.message(str(e), 'Critical', 0)
            return False
        self.close_store()
        self.store = store
        self.store_path.setFilePath(store.path)
        if store.read_only:
            self.host.message(tr('{} is read-only: sites are shown but cannot be edited.').format(store.path),
                              'Warning')
        self.reload(rebuild=False)
        self._version = store.data_version()
        self.poll.start()
        return True

    def ensure_store(self):
        """The store, opened from the file box if it is not yet; False (and a message) if it cannot be."""
        return self.store is not None or self.open_store(self.store_path.filePath())

    def poll_sites(self):
        """Reload the sites when another program changed the file. True if it did."""
        if self.store is None:
            return False
        try:
            version = self.store.data_version()
        except SiteStoreError:
            return False
        if self._version is None or version == self._version:
            self._version = version
            return False
        self._version = version
        self.reload()
        return True

    def close_store(self, remove_layers=True):
        self.poll.stop()
        self._version = None
        for key in list(self.site_layers) if remove_layers else ():
            lid = self.site_layers.pop(key)
            if self.project.mapLayer(lid) is not None:
                self.project.removeMapLayer(lid)
        if self.store is not None:
            self.store.close()
            self.store = None

    def write(self, fn):
        """Run a store write; a failure is a message and False (the form stays open, nothing is lost)."""
        if not self.ensure_store():
            return False
        try:
            return fn()
        except SiteStoreError as e:
            self.host.message(str(e), 'Critical', 0)
            return False

    # --- the list and the map ----------------------------------------------------------------------

    def _layer(self, kind):
        lid = self.site_layers.get(kind)
        lyr = self.project.mapLayer(lid) if lid else None
        if lyr is None:
            lyr = sites_layer(self.store.path, kind)
            if lyr is None:
                return None
            self.overlay.add_to_group(lyr, 0)
            self.site_layers[kind] = lyr.id()
        return lyr

    def reload(self, rebuild=True, select_fid=None):
        """Reload the sites from the file: list, map layers, chart; port calls (``changed``) if rebuild."""
        if self.store is None:
            return
        keep = select_fid if select_fid is not None else self.selected_site_fid()
        try:
            self.site_list = self.store.sites()
        except SiteStoreError as e:
            self.host.message(str(e), 'Critical', 0)
            return
        kinds = {geometry(s).type() for s in self.site_list if s.wkb}
        for kind, gtype in (('points', Q.POINT_GEOMETRY), ('areas', Q.POLYGON_GEOMETRY)):
            lyr = self._layer(kind) if (gtype in kinds or kind in self.site_layers) else None
            if lyr is not None:
                lyr.dataProvider().reloadData()
                lyr.updateExtents()
                lyr.triggerRepaint()
        t = self.sites_table
        t.blockSignals(True)
        t.setRowCount(len(self.site_list))
        for r, s in enumerate(self.site_list):
            for c, text in enumerate((s.name, s.kind, s.country, latest_text(s))):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, s.fid)
                t.setItem(r, c, item)
        t.resizeColumnsToContents()
        t.blockSignals(False)
        row = next((r for r, s in enumerate(self.site_list) if s.fid == keep), None)
        if row is not None:
            t.selectRow(row)
        self._selection_changed()
        if rebuild:
            self.changed.emit()

    def clear(self):
        """A new project: no sites file, nothing listed, the default file name next to the project."""
        self.site_layers.clear()
        self.close_store()
        self.site_list = []
        self.sites_table.setRowCount(0)
        self._selection_changed()
        self.store_path.setFilePath(self.default_store_path())

    def port_sites(self):
        """Sites as polygons (point sites as circles of SITE_RADIUS_M) for port calls."""
        out = []
        for s in self.site_list:
            if not s.wkb:
                continue
            g = geometry(s)
            if g.type() == Q.POINT_GEOMETRY:
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
                return True
        return False

    def find_site(self, box):
        """fid of a site under box (QgsRectangle in lon/lat), or None."""
        probe = QgsGeometry.fromRect(box)
        for s in self.site_list:
            if s.wkb and geometry(s).intersects(probe):
                return s.fid
        return None

    def _selection_changed(self):
        fid = self.selected_site_fid()
        obs = []
        if fid is not None and self.store is not None:
            try:
                obs = self.store.observations(fid)
            except SiteStoreError as e:
                self.host.message(str(e), 'Critical', 0)
        self.observations.fill(obs)
        self.chart.plot(obs, next((s.name for s in self.site_list if s.fid == fid), '') if fid is not None else '')

    # --- editing sites -----------------------------------------------------------------------------

    def add_site_dialog(self, geom):
        result = {}

        def save(values):
            fid = self.write(lambda: self.store.add_site(wkb=bytes(geom.asWkb()), **values))
            if fid is False:
                return False
            result['fid'] = fid
            return True

        self.host.form_runner(SiteForm(save=save, parent=self, title=tr('New site')))
        if 'fid' in result:
            self.reload(select_fid=result['fid'])
            self.host.message(tr('Site saved to {}.').format(os.path.basename(self.store.path)), 'Success', 3)
            return result['fid']
        return None

    def _selected_site(self):
        """The Site selected in the list, or None after telling the analyst to select one."""
        fid = self.selected_site_fid()
        site = next((s for s in self.site_list if s.fid == fid), None) if fid is not None else None
        if site is None:
            self.host.message(tr('Select a site first.'), 'Info', 3)
        return site

    def edit_selected_site(self):
        s = self._selected_site()
        if s is None:
            return False
        ok = {}

        def save(values):
            ok['saved'] = self.write(lambda: self.store.update_site(s.fid, **values) or True)
            return ok['saved']

        self.host.form_runner(SiteForm(values=vars(s), save=save, parent=self, title=tr('Edit site')))
        if ok.get('saved'):
            self.reload(select_fid=s.fid)
        return bool(ok.get('saved'))

    def move_site(self, fid, dx, dy):
        s = next((s for s in self.site_list if s.fid == fid), None)
        if s is None:
            return False
        g = geometry(s)
        g.translate(dx, dy)
        if self.write(lambda: self.store.update_site(fid, wkb=bytes(g.asWkb())) or True):
            self.reload(select_fid=fid)
            return True
        return False

    def delete_selected_site(self):
        s = self._selected_site()
        if s is None:
            return False
        return self.confirmed_write(tr('Delete site "{}" and its {} observations?').format(s.name, s.n_obs),
                                    lambda: self.store.delete_site(s.fid) or True)

    def confirmed_write(self, question, fn, **reload):
        """Ask first, then write and reload the list: True once done."""
        if not self.host.confirm(question) or not self.write(fn):
            return False
        self.reload(**reload)
        return True
