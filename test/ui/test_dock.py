"""The CargoWatch dock driven like an analyst would: load AIS, filter vessels and time, pick a ship, annotate
sites with observations, close and reopen the file. Real QGIS (pytest-qgis), real GeoPackages."""
import datetime as dt
import os

import numpy as np
import pytest
from osgeo import ogr, osr
from qgis.core import (QgsApplication, QgsCategorizedSymbolRenderer, QgsGeometry, QgsPointXY, QgsProject,
                       QgsRectangle, QgsVectorLayer)
from qgis.PyQt.QtCore import QDateTime, Qt
from qgis.PyQt.QtWidgets import QDialog

from cargowatch.ui import run_results
from cargowatch.ui.dock import CargoWatchDock
from cargowatch.ui.overlay import GROUP_NAME

T0 = int(dt.datetime(2024, 5, 1, tzinfo=dt.timezone.utc).timestamp())
STAR, PEARL, NONAME = 273000001, 273000002, 273000003
PORT = [(130.28, 42.22), (130.33, 42.22), (130.33, 42.26), (130.28, 42.26), (130.28, 42.22)]


def _positions():
    """Three vessels: STAR sails 30 h with an 8 h dark period, PEARL calls 3 h in the port, one has no name."""
    rows = []
    for k in range(180):  # every 10 min, 30 h, dark from step 60 to 108 (8 h)
        if 60 < k < 108:
            continue
        rows.append((STAR, T0 + 600 * k, 129.8 + 0.0025 * k, 41.9 + 0.0015 * k, 11.5, 60.0, 'NORTHERN STAR',
                     '9000001'))
    for k in range(60):  # 10 h: approach, 3 h in port (k 20..38), leave
        lon = 130.1 + 0.01 * min(k, 20) + (0.01 * (k - 38) if k > 38 else 0)
        rows.append((PEARL, T0 + 3600 + 600 * k, lon, 42.24, 0.2 if 20 <= k <= 38 else 9.0, 90.0, 'SEA PEARL',
                     '9000002'))
    for k in range(30):
        rows.append((NONAME, T0 + 600 * k, 129.5, 41.6 + 0.002 * k, 5.0, 0.0, '', ''))
    return rows


def write_ais_gpkg(path, rows=None, geom=ogr.wkbPoint, fields=True):
    ds = ogr.GetDriverByName('GPKG').CreateDataSource(str(path))
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(4326)
    lyr = ds.CreateLayer('positions', srs, geom)
    if fields:
        for name, kind in (('mmsi', ogr.OFTInteger64), ('time', ogr.OFTDateTime), ('sog', ogr.OFTReal),
                           ('cog', ogr.OFTReal), ('heading', ogr.OFTReal), ('name', ogr.OFTString),
                           ('imo', ogr.OFTString)):
            lyr.CreateField(ogr.FieldDefn(name, kind))
    else:
        lyr.CreateField(ogr.FieldDefn('label', ogr.OFTString))
    lyr.StartTransaction()
    for m, t, lon, lat, sog, cog, name, imo in (rows if rows is not None else _positions()):
        f = ogr.Feature(lyr.GetLayerDefn())
        if fields:
            f['mmsi'] = m
            f['time'] = dt.datetime.fromtimestamp(t, dt.timezone.utc).strftime('%Y/%m/%d %H:%M:%S+00')
            f['sog'], f['cog'], f['name'], f['imo'] = sog, cog, name, imo
        if geom == ogr.wkbPoint:
            f.SetGeometry(ogr.CreateGeometryFromWkt(f'POINT ({lon} {lat})'))
        else:
            f.SetGeometry(ogr.CreateGeometryFromWkt(f'POLYGON (({lon} {lat}, {lon + 1} {lat}, {lon} {lat + 1}, '
                                                    f'{lon} {lat}))'))
        lyr.CreateFeature(f)
    lyr.CommitTransaction()
    ds = None
    return str(path)


@pytest.fixture
def ais_layer(tmp_path, qgis_new_project):
    lyr = QgsVectorLayer(write_ais_gpkg(tmp_path / 'ais.gpkg'), 'AIS positions', 'ogr')
    assert lyr.isValid()
    QgsProject.instance().addMapLayer(lyr)
    return lyr


@pytest.fixture
def dock(qgis_iface, qgis_new_project):
    d = CargoWatchDock(qgis_iface)
    yield d
    d.close_and_cleanup()
    d.deleteLater()


