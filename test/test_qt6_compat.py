"""Qt6 / QGIS 4 regressions caught on Qt5: every plugin .py is parsed (ast) for what PyQt6 no longer accepts.

Mirrors the main rules of QGIS's scripts/pyqt5_to_pyqt6/pyqt5_to_pyqt6.py: exec_(), PyQt5 imports, QVariant types
(QMetaType on Qt6; allowed only in compat.py's Qt5 branch), unscoped enum values (``Qt.AlignLeft``,
``QgsWkbTypes.Point``: write ``Qt.AlignmentFlag.AlignLeft``, or ``qenum(...)`` from compat.py for QGIS enums)."""
import ast
import enum

import qgis.analysis
import qgis.core
import qgis.gui
from qgis.PyQt import QtCore, QtGui, QtWidgets

from helpers.paths import ROOT

SKIP_DIRS = {'build', 'bench', 'demo_out', '__pycache__'}  # and every .dir (.venv, .git, ...)
REMOVED = {'qApp', 'QRegExp', 'QDesktopWidget'}  # gone in Qt6
# Qt members that exist unscoped only on Qt5: listed so the check still means something when run on Qt6
QT_MEMBERS = set('''AlignLeft AlignRight AlignCenter AlignHCenter AlignVCenter AlignTop AlignBottom Checked Unchecked
    PartiallyChecked UserRole DisplayRole EditRole CheckStateRole DecorationRole ToolTipRole ForegroundRole
    BackgroundRole TextAlignmentRole ItemIsEnabled ItemIsSelectable ItemIsUserCheckable ItemIsEditable NoItemFlags
    Horizontal Vertical UTC LocalTime LeftButton RightButton MiddleButton NoPen SolidLine DashLine DotLine NoBrush
    KeepAspectRatio IgnoreAspectRatio SmoothTransformation RightDockWidgetArea LeftDockWidgetArea WaitCursor
    CrossCursor ArrowCursor PointingHandCursor Key_Escape Key_Backspace Key_Return Key_Delete ControlModifier
    ShiftModifier ISODate AscendingOrder DescendingOrder ScrollBarAlwaysOff red black white transparent'''.split())
CLASSES = {name: obj for mod in (qgis.core, qgis.gui, qgis.analysis, QtCore, QtGui, QtWidgets)
           for name, obj in vars(mod).items() if isinstance(obj, type)}


def plugin_files():
    def skipped(path):
        return any(d in SKIP_DIRS or d.startswith('.') for d in path.relative_to(ROOT).parts[:-1])
    return sorted(p for p in ROOT.rglob('*.py') if not skipped(p))


def is_enum_value(value):
    """An enum member (PyQt6/QGIS 4: enum.Enum; PyQt5/sip: instance of a sip.enumtype), not an enum type or class."""
    return isinstance(value, enum.Enum) or type(type(value)).__name__ == 'enumtype'


def qt5_only_lines(rel, tree):
    """compat.py picks QVariant types in the ``else`` of ``if Qgis.QGIS_VERSION_INT >= ...``."""
    if rel != 'compat.py':
        return set()
    return {line for node in ast.walk(tree) if isinstance(node, ast.If) and 'QGIS_VERSION_INT' in ast.unparse(node.test)
            for stmt in node.orelse for line in range(stmt.lineno, stmt.end_lineno + 1)}


def problems(path, root=ROOT):
    rel = path.relative_to(root).as_posix()
    tree = ast.parse(path.read_text(encoding='utf-8'), rel)
    allowed = qt5_only_lines(rel, tree)
    for node in ast.walk(tree):
        where = f'{rel}:{getattr(node, "lineno", 0)}'
        if isinstance(node, ast.Attribute) and node.attr == 'exec_':
            yield f'{where} exec_() -> exec()'
        elif isinstance(node, ast.FunctionDef) and node.name == 'exec_':
            yield f'{where} def exec_ -> def exec'
        elif isinstance(node, ast.ImportFrom) and (node.module or '').split('.')[0] == 'PyQt5':
            yield f'{where} from {node.module} -> from qgis.PyQt...'
        elif isinstance(node, ast.Import) and any(a.name.split('.')[0] == 'PyQt5' for a in node.names):
            yield f'{where} import PyQt5 -> qgis.PyQt'
        elif isinstance(node, ast.Name) and node.id in REMOVED:
            yield f'{where} {node.id} is removed in Qt6'
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.lineno not in allowed:
            owner, member = node.value.id, node.attr
            if owner == 'QVariant' and member[:1].isupper():
                yield f'{where} QVariant.{member} -> QMetaType.Type (see compat.py qfield)'
            elif (owner == 'Qt' and member in QT_MEMBERS) or (
                    owner in CLASSES and is_enum_value(getattr(CLASSES[owner], member, None))):
                yield f'{where} unscoped enum {owner}.{member} -> {owner}.<EnumName>.{member} or compat.qenum()'


def test_plugin_python_has_no_qt5_only_constructs():
    files = plugin_files()
    assert ROOT / 'plugin.py' in files and ROOT / 'ui' / 'dock.py' in files
    found = [p for f in files for p in problems(f)]
    assert not found, 'Qt6 / QGIS 4 incompatibilities:\n' + '\n'.join(found)


def test_checker_catches_the_regressions(tmp_path):
    bad = tmp_path / 'bad.py'
    bad.write_text('\n'.join([
        'from PyQt5.QtCore import Qt',           # 1
        'import PyQt5',                          # 2
        'dialog.exec_()',                        # 3
        'x = Qt.AlignLeft | Qt.AlignVCenter',    # 4 (twice)
        'y = Qt.AlignmentFlag.AlignLeft',        # fine
        't = QVariant.Int',                      # 6
        'w = QgsWkbTypes.Point',                 # 7
        'ok = QgsWkbTypes.Type.Point',           # fine
    ]))
    found = list(problems(bad, root=tmp_path))
    assert sorted(int(p.split(':')[1].split()[0]) for p in found) == [1, 2, 3, 4, 4, 6, 7], found


def version_branches(path, root=ROOT):
    """Where a file tells Qt5 from Qt6 or QGIS versions apart, or defines a compatibility helper."""
    rel = path.relative_to(root).as_posix()
    text = path.read_text(encoding='utf-8')
    for node in ast.walk(ast.parse(text, rel)):
        if isinstance(node, ast.Attribute) and node.attr in ('QGIS_VERSION_INT', 'PYQT_VERSION', 'QT_VERSION'):
            yield f'{rel}:{node.lineno} compares {node.attr}'
        elif isinstance(node, ast.FunctionDef) and node.name in ('qenum', 'qfield', 'int_flags', 'wgs84',
                                                                 'set_text_alignment'):
            yield f'{rel}:{node.lineno} defines {node.name}()'
        elif isinstance(node, ast.ExceptHandler) and 'Qt6' in (ast.get_source_segment(text, node) or ''):
            yield f'{rel}:{node.lineno} catches a Qt5/Qt6 difference'


def test_one_compatibility_module():
    """compat.py at the root is the only place that knows QGIS 3.22/Qt5 from QGIS 4/Qt6, and the only compat.py."""
    found = [p for f in plugin_files() if f != ROOT / 'compat.py' for p in version_branches(f)]
    assert not found, 'compatibility code outside compat.py:\n' + '\n'.join(found)
    assert list(version_branches(ROOT / 'compat.py'))  # the check finds what it looks for
    assert [f for f in plugin_files() if f.name == 'compat.py'] == [ROOT / 'compat.py']
