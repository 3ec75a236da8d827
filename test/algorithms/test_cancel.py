"""Every algorithm of the provider cancels cleanly (algorithms/base.py): cancelled before it starts, at its first
progress report or half-way (often while writing its outputs), on small real inputs, it raises a
QgsProcessingException saying it was cancelled (no traceback) and leaves nothing at its destinations. The
algorithms are enumerated from the provider: a new one without a case here fails
test_every_algorithm_has_a_cancel_case."""
import pytest
from qgis.core import QgsApplication, QgsProcessingContext, QgsProcessingException, QgsProcessingFeedback

from helpers import scenes
from helpers.paths import SAMPLE
from helpers.qgis_run import write_points

pytest.importorskip('pyais')

SITES = str(SAMPLE / 'dunai_rajin_sites.gpkg')
DUNAI = SITES + '|layername=sites|subset="name" = \'Dunai\''


def run(alg, params, feedback=None):
    import processing
    return processing.run(alg, params, context=QgsProcessingContext(), feedback=feedback or QgsProcessingFeedback())


@pytest.fixture(scope='module')
def inputs(tmp_path_factory):
    """Small real inputs, made once: a generated yard, a depot pair, the bundled AIS sample imported, a container
    layer, a sites GeoPackage of the dock holding the depot, a sighting at Rajin."""
    from helpers import ais_scenario, depot_scenes
    from cargowatch.core.site_store import SiteStore
    d = tmp_path_factory.mktemp('cancel_inputs')
    yard = str(scenes.write_scene(scenes.port_scene(seed=3, gsd=0.5, size_px=300), d / 'yard.tif'))
    before, after, _ = depot_scenes.depot_pair(d, size=(160.0, 160.0), n_old=3, n_new=8)
    positions = str(d / 'positions.gpkg')
    run('cargowatch:importais', {'INPUT': str(SAMPLE / 'dunai_rajin_ais.nmea.gz'), 'OUTPUT': positions})
    containers = str(d / 'containers.gpkg')
    run('cargowatch:countcontainers', {'INPUT': yard, 'OUTPUT': containers})
    store = str(d / 'sites.gpkg')
    with SiteStore(store) as s:
        s.add_site('Tikhoretsk depot', wkt='POLYGON((40 45.8,40.2 45.8,40.2 46,40 46,40 45.8))', kind='depot')
    scenes_txt = d / 'scenes.txt'
    scenes_txt.write_text(yard + '\n')
    sightings = write_points(d / 'sightings.gpkg', [(ais_scenario.SITES['Rajin'], {'time': '2024-03-04T00:00:00Z'})],
                             name='sightings')
    return {'yard': yard, 'before': before, 'after': after, 'positions': positions, 'containers': containers,
            'store': store, 'scenes': str(scenes_txt), 'sightings': sightings}


def observations(store):
    from cargowatch.core.site_store import SiteStore
    with SiteStore(store, create=False) as s:
        return sum(len(s.observations(site.fid)) for site in s.sites())


# name -> (parameters without outputs, output parameters written as files under tmp_path)
CASES = {
    'countcontainers': (lambda i: {'INPUT': i['yard']}, ['OUTPUT']),
    'countpits': (lambda i: {'INPUT': i['after']}, ['OUTPUT']),
    'detectchanges': (lambda i: {'BEFORE': i['before'], 'AFTER': i['after'], 'KIND': 1}, ['OUTPUT']),
    'batchcount': (lambda i: {'KIND': 0, 'SCENES': i['scenes'], 'SCHEDULER': ''}, ['OUTPUT']),
    'comparesignatures': (lambda i: {'LAYERS': [i['containers'], i['containers']], 'NAMES': 'a, b'},
                          ['OUTPUT', 'PAIRS']),
    'importais': (lambda i: {'INPUT': str(SAMPLE / 'dunai_rajin_ais.nmea.gz')}, ['OUTPUT', 'REJECTED']),
    'buildtracks': (lambda i: {'INPUT': i['positions']}, ['OUTPUT']),
    'detectgaps': (lambda i: {'INPUT': i['positions'], 'SITES': SITES}, ['OUTPUT']),
    'countvoyages': (lambda i: {'INPUT': i['positions'], 'SITES': SITES}, ['OUTPUT', 'CALLS']),
    'matchsightings': (lambda i: {'SIGHTINGS': i['sightings'], 'POSITIONS': i['positions']}, ['OUTPUT']),
    'recordobservation': (lambda i: {'STORE': i['store'], 'SITE_NAME': 'Tikhoretsk depot', 'DATE': '2024-06-01',
                                     'PITS': 12}, []),
    'sitereport': (lambda i: {'SITE': DUNAI, 'RASTERS': [i['yard']], 'POSITIONS': i['positions']}, ['OUTPUT']),
    'depotgrowth': (lambda i: {'BEFORE': i['before'], 'AFTER': i['after'], 'STORE': i['store'],
                               'SITE_NAME': 'Tikhoretsk depot', 'DATE': '2024-06-01'}, ['changes:CHANGES']),
    'portactivity': (lambda i: {'RASTER': str(SAMPLE / 'rajin_port_sample.tif'),
                                'YARD': str(SAMPLE / 'rajin_port_sample_aoi.gpkg'),
                                'POSITIONS': i['positions'], 'SITE': DUNAI, 'NEAR_NM': 10},
                     ['containers:CONTAINERS', 'voyages:CALLS', 'touching:DARK_PERIODS']),
}
EXTENSION = {'sitereport': '.html'}


def provider_algorithms():
    return sorted(a.name() for a in QgsApplication.processingRegistry().providerById('cargowatch').algorithms())


def test_every_algorithm_has_a_cancel_case():
    assert provider_algorithms() == sorted(CASES)


class CancelAtProgress(QgsProcessingFeedback):
    """Cancels the run the first time it reports at least ``percent`` progress (Python or C++ side alike)."""

    def __init__(self, percent):
        super().__init__()
        self.progressChanged.connect(lambda p: self.cancel() if p >= percent else None)


@pytest.mark.parametrize('when', ['before', 'at first progress', 'midway'])
@pytest.mark.parametrize('name', sorted(CASES))
def test_cancelled_run_says_so_and_writes_nothing(inputs, tmp_path, name, when):
    make, outputs = CASES[name]
    params = make(inputs)
    files = {key: tmp_path / (key.split(':')[-1].lower() + EXTENSION.get(name, '.gpkg')) for key in outputs}
    params.update({key: str(path) for key, path in files.items()})
    feedback = {'before': QgsProcessingFeedback(), 'at first progress': CancelAtProgress(0),
                'midway': CancelAtProgress(50)}[when]
    if when == 'before':
        feedback.cancel()
    noted = observations(inputs['store'])
    try:
        run(f'cargowatch:{name}', params, feedback)
    except QgsProcessingException as e:
        message = str(e)
    else:  # only a small run that never reported half-way may finish: then it was not cancelled and wrote all
        assert when == 'midway' and not feedback.isCanceled(), f'{name} finished though cancelled {when}'
        assert all(p.exists() for p in files.values())
        return
    assert 'cancel' in message.lower() and 'Traceback' not in message, message
    assert [str(p) for p in files.values() if p.exists()] == []
    assert list(tmp_path.iterdir()) == []  # no companion file either (-wal, -shm, .aux.xml)
    assert observations(inputs['store']) == noted  # nothing recorded on the sites either
