"""Containers between two dates (benchmark, not a test): what the second look of core.change.cross_check does.

    .venv/bin/python bench/bench_changes.py [--markdown]

Each yard of the older renderer (test/helpers/scenes.py, bench_containers.py's first six) is compared with itself
on another date (scenes.another_date: darker, more contrasted light, softer optics, other noise) with its middle
quarter cleared to bare pavement. Nothing else changed, so every "new" or "removed" outside the cleared square is
false; inside it, every container the first date's detection found should be "removed". Printed with and without
the second look. ``--markdown`` writes the table into docs/benchmarks.md (section "containers-changes").
"""
import argparse
import contextlib
import sys
import tempfile
from pathlib import Path

import numpy as np

from bench_containers import SCENES  # (puts the checkout and test/helpers on the path)
from docs_section import section_from_output
import scenes  # noqa: E402
from cargowatch.core import change, raster  # noqa: E402
from cargowatch.core.coregister import image_shift  # noqa: E402


def one(name, kw, tmp):
    """(row figures) for one yard: the cleared square is the middle quarter of its pixels."""
    sc = scenes.port_scene(**kw)
    n = kw['size_px']
    q = (n // 4, n // 4, 3 * n // 4, 3 * n // 4)
    first = raster.open_raster(scenes.write_scene(sc, Path(tmp) / 'first.tif'))
    second = raster.open_raster(scenes.write_scene(scenes.another_date(sc, clear=q), Path(tmp) / 'second.tif'))
    count = change.detector('containers')          # detect_changes' steps, to keep what the second look started from
    plain, info = change.compare(count(first), count(second), first.srs_wkt, second.srs_wkt,
                                 shift=image_shift(first, second, change.footprint_wkt(second)))
    recs, _ = change.cross_check(plain, info, first, second, kind='containers')
    x0, y0 = scenes.ORIGIN
    gsd = kw['gsd']
    m = 3.0 / gsd                                     # a box whose centre is this close to the square's edge: either

    def where(r):
        c, rw = (np.mean(r['geometry'], axis=0) - (x0, y0)) / (gsd, -gsd)
        inside = q[0] + m < c < q[2] - m and q[1] + m < rw < q[3] - m
        edge = q[0] - m <= c <= q[2] + m and q[1] - m <= rw <= q[3] + m
        return 'in' if inside else 'edge' if edge else 'out'
    rows = {}
    for label, rs in (('without', plain), ('with', recs)):
        w = [(where(r), r['status']) for r in rs]
        rows[label] = (sum(1 for p, s in w if p == 'in' and s == 'removed'), sum(1 for p, _ in w if p == 'in'),
                       sum(1 for p, s in w if p == 'out' and s != 'kept'), sum(1 for p, _ in w if p == 'out'))
    return name, rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--markdown', action='store_true', help='write the table into docs/benchmarks.md')
    a = ap.parse_args()
    intro = ('`bench/bench_changes.py`: each yard of the older renderer against itself on another date (darker, more '
             'contrasted light, softer, other noise) with its middle quarter cleared. Cleared: containers of the '
             'cleared square reported removed / all reported there. Elsewhere: reported new or removed (all false) / '
             'all reported there. Boxes within 3 m of the square\'s edge are left out.')
    doc = (section_from_output('containers-changes', 'Containers between two dates (own renderer)', intro)
           if a.markdown else contextlib.nullcontext())
    with doc, tempfile.TemporaryDirectory() as tmp:
        print('Second look and without it:')
        print('| yard | cleared, with | elsewhere false, with | cleared, without | elsewhere false, without |')
        print('|---|---|---|---|---|')
        for name, kw, _ in SCENES[:6]:
            name, rows = one(name, kw, tmp)
            w, o = rows['with'], rows['without']
            print(f'| {name} | {w[0]} / {w[1]} | {w[2]} / {w[3]} | {o[0]} / {o[1]} | {o[2]} / {o[3]} |', flush=True)


if __name__ == '__main__':
    sys.exit(main())
