"""AIS speed benchmark: import 10 million positions from CSV, build tracks, find gaps; MovingPandas side by side.

    /usr/bin/python3 bench/bench_ais.py                  # 10M rows (writes bench/out/ais_10000000.csv once)
    /usr/bin/python3 bench/bench_ais.py --rows 1000000   # smaller
    options: --mp-rows N (points for the MovingPandas comparison, default 300000; 0 to skip)
             --qgis  also time the Processing algorithms end to end (importais to GeoPackage, buildtracks,
                     detectgaps on that GeoPackage) in QGIS (needs /usr/bin/python3 with qgis)

Synthetic but AIS-like data: 5,000 vessels (2,000 positions each for 10M), reports every 10 s to 10 min,
three dark periods of 12-72 h per vessel, sailing at 8 kn on wandering courses, rows in time order across
vessels like a receiver's export (so the importer must sort), NOAA MarineCadastre CSV layout.
Times are wall-clock on this machine (2 shared cores); prints a Markdown table and writes bench/out/bench_ais.json.
MovingPandas runs in its own venv (sh bench/setup_mp.sh); on the same points, the same process times it and
CargoWatch's core (sort + segments + gaps).
"""
import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OUT = os.path.join(HERE, 'out')
sys.path.insert(0, ROOT)

from core import ais, gaps, tracks  # noqa: E402

T0 = 1704067200  # 2024-01-01


def synth(rows, vessels_per_million=500, seed=7):
    rng = np.random.default_rng(seed)
    V = max(1, int(round(rows / 1e6 * vessels_per_million)))
    P = rows // V
    dt = rng.integers(10, 601, size=(V, P)).astype(np.int64)
    dt[:, 0] = rng.integers(0, 86400, size=V)
    for _ in range(3):
        j = rng.integers(1, P, size=V)
        dt[np.arange(V), j] += rng.integers(12 * 3600, 72 * 3600, size=V)
    t = T0 + np.cumsum(dt, axis=1)
    course = np.radians(rng.uniform(0, 360, size=(V, 1)) + np.cumsum(rng.normal(0, 5, size=(V, P)), axis=1))
    d_nm = 8.0 * dt / 3600.0
    d_nm[:, 0] = 0
    lat = rng.uniform(-50, 50, size=(V, 1)) + np.cumsum(d_nm * np.cos(course) / 60.0, axis=1)
    lat = np.clip(lat, -85, 85)
    lon = rng.uniform(-180, 180, size=(V, 1)) + np.cumsum(d_nm * np.sin(course) / (60.0 * np.cos(np.radians(lat))),
                                                            axis=1)
    lon = (lon + 180.0) % 360.0 - 180.0
    mmsi = (rng.choice(np.arange(201000000, 775999999, 997), size=V, replace=False))[:, None] * np.ones((1, P),
                                                                                                    np.int64)
    cols = {'mmsi': mmsi.ravel(), 't': t.ravel(), 'lon': lon.ravel(), 'lat': lat.ravel(),
            'sog': np.round(8.0 + rng.normal(0, 0.3, size=V * P), 1), 'cog': np.round(np.degrees(course.ravel()) % 360, 1)}
    order = np.argsort(cols['t'], kind='stable')  # a receiver's export: time order across vessels
    return {k: v[order] for k, v in cols.items()}


def write_csv(cols, path, chunk=500000):
    n = len(cols['mmsi'])
    with open(path, 'w') as f:
        f.write('MMSI,BaseDateTime,LAT,LON,SOG,COG,Heading,VesselName,IMO,CallSign,VesselType,Status,Length,Width,'
                'Draft,Cargo,TransceiverClass\n')
        for a in range(0, n, chunk):
            b = min(n, a + chunk)
            ts = np.datetime_as_string(cols['t'][a:b].astype('datetime64[s]')).tolist()
            mm = cols['mmsi'][a:b].tolist()
            la = np.round(cols['lat'][a:b], 5).tolist()
            lo = np.round(cols['lon'][a:b], 5).tolist()
            so = cols['sog'][a:b].tolist()
            co = cols['cog'][a:b].tolist()
            f.write('\n'.join('{},{},{},{},{},{},511,,,,70,0,,,,,A'.format(*r)
                              for r in zip(mm, ts, la, lo, so, co)))
            f.write('\n')


