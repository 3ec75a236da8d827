"""The shipped models (models/*.model3) through processing.run and qgis_process, the container and pit counts in
Processing's batch dialog over several rasters, and every numeric output of every algorithm wired into a model
input."""
import os
import shutil
import subprocess
import sys

import pytest
from qgis.core import (QgsApplication, QgsProcessingContext, QgsProcessingFeedback, QgsProcessingModelAlgorithm,
                       QgsProcessingOutputNumber, QgsVectorLayer)

from helpers import depot_scenes
from helpers import scenes
from helpers.paths import ROOT
from helpers.qgis_run import run_qgis_process, write_points

SAMPLE = ROOT / 'sample_data'
MODELS = {'depotgrowth': 'Depot growth between two dates', 'portactivity': 'Port activity'}


def run(alg, params):
    import processing
    return processing.run(alg, params, context=QgsProcessingContext(), feedback=QgsProcessingFeedback())


def features(path, layer=None):
    lyr = QgsVectorLayer(str(path) + (f'|layername={layer}' if layer else ''), 'l', 'ogr')
    assert lyr.isValid(), path
    return list(lyr.getFeatures())


@pytest.fixture(scope='module')
def depot(tmp_path_factory):
    """A small generated depot pair (4 old pits, 14 dug in between) and a sites GeoPackage holding the depot."""
    from cargowatch.core.site_store import SiteStore
    folder = tmp_path_factory.mktemp('depot')
    before, after, truth = depot_scenes.depot_pair(folder, size=(200.0, 200.0), n_old=4, n_new=14)
    store = folder / 'sites.gpkg'
    with SiteStore(store) as s:
        s.add_site('Tikhoretsk depot', wkt='POLYGON((40 45.8,40.2 45.8,40.2 46,40 46,40 45.8))', kind='depot')
    return {'before': before, 'after': after, 'truth': truth, 'store': str(store), 'folder': folder}


@pytest.fixture(scope='module')
def positions(tmp_path_factory):
    """The bundled Dunai-Rajin AIS sample imported once."""
    out = tmp_path_factory.mktemp('ais') / 'positions.gpkg'
    res = run('cargowatch:importais', {'INPUT': str(SAMPLE / 'dunai_rajin_ais.nmea.gz'), 'OUTPUT': str(out)})
    assert res['ROWS_KEPT'] > 6000
    return str(out)


DUNAI = str(SAMPLE / 'dunai_rajin_sites.gpkg') + '|layername=sites|subset="name" = \'Dunai\''


def test_models_are_listed_with_help_and_declared_numbers():
    provider = QgsApplication.processingRegistry().providerById('cargowatch')
    for name, display in MODELS.items():
        alg = provider.algorithm(name)
        assert alg is not None and alg.id() == f'cargowatch:{name}' and alg.displayName() == display
        assert isinstance(alg, QgsProcessingModelAlgorithm) and alg.group() == 'Models'
        ok, issues = alg.validate()
        assert ok, issues
        assert 'Limits' in alg.shortHelpString()
        for p in alg.parameterDefinitions():
            assert p.help() or p.isDestination(), (name, p.name())
    numbers = {n: {o.name() for o in provider.algorithm(n).outputDefinitions()
                   if o.type() == QgsProcessingOutputNumber.typeName()} for n in MODELS}
    assert numbers['depotgrowth'] == {'NEW_COUNT', 'REMOVED_COUNT', 'KEPT_COUNT', 'BEFORE_COUNT', 'AFTER_COUNT',
                                      'OBSERVATION_ID'}
    assert numbers['portactivity'] == {'COUNT', 'TEU', 'CALL_COUNT', 'DARK_COUNT', 'GAP_COUNT', 'DARK_HOURS'}


def test_shipped_models_are_what_the_tool_writes(tmp_path):
    """models/*.model3 are in step with the algorithms: tools/make_models.py (which checks every parameter and
    output it wires) writes the same files today."""
    proc = subprocess.run([sys.executable, str(ROOT / 'tools' / 'make_models.py'), str(tmp_path)], capture_output=True,
                          text=True, timeout=300, env=dict(os.environ, QT_QPA_PLATFORM='offscreen'))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for name in MODELS:
        assert (tmp_path / f'{name}.model3').read_bytes() == (ROOT / 'models' / f'{name}.model3').read_bytes(), name


