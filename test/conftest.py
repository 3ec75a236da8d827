"""Test set-up shared by every test: the checkout importable as the package ``cargowatch``
(whatever its folder is called), the provider registered in a real QGIS (pytest-qgis), and
a helper that runs an algorithm through the real ``qgis_process.bin``."""
import hashlib
import json
import os
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_AIS = ROOT.parent / 'shared' / 'data' / 'ais'
PLUGIN_DIR = Path(tempfile.gettempdir()) / ('cargowatch-' + hashlib.sha1(str(ROOT).encode()).hexdigest()[:10])
PLUGIN_DIR.mkdir(exist_ok=True)
_link = PLUGIN_DIR / 'cargowatch'
if not _link.is_symlink():
    _link.symlink_to(ROOT, target_is_directory=True)
sys.path.insert(0, str(PLUGIN_DIR))
os.environ.setdefault('QT_QPA_PLATFORM', 'offscreen')


@pytest.fixture(scope='session', autouse=True)
def cargowatch_provider(qgis_processing):
    """Register the CargoWatch provider once, as the plugin's initProcessing() does."""
    from qgis.core import QgsApplication
    from cargowatch.provider import CargoWatchProvider
    registry = QgsApplication.processingRegistry()
    if registry.providerById('cargowatch') is None:
        registry.addProvider(CargoWatchProvider())
    yield  # tests look the provider up in the registry: the plugin-load test re-registers it


def _qgis_process_env():
    env = dict(os.environ)
    env['QT_QPA_PLATFORM'] = 'offscreen'
    env['QGIS_PLUGINPATH'] = str(PLUGIN_DIR)
    # qgis_process embeds the system Python: let it see the venv's packages (pyais).
    purelib = sysconfig.get_paths()['purelib']
    env['PYTHONPATH'] = os.pathsep.join(p for p in (purelib, env.get('PYTHONPATH')) if p)
    return env


_enabled = []


def run_qgis_process(alg_id, params, check=True, timeout=600):
    """Run ``alg_id`` with ``params`` (dict; lists become repeated keys) through qgis_process.bin.

    Returns (completed_process, results dict or None). With ``check`` a failure raises,
    showing qgis_process's own output."""
    env = _qgis_process_env()
    if not _enabled:
        subprocess.run(['qgis_process.bin', 'plugins', 'enable', 'cargowatch'], env=env,
                       capture_output=True, text=True, timeout=120)
        _enabled.append(True)
    args = ['qgis_process.bin', '--json', 'run', alg_id, '--']
    for key, value in params.items():
        for v in (value if isinstance(value, (list, tuple)) else [value]):
            args.append(f'{key}={v}')
    proc = subprocess.run(args, env=env, capture_output=True, text=True, timeout=timeout)
    results = None
    if proc.returncode == 0:
        start = proc.stdout.find('{')
        results = json.loads(proc.stdout[start:])['results'] if start >= 0 else None
    if check and proc.returncode != 0:
        raise AssertionError(f'qgis_process failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}')
    return proc, results


def write_aoi(path, ring, epsg):
    """A GeoPackage at ``path`` holding one polygon (the ``ring`` of (x, y), in EPSG ``epsg``); returns its path."""
    from osgeo import ogr, osr
    ds = ogr.GetDriverByName('GPKG').CreateDataSource(str(path))
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(epsg)
    lyr = ds.CreateLayer('aoi', srs, ogr.wkbPolygon)
    f = ogr.Feature(lyr.GetLayerDefn())
    f.SetGeometry(ogr.CreateGeometryFromWkt('POLYGON((' + ','.join(f'{x} {y}' for x, y in ring + ring[:1]) + '))'))
    lyr.CreateFeature(f)
    ds = None
    return str(path)


def warnings_feedback():
    """A QgsProcessingFeedback that keeps what the algorithm pushed as warnings (in ``.seen``)."""
    from qgis.core import QgsProcessingFeedback

    class Warnings(QgsProcessingFeedback):
        def __init__(self):
            super().__init__()
            self.seen = []

        def pushWarning(self, text):  # noqa: N802 (QGIS API)
            self.seen.append(text)
            super().pushWarning(text)
    return Warnings()


@pytest.fixture
def no_opencv(monkeypatch):
    """Python as on a machine without OpenCV: ``import cv2`` fails and no network is loaded yet."""
    import builtins
    from cargowatch.core import nets
    real = builtins.__import__

    def no_cv2(name, *a, **kw):
        if name == 'cv2':
            raise ImportError('No module named cv2')
        return real(name, *a, **kw)
    monkeypatch.setattr(builtins, '__import__', no_cv2)
    monkeypatch.setattr(nets, '_NETS', {})
