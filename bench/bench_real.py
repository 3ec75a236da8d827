"""Container detections drawn over real imagery, for a visual check (not committed imagery).

    pip download --no-deps solaris==0.4.0 && unzip -o solaris-0.4.0-*.whl 'solaris/data/*'
    /usr/bin/python3 bench/bench_real.py solaris/data/preproc_tutorial/pan*.tif --out bench/out/real_rotterdam.png

The solaris wheel (Apache-2.0) ships real 0.5 m WorldView-2 panchromatic chips (UInt16) of the port of
Rotterdam. Each raster is counted exactly as the algorithm does and shown side by side with its
detections: red = single 20/40 ft container, yellow = block (label = containers in it).
"""
import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / 'bench'))
from bench_speed import _package_path  # noqa: E402

_package_path()
from cargowatch.core import containers, raster  # noqa: E402
from cargowatch.core.errors import CargoWatchError  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('rasters', nargs='+')
    ap.add_argument('--out', default=str(ROOT / 'bench' / 'out' / 'real.png'))
    args = ap.parse_args()
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    n = len(args.rasters)
    fig, axes = plt.subplots(1, n, figsize=(7 * n, 7))
    axes = np.atleast_1d(axes)
    for ax, path in zip(axes, args.rasters):
        try:
            r = raster.open_raster(path)
            found = containers.count_containers(r)
        except CargoWatchError as e:
            print(f'{path}: {e}')
            ax.set_title(f'{Path(path).name}: refused')
            continue
        data, valid = raster.read_window(r, 0, 0, r.width, r.height)
        img = np.transpose(data[:3], (1, 2, 0)) if data.shape[0] >= 3 else data[0]
        ax.imshow(img, cmap='gray')
        c, teu = containers.summarise(found)
        for d in found:
            p = np.array(d['geometry'])
            cols, rows = r.map_to_pixel(p[:, 0], p[:, 1])
            colr = 'yellow' if d['size_class'] == 'block' else 'red'
            ax.plot(np.r_[cols, cols[0]] - 0.5, np.r_[rows, rows[0]] - 0.5, color=colr, lw=0.8)
            if d['containers'] > 1:
                ax.text(cols.mean(), rows.mean(), str(d['containers']), color='yellow', fontsize=6)
        ax.set_title(f'{Path(path).name}: {c} containers, {teu} TEU ({r.gsd:.2f} m)')
        ax.axis('off')
        print(f'{path}: {r.gsd:.2f} m, {len(found)} features, {c} containers, {teu} TEU')
        for d in sorted(found, key=lambda d: -d['confidence'])[:15]:
            print('   ', d['size_class'], d['length_m'], d['width_m'], d['containers'], d['colour'], d['confidence'])
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(args.out, dpi=110)
    print('saved', args.out)


if __name__ == '__main__':
    main()
