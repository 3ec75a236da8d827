"""Container count accuracy: the project's own generators next to imagery it was not made from (benchmark).

    /usr/bin/python3 bench/bench_containers.py [--quick] [--png DIR] [--model wide] [--markdown]

Three sets, side by side, so the gap between them shows:
1. training generator (bench/container_gen.py): held-out patches, figures from the model's sidecar;
2. the old scene generator (test/helpers/scenes.py): whole GeoTIFF yards in every sensor format, never trained on;
3. validation (../shared/data/imagery): another generator's scenes with truth, scored by its own scorer
   (../shared/tools/score.py), real photos without containers, and the real Rotterdam WorldView-2 chips when
   `make bench-real` has unpacked them.
Every raster is counted through core.containers.count_containers exactly as the algorithm does: an image whose own
metadata gives the sun's azimuth (the validation scenes carry SUN_AZIMUTH) is counted by the asked model's
sun-turned twin (core.containers.with_image_sun). ``--model sun`` or ``wide_sun`` counts every image with that twin,
told its sun (the old generator's scenes their own, the validation scenes their metadata's); the real photos have
none, so the model it twins counts them, as in that model's section. ``--groups`` drops lone boxes
(ContainerParams.groups, off by default); ``--views 4`` counts with four views of each block (the default of the
algorithms, Views Auto, for images of up to 25 million pixels). ``--markdown`` writes the tables into
docs/benchmarks.md (section "containers", "containers-wide", "containers-sun" or "containers-wide-sun"; with --groups
"containers-lone", with --views 4 "containers-auto"), with the machine and the date.
"""
import argparse
import dataclasses
import json
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / 'test' / 'helpers'))
sys.path.insert(0, str(ROOT / 'bench'))

from bench_speed import _package_path  # noqa: E402
from calibrate_containers import nearest  # noqa: E402
from docs_section import machine, write_section  # noqa: E402

_package_path()
import scenes  # noqa: E402
from cargowatch.core import containers, raster  # noqa: E402

SHARED = ROOT.parent / 'shared'
REAL_ROTTERDAM = ROOT / 'build' / 'solaris' / 'solaris' / 'data' / 'preproc_tutorial'

# name, scene kwargs, writer kwargs. Seeds, resolutions, layouts and formats all vary.
SCENES = [
    ('yard 0.3 m RGB', dict(seed=201, gsd=0.3, size_px=1400), {}),
    ('yard 0.4 m RGB, mixed angles', dict(seed=202, gsd=0.4, size_px=1100, mixed_angles=True), {}),
    ('yard 0.5 m RGB, uniform colours', dict(seed=203, gsd=0.5, size_px=900, colour_mode='uniform'), {}),
    ('yard+rail 0.5 m RGB', dict(seed=204, gsd=0.5, size_px=900, rail=True), {}),
    ('yard 0.6 m RGB, concrete', dict(seed=205, gsd=0.6, size_px=750, concrete=True), {}),
    ('yard 0.7 m RGB', dict(seed=206, gsd=0.7, size_px=650), {}),
    ('yard 0.5 m 11-bit BGRN', dict(seed=207, gsd=0.5, size_px=900), dict(layout='bgrn', dtype='UInt16')),
    ('yard 0.5 m pan 1-band', dict(seed=208, gsd=0.5, size_px=900), dict(layout='pan', dtype='UInt16')),
    ('yard+rail 0.4 m EPSG:4326', dict(seed=209, gsd=0.4, size_px=1100, rail=True), dict(geographic=True)),
    ('yard 0.3 m nodata edges, busy', dict(seed=210, gsd=0.3, size_px=1400, distractors=2.0),
     dict(nodata_corners=True)),
]
VALIDATION = ['port_a_rgb_03', 'port_c_u16_07', 'rail_yard_rgb_05', 'port_empty_rgb_05']
PARAMS = containers.ContainerParams()   # --model sets its model


def own_scene(name, skw, wkw, tmp, png_dir=None):
    sc = scenes.port_scene(**skw)
    path = scenes.write_scene(sc, Path(tmp) / f"{skw['seed']}.tif", **wkw)
    bands = (3, 2, 1) if wkw.get('layout') == 'bgrn' else None
    r = raster.open_raster(path, bands=bands)
    t = time.time()
    found = containers.count_containers(r, params_for(r, math.degrees(sc.meta['sun'][0]) % 360
                                                      if containers.uses_sun(PARAMS.model) else None))
    secs = time.time() - t
    truth = scenes.truth_map_coords(sc)
    if wkw.get('nodata_corners'):    # containers in the blanked corners cannot be seen
        h, w = sc.shape
        lim = min(h, w) * 0.3 * sc.gsd
        keep = [not (c.cx + c.cy < lim or (w * sc.gsd - c.cx) + (h * sc.gsd - c.cy) < lim) for c in sc.containers]
        truth = [t_ for t_, k in zip(truth, keep) if k]
    ev = scenes.evaluate(found, truth)
    ev.update(name=name, gsd=sc.gsd, secs=secs)
    if png_dir:
        Path(png_dir).mkdir(parents=True, exist_ok=True)
        scenes.preview_png(sc, Path(png_dir) / f"scene_{skw['seed']}.png", found)
    return ev


