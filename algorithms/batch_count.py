"""cargowatch:batchcount — Count containers or pits over a list of scenes, on a Dask cluster."""
from qgis.core import (QgsProcessingContext, QgsProcessingException, QgsProcessingOutputNumber,
                       QgsProcessingOutputVectorLayer, QgsProcessingParameterEnum, QgsProcessingParameterFile,
                       QgsProcessingParameterFileDestination, QgsProcessingParameterNumber,
                       QgsProcessingParameterString)

from .base import CargoWatchAlgorithm, progress_cb
from ..compat import Q
from ..core import batch as core
from ..core.errors import Cancelled, CargoWatchError

HELP = """
<p>Counts shipping containers or storage pits over a list of scenes (an archive of many dates or
sites) by handing them to a running <a href="https://www.dask.org">Dask</a> scheduler, whose workers
count them in parallel, then loads the result. Each scene is counted exactly as
<i>Count shipping containers</i> / <i>Count storage pits</i> count it on this machine with their default
settings: a large scene is split into shares of the same block grid (same overlap, an object across a
border counted once), so the detections are the same.</p>
<h3>Parameters</h3>
<ul>
<li><b>Objects</b>: containers or pits.</li>
<li><b>Scene list</b>: a text file with one raster path or GDAL URL a line (e.g. /vsicurl/https://...,
/vsis3/bucket/scene.tif); blank lines and lines starting with # are skipped. The paths must be readable
by the workers (a shared disk, object storage).</li>
<li><b>Dask scheduler</b>: its address, e.g. tcp://10.0.0.5:8786 (started with <code>dask scheduler</code>,
dask-jobqueue or on Kubernetes; see docs/dask.md). Workers need numpy, GDAL, scipy and OpenCV, not QGIS:
CargoWatch's core is sent to them. Leave empty to count here, one scene after another, without Dask.</li>
<li><b>Megapixels per task</b> (advanced, default 16): a larger scene is split into several tasks.</li>
</ul>
<h3>Outputs</h3>
<p>A GeoPackage with the polygon layer of detections (field <i>scene</i> plus the fields of the single-scene
algorithm) and the table <i>scenes</i>: <i>scene</i>, <i>count</i>, <i>teu</i> (containers only),
<i>seconds</i> (processing time summed over the scene's tasks) and <i>error</i>. A scene that cannot be
counted (missing, corrupt, too coarse, all nodata) is listed there with its error and does not stop the
others. The detections are in the scenes' CRS when they share one, else in WGS 84. <b>COUNT</b>,
<b>TEU</b> and <b>FAILED</b> (scenes with an error) are returned for models.</p>
<h3>Limits</h3>
<p>Needs Dask when a scheduler is given: <code>pip install "dask[distributed]"</code> in QGIS's Python (and
on the cluster). Progress shows per scene here and per task in the Dask dashboard. Default detector
settings only; no area of interest.</p>
"""


class BatchCount(CargoWatchAlgorithm):
    NAME = 'batchcount'
    DISPLAY = 'Count over a scene archive (Dask)'
    GROUP = 'imagery'
    HELP = HELP

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
            (feedback.pushWarning if r.error else feedback.pushInfo)(self.tr(f'{r.scene}: {what}'))

        try:
            scenes = core.read_scene_list(self.parameterAsFile(parameters, self.SCENES, context))
            if not scheduler:
                results = core.run_serial(kind, scenes, progress=progress, cancelled=feedback.isCanceled,
                                          report=report)
            else:
                client = core.connect(scheduler)
                try:
                    feedback.pushInfo(self.tr(f'{len(scenes)} scenes sent to {scheduler}; '
                                              f'dashboard: {client.dashboard_link}'))
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
        feedback.pushInfo(self.tr(f'{len(ok)}/{len(results)} scenes counted: {count} {kind}.'))
        feedback.setProgress(100)
        return {self.OUTPUT: out, self.DETECTIONS: dets, self.TABLE: table, self.COUNT: count, self.TEU: teu,
                self.FAILED: len(results) - len(ok)}
