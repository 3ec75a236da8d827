"""The plugin as QGIS sees it: metadata, load/unload in the desktop, the provider, and core/ free of qgis."""
import configparser
import re
import subprocess
import sys

from qgis.core import QgsApplication

from helpers.paths import ROOT
from helpers.qgis_run import qgis_process_env, run_qgis_process

ALGORITHMS = {'countcontainers', 'countpits', 'detectchanges', 'comparesignatures',
              'importais', 'buildtracks', 'detectgaps', 'countvoyages', 'recordobservation', 'depotgrowth',
              'portactivity', 'matchsightings', 'sitereport', 'batchcount'}


def test_metadata_is_complete():
    meta = configparser.ConfigParser()
    meta.read(ROOT / 'metadata.txt')
    general = meta['general']
    assert general['name'] == 'CargoWatch'
    assert general['qgisMinimumVersion'] == '3.22'
    assert general['qgisMaximumVersion'] == '4.99'
    assert general['hasProcessingProvider'] == 'yes'
    for key in ('description', 'about', 'version', 'tags', 'icon', 'changelog', 'author'):
        assert general.get(key, '').strip(), key
    assert (ROOT / general['icon']).is_file()
    # no placeholders: the project has no public homepage, tracker, repository or e-mail address yet
    for key in ('email', 'homepage', 'tracker', 'repository'):
        assert key not in general, f'{key}: give a real address of the project or leave it out'
    assert not re.search(r'example\.(org|com)|cargowatch/cargowatch', (ROOT / 'metadata.txt').read_text())


def changelog_md():
    """{version: entry} of CHANGELOG.md, newest first; an entry is its items joined, Markdown marks removed."""
    text = (ROOT / 'CHANGELOG.md').read_text(encoding='utf-8')
    entries = {}
    for version, body in re.findall(r'^## (\S+)\n\n(.*?)(?=\n## |\Z)', text, re.S | re.M):
        items = re.findall(r'^- (.*?)(?=\n- |\Z)', body.strip(), re.S | re.M)
        entries[version] = re.sub(r'[`*]', '', ' '.join(' '.join(i.split()) for i in items))
    return entries


def test_changelog_md_and_metadata_carry_the_same_entries():
    meta = configparser.ConfigParser()
    meta.read(ROOT / 'metadata.txt')
    lines = [ln.strip() for ln in meta['general']['changelog'].strip().splitlines()]
    in_metadata = dict(ln.split(' ', 1) for ln in lines)
    in_md = changelog_md()
    assert list(in_metadata) == list(in_md)  # same versions, same order
    assert in_metadata == in_md
    assert meta['general']['version'] == next(iter(in_md))  # the latest entry is this version
    # written for users: what they can do, not benchmark figures
    assert not re.search(r'\bF1\b|benchmark|per cent', ' '.join(in_md.values()), re.I)


def test_core_imports_no_qgis():
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / 'core').rglob('*.py')
                 if re.search(r'^\s*(from|import)\s+qgis', p.read_text(), re.M)]
    assert offenders == []
    # and it really imports in a Python without QGIS on the path
    code = ('import sys; sys.modules["qgis"] = None; sys.path.insert(0, sys.argv[1]); '
            'import importlib, pkgutil, cargowatch.core as c; '
            '[importlib.import_module("cargowatch.core." + m.name) for m in pkgutil.iter_modules(c.__path__)]')
    from helpers.qgis_run import PLUGINS
    subprocess.run([sys.executable, '-c', code, str(PLUGINS)], check=True)


def test_resources_hold_every_icon():
    from qgis.PyQt.QtCore import QFile
    import cargowatch.resources  # noqa: F401
    qrc = (ROOT / 'resources.qrc').read_text()
    icons = re.findall(r'<file>(.*?)</file>', qrc)
    assert {'icons/cargowatch.svg', 'icons/imagery.svg', 'icons/ais.svg', 'icons/dock.svg'} <= set(icons)
    for icon in icons:
        assert QFile.exists(':/plugins/cargowatch/' + icon), icon


def test_provider_registers_every_algorithm():
    provider = QgsApplication.processingRegistry().providerById('cargowatch')
    names = {a.name() for a in provider.algorithms()}
    assert ALGORITHMS <= names
    for alg in provider.algorithms():
        assert alg.shortHelpString().strip(), alg.name()
        assert alg.displayName() and alg.group() in ('Imagery', 'AIS', 'Models')
        assert not alg.icon().isNull()
        # batch and cancel stay supported (flags add to the defaults, never replace them)
        from cargowatch.compat import qenum
        flags = alg.flags()
        for flag in ('SupportsBatch', 'CanCancel'):
            assert flags & qenum('Qgis.ProcessingAlgorithmFlag.' + flag, 'QgsProcessingAlgorithm.Flag.Flag' + flag)
        for p in alg.parameterDefinitions():
            assert p.help() or p.description(), (alg.name(), p.name())


def test_plugin_loads_and_unloads_in_qgis(qgis_iface):
    import cargowatch
    from cargowatch.provider import CargoWatchProvider
    registry = QgsApplication.processingRegistry()
    registry.removeProvider('cargowatch')  # the session's own registration; put back below
    before_providers = len(registry.providers())
    plugin = cargowatch.classFactory(qgis_iface)
    try:
        plugin.initGui()
        assert registry.providerById('cargowatch') is plugin.provider is not None
        assert len(registry.providers()) == before_providers + 1
        assert plugin.action is not None
        plugin.toggle_dock(True)
        assert plugin.dock is not None and not plugin.dock.isHidden()
        plugin.toggle_dock(False)
        assert plugin.dock.isHidden()
    finally:
        plugin.unload()
        assert plugin.dock is None and plugin.action is None and plugin.provider is None
        assert registry.providerById('cargowatch') is None
        assert len(registry.providers()) == before_providers
        registry.addProvider(CargoWatchProvider())


def test_plugin_loads_in_qgis_process():
    proc = subprocess.run(['qgis_process.bin', 'plugins'], capture_output=True, text=True,
                          env=qgis_process_env(), timeout=120)
    assert 'cargowatch' in proc.stdout
    run_qgis_process('native:buffer', {}, check=False)  # enables the plugin once
    proc = subprocess.run(['qgis_process.bin', 'list'], capture_output=True, text=True,
                          env=qgis_process_env(), timeout=120)
    listed = set(re.findall(r'cargowatch:(\w+)', proc.stdout))
    assert ALGORITHMS <= listed, proc.stdout[-2000:]