def fill_and_accept(**values):
    """A form_runner: types values into the form's widgets and presses Save."""
    def run(dialog):
        for key, v in values.items():
            w = getattr(dialog, key)
            if hasattr(w, 'setPlainText'):
                w.setPlainText(v)
            elif hasattr(w, 'setCurrentText'):
                w.setCurrentText(v)
            elif hasattr(w, 'setDate'):
                w.setDate(w.date().fromString(v, 'yyyy-MM-dd'))
            elif hasattr(w, 'setValue'):
                w.setValue(v)
            else:
                w.setText(v)
        dialog.accept()
        run.results.append(dialog.result())
        return dialog.result()
    run.results = []
    return run


def layer(dock, key):
    return dock.overlay.layer(key)


def test_load_filter_pick(dock, ais_layer):
    dock.gap_hours.setValue(6)  # the data's one dark period lasts 8 h (the default threshold is 12 h)
    assert dock.load_layer(ais_layer)
    assert dock.model.rowCount() == 3
    names = {dock.model.data(dock.model.index(r, 0)) for r in range(3)}
    assert names == {'NORTHERN STAR', 'SEA PEARL', '—'}
    # real layers, grouped, styled by mmsi, wired to the temporal controller
    group = QgsProject.instance().layerTreeRoot().findGroup(GROUP_NAME)
    assert group is not None
    assert {n.layer().name() for n in group.findLayers()} >= {'Ship tracks', 'Ships', 'Dark periods'}
    tracks = layer(dock, 'tracks')
    assert isinstance(tracks.renderer(), QgsCategorizedSymbolRenderer)
    assert len(tracks.renderer().categories()) == 3
    assert tracks.temporalProperties().isActive()
    gaps = layer(dock, 'gaps')
    assert gaps.featureCount() == 1
    gap = next(gaps.getFeatures())
    assert gap['mmsi'] == STAR and gap['label'] == '8 h 00 min dark' and abs(gap['hours'] - 8.0) < 1e-6
    assert dock.last_stats['positions'] == len(_positions())

    # search and hide
    dock.search.setText('pearl')
    assert dock.proxy.rowCount() == 1
    dock.none_btn.click()
    assert dock.model.hidden == {PEARL}
    cats = {c.value(): c.renderState() for c in layer(dock, 'tracks').renderer().categories()}
    assert cats[PEARL] is False and cats[STAR] is True
    dock.search.clear()
    idx = dock.proxy.index(0, 0)
    dock.proxy.setData(idx, Qt.CheckState.Checked, Qt.ItemDataRole.CheckStateRole)
    dock.all_btn.click()
    assert dock.model.hidden == set()

    # time filter: the first 9 h only -> no dark period yet, fewer positions
    dock.t_to.setDateTime(dock.t_from.dateTime().addSecs(9 * 3600))
    stats = dock.refresh()
    assert stats['gaps'] == 0 and stats['positions'] < len(_positions())
    assert layer(dock, 'gaps').featureCount() == 0

    # pick a ship on the map
    mmsi = dock.pick_at(130.1 + 0.05, 42.24, QgsRectangle(130.1, 42.2, 130.2, 42.3))
    assert mmsi == PEARL
    assert dock.selected_mmsi() == [PEARL]
    html = dock.details.text()
    assert 'SEA PEARL' in html and '273000002' in html and 'IMO 9000002' in html and 'speed 9.0 kn' in html
    assert 'course 90°' in html
    assert 'heading' not in html  # NULL in the layer: not shown as 0
    assert np.isnan(dock.data.cols['heading']).all()
    assert dock.pick_at(0.0, 0.0, QgsRectangle(-0.1, -0.1, 0.1, 0.1)) is None

    dock.reset_time()
    dock.refresh()
    dock.table.selectRow(0)
    dock.zoom_to_selected()
    assert not dock.canvas.extent().isEmpty()


def test_bad_layers_and_empty_time_range(dock, tmp_path, ais_layer):
    poly = QgsVectorLayer(write_ais_gpkg(tmp_path / 'poly.gpkg', geom=ogr.wkbPolygon), 'areas', 'ogr')
    assert not dock.load_layer(poly)
    assert dock.last_message[0] == 'Warning' and 'not a point layer' in dock.last_message[1]
    plain = QgsVectorLayer(write_ais_gpkg(tmp_path / 'plain.gpkg', fields=False), 'plain points', 'ogr')
    assert not dock.load_layer(plain)
    assert 'no MMSI' in dock.last_message[1] and 'does not look like AIS' in dock.last_message[1]
    assert dock.load_layer(ais_layer)
    before = layer(dock, 'tracks').featureCount()
    dock.t_to.setDateTime(dock.t_from.dateTime().addSecs(-3600))
    assert dock.refresh() is None
    assert dock.last_message[0] == 'Warning' and 'time range is empty' in dock.last_message[1]
    assert layer(dock, 'tracks').featureCount() == before  # the map keeps the previous range


