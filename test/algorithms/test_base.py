"""What every CargoWatch algorithm shares (algorithms/base.py): help written once in help/<name>.md and shown by
shortHelpString() and docs/algorithms.md, help on every parameter, user-facing strings through tr() with
placeholders."""
import ast
import importlib.util
import re

from qgis.core import QgsApplication

from cargowatch.algorithms.base import CargoWatchAlgorithm, help_markdown, markdown_html
from cargowatch.provider import algorithm_classes
from helpers.paths import ROOT


def test_every_algorithm_has_its_help_file_and_no_file_is_orphaned():
    names = {cls.NAME for cls in algorithm_classes()}
    files = {p.stem for p in (ROOT / 'help').glob('*.md')}
    assert names == files
    for cls in algorithm_classes():
        assert 'HELP' not in vars(cls), f'{cls.NAME}: help goes in help/{cls.NAME}.md, not in the class'


def test_short_help_is_the_help_file_as_rich_text():
    provider = QgsApplication.processingRegistry().providerById('cargowatch')
    for cls in algorithm_classes():
        alg = provider.algorithm(cls.NAME)
        html = alg.shortHelpString()
        source = help_markdown(cls.NAME)
        # every heading of the file is a heading of the panel, and no Markdown or placeholder is left over
        headings = re.findall(r'^## (.+)$', source, re.M)
        assert re.findall(r'<h3>(.+?)</h3>', html) == headings, cls.NAME
        assert '**' not in html and '{' not in html and '](' not in html, cls.NAME
        assert html.startswith('<p>') and not html.startswith(f'<p>{cls.DISPLAY}'), cls.NAME  # no title line


def test_markdown_subset():
    html = markdown_html('# Title\n\nA *field* and **bold** `a*b*c` < 3 [Dask](https://www.dask.org).\n\n'
                         '## Parameters\n\n- **One**: first\n  continued.\n- Two')
    assert html == ('<p>A <i>field</i> and <b>bold</b> <code>a*b*c</code> &lt; 3 '
                    '<a href="https://www.dask.org">Dask</a>.</p>\n<h3>Parameters</h3>\n'
                    '<ul><li><b>One</b>: first continued.</li><li>Two</li></ul>')


def test_docs_are_generated_from_the_help_files():
    spec = importlib.util.spec_from_file_location('make_docs', ROOT / 'tools' / 'make_docs.py')
    make_docs = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_docs)
    assert (ROOT / 'docs' / 'algorithms.md').read_text(encoding='utf-8') == make_docs.algorithms_md(), \
        'docs/algorithms.md is out of date: run python3 tools/make_docs.py'


def test_every_parameter_has_help():
    provider = QgsApplication.processingRegistry().providerById('cargowatch')
    for alg in provider.algorithms():
        if not isinstance(alg, CargoWatchAlgorithm):
            continue  # the shipped models: their inputs are described in the model file
        for p in alg.parameterDefinitions():
            assert p.help().strip(), (alg.name(), p.name())


def _tr_calls(path):
    tree = ast.parse(path.read_text(encoding='utf-8'))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and node.args and (
                getattr(node.func, 'attr', None) == 'tr' or getattr(node.func, 'id', None) == 'tr'):
            yield node


def test_translated_strings_are_templates_not_f_strings():
    """tr('{} rows skipped').format(n), never tr(f'{n} rows skipped'): a translator sees one fixed text."""
    bad = []
    for path in sorted((ROOT / 'algorithms').glob('*.py')) + sorted((ROOT / 'ui').glob('*.py')):
        for call in _tr_calls(path):
            if any(isinstance(n, ast.JoinedStr) for n in ast.walk(call.args[0])):
                bad.append(f'{path.relative_to(ROOT)}:{call.lineno}')
    assert bad == []


def test_discard_output_removes_a_file_or_only_its_layer(tmp_path):
    from osgeo import ogr
    from cargowatch.algorithms.base import discard_output

    def gpkg(path, layers):
        ds = ogr.GetDriverByName('GPKG').CreateDataSource(str(path))
        for name in layers:
            ds.CreateLayer(name, None, ogr.wkbPoint)
        ds = None
        return str(path)
    shared = gpkg(tmp_path / 'two.gpkg', ['kept', 'cancelled'])
    discard_output(shared + '|layername=cancelled')
    ds = ogr.Open(shared)
    assert [ds.GetLayer(i).GetName() for i in range(ds.GetLayerCount())] == ['kept']
    ds = None
    alone = gpkg(tmp_path / 'one.gpkg', ['cancelled'])
    (tmp_path / 'one.gpkg-wal').write_bytes(b'')
    discard_output(alone + '|layername=cancelled')
    discard_output(str(tmp_path / 'never_written.gpkg'))
    discard_output('memory_layer_id_1234')
    assert sorted(p.name for p in tmp_path.iterdir()) == ['two.gpkg']
