"""Fuzz the AIS readers (core.ais.read_ais): seeded mutations of small samples of every format they accept.

usage: fuzz_ais.py [--cases N] [--seed S] [--case I] [--keep DIR]

Samples (about 120 rows each): NMEA with NMEA 4 tag blocks (norwegian.raw; the bundled scenario's multi-part
messages), without (the gpsd all-types sample) and a receiver log ($GP sentences, comments) from ../shared/data/ais
and sample_data/; the Solent CSV, and its positions written in the Danish Maritime Authority, NOAA
MarineCadastre, Spire and Global Fishing Watch CSV layouts; JSON lines of GFW (real) and Spire-like keys.
Mutations (1 to 3 stacked, then gzip around in one case of four): bytes flipped, cut, repeated, inserted (line
breaks, quotes, separators, huge or non-finite numbers), numbers replaced by out-of-range ones, lines shuffled,
random bytes, a gzip stream cut or flipped; the format is auto-detected, or told (the right one or not).
Case i uses random.Random('<seed>:<i>'): any case replays alone with --case.

A case fails when read_ais raises anything but CargoWatchError (a clear refusal), runs past LIMIT_S, or when
its result breaks the reader's contract (rows read = kept + rejected, kept rows in range and sorted, every
reject with a known reason and a source line). Prints the number of cases and failures; exit status 1 when
any failed. test/core/test_ais_fuzz.py runs a few hundred cases of the same generator.
"""
import gzip
import json
import os
import random
import sys
import tempfile

import fuzzing
from fuzzing import ROOT

SHARED_AIS = os.path.join(os.path.dirname(ROOT), 'shared', 'data', 'ais')
SAMPLE_DATA = os.path.join(ROOT, 'sample_data')
LIMIT_S = 60  # a case still running after this is a failure (a hang)

ROWS = 120  # rows (lines) per sample: small files, so that thousands of cases run in minutes


# ---------------------------------------------------------------------------------------------- samples
def _lines(path, n=ROWS, keep=None):
    opener = gzip.open if path.endswith('.gz') else open
    with opener(path, 'rb') as f:
        out = []
        for line in f:
            if keep is None or keep(line):
                out.append(line.rstrip(b'\r\n'))
            if len(out) >= n:
                break
    return out