def test_positions_on_demand_and_port_calls(dock, ais_layer, tmp_path):
    assert dock.open_store(str(tmp_path / 'sites.gpkg'))
    dock.form_runner = fill_and_accept(name='Rajin port', kind='port', country='KP')
    fid = dock.add_site_dialog(QgsGeometry.fromPolygonXY([[QgsPointXY(x, y) for x, y in PORT]]))
    assert fid is not None
    dock.load_layer(ais_layer)
    assert layer(dock, 'positions') is None
    dock.show_positions.setChecked(True)
    dock.refresh()
    assert layer(dock, 'positions').featureCount() == len(_positions())
    calls = layer(dock, 'calls')
    assert calls.featureCount() == 1
    call = next(calls.getFeatures())
    assert call['mmsi'] == PEARL and call['site'] == 'Rajin port' and call['hours'] >= 3.0


def test_sites_observations_survive_reopen(qgis_iface, qgis_new_project, tmp_path):
    path = str(tmp_path / 'sites.gpkg')
    dock = CargoWatchDock(qgis_iface)
    assert dock.open_store(path)
    dock.form_runner = fill_and_accept(name='Tumangang depot', kind='depot', country='KP', notes='fenced')
    depot = dock.add_site_dialog(QgsGeometry.fromPolygonXY([[QgsPointXY(x, y) for x, y in PORT]]))
    dock.form_runner = fill_and_accept(name='Rajin port', kind='port')
    port = dock.add_site_dialog(QgsGeometry.fromPointXY(QgsPointXY(130.3, 42.24)))
    assert {dock.sites_table.item(r, 0).text() for r in range(2)} == {'Tumangang depot', 'Rajin port'}
    assert {n.layer().name() for n in QgsProject.instance().layerTreeRoot().findGroup(GROUP_NAME).findLayers()} \
        >= {'Sites', 'Site areas'}

    # observations by hand: the pits climbing past 100
    assert dock.select_site(depot)
    for date, pits in (('2024-01-10', 60), ('2024-03-02', 85), ('2024-05-20', 112)):
        dock.form_runner = fill_and_accept(date=date, pits=pits, source='WV3')
        assert dock.add_observation_dialog()
    assert dock.obs_table.rowCount() == 3
    assert dock.chart.canvas is None or dock.chart.drawn_series == 1
    areas = dock.overlay.project.mapLayer(dock.site_layers['areas'])
    f = next(areas.getFeatures())
    assert f['last_pits'] == 112
    # edit an observation and the site
    dock.obs_table.selectRow(2)
    dock.form_runner = fill_and_accept(pits=118, note='recount')
    assert dock.edit_selected_observation()
    dock.form_runner = fill_and_accept(name='Tumangang rail depot')
    assert dock.edit_selected_site()
    # move the port with the map tool's signal (0.01° east)
    assert dock.move_site(port, 0.01, 0.0)
    # an observation from the last CargoWatch run
    assert dock.select_site(port)
    dock.form_runner = fill_and_accept()
    assert not dock.add_from_last_run() or run_results.last() is not None
    run_results.record('cargowatch:countcontainers', {'OUTPUT': 'x.gpkg', 'COUNT': 240, 'TEU': 361.5},
                       'Count containers')
    dock.form_runner = fill_and_accept(date='2024-05-21')
    assert dock.add_from_last_run()
    # the empty observation is refused and the form stays open
    dock.form_runner = fill_and_accept()
    assert not dock.add_observation_dialog()
    assert dock.form_runner.results == [QDialog.DialogCode.Rejected]
    dock.close_and_cleanup()
    assert QgsProject.instance().layerTreeRoot().findGroup(GROUP_NAME) is None
    dock.deleteLater()

    # close and reopen: all there
    dock2 = CargoWatchDock(qgis_iface)
    assert dock2.open_store(path)
    sites = {s.name: s for s in dock2.store.sites()}
    assert set(sites) == {'Tumangang rail depot', 'Rajin port'}
    obs = dock2.store.observations(sites['Tumangang rail depot'].fid)
    assert [(o.date, o.pits) for o in obs] == [('2024-01-10', 60), ('2024-03-02', 85), ('2024-05-20', 118)]
    assert obs[-1].note == 'recount'
    port_obs = dock2.store.observations(sites['Rajin port'].fid)
    assert [(o.containers, o.teu) for o in port_obs] == [(240, 361.5)]
    assert 'Count containers' in port_obs[0].source
    g = QgsGeometry()
    g.fromWkb(sites['Rajin port'].wkb)
    assert abs(g.asPoint().x() - 130.31) < 1e-9
    dock2.close_and_cleanup()