def time_algorithms(csv_path, gap_h):
    """The Processing algorithms end to end, in QGIS (offscreen)."""
    import hashlib
    import tempfile
    os.environ.setdefault('QT_QPA_PLATFORM', 'offscreen')
    from qgis.core import QgsApplication
    app = QgsApplication([], False)
    app.initQgis()
    sys.path.append('/usr/share/qgis/python/plugins')
    import processing
    from processing.core.Processing import Processing
    Processing.initialize()
    plugdir = os.path.join(tempfile.gettempdir(), 'cargowatch-bench-' + hashlib.sha1(ROOT.encode()).hexdigest()[:8])
    os.makedirs(plugdir, exist_ok=True)
    link = os.path.join(plugdir, 'cargowatch')
    if not os.path.islink(link):
        os.symlink(ROOT, link)
    sys.path.insert(0, plugdir)
    from cargowatch.provider import CargoWatchProvider
    provider = CargoWatchProvider()
    QgsApplication.processingRegistry().addProvider(provider)
    out = {}
    pos = os.path.join(OUT, 'positions.gpkg')
    for f in (pos, os.path.join(OUT, 'tracks.gpkg'), os.path.join(OUT, 'gaps.gpkg')):
        if os.path.exists(f):
            os.remove(f)
    s = time.perf_counter()
    r = processing.run('cargowatch:importais', {'INPUT': csv_path, 'OUTPUT': pos})
    out['importais_to_gpkg_s'] = round(time.perf_counter() - s, 1)
    out['rows_kept'] = r['ROWS_KEPT']
    print('importais -> GeoPackage: {:.1f} s'.format(out['importais_to_gpkg_s']), flush=True)
    s = time.perf_counter()
    r = processing.run('cargowatch:buildtracks', {'INPUT': pos, 'MAX_GAP': gap_h * 3.6e6,
                                                   'OUTPUT': os.path.join(OUT, 'tracks.gpkg')})
    out['buildtracks_s'] = round(time.perf_counter() - s, 1)
    out['tracks'] = r['TRACK_COUNT']
    print('buildtracks: {:.1f} s'.format(out['buildtracks_s']), flush=True)
    s = time.perf_counter()
    r = processing.run('cargowatch:detectgaps', {'INPUT': pos, 'MIN_GAP': gap_h * 3.6e6,
                                                  'OUTPUT': os.path.join(OUT, 'gaps.gpkg')})
    out['detectgaps_s'] = round(time.perf_counter() - s, 1)
    out['gaps'] = r['GAP_COUNT']
    print('detectgaps: {:.1f} s'.format(out['detectgaps_s']), flush=True)
    QgsApplication.processingRegistry().removeProvider(provider)
    return out


