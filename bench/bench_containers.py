"""Accuracy of the container count on generated port scenes with exact truth (benchmark).

    /usr/bin/python3 bench/bench_containers.py [--quick] [--png DIR] [--markdown]

Every scene is rendered by test/scenes.py (container yards at any orientation, 20/40 ft bays,
uniform and mixed colours, stacks with shadows, RTG/STS cranes, trucks, parked cars, roofs, road
markings and painted slots, a rail yard with containers on flatcars), written as a real GeoTIFF
in the sensor format of the row (Byte RGB, 11-bit UInt16 BGRN, 1-band pan, EPSG:4326, nodata
corners) and counted through core.containers.count_containers exactly as the algorithm does.

Per scene: true vs counted containers and TEU, count error %, and precision / recall / F1 of
matched containers (a detected unit matches a true container whose centre lies within 1.6 m; a
block of k touching containers stands for k units side by side).
"""
import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / 'test'))
sys.path.insert(0, str(ROOT / 'bench'))

from bench_speed import _package_path  # noqa: E402

_package_path()
import scenes  # noqa: E402
from cargowatch.core import containers, raster  # noqa: E402

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


def run_scene(name, skw, wkw, tmp, png_dir=None):
    sc = scenes.port_scene(**skw)
    path = scenes.write_scene(sc, Path(tmp) / f"{skw['seed']}.tif", **wkw)
    bands = (3, 2, 1) if wkw.get('layout') == 'bgrn' else None
    r = raster.open_raster(path, bands=bands)
    t = time.time()
    found = containers.count_containers(r)
    secs = time.time() - t
    truth = scenes.truth_map_coords(sc)
    if wkw.get('nodata_corners'):    # containers in the blanked corners cannot be seen
        h, w = sc.shape
        lim = min(h, w) * 0.3 * sc.gsd
        keep = [not (c.cx + c.cy < lim or (w * sc.gsd - c.cx) + (h * sc.gsd - c.cy) < lim) for c in sc.containers]
        truth = [t_ for t_, k in zip(truth, keep) if k]
    ev = scenes.evaluate(found, truth)
    ev.update(name=name, gsd=sc.gsd, secs=secs, mpx=sc.shape[0] * sc.shape[1] / 1e6)
    if png_dir:
        Path(png_dir).mkdir(parents=True, exist_ok=True)
        scenes.preview_png(sc, Path(png_dir) / f"scene_{skw['seed']}.png", found)
    return ev


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--quick', action='store_true', help='first 4 scenes only')
    ap.add_argument('--png', help='folder for PNGs of the detections over each scene')
    ap.add_argument('--markdown', action='store_true')
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, skw, wkw in SCENES[:4] if args.quick else SCENES:
            ev = run_scene(name, skw, wkw, tmp, args.png)
            rows.append(ev)
            print(f"{name:34s} true {ev['true']:4d} counted {ev['counted']:4d} ({ev['count_err_pct']:+6.1f} %)  "
                  f"TEU {ev['teu_true']:4d}/{ev['teu_counted']:4d} ({ev['teu_err_pct']:+6.1f} %)  "
                  f"P {ev['precision']:.3f} R {ev['recall']:.3f} F1 {ev['f1']:.3f}  {ev['secs']:.1f} s", flush=True)
    if args.markdown:
        print('\n| scene | GSD m | true | counted | count err % | true TEU | counted TEU | TEU err % | precision | recall | F1 |')
        print('|---|---|---|---|---|---|---|---|---|---|---|')
        for e in rows:
            print(f"| {e['name']} | {e['gsd']} | {e['true']} | {e['counted']} | {e['count_err_pct']:+.1f} | "
                  f"{e['teu_true']} | {e['teu_counted']} | {e['teu_err_pct']:+.1f} | {e['precision']:.3f} | "
                  f"{e['recall']:.3f} | {e['f1']:.3f} |")


if __name__ == '__main__':
    main()
