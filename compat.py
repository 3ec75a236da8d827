"""QGIS enums by name, from QGIS 3.22 (Qt5; some enums only there unscoped) to QGIS 4 (Qt6; scoped, many moved to
``Qgis``). ``qenum('Qgis.WkbType.Point', 'QgsWkbTypes.Type.Point')`` returns the first name that resolves: put the
newer QGIS spelling first, the 3.22 one last. Used by algorithms/ and ui/ (``from ..compat import qenum``)."""
import qgis.core as _core


def qenum(*paths):
    for path in paths:
        obj = _core
        for part in path.split('.'):
            obj = getattr(obj, part, None)
            if obj is None:
                break
        if obj is not None:
            return obj
    raise AttributeError('none of ' + ', '.join(paths))


class Q:
    """Enums used by the algorithms, resolved once for QGIS 3.22 (Qt5) to QGIS 4 (Qt6)."""
    POINT_GEOMETRY = qenum('Qgis.GeometryType.Point', 'QgsWkbTypes.GeometryType.PointGeometry')
    POLYGON_GEOMETRY = qenum('Qgis.GeometryType.Polygon', 'QgsWkbTypes.GeometryType.PolygonGeometry')
    FILE = qenum('Qgis.ProcessingFileParameterBehavior.File', 'QgsProcessingParameterFile.Behavior.File')
    ADVANCED = qenum('Qgis.ProcessingParameterFlag.Advanced', 'QgsProcessingParameterDefinition.Flag.FlagAdvanced')
    DOUBLE = qenum('Qgis.ProcessingNumberParameterType.Double', 'QgsProcessingParameterNumber.Type.Double')
    INTEGER = qenum('Qgis.ProcessingNumberParameterType.Integer', 'QgsProcessingParameterNumber.Type.Integer')
    SRC_ANY = qenum('Qgis.ProcessingSourceType.Vector', 'QgsProcessing.SourceType.TypeVector')
    SRC_ANY_GEOMETRY = qenum('Qgis.ProcessingSourceType.VectorAnyGeometry',
                             'QgsProcessing.SourceType.TypeVectorAnyGeometry')
    SRC_POINT = qenum('Qgis.ProcessingSourceType.VectorPoint', 'QgsProcessing.SourceType.TypeVectorPoint')
    SRC_LINE = qenum('Qgis.ProcessingSourceType.VectorLine', 'QgsProcessing.SourceType.TypeVectorLine')
    SRC_POLYGON = qenum('Qgis.ProcessingSourceType.VectorPolygon', 'QgsProcessing.SourceType.TypeVectorPolygon')
    HOURS = qenum('Qgis.TemporalUnit.Hours', 'QgsUnitTypes.TemporalUnit.TemporalHours')
    WKB_POINT = qenum('Qgis.WkbType.Point', 'QgsWkbTypes.Type.Point')
    WKB_POLYGON = qenum('Qgis.WkbType.Polygon', 'QgsWkbTypes.Type.Polygon')
    WKB_NONE = qenum('Qgis.WkbType.NoGeometry', 'QgsWkbTypes.Type.NoGeometry')
    WKB_LINE = qenum('Qgis.WkbType.LineString', 'QgsWkbTypes.Type.LineString')
    WKB_LINE_M = qenum('Qgis.WkbType.LineStringM', 'QgsWkbTypes.Type.LineStringM')
    FAST_INSERT = qenum('QgsFeatureSink.Flag.FastInsert', 'QgsFeatureSink.FastInsert')
    PROP_STATIC = qenum('Qgis.PropertyType.Static', 'QgsProperty.Type.StaticProperty')
