"""Misregistration from the images (core.coregister) on real imagery with known offsets.

    pip download --no-deps solaris==0.4.0 && unzip -o solaris-0.4.0-*.whl 'solaris/data/*'
    /usr/bin/python3 bench/bench_coregister.py solaris/data/preproc_tutorial

The solaris wheel (Apache-2.0) ships three real WorldView-2 chips of Rotterdam, each as a 0.5 m
panchromatic image (pan<k>.tif, UInt16) and a 1 m multispectral one of the same place (ms<k>.tif,
Float64): two sensors, two grids. The pan image's georeferencing is moved by known offsets; the
estimate should follow them. The pair's own offset (shift 0) is the sensors' residual
misregistration; what matters is that each estimate minus it recovers the added offset.
"""
import sys
import tempfile
from pathlib import Path

from osgeo import gdal

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / 'bench'))
from bench_speed import _package_path  # noqa: E402

_package_path()
from cargowatch.core.change import common_area  # noqa: E402
from cargowatch.core.coregister import image_shift  # noqa: E402
from cargowatch.core.raster import open_raster  # noqa: E402

OFFSETS = ((0.0, 0.0), (3.0, -2.0), (-5.5, 4.0), (1.2, 0.7))


def main():
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else 'solaris/data/preproc_tutorial')
    print('| chip | added offset (m) | estimate (m) | estimate - pair\'s own offset | error (m) |')
    print('|---|---|---|---|---|')
    with tempfile.TemporaryDirectory() as tmp:
        for k in (1, 2, 3):
            ms = open_raster(folder / f'ms{k}.tif')
            base = None
            for dx, dy in OFFSETS:
                src = gdal.Open(str(folder / f'pan{k}.tif'))
                gt = list(src.GetGeoTransform())
                gt[0] += dx
                gt[3] += dy
                out = gdal.Translate(str(Path(tmp) / f'pan{k}.tif'), src)
                out.SetGeoTransform(gt)
                out = None
                pan = open_raster(Path(tmp) / f'pan{k}.tif')
                est = image_shift(ms, pan, common_area(ms, pan))
                if est is None:
                    print(f'| {k} | {dx:+.1f}, {dy:+.1f} | none | | |')
                    continue
                base = est if base is None else base
                rel = (est[0] - base[0], est[1] - base[1])
                err = ((rel[0] - dx) ** 2 + (rel[1] - dy) ** 2) ** 0.5
                print(f'| {k} | {dx:+.1f}, {dy:+.1f} | {est[0]:+.2f}, {est[1]:+.2f} | {rel[0]:+.2f}, {rel[1]:+.2f} '
                      f'| {err:.2f} |')


if __name__ == '__main__':
    main()
