"""QGIS objects the UI shares across QGIS 3.22 (Qt5) to QGIS 4 (Qt6); enum look-ups live in ../compat.py."""
import qgis.core as _core

from ..compat import qenum


def wgs84():
    """EPSG:4326 (made on demand: a CRS built at import time, before QGIS is initialised, is invalid)."""
    return _core.QgsCoordinateReferenceSystem('EPSG:4326')


GEOM_POINT = qenum('Qgis.GeometryType.Point', 'QgsWkbTypes.GeometryType.PointGeometry', 'QgsWkbTypes.PointGeometry')
GEOM_POLYGON = qenum('Qgis.GeometryType.Polygon', 'QgsWkbTypes.GeometryType.PolygonGeometry',
                     'QgsWkbTypes.PolygonGeometry')
