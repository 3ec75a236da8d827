"""cargowatch:batchcount — Count containers or pits over a list of scenes, on a Dask cluster."""
from qgis.core import (QgsProcessingContext, QgsProcessingException, QgsProcessingOutputNumber,
                       QgsProcessingOutputVectorLayer, QgsProcessingParameterEnum, QgsProcessingParameterFile,
                       QgsProcessingParameterFileDestination, QgsProcessingParameterNumber,
                       QgsProcessingParameterString)

from .base import CargoWatchAlgorithm, progress_cb
from ..compat import Q
from ..core import batch as core
from ..core.errors import Cancelled, CargoWatchError

class BatchCount(CargoWatchAlgorithm):
    NAME = 'batchcount'
    DISPLAY = 'Count over a scene archive (Dask)'
    GROUP = 'imagery'

    KIND, SCENES, SCHEDULER, SHARE, OUTPUT, COUNT, TEU, FAILED, DETECTIONS, TABLE = (
        'KIND', 'SCENES', 'SCHEDULER', 'SHARE_MPX', 'OUTPUT', 'COUNT', 'TEU', 'FAILED', 'DETECTIONS', 'SCENE_TABLE')

    def initAlgorithm(self, config=None):  # noqa: N802 (QGIS API)
        p = QgsProcessingParameterEnum(self.KIND, self.tr('Objects'), options=[self.tr(k) for k in core.KINDS],
                                       defaultValue=0)
        p.setHelp(self.tr('Count shipping containers or storage pits.'))
        self.addParameter(p)
        p = QgsProcessingParameterFile(self.SCENES, self.tr('Scene list'), extension='txt')
        p.setHelp(self.tr('Text file: one raster path or GDAL URL (/vsicurl/, /vsis3/...) a line, readable by '
                          'the workers.'))
        self.addParameter(p)
        p = QgsProcessingParameterString(self.SCHEDULER, self.tr('Dask scheduler address'), optional=True)
        p.setHelp(self.tr('e.g. tcp://10.0.0.5:8786. Empty: count here, one scene after another, without Dask.'))
        self.addParameter(p)
        p = QgsProcessingParameterNumber(self.SHARE, self.tr('Megapixels per task'), Q.DOUBLE,
                                         core.SHARE_PX / 1e6, minValue=0.01)
        p.setHelp(self.tr('A scene larger than this is split into several tasks (shares of its block grid).'))
        p.setFlags(p.flags() | Q.ADVANCED)
        self.addParameter(p)
        p = QgsProcessingParameterFileDestination(self.OUTPUT, self.tr('Result GeoPackage'),
                                                  self.tr('GeoPackage (*.gpkg)'))
        p.setHelp(self.tr('Written with the detections layer and the table "scenes"; both are loaded.'))
        self.addParameter(p)
        self.addOutput(QgsProcessingOutputVectorLayer(self.DETECTIONS, self.tr('Detections')))
        self.addOutput(QgsProcessingOutputVectorLayer(self.TABLE, self.tr('Scenes')))
        self.addOutput(QgsProcessingOutputNumber(self.COUNT, self.tr('Objects counted over all scenes')))
        self.addOutput(QgsProcessingOutputNumber(self.TEU, self.tr('TEU over all scenes (containers)')))
        self.addOutput(QgsProcessingOutputNumber(self.FAILED, self.tr('Scenes with an error')))

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802 (QGIS API)
        kind = core.KINDS[self.parameterAsEnum(parameters, self.KIND, context)]
        scheduler = self.parameterAsString(parameters, self.SCHEDULER, context).strip()
        share_px = int(self.parameterAsDouble(parameters, self.SHARE, context) * 1e6)
        out = self.parameterAsFileOutput(parameters, self.OUTPUT, context)
        progress = progress_cb(feedback, 0, 95)

        def report(i, r):
            what = f'error: {r.error}' if r.error else f'{r.count}' + (f' ({r.teu} TEU)' if r.teu is not None else '')
            (feedback.pushWarning if r.error else feedback.pushInfo)(self.tr('{}: {}').format(r.scene, what))

        try:
            scenes = core.read_scene_list(self.parameterAsFile(parameters, self.SCENES, context))
            if not scheduler:
                results = core.run_serial(kind, scenes, progress=progress, cancelled=feedback.isCanceled,
                                          report=report)
            else:
                client = core.connect(scheduler)
                try:
                    feedback.pushInfo(self.tr('{} scenes sent to {}; dashboard: {}').format(
                        len(scenes), scheduler, client.dashboard_link))
                    results = core.run_dask(client, kind, scenes, share_px=share_px, progress=progress,
                                            cancelled=feedback.isCanceled, report=report)
                finally:
                    client.close()
            if feedback.isCanceled():
                raise Cancelled()
            layer = core.write_gpkg(out, kind, results)
        except Cancelled:
            raise QgsProcessingException(self.tr('Cancelled: no output was written.'))
        except CargoWatchError as e:
            raise QgsProcessingException(str(e))
        ok = [r for r in results if r.error is None]
        count = sum(r.count for r in ok)
        teu = sum(r.teu for r in ok) if kind == 'containers' else 0
        dets, table = f'{out}|layername={layer}', f'{out}|layername=scenes'
        for uri, name, output in ((dets, kind, self.DETECTIONS), (table, 'scenes', self.TABLE)):
            context.addLayerToLoadOnCompletion(uri, QgsProcessingContext.LayerDetails(
                name, context.project(), output))
        feedback.pushInfo(self.tr('{}/{} scenes counted: {} {}.').format(len(ok), len(results), count, kind))
        feedback.setProgress(100)
        return {self.OUTPUT: out, self.DETECTIONS: dets, self.TABLE: table, self.COUNT: count, self.TEU: teu,
                self.FAILED: len(results) - len(ok)}