def write_gpkg(found, srs_wkt, path):
    from osgeo import ogr, osr
    srs = osr.SpatialReference()
    srs.ImportFromWkt(srs_wkt)
    ds = ogr.GetDriverByName('GPKG').CreateDataSource(str(path))
    lyr = ds.CreateLayer('containers', srs, ogr.wkbPolygon)
    lyr.CreateField(ogr.FieldDefn('confidence', ogr.OFTReal))
    lyr.CreateField(ogr.FieldDefn('size_class', ogr.OFTString))
    for d in found:
        f = ogr.Feature(lyr.GetLayerDefn())
        ring = 'POLYGON((' + ','.join(f'{x} {y}' for x, y in d['geometry'] + d['geometry'][:1]) + '))'
        f.SetGeometry(ogr.CreateGeometryFromWkt(ring))
        f.SetField('confidence', d['confidence'])
        f.SetField('size_class', d['size_class'])
        lyr.CreateFeature(f)
    ds = None


def params_for(r, sun=None, read_sun=True):
    """PARAMS as countcontainers runs them on raster ``r``: told ``sun``, else (``read_sun``) the sun its own
    metadata gives (core.containers.with_image_sun)."""
    p = dataclasses.replace(PARAMS, sun_azimuth=sun)
    return containers.with_image_sun(r, p) if read_sun or sun is not None else p