def _positions(n=ROWS):
    """Clean position rows (dicts) of the Solent sample, to write in the other CSV / JSON layouts."""
    import numpy as np  # noqa: F401 - read_ais needs it anyway
    from cargowatch.core import ais
    r = ais.read_ais(os.path.join(SHARED_AIS, 'SolentAIS_20160112_130211.csv'))
    c = r.cols
    step = max(1, len(c['mmsi']) // n)
    rows = []
    for i in range(0, len(c['mmsi']), step)[:n]:
        rows.append({k: c[k][i].item() for k in ('mmsi', 't', 'lon', 'lat', 'sog', 'cog', 'heading', 'status')})
    return rows


def _iso(t, fmt='%Y-%m-%dT%H:%M:%S'):
    import datetime as dt
    return dt.datetime.fromtimestamp(t, dt.timezone.utc).strftime(fmt)


def _num(x, nan=''):
    return nan if x != x else '{:.6g}'.format(x)


def samples():
    """name -> (bytes, reader format). Raises FileNotFoundError when ../shared/data/ais is absent."""
    sh = lambda name: os.path.join(SHARED_AIS, name)  # noqa: E731
    if not os.path.isdir(SHARED_AIS):
        raise FileNotFoundError(SHARED_AIS)
    out = {
        'nmea_tagblock': (b'\n'.join(_lines(sh('norwegian.raw'))) + b'\n', 'nmea'),
        'nmea_tagblock_multipart': (b'\n'.join(_lines(os.path.join(SAMPLE_DATA, 'dunai_rajin_ais.nmea.gz')))
                                    + b'\n', 'nmea'),
        'nmea_all_types': (b'\n'.join(_lines(sh('gpsd_sample.aivdm'), keep=lambda s: not s.startswith(b'#')))
                           + b'\n', 'nmea'),
        'nmea_receiver_log': (b'\r\n'.join(_lines(sh('gpsd_ais-nmea.log'), 200)) + b'\r\n', 'nmea'),
        'csv_solent': (b'\n'.join(_lines(sh('SolentAIS_20160112_130211.csv'))) + b'\n', 'csv'),
        'jsonl_gfw': (b'\n'.join(_lines(sh('gfwseg_263576000.json'))) + b'\n', 'jsonl'),
    }
    rows = _positions()
    status_text = {0: 'Under way using engine', 1: 'At anchor', 5: 'Moored', 7: 'Engaged in fishing'}
    dma = ['# Timestamp,Type of mobile,MMSI,Latitude,Longitude,Navigational status,ROT,SOG,COG,Heading,IMO,'
           'Callsign,Name,Ship type,Cargo type,Width,Length,Type of position fixing device,Draught,Destination,'
           'ETA,Data source type,A,B,C,D']
    mc = ['MMSI,BaseDateTime,LAT,LON,SOG,COG,Heading,VesselName,IMO,CallSign,VesselType,Status,Length,Width,'
          'Draft,Cargo,TransceiverClass']
    spire = ['msg_type,mmsi,timestamp,latitude,longitude,speed,course,heading,rot,nav_status,imo,name,call_sign,'
             'ship_type,destination']
    gfw = ['ssvid,seg_id,timestamp,lat,lon,speed,course,distance_from_shore_m,is_fishing']
    for k, r in enumerate(rows):
        m, t, lon, lat = r['mmsi'], r['t'], r['lon'], r['lat']
        sog, cog, hdg = _num(r['sog']), _num(r['cog']), _num(r['heading'])
        name = 'VESSEL {}'.format(m % 1000)
        dma.append(','.join(map(str, (
            _iso(t, '%d/%m/%Y %H:%M:%S'), 'Class A', m, lat, lon, status_text.get(k % 8, 'Unknown value'), '',
            sog, cog, hdg, 9000000 + m % 1000000 if k % 3 else 'Unknown', 'OZ{}'.format(k), name,
            'Cargo', '', 20, 120, 'GPS', 7.5, 'AARHUS', '', 'AIS', 10, 100, 10, 10))))
        mc.append(','.join(map(str, (
            m, _iso(t), lat, lon, _num(r['sog'], '102.3'), _num(r['cog'], '360.0'), _num(r['heading'], '511'),
            name, 'IMO{}'.format(9000000 + m % 1000000), 'OZ{}'.format(k), 70, k % 16, 120, 20, 7.5, 70, 'A'))))
        spire.append(','.join(map(str, (
            1 + k % 3, m, _iso(t, '%Y-%m-%dT%H:%M:%S.000Z'), lat, lon, sog, cog, hdg, 0, k % 9,
            9000000 + m % 1000000, '"{}"'.format(name), 'OZ{}'.format(k), 70, '"SOUTHAMPTON"'))))
        gfw.append(','.join(map(str, (
            m, '{}-{}'.format(m, _iso(t, '%Y-%m-%d')), _iso(t, '%Y-%m-%d %H:%M:%S UTC'), lat, lon, sog, cog,
            1200.0, -1))))
    out['csv_dma'] = ('\n'.join(dma).encode() + b'\n', 'csv')
    out['csv_marinecadastre'] = ('\r\n'.join(mc).encode() + b'\r\n', 'csv')
    out['csv_spire'] = ('\n'.join(spire).encode() + b'\n', 'csv')
    out['csv_gfw'] = ('\n'.join(gfw).encode() + b'\n', 'csv')
    out['jsonl_spire'] = (b''.join(json.dumps(
        {'mmsi': r['mmsi'], 'timestamp': _iso(r['t'], '%Y-%m-%dT%H:%M:%S+00:00'), 'latitude': r['lat'],
         'longitude': r['lon'], 'speed': None if r['sog'] != r['sog'] else r['sog'], 'name': 'V{}'.format(k),
         'nav_status': status_text.get(k % 8, 'Unknown value')}).encode() + b'\n'
        for k, r in enumerate(rows)), 'jsonl')
    return out


# ---------------------------------------------------------------------------------------------- mutations
_TOKENS = [b'\r', b'\n', b'\r\n', b'\x00', b',', b';', b'"', b'\\', b'*', b'!', b'$', b'{', b'}', b'#', b'\t',
           b'9' * 25, b'-1e308', b'1e308', b'1e999', b'-1e999', b'nan', b'inf', b'-inf', b'NaN', b'-0',
           b'9223372036854775808', b'-9223372036854775809', b'18446744073709551616', b'0x1F', b'1_000',
           b'\xff\xfe', b'\xef\xbb\xbf', b'9999-99-99T99:99:99', b'0000-00-00 00:00:00', b'31/02/2016 25:61:61',
           b'\\s:1,c:-1e308*01\\', b'\\c:9e99*00\\', b'!AIVDM,9,9,9,A,', b'null', b'[]', b'{"a":1}']
_NUMBERS = [b'9' * 20, b'9' * 40, b'-' + b'9' * 19, b'1e308', b'-1e308', b'1e400', b'nan', b'inf', b'-inf',
            b'9223372036854775807', b'9223372036854775808', b'-9223372036854775808', b'4294967296', b'1e-320',
            b'0', b'-1', b'65536', b'32768', b'99999999999999999999.5', b'1.7976931348623157e308']


def _spot(data, rng):
    return rng.randrange(len(data) + 1) if data else 0


def mutate_once(data, rng):
    """One mutation of ``data`` -> (bytes, short description)."""
    kind = rng.choice(('flip', 'flip', 'cut', 'cut_middle', 'repeat', 'insert', 'number', 'number', 'lines',
                       'random', 'gzip_bad'))
    n = len(data)
    if kind == 'flip' and n:
        b = bytearray(data)
        for _ in range(rng.choice((1, 1, 2, 5, 20))):
            i = rng.randrange(n)
            b[i] ^= (1 << rng.randrange(8)) if rng.random() < 0.6 else rng.randrange(1, 256)
        return bytes(b), 'flip'
    if kind == 'cut':
        i = _spot(data, rng)
        return data[:i], 'cut@{}'.format(i)
    if kind == 'cut_middle' and n:
        i = rng.randrange(n)
        j = min(n, i + rng.choice((1, 3, 10, 100, 1000)))
        return data[:i] + data[j:], 'cut{}-{}'.format(i, j)
    if kind == 'repeat' and n:
        i = rng.randrange(n)
        j = min(n, i + rng.choice((1, 10, 80, 500)))
        return data[:j] + data[i:j] * rng.choice((1, 2, 10)) + data[j:], 'repeat{}-{}'.format(i, j)
    if kind == 'insert':
        i = _spot(data, rng)
        tok = rng.choice(_TOKENS)
        return data[:i] + tok + data[i:], 'insert {!r}@{}'.format(tok, i)
    if kind == 'number':
        # a run of digits replaced by an extreme number (out of range / not finite / too long)
        starts = [i for i in range(n) if data[i:i + 1].isdigit() and (i == 0 or not data[i - 1:i].isdigit())]
        if starts:
            i = rng.choice(starts)
            j = i
            while j < n and data[j:j + 1] in b'0123456789.eE+-':
                j += 1
            tok = rng.choice(_NUMBERS)
            return data[:i] + tok + data[j:], 'number {!r}@{}'.format(tok, i)
    if kind == 'lines':
        lines = data.split(b'\n')
        op = rng.choice(('shuffle', 'dup', 'drop', 'join'))
        if op == 'shuffle':
            rng.shuffle(lines)
        elif op == 'dup' and lines:
            k = rng.randrange(len(lines))
            lines[k:k] = [lines[k]] * rng.choice((1, 5, 50))
        elif op == 'drop' and len(lines) > 1:
            del lines[rng.randrange(len(lines))]
        elif op == 'join' and len(lines) > 1:
            k = rng.randrange(len(lines) - 1)
            lines[k:k + 2] = [lines[k] + lines[k + 1]]
        return b'\n'.join(lines), 'lines ' + op
    if kind == 'random':
        return bytes(rng.randrange(256) for _ in range(rng.choice((1, 16, 500, 4000)))), 'random bytes'
    if kind == 'gzip_bad':
        z = gzip.compress(data, mtime=0)
        if rng.random() < 0.5:
            return z[:_spot(z, rng)], 'gzip cut'
        b = bytearray(z)
        i = rng.randrange(len(b))
        b[i] ^= 1 << rng.randrange(8)
        return bytes(b), 'gzip flipped@{}'.format(i)
    return data, 'none'


def make_case(i, seed, sample_set):
    """Case ``i``: (sample name, reader format asked, mutated bytes, file extension, description)."""
    rng = random.Random('{}:{}'.format(seed, i))
    name = rng.choice(sorted(sample_set))
    data, fmt = sample_set[name]
    desc = []
    for _ in range(rng.choice((1, 1, 1, 2, 3))):
        data, d = mutate_once(data, rng)
        desc.append(d)
    if rng.random() < 0.25:
        data = gzip.compress(data, mtime=0)
        desc.append('gzip')
    # mostly auto-detected (as importais does), sometimes the format told, sometimes a wrong one
    asked = rng.choice(('auto',) * 6 + (fmt, rng.choice(('nmea', 'csv', 'jsonl'))))
    ext = {'nmea': '.nmea', 'csv': '.csv', 'jsonl': '.json'}[fmt] + ('.gz' if desc[-1] == 'gzip' else '')
    return name, asked, data, ext, ', '.join(desc)


# ---------------------------------------------------------------------------------------------- checks
def check_result(res, path):
    """Contract of an AisImport; returns the first broken rule (str) or None."""
    import numpy as np
    from cargowatch.core import ais, tracks
    c = res.cols
    n = len(c['mmsi'])
    if any(len(v) != n for v in c.values()):
        return 'columns of unequal length'
    if res.rows_kept != n or res.rows_read != res.rows_kept + res.rows_rejected:
        return 'row counts do not add up'
    if len(res.rejected_line) != res.rows_rejected or sum(res.reasons.values()) != res.rows_rejected:
        return 'rejected rows not all counted'
    if not set(res.rejected_reason.tolist()) <= set(ais.REASONS):
        return 'unknown reject reason'
    if len(res.rejected_line) and res.rejected_line.min() < 1:
        return 'reject without a source line'
    if n:
        if not (np.all(np.abs(c['lon']) <= 180) and np.all(np.abs(c['lat']) <= 90)):
            return 'kept position out of range'
        if not np.all(ais.valid_mmsi(c['mmsi'])):
            return 'kept invalid MMSI'
        if not tracks.is_sorted(c['mmsi'], c['t']):
            return 'kept rows not sorted by vessel and time'
        for k in ('sog', 'cog', 'heading'):
            v = c[k][np.isfinite(c[k])]
            if len(v) and (v.min() < 0 or v.max() >= 360):
                return '{} out of range'.format(k)
    res.summary()
    ais.read_source_lines(path, res.rejected_line[:50])
    return None


def run_case(i, seed, sample_set, workdir):
    """'read' (rows read) or 'refused' (a clear error) when case i passes, else a dict describing the failure
    (with the file kept in workdir)."""
    from cargowatch.core import ais
    name, asked, data, ext, desc = make_case(i, seed, sample_set)
    path = os.path.join(workdir, 'case{}{}'.format(i, ext))
    with open(path, 'wb') as f:
        f.write(data)
    res, error = fuzzing.attempt(lambda: ais.read_ais(path, fmt=asked), LIMIT_S)
    if res is not None:
        error = check_result(res, path)
    if error is None:
        os.remove(path)
        return 'refused' if res is None else 'read'
    return {'case': i, 'sample': name, 'format': asked, 'mutation': desc, 'error': error, 'file': path}


def run(cases, seed=0, workdir=None, first=0, report=None):
    """Run cases first..first+cases-1 -> (failures, outcomes {'read': n, 'refused': n}, slowest (s, case))."""
    sample_set = samples()
    workdir = workdir or tempfile.mkdtemp(prefix='fuzz_ais_')
    return fuzzing.run_cases(lambda i: run_case(i, seed, sample_set, workdir), first, cases, report)


if __name__ == '__main__':
    fuzzing.import_checkout()
    if not os.path.isdir(SHARED_AIS):
        print('AIS reader fuzz skipped: the shared AIS samples are not in', SHARED_AIS)
        sys.exit(0)
    sys.exit(fuzzing.main('AIS reader fuzz', __doc__, run, 5000,
                          lambda f: '{sample}, format {format}; {mutation}'.format(**f)))
