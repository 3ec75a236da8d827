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