def test_a_damaged_model_file_is_refused(tmp_path):
    from cargowatch.provider import CargoWatchModel
    bad = tmp_path / 'bad.model3'
    bad.write_text('<!DOCTYPE model><Option type="Map">', encoding='utf-8')
    with pytest.raises(ValueError, match='not a readable model'):
        CargoWatchModel(str(bad))


def test_depotgrowth_counts_pits_and_records_the_observation(depot):
    from cargowatch.core.site_store import SiteStore
    out = depot['folder'] / 'growth.gpkg'
    res = run('cargowatch:depotgrowth', {'BEFORE': depot['before'], 'AFTER': depot['after'], 'STORE': depot['store'],
                                         'SITE_NAME': 'tikhoretsk DEPOT', 'DATE': '2024-05-20',
                                         'changes:CHANGES': str(out)})
    direct = run('cargowatch:detectchanges', {'BEFORE': depot['before'], 'AFTER': depot['after'], 'KIND': 1,
                                              'OUTPUT': 'TEMPORARY_OUTPUT'})
    for key in ('NEW_COUNT', 'REMOVED_COUNT', 'KEPT_COUNT', 'BEFORE_COUNT', 'AFTER_COUNT'):
        assert res[key] == direct[key], key
    status = [f['status'] for f in features(out)]
    assert res['NEW_COUNT'] == status.count('new') and res['AFTER_COUNT'] == status.count('new') + status.count('kept')
    # 14 pits were dug between the two generated dates
    assert abs(res['NEW_COUNT'] - 14) <= 5, res
    with SiteStore(depot['store'], create=False) as s:
        site = s.sites()[0]
        obs = s.observations(site.fid)
    assert [o.fid for o in obs] == [res['OBSERVATION_ID']]
    assert obs[0].date == '2024-05-20' and obs[0].pits == res['AFTER_COUNT'] and site.last_pits == res['AFTER_COUNT']
    assert obs[0].note == (f"{res['NEW_COUNT']} new and {res['REMOVED_COUNT']} removed storage pits since the "
                           'before image')
    assert obs[0].source == 'cargowatch:depotgrowth'


def test_depotgrowth_unknown_site_is_a_clear_error(depot):
    from qgis.core import QgsProcessingException
    with pytest.raises(QgsProcessingException) as e:
        run('cargowatch:recordobservation', {'STORE': depot['store'], 'SITE_NAME': 'Nowhere', 'DATE': '2024-05-20',
                                             'PITS': 3})
    assert 'No site named "Nowhere"' in str(e.value) and 'Tikhoretsk depot' in str(e.value)
    with pytest.raises(QgsProcessingException) as e:
        run('cargowatch:recordobservation', {'STORE': str(depot['folder'] / 'missing.gpkg'), 'SITE_NAME': 'x',
                                             'DATE': '2024-05-20'})
    assert 'does not exist' in str(e.value)


def port_activity_params(positions, folder):
    return {'RASTER': str(SAMPLE / 'rajin_port_sample.tif'), 'YARD': str(SAMPLE / 'rajin_port_sample_aoi.gpkg'),
            'POSITIONS': positions, 'SITE': DUNAI, 'NEAR_NM': 10,
            'containers:CONTAINERS': str(folder / 'containers.gpkg'), 'voyages:CALLS': str(folder / 'calls.gpkg'),
            'touching:DARK_PERIODS': str(folder / 'dark.gpkg')}


