"""Sighting matching speed: 1,000 sightings against 10 million AIS positions (core.sightings).

    /usr/bin/python3 bench/bench_match.py                       # 10M positions, 1,000 sightings
    /usr/bin/python3 bench/bench_match.py --rows 1000000 --sightings 200

Positions: bench_ais.synth (5,000 vessels of 2,000 positions for 10M, three 12-72 h dark periods each, 8 kn).
Sightings: half in the middle of a vessel's dark period (on the straight line between its fixes), half on a
visible position; times are wall-clock on this machine (2 shared cores). Prints a Markdown table and writes
bench/out/bench_match.json.
"""
import argparse
import json
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

from bench_ais import synth  # noqa: E402
from core import gaps, sightings, tracks  # noqa: E402


def make_sightings(cols, n, rng):
    g = gaps.find_gaps(cols['mmsi'], cols['t'], cols['lon'], cols['lat'], 12 * 3600)
    k = rng.choice(len(g['i0']), size=n // 2, replace=False)
    i0, i1 = g['i0'][k], g['i1'][k]
    f = rng.uniform(0.3, 0.7, size=len(k))
    dark_t = (cols['t'][i0] + f * (cols['t'][i1] - cols['t'][i0])).astype(np.int64)
    dlon = (cols['lon'][i1] - cols['lon'][i0] + 180.0) % 360.0 - 180.0  # across the antimeridian the short way
    dark_x = (cols['lon'][i0] + f * dlon + 180.0) % 360.0 - 180.0
    dark_y = cols['lat'][i0] + f * (cols['lat'][i1] - cols['lat'][i0])
    j = rng.choice(len(cols['t']), size=n - len(k), replace=False)
    return (np.r_[dark_x, cols['lon'][j]], np.r_[dark_y, cols['lat'][j]], np.r_[dark_t, cols['t'][j]],
            cols['mmsi'][np.r_[i0, j]])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--rows', type=int, default=10_000_000)
    ap.add_argument('--sightings', type=int, default=1000)
    ap.add_argument('--window-h', type=float, default=0.0, help='time window of every sighting (+- hours)')
    args = ap.parse_args()
    rng = np.random.default_rng(11)
    t = time.perf_counter()
    cols = synth(args.rows)
    cols['heading'] = np.full(len(cols['t']), np.nan, np.float32)
    t_synth = time.perf_counter() - t
    t = time.perf_counter()
    cols = tracks.sort_positions(cols)
    t_sort = time.perf_counter() - t
    sx, sy, st, truth = make_sightings(cols, args.sightings, rng)
    t = time.perf_counter()
    speeds = sightings.vessel_speeds(cols)
    t_speed = time.perf_counter() - t
    t = time.perf_counter()
    res = sightings.match_sightings(sx, sy, st, cols, window_s=np.full(len(sx), args.window_h * 3600),
                                    speeds=speeds)
    t_match = time.perf_counter() - t
    best = res['best'] == 1
    hit = np.zeros(len(sx), bool)
    hit[res['sighting'][best]] = res['mmsi'][best] == truth[res['sighting'][best]]
    listed = np.zeros(len(sx), bool)
    cand = np.isin(res['status'], ('dark', 'visible'))
    listed[res['sighting'][cand & (res['mmsi'] == truth[res['sighting']])]] = True
    fig = {'positions': len(cols['t']), 'vessels': int(len(speeds[0])), 'sightings': len(sx),
           'window_h': args.window_h, 'synth_s': round(t_synth, 2), 'sort_s': round(t_sort, 2),
           'speeds_s': round(t_speed, 2), 'match_s': round(t_match, 2), 'rows': int(len(res['mmsi'])),
           'true_vessel_listed': round(float(listed.mean()), 3), 'true_vessel_best': round(float(hit.mean()), 3)}
    print('| positions | vessels | sightings | window | sort | top speeds | match | rows out | true vessel '
          'listed | true vessel best |')
    print('|---|---|---|---|---|---|---|---|---|---|')
    print('| {positions:,} | {vessels:,} | {sightings:,} | ±{window_h:g} h | {sort_s} s | {speeds_s} s | '
          '{match_s} s | {rows:,} | {true_vessel_listed:.1%} | {true_vessel_best:.1%} |'.format(**fig))
    os.makedirs(os.path.join(HERE, 'out'), exist_ok=True)
    with open(os.path.join(HERE, 'out', 'bench_match.json'), 'w') as f:
        json.dump(fig, f, indent=1)


if __name__ == '__main__':
    from docs_section import section_from_output
    with section_from_output('match', 'AIS: matching sightings to dark vessels',
                             '`bench/bench_match.py` (`make bench`): synthetic positions of many vessels, sightings '
                             'half inside a dark period; the sort and the top speeds are shared by any AIS step.'):
        main()
