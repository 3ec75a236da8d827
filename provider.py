"""The CargoWatch Processing provider: registers every algorithm in algorithms/."""
import glob
import importlib
import inspect
import os
import pkgutil

from qgis.core import (QgsApplication, QgsMessageLog, QgsProcessingException, QgsProcessingModelAlgorithm,
                       QgsProcessingOutputNumber, QgsProcessingProvider)
from qgis.PyQt.QtCore import QCoreApplication
from qgis.PyQt.QtGui import QIcon

from . import algorithms
from .compat import qenum
from .algorithms.base import ICON_PREFIX, CargoWatchAlgorithm, discard_output


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


MODELS_DIR = os.path.join(os.path.dirname(__file__), 'models')


def output_type(alg_id, output):
    """Type name of ``output`` of the registered algorithm ``alg_id``, or None."""
    alg = QgsApplication.processingRegistry().algorithmById(alg_id)
    definition = alg.outputDefinition(output) if alg is not None else None
    return definition.type() if definition is not None else None


class CargoWatchModel(QgsProcessingModelAlgorithm):
    """A shipped model (models/*.model3, built by tools/make_models.py). Its numeric model outputs (e.g. NEW_COUNT)
    are declared as outputs of the model and returned under their own name: QGIS 3.22 returns a step's number only
    as 'step:NAME' and does not declare it, so it could not feed another model's input."""

    def __init__(self, path=None):
        super().__init__()
        self.path = path
        if path is not None:
            if not self.fromFile(path):
                raise ValueError(f'{path} is not a readable model')
            for name, _, _, label in self.numeric_outputs():
                self.addOutput(QgsProcessingOutputNumber(name, label))

    def numeric_outputs(self):
        """(model output name, step id, step output name, description) of every numeric model output."""
        found = []
        for child in self.childAlgorithms().values():
            for name, out in child.modelOutputs().items():
                if output_type(child.algorithmId(), out.childOutputName()) == QgsProcessingOutputNumber.typeName():
                    found.append((name, child.childId(), out.childOutputName(), out.description() or name))
        return sorted(found)

    def createInstance(self):
        return type(self)(self.path)

    def displayName(self):  # noqa: N802 (QGIS API)
        """The file's model name is the id (cargowatch:depotgrowth); the display name is kept in its help."""
        return QCoreApplication.translate('CargoWatch', self.helpContent().get('DISPLAY_NAME') or self.name())

    def groupId(self):
        return 'models'

    def group(self):
        return QCoreApplication.translate('CargoWatch', 'Models')

    def icon(self):
        return QIcon(ICON_PREFIX + 'cargowatch.svg')

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802 (QGIS API)
        """The model's steps; cancelled (before it starts too: QGIS does not pass that on to the steps), it
        removes the files its finished steps wrote and says it was cancelled."""
        cancelled = QCoreApplication.translate('CargoWatch', 'Cancelled: no output was written.')
        if feedback.isCanceled():
            raise QgsProcessingException(cancelled)
        files = [v for v in (parameters.get(p.name()) for p in self.destinationParameterDefinitions())
                 if isinstance(v, str) and v and not v.startswith(('TEMPORARY_OUTPUT', 'memory:'))
                 and not os.path.exists(v.split('|')[0])]
        try:
            results = super().processAlgorithm(parameters, context, feedback)
            if feedback.isCanceled():
                raise QgsProcessingException(cancelled)
        except QgsProcessingException:
            for path in files:
                discard_output(path)
            if feedback.isCanceled():
                raise QgsProcessingException(cancelled) from None
            raise
        for name, child_id, _, _ in self.numeric_outputs():
            results[name] = results.get(f'{child_id}:{name}', results.get(name))
        return results


def model_files():
    return sorted(glob.glob(os.path.join(MODELS_DIR, '*.model3')))


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
        registry = QgsApplication.processingRegistry()
        if registry.providerById(self.id()) is not self:
            # the models' steps are found through the registry, which holds the provider only once it is loaded:
            # read the models again then (the toolbox and qgis_process help list their outputs)
            registry.providerAdded.connect(self._reload_models)
            return
        for path in model_files():
            try:
                self.addAlgorithm(CargoWatchModel(path))
            except ValueError as e:  # a damaged model file must not take the algorithms with it
                QgsMessageLog.logMessage(str(e), 'CargoWatch', qenum('Qgis.MessageLevel.Warning', 'Qgis.Warning'))

    def _reload_models(self, provider_id):
        if provider_id == self.id():
            QgsApplication.processingRegistry().providerAdded.disconnect(self._reload_models)
            self.refreshAlgorithms()
