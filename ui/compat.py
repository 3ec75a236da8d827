"""Enum look-ups that work from QGIS 3.22 (Qt5, some enums only reachable unscoped) to QGIS 4 (Qt6, scoped).

``qenum('Qgis.MarkerShape.ArrowHeadFilled', 'QgsSimpleMarkerSymbolLayerBase.ArrowHeadFilled')`` returns the
first name that resolves: the fully scoped name of newer QGIS first, then the 3.22 spelling.
"""
import qgis.core as _core


def qenum(*paths):
    for path in paths:
        head, *rest = path.split('.')
        obj = getattr(_core, head, None)
        for part in rest:
            if obj is None:
                break
            obj = getattr(obj, part, None)
        if obj is not None:
            return obj
    raise AttributeError('none of ' + ', '.join(paths))


def wgs84():
    """EPSG:4326 (made on demand: a CRS built at import time, before QGIS is initialised, is invalid)."""
    return _core.QgsCoordinateReferenceSystem('EPSG:4326')


GEOM_POINT = qenum('Qgis.GeometryType.Point', 'QgsWkbTypes.GeometryType.PointGeometry', 'QgsWkbTypes.PointGeometry')
GEOM_POLYGON = qenum('Qgis.GeometryType.Polygon', 'QgsWkbTypes.GeometryType.PolygonGeometry',
                     'QgsWkbTypes.PolygonGeometry')