def test_portactivity_numbers_match_its_steps(positions, tmp_path):
    res = run('cargowatch:portactivity', port_activity_params(positions, tmp_path))
    boxes = run('cargowatch:countcontainers', {'INPUT': str(SAMPLE / 'rajin_port_sample.tif'),
                                               'AOI': str(SAMPLE / 'rajin_port_sample_aoi.gpkg'),
                                               'VIEWS': 2, 'OUTPUT': 'TEMPORARY_OUTPUT'})      # four views
    assert (res['COUNT'], res['TEU']) == (boxes['COUNT'], boxes['TEU']) and res['COUNT'] > 400
    calls = [f for f in features(tmp_path / 'calls.gpkg')]
    assert res['CALL_COUNT'] == len(calls) > 0 and {f['site'] for f in calls} == {'Dunai'}
    gaps = run('cargowatch:detectgaps', {'INPUT': positions, 'SITES': DUNAI, 'OUTPUT': 'TEMPORARY_OUTPUT'})['OUTPUT']
    near = [f for f in gaps.getFeatures() if min(f['site_before_nm'], f['site_after_nm']) <= 10]
    assert 0 < len(near) < gaps.featureCount()  # the Busan and far-off gaps are left out
    assert res['GAP_COUNT'] == len(near) == len(features(tmp_path / 'dark.gpkg'))
    assert res['DARK_HOURS'] == pytest.approx(sum(f['hours'] for f in near))


def test_models_run_in_qgis_process(depot, positions, tmp_path):
    shutil.copy(depot['store'], tmp_path / 'sites.gpkg')
    _, res = run_qgis_process('cargowatch:depotgrowth', {
        'BEFORE': depot['before'], 'AFTER': depot['after'], 'STORE': tmp_path / 'sites.gpkg',
        'SITE_NAME': 'Tikhoretsk depot', 'DATE': '2024-06-01', 'changes:CHANGES': tmp_path / 'growth.gpkg'})
    direct = run('cargowatch:detectchanges', {'BEFORE': depot['before'], 'AFTER': depot['after'], 'KIND': 1,
                                              'OUTPUT': 'TEMPORARY_OUTPUT'})
    assert res['NEW_COUNT'] == direct['NEW_COUNT'] and res['AFTER_COUNT'] == direct['AFTER_COUNT']
    assert len(features(tmp_path / 'growth.gpkg')) == direct['OUTPUT'].featureCount()
    in_process = run('cargowatch:portactivity', port_activity_params(positions, tmp_path))
    qp = tmp_path / 'qp'
    qp.mkdir()
    _, res = run_qgis_process('cargowatch:portactivity', port_activity_params(positions, qp))
    for key in ('COUNT', 'TEU', 'CALL_COUNT', 'DARK_COUNT', 'GAP_COUNT', 'DARK_HOURS'):
        assert res[key] == pytest.approx(in_process[key]), key


def batch_run(qgis_iface, alg_id, rows, tmp_path):
    """Run ``alg_id`` through Processing's batch dialog (BatchAlgorithmDialog.runAlgorithm, what its Run button
    does): one table row per raster, filled through the rows' own widget wrappers. Returns each row's results."""
    from processing.gui.BatchAlgorithmDialog import BatchAlgorithmDialog
    alg = QgsApplication.processingRegistry().createAlgorithmById(alg_id)
    dialog = BatchAlgorithmDialog(alg)
    panel = dialog.mainWidget()
    panel.checkLoadLayersOnCompletion.setChecked(False)
    panel.addRow(len(rows) - 1)
    outputs = []
    for row, raster in enumerate(rows):
        panel.wrappers[row][panel.parameter_to_column['INPUT']].setParameterValue(raster, QgsProcessingContext())
        out = str(tmp_path / f'{alg.name()}_{row}.gpkg')
        panel.tblParameters.cellWidget(row + 1, panel.parameter_to_column['OUTPUT']).setValue(out)
        outputs.append(out)
    seen = {}
    dialog.finish = lambda results, errors: seen.update(results=results, errors=errors)
    dialog.runAlgorithm()
    assert seen['errors'] == []
    results = [r['results'] for r in seen['results']]
    assert [r['OUTPUT'] for r in results] == outputs
    dialog.deleteLater()
    return results


