"""Forms for a site and for a dated observation. ``save`` callbacks return True when stored: on failure
the dialog stays open with what the analyst typed (nothing is lost)."""

import datetime as _dt

from qgis.PyQt.QtCore import QCoreApplication, QDate
from qgis.PyQt.QtWidgets import (QComboBox, QDateEdit, QDialog, QDialogButtonBox, QDoubleSpinBox, QFormLayout,
                                 QLineEdit, QPlainTextEdit, QSpinBox)

from ..core.site_store import KINDS


def tr(text):
    return QCoreApplication.translate('CargoWatchSiteForm', text)


class _Form(QDialog):
    def __init__(self, title, save=None, parent=None):
        super().__init__(parent)
        self.setWindowTitle(title)
        self.save = save
        self.form = QFormLayout(self)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

    def add_rows(self, *rows):
        """(label, widget) rows, then Save/Cancel."""
        for label, widget in rows:
            self.form.addRow(label, widget)
        self.form.addRow(self.buttons)

    def accept(self):
        if self.save is None or self.save(self.values()):
            super().accept()


class SiteForm(_Form):
    """Name, kind, country, notes."""

    def __init__(self, values=None, save=None, parent=None, title=None):
        super().__init__(title or tr('CargoWatch site'), save, parent)
        v = values or {}
        self.name = QLineEdit(v.get('name', ''))
        self.name.setPlaceholderText(tr('e.g. Rajin port, pier 3'))
        self.kind = QComboBox()
        self.kind.setEditable(True)
        self.kind.addItems([tr(k) for k in KINDS])
        self.kind.setCurrentText(v.get('kind') or tr('port'))
        self.country = QLineEdit(v.get('country', ''))
        self.country.setPlaceholderText(tr('ISO code or name'))
        self.notes = QPlainTextEdit(v.get('notes', ''))
        self.notes.setFixedHeight(70)
        self.add_rows((tr('Name'), self.name), (tr('Kind'), self.kind), (tr('Country'), self.country),
                      (tr('Notes'), self.notes))

    def values(self):
        return {'name': self.name.text().strip(), 'kind': self.kind.currentText().strip(),
                'country': self.country.text().strip(), 'notes': self.notes.toPlainText().strip()}


def _opt_spin(maximum, decimals=0):
    """A spin box whose minimum shows '—' (no value)."""
    if decimals:
        w = QDoubleSpinBox()
        w.setDecimals(decimals)
    else:
        w = QSpinBox()
    w.setRange(-1, maximum)
    w.setSpecialValueText('—')
    w.setValue(-1)
    return w


def _spin_value(w):
    v = w.value()
    return None if v < 0 else v


class ObservationForm(_Form):
    """Date, containers, TEU, pits, source, note."""

    def __init__(self, values=None, save=None, parent=None, title=None):
        super().__init__(title or tr('Observation'), save, parent)
        v = values or {}
        self.date = QDateEdit()
        self.date.setCalendarPopup(True)
        self.date.setDisplayFormat('yyyy-MM-dd')
        d = v.get('date') or _dt.date.today().isoformat()
        self.date.setDate(QDate.fromString(str(d)[:10], 'yyyy-MM-dd'))
        self.containers = _opt_spin(10_000_000)
        self.teu = _opt_spin(10_000_000.0, 1)
        self.pits = _opt_spin(1_000_000)
        for key, w in (('containers', self.containers), ('teu', self.teu), ('pits', self.pits)):
            if v.get(key) is not None:
                w.setValue(v[key])
        self.source = QLineEdit(v.get('source', ''))
        self.source.setPlaceholderText(tr('image, provider, algorithm…'))
        self.note = QLineEdit(v.get('note', ''))
        self.add_rows((tr('Date'), self.date), (tr('Containers'), self.containers), (tr('TEU'), self.teu),
                      (tr('Pits'), self.pits), (tr('Source'), self.source), (tr('Note'), self.note))

    def values(self):
        return {'date': self.date.date().toString('yyyy-MM-dd'), 'containers': _spin_value(self.containers),
                'teu': _spin_value(self.teu), 'pits': _spin_value(self.pits),
                'source': self.source.text().strip(), 'note': self.note.text().strip()}
