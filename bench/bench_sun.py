"""How well the sun model finds the sun over a whole raster (benchmark, not a test).

    .venv/bin/python bench/bench_sun.py [--seed0 500] [--n 16]

Yards of the older renderer (test/helpers/scenes.py, 400 m, 0.3-0.6 m, every third with a rail yard; the sun
model never saw this renderer), written as GeoTIFFs and given to core.containers.shadow_azimuth as the count
gives them: prints the true and estimated sun azimuth of each and the spread of the errors. Never reads ../shared.
"""
import argparse
import math
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / 'test' / 'helpers'))
sys.path.insert(0, str(ROOT / 'bench'))

from bench_speed import _package_path  # noqa: E402

_package_path()
import scenes  # noqa: E402
from cargowatch.core import containers, raster  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--seed0', type=int, default=500)
    ap.add_argument('--n', type=int, default=16)
    a = ap.parse_args()
    errors = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(a.seed0, a.seed0 + a.n):
            gsd = (0.3, 0.4, 0.5, 0.6)[seed % 4]
            sc = scenes.port_scene(seed=seed, gsd=gsd, size_px=int(400 / gsd), rail=seed % 3 == 0)
            true = math.degrees(sc.meta['sun'][0]) % 360
            azimuth, strength = containers.shadow_azimuth(raster.open_raster(
                scenes.write_scene(sc, Path(tmp) / f'{seed}.tif')))
            errors.append(abs((azimuth - true + 180) % 360 - 180))
            print(f'yard {seed} ({gsd} m): sun {true:.0f}, estimated {azimuth:.0f} (evidence {strength:.3f}), '
                  f'error {errors[-1]:.0f} deg', flush=True)
    e = np.array(errors)
    print(f'{len(e)} yards: median error {np.median(e):.1f} deg, worst {e.max():.0f}; within 22.5 deg '
          f'{np.mean(e < 22.5):.2f}, within 45 {np.mean(e < 45):.2f}')


if __name__ == '__main__':
    main()
