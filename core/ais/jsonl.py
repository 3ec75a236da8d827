"""JSON lines (Global Fishing Watch: ssvid, lat, lon, timestamp...) -> raw rows."""
import json
import os

import numpy as np

from ..errors import Cancelled, CargoWatchError
from .files import damage_notes, open_binary, progress_of
from .records import R_GARBLED, REQUIRED_ROLES, ROLES, STATIC_KEYS, RawRows, apply_mapping, detect_layout
from .times import parse_times
from .values import static_from_columns, status_codes, to_float, to_mmsi

def read_jsonl(path, mapping=None, progress=None, cancelled=None):
    """JSON lines (Global Fishing Watch: ssvid, lat, lon, timestamp, speed, course...) -> (RawRows, static,
    notes). Keys are matched like CSV headers; ``mapping`` (role -> key) overrides."""
    raw = RawRows()
    static = {}
    total = os.path.getsize(path)
    keys = None
    roles = None
    cols = {r: [] for r in ROLES}
    lines = []
    with open_binary(path) as f:
        lineno = 0
        for lineno, rawline in enumerate(f, 1):
            if lineno % 50000 == 0:
                if cancelled is not None and cancelled():
                    raise Cancelled()
                if progress is not None:
                    progress(progress_of(f, total))
            s = rawline.strip()
            if not s:
                continue
            try:
                rec = json.loads(s)
                if not isinstance(rec, dict):
                    raise ValueError
            except ValueError:
                raw.reject(lineno, R_GARBLED)
                continue
            if roles is None or any(k not in rec for k in keys):
                header = list(rec.keys())
                _layout, auto = detect_layout(header)
                try:
                    rmap = apply_mapping(header, auto, mapping)
                except CargoWatchError:
                    if roles is None and lineno < 50:
                        raise
                    raw.reject(lineno, R_GARBLED)
                    continue
                roles = {r: header[c] for r, c in rmap.items()}
                keys = [roles[r] for r in REQUIRED_ROLES]
            for r in ROLES:
                cols[r].append(rec.get(roles[r]) if r in roles else None)
            lines.append(lineno)
        notes = damage_notes(f, lineno)
    n = len(lines)
    if n:
        line_arr = np.asarray(lines, dtype=np.int64)
        mmsi, bad_m = to_mmsi(np.array(cols['mmsi'], dtype=object))
        tvals = np.array([b'' if x is None else (x.encode() if isinstance(x, str) else repr(x).encode())
                          for x in cols['time']], dtype='S')
        t_ms, ok_t = parse_times(tvals)
        lat, bad_lat = to_float(np.array(cols['lat'], dtype=object))
        lon, bad_lon = to_float(np.array(cols['lon'], dtype=object))
        garbled = bad_m | ~ok_t | bad_lat | bad_lon
        out = {'mmsi': mmsi, 't_ms': t_ms, 'lat': lat, 'lon': lon, 'line': line_arr}
        for r in ('sog', 'cog', 'heading'):
            out[r] = to_float(np.array(cols[r], dtype=object), np.float32)[0]
        st = np.array([b'' if x is None else str(x).encode() for x in cols['status']], dtype='S')
        out['status'] = status_codes(st)
        raw.reject_many(line_arr[garbled], R_GARBLED)
        keep = ~garbled
        raw.add(**{k: v[keep] for k, v in out.items()})
        stat = {k: np.array(cols[k], dtype=object)[keep] for k in STATIC_KEYS if k in roles}
        if stat:
            static_from_columns(static, mmsi[keep], stat)
    notes.append('keys used: ' + ', '.join('{}={}'.format(r, k) for r, k in (roles or {}).items()))
    return raw, static, notes
