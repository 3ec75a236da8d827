"""cargowatch:recordobservation — Record a dated observation (counts) on a site of the sites GeoPackage."""
from qgis.core import (QgsProcessingException, QgsProcessingOutputNumber, QgsProcessingParameterDateTime,
                       QgsProcessingParameterFile, QgsProcessingParameterNumber, QgsProcessingParameterString)

from .base import CargoWatchAlgorithm
from ..compat import Q, qenum
from ..core.errors import CargoWatchError
from ..core.site_store import SiteStore

DATE_ONLY = qenum('Qgis.ProcessingDateTimeParameterDataType.Date', 'QgsProcessingParameterDateTime.Type.Date')

class RecordObservation(CargoWatchAlgorithm):
    NAME = 'recordobservation'
    DISPLAY = 'Record a dated observation on a site'
    GROUP = 'imagery'

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
            p.setHelp(self.tr('{} counted on that date (empty = not counted).').format(label))
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
                    raise QgsProcessingException(self.tr('No site named "{}" in {} (sites: {}). Add it in the '
                                                         'CargoWatch panel.').format(name, path, known))
                feedback.setProgress(50)  # the site is found; what is left is the write
                self.check_cancelled(feedback)
                fid = store.add_observation(sites[0].fid, date.date().toString('yyyy-MM-dd'),
                                            source=self.parameterAsString(parameters, self.SOURCE, context),
                                            note=self.parameterAsString(parameters, self.NOTE, context), **counts)
                n = len(store.observations(sites[0].fid))
        except CargoWatchError as e:
            raise QgsProcessingException(str(e))
        feedback.pushInfo(self.tr('Observation {} recorded on {} for {}; the site has {} observations.').format(
            fid, sites[0].name, date.date().toString('yyyy-MM-dd'), n))
        feedback.setProgress(100)
        return {'OBSERVATION_ID': fid, 'OBSERVATIONS': n}