def test_read_only_or_locked_store_loses_nothing(dock, tmp_path):
    import sqlite3
    path = str(tmp_path / 'sites.gpkg')
    assert dock.open_store(path)
    dock.form_runner = fill_and_accept(name='Depot')
    fid = dock.add_site_dialog(QgsGeometry.fromPointXY(QgsPointXY(1, 2)))
    dock.store.timeout_s = 0.2
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute('BEGIN EXCLUSIVE')
    try:
        assert dock.select_site(fid)
        dock.form_runner = fill_and_accept(pits=7)
        assert not dock.add_observation_dialog()
        assert dock.last_message[0] == 'Critical' and 'locked' in dock.last_message[1]
        assert dock.form_runner.results == [QDialog.DialogCode.Rejected]  # the form stayed open
    finally:
        holder.execute('ROLLBACK')
        holder.close()
    assert dock.add_observation_dialog()  # same form, now it saves
    assert dock.store.site(fid).last_pits == 7

    # read-only: shown, not editable, clear message
    from cargowatch.core.site_store import SiteStore
    dock.sites.close_store()
    dock.sites.store = SiteStore(path, read_only=True)
    dock.sites.reload(rebuild=False)
    dock.form_runner = fill_and_accept(name='Lost?')
    assert dock.add_site_dialog(QgsGeometry.fromPointXY(QgsPointXY(3, 4))) is None
    assert 'read-only' in dock.last_message[1]
    assert [s.name for s in dock.store.sites()] == ['Depot']
    # a folder that cannot hold the file
    assert not dock.open_store('/proc/cargowatch/sites.gpkg')
    assert dock.last_message[0] == 'Critical'


def test_close_and_cleanup_leaves_nothing(qgis_iface, qgis_new_project, ais_layer, tmp_path):
    dock = CargoWatchDock(qgis_iface)
    dock.load_layer(ais_layer)
    dock.open_store(str(tmp_path / 's.gpkg'))
    dock.pick_btn.setChecked(True)
    assert dock.canvas.mapTool() is dock._tools['pick']
    dock.close_and_cleanup()
    assert dock.canvas.mapTool() is not dock._tools['pick']
    assert QgsProject.instance().layerTreeRoot().findGroup(GROUP_NAME) is None
    assert [lyr.name() for lyr in QgsProject.instance().mapLayers().values()] == ['AIS positions']
    dock.deleteLater()


def test_import_runs_in_background(dock, tmp_path):
    if QgsApplication.processingRegistry().algorithmById('cargowatch:importais') is None:
        pytest.skip('cargowatch:importais not there yet')
    src = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'shared', 'data', 'ais',
                       'SolentAIS_20160112_130211.csv')
    if not os.path.exists(src):
        pytest.skip(f'the shared AIS sample {os.path.abspath(src)} not found (../shared is not part of the checkout)')
    task = dock.import_file(src, output=str(tmp_path / 'solent.gpkg'))
    assert task is not None and dock.progress_row.isVisibleTo(dock)
    import time
    deadline = time.time() + 120
    while dock._task is not None and time.time() < deadline:
        QgsApplication.processEvents()
        time.sleep(0.02)
    assert dock._task is None, 'import did not finish'
    assert dock.data is not None and dock.data.n_vessels > 50, dock.last_message
    assert set(dock.data.v_imo) == {''}  # NULL IMO in the file: shown empty, not as -1 or 0
    assert not dock.progress_row.isVisibleTo(dock)
    node = QgsProject.instance().layerTreeRoot().findLayer(dock.ais_layer_id)
    assert node is not None and not node.itemVisibilityChecked()  # raw points hidden under the overlay


