"""docs/benchmarks.md is written by the benchmarks: each owns a section between markers and replaces it."""
import contextlib
import datetime
import io
import os
import platform
import re
import sys
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / 'docs' / 'benchmarks.md'
HEAD = ('# Benchmarks\n\nWritten by `make bench` (each script rewrites its own section); figures are measured, '
        'never typed in. The project\'s own generators and imagery it was never trained on stand side by side: '
        'the gap between them is the figure that matters.\n\nHow the detectors work and what they have never seen: '
        '[containers.md](containers.md), [pits.md](pits.md).\n')


def machine():
    """One line naming the machine and the date of a measurement."""
    with open('/proc/cpuinfo') as f:
        cpu = next((ln.split(':', 1)[1].strip() for ln in f if ln.startswith('model name')), platform.processor())
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


class _Tee(io.TextIOBase):
    def __init__(self, *streams):
        self.streams = streams

    def write(self, text):
        for stream in self.streams:
            stream.write(text)
        return len(text)

    def flush(self):
        for stream in self.streams:
            stream.flush()


def is_markdown(line):
    """Lines of a benchmark's output that go into its section: table rows and 'Heading:' lines."""
    return line.startswith('|') or (line.endswith(':') and not line.startswith((' ', '{')))


@contextlib.contextmanager
def section_from_output(name, title, intro):
    """Print as usual inside the block; when it ends without error, its Markdown lines (tables) become section
    ``name`` of docs/benchmarks.md under ``title``, with the machine and the date."""
    buf = io.StringIO()
    with contextlib.redirect_stdout(_Tee(sys.stdout, buf)):
        yield
    kept = '\n'.join(ln for ln in buf.getvalue().splitlines() if is_markdown(ln) or not ln.strip())
    body = re.sub(r'\n{3,}', '\n\n', re.sub(r':\n\|', ':\n\n|', kept)).strip()  # blocks stay apart
    write_section(name, f'## {title}\n\n{machine()}\n\n{intro}\n\n{body}')