def test_container_and_pit_counts_in_batch_mode(qgis_iface, tmp_path):
    yards = []
    for seed in (31, 32, 33):
        sc = scenes.port_scene(seed=seed, gsd=0.5, size_px=240)
        yards.append((scenes.write_scene(sc, tmp_path / f'yard{seed}.tif'), len(scenes.truth_map_coords(sc))))
    results = batch_run(qgis_iface, 'cargowatch:countcontainers', [p for p, _ in yards], tmp_path)
    assert len(results) == 3
    for (path, true), res in zip(yards, results):
        single = run('cargowatch:countcontainers', {'INPUT': path, 'OUTPUT': 'TEMPORARY_OUTPUT'})
        assert (res['COUNT'], res['TEU']) == (single['COUNT'], single['TEU'])
        assert res['COUNT'] == sum(f['containers'] for f in features(res['OUTPUT']))
        assert 0 < res['COUNT'] <= 1.2 * true, (path, res['COUNT'], true)   # accuracy: test_containers.py
    depots = []
    for seed, n_new in ((41, 6), (42, 12)):
        path = str(tmp_path / f'depot{seed}.tif')
        truth = depot_scenes.depot_scene(path, seed=seed, n_old=0, n_new=n_new, size=(150.0, 150.0), gsd=0.5,
                                           distractors=False)
        depots.append((path, len(truth)))
    results = batch_run(qgis_iface, 'cargowatch:countpits', [p for p, _ in depots], tmp_path)
    for (path, true), res in zip(depots, results):
        single = run('cargowatch:countpits', {'INPUT': path, 'OUTPUT': 'TEMPORARY_OUTPUT'})
        assert res['COUNT'] == single['COUNT'] == len(features(res['OUTPUT']))
        assert abs(res['COUNT'] - true) <= max(2, 0.2 * true), (path, res['COUNT'], true)


