"""The last results of CargoWatch algorithms run in this QGIS session, for "add observation from last run".

Two ways in: the Processing dialog (and the dock) run algorithms as ``QgsProcessingAlgRunnerTask``s; the
watcher sees each task the task manager gets and records the results of CargoWatch ones. Anything else
(a script, a model) can call ``record(alg_id, results)``.
"""

import time

from qgis.core import QgsApplication, QgsProcessingAlgRunnerTask
from qgis.PyQt.QtCore import QObject, pyqtSignal

_RESULTS = []  # (when, alg_id, display name, results dict), newest last
PROVIDER = 'cargowatch'


def record(alg_id, results, display=None):
    alg = QgsApplication.processingRegistry().algorithmById(alg_id)
    display = display or (alg.displayName() if alg else alg_id)
    _RESULTS.append((time.time(), alg_id, display, dict(results or {})))
    del _RESULTS[:-20]


def last():
    """(when, alg_id, display name, results) of the newest run with a count, or None."""
    for item in reversed(_RESULTS):
        if counts_from_results(item[1], item[3]):
            return item
    return None


def counts_from_results(alg_id, results):
    """{'containers'|'teu'|'pits': number} from an algorithm's outputs (COUNT, TEU, PITS...)."""
    out = {}
    is_pits = 'pit' in (alg_id or '').lower()
    for key, value in (results or {}).items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        k = key.upper()
        if 'TEU' in k:
            out['teu'] = float(value)
        elif 'PIT' in k or (is_pits and 'COUNT' in k):
            out['pits'] = int(round(value))
        elif 'CONTAINER' in k or k == 'COUNT':
            out['containers'] = int(round(value))
    return out


class RunWatcher(QObject):
    """Records the results of CargoWatch algorithms that run as tasks while it lives."""
    recorded = pyqtSignal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self._tasks = []
        QgsApplication.taskManager().taskAdded.connect(self._added)

    def _cargowatch_algs(self):
        reg = QgsApplication.processingRegistry()
        prov = reg.providerById(PROVIDER)
        return {a.displayName(): a.id() for a in (prov.algorithms() if prov else [])}

    def _added(self, task_id):
        task = QgsApplication.taskManager().task(task_id)
        if not isinstance(task, QgsProcessingAlgRunnerTask):
            return
        desc = task.description()
        match = [(name, aid) for name, aid in self._cargowatch_algs().items() if name and name in desc]
        if not match:
            return
        name, aid = max(match, key=lambda x: len(x[0]))

        def done(ok, results, aid=aid, name=name):
            if ok:
                record(aid, results, name)
                self.recorded.emit(aid)

        task.executed.connect(done)
        self._tasks.append(done)
        del self._tasks[:-50]

    def stop(self):
        try:
            QgsApplication.taskManager().taskAdded.disconnect(self._added)
        except TypeError:
            pass
