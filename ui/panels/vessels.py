"""The vessel list: one row per vessel of the loaded AIS data, and the proxy that sorts and searches it."""

import datetime as _dt

from qgis.PyQt.QtCore import QAbstractTableModel, QModelIndex, QSortFilterProxyModel, Qt, pyqtSignal
from qgis.PyQt.QtGui import QColor, QIcon, QPixmap

from ...compat import int_flags
from . import tr

RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter


def fmt_t(t):
    return _dt.datetime.fromtimestamp(int(t), _dt.timezone.utc).strftime('%Y-%m-%d %H:%M')


def _fmt_short(t):
    return _dt.datetime.fromtimestamp(int(t), _dt.timezone.utc).strftime('%m-%d %H:%M')


class VesselModel(QAbstractTableModel):
    """One row per vessel: name (check box + colour swatch), MMSI, IMO, positions, first/last seen."""
    visibilityChanged = pyqtSignal()
    HEADERS = ('Vessel', 'MMSI', 'IMO', 'Positions', 'First seen', 'Last seen')

    def __init__(self, parent=None):
        super().__init__(parent)
        self.data_ = None
        self.colors = {}
        self.hidden = set()
        self._icons = {}

    def set_data(self, data, colors):
        self.beginResetModel()
        self.data_ = data
        self.colors = colors
        self.hidden = set()
        self._icons = {}
        self.endResetModel()

    def rowCount(self, parent=QModelIndex()):  # noqa: N802
        return 0 if parent.isValid() or self.data_ is None else self.data_.n_vessels

    def columnCount(self, parent=QModelIndex()):  # noqa: N802
        return len(self.HEADERS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return tr(self.HEADERS[section])
        return None

    def mmsi(self, row):
        return int(self.data_.v_mmsi[row])

    def recolor(self, mmsi):
        """The swatch of one vessel after its colour changed."""
        self._icons.pop(int(mmsi), None)
        row = self.data_.row_of[int(mmsi)]
        self.dataChanged.emit(self.index(row, 0), self.index(row, 0))

    def _icon(self, mmsi):
        icon = self._icons.get(mmsi)
        if icon is None:
            pm = QPixmap(14, 14)
            pm.fill(self.colors.get(mmsi, QColor('#555555')))
            icon = self._icons[mmsi] = QIcon(pm)
        return icon

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or self.data_ is None:
            return None
        r, c = index.row(), index.column()
        d = self.data_
        m = int(d.v_mmsi[r])
        if role == Qt.ItemDataRole.DisplayRole:
            if c == 0:
                return d.v_name[r] or '—'
            return (str(m), d.v_imo[r], f'{int(d.v_count[r]):,}', _fmt_short(d.v_first[r]),
                    _fmt_short(d.v_last[r]))[c - 1]
        if role == Qt.ItemDataRole.ToolTipRole:
            return tr('{name} · MMSI {m}{imo} · {n:,} positions · {a} → {b} UTC').format(
                name=d.v_name[r] or tr('(no name)'), m=m, imo=(' · IMO ' + d.v_imo[r]) if d.v_imo[r] else '',
                n=int(d.v_count[r]), a=fmt_t(d.v_first[r]), b=fmt_t(d.v_last[r]))
        if role == Qt.ItemDataRole.UserRole:  # sort key
            return (d.v_name[r].lower() or '~', m, d.v_imo[r], int(d.v_count[r]), int(d.v_first[r]),
                    int(d.v_last[r]))[c]
        if role == Qt.ItemDataRole.UserRole + 1:  # search text
            return f'{d.v_name[r]} {m} {d.v_imo[r]}'
        if c == 0 and role == Qt.ItemDataRole.CheckStateRole:
            return Qt.CheckState.Unchecked if m in self.hidden else Qt.CheckState.Checked
        if c == 0 and role == Qt.ItemDataRole.DecorationRole:
            return self._icon(m)
        if c == 3 and role == Qt.ItemDataRole.TextAlignmentRole:
            return int_flags(RIGHT)
        return None

    def setData(self, index, value, role=Qt.ItemDataRole.EditRole):  # noqa: N802
        if index.column() != 0 or role != Qt.ItemDataRole.CheckStateRole:
            return False
        checked = value in (Qt.CheckState.Checked, 2, True) or getattr(value, 'value', None) == 2
        self.set_visible([self.mmsi(index.row())], checked)
        return True

    def set_visible(self, mmsis, visible):
        for m in mmsis:
            (self.hidden.discard if visible else self.hidden.add)(int(m))
        if self.rowCount():
            self.dataChanged.emit(self.index(0, 0), self.index(self.rowCount() - 1, 0),
                                  [Qt.ItemDataRole.CheckStateRole])
        self.visibilityChanged.emit()

    def flags(self, index):
        f = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        if index.column() == 0:
            f |= Qt.ItemFlag.ItemIsUserCheckable
        return f


class VesselFilter(QSortFilterProxyModel):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setSortRole(Qt.ItemDataRole.UserRole)
        self.setFilterRole(Qt.ItemDataRole.UserRole + 1)
        self.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.setFilterKeyColumn(0)
