"""Helpers for tests that run CargoWatch in real QGIS: ``qgis_process.bin`` runs, small GeoPackages, a feedback
that keeps warnings."""
import json
import os
import subprocess
import sysconfig

from .paths import ROOT

PLUGINS = ROOT / 'build' / 'plugins'  # holds the link 'cargowatch' -> checkout, made by `make deps`


def qgis_process_env():
    env = dict(os.environ)
    env['QT_QPA_PLATFORM'] = 'offscreen'
    env['QGIS_PLUGINPATH'] = str(PLUGINS)
    # qgis_process embeds the system Python: let it see the venv's packages (pyais).
    purelib = sysconfig.get_paths()['purelib']
    env['PYTHONPATH'] = os.pathsep.join(p for p in (purelib, env.get('PYTHONPATH')) if p)
    return env


_enabled = []


def run_qgis_process(alg_id, params, check=True, timeout=600):
    """Run ``alg_id`` with ``params`` (dict; lists become repeated keys) through qgis_process.bin.

    Returns (completed_process, results dict or None). With ``check`` a failure raises,
    showing qgis_process's own output."""
    env = qgis_process_env()
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


def write_points(path, rows, fields=None, epsg=4326, name='points'):
    """A GeoPackage at ``path`` holding one point layer of text ``fields`` (default: those of the first row), a
    feature per row of ((x, y), {field: text}) in EPSG ``epsg``; returns its path."""
    from osgeo import ogr, osr
    ds = ogr.GetDriverByName('GPKG').CreateDataSource(str(path))
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(epsg)
    lyr = ds.CreateLayer(name, srs, ogr.wkbPoint)
    for field in fields if fields is not None else (rows[0][1] if rows else {}):
        lyr.CreateField(ogr.FieldDefn(field, ogr.OFTString))
    for (x, y), values in rows:
        f = ogr.Feature(lyr.GetLayerDefn())
        for field, v in values.items():
            f.SetField(field, v)
        f.SetGeometry(ogr.CreateGeometryFromWkt(f'POINT ({x} {y})'))
        lyr.CreateFeature(f)
    ds = None
    return str(path)


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
