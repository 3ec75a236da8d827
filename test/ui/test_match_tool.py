"""The dock's Match tool (ui/match_tool.py) on the Dunai-Rajin sample: a ship clicked on an image of the Rajin quay
dated by its TIFF metadata; the ANGARA (dark then) comes first and its dark track is drawn; rendered to PNG."""
import time
from pathlib import Path

import numpy as np
import pytest
from qgis.core import (QgsApplication, QgsCoordinateReferenceSystem, QgsCoordinateTransform, QgsPointXY, QgsProject,
                       QgsRasterLayer, QgsRectangle, QgsVectorLayer)
from qgis.gui import QgsMapMouseEvent
from qgis.PyQt.QtCore import QEvent, QPoint, QSize, Qt
from qgis.PyQt.QtGui import QColor, QImage, QPainter

from helpers import ais_scenario as S
from cargowatch.ui.dock import CargoWatchDock
from cargowatch.ui.match_tool import parse_image_time, raster_time
from test_dock_screenshots import _distinct_colours, _land, keep

pytest.importorskip('pyais')

SAMPLE = Path(__file__).resolve().parents[2] / 'sample_data' / 'dunai_rajin_ais.nmea.gz'
RAJIN = S.SITES['Rajin']
T72 = S.T0 + 72 * 3600  # the ANGARA is at the Rajin quay with AIS off


