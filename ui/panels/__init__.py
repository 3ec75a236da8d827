"""The dock's panels, each a QWidget that owns its widgets and what they do:

- ``ships.ShipsPanel``: the AIS layer, time range, dark-period threshold, the vessel list (``vessels``), details;
- ``sites.SitesPanel``: the sites file, the sites list and their map layers, with
  ``observations.ObservationsPanel`` (dated counts of the selected site) and ``chart.SiteChart``.

``ui/dock.py`` assembles them and wires what goes across (loading AIS, map tools, refreshing the overlay).
A panel talks to the analyst through its host (the dock): ``host.message(text, level, duration)``,
``host.form_runner(dialog)`` and ``host.confirm(text)``, looked up at each call (tests replace them)."""
from qgis.PyQt.QtCore import QCoreApplication, Qt
from qgis.PyQt.QtWidgets import QPushButton, QToolButton


def tr(text):
    return QCoreApplication.translate('CargoWatchDock', text)


def button(text, tip, slot=None, checkable=False):
    """A push button, or a checkable tool button (map tools); slot gets clicked() or toggled(bool)."""
    b = QToolButton() if checkable else QPushButton(text)
    if checkable:
        b.setText(text)
        b.setCheckable(True)
        b.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
    b.setToolTip(tip)
    if slot is not None:
        (b.toggled if checkable else b.clicked).connect(slot)
    return b
