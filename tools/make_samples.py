"""Write the bundled AIS sample (the Dunai–Rajin scenario of test/helpers/ais_scenario.py) into sample_data/.

usage: make_samples.py   (needs pyais and GDAL; the files are committed, run it only to regenerate them)
"""
import gzip
import os
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'test', 'helpers'))
import ais_scenario  # noqa: E402

OUT = os.path.join(HERE, '..', 'sample_data')

if __name__ == '__main__':
    sc = ais_scenario.make_scenario()
    nmea = os.path.join(OUT, 'dunai_rajin_ais.nmea')
    ais_scenario.write_nmea(sc, nmea)
    with open(nmea, 'rb') as src, gzip.GzipFile(nmea + '.gz', 'wb', mtime=0) as dst:
        shutil.copyfileobj(src, dst)
    os.remove(nmea)
    sites = os.path.join(OUT, 'dunai_rajin_sites.gpkg')
    if os.path.exists(sites):
        os.remove(sites)
    ais_scenario.write_sites(sc, sites)
    print('wrote', nmea + '.gz', sites)