def test_temporal_controller_animates_ships(dock, ais_layer):
    from qgis.core import QgsDateTimeRange, QgsFeatureRequest, QgsVectorLayerTemporalContext
    dock.load_layer(ais_layer)
    ships, tracks = layer(dock, 'ships'), layer(dock, 'tracks')

    def visible(lyr, t_a, t_b):
        ctx = QgsVectorLayerTemporalContext()
        ctx.setLayer(lyr)
        rng = QgsDateTimeRange(QDateTime.fromSecsSinceEpoch(t_a, Qt.TimeSpec.UTC),
                               QDateTime.fromSecsSinceEpoch(t_b, Qt.TimeSpec.UTC))
        expr = lyr.temporalProperties().createFilterString(ctx, rng)
        return list(lyr.getFeatures(QgsFeatureRequest().setFilterExpression(expr)))

    # 2 h in: every vessel has exactly one ship marker in a 1-minute frame, at the right time
    t = T0 + 2 * 3600
    frame = visible(ships, t, t + 60)
    assert sorted(f['mmsi'] for f in frame) == [STAR, PEARL, NONAME]
    assert all(f['t_start'] <= t + 60 and f['t_end'] >= t for f in frame)
    # tracks grow: later frames show more track pieces, earlier ones stay
    early = {f.id() for f in visible(tracks, T0, T0 + 3600)}
    late = {f.id() for f in visible(tracks, T0 + 20 * 3600, T0 + 21 * 3600)}
    assert early and early < late
    # the canvas' temporal controller spans the data
    ctrl = dock.canvas.temporalController()
    if hasattr(ctrl, 'temporalExtents'):
        assert ctrl.temporalExtents().begin().toSecsSinceEpoch() <= T0 + 600


def test_vessel_colour_and_show_only(dock, ais_layer):
    dock.load_layer(ais_layer)
    dock.set_vessel_color(PEARL, '#123456')
    r = layer(dock, 'tracks').renderer()
    cats = r.categories()  # copies: keep them alive while their symbols are read
    assert cats[r.categoryIndexForValue(PEARL)].symbol().symbolLayer(1).color().name() == '#123456'
    row = dock.data.row_of[PEARL]
    icon = dock.model.data(dock.model.index(row, 0), Qt.ItemDataRole.DecorationRole)
    assert icon.pixmap(14, 14).toImage().pixelColor(7, 7).name() == '#123456'
    dock.show_only([STAR])
    assert dock.model.hidden == {PEARL, NONAME}
    states = {c.value(): c.renderState() for c in layer(dock, 'ships').renderer().categories()}
    assert states == {STAR: True, PEARL: False, NONAME: False}
    dock.refresh()  # a rebuild keeps colours and visibility
    r = layer(dock, 'tracks').renderer()
    cats = r.categories()
    assert cats[r.categoryIndexForValue(PEARL)].symbol().symbolLayer(1).color().name() == '#123456'
    assert not cats[r.categoryIndexForValue(PEARL)].renderState()


def test_plugin_toolbar_button_opens_the_dock(qgis_iface, qgis_new_project, ais_layer):
    from cargowatch.plugin import CargoWatchPlugin
    plugin = CargoWatchPlugin(qgis_iface)
    plugin.initGui()  # the session's provider is already registered: the plugin leaves it alone
    plugin.action.trigger()
    assert isinstance(plugin.dock, CargoWatchDock) and plugin.action.isChecked()
    assert plugin.dock.load_layer(ais_layer)
    assert QgsProject.instance().layerTreeRoot().findGroup(GROUP_NAME) is not None
    plugin.unload()
    assert plugin.dock is None
    assert QgsProject.instance().layerTreeRoot().findGroup(GROUP_NAME) is None


def _click(tool, canvas, lon, lat, kind='release', button=None):
    from qgis.core import QgsPointXY as P
    from qgis.gui import QgsMapMouseEvent
    from qgis.PyQt.QtCore import QEvent, QPoint
    px = canvas.getCoordinateTransform().transform(P(lon, lat))
    types = {'press': QEvent.Type.MouseButtonPress, 'release': QEvent.Type.MouseButtonRelease,
             'move': QEvent.Type.MouseMove}
    button = button or Qt.MouseButton.LeftButton
    ev = QgsMapMouseEvent(canvas, types[kind], QPoint(int(round(px.x())), int(round(px.y()))), button,
                          button if kind != 'release' else Qt.MouseButton.NoButton)
    {'press': tool.canvasPressEvent, 'release': tool.canvasReleaseEvent, 'move': tool.canvasMoveEvent}[kind](ev)