def test_every_numeric_output_feeds_a_model_input(depot, positions, tmp_path):
    """One model runs every CargoWatch algorithm (the shipped models too) and wires each of their numeric outputs
    into a numeric input of another step (native:setmvalue's M value); each value must arrive unchanged."""
    from qgis.core import (QgsProcessingModelChildAlgorithm as Child, QgsProcessingModelChildParameterSource as Src,
                           QgsProcessingModelOutput, QgsProcessingOutputNumber as Number,
                           QgsProcessingParameterNumber)
    from helpers.qgis_run import write_aoi
    from cargowatch.core.site_store import SiteStore
    yard = scenes.write_scene(scenes.port_scene(seed=31, gsd=0.5, size_px=240), tmp_path / 'yard_2024-04-01.tif')
    yard_aoi = write_aoi(tmp_path / 'yard.gpkg', [(500010, 3999990), (500110, 3999990), (500110, 3999890),
                                                  (500010, 3999890)], 32652)
    point = write_aoi(tmp_path / 'point.gpkg', [(0, 0), (1, 0), (1, 1)], 4326)
    store = tmp_path / 'sites.gpkg'
    shutil.copy(depot['store'], store)
    with SiteStore(store) as s:
        s.add_site('Yard', wkt='POLYGON((129.0 36.0,129.01 36.0,129.01 36.1,129.0 36.1,129.0 36.0))')
    sites = str(SAMPLE / 'dunai_rajin_sites.gpkg')
    sighting_layer = str(tmp_path / 'sighting.gpkg')      # a ship seen at the Rajin quay (matchsightings)
    write_points(sighting_layer, [((130.4, 42.25), {'time': '2024-03-05T12:00:00Z'})], name='sightings')
    scene_list = tmp_path / 'scenes.txt'       # batchcount over one scene, in this process
    scene_list.write_text(f'{yard}\n')

    def static(v):
        return Src.fromStaticValue(v)

    def step(child_id):
        return lambda name='OUTPUT': Src.fromChildOutput(child_id, name)

    ais, boxes = step('importais'), step('countcontainers')
    steps = {
        'importais': {'INPUT': static(str(SAMPLE / 'dunai_rajin_ais.nmea.gz'))},
        'buildtracks': {'INPUT': ais()},
        'detectgaps': {'INPUT': ais(), 'SITES': static(sites)},
        'countvoyages': {'INPUT': ais(), 'SITES': static(sites)},
        'countcontainers': {'INPUT': static(yard)},
        'countpits': {'INPUT': static(depot['after'])},
        'detectchanges': {'BEFORE': static(depot['before']), 'AFTER': static(depot['after']), 'KIND': static(1)},
        'comparesignatures': {'LAYERS': [boxes(), boxes()]},
        'recordobservation': {'STORE': static(str(store)), 'SITE_NAME': static('Yard'), 'DATE': static('2024-04-01'),
                              'CONTAINERS': boxes('COUNT'), 'TEU': boxes('TEU')},
        'sitereport': {'SITE': static(yard_aoi), 'RASTERS': [static(yard)], 'OBJECTS': static(2),
                       'POSITIONS': ais(), 'OUTPUT': static(str(tmp_path / 'report.html'))},
        'depotgrowth': {'BEFORE': static(depot['before']), 'AFTER': static(depot['after']),
                        'STORE': static(str(store)), 'SITE_NAME': static('Tikhoretsk depot'),
                        'DATE': static('2024-06-02')},
        'portactivity': {'RASTER': static(yard), 'YARD': static(yard_aoi), 'POSITIONS': ais(), 'SITE': static(DUNAI),
                         'NEAR_NM': static(10.0)},
        'matchsightings': {'SIGHTINGS': static(sighting_layer), 'POSITIONS': ais()},
        'batchcount': {'KIND': static(0), 'SCENES': static(str(scene_list)),
                       'OUTPUT': static(str(tmp_path / 'batch.gpkg'))},
    }
    provider = QgsApplication.processingRegistry().providerById('cargowatch')
    assert set(steps) == {a.name() for a in provider.algorithms()}, 'give every algorithm its inputs here'
    model = QgsProcessingModelAlgorithm('chain', 'tests', 'tests')
    numbers = []
    for name, sources in steps.items():
        alg = provider.algorithm(name)
        c = Child(alg.id())
        c.setChildId(name)
        c.setDescription(name)
        for p in alg.parameterDefinitions():
            if p.name() in sources:
                src = sources[p.name()]
                c.addParameterSources(p.name(), src if isinstance(src, list) else [src])
            elif not p.isDestination() and p.defaultValue() is not None:
                c.addParameterSources(p.name(), [static(p.defaultValue())])
        model.addChildAlgorithm(c)
        numbers += [(name, o.name()) for o in alg.outputDefinitions() if o.type() == Number.typeName()]
    assert len(numbers) >= 40
    # what the model designer offers a numeric input: every numeric output of every step
    probe = Child('native:setmvalue')
    probe.setChildId('probe')
    model.addChildAlgorithm(probe)
    offered = {(s.outputChildId(), s.outputName()) for s in model.availableSourcesForChild(
        'probe', [QgsProcessingParameterNumber.typeName()], [Number.typeName()])}
    assert set(numbers) <= offered
    model.removeChildAlgorithm('probe')
    for k, (name, output) in enumerate(numbers):
        c = Child('native:setmvalue')
        c.setChildId(f'm{k}')
        c.addParameterSources('INPUT', [static(point)])
        c.addParameterSources('M_VALUE', [Src.fromChildOutput(name, output)])
        o = QgsProcessingModelOutput(f'M{k}', f'{name} {output}')
        o.setChildId(f'm{k}')
        o.setChildOutputName('OUTPUT')
        c.setModelOutputs({f'M{k}': o})
        model.addChildAlgorithm(c)
    model.updateDestinationParameters()
    params = {p.name(): 'TEMPORARY_OUTPUT' for p in model.destinationParameterDefinitions()}
    res = run(model, params)
    for k, (name, output) in enumerate(numbers):
        value = res['CHILD_RESULTS'][name][output]
        assert value is not None, (name, output)
        layer = res[f'm{k}:M{k}']
        m = next(layer.getFeatures()).geometry().constGet().exteriorRing().mAt(0)
        assert m == pytest.approx(float(value)), (name, output, m, value)
    assert res['CHILD_RESULTS']['recordobservation']['OBSERVATION_ID'] > 0
    assert res['CHILD_RESULTS']['comparesignatures']['SIMILARITY'] == pytest.approx(1.0)
