"""CargoWatch plugin: the Processing provider (also in qgis_process) and, in the desktop, the dock."""
from qgis.core import QgsApplication
from qgis.PyQt.QtCore import QCoreApplication, Qt
from qgis.PyQt.QtGui import QIcon
from qgis.PyQt.QtWidgets import QAction

from . import resources  # noqa: F401  registers the :/plugins/cargowatch/ icons
from .provider import CargoWatchProvider

MENU = '&CargoWatch'


class CargoWatchPlugin:

    def __init__(self, iface):
        self.iface = iface
        self.provider = None
        self.dock = None
        self.action = None

    def tr(self, text):
        return QCoreApplication.translate('CargoWatch', text)

    def initProcessing(self):  # noqa: N802 (QGIS API name)
        """Called by QGIS and by qgis_process (where iface is None): no GUI here."""
        if self.provider is None:
            provider = CargoWatchProvider()
            # the registry deletes a provider whose id is already registered
            if QgsApplication.processingRegistry().addProvider(provider):
                self.provider = provider

    def initGui(self):  # noqa: N802
        self.initProcessing()
        self.action = QAction(QIcon(':/plugins/cargowatch/icons/dock.svg'), self.tr('CargoWatch panel'),
                              self.iface.mainWindow())
        self.action.setCheckable(True)
        self.action.setToolTip(self.tr('Show ship tracks, dark periods and site annotations'))
        self.action.triggered.connect(self.toggle_dock)
        self.iface.addToolBarIcon(self.action)
        self.iface.addPluginToMenu(MENU, self.action)

    def toggle_dock(self, checked=True):
        if self.dock is None:
            from .ui.dock import CargoWatchDock
            self.dock = CargoWatchDock(self.iface, parent=self.iface.mainWindow())
            self.iface.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.dock)
            self.dock.visibilityChanged.connect(self.action.setChecked)
        self.dock.setVisible(checked)

    def unload(self):
        if self.dock is not None:
            self.dock.close_and_cleanup()
            self.iface.removeDockWidget(self.dock)
            self.dock.deleteLater()
            self.dock = None
        if self.action is not None:
            self.iface.removePluginMenu(MENU, self.action)
            self.iface.removeToolBarIcon(self.action)
            self.action.deleteLater()
            self.action = None
        if self.provider is not None:
            QgsApplication.processingRegistry().removeProvider(self.provider)
            self.provider = None
