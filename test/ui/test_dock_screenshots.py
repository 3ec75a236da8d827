"""Render the canvas with the CargoWatch overlays and the dock itself to PNG (offscreen), on real AIS data:
the Solent sample (91 vessels, 84 min, dstl/Stone-Soup, MIT) over QGIS's bundled world map.
The pictures are checked for content, not pixels. They are copied to docs/img/ (the README's screenshots) when
CARGOWATCH_SCREENSHOTS=1 or when missing there, so an ordinary test run leaves the checkout clean."""
import os
import time

import pytest
from qgis.core import (QgsApplication, QgsCoordinateReferenceSystem, QgsFillSymbol, QgsGeometry, QgsPointXY, QgsProject,
                       QgsRectangle, QgsSingleSymbolRenderer, QgsVectorLayer)
from qgis.PyQt.QtCore import QSize
from qgis.PyQt.QtGui import QColor, QImage, QPainter

from cargowatch.ui.dock import CargoWatchDock
from helpers.paths import ROOT, SHARED_AIS

from test_dock import fill_and_accept

IMG = ROOT / 'docs' / 'img'


def keep(path):
    """Copy a rendered picture into docs/img/ when asked (or when it is not there yet)."""
    import shutil
    target = IMG / path.name
    if os.environ.get('CARGOWATCH_SCREENSHOTS') == '1' or not target.exists():
        IMG.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
WORLD = '/usr/share/qgis/resources/data/world_map.gpkg'
SOLENT = SHARED_AIS / 'SolentAIS_20160112_130211.csv'

SITES = [  # name, kind, geometry, observations (date, containers, teu, pits)
    ('Portsmouth Intl Port', 'port', [(-1.0935, 50.8105), (-1.0845, 50.8105), (-1.0845, 50.8185),
                                      (-1.0935, 50.8185)],
     [('2023-11-02', 310, 480, None), ('2024-02-14', 355, 560, None), ('2024-05-20', 402, 651, None)]),
    ('Fawley marine terminal', 'depot', [(-1.345, 50.825)],
     [('2024-01-10', None, None, 64), ('2024-03-02', None, None, 88), ('2024-05-20', None, None, 112)]),
    ('Cowes', 'port', [(-1.2960, 50.7630)], []),
]


def _land():
    land = QgsVectorLayer(WORLD + '|layername=countries', 'Land (QGIS world map)', 'ogr')
    land.setRenderer(QgsSingleSymbolRenderer(QgsFillSymbol.createSimple(
        {'color': '#ecebe4', 'outline_color': '#b9b4a6', 'outline_width': '0.3'})))
    return land


@pytest.fixture
def solent(qgis_iface, qgis_new_project, tmp_path):
    if not SOLENT.exists() or not os.path.exists(WORLD):
        pytest.skip('Solent AIS sample or the QGIS world map missing')
    dock = CargoWatchDock(qgis_iface)
    dock.resize(460, 860)
    assert dock.open_store(str(tmp_path / 'solent_sites.gpkg'))
    for name, kind, pts, obs in SITES:
        geom = (QgsGeometry.fromPointXY(QgsPointXY(*pts[0])) if len(pts) == 1 else
                QgsGeometry.fromPolygonXY([[QgsPointXY(*p) for p in pts + pts[:1]]]))
        dock.form_runner = fill_and_accept(name=name, kind=kind, country='GB')
        fid = dock.add_site_dialog(geom)
        dock.select_site(fid)
        for date, cont, teu, pits in obs:
            vals = {'date': date, 'source': 'Pléiades Neo' if pits else 'WorldView-3'}
            vals.update({k: v for k, v in (('containers', cont), ('teu', teu), ('pits', pits)) if v is not None})
            dock.form_runner = fill_and_accept(**vals)
            assert dock.add_observation_dialog()
    dock.gap_hours.setValue(0.25)  # in 84 min of data, 15 min without a position is a dark period
    # imported the way an analyst does it: "Import…" runs cargowatch:importais in the background
    if QgsApplication.processingRegistry().algorithmById('cargowatch:importais') is not None:
        assert dock.import_file(str(SOLENT), output=str(tmp_path / 'solent_positions.gpkg')) is not None
        deadline = time.time() + 120
        while dock._task is not None and time.time() < deadline:
            QgsApplication.processEvents()
            time.sleep(0.02)
        ais = dock.overlay.project.mapLayer(dock.ais_layer_id)
    else:  # the raw CSV through QGIS's delimited text provider
        uri = (f'file://{SOLENT}?type=csv&xField=Longitude_degrees&yField=Latitude_degrees&crs=EPSG:4326'
               '&spatialIndex=no&subsetIndex=no&watchFile=no')
        ais = QgsVectorLayer(uri, 'Solent AIS 2016-01-12', 'delimitedtext')
        QgsProject.instance().addMapLayer(ais, False)
        assert dock.load_layer(ais)
    assert dock.data is not None, dock.last_message
    yield dock, ais
    dock.close_and_cleanup()
    dock.deleteLater()


