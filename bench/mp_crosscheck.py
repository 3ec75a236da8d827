"""Cross-check and side-by-side timing against MovingPandas, run in its own venv (bench/setup_mp.sh):

    sh bench/setup_mp.sh
    bench/.venv-mp/bin/python bench/mp_crosscheck.py                 # cross-check on the real samples
    bench/.venv-mp/bin/python bench/mp_crosscheck.py --bench pts.npz # timing on the same points

Cross-check: on the same real points (../shared/data/ais, read by CargoWatch's own importer or, for the
GeoPackage, with sqlite3), CargoWatch's gaps (core.gaps.find_gaps) must be exactly the splits of MovingPandas'
ObservationGapSplitter: both split where the time between consecutive positions of a vessel is strictly
greater than the threshold. MovingPandas drops pieces of a single position and pieces of length 0 (a ship
that did not move), so the comparison is made on (a) the pieces it keeps (mmsi, start, end, count), and
(b) the gaps between consecutive kept pieces (a split it shows across a dropped piece must span two or
more of ours). Prints one JSON line per case and exits 1 on any difference.

MovingPandas is not a CargoWatch dependency: only this script (in bench/.venv-mp) imports it.
"""
import argparse
import datetime as dt
import json
import os
import sqlite3
import struct
import sys
import time
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SHARED = os.path.join(os.path.dirname(ROOT), 'shared', 'data', 'ais')
sys.path.insert(0, ROOT)  # core/ is importable as the top-level package "core" (numpy only)

warnings.filterwarnings('ignore')
from core import ais, gaps as core_gaps, tracks  # noqa: E402