def write_image(path, when=None):
    """A 0.5 km x 0.4 km grey 'image' over the Rajin quay (EPSG:4326), a bright ship in the middle; dated by
    TIFFTAG_DATETIME when given."""
    from osgeo import gdal, osr
    w, h = 200, 160
    ds = gdal.GetDriverByName('GTiff').Create(str(path), w, h, 1, gdal.GDT_Byte)
    px = 0.006 / w
    ds.SetGeoTransform((RAJIN[0] - 0.003, px, 0, RAJIN[1] + 0.0024, 0, -0.0048 / h))
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(4326)
    ds.SetProjection(srs.ExportToWkt())
    a = np.full((h, w), 60, np.uint8)
    a[h // 2 - 4:h // 2 + 4, w // 2 - 30:w // 2 + 30] = 230
    ds.GetRasterBand(1).WriteArray(a)
    if when:
        ds.SetMetadataItem('TIFFTAG_DATETIME', when)
    ds = None
    return str(path)


@pytest.fixture
def dock_with_ais(qgis_iface, qgis_new_project, tmp_path):
    import processing
    processing.run('cargowatch:importais', {'INPUT': str(SAMPLE), 'OUTPUT': str(tmp_path / 'pos.gpkg')})
    ais = QgsVectorLayer(str(tmp_path / 'pos.gpkg'), 'Dunai-Rajin AIS', 'ogr')
    QgsProject.instance().addMapLayer(ais, False)
    dock = CargoWatchDock(qgis_iface)
    dock.resize(460, 860)
    assert dock.load_layer(ais), dock.last_message
    dock.gap_hours.setValue(6)
    yield dock
    dock.close_and_cleanup()
    dock.deleteLater()


def test_image_times():
    assert parse_image_time('2023:03:04 00:00:00') == T72
    assert parse_image_time('2023-03-04T00:00:00Z') == T72
    assert parse_image_time('') is None and parse_image_time('no date') is None


def _click(tool, canvas, lon, lat):
    xf = QgsCoordinateTransform(QgsCoordinateReferenceSystem('EPSG:4326'), canvas.mapSettings().destinationCrs(),
                                QgsProject.instance())
    p = canvas.getCoordinateTransform().transform(xf.transform(QgsPointXY(lon, lat)))
    ev = QgsMapMouseEvent(canvas, QEvent.Type.MouseButtonRelease, QPoint(int(round(p.x())), int(round(p.y()))),
                          Qt.MouseButton.LeftButton)
    tool.canvasReleaseEvent(ev)


def _canvas(canvas, layers, extent_ll, size=QSize(1200, 800)):
    canvas.window().resize(size + QSize(40, 40))
    canvas.window().show()
    canvas.resize(size)
    canvas.show()  # the map settings take the widget's size once shown, after the canvas' resize timer
    deadline = time.time() + 5
    while canvas.mapSettings().outputSize() != canvas.viewport().size() and time.time() < deadline:
        QgsApplication.processEvents()
        time.sleep(0.02)
    canvas.setDestinationCrs(QgsCoordinateReferenceSystem('EPSG:3857'))
    canvas.setCanvasColor(QColor('#cfe1ec'))
    canvas.setLayers(layers)
    xf = QgsCoordinateTransform(QgsCoordinateReferenceSystem('EPSG:4326'), QgsCoordinateReferenceSystem('EPSG:3857'),
                                QgsProject.instance())
    canvas.setExtent(xf.transformBoundingBox(extent_ll))
    canvas.refreshAllLayers()
    canvas.waitWhileRendering()


def test_click_ship_in_dated_image(dock_with_ais, qgis_canvas, tmp_path):
    dock = dock_with_ais
    img = QgsRasterLayer(write_image(tmp_path / 'rajin.tif', '2023:03:04 00:00:00'), 'Rajin quay', 'gdal')
    assert img.isValid() and raster_time(img) == T72
    QgsProject.instance().addMapLayer(img)
    tool = dock._tools['match']
    dock.match_btn.setChecked(True)
    assert dock.canvas.mapTool() is tool and dock.canvas is qgis_canvas
    offered = []
    tool.ask_time = lambda default: offered.append(default) or default  # the analyst accepts the image's date
    land = _land()
    QgsProject.instance().addMapLayer(land, False)
    overlay = [n.layer() for n in QgsProject.instance().layerTreeRoot().findGroup('CargoWatch').findLayers()]
    _canvas(qgis_canvas, [img] + overlay + [land], QgsRectangle(129.9, 41.95, 132.8, 43.2))
    _click(tool, qgis_canvas, *RAJIN)
    assert offered == [T72]
    res = tool.result
    best = int(np.flatnonzero(res['best'] == 1)[0])
    assert res['mmsi'][best] == S.ANGARA and res['status'][best] == 'dark'
    # one dashed dark track per candidate, plus the pin on the ship
    n = int(np.isin(res['status'], ('dark', 'visible')).sum())
    assert len(tool.bands) == n + 1 and n >= 1
    track = tool.bands[0].asGeometry()
    assert track.constGet().numPoints() == 3
    assert '1 candidate' in dock.details.text()
    panel = tool.panel
    assert panel.table.item(0, 0).text() == 'ANGARA' and panel.table.item(0, 2).text() == 'dark'
    assert panel.table.item(0, 0).font().bold()
    panel.table.selectRow(0)  # selecting the candidate selects it in the dock's vessel list
    assert dock.selected_mmsi() == [S.ANGARA]
    # the picture: the dark track over the map, the candidates under it, the dock beside
    shot = qgis_canvas.grab().toImage()
    dock.show()
    side = dock.grab().toImage()
    dock.hide()
    panel.resize(shot.width(), 170)
    table = panel.grab().toImage()
    out = QImage(QSize(shot.width() + side.width() + 10, max(shot.height() + table.height() + 10, side.height())),
                 QImage.Format.Format_ARGB32)
    out.fill(QColor('#ffffff'))
    p = QPainter(out)
    p.drawImage(0, 0, shot)
    p.drawImage(0, shot.height() + 10, table)
    p.drawImage(shot.width() + 10, 0, side)
    p.end()
    assert out.save(str(tmp_path / 'match_tool.png'))
    # the red of the best candidate's dark track is on the canvas picture
    reds = sum(1 for y in range(0, shot.height(), 3) for x in range(0, shot.width(), 3)
               if QColor(shot.pixel(x, y)).red() > 190 and QColor(shot.pixel(x, y)).green() < 60)
    assert reds > 50 and _distinct_colours(out, 5) > 20
    keep(tmp_path / 'match_tool.png')
    # a second click replaces the drawing
    _click(tool, qgis_canvas, *RAJIN)
    assert len(tool.bands) == n + 1


def test_undated_image_and_no_data(dock_with_ais, qgis_canvas, tmp_path, qgis_iface):
    dock = dock_with_ais
    img = QgsRasterLayer(write_image(tmp_path / 'undated.tif'), 'undated', 'gdal')
    assert raster_time(img) is None
    QgsProject.instance().addMapLayer(img)
    _canvas(qgis_canvas, [img], QgsRectangle(130.29, 42.235, 130.31, 42.245))
    tool = dock._tools['match']
    offered = []
    tool.ask_time = lambda default: offered.append(default)  # cancelled
    _click(tool, qgis_canvas, *RAJIN)
    assert offered == [dock.time_range()[1]] and tool.result is None and tool.bands == []
    # nobody near and nothing dark: the reason is shown
    tool.ask_time = lambda default: S.T0 + 120 * 3600
    res = tool.match_at(RAJIN[0], RAJIN[1])
    assert list(res['status']) == ['none'] and 'no vessel' in dock.details.text()
    empty = CargoWatchDock(qgis_iface)
    try:
        assert empty._tools['match'].match_at(*RAJIN) is None
        assert 'Load an AIS layer' in empty.last_message[1]
    finally:
        empty.close_and_cleanup()
        empty.deleteLater()