def test_map_tools_like_a_user(dock, ais_layer, tmp_path):
    from qgis.core import QgsCoordinateReferenceSystem
    canvas = dock.canvas
    canvas.resize(800, 600)
    canvas.setDestinationCrs(QgsCoordinateReferenceSystem('EPSG:4326'))
    canvas.setExtent(QgsRectangle(129.4, 41.5, 130.6, 42.5))
    dock.load_layer(ais_layer)
    canvas.setExtent(QgsRectangle(129.4, 41.5, 130.6, 42.5))
    # pick: click right on SEA PEARL's track
    dock.pick_btn.setChecked(True)
    assert canvas.mapTool() is dock._tools['pick']
    _click(dock._tools['pick'], canvas, 130.2, 42.24)
    assert dock.selected_mmsi() == [PEARL] and 'SEA PEARL' in dock.details.text()
    # a point site: + Point, click, fill in the form
    dock.store_path.setFilePath(str(tmp_path / 'sites.gpkg'))
    dock.form_runner = fill_and_accept(name='Clicked depot', kind='depot')
    dock.add_point_btn.setChecked(True)
    assert canvas.mapTool() is dock._tools['point'] and not dock.pick_btn.isChecked()
    _click(dock._tools['point'], canvas, 129.9, 42.0)
    s = dock.store.sites()[0]
    g = QgsGeometry()
    g.fromWkb(s.wkb)
    assert s.name == 'Clicked depot' and abs(g.asPoint().x() - 129.9) < 0.01 and abs(g.asPoint().y() - 42.0) < 0.01
    # an area: + Area, four clicks, right-click to finish
    dock.form_runner = fill_and_accept(name='Drawn port', kind='port')
    dock.add_area_btn.setChecked(True)
    tool = dock._tools['polygon']
    for lon, lat in PORT[:4]:
        _click(tool, canvas, lon, lat)
    _click(tool, canvas, 130.0, 42.0, button=Qt.MouseButton.RightButton)
    area = next(x for x in dock.store.sites() if x.name == 'Drawn port')
    g = QgsGeometry()
    g.fromWkb(area.wkb)
    assert g.type() == QgsGeometry.fromPolygonXY([[QgsPointXY(0, 0), QgsPointXY(1, 0), QgsPointXY(0, 1)]]).type()
    assert abs(g.area() - 0.05 * 0.04) < 0.05 * 0.04 * 0.6  # clicks snap to whole pixels
    # move the depot: press on it, drag, release
    dock.move_btn.setChecked(True)
    tool = dock._tools['move']
    _click(tool, canvas, 129.9, 42.0, 'press')
    _click(tool, canvas, 129.95, 42.05, 'move')
    _click(tool, canvas, 130.0, 42.1, 'release')
    s = next(x for x in dock.store.sites() if x.name == 'Clicked depot')
    g = QgsGeometry()
    g.fromWkb(s.wkb)
    assert abs(g.asPoint().x() - 130.0) < 0.01 and abs(g.asPoint().y() - 42.1) < 0.01
    # a click without a drag selects the site in the list
    _click(tool, canvas, 130.0, 42.1, 'press')
    _click(tool, canvas, 130.0, 42.1, 'release')
    assert dock.selected_site_fid() == s.fid and dock.tabs.currentIndex() == 1
    dock.move_btn.setChecked(False)
    assert canvas.mapTool() is not tool


def test_edits_from_another_window_show_up(dock, tmp_path):
    from cargowatch.core.site_store import SiteStore
    path = str(tmp_path / 'shared.gpkg')
    assert dock.open_store(path)
    assert not dock.poll_sites()
    with SiteStore(path) as other:  # another QGIS window on the same file
        fid = other.add_site('From the other window', wkt='POINT (10 20)', kind='depot')
        other.add_observation(fid, '2024-02-02', pits=9)
    assert dock.poll_sites()
    assert [dock.sites_table.item(r, 0).text() for r in range(dock.sites_table.rowCount())] == \
        ['From the other window']
    assert not dock.poll_sites()


def _wait_import(dock, seconds=120):
    import time
    deadline = time.time() + seconds
    while dock._task is not None and time.time() < deadline:
        QgsApplication.processEvents()
        time.sleep(0.02)
    assert dock._task is None, 'import did not finish'


