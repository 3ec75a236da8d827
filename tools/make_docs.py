"""Write docs/algorithms.md from the help written once per algorithm in help/<name>.md (the same text
Processing shows in each algorithm's help panel). Run after editing a help file; test/algorithms/test_base.py
checks that docs/algorithms.md is up to date.

    python3 tools/make_docs.py
"""
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HELP = ROOT / 'help'
DOC = ROOT / 'docs' / 'algorithms.md'


def algorithms_md():
    """The text of docs/algorithms.md."""
    sections, toc = [], []
    for path in sorted(HELP.glob('*.md')):
        name = path.stem
        text = path.read_text(encoding='utf-8').strip()
        title, _, body = text.partition('\n')
        title = title.lstrip('# ').strip()
        anchor = name
        toc.append(f'- [{title}](#{anchor}) (`cargowatch:{name}`)')
        body = re.sub(r'^## ', '### ', body.strip(), flags=re.M)
        sections.append(f'<a id="{anchor}"></a>\n## {title} (`cargowatch:{name}`)\n\n{body}\n')
    head = ('# CargoWatch algorithms\n\nWritten by `tools/make_docs.py` from `help/<name>.md`, the help each '
            'algorithm shows in QGIS (Processing toolbox, help panel). Edit those files, not this one.\n\n')
    return head + '\n'.join(toc) + '\n\n' + '\n'.join(sections)


if __name__ == '__main__':
    DOC.write_text(algorithms_md(), encoding='utf-8')
    print(f'wrote {DOC}')
    sys.exit(0)