def _render_canvas(canvas, dock, path, extent, size=QSize(1400, 900)):
    root = QgsProject.instance().layerTreeRoot()
    land = _land()
    QgsProject.instance().addMapLayer(land, False)
    layers = [n.layer() for n in root.findGroup('CargoWatch').findLayers() if n.isVisible()] + [land]
    canvas.resize(size)
    canvas.setDestinationCrs(QgsCoordinateReferenceSystem('EPSG:3857'))
    canvas.setCanvasColor(QColor('#cfe1ec'))
    canvas.setLayers(layers)
    canvas.setExtent(extent)
    canvas.refreshAllLayers()
    canvas.waitWhileRendering()
    # the canvas' own settings, rendered synchronously with labels (what the canvas shows)
    from qgis.core import QgsMapRendererCustomPainterJob
    settings = canvas.mapSettings()
    settings.setOutputSize(size)
    img = QImage(size, QImage.Format.Format_ARGB32)
    img.fill(QColor('#cfe1ec'))
    p = QPainter(img)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    job = QgsMapRendererCustomPainterJob(settings, p)
    job.start()
    job.waitForFinished()
    _caption_and_legend(p, dock, size)
    p.end()
    img.save(str(path))
    return img


def _caption_and_legend(p, dock, size):
    """A title and a legend drawn with the layers' own symbols, as a map for a report would have."""
    from qgis.PyQt.QtCore import QRectF, Qt
    from qgis.PyQt.QtGui import QFont
    st = dock.last_stats
    t0, t1 = dock.time_range()
    import datetime as dt
    a = dt.datetime.fromtimestamp(t0, dt.timezone.utc)
    b = dt.datetime.fromtimestamp(t1, dt.timezone.utc)
    title = f'The Solent · {a:%d %b %Y} {a:%H:%M}–{b:%H:%M} UTC'
    sub = (f"{st['vessels']} vessels · {st['positions']:,} AIS positions · {st['gaps']} dark periods ≥ 15 min · "
           f"{st['calls']} port calls")
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(QColor(255, 255, 255, 225))
    p.drawRoundedRect(QRectF(14, 14, 640, 58), 6, 6)
    p.setPen(QColor('#102030'))
    f = QFont('DejaVu Sans', 13)
    f.setBold(True)
    p.setFont(f)
    p.drawText(QRectF(26, 18, 620, 26), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
               'CargoWatch  —  ' + title)
    p.setFont(QFont('DejaVu Sans', 9))
    p.setPen(QColor('#37474f'))
    p.drawText(QRectF(26, 44, 620, 22), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, sub)
    ov = dock.overlay
    busiest = int(dock.data.v_mmsi[dock.data.v_count.argmax()])
    entries = []
    for key, text in (('tracks', 'Ship track (one colour per vessel, arrows: direction)'),
                      ('ships', 'Ship at its last position (pointing along its course)'),
                      ('gaps', 'Dark period: last fix → reappearance, with its duration'),
                      ('calls', 'Port call at a site')):
        lyr = ov.layer(key)
        if lyr is None:
            continue
        r = lyr.renderer()
        cats = r.categories()  # keep the copies alive while their symbols are used
        sym = cats[max(0, r.categoryIndexForValue(busiest))].symbol().clone()
        if key == 'ships':
            sym.symbolLayer(0).setDataDefinedProperties(type(sym.symbolLayer(0).dataDefinedProperties())())
            sym.setAngle(45)
        entries.append((sym, text))
    for kind, text in (('points', 'Site: name, latest counts and date'), ('areas', 'Site outline')):
        lid = dock.site_layers.get(kind)
        lyr = QgsProject.instance().mapLayer(lid) if lid else None
        if lyr is not None:
            entries.append((lyr.renderer().symbol().clone(), text))
    h = 24 * len(entries) + 16
    top = size.height() - h - 14
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(QColor(255, 255, 255, 225))
    p.drawRoundedRect(QRectF(14, top, 430, h), 6, 6)
    p.setFont(QFont('DejaVu Sans', 9))
    for i, (sym, text) in enumerate(entries):
        y = top + 8 + 24 * i
        p.drawImage(24, int(y) + 2, sym.asImage(QSize(44, 20)))
        p.setPen(QColor('#263238'))
        p.drawText(QRectF(78, y, 360, 24), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, text)


