"""Benchmark of the CargoWatch dock with 1,000,000 AIS positions of 1,000 vessels (synthetic, 7 days).

Measures, through the real dock in an offscreen QGIS: reading the layer once into numpy (OGR Arrow path),
rebuilding the overlay layers (full range, one day, with positions), hiding half the fleet, a map click,
and rendering the canvas. Run: QT_QPA_PLATFORM=offscreen .venv/bin/python bench/bench_dock.py [n_positions]
"""
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault('QT_QPA_PLATFORM', 'offscreen')
ROOT = Path(__file__).resolve().parents[1]
PLUGIN_DIR = Path(tempfile.mkdtemp(prefix='cwbench-'))
(PLUGIN_DIR / 'cargowatch').symlink_to(ROOT, target_is_directory=True)
sys.path.insert(0, str(PLUGIN_DIR))

from qgis.core import QgsApplication, QgsMapRendererParallelJob, QgsProject, QgsVectorLayer  # noqa: E402
from qgis.PyQt.QtCore import QSize  # noqa: E402


def synth_gpkg(path, n=1_000_000, vessels=1000, days=7, seed=1):
    """n positions of `vessels` ships over `days` days: random-walk courses, 2% of ships go dark for 8-30 h."""
    from osgeo import gdal
    rng = np.random.default_rng(seed)
    per = n // vessels
    mmsi = np.repeat(np.arange(vessels, dtype=np.int64) + 211000000, per)
    t0 = 1714521600  # 2024-05-01
    dt = rng.integers(120, int(days * 86400 / per * 2) - 120, size=mmsi.size)
    t = t0 + np.cumsum(dt.reshape(vessels, per), axis=1).ravel() - dt.reshape(vessels, per)[:, :1].repeat(per, 1).ravel()
    dark = rng.random(vessels) < 0.02
    for v in np.flatnonzero(dark):
        k = rng.integers(per // 4, per // 2)
        t[v * per + k:(v + 1) * per] += int(rng.integers(8, 30) * 3600)
    hdg = np.cumsum(rng.normal(0, 8, size=(vessels, per)), axis=1) + rng.uniform(0, 360, (vessels, 1))
    sog = np.clip(rng.normal(12, 3, size=(vessels, per)), 0, 25)
    step = sog * (np.diff(np.c_[t.reshape(vessels, per)[:, :1], t.reshape(vessels, per)], axis=1)) / 3600 / 60
    lat = 20 + rng.uniform(0, 30, (vessels, 1)) + np.cumsum(step * np.cos(np.radians(hdg)), axis=1)
    lon = 110 + rng.uniform(0, 30, (vessels, 1)) + np.cumsum(step * np.sin(np.radians(hdg)), axis=1)
    csv = str(path) + '.csv'
    ts = np.datetime_as_string(t.astype('datetime64[s]'), unit='s')
    with open(csv, 'w') as f:
        f.write('mmsi,time,lon,lat,sog,cog,name\n')
        name = np.char.add('VESSEL ', (mmsi - 211000000).astype('U'))
        rows = np.char.add(np.char.add(mmsi.astype('U'), ','), ts)
        rows = np.char.add(np.char.add(rows, ','), np.char.mod('%.5f', lon.ravel()))
        rows = np.char.add(np.char.add(rows, ','), np.char.mod('%.5f', lat.ravel()))
        rows = np.char.add(np.char.add(rows, ','), np.char.mod('%.1f', sog.ravel()))
        rows = np.char.add(np.char.add(rows, ','), np.char.mod('%.0f', hdg.ravel() % 360))
        rows = np.char.add(np.char.add(rows, ','), name)
        f.write('\n'.join(rows.tolist()))
        f.write('\n')
    src = gdal.OpenEx(csv, gdal.OF_VECTOR, open_options=['X_POSSIBLE_NAMES=lon', 'Y_POSSIBLE_NAMES=lat',
                                                         'AUTODETECT_TYPE=YES', 'KEEP_GEOM_COLUMNS=NO'])
    gdal.VectorTranslate(str(path), src, format='GPKG', srcSRS='EPSG:4326', dstSRS='EPSG:4326', layerName='positions')
    src = None
    os.unlink(csv)
    return str(path)


def timed(label, fn, results):
    tic = time.perf_counter()
    out = fn()
    results.append((label, time.perf_counter() - tic))
    print(f'| {label} | {results[-1][1]:.2f} |', flush=True)
    return out


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    app = QgsApplication([], True)
    app.initQgis()
    from qgis.gui import QgsMapCanvas, QgsMessageBar
    from cargowatch.ui.dock import CargoWatchDock

    canvas = QgsMapCanvas()
    canvas.resize(1200, 800)
    bar = QgsMessageBar()

    class Iface:  # what the dock uses of QgisInterface
        def mapCanvas(self):  # noqa: N802
            return canvas

        def messageBar(self):  # noqa: N802
            return bar

        def mainWindow(self):  # noqa: N802
            return None

    iface = Iface()
    print('| step | seconds |\n|---|---|')
    tmp = Path(tempfile.mkdtemp(prefix='cwbench-data-'))
    res = []
    path = timed(f'make {n:,} synthetic positions (GeoPackage, not the dock)',
                 lambda: synth_gpkg(tmp / 'ais.gpkg', n=n), [])
    layer = QgsVectorLayer(path + '|layername=positions', 'AIS', 'ogr')
    assert layer.isValid() and layer.featureCount() == n, layer.featureCount()
    QgsProject.instance().addMapLayer(layer)
    dock = CargoWatchDock(iface)
    from cargowatch.layers.ais import read_ais_layer
    timed('read the layer into numpy (OGR Arrow)', lambda: read_ais_layer(layer), res)
    timed('dock.load_layer: read + vessel list + full overlay', lambda: dock.load_layer(layer), res)
    s = dock.last_stats
    print(f'   -> {s["vessels"]:,} vessels, {s["positions"]:,} positions, {s["tracks"]:,} track pieces, '
          f'{s["gaps"]:,} dark periods; rebuild {s["seconds"]:.2f} s '
          f'(filter {s["seconds_filter"]:.2f}, features {s["seconds_features"]:.2f}, '
          f'layers {s["seconds_layers"]:.2f})')
    timed('refresh, whole range (overlay rebuild)', dock.refresh, res)
    t0, _ = dock.time_range()
    dock.t_to.setDateTime(dock.t_from.dateTime().addSecs(86400))
    timed('refresh, one day', dock.refresh, res)
    dock.reset_time()
    dock.show_positions.setChecked(True)
    timed('refresh with positions (thinned past 30k)', dock.refresh, res)
    dock.show_positions.setChecked(False)
    dock.refresh()
    half = [int(m) for m in dock.data.v_mmsi[::2]]
    timed('hide 500 vessels (renderer categories)', lambda: dock.model.set_visible(half, False), res)
    c = dock.data.cols
    timed('map click: nearest visible ship', lambda: dock.pick_at(float(c['lon'][1234]), float(c['lat'][1234])),
          res)

    def render():
        ms = canvas.mapSettings()
        ms.setLayers([lyr for lyr in (dock.overlay.layer(k) for k in ('ships', 'gaps', 'tracks')) if lyr])
        ms.setOutputSize(QSize(1200, 800))
        job = QgsMapRendererParallelJob(ms)
        job.start()
        job.waitForFinished()
        return job.renderedImage()

    dock.zoom_to_data()
    timed('render the canvas 1200x800 (tracks, ships, dark periods)', render, res)
    dock.search.setText('VESSEL 42')
    timed('search "VESSEL 42" in the vessel list', lambda: dock.proxy.rowCount(), res)
    dock.close_and_cleanup()
    print(f'\n{n:,} positions, {dock.model.rowCount():,} vessels in list; machine: {os.cpu_count()} cores')


if __name__ == '__main__':
    from docs_section import section_from_output
    with section_from_output('dock', 'The dock: load and refresh',
                             '`bench/bench_dock.py` (`make bench`): synthetic positions of 1,000 vessels over 7 days '
                             'in a GeoPackage, the dock in an offscreen QGIS.'):
        main()
