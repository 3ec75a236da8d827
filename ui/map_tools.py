"""Map tools of the CargoWatch dock. Every tool reports in EPSG:4326 (lon/lat), whatever the canvas CRS."""

from qgis.core import QgsCoordinateTransform, QgsGeometry, QgsPointXY, QgsProject, QgsRectangle
from qgis.gui import QgsMapTool, QgsRubberBand
from qgis.PyQt.QtCore import Qt, pyqtSignal
from qgis.PyQt.QtGui import QColor, QCursor

from ..compat import Q, wgs84


class _Tool(QgsMapTool):
    """Base: conversion of canvas points to lon/lat, and a pick tolerance in degrees."""

    def __init__(self, canvas, tolerance_px=8):
        super().__init__(canvas)
        self.canvas = canvas
        self.tolerance_px = tolerance_px
        self.setCursor(QCursor(Qt.CursorShape.CrossCursor))

    def _xform(self, reverse=False):
        crs = self.canvas.mapSettings().destinationCrs()
        if reverse:
            return QgsCoordinateTransform(wgs84(), crs, QgsProject.instance())
        return QgsCoordinateTransform(crs, wgs84(), QgsProject.instance())

    def to_lonlat(self, map_point):
        return self._xform().transform(QgsPointXY(map_point))

    def event_lonlat(self, event):
        return self.to_lonlat(self.toMapCoordinates(event.pos()))

    def tolerance_box(self, event):
        """Rectangle in lon/lat of tolerance_px around the event."""
        mupp = self.canvas.mapUnitsPerPixel() * self.tolerance_px
        p = self.toMapCoordinates(event.pos())
        rect = QgsRectangle(p.x() - mupp, p.y() - mupp, p.x() + mupp, p.y() + mupp)
        return self._xform().transformBoundingBox(rect)


class PickTool(_Tool):
    """Click on the map: ``picked(lon, lat, QgsRectangle tolerance box in lon/lat)``."""
    picked = pyqtSignal(float, float, QgsRectangle)

    def canvasReleaseEvent(self, event):  # noqa: N802
        if event.button() != Qt.MouseButton.LeftButton:
            return
        p = self.event_lonlat(event)
        self.picked.emit(p.x(), p.y(), self.tolerance_box(event))


class PointTool(_Tool):
    """Click to place a point site: ``placed(QgsGeometry in lon/lat)``."""
    placed = pyqtSignal(QgsGeometry)

    def canvasReleaseEvent(self, event):  # noqa: N802
        if event.button() == Qt.MouseButton.LeftButton:
            self.placed.emit(QgsGeometry.fromPointXY(self.event_lonlat(event)))


class PolygonTool(_Tool):
    """Left-click vertices, right-click (or double-click) to finish, Esc/Backspace to cancel/undo:
    ``placed(QgsGeometry polygon in lon/lat)``."""
    placed = pyqtSignal(QgsGeometry)

    def __init__(self, canvas):
        super().__init__(canvas)
        self.points = []  # map coordinates
        self.band = QgsRubberBand(canvas, Q.POLYGON_GEOMETRY)
        self.band.setColor(QColor(255, 140, 0, 70))
        self.band.setStrokeColor(QColor('#e65100'))
        self.band.setWidth(2)

    def _update(self, moving=None):
        pts = self.points + ([moving] if moving is not None else [])
        self.band.reset(Q.POLYGON_GEOMETRY)
        for i, p in enumerate(pts):
            self.band.addPoint(p, i == len(pts) - 1)

    def canvasMoveEvent(self, event):  # noqa: N802
        if self.points:
            self._update(self.toMapCoordinates(event.pos()))

    def canvasReleaseEvent(self, event):  # noqa: N802
        if event.button() == Qt.MouseButton.LeftButton:
            self.points.append(QgsPointXY(self.toMapCoordinates(event.pos())))
            self._update()
        elif event.button() == Qt.MouseButton.RightButton:
            self.finish()

    def canvasDoubleClickEvent(self, event):  # noqa: N802
        self.finish()

    def keyPressEvent(self, event):  # noqa: N802
        if event.key() == Qt.Key.Key_Escape:
            self.reset()
        elif event.key() == Qt.Key.Key_Backspace and self.points:
            self.points.pop()
            self._update()

    def finish(self):
        pts = []
        for p in self.points:  # drop repeated clicks (double-click adds the last vertex twice)
            if not pts or p != pts[-1]:
                pts.append(p)
        self.reset()
        if len(pts) < 3:
            return
        xf = self._xform()
        ring = [xf.transform(p) for p in pts]
        self.placed.emit(QgsGeometry.fromPolygonXY([ring + [ring[0]]]))

    def reset(self):
        self.points = []
        self.band.reset(Q.POLYGON_GEOMETRY)

    def deactivate(self):
        self.reset()
        super().deactivate()

    def clean(self):
        self.reset()
        self.canvas.scene().removeItem(self.band)


class MoveTool(_Tool):
    """Press on a site and drag it: ``moved(fid, dx, dy)`` in degrees; a click without drag: ``clicked(fid)``.

    ``find_site(QgsRectangle in lon/lat) -> fid or None`` is given by the dock."""
    moved = pyqtSignal(int, float, float)
    clicked = pyqtSignal(int)

    def __init__(self, canvas, find_site):
        super().__init__(canvas)
        self.find_site = find_site
        self.fid = None
        self.start = None
        self.band = QgsRubberBand(canvas, Q.POINT_GEOMETRY)
        self.band.setColor(QColor('#e65100'))
        self.band.setIconSize(12)

    def canvasPressEvent(self, event):  # noqa: N802
        if event.button() != Qt.MouseButton.LeftButton:
            return
        self.fid = self.find_site(self.tolerance_box(event))
        self.start = self.toMapCoordinates(event.pos()) if self.fid is not None else None

    def canvasMoveEvent(self, event):  # noqa: N802
        if self.start is not None:
            self.band.reset(Q.POINT_GEOMETRY)
            self.band.addPoint(self.toMapCoordinates(event.pos()))

    def canvasReleaseEvent(self, event):  # noqa: N802
        if self.fid is None or self.start is None:
            return
        self.band.reset(Q.POINT_GEOMETRY)
        end = self.toMapCoordinates(event.pos())
        fid, start = self.fid, self.start
        self.fid = self.start = None
        if abs(end.x() - start.x()) + abs(end.y() - start.y()) < self.canvas.mapUnitsPerPixel() * 3:
            self.clicked.emit(fid)
            return
        a, b = self.to_lonlat(start), self.to_lonlat(end)
        self.moved.emit(fid, b.x() - a.x(), b.y() - a.y())

    def clean(self):
        self.canvas.scene().removeItem(self.band)