def _distinct_colours(img, step=7):
    seen = set()
    for y in range(0, img.height(), step):
        for x in range(0, img.width(), step):
            seen.add(img.pixel(x, y) & 0xF0F0F0)
    return len(seen)


def test_canvas_with_tracks_gaps_and_sites(solent, qgis_canvas, tmp_path):
    dock, _ais = solent
    stats = dock.last_stats
    assert stats['vessels'] >= 85 and stats['gaps'] > 0 and stats['tracks'] > 91
    from qgis.core import QgsCoordinateTransform
    xf = QgsCoordinateTransform(QgsCoordinateReferenceSystem('EPSG:4326'),
                                QgsCoordinateReferenceSystem('EPSG:3857'), QgsProject.instance())
    extent = xf.transformBoundingBox(QgsRectangle(-1.385, 50.715, -0.985, 50.85))
    img = _render_canvas(qgis_canvas, dock, tmp_path / 'canvas_tracks.png', extent)
    assert img.width() == 1400 and _distinct_colours(img) > 30
    keep(tmp_path / 'canvas_tracks.png')


def test_dock_picture(solent, qgis_canvas, tmp_path):
    dock, _ais = solent
    # select the busiest vessel the way an analyst would: click on it on the map
    c = dock.data.cols
    top = int(dock.data.v_count.argmax())  # the busiest vessel: first in the list
    i = int(dock.data.v_start[top] + dock.data.v_count[top] // 2)
    mmsi = dock.pick_at(float(c['lon'][i]), float(c['lat'][i]),
                        QgsRectangle(c['lon'][i] - 1e-3, c['lat'][i] - 1e-3, c['lon'][i] + 1e-3, c['lat'][i] + 1e-3))
    assert mmsi is not None and 'kn' in dock.details.text()
    dock.tabs.setCurrentIndex(0)
    dock.show()
    ships = dock.grab()
    dock.tabs.setCurrentIndex(1)
    dock.select_site(next(s.fid for s in dock.sites.site_list if s.name.startswith('Fawley')))
    assert dock.chart.canvas is None or dock.chart.drawn_series == 1
    dock.chart.canvas.draw() if dock.chart.canvas is not None else None
    sites = dock.grab()
    dock.hide()
    both = QImage(QSize(ships.width() + sites.width() + 12, max(ships.height(), sites.height())),
                  QImage.Format.Format_ARGB32)
    both.fill(QColor('#ffffff'))
    p = QPainter(both)
    p.drawPixmap(0, 0, ships)
    p.drawPixmap(ships.width() + 12, 0, sites)
    p.end()
    assert both.save(str(tmp_path / 'dock.png'))
    assert _distinct_colours(both, 5) > 20
    keep(tmp_path / 'dock.png')
