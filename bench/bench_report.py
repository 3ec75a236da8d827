"""Time the shipped models and the site evidence report on the bundled samples (`make bench` writes the table
into docs/benchmarks.md, section "report").

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/bench_report.py
"""
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault('QT_QPA_PLATFORM', 'offscreen')
sys.path[:0] = ['/usr/share/qgis/python/plugins', str(ROOT / 'tools')]

from qgis.core import QgsApplication  # noqa: E402

APP = QgsApplication([], False)
APP.initQgis()
from processing.core.Processing import Processing  # noqa: E402
Processing.initialize()
import processing  # noqa: E402
import fuzzing  # noqa: E402
fuzzing.import_checkout()  # the checkout as the package cargowatch, whatever its folder is called
from cargowatch.provider import CargoWatchProvider  # noqa: E402
from cargowatch.core.site_store import SiteStore  # noqa: E402

PROVIDER = CargoWatchProvider()
QgsApplication.processingRegistry().addProvider(PROVIDER)
S = ROOT / 'sample_data'


def timed(alg, params):
    t = time.perf_counter()
    res = processing.run(alg, params)
    return time.perf_counter() - t, res


def main():
    out = Path(tempfile.mkdtemp(prefix='cw_bench_report_'))
    try:
        _, ais = timed('cargowatch:importais', {'INPUT': str(S / 'dunai_rajin_ais.nmea.gz'),
                                                'OUTPUT': str(out / 'positions.gpkg')})
        with SiteStore(out / 'sites.gpkg') as s:
            s.add_site('Tikhoretsk depot', wkt='POLYGON((40.0 45.8,40.2 45.8,40.2 46,40.0 46,40.0 45.8))')
        rows = []
        sec, res = timed('cargowatch:depotgrowth', {
            'BEFORE': str(S / 'tikhoretsk_before.tif'), 'AFTER': str(S / 'tikhoretsk_after.tif'),
            'STORE': str(out / 'sites.gpkg'), 'SITE_NAME': 'Tikhoretsk depot', 'DATE': '2024-05-20',
            'changes:CHANGES': str(out / 'growth.gpkg')})
        rows.append(('depotgrowth, 1200 x 1200 px pair (sample)', sec,
                     f"NEW_COUNT {res['NEW_COUNT']}, AFTER_COUNT {res['AFTER_COUNT']}"))
        sec, res = timed('cargowatch:portactivity', {
            'RASTER': str(S / 'rajin_port_sample.tif'), 'YARD': str(S / 'rajin_port_sample_aoi.gpkg'),
            'POSITIONS': ais['OUTPUT'], 'NEAR_NM': 10,
            'SITE': str(S / 'dunai_rajin_sites.gpkg') + '|layername=sites|subset="name" = \'Dunai\'',
            'containers:CONTAINERS': 'TEMPORARY_OUTPUT', 'voyages:CALLS': 'TEMPORARY_OUTPUT',
            'touching:DARK_PERIODS': 'TEMPORARY_OUTPUT'})
        rows.append(('portactivity, 1200 x 1200 px image + 6,230 positions (sample, Dunai)', sec,
                     f"COUNT {res['COUNT']}, TEU {res['TEU']}, CALL_COUNT {res['CALL_COUNT']}, "
                     f"GAP_COUNT {res['GAP_COUNT']}"))
        sec, res = timed('cargowatch:sitereport', {
            'SITE': str(S / 'rajin_port_sample_aoi.gpkg'), 'RASTERS': [str(S / 'rajin_port_sample.tif')],
            'POSITIONS': ais['OUTPUT'], 'OUTPUT': str(out / 'report.html')})
        size = os.path.getsize(out / 'report.html') / 1e6
        rows.append(('sitereport, the sample yard (420 x 420 m) on one image + AIS', sec,
                     f"CONTAINER_COUNT {res['CONTAINER_COUNT']}, HTML {size:.1f} MB"))
        print('| run | seconds | results |\n|---|---|---|')
        for name, sec, what in rows:
            print(f'| {name} | {sec:.1f} | {what} |')
    finally:
        shutil.rmtree(out, ignore_errors=True)


if __name__ == '__main__':
    from docs_section import section_from_output
    with section_from_output('report', 'Models and the site evidence report',
                             '`bench/bench_report.py` (`make bench`): the shipped models and the site report on the '
                             'bundled samples, through Processing.'):
        main()
