"""The CargoWatch Processing provider: registers every algorithm in algorithms/."""
import importlib
import inspect
import pkgutil

from qgis.core import QgsProcessingProvider
from qgis.PyQt.QtCore import QCoreApplication
from qgis.PyQt.QtGui import QIcon

from . import algorithms
from .algorithms.base import ICON_PREFIX, CargoWatchAlgorithm


def algorithm_classes():
    """Every CargoWatchAlgorithm subclass defined in the modules of algorithms/, by name."""
    found = {}
    for info in pkgutil.iter_modules(algorithms.__path__):
        if info.name == 'base':
            continue
        module = importlib.import_module(f'{algorithms.__name__}.{info.name}')
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, CargoWatchAlgorithm) and cls.__module__ == module.__name__ and cls.NAME:
                found[cls.NAME] = cls
    return [found[k] for k in sorted(found)]


class CargoWatchProvider(QgsProcessingProvider):

    def id(self):
        return 'cargowatch'

    def name(self):
        return QCoreApplication.translate('CargoWatch', 'CargoWatch')

    def longName(self):
        return QCoreApplication.translate('CargoWatch', 'CargoWatch – containers, storage pits and AIS dark periods')

    def icon(self):
        return QIcon(ICON_PREFIX + 'cargowatch.svg')

    def svgIconPath(self):
        return ICON_PREFIX + 'cargowatch.svg'

    def loadAlgorithms(self):
        for cls in algorithm_classes():
            self.addAlgorithm(cls())
