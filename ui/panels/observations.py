"""The selected site's dated observations (containers, TEU, pits, source, note): the table and its buttons,
including "From last run" (the counts of the last CargoWatch algorithm run in this QGIS session)."""

import time

from qgis.PyQt.QtCore import Qt
from qgis.PyQt.QtWidgets import QAbstractItemView, QHBoxLayout, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

from ...compat import set_text_alignment
from .. import run_results
from ..site_form import ObservationForm
from . import button, tr
from .vessels import RIGHT


class ObservationsPanel(QWidget):
    """Lives in the SitesPanel (``sites``): its store, its selected site, its host for messages and forms."""

    def __init__(self, sites, parent=None):
        super().__init__(parent)
        self.sites = sites
        self.obs_table = t = QTableWidget(0, 6)
        t.setHorizontalHeaderLabels([tr('Date'), tr('Containers'), tr('TEU'), tr('Pits'), tr('Source'),
                                     tr('Note')])
        t.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        t.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        t.verticalHeader().setVisible(False)
        t.horizontalHeader().setStretchLastSection(True)
        t.doubleClicked.connect(lambda _i: self.edit_selected_observation())
        row = QHBoxLayout()
        self.add_obs_btn = button(tr('+ Observation'), tr('Add a dated count for the selected site'),
                                  self.add_observation_dialog)
        self.from_run_btn = button(tr('From last run'), tr('Add the counts of the last CargoWatch algorithm '
                                                           'run (COUNT, TEU, pits)'), self.add_from_last_run)
        self.edit_obs_btn = button(tr('Edit…'), tr('Edit the selected observation'), self.edit_selected_observation)
        self.delete_obs_btn = button(tr('Delete'), tr('Delete the selected observation'),
                                     self.delete_selected_observation)
        for b in (self.add_obs_btn, self.from_run_btn, self.edit_obs_btn, self.delete_obs_btn):
            row.addWidget(b)
        row.addStretch(1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(row)
        lay.addWidget(t)

    def fill(self, observations):
        t = self.obs_table
        t.setRowCount(len(observations))
        for r, o in enumerate(observations):
            vals = (o.date, '' if o.containers is None else f'{o.containers:,}',
                    '' if o.teu is None else f'{o.teu:,.1f}', '' if o.pits is None else f'{o.pits:,}', o.source,
                    o.note)
            for c, text in enumerate(vals):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, o.fid)
                if 1 <= c <= 3:
                    set_text_alignment(item, RIGHT)
                t.setItem(r, c, item)
        t.resizeColumnsToContents()

    def _dialog(self, values=None, obs_fid=None, title=None):
        sites, host = self.sites, self.sites.host
        fid = sites.selected_site_fid()
        if fid is None:
            host.message(tr('Select a site first (Sites tab), then add its observation.'), 'Info', 4)
            return False
        saved = {}

        def save(v):
            if all(v[k] is None for k in ('containers', 'teu', 'pits')) and not v['note']:
                host.message(tr('Give at least one count (containers, TEU or pits) or a note.'), 'Warning')
                return False
            if obs_fid is None:
                res = sites.write(lambda: sites.store.add_observation(fid, **v))
            else:
                res = sites.write(lambda: sites.store.update_observation(obs_fid, **v) or True)
            saved['ok'] = res is not False
            return saved['ok']

        host.form_runner(ObservationForm(values=values, save=save, parent=self, title=title))
        if saved.get('ok'):
            sites.reload(select_fid=fid, rebuild=False)
        return bool(saved.get('ok'))

    def add_observation_dialog(self):
        return self._dialog(title=tr('New observation'))

    def selected_observation_fid(self):
        items = self.obs_table.selectedItems()
        return items[0].data(Qt.ItemDataRole.UserRole) if items else None

    def edit_selected_observation(self):
        ofid = self.selected_observation_fid()
        if ofid is None:
            self.sites.host.message(tr('Select an observation first.'), 'Info', 3)
            return False
        o = next(o for o in self.sites.store.observations(self.sites.selected_site_fid()) if o.fid == ofid)
        return self._dialog(values=vars(o), obs_fid=ofid, title=tr('Edit observation'))

    def delete_selected_observation(self):
        sites = self.sites
        ofid = self.selected_observation_fid()
        if ofid is None:
            sites.host.message(tr('Select an observation first.'), 'Info', 3)
            return False
        return sites.confirmed_write(tr('Delete this observation?'),
                                     lambda: sites.store.delete_observation(ofid) or True, rebuild=False)

    def add_from_last_run(self):
        last = run_results.last()
        if last is None:
            self.sites.host.message(tr('No CargoWatch count has run in this QGIS session yet: run "Count '
                                       'containers" or "Count pits" (Processing toolbox), then press this '
                                       'again.'), 'Info', 6)
            return False
        when, alg_id, display, results = last
        values = dict(run_results.counts_from_results(alg_id, results))
        values['source'] = tr('{} run at {}').format(display, time.strftime('%Y-%m-%d %H:%M', time.localtime(when)))
        return self._dialog(values=values, title=tr('Observation from {}').format(display))
