"""Render a raster with CargoWatch detections drawn over it to a PNG (real QGIS renderer).

usage: render_png.py RASTER DETECTIONS.gpkg OUT.png [WIDTH_PX]
"""
import os
import sys

os.environ.setdefault('QT_QPA_PLATFORM', 'offscreen')
from qgis.core import (QgsApplication, QgsCategorizedSymbolRenderer, QgsFillSymbol, QgsMapRendererSequentialJob,
                       QgsMapSettings, QgsRasterLayer, QgsRendererCategory, QgsVectorLayer)
from qgis.PyQt.QtCore import QSize
from qgis.PyQt.QtGui import QColor

CLASS_COLOURS = {'20ft': '#ffd43b', '40ft': '#ff00ff', 'block': '#00e5ff', 'new': '#ff2020',
                 'removed': '#ffd43b', 'kept': '#40c057'}


def style(layer):
    field = 'status' if layer.fields().indexOf('status') >= 0 else 'size_class'
    if layer.fields().indexOf(field) < 0:
        layer.setRenderer(QgsCategorizedSymbolRenderer())
        layer.renderer().setSourceSymbol(QgsFillSymbol.createSimple(
            {'color': '0,0,0,0', 'outline_color': '#00e5ff', 'outline_width': '0.5'}))
        return
    cats = []
    for value in layer.uniqueValues(layer.fields().indexOf(field)):
        sym = QgsFillSymbol.createSimple({'color': '0,0,0,0', 'outline_color': CLASS_COLOURS.get(value, '#00e5ff'),
                                          'outline_width': '0.45'})
        cats.append(QgsRendererCategory(value, sym, str(value)))
    layer.setRenderer(QgsCategorizedSymbolRenderer(field, cats))


def render(raster_path, vector_path, png_path, width=1600):
    raster = QgsRasterLayer(raster_path, 'image')
    layers = [raster]
    if vector_path:
        vector = QgsVectorLayer(vector_path, 'detections', 'ogr')
        if not vector.isValid():
            raise SystemExit(f'cannot open {vector_path}')
        style(vector)
        layers.insert(0, vector)
    settings = QgsMapSettings()
    settings.setLayers(layers)
    settings.setDestinationCrs(raster.crs())
    extent = raster.extent()
    settings.setExtent(extent)
    settings.setOutputSize(QSize(width, max(1, int(width * extent.height() / extent.width()))))
    settings.setBackgroundColor(QColor('black'))
    job = QgsMapRendererSequentialJob(settings)
    job.start()
    job.waitForFinished()
    job.renderedImage().save(png_path)


if __name__ == '__main__':
    app = QgsApplication([], False)
    app.initQgis()
    a = sys.argv[1:]
    render(a[0], a[1] if len(a) > 1 and a[1] != '-' else None, a[2], int(a[3]) if len(a) > 3 else 1600)
    print(f'wrote {a[2]}')
    app.exitQgis()