def timed(fn, *a, **k):
    s = time.perf_counter()
    r = fn(*a, **k)
    return r, time.perf_counter() - s


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--rows', type=int, default=10_000_000)
    ap.add_argument('--mp-rows', type=int, default=300_000)
    ap.add_argument('--gap-h', type=float, default=12.0)
    ap.add_argument('--qgis', action='store_true')
    ap.add_argument('--only-qgis', action='store_true', help='skip the core timings')
    args = ap.parse_args()
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, 'ais_{}.csv'.format(args.rows))
    res = {'rows': args.rows}
    cols = None
    if not os.path.exists(path):
        cols, s = timed(synth, args.rows)
        print('generated {} rows in {:.1f} s'.format(len(cols['mmsi']), s), flush=True)
        _, s = timed(write_csv, cols, path + '.tmp')
        os.replace(path + '.tmp', path)
        print('wrote {} ({:.0f} MB) in {:.1f} s'.format(path, os.path.getsize(path) / 1e6, s), flush=True)
    res['csv_mb'] = round(os.path.getsize(path) / 1e6)
    if args.qgis or args.only_qgis:
        res['qgis'] = time_algorithms(path, args.gap_h)
        if args.only_qgis:
            print(json.dumps(res['qgis']))
            return

    # import: parse + clean (sort, duplicates, jumps)
    (raw, static, layout, notes), s_parse = timed(ais.read_csv, path)
    imp, s_clean = timed(ais.import_from_raw, raw, static, layout, notes)
    del raw
    res.update(import_parse_s=round(s_parse, 2), import_clean_s=round(s_clean, 2),
               import_total_s=round(s_parse + s_clean, 2), rows_kept=imp.rows_kept, rows_rejected=imp.rows_rejected)
    print('import: parse {:.2f} s + clean {:.2f} s = {:.2f} s; kept {} rejected {}'.format(
        s_parse, s_clean, s_parse + s_clean, imp.rows_kept, imp.rows_rejected), flush=True)
    c = imp.cols
    gap_s = args.gap_h * 3600
    # tracks and gaps on the imported (sorted) columns
    _, s_sort_sorted = timed(tracks.sort_positions, c)
    seg, s_seg = timed(tracks.segments, c['mmsi'], c['t'], c['lon'], c['lat'], gap_s, 2)
    g, s_gaps = timed(gaps.find_gaps, c['mmsi'], c['t'], c['lon'], c['lat'], gap_s)
    # and from time-ordered (unsorted) columns, as a layer would give them
    shuffled = {k: v[np.argsort(c['t'], kind='stable')] for k, v in c.items()}
    sc, s_sort = timed(tracks.sort_positions, shuffled)
    del shuffled
    res.update(tracks_s=round(s_seg, 3), gaps_s=round(s_gaps, 3), sort_from_time_order_s=round(s_sort, 3),
               tracks_and_gaps_incl_sort_s=round(s_sort + s_seg + s_gaps, 3), segments=int(len(seg['mmsi'])),
               gaps=int(len(g['i0'])))
    print('tracks {:.3f} s ({} segments), gaps {:.3f} s ({} gaps), sort from time order {:.3f} s'.format(
        s_seg, len(seg['mmsi']), s_gaps, len(g['i0']), s_sort), flush=True)

    # MovingPandas side by side on a subset of whole vessels
    mp_py = os.path.join(HERE, '.venv-mp', 'bin', 'python')
    if args.mp_rows and os.path.exists(mp_py):
        vessels = np.unique(c['mmsi'])
        counts = np.bincount(np.searchsorted(vessels, c['mmsi']))
        k = int(np.searchsorted(np.cumsum(counts), args.mp_rows)) + 1
        keep = np.isin(c['mmsi'], vessels[:k])
        npz = os.path.join(OUT, 'mp_subset.npz')
        np.savez(npz, **{key: c[key][keep] for key in ('mmsi', 't', 'lon', 'lat')})
        proc = subprocess.run([mp_py, os.path.join(HERE, 'mp_crosscheck.py'), '--bench', npz, '--gap-h',
                               str(args.gap_h)], capture_output=True, text=True)
        line = [x for x in proc.stdout.splitlines() if x.startswith('{')]
        if line:
            res['movingpandas'] = json.loads(line[-1])
            print('MovingPandas side by side:', line[-1], flush=True)
        else:
            print('MovingPandas run failed:', proc.stderr[-2000:])
    elif args.mp_rows:
        print('MovingPandas venv absent: sh bench/setup_mp.sh')

    with open(os.path.join(OUT, 'bench_ais.json'), 'w') as f:
        json.dump(res, f, indent=1)
    print()
    print('| step ({:,} positions) | seconds |'.format(args.rows))
    print('|---|---|')
    print('| import CSV (parse {:.1f} s + clean/sort/dedupe/jumps {:.1f} s) | {:.1f} |'.format(
        s_parse, s_clean, s_parse + s_clean))
    print('| tracks (segments, lengths) | {:.2f} |'.format(s_seg))
    print('| gaps | {:.2f} |'.format(s_gaps))
    print('| sort from time order (layer input) | {:.2f} |'.format(s_sort))
    q = res.get('qgis')
    if q:
        print('| in QGIS: importais CSV -> GeoPackage | {:.1f} |'.format(q['importais_to_gpkg_s']))
        print('| in QGIS: buildtracks from that GeoPackage | {:.1f} |'.format(q['buildtracks_s']))
        print('| in QGIS: detectgaps from that GeoPackage | {:.1f} |'.format(q['detectgaps_s']))
    mp = res.get('movingpandas')
    if mp:
        print('| MovingPandas on {:,} points: collection + gap split + lines | {:.2f} |'.format(mp['points'],
                                                                                          mp['mp_total_s']))
        print('| CargoWatch on the same points: sort + tracks + gaps | {:.4f} (x{:.0f}) |'.format(
            mp['cargowatch_tracks_and_gaps_s'], mp['speedup']))


if __name__ == '__main__':
    from docs_section import section_from_output
    with section_from_output('ais', 'AIS: import, tracks and gaps',
                             '`bench/bench_ais.py` (`make bench`): a MarineCadastre-layout CSV of synthetic '
                             'positions, core/ alone, then the algorithms in QGIS, and MovingPandas side by side '
                             'when its venv is there.'):
        main()
