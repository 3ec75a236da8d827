"""The user's README and the docs: install instructions early, links and pictures that exist, no issue numbers
or development seeds, and every figure of the README's table taken from docs/benchmarks.md (written by
`make bench`) as it stands there."""
import re

from helpers.paths import ROOT

README = (ROOT / 'README.md').read_text(encoding='utf-8')


def test_install_comes_before_line_60():
    lines = README.splitlines()
    first = {key: next(i for i, ln in enumerate(lines, 1) if key in ln)
             for key in ('Install from ZIP', 'Manage and Install Plugins', 'make demo', 'make test')}
    assert max(first.values()) < 60, first


def test_links_and_pictures_exist():
    for doc in [ROOT / 'README.md'] + sorted((ROOT / 'docs').glob('*.md')):
        text = doc.read_text(encoding='utf-8')
        for target in re.findall(r'\]\(([^)#\s]+)(?:#[^)]*)?\)', text):
            if not target.startswith(('http://', 'https://')):
                assert (doc.parent / target).exists(), f'{doc.name}: {target}'


def test_readme_is_for_users():
    assert not re.search(r'issue #?\d+|#\d{2}\b|\bseeds?\b', README, re.I)


def test_readme_figures_come_from_the_benchmarks():
    bench = (ROOT / 'docs' / 'benchmarks.md').read_text(encoding='utf-8').replace(',', '')
    table = README[README.index('## How well it works'):README.index('## More')]
    rows = [ln.strip('|').split('|') for ln in table.splitlines() if ln.startswith('| ') and '---' not in ln][1:]
    numbers = [n for row in rows for cell in row[1:] for n in re.findall(r'[−+-]?\d[\d,]*(?:\.\d+)?', cell)]
    assert len(numbers) > 15
    for n in numbers:
        n = n.replace(',', '').replace('−', '-')
        assert n.lstrip('+-') in bench, n
    prose = '\n'.join(ln for ln in table.splitlines() if not ln.startswith('|')).replace('×', 'x')
    figures = re.findall(r'\d[\d,]*(?:\.\d+)? (?:s|x|MB)\b', prose)
    assert len(figures) >= 3
    for figure in figures:
        assert figure.replace(',', '') in bench, figure


def test_benchmarks_are_all_written_by_make_bench():
    """docs/benchmarks.md is the header of bench/docs_section.py and sections between markers, each with the
    machine and the date, each written by a script the Makefile's bench target runs: nothing typed in by hand."""
    import importlib.util
    spec = importlib.util.spec_from_file_location('docs_section', ROOT / 'bench' / 'docs_section.py')
    docs_section = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(docs_section)
    text = (ROOT / 'docs' / 'benchmarks.md').read_text(encoding='utf-8')
    assert text.startswith(docs_section.HEAD)
    rest = text[len(docs_section.HEAD):]
    assert re.sub(r'<!-- (\S+):start -->.*?<!-- \1:end -->', '', rest, flags=re.S).strip() == ''
    sections = re.findall(r'<!-- (\S+):start -->\n(.*?)\n<!-- \1:end -->', rest, re.S)
    make = (ROOT / 'Makefile').read_text()
    bench = make[make.index('\nbench:'):].split('\n\n')[0]
    scripts = ''.join((ROOT / s).read_text() for s in sorted(set(re.findall(r'bench/\w+\.py', bench))))
    assert len(sections) >= 5
    for name, body in sections:
        assert re.search(r'^Measured \d{4}-\d\d-\d\d on .+, \d+ cores\.$', body, re.M), name
        assert f"'{name}'" in scripts, f'section {name} is written by no script of `make bench`'
