"""docs/benchmarks.md is written by the benchmarks: each owns a section between markers and replaces it."""
import datetime
import os
import platform
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / 'docs' / 'benchmarks.md'
HEAD = ('# Benchmarks\n\nWritten by `make bench` (each script rewrites its own section); figures are measured, '
        'never typed in. The project\'s own generators and imagery it was never trained on stand side by side: '
        'the gap between them is the figure that matters.\n')


def machine():
    """One line naming the machine and the date of a measurement."""
    cpu = next((ln.split(':', 1)[1].strip() for ln in open('/proc/cpuinfo') if ln.startswith('model name')),
               platform.processor())
    return (f'Measured {datetime.date.today().isoformat()} on {platform.system()} {platform.release()}, {cpu}, '
            f'{os.cpu_count()} cores.')


def write_section(name, text):
    start, end = f'<!-- {name}:start -->', f'<!-- {name}:end -->'
    doc = DOC.read_text() if DOC.exists() else HEAD
    block = f'{start}\n{text.strip()}\n{end}'
    if start in doc and end in doc:
        doc = doc[:doc.index(start)] + block + doc[doc.index(end) + len(end):]
    else:
        doc = doc.rstrip() + '\n\n' + block + '\n'
    DOC.write_text(doc)
    print(f'wrote section "{name}" of {DOC}')