def test_import_cancel_and_failure_are_reported(dock, tmp_path):
    if QgsApplication.processingRegistry().algorithmById('cargowatch:importais') is None:
        pytest.skip('cargowatch:importais not there yet')
    junk = tmp_path / 'notes.csv'
    junk.write_text('this,is,not\nan,ais,file\n')
    assert dock.import_file(str(junk), output=str(tmp_path / 'junk.gpkg')) is not None
    _wait_import(dock)
    assert dock.last_message[0] == 'Critical' and 'Import of notes.csv failed: cannot tell' in dock.last_message[1]
    assert dock.data is None and dock.import_btn.isEnabled()
    src = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'shared', 'data', 'ais', 'gpsd_ais-nmea.log')
    if not os.path.exists(src):
        pytest.skip(f'the shared AIS sample {os.path.abspath(src)} not found (../shared is not part of the checkout)')
    assert dock.import_file(src, output=str(tmp_path / 'cancelled.gpkg')) is not None
    dock.cancel_import()
    _wait_import(dock)
    assert dock.data is None
    assert dock.last_message[1].startswith('Import of gpsd_ais-nmea.log') and (
        'cancelled' in dock.last_message[1] or 'failed' in dock.last_message[1])


def test_memory_layer_with_local_datetimes_reads_as_utc(dock):
    """A layer that is not a file (feature-by-feature path): times without a zone are taken as UTC."""
    from qgis.core import QgsFeature
    lyr = QgsVectorLayer('Point?crs=EPSG:3857&field=MMSI:long&field=Timestamp:datetime&field=SOG:double',
                         'memory AIS', 'memory')
    feats = []
    for k in range(10):
        f = QgsFeature(lyr.fields())
        f.setGeometry(QgsGeometry.fromPointXY(QgsPointXY(1113194.9 + 100 * k, 0)))  # lon 10°
        f.setAttributes([211000001 + k % 2, QDateTime.fromString(f'2024-05-01T0{k}:00:00', Qt.DateFormat.ISODate),
                         5.0])
        feats.append(f)
    lyr.dataProvider().addFeatures(feats)
    QgsProject.instance().addMapLayer(lyr)
    assert dock.load_layer(lyr)
    assert dock.data.n_vessels == 2 and dock.data.time_range()[0] == T0
    assert abs(dock.data.cols['lon'][0] - 10.0) < 1e-4


def test_sites_file_defaults_next_to_the_project(dock, tmp_path):
    QgsProject.instance().setFileName(str(tmp_path / 'harbour watch.qgz'))
    assert dock.store_path.filePath() == str(tmp_path / 'harbour watch_sites.gpkg')
    assert dock.open_store(dock.store_path.filePath())
    dock.form_runner = fill_and_accept(name='Pier 3')
    assert dock.add_site_dialog(QgsGeometry.fromPointXY(QgsPointXY(1, 1))) is not None
    QgsProject.instance().clear()  # another project: the file is closed, nothing dangles
    assert dock.store is None and dock.sites_table.rowCount() == 0
    assert os.path.exists(tmp_path / 'harbour watch_sites.gpkg')


def test_delete_site_asks_first(dock, tmp_path):
    assert dock.open_store(str(tmp_path / 's.gpkg'))
    assert not dock.delete_selected_site() and 'Select a site' in dock.last_message[1]
    dock.form_runner = fill_and_accept(name='Old depot')
    fid = dock.add_site_dialog(QgsGeometry.fromPointXY(QgsPointXY(5, 5)))
    dock.select_site(fid)
    dock.confirm = lambda text: False
    assert not dock.delete_selected_site() and len(dock.store.sites()) == 1
    dock.confirm = lambda text: 'Old depot' in text
    assert dock.delete_selected_site() and dock.store.sites() == []
    assert dock.sites_table.rowCount() == 0


def test_run_watcher_records_cargowatch_tasks(dock, tmp_path):
    """A CargoWatch algorithm run as a task (as the Processing dialog does) is recorded with its results."""
    from qgis.core import QgsProcessingAlgRunnerTask, QgsProcessingContext, QgsProcessingFeedback
    alg = QgsApplication.processingRegistry().createAlgorithmById('cargowatch:detectgaps')
    if alg is None:
        pytest.skip('cargowatch:detectgaps not there yet')
    ctx, fb = QgsProcessingContext(), QgsProcessingFeedback()
    task = QgsProcessingAlgRunnerTask(alg, {'INPUT': write_ais_gpkg(tmp_path / 'a.gpkg'), 'MIN_GAP': 6 * 3600 * 1000,
                                            'OUTPUT': str(tmp_path / 'gaps.gpkg')}, ctx, fb)
    seen = []
    dock.watcher.recorded.connect(seen.append)
    QgsApplication.taskManager().addTask(task)
    import time
    deadline = time.time() + 60
    while not seen and time.time() < deadline:
        QgsApplication.processEvents()
        time.sleep(0.02)
    assert seen == ['cargowatch:detectgaps']
    when, alg_id, display, results = run_results._RESULTS[-1]
    assert alg_id == 'cargowatch:detectgaps' and results['GAP_COUNT'] == 1
    assert run_results.counts_from_results(alg_id, results) == {}  # a gap count is not a site count
    assert run_results.counts_from_results('cargowatch:countpits', {'COUNT': 112}) == {'pits': 112}
    assert run_results.counts_from_results('cargowatch:countcontainers', {'COUNT': 40.0, 'TEU': 61.5}) == \
        {'containers': 40, 'teu': 61.5}