def read_gpkg_points(path, table, mmsi_col='mmsi', time_col='basedatetime'):
    """Points of a GeoPackage table with sqlite3 (GeoPackage binary header + WKB point)."""
    con = sqlite3.connect(path)
    geom_col = con.execute("SELECT column_name FROM gpkg_geometry_columns WHERE table_name=?", (table,)).fetchone()[0]
    rows = con.execute('SELECT "{}", "{}", "{}" FROM "{}"'.format(mmsi_col, time_col, geom_col, table)).fetchall()
    con.close()
    mmsi, times, lon, lat = [], [], [], []
    for m, t, blob in rows:
        flags = blob[3]
        env = (flags >> 1) & 7
        off = 8 + {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}[env]
        endian = '<' if blob[off] == 1 else '>'
        x, y = struct.unpack(endian + 'dd', blob[off + 5:off + 21])
        mmsi.append(m)
        times.append(t.encode())
        lon.append(x)
        lat.append(y)
    ms, ok = ais.parse_times(np.array(times))
    assert ok.all()
    cols = {'mmsi': np.array(mmsi, dtype=np.int64), 't': ms // 1000, 'lon': np.array(lon), 'lat': np.array(lat)}
    return tracks.sort_positions(cols)


def mp_collection(cols):
    import pandas as pd
    import movingpandas as mpd
    df = pd.DataFrame({'mmsi': cols['mmsi'], 'x': cols['lon'], 'y': cols['lat'],
                       't': pd.to_datetime(cols['t'], unit='s')})
    return mpd.TrajectoryCollection(df, 'mmsi', t='t', x='x', y='y', crs='EPSG:4326')


def mp_pieces(cols, gap_s):
    import movingpandas as mpd
    tc = mp_collection(cols)
    split = mpd.ObservationGapSplitter(tc).split(gap=dt.timedelta(seconds=gap_s))
    pieces = []
    for traj in split.trajectories:
        idx = traj.df.index
        pieces.append((int(str(traj.df['mmsi'].iloc[0]).split('_')[0]), int(round(idx[0].timestamp())), int(round(idx[-1].timestamp())),
                       len(traj.df)))
    return sorted(pieces)


def our_pieces(cols, gap_s):
    seg = tracks.segments(cols['mmsi'], cols['t'], cols['lon'], cols['lat'], gap_s, min_points=2)
    keep = seg['length_nm'] > 0  # MovingPandas' splitters also drop pieces of length 0 (a ship that never moved)
    return sorted(zip(seg['mmsi'][keep].tolist(), seg['start'][keep].tolist(), seg['end'][keep].tolist(),
                      seg['points'][keep].tolist()))


def gaps_between(pieces):
    out = []
    for a, b in zip(pieces[:-1], pieces[1:]):
        if a[0] == b[0]:
            out.append((a[0], a[2], b[1]))
    return out


def crosscheck_case(name, cols, gap_s):
    mp = mp_pieces(cols, gap_s)
    ours = our_pieces(cols, gap_s)
    g = core_gaps.find_gaps(cols['mmsi'], cols['t'], cols['lon'], cols['lat'], gap_s)
    our_gaps = sorted(zip(cols['mmsi'][g['i0']].tolist(), cols['t'][g['i0']].tolist(), cols['t'][g['i1']].tolist()))
    # a gap is comparable when MovingPandas kept the pieces on both sides (>= 2 positions each)
    seg = tracks.segment_ids(cols['mmsi'], cols['t'], gap_s)
    counts = np.bincount(seg)
    summ = tracks.segments(cols['mmsi'], cols['t'], cols['lon'], cols['lat'], gap_s)
    kept = (counts >= 2) & (summ['length_nm'] > 0)  # pieces MovingPandas keeps
    comparable = [x for x, i0 in zip(our_gaps, g['i0'].tolist()) if kept[seg[i0]] and kept[seg[i0 + 1]]]
    mp_gaps = gaps_between(mp)
    our_set = set(our_gaps)
    direct = [x for x in mp_gaps if x in our_set]
    # a split MovingPandas shows across a dropped piece spans two or more of our gaps
    spanning = [x for x in mp_gaps if x not in our_set]
    spanning_ok = all(sum(1 for y in our_gaps if y[0] == x[0] and x[1] <= y[1] and y[2] <= x[2]) >= 2
                      for x in spanning)
    gaps_equal = sorted(comparable) == sorted(direct) and spanning_ok
    ok = (mp == ours) and gaps_equal
    rec = {'case': name, 'gap_h': gap_s / 3600.0, 'points': int(len(cols['mmsi'])),
           'vessels': int(len(np.unique(cols['mmsi']))), 'mp_pieces': len(mp), 'our_pieces': len(ours),
           'our_gaps': len(our_gaps), 'mp_splits_between_kept_pieces': len(mp_gaps),
           'gaps_compared': len(comparable), 'single_position_pieces_dropped_by_mp': int(np.sum(counts == 1)),
           'zero_length_pieces_dropped_by_mp': int(np.sum((counts >= 2) & (summ['length_nm'] == 0))),
           'pieces_equal': mp == ours, 'gaps_equal': gaps_equal, 'ok': bool(ok)}
    if our_gaps:
        rec['longest_gap_h'] = round(float(g['hours'].max()), 3)
    print(json.dumps(rec))
    return ok


def crosscheck():
    ok = True
    gpkg = os.path.join(SHARED, 'trajectools_ais.gpkg')
    c = read_gpkg_points(gpkg, 'demodata_ais')
    for h in (6, 1, 0.25):
        ok &= crosscheck_case('trajectools_ais.gpkg', c, h * 3600)
    sol = ais.read_ais(os.path.join(SHARED, 'SolentAIS_20160112_130211.csv')).cols
    for s in (300, 60):
        ok &= crosscheck_case('SolentAIS (cleaned by importais)', sol, s)
    gfw = ais.read_ais(os.path.join(SHARED, 'gfwseg_263576000.json')).cols
    for h in (1, 0.1):
        ok &= crosscheck_case('gfwseg_263576000.json (cleaned)', gfw, h * 3600)
    return ok


def bench(npz, gap_h=12.0, repeat=1):
    """Same points, same process: MovingPandas (collection + gap split + track lines) vs CargoWatch core."""
    import movingpandas as mpd
    d = np.load(npz)
    cols = {k: d[k] for k in ('mmsi', 't', 'lon', 'lat')}
    gap = dt.timedelta(hours=gap_h)
    t0 = time.perf_counter()
    tc = mp_collection(cols)
    t1 = time.perf_counter()
    split = mpd.ObservationGapSplitter(tc).split(gap=gap)
    t2 = time.perf_counter()
    lines = split.to_traj_gdf()
    t3 = time.perf_counter()
    best = None
    for _ in range(max(1, repeat)):
        s0 = time.perf_counter()
        sc = tracks.sort_positions(cols)
        seg = tracks.segments(sc['mmsi'], sc['t'], sc['lon'], sc['lat'], gap_h * 3600, min_points=2)
        g = core_gaps.find_gaps(sc['mmsi'], sc['t'], sc['lon'], sc['lat'], gap_h * 3600)
        s1 = time.perf_counter()
        best = s1 - s0 if best is None else min(best, s1 - s0)
    rec = {'points': int(len(cols['mmsi'])), 'vessels': int(len(np.unique(cols['mmsi']))),
           'mp_collection_s': round(t1 - t0, 3), 'mp_split_s': round(t2 - t1, 3), 'mp_lines_s': round(t3 - t2, 3),
           'mp_total_s': round(t3 - t0, 3), 'mp_pieces': len(split.trajectories), 'mp_lines': len(lines),
           'cargowatch_tracks_and_gaps_s': round(best, 4), 'cargowatch_pieces': int(len(seg['mmsi'])),
           'cargowatch_gaps': int(len(g['i0']))}
    rec['speedup'] = round(rec['mp_total_s'] / max(best, 1e-9), 1)
    rec['speedup_split_only'] = round((t2 - t0) / max(best, 1e-9), 1)
    print(json.dumps(rec))
    return rec


if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--bench', help='npz of points (mmsi, t, lon, lat) for the side-by-side timing')
    ap.add_argument('--gap-h', type=float, default=12.0)
    args = ap.parse_args()
    if args.bench:
        bench(args.bench, args.gap_h, repeat=3)
    else:
        sys.exit(0 if crosscheck() else 1)
