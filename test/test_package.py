"""`make package` builds a ZIP that QGIS's "Install from ZIP" takes, and the plugin runs from it."""
import os
import re
import subprocess
import zipfile

from helpers.paths import ROOT
from helpers.qgis_run import qgis_process_env


def test_package_zip_installs_and_runs(tmp_path):
    subprocess.run(['make', '-s', 'package'], cwd=ROOT, check=True, capture_output=True)
    zpath = ROOT / 'cargowatch.zip'
    with zipfile.ZipFile(zpath) as z:
        names = z.namelist()
        assert all(n.startswith('cargowatch/') for n in names)
        for required in ('metadata.txt', '__init__.py', 'plugin.py', 'provider.py', 'resources.py', 'LICENSE',
                         'CHANGELOG.md', 'help/detectgaps.md', 'help/countcontainers.md'):
            assert f'cargowatch/{required}' in names, required
        assert not [n for n in names if re.match(r'cargowatch/(test|bench|tools|\.ci)/', n) or '__pycache__' in n]
        assert any(n.startswith('cargowatch/algorithms/') for n in names)
        z.extractall(tmp_path)
    env = qgis_process_env()
    env['QGIS_PLUGINPATH'] = str(tmp_path)
    subprocess.run(['qgis_process.bin', 'plugins', 'enable', 'cargowatch'], env=env, capture_output=True, timeout=120)
    out = subprocess.run(['qgis_process.bin', 'list'], env=env, capture_output=True, text=True, timeout=120).stdout
    assert 'cargowatch:countcontainers' in out and 'cargowatch:importais' in out
    # the help written in help/<name>.md ships and shows
    out = subprocess.run(['qgis_process.bin', 'help', 'cargowatch:detectgaps'], env=env, capture_output=True,
                         text=True, timeout=120).stdout
    assert 'Global Fishing Watch definition' in out
    os.remove(zpath)
