"""Views of each block (ContainerParams.views): own generators next to imagery never trained on (benchmark).

    /usr/bin/python3 bench/bench_views.py [--model standard] [--markdown]

The network was trained on every turn and mirror of its patches; with ``views`` N the plugin averages its maps
over N of them (1 the block, 2 and its half turn, 4 its quarter turns, 8 those of the block and of its mirror).
For each N: the own figures at its threshold, as bench/calibrate_containers.py --views N measured them (new
generator patches, the older renderer, container-free patches; the sidecar's ``views`` entries), then the
validation imagery (../shared/data/imagery and the Rotterdam chips of `make bench-real`) counted and scored as
bench/bench_containers.py does it (the sun in the scenes' metadata not read: every row is this model's), with the
time of all of them. ``--markdown`` writes the table into docs/benchmarks.md (section "containers-views",
"containers-views-wide" for --model wide).
"""
import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / 'bench'))

import bench_containers as bc  # noqa: E402
from calibrate_containers import nearest  # noqa: E402
from docs_section import machine, write_section  # noqa: E402
from cargowatch.core import containers  # noqa: E402


def own(side, views):
    """(threshold, the calibration row at it) of ``views`` from a model's sidecar (one view: measured beside the
    others on their seeds, `calibrate_containers.py --views-entry`, else the model's own calibration)."""
    entry = side.get('views', {}).get(str(views), side if views == 1 else None)
    if entry is None:
        return None, None
    return entry['threshold'], nearest(entry['calibration_own'], entry['threshold'])[1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--model', choices=sorted(containers.MODELS), default='standard')
    ap.add_argument('--markdown', action='store_true', help='write the table into docs/benchmarks.md')
    args = ap.parse_args()
    if not bc.SHARED.is_dir():
        raise SystemExit(f'the validation imagery is not at {bc.SHARED} (../shared beside the checkout)')
    side = json.loads(containers.sidecar_path(args.model).read_text())
    imagery = bc.SHARED / 'data' / 'imagery'
    scenes = [imagery / 'scenes' / f'{n}.tif' for n in bc.VALIDATION]
    reals = sorted((imagery / 'real').glob('*.tif'))
    reals += sorted(bc.REAL_ROTTERDAM.glob('pan*.tif')) if bc.REAL_ROTTERDAM.is_dir() else []
    head = ['views', 'threshold', 'own: generated F1', 'own: older renderer F1', 'own: false per km²']
    head += [p.stem + ' F1 (count error)' for p in scenes[:-1]] + [scenes[-1].stem]
    head += [p.stem for p in reals] + ['seconds, all images']
    lines = ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
    for views in sorted(containers.VIEWS):
        t, cal = own(side, views)
        if cal is None:
            print(f'{views} views: no threshold in the sidecar (bench/calibrate_containers.py --views {views} --write)')
            continue
        bc.PARAMS.model, bc.PARAMS.views = args.model, views
        row = [str(views), f'{t:g}', f"{cal['generated_f1']:.3f}",
               f"{sum(cal['older_renderer_f1']) / len(cal['older_renderer_f1']):.3f}",
               f"{cal['false_per_km2_without_containers']:.0f}"]
        start = time.time()
        with tempfile.TemporaryDirectory() as tmp:
            for path in scenes:
                n, s, _ = bc.validation(path, tmp, read_sun=False)      # the model asked for, not its sun twin
                row.append(str(n) if s['f1'] is None else f"{s['f1']:.3f} ({s['count_error_pct']:+.1f} %)")
            row += [str(bc.validation(path, tmp, read_sun=False)[0]) for path in reals]
        row.append(f'{time.time() - start:.0f}')
        lines.append('| ' + ' | '.join(row) + ' |')
        print(lines[-1], flush=True)
    rule = next((v['threshold_rule'] for v in side.get('views', {}).values()), side['threshold_rule'])
    if args.markdown:
        write_section('containers-views-wide' if args.model == 'wide' else 'containers-views',
                      f'## Containers: views of each block ({args.model} model)\n\n' + machine()
                      + f"\n\nOwn figures at each number of views' threshold ({rule}), beside the validation "
                      'imagery counted with as many views; the time counts the validation images (scoring '
                      'included).\n\n' + '\n'.join(lines))


if __name__ == '__main__':
    main()
