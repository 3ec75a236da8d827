"""The one place that knows QGIS 3.22 (Qt5; some enums only there unscoped) from QGIS 4 (Qt6; scoped, many moved
to ``Qgis``). Everything else imports what differs from here (``from ..compat import Q, qenum, qfield``):

- ``qenum('Qgis.WkbType.Point', 'QgsWkbTypes.Type.Point')`` returns the first name that resolves: put the newer
  QGIS spelling first, the 3.22 one last; ``Q`` holds the enums used in several places, resolved once;
- ``qfield(name, kind)``: a QgsField of a plain type (QVariant on Qt5, QMetaType on Qt6);
- ``int_flags(flags)``: a Qt flag as the int some Qt5 calls want (Qt6 flags are enum.Flag);
- ``wgs84()``: EPSG:4326, made on demand."""
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
    """Enums used by the algorithms and the dock, resolved once for QGIS 3.22 (Qt5) to QGIS 4 (Qt6)."""
    POINT_GEOMETRY = qenum('Qgis.GeometryType.Point', 'QgsWkbTypes.GeometryType.PointGeometry',
                           'QgsWkbTypes.PointGeometry')
    LINE_GEOMETRY = qenum('Qgis.GeometryType.Line', 'QgsWkbTypes.GeometryType.LineGeometry', 'QgsWkbTypes.LineGeometry')
    POLYGON_GEOMETRY = qenum('Qgis.GeometryType.Polygon', 'QgsWkbTypes.GeometryType.PolygonGeometry',
                             'QgsWkbTypes.PolygonGeometry')
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


# field types: QMetaType from QGIS 3.38 (required on Qt6), QVariant before (the only branch that may name QVariant)
if _core.Qgis.QGIS_VERSION_INT >= 33800:
    from qgis.PyQt.QtCore import QMetaType
    _TYPES = {'int': QMetaType.Type.Int, 'long': QMetaType.Type.LongLong, 'double': QMetaType.Type.Double,
              'string': QMetaType.Type.QString, 'datetime': QMetaType.Type.QDateTime,
              'bool': QMetaType.Type.Bool, 'date': QMetaType.Type.QDate}
else:
    from qgis.PyQt.QtCore import QVariant
    _TYPES = {'int': QVariant.Int, 'long': QVariant.LongLong, 'double': QVariant.Double,
              'string': QVariant.String, 'datetime': QVariant.DateTime, 'bool': QVariant.Bool,
              'date': QVariant.Date}


def qfield(name, kind):
    """A QgsField of ``kind`` (int, long, double, string, datetime, date, bool) on Qt5 and Qt6 alike."""
    return _core.QgsField(name, _TYPES[kind])


def int_flags(flags):
    """A Qt flag as an int (PyQt5 flags convert with int(); PyQt6's enum.Flag has .value)."""
    try:
        return int(flags)
    except TypeError:
        return flags.value


def wgs84():
    """EPSG:4326 (made on demand: a CRS built at import time, before QGIS is initialised, is invalid)."""
    return _core.QgsCoordinateReferenceSystem('EPSG:4326')


def set_text_alignment(item, flags):
    """item.setTextAlignment(flags): PyQt6 wants the flag (recent) or an int (older), PyQt5 an int."""
    try:
        item.setTextAlignment(flags)
    except TypeError:
        item.setTextAlignment(int_flags(flags))