def validation(path, tmp, png_dir=None, read_sun=True):
    """(count, score dict or None, seconds) of one validation image, scored by ../shared/tools/score.py
    (``read_sun`` False: the sun in its metadata is not read, the model asked for counts)."""
    r = raster.open_raster(path)
    t = time.time()
    found = containers.count_containers(r, params_for(r, read_sun=read_sun))
    secs = time.time() - t
    out = Path(tmp) / (Path(path).stem + '.gpkg')
    write_gpkg(found, r.srs_wkt, out)
    truth = Path(str(path)[:-4] + '.truth.json')
    score = None
    if truth.exists():
        proc = subprocess.run([sys.executable, str(SHARED / 'tools' / 'score.py'), str(truth), str(out),
                               '--kind', 'containers'], capture_output=True, text=True, check=True)
        score = json.loads(proc.stdout)
    if png_dir:
        Path(png_dir).mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, str(SHARED / 'tools' / 'preview.py'), str(path),
               str(Path(png_dir) / (Path(path).stem + '.png')), '--det', str(out)]
        subprocess.run(cmd + (['--truth', str(truth)] if truth.exists() else []), check=True, capture_output=True)
    return len(found), score, secs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--quick', action='store_true', help='first 4 own scenes only')
    ap.add_argument('--png', help='folder for PNGs of the detections over each scene')
    ap.add_argument('--model', choices=sorted(containers.MODELS), default=PARAMS.model)
    ap.add_argument('--groups', action='store_true', help='drop lone boxes (ContainerParams.groups)')
    ap.add_argument('--views', type=int, choices=(1, 4), default=1,
                    help="4: the standard model's four views of each block, Views Auto's choice for an image of up to "
                         '25 million pixels (every validation image)')
    ap.add_argument('--markdown', action='store_true', help='write the tables into docs/benchmarks.md')
    args = ap.parse_args()
    if (args.groups or args.views > 1) and args.model != 'standard':
        ap.error('--groups and --views are measured with the default model')
    PARAMS.model, PARAMS.groups, PARAMS.views = args.model, args.groups, args.views
    side = json.loads(containers.sidecar_path(args.model).read_text())
    if args.views > 1:       # its own threshold and calibration (bench/calibrate_containers.py --views)
        side = dict(side, **side['views'][str(args.views)])
    tv, v = nearest(side['validation_generated_by_threshold'], side['threshold'])
    lines = ['### 1. Training generator (bench/container_gen.py), held-out patches',
             f"{side['data']}. At {tv:.2f}: F1 {v['f1']:.3f} (precision {v['precision']:.3f}, "
             f"recall {v['recall']:.3f}), "
             f"count error {v['count_error_pct']:+.1f} %. Model trained {side['date']}, {side['steps']} steps.", '']
    _, cal = nearest(side.get('calibration_own', {}), side['threshold'])
    if args.groups:
        lines += ['Lone boxes dropped: the figures above are without (as the model was chosen); on new generated '
                  'patches at the same threshold with lone boxes dropped: docs/containers.md, *Drop lone boxes*.', '']
    elif cal:
        lines += [f"At its threshold {side['threshold']:g} ({side['threshold_rule']}): new 160 m generated patches, "
                  f"scored away from their edges, F1 {cal['generated_f1']:.3f}, count error "
                  f"{cal['generated_count_error_pct']:+.1f} %.", '']
    lines += ['### 2. The old scene generator (test/helpers/scenes.py, never trained on)', '',
              '| scene | GSD m | true | counted | count error | TEU error | precision | recall | F1 |',
              '|---|---|---|---|---|---|---|---|---|']
    with tempfile.TemporaryDirectory() as tmp:
        for name, skw, wkw in SCENES[:4] if args.quick else SCENES:
            e = own_scene(name, skw, wkw, tmp, args.png)
            lines.append(f"| {e['name']} | {e['gsd']} | {e['true']} | {e['counted']} | {e['count_err_pct']:+.1f} % | "
                         f"{e['teu_err_pct']:+.1f} % | {e['precision']:.3f} | {e['recall']:.3f} | {e['f1']:.3f} |")
            print(lines[-1], flush=True)
        lines += ['', '### 3. Validation: another generator\'s scenes and real photos (../shared/data/imagery)', '']
        if not SHARED.is_dir():
            lines.append(f'(not run: {SHARED} not found)')
        else:
            lines += ['| image | holds | truth | found | count error | precision | recall | F1 | seconds |',
                      '|---|---|---|---|---|---|---|---|---|']
            imagery = SHARED / 'data' / 'imagery'
            told = [n for n in VALIDATION if params_for(raster.open_raster(imagery / 'scenes' / f'{n}.tif')).model
                    != PARAMS.model]
            if told:
                twin = containers.LABELS[containers.SUN_TWINS[PARAMS.model]]
                lines[-3:-3] = ['', "As the algorithm does with one view, the scenes whose metadata gives the sun's "
                                f"azimuth ({', '.join(told)}) are counted by the {twin} network; the {PARAMS.model} "
                                "network's own figures on them: section \"views of each block\", one view."]
            for name in VALIDATION:
                n, s, secs = validation(imagery / 'scenes' / f'{name}.tif', tmp, args.png)
                err = '-' if s['count_error_pct'] is None else f"{s['count_error_pct']:+.1f} %"
                f1 = '-' if s['f1'] is None else f"{s['f1']:.3f}"
                lines.append(f"| {name} | containers | {s['true_count']} | {n} | {err} | "
                             f"{s.get('precision') or 0:.3f} | {s.get('recall') or 0:.3f} | {f1} | {secs:.1f} |")
                print(lines[-1], flush=True)
            reals = sorted((imagery / 'real').glob('*.tif'))
            reals += sorted(REAL_ROTTERDAM.glob('pan*.tif')) if REAL_ROTTERDAM.is_dir() else []
            if containers.uses_sun(args.model):     # no sun in their metadata: the model it twins counts them
                reals = []
                base = next(k for k, twin in containers.SUN_TWINS.items() if twin == args.model)
                lines += ['', f'The real photos carry no sun: the {base} model counts them (its section above).']
            for path in reals:
                n, _, secs = validation(path, tmp, args.png)
                lines.append(f'| {path.stem} (real photo) | no containers | 0 | {n} | - | - | - | - | {secs:.1f} |')
                print(lines[-1], flush=True)
    if args.markdown and args.views > 1:
        write_section('containers-auto', f'## Containers: accuracy, {args.views} views (Views Auto\'s choice for '
                      'an image of up to 25 million pixels: every validation image)\n\n' + machine() + '\n\n'
                      + '\n'.join(lines))
    elif args.markdown and args.groups:
        write_section('containers-lone', '## Containers: accuracy, lone boxes dropped\n\n' + machine() + '\n\n'
                      + '\n'.join(lines))
    elif args.markdown:
        name, title = {'standard': ('containers', ', one view (the sun read where the image gives it)'),
                       'wide': ('containers-wide', ', wide model'),
                       'sun': ('containers-sun', ", sun-turned model told each image's sun"),
                       'wide_sun': ('containers-wide-sun', ", sun-turned wide model told each image's sun")}[args.model]
        write_section(name, '## Containers: accuracy' + title + '\n\n' + machine() + '\n\n' + '\n'.join(lines))


if __name__ == '__main__':
    main()