def _wait(cond, seconds=60):
    import time
    deadline = time.time() + seconds
    while not cond() and time.time() < deadline:
        QgsApplication.processEvents()
        time.sleep(0.02)
    return cond()


def test_show_reads_in_the_background(dock, ais_layer):
    results = []
    dock.layerLoaded.connect(results.append)
    dock.layer_combo.setLayer(ais_layer)
    dock.load_btn.click()  # "Show": a task reads the layer, the UI stays live
    assert dock.progress_row.isVisibleTo(dock) and not dock.load_btn.isEnabled()
    assert _wait(lambda: results)
    assert results == [True] and dock.data.n_vessels == 3 and layer(dock, 'tracks').featureCount() > 0
    assert not dock.progress_row.isVisibleTo(dock) and dock.load_btn.isEnabled()
    # cancelled straight away: nothing drawn, a calm message
    dock2_results = []
    dock.layerLoaded.connect(dock2_results.append)
    dock.data = None
    assert dock.load_layer(ais_layer, background=True)
    dock.cancel_btn.click()
    assert _wait(lambda: dock2_results)
    if dock2_results == [False]:
        assert dock.data is None and 'cancelled' in dock.last_message[1]


def test_sites_panel_works_without_the_dock(qgis_new_project, tmp_path):
    """A panel is a piece on its own: the sites panel with a bare host (messages, forms, confirmations)."""
    from types import SimpleNamespace
    from cargowatch.ui.overlay import Overlay
    from cargowatch.ui.panels.sites import SITE_RADIUS_M, SitesPanel
    said = []
    host = SimpleNamespace(message=lambda text, level='Info', duration=6: said.append((level, text)),
                           form_runner=fill_and_accept(name='Lone pier', kind='port'), confirm=lambda text: True)
    project = QgsProject.instance()
    panel = SitesPanel(Overlay(project), project, host)
    redraws = []
    panel.changed.connect(lambda: redraws.append(1))
    assert not panel.open_store('')  # no file chosen: told so
    assert said[-1][0] == 'Warning'
    assert panel.open_store(str(tmp_path / 'alone'))  # .gpkg added
    fid = panel.add_site_dialog(QgsGeometry.fromPointXY(QgsPointXY(10.0, 50.0)))
    assert fid is not None and redraws == [1] and panel.selected_site_fid() == fid
    assert panel.sites_table.item(0, 0).text() == 'Lone pier' and panel.store.path.endswith('alone.gpkg')
    assert project.mapLayer(panel.site_layers['points']).featureCount() == 1
    ring = panel.port_sites()[0]['parts'][0][0]  # a point site counts positions within SITE_RADIUS_M
    assert abs((ring[:, 1].max() - 50.0) * 111320.0 - SITE_RADIUS_M) < 1.0
    assert panel.find_site(QgsRectangle(9.99, 49.99, 10.01, 50.01)) == fid
    assert panel.delete_selected_site() and panel.sites_table.rowCount() == 0 and redraws == [1, 1]
    panel.close_store()
    assert panel.store is None and not panel.site_layers


def test_dock_is_built_from_panels(dock):
    """The dock is its panels, assembled: each file fits in a reader's head, and so does Overlay.rebuild."""
    import inspect
    from pathlib import Path
    import cargowatch.ui as ui
    from cargowatch.ui.overlay import Overlay
    from cargowatch.ui.panels.ships import ShipsPanel
    from cargowatch.ui.panels.sites import SitesPanel
    assert isinstance(dock.ships, ShipsPanel) and dock.tabs.widget(0) is dock.ships
    assert isinstance(dock.sites, SitesPanel) and dock.tabs.widget(1) is dock.sites
    assert dock.details is dock.ships.details and dock.obs_table is dock.sites.observations.obs_table
    folder = Path(ui.__file__).parent
    long_files = {f.name: n for f in [folder / 'dock.py', *(folder / 'panels').glob('*.py')]
                  if (n := len(f.read_text(encoding='utf-8').splitlines())) > 400}
    assert not long_files
    assert len(inspect.getsource(Overlay.rebuild).splitlines()) <= 40
