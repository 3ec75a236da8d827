"""cargowatch:recordobservation — Record a dated observation (counts) on a site of the sites GeoPackage."""
from qgis.core import (QgsProcessingException, QgsProcessingOutputNumber, QgsProcessingParameterDateTime,
                       QgsProcessingParameterFile, QgsProcessingParameterNumber, QgsProcessingParameterString)

from .base import CargoWatchAlgorithm
from ..compat import Q, qenum
from ..core.errors import CargoWatchError
from ..core.site_store import SiteStore

DATE_ONLY = qenum('Qgis.ProcessingDateTimeParameterDataType.Date', 'QgsProcessingParameterDateTime.Type.Date')

HELP = """
<p>Adds one dated observation (containers, TEU, storage pits) to a site of a CargoWatch sites GeoPackage, the
file the CargoWatch panel keeps its site annotations in. The site's latest date and counts, shown on the map
labels, follow. Meant as the last step of a model: <i>Count shipping containers</i> COUNT and TEU, or
<i>Objects appeared or removed between two dates</i> AFTER_COUNT, wired into the counts (see the shipped model
<i>Depot growth between two dates</i>).</p>
<h3>Parameters</h3>
<ul>
<li><b>Sites GeoPackage</b>: an existing CargoWatch sites file (tables <i>sites</i> and
<i>observations</i>).</li>
<li><b>Site name</b>: the site to annotate (case is ignored); it must exist: add it in the panel first.</li>
<li><b>Date</b>: the date of the image the counts come from.</li>
<li><b>Containers</b>, <b>TEU</b>, <b>Storage pits</b>: the counts (each optional; empty = not counted on this
date; negative values are refused).</li>
<li><b>Source</b>, <b>Note</b>: free text kept with the observation (image name, analyst, remarks).</li>
</ul>
<h3>Outputs</h3>
<p><b>OBSERVATION_ID</b>: the new observation's id; <b>OBSERVATIONS</b>: the site's number of observations
now.</p>
<h3>Limits</h3>
<p>Every run adds a row: running the same model twice records the date twice (delete one in the panel).</p>
"""


class RecordObservation(CargoWatchAlgorithm):
    NAME = 'recordobservation'
    DISPLAY = 'Record a dated observation on a site'
    GROUP = 'imagery'
    HELP = HELP

    STORE, SITE_NAME, DATE, CONTAINERS, TEU, PITS, SOURCE, NOTE = (
        'STORE', 'SITE_NAME', 'DATE', 'CONTAINERS', 'TEU', 'PITS', 'SOURCE', 'NOTE')
    COUNTS = (('CONTAINERS', 'Containers', Q.INTEGER), ('TEU', 'TEU', Q.DOUBLE), ('PITS', 'Storage pits', Q.INTEGER))

    def initAlgorithm(self, config=None):  # noqa: N802 (QGIS API)
        p = QgsProcessingParameterFile(self.STORE, self.tr('Sites GeoPackage'), behavior=Q.FILE,
                                       extension='gpkg')
        p.setHelp(self.tr('The CargoWatch sites GeoPackage (the panel\'s annotation file).'))
        self.addParameter(p)
        p = QgsProcessingParameterString(self.SITE_NAME, self.tr('Site name'))
        p.setHelp(self.tr('Name of an existing site in that file (case is ignored).'))
        self.addParameter(p)
        p = QgsProcessingParameterDateTime(self.DATE, self.tr('Date'), DATE_ONLY)
        p.setHelp(self.tr('Date of the image the counts come from.'))
        self.addParameter(p)
        for name, label, kind in self.COUNTS:
            p = QgsProcessingParameterNumber(name, self.tr(label), kind, optional=True, minValue=0)
            p.setHelp(self.tr(f'{label} counted on that date (empty = not counted).'))
            self.addParameter(p)
        for name, label in ((self.SOURCE, 'Source'), (self.NOTE, 'Note')):
            p = QgsProcessingParameterString(name, self.tr(label), optional=True)
            p.setHelp(self.tr('Free text kept with the observation (image, algorithm, analyst, remarks).'))
            self.addParameter(p)
        self.addOutput(QgsProcessingOutputNumber('OBSERVATION_ID', self.tr('Observation id')))
        self.addOutput(QgsProcessingOutputNumber('OBSERVATIONS', self.tr('Observations of the site')))

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802 (QGIS API)
        path = self.parameterAsFile(parameters, self.STORE, context)
        name = (self.parameterAsString(parameters, self.SITE_NAME, context) or '').strip()
        date = self.parameterAsDateTime(parameters, self.DATE, context)
        if not date.isValid():
            raise QgsProcessingException(self.tr('Date: give the date of the image (YYYY-MM-DD).'))
        counts = {name_.lower(): (self.parameterAsDouble(parameters, name_, context)
                                  if parameters.get(name_) not in (None, '') else None)
                  for name_, _, _ in self.COUNTS}
        try:
            with SiteStore(path, create=False) as store:
                sites = [s for s in store.sites() if s.name.strip().lower() == name.lower()]
                if not sites:
                    known = ', '.join(s.name for s in store.sites()) or 'none'
                    raise QgsProcessingException(self.tr(
                        f'No site named "{name}" in {path} (sites: {known}). Add it in the CargoWatch panel.'))
                fid = store.add_observation(sites[0].fid, date.date().toString('yyyy-MM-dd'),
                                            source=self.parameterAsString(parameters, self.SOURCE, context),
                                            note=self.parameterAsString(parameters, self.NOTE, context), **counts)
                n = len(store.observations(sites[0].fid))
        except CargoWatchError as e:
            raise QgsProcessingException(str(e))
        feedback.pushInfo(self.tr(f'Observation {fid} recorded on {sites[0].name} for '
                                  f'{date.date().toString("yyyy-MM-dd")}; the site has {n} observations.'))
        return {'OBSERVATION_ID': fid, 'OBSERVATIONS': n}
