"""CSV exports (Danish Maritime Authority, NOAA MarineCadastre, Global Fishing Watch, generic) -> raw rows."""
import csv
import io
import os

import numpy as np

from ..errors import Cancelled, CargoWatchError
from .files import damage_notes, open_binary, progress_of
from .records import R_GARBLED, STATIC_KEYS, RawRows, apply_mapping, detect_layout
from .times import parse_times
from .values import static_from_columns, status_codes, to_float, to_mmsi

_NUMERIC = ('mmsi', 'lat', 'lon', 'sog', 'cog', 'heading')
_WIDTH = {'time': 32, 'mmsi': 16, 'status': 64, 'name': 32, 'callsign': 12, 'ship_type': 32,
          'destination': 32, 'imo': 16}


def _csv_rows_to_raw(arr, roles, lines, raw, static):
    """Structured bytes array of one block -> raw columns (+ rejects as garbled)."""
    n = len(arr)
    if n == 0:
        return
    mmsi, bad_m = to_mmsi(arr['mmsi'])
    t_ms, ok_t = parse_times(arr['time'])
    lat, bad_lat = to_float(arr['lat'])
    lon, bad_lon = to_float(arr['lon'])
    garbled = bad_m | ~ok_t | bad_lat | bad_lon
    cols = {'mmsi': mmsi, 't_ms': t_ms, 'lat': lat, 'lon': lon, 'line': lines}
    for r in ('sog', 'cog', 'heading'):
        cols[r] = to_float(arr[r], np.float32)[0] if r in roles else np.full(n, np.nan, np.float32)
    cols['status'] = status_codes(arr['status']) if 'status' in roles else np.full(n, -1, np.int16)
    if garbled.any():
        raw.reject_many(lines[garbled], R_GARBLED)
        keep = ~garbled
        cols = {k: v[keep] for k, v in cols.items()}
        arr = arr[keep]
    raw.add(**cols)
    st = {k: arr[k] for k in STATIC_KEYS if k in roles}
    if st:
        masks = None
        if arr.flags['C_CONTIGUOUS'] and arr.dtype.itemsize:
            raw_bytes = arr.view(np.uint8).reshape(len(arr), arr.dtype.itemsize)
            masks = {k: raw_bytes[:, arr.dtype.fields[k][1]] != 0 for k in st}
        static_from_columns(static, cols['mmsi'], st, masks)


def read_csv(path, mapping=None, progress=None, cancelled=None, block_bytes=48 << 20):
    """CSV export -> (RawRows, static, layout name, notes). Layout auto-detected from the header (Danish
    Maritime Authority, NOAA MarineCadastre, Global Fishing Watch, or generic names); ``mapping`` (role ->
    column name) overrides. Rows are parsed by numpy's C reader per block; a block with bad rows is re-read
    line by line so that only the rows whose field count is wrong are rejected (truncated/garbled)."""
    total = os.path.getsize(path)
    raw = RawRows()
    static = {}
    with open_binary(path) as f:
        first = f.readline()
        lineno = 1
        while first and not first.strip():
            first = f.readline()
            lineno += 1
        text = first.decode('utf-8-sig', 'replace').replace('\r', '')  # a stray carriage return is dropped
        counts = {d: text.count(d) for d in (',', ';', '\t', '|')}
        delim = max(counts, key=counts.get)
        if counts[delim] == 0:
            raise CargoWatchError('this file is neither NMEA, JSON lines nor a CSV with a header row: {}'
                                  .format(path))
        try:
            header = next(csv.reader([text.lstrip('#').strip()], delimiter=delim))
        except csv.Error as e:  # e.g. a field over csv's size limit: random bytes, a binary file
            raise CargoWatchError('the header row of {} cannot be read as CSV ({}): is it an AIS export?'
                                  .format(path, e))
        layout, auto = detect_layout(header)
        roles = apply_mapping(header, auto, mapping)
        ncol = len(header)
        dl = delim.encode()
        order = sorted(roles.items(), key=lambda kv: kv[1])
        usecols = [c for _, c in order]
        dtype = np.dtype([(r, 'S{}'.format(_WIDTH.get(r, 32))) for r, _ in order])
        # numbers parsed by numpy's C reader directly; a block with an empty or odd number falls back to bytes
        fast_dtype = np.dtype([(r, 'f8' if r in _NUMERIC else 'S{}'.format(_WIDTH.get(r, 32))) for r, _ in order])
        use_fast = True
        carry = b''
        next_line = lineno + 1
        while True:
            if cancelled is not None and cancelled():
                raise Cancelled()
            chunk = f.read(block_bytes)
            if not chunk and not carry:
                break
            if chunk:
                data = carry + chunk
                cut = data.rfind(b'\n')
                if cut < 0:
                    carry = data
                    continue
                block, carry = data[:cut + 1], data[cut + 1:]
            else:
                block, carry = carry + b'\n', b''
            nlines = block.count(b'\n')
            arr = None
            if block.count(dl) == nlines * (ncol - 1) and b'\n\n' not in block and not block.startswith(b'\n'):
                for dt_ in ((fast_dtype, dtype) if use_fast else (dtype,)):
                    try:
                        arr = np.loadtxt(io.BytesIO(block), delimiter=delim, dtype=dt_, usecols=usecols,
                                         comments=None, quotechar='"', ndmin=1, encoding=None)
                        if len(arr) != nlines:
                            arr = None
                        break
                    except ValueError:
                        arr = None
                        if dt_ is fast_dtype:
                            use_fast = False  # this file has empty numbers: bytes from now on
            if arr is not None:
                lines = np.arange(next_line, next_line + nlines, dtype=np.int64)
            else:
                arr, lines = _csv_block_slow(block, delim, ncol, dtype, usecols, next_line, raw)
            _csv_rows_to_raw(arr, roles, lines, raw, static)
            next_line += nlines
            if progress is not None:
                progress(progress_of(f, total))
        notes = damage_notes(f, next_line - 1)
    notes.append('columns used: ' + ', '.join('{}={}'.format(r, header[c].strip()) for r, c in order))
    return raw, static, layout, notes


def _csv_block_slow(block, delim, ncol, dtype, usecols, first_line, raw):
    """Line-by-line parse of a block that has rows with a wrong field count (rejected as garbled)."""
    good, good_lines = [], []
    for k, line in enumerate(block.split(b'\n')[:-1]):
        ln = first_line + k
        s = line.rstrip(b'\r')
        if not s.strip():
            continue
        if b'"' in s:
            try:
                fields = next(csv.reader([s.decode('utf-8', 'replace')], delimiter=delim))
            except (csv.Error, StopIteration):
                raw.reject(ln, R_GARBLED)
                continue
            if len(fields) != ncol:
                raw.reject(ln, R_GARBLED)
                continue
            good.append(tuple(fields[c].encode('utf-8')[:dtype[i].itemsize] for i, c in enumerate(usecols)))
        else:
            fields = s.split(delim.encode())
            if len(fields) != ncol:
                raw.reject(ln, R_GARBLED)
                continue
            good.append(tuple(fields[c][:dtype[i].itemsize] for i, c in enumerate(usecols)))
        good_lines.append(ln)
    arr = np.array(good, dtype=dtype) if good else np.zeros(0, dtype=dtype)
    return arr, np.asarray(good_lines, dtype=np.int64)
