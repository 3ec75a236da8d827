"""Fixtures shared by the tests of core/ and of the algorithms (loaded by test/conftest.py; no QGIS here):
generated scenes, depots and AIS scenarios with exact truth, the bundled AIS sample, the fuzzers' seed files."""
import sys

import pytest

from . import ais_scenario, depot_scenes, scenes
from .paths import ROOT, SAMPLE


@pytest.fixture(scope='module')
def small_scene():
    """A generated 0.4 m port yard of 500 px with distractors (containers with exact truth)."""
    return scenes.port_scene(seed=11, gsd=0.4, size_px=500, distractors=1.0)


@pytest.fixture
def scene_tif(tmp_path, small_scene):
    return scenes.write_scene(small_scene, tmp_path / 'port.tif')


@pytest.fixture(scope='module')
def depot(tmp_path_factory):
    """(path, truth) of a generated 0.5 m depot of 6 old and 30 new pits."""
    d = tmp_path_factory.mktemp('depot')
    path = str(d / 'depot.tif')
    truth = depot_scenes.depot_scene(path, seed=5, size=(260.0, 260.0), n_old=6, n_new=30, gsd=0.5)
    return path, truth


@pytest.fixture(scope='module')
def pair(tmp_path_factory):
    """(before, after, truth) of a generated depot pair."""
    d = tmp_path_factory.mktemp('pair')
    return depot_scenes.depot_pair(d, seed=9, n_old=6, n_new=24, size=(260.0, 260.0))


@pytest.fixture(scope='module')
def files(tmp_path_factory):
    """The Dunai-Rajin scenario written as NMEA, CSV (two layouts) and its sites GeoPackage."""
    d = tmp_path_factory.mktemp('scenario')
    sc = ais_scenario.make_scenario()
    return {'sc': sc, 'nmea': ais_scenario.write_nmea(sc, str(d / 'dunai.nmea')),
            'csv': ais_scenario.write_csv(sc, str(d / 'dunai.csv')),
            'mc': ais_scenario.write_csv(sc, str(d / 'mc.csv'), layout='marinecadastre'),
            'sites': ais_scenario.write_sites(sc, str(d / 'sites.gpkg')), 'dir': d}


@pytest.fixture(scope='module')
def sample_cols():
    """Core columns of the bundled Dunai-Rajin AIS sample (needs pyais)."""
    pytest.importorskip('pyais')
    from cargowatch.core import ais
    return ais.read_ais(str(SAMPLE / 'dunai_rajin_ais.nmea.gz')).cols


@pytest.fixture(scope='module')
def scenario_truth():
    return ais_scenario.make_scenario()


def _tools():
    if str(ROOT / 'tools') not in sys.path:
        sys.path.insert(0, str(ROOT / 'tools'))


@pytest.fixture(scope='module')
def sample_set():
    """The AIS fuzzer's seed files (tools/fuzz_ais.py)."""
    _tools()
    import fuzz_ais
    return fuzz_ais.samples()


@pytest.fixture(scope='module')
def base_set(tmp_path_factory):
    """The raster fuzzer's seed GeoTIFFs (tools/fuzz_raster.py)."""
    _tools()
    import fuzz_raster
    return fuzz_raster.bases(str(tmp_path_factory.mktemp('bases')))
