"""Read raw AIS (NMEA 0183, CSV exports, JSON lines; gzip'd or not) into clean position columns.

No qgis import. numpy + stdlib (csv, json, gzip); pyais is imported lazily, only when NMEA is read.

Result columns (the contract shared with tracks/gaps/voyages and the dock): a dict of equal-length arrays
``mmsi`` int64, ``t`` int64 (unix seconds UTC), ``lon``/``lat`` float64, ``sog``/``cog``/``heading`` float32
(nan = not available), ``status`` int16 (-1 = not available), sorted by mmsi then t; static/voyage data as
dict mmsi -> dict(name, imo, callsign, ship_type, destination) (the latest non-empty value of each).

Cleaning (``clean``) counts every rejected row by reason (see REASONS). Out-of-order rows are sorted, never
dropped; speed 102.3, course 360 and heading 511 mean "not available" and become nan (the position is kept).
"""
import csv
import datetime as _dt
import gzip
import io
import json
import os
import re
import zlib

import numpy as np

from .errors import CargoWatchError, Cancelled
from .geo import haversine_nm

# ---------------------------------------------------------------------------------------------- reasons
R_CHECKSUM = 'bad checksum'
R_GARBLED = 'truncated/garbled line'
R_NOTIME = 'no timestamp'
R_MMSI = 'invalid MMSI'
R_NOPOS = 'position not available'
R_RANGE = 'position out of range'
R_DUP = 'exact duplicate'
R_REPEAT = 'repeated (vessel, time) report'
R_JUMP = 'impossible jump'
R_TIME = 'time out of range'
REASONS = (R_CHECKSUM, R_GARBLED, R_NOTIME, R_MMSI, R_NOPOS, R_RANGE, R_DUP, R_REPEAT, R_JUMP, R_TIME)
_REASON_CODE = {r: i for i, r in enumerate(REASONS)}

NO_TIME = np.iinfo(np.int64).min
BAD_TIME = np.iinfo(np.int64).max  # a time given but not representable (too large, infinite)
T_MIN_MS = -2208988800000  # 1900-01-01: times outside [T_MIN_MS, T_MAX_MS) are rejected as out of range
T_MAX_MS = 7258118400000  # 2200-01-01
JUMP_TOLERANCE_NM = 0.03  # ~55 m of GPS noise allowed before a leg counts as an impossible jump
STATIC_KEYS = ('name', 'imo', 'callsign', 'ship_type', 'destination')

# the roles a tabular source can map, with the header names recognised for each (normalised: lower case,
# only letters and digits)
ROLES = ('mmsi', 'time', 'lat', 'lon', 'sog', 'cog', 'heading', 'status',
         'name', 'imo', 'callsign', 'ship_type', 'destination')
REQUIRED_ROLES = ('mmsi', 'time', 'lat', 'lon')
SYNONYMS = {
    'mmsi': ('mmsi', 'ssvid', 'userid', 'sourcemmsi', 'shipid'),
    'time': ('timestamp', 'basedatetime', 'time', 'datetime', 'datetimeutc', 'timeutc', 'date', 'ts',
             'postime', 'positiontime', 't', 'msgtime', 'receivedtime'),
    'lat': ('lat', 'latitude', 'latitudedegrees', 'y', 'latdeg'),
    'lon': ('lon', 'lng', 'long', 'longitude', 'longitudedegrees', 'x', 'londeg'),
    'sog': ('sog', 'speed', 'sogknots', 'speedoverground', 'speedknots'),
    'cog': ('cog', 'course', 'cogdegrees', 'courseoverground'),
    'heading': ('heading', 'trueheading', 'hdg', 'headingdegrees'),
    'status': ('status', 'navigationalstatus', 'navstatus', 'navigationstatus'),
    'name': ('name', 'vesselname', 'shipname', 'shipnamestr'),
    'imo': ('imo', 'imonumber', 'imo_number'),
    'callsign': ('callsign', 'call_sign', 'callsignstr'),
    'ship_type': ('shiptype', 'vesseltype', 'shiptypeandcargo', 'type'),
    'destination': ('destination', 'dest'),
}

NAV_STATUS_TEXT = {
    'under way using engine': 0, 'at anchor': 1, 'not under command': 2, 'restricted maneuverability': 3,
    'restricted manoeuvrability': 3, 'constrained by her draught': 4, 'moored': 5, 'aground': 6,
    'engaged in fishing': 7, 'under way sailing': 8, 'reserved for future amendment [hsc]': 9,
    'reserved for future amendment [wig]': 10, 'power-driven vessel towing astern': 11,
    'power-driven vessel pushing ahead or towing alongside': 12, 'reserved for future use': 13,
    'ais-sart is active': 14, 'ais-sart': 14, 'unknown value': -1, 'unknown': -1, 'undefined': -1,
}


def ship_type_text(code):
    """AIS ship type code (0-99) as text, e.g. 70 -> 'Cargo'; '' when unknown."""
    try:
        c = int(code)
    except (TypeError, ValueError):
        return str(code or '').strip()
    if c <= 0 or c > 99:
        return ''
    fixed = {30: 'Fishing', 31: 'Towing', 32: 'Towing (large)', 33: 'Dredging', 34: 'Diving', 35: 'Military',
             36: 'Sailing', 37: 'Pleasure craft', 50: 'Pilot', 51: 'Search and rescue', 52: 'Tug',
             53: 'Port tender', 54: 'Anti-pollution', 55: 'Law enforcement', 58: 'Medical transport',
             59: 'Noncombatant'}
    if c in fixed:
        return fixed[c]
    tens = {2: 'Wing in ground', 4: 'High-speed craft', 6: 'Passenger', 7: 'Cargo', 8: 'Tanker', 9: 'Other'}
    return tens.get(c // 10, 'Reserved')


# ---------------------------------------------------------------------------------------------- result
class AisImport:
    """What read_ais returns.

    cols: clean, sorted position columns; static: mmsi -> dict; rows_read/kept/rejected; reasons: reason ->
    count (every reason, zeros included); rejected_line (1-based source line, or feature number for layers)
    and rejected_reason (str) arrays; fmt: the detected format/layout; notes: lines for the log.
    """

    def __init__(self):
        self.cols = None
        self.static = {}
        self.rows_read = 0
        self.rows_kept = 0
        self.rows_rejected = 0
        self.reasons = {r: 0 for r in REASONS}
        self.rejected_line = np.zeros(0, dtype=np.int64)
        self.rejected_reason = np.zeros(0, dtype=object)
        self.fmt = ''
        self.notes = []

    def summary(self):
        lines = ['{}: {} rows read, {} kept, {} rejected'.format(self.fmt, self.rows_read, self.rows_kept,
                                                                 self.rows_rejected)]
        for r in REASONS:
            if self.reasons.get(r):
                lines.append('  rejected, {}: {}'.format(r, self.reasons[r]))
        lines.extend(self.notes)
        return lines


class RawRows:
    """Columns as parsed, before cleaning; t_ms in milliseconds (NO_TIME when unknown); line = source line."""

    def __init__(self):
        self.parts = []
        self.rej_line = []
        self.rej_reason = []

    def add(self, **arrays):
        self.parts.append(arrays)

    def reject(self, line, reason):
        self.rej_line.append(line)
        self.rej_reason.append(reason)

    def reject_many(self, lines, reason):
        lines = np.asarray(lines, dtype=np.int64)
        if len(lines):
            self.rej_line.extend(lines.tolist())
            self.rej_reason.extend([reason] * len(lines))

    def columns(self):
        dt = {'mmsi': np.int64, 't_ms': np.int64, 'lon': np.float64, 'lat': np.float64, 'sog': np.float32,
              'cog': np.float32, 'heading': np.float32, 'status': np.int16, 'line': np.int64}
        if not self.parts:
            return {k: np.zeros(0, dtype=v) for k, v in dt.items()}
        return {k: np.concatenate([np.asarray(p[k], dtype=v) for p in self.parts]) for k, v in dt.items()}


# ---------------------------------------------------------------------------------------------- files
class _GzipToDamage(io.RawIOBase):
    """A gzip file read up to where it is damaged or cut short (as transfers leave them): the damage ends the
    data, and ``damage`` says what it was (None while the stream is sound)."""

    def __init__(self, path):
        self._z = gzip.open(path, 'rb')
        self.fileobj = self._z.fileobj  # the compressed file, for progress
        self.damage = None

    def readable(self):
        return True

    def readinto(self, b):
        if self.damage:
            return 0
        try:
            data = self._z.read1(len(b))  # one decompressed chunk at a time: a damage loses no earlier data
        except (OSError, EOFError, zlib.error) as e:  # BadGzipFile is an OSError
            self.damage = str(e) or type(e).__name__
            return 0
        b[:len(data)] = data
        return len(data)

    def close(self):
        self._z.close()
        super().close()


def open_binary(path):
    """Binary file object; gzip detected by its magic bytes (not the extension). A damaged or cut gzip
    stream reads as ending there: see :func:`damage_notes`."""
    if not os.path.isfile(path):
        raise CargoWatchError('AIS file not found: {}'.format(path))
    with open(path, 'rb') as f:
        magic = f.read(2)
    if magic == b'\x1f\x8b':
        return io.BufferedReader(_GzipToDamage(path))
    return open(path, 'rb')


def damage_notes(f, lines_read):
    """Notes (list of str) on a gzip stream found damaged while reading ``f`` (from open_binary)."""
    damage = getattr(getattr(f, 'raw', None), 'damage', None)
    if not damage:
        return []
    return ['the compressed file is damaged or cut short after line {} ({}): the rest of it could not be read'
            .format(lines_read, damage)]


def _head(path, n=65536):
    with open_binary(path) as f:
        try:
            head = f.read(n)
        except OSError as e:
            raise CargoWatchError('cannot read {}: {}'.format(path, e))
        if not head and damage_notes(f, 0):
            raise CargoWatchError('cannot read {}: the compressed file is damaged ({})'.format(
                path, f.raw.damage))
        return head


_NMEA_RE = re.compile(rb'[!$][A-Z]{2}VD[MO],')


def sniff_format(path):
    """'nmea', 'jsonl' or 'csv' from the first 64 KiB."""
    head = _head(path)
    if not head.strip():
        raise CargoWatchError('the AIS file is empty: {}'.format(path))
    if _NMEA_RE.search(head):
        return 'nmea'
    for line in head.splitlines():
        s = line.strip()
        if not s:
            continue
        if s.startswith(b'{'):
            return 'jsonl'
        break
    return 'csv'


def _progress_of(f, total):
    raw = getattr(getattr(f, 'raw', None), 'fileobj', None) or f
    try:
        return min(1.0, raw.tell() / float(total)) if total else 0.0
    except (OSError, ValueError, AttributeError):
        return 0.0


# ---------------------------------------------------------------------------------------------- time parsing
def _ms_int(v):
    """A time in ms (float) -> int, or BAD_TIME when infinite or beyond 64 bits (nan: None)."""
    if v != v:
        return None
    return int(round(v)) if abs(v) < 9e18 else BAD_TIME


def _ms_array(f):
    """Times in ms (float array, finite or not) -> int64 with BAD_TIME where not representable."""
    big = ~(np.abs(f) < 9e18)
    return np.where(big, BAD_TIME, np.round(np.where(big, 0.0, f)).astype(np.int64))


def _days_from_civil(y, m, d):
    y = y - (m <= 2)
    era = np.floor_divide(y, 400)
    yoe = y - era * 400
    mp = np.where(m > 2, m - 3, m + 9)
    doy = (153 * mp + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


_PY_FORMATS = ('%d/%m/%Y %H:%M:%S', '%d/%m/%Y %H:%M', '%Y/%m/%d %H:%M:%S', '%d-%m-%Y %H:%M:%S',
               '%Y%m%d%H%M%S', '%Y%m%dT%H%M%S', '%Y-%m-%d')


def _parse_time_one(s):
    """One timestamp (str) -> unix ms or None. ISO 8601 (any offset), d/m/Y H:M:S, unix seconds or ms."""
    s = s.strip().strip('"').strip()
    if not s:
        return None
    try:
        v = float(s)
        return _ms_int(v if abs(v) > 1e11 else v * 1000.0) if v == v else None
    except ValueError:
        pass
    u = s.replace('UTC', '').strip()
    if u.endswith('Z'):
        u = u[:-1] + '+00:00'
    try:
        d = _dt.datetime.fromisoformat(u)
    except ValueError:
        d = None
        for fmt in _PY_FORMATS:
            try:
                d = _dt.datetime.strptime(u, fmt)
                break
            except ValueError:
                continue
        if d is None:
            return None
    if d.tzinfo is None:
        d = d.replace(tzinfo=_dt.timezone.utc)
    return int(round(d.timestamp() * 1000.0))


def parse_times(a):
    """Array of timestamps (bytes/str) -> (unix ms int64, ok bool). Vectorised for the fixed layouts
    'YYYY-MM-DD[T ]HH:MM[:SS[.fff]][Z]' and 'DD/MM/YYYY HH:MM[:SS]' (also with '/', '.' separators) and for
    unix seconds/ms; anything else (offsets, odd layouts) falls back to a per-value parser."""
    a = np.asarray(a)
    if a.dtype.kind == 'U':
        a = np.char.encode(a, 'utf-8')
    elif a.dtype.kind == 'O':
        a = np.array([x if isinstance(x, bytes) else str(x).encode() for x in a], dtype='S')
    n = len(a)
    out = np.zeros(n, dtype=np.int64)
    ok = np.zeros(n, dtype=bool)
    if n == 0:
        return out, ok
    a = np.ascontiguousarray(a)
    W = a.dtype.itemsize
    if W == 0:
        return out, ok
    v = a.view(np.uint8).reshape(n, W)
    nz = np.flatnonzero(v.any(axis=0))
    W = int(nz[-1]) + 1 if len(nz) else 0
    done = np.zeros(n, dtype=bool)
    if W >= 16:
        colcache = {}

        def dig(c):
            if c not in colcache:
                colcache[c] = v[:, c].astype(np.int64) - 48
            return colcache[c]

        def isdig(c):
            x = v[:, c]
            return (x >= 48) & (x <= 57)

        def num(cols):
            r = dig(cols[0])
            for c in cols[1:]:
                r = r * 10 + dig(c)
            return r

        def digits_ok(cols):
            r = isdig(cols[0])
            for c in cols[1:]:
                r &= isdig(c)
            return r

        sep_t = (v[:, 10] == 84) | (v[:, 10] == 32)  # 'T' or ' '
        iso = ((v[:, 4] == 45) | (v[:, 4] == 47)) & (v[:, 7] == v[:, 4]) & sep_t & (v[:, 13] == 58) \
            & digits_ok([0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15])
        dmy = ~iso & ((v[:, 2] == 47) | (v[:, 2] == 45) | (v[:, 2] == 46)) & (v[:, 5] == v[:, 2]) & sep_t \
            & (v[:, 13] == 58) & digits_ok([0, 1, 3, 4, 6, 7, 8, 9, 11, 12, 14, 15])
        if dmy.any():
            y = np.where(iso, num([0, 1, 2, 3]), num([6, 7, 8, 9]))
            mo = np.where(iso, num([5, 6]), num([3, 4]))
            dd = np.where(iso, num([8, 9]), num([0, 1]))
        else:
            y, mo, dd = num([0, 1, 2, 3]), num([5, 6]), num([8, 9])
        hh = num([11, 12])
        mi = num([14, 15])
        fast = iso | dmy
        ss = np.zeros(n, dtype=np.int64)
        ms = np.zeros(n, dtype=np.int64)
        tail_from = np.full(n, 16, dtype=np.int64)
        if W >= 19:
            has_s = v[:, 16] == 58
            fast &= ~has_s | digits_ok([17, 18])
            ss = np.where(has_s, num([17, 18]), 0)
            tail_from[has_s] = 19
            if W >= 21:
                has_f = has_s & (v[:, 19] == 46)
                if has_f.any():
                    frac = np.zeros(n, dtype=np.int64)
                    run = has_f.copy()
                    end = np.where(has_f, 20, tail_from)
                    for k, c in enumerate(range(20, W)):
                        dc = isdig(c)
                        run &= dc
                        if k < 3:
                            frac += np.where(run, dig(c), 0) * (100, 10, 1)[k]
                        end[run] = c + 1
                        if not run.any():
                            break
                    ms = np.where(has_f, frac, 0)
                    tail_from = end
        # a tail other than nothing / 'Z' / spaces needs a closer look (time zone offset)
        tail_ok = np.ones(n, dtype=bool)
        for c in range(16, W):
            x = v[:, c]
            tail_ok &= (c < tail_from) | (x == 0) | (x == 90) | (x == 32)
        if not tail_ok.all():
            for i in np.flatnonzero(fast & ~tail_ok):
                tl = bytes(v[i, tail_from[i]:W]).rstrip(b'\x00').strip()
                if tl in (b'+00:00', b'+0000', b'+00', b'UTC', b'Z', b'GMT', b'-00:00'):
                    tail_ok[i] = True
        fast &= tail_ok
        fast &= (mo >= 1) & (mo <= 12) & (dd >= 1) & (dd <= 31) & (hh <= 23) & (mi <= 59) & (ss <= 60)
        days = _days_from_civil(y, mo, dd)
        val = ((days * 24 + hh) * 60 + mi) * 60 + ss
        out[fast] = val[fast] * 1000 + ms[fast]
        ok[fast] = True
        done |= fast
    rest = np.flatnonzero(~done)
    if len(rest):
        # plain numbers (unix time), vectorised when the whole rest parses
        sub = a[rest]
        nonempty = sub != b''
        try:
            f = sub[nonempty].astype(np.float64)
            good = ~np.isnan(f)
            idx = rest[nonempty][good]
            f = f[good]
            out[idx] = _ms_array(np.where(np.abs(f) > 1e11, f, f * 1000.0))
            ok[idx] = True
        except ValueError:
            for i in rest[nonempty]:
                r = _parse_time_one(a[i].decode('utf-8', 'replace'))
                if r is not None:
                    out[i] = r
                    ok[i] = True
    return out, ok


def times_ms(values):
    """A time column of any type -> (unix ms int64, ok bool): datetime64, numbers (unix seconds, or ms when
    above 1e11), or strings/bytes/objects as :func:`parse_times` reads them."""
    a = np.asarray(values)
    if a.dtype.kind == 'M':
        ok = ~np.isnat(a)
        return np.where(ok, a.astype('datetime64[ms]').astype(np.int64), 0), ok
    if a.dtype.kind in 'iuf':
        f = a.astype(np.float64)
        ok = ~np.isnan(f)
        f = np.where(ok, f, 0.0)
        return _ms_array(np.where(np.abs(f) > 1e11, f, f * 1000.0)), ok
    return parse_times(a)


# ---------------------------------------------------------------------------------------------- numbers
def _to_float(a, dtype=np.float64):
    """bytes array -> (floats, bad) ; empty -> nan (not bad); unparsable -> nan and bad=True."""
    with np.errstate(over='ignore', invalid='ignore'):  # 1e308 as float32: inf, out of range later
        return _parse_floats(np.asarray(a), dtype)


def _parse_floats(a, dtype):
    n = len(a)
    bad = np.zeros(n, dtype=bool)
    if n == 0:
        return np.zeros(0, dtype=dtype), bad
    if a.dtype.kind in 'fiu':
        return a.astype(dtype), bad
    if a.dtype.kind == 'S':
        a = np.char.strip(a) if (a[:1].size and (a[:1][0][:1] == b' ')) else a
        empty = a == b''
        if empty.any():
            a = a.copy()
            a[empty] = b'nan'
        try:
            return a.astype(dtype), bad
        except ValueError:
            pass
        out = np.empty(n, dtype=dtype)
        for i, x in enumerate(a):
            try:
                out[i] = float(x)
            except ValueError:
                out[i] = np.nan
                bad[i] = True
        return out, bad
    out = np.empty(n, dtype=dtype)
    for i, x in enumerate(a):
        if x is None or x == '':
            out[i] = np.nan
            continue
        try:
            out[i] = float(x)
        except (TypeError, ValueError, OverflowError):  # OverflowError: an int beyond float (JSON allows it)
            out[i] = np.nan
            bad[i] = True
    return out, bad


def _to_mmsi(a):
    """bytes/objects -> (int64 with -1 for unparsable, bad)."""
    f, bad = _to_float(a)
    good = np.isfinite(f) & (f == np.floor(f)) & (np.abs(f) < 9e15)
    out = np.full(len(f), -1, dtype=np.int64)
    out[good] = f[good].astype(np.int64)
    return out, ~good


def _status_codes(a):
    """Navigational status column: numbers, or the DMA texts ('Under way using engine'...)."""
    a = np.asarray(a)
    f, bad = _to_float(a)
    out = np.where(np.isfinite(f) & (f >= 0) & (f <= 15), f, -1).astype(np.int16)
    if bad.any():
        idx = np.flatnonzero(bad)
        vals, inv = np.unique(a[idx], return_inverse=True)
        codes = np.array([NAV_STATUS_TEXT.get((x.decode('utf-8', 'replace') if isinstance(x, bytes) else str(x))
                                             .strip().lower(), -1) for x in vals], dtype=np.int16)
        out[idx] = codes[inv]
    return out


def _clean_text(x):
    if x is None:
        return ''
    if isinstance(x, bytes):
        x = x.decode('utf-8', 'replace')
    s = str(x).replace('@', ' ').strip()
    if s.lower() in ('unknown', 'undefined', 'nan', 'none', 'null', 'n/a', 'na'):
        return ''
    return s


def _imo_value(x):
    s = _clean_text(x)
    digits = re.sub(r'\D', '', s.replace('.0', '') if s.endswith('.0') else s)
    if not digits or len(digits) > 7:
        return None
    v = int(digits)
    return v if 1000000 <= v <= 9999999 else None


def _update_static(static, mmsi, values):
    """static[mmsi] gets every non-empty value of values (dict key -> raw value)."""
    rec = static.get(mmsi)
    if rec is None:
        rec = {k: None for k in STATIC_KEYS}
        static[mmsi] = rec
    for k, raw in values.items():
        if k == 'imo':
            v = _imo_value(raw)
        elif k == 'ship_type':
            v = ship_type_text(_clean_text(raw)) if _clean_text(raw) else ''
        else:
            v = _clean_text(raw)
        if v not in (None, ''):
            rec[k] = v


def _static_from_columns(static, mmsi, columns, nonempty_masks=None):
    """Per vessel, the last non-empty value of each static column (columns: key -> array;
    nonempty_masks: key -> bool array, when the caller knows them cheaply)."""
    mmsi = np.asarray(mmsi)
    n = len(mmsi)
    if n == 0:
        return
    um, first = np.unique(mmsi[::-1], return_index=True)
    last = n - 1 - first  # last row of each vessel
    for key, arr in columns.items():
        arr = np.asarray(arr)
        if nonempty_masks is not None and key in nonempty_masks:
            nonempty = nonempty_masks[key]
        elif arr.dtype.kind == 'S':
            if arr.dtype.itemsize == 0:
                continue
            flat = np.ascontiguousarray(arr)
            nonempty = flat.view(np.uint8).reshape(len(flat), flat.dtype.itemsize)[:, 0] != 0
        elif arr.dtype.kind in 'iu':
            nonempty = arr > 0
        elif arr.dtype.kind == 'f':
            nonempty = np.isfinite(arr) & (arr > 0)
        else:
            nonempty = np.array([x not in (None, '') for x in arr], dtype=bool)
        if not nonempty.any():
            continue
        empty = ~nonempty[last]
        pick = last.copy()
        if empty.any():
            # vessels whose last row has no value: their last non-empty row, if any
            todo = um[empty]
            sel = np.flatnonzero(nonempty & np.isin(mmsi, todo))
            found = {}
            for j in sel.tolist():
                found[int(mmsi[j])] = j
            pos = np.flatnonzero(empty)
            for p_, m_ in zip(pos.tolist(), todo.tolist()):
                pick[p_] = found.get(int(m_), -1)
        for mm, j in zip(um.tolist(), pick.tolist()):
            if mm < 0 or j < 0:
                continue
            _update_static(static, int(mm), {key: arr[j]})


# ---------------------------------------------------------------------------------------------- NMEA
_PAYLOAD_RE = re.compile(r'[0-W`-w]+')  # the 64 characters of the AIS 6-bit armouring
_MIN_BITS = {1: 168, 2: 168, 3: 168, 18: 168, 19: 312, 27: 96, 5: 420, 24: 160, 4: 168, 11: 168}
_POSITION_TYPES = (1, 2, 3, 18, 19, 27)
_LINE_TIME_RE = re.compile(r'^\s*\[?\s*([0-9][0-9T:\-/. +]*[0-9Z])\s*\]?\s*[,;|\t ]?\s*$')


def _nmea_checksum_ok(body, given):
    x = 0
    for ch in body:
        x ^= ch
    try:
        return x == int(given, 16)
    except ValueError:
        return False


def _tag_time(tag):
    """NMEA 4 tag block content 's:..,c:1733782034*0A' -> unix ms or None (c in s, or ms if large);
    BAD_TIME when c is a number no date can have (infinite, beyond 64 bits)."""
    core_ = tag.split('*', 1)[0]
    for part in core_.split(','):
        if part.startswith('c:'):
            try:
                v = float(part[2:])
            except ValueError:
                return None
            return _ms_int(v if v > 1e11 else v * 1000.0)
    return None


def _time_text_ms(s):
    s = s.strip().strip('[]').strip().rstrip(',;|').strip()
    if not s:
        return None
    return _parse_time_one(s)


def _rmc_clock(fields):
    """$--RMC -> unix ms or None (fields: split on ',' without the checksum)."""
    try:
        tm, date = fields[1], fields[9]
        if len(tm) < 6 or len(date) != 6:
            return None
        h, mi, s = int(tm[0:2]), int(tm[2:4]), float(tm[4:])
        d, mo, y = int(date[0:2]), int(date[2:4]), 2000 + int(date[4:6])
        if y > 2079:
            y -= 100
        base = _dt.datetime(y, mo, d, h, mi, tzinfo=_dt.timezone.utc).timestamp()
        return _ms_int((base + s) * 1000) if 0 <= s < 61 else None
    except (ValueError, IndexError):
        return None


def _zda_clock(fields):
    try:
        tm = fields[1]
        h, mi, s = int(tm[0:2]), int(tm[2:4]), float(tm[4:])
        d, mo, y = int(fields[2]), int(fields[3]), int(fields[4])
        base = _dt.datetime(y, mo, d, h, mi, tzinfo=_dt.timezone.utc).timestamp()
        return _ms_int((base + s) * 1000) if 0 <= s < 61 else None
    except (ValueError, IndexError):
        return None


def _import_pyais():
    """pyais's decoder for a list of sentences (bytes) of one message; imported only when NMEA is read."""
    try:
        from pyais.messages import NMEAMessage
    except ImportError:
        raise CargoWatchError('reading NMEA AIS needs the Python package "pyais", which is not installed in '
                              "QGIS's Python: install it (pip install pyais) or import a CSV / JSON export instead.")

    def decode(*parts):
        if len(parts) == 1:
            return NMEAMessage(parts[0].encode('ascii')).decode()
        return NMEAMessage.assemble_from_iterable([NMEAMessage(p.encode('ascii')) for p in parts]).decode()
    return decode


def read_nmea(path, progress=None, cancelled=None, chunk_lines=200000):
    """NMEA 0183 !xxVDM/!xxVDO (any talker) -> (RawRows, static, notes).

    Time of each message, first found of: NMEA 4 tag block 'c:' (unix s or ms), a timestamp before the
    sentence on the line (ISO or unix, as receivers log), a timestamp after the checksum; else the receiver
    clock from the latest $--RMC/$--ZDA sentence; else the latest base station report (type 4, approximate);
    else the row is rejected as 'no timestamp'. Multi-sentence messages are assembled by (channel, sequence
    id); an incomplete one is rejected as truncated. Payloads shorter than their type needs are truncated.
    """
    decode = _import_pyais()
    raw = RawRows()
    static = {}
    total = os.path.getsize(path)
    n_other_ais = 0
    n_other_lines = 0
    pending = {}  # (talker-channel, seq) -> [first_line, total, next_no, [sentences], t_ms]
    clock = {'rmc': None, 'bs': None}
    buf = {k: [] for k in ('mmsi', 't_ms', 'lon', 'lat', 'sog', 'cog', 'heading', 'status', 'line')}
    lineno = 0

    def flush():
        if buf['mmsi']:
            raw.add(**{k: np.asarray(v) for k, v in buf.items()})
            for v in buf.values():
                v.clear()

    def emit(msg, t_ms, line):
        nonlocal n_other_ais
        mt = msg.msg_type
        if mt in (5, 24, 19):
            vals = {}
            if mt == 5:
                vals = {'name': msg.shipname, 'imo': msg.imo, 'callsign': msg.callsign,
                        'ship_type': int(msg.ship_type), 'destination': msg.destination}
            elif mt == 24:
                if getattr(msg, 'partno', 0) == 0:
                    vals = {'name': msg.shipname}
                else:
                    vals = {'callsign': msg.callsign, 'ship_type': int(msg.ship_type)}
            else:
                vals = {'name': msg.shipname, 'ship_type': int(msg.ship_type)}
            if msg.mmsi:
                _update_static(static, int(msg.mmsi), vals)
        if mt in (4, 11):
            try:
                if msg.year and msg.month and msg.day:
                    clock['bs'] = int(_dt.datetime(msg.year, msg.month, msg.day, msg.hour, msg.minute,
                                                   min(msg.second, 59), tzinfo=_dt.timezone.utc)
                                      .timestamp() * 1000)
            except (ValueError, TypeError, OverflowError):
                pass
        if mt not in _POSITION_TYPES:
            if mt not in (5, 24):
                n_other_ais += 1
            return False
        if t_ms is None:
            t_ms = clock['rmc'] if clock['rmc'] is not None else clock['bs']
        buf['mmsi'].append(int(msg.mmsi))
        buf['t_ms'].append(NO_TIME if t_ms is None else t_ms)
        buf['lon'].append(float(msg.lon))
        buf['lat'].append(float(msg.lat))
        sp = getattr(msg, 'speed', None)
        co = getattr(msg, 'course', None)
        hd = getattr(msg, 'heading', None)
        st = getattr(msg, 'status', None)
        if mt == 27:
            sp = None if sp is None or sp >= 63 else sp
            co = None if co is None or co >= 511 else co
        buf['sog'].append(np.nan if sp is None else float(sp))
        buf['cog'].append(np.nan if co is None else float(co))
        buf['heading'].append(np.nan if hd is None else float(hd))
        buf['status'].append(-1 if st is None else int(st))
        buf['line'].append(line)
        return True

    with open_binary(path) as f:
        for rawline in f:
            lineno += 1
            if cancelled is not None and lineno % 20000 == 0:
                if cancelled():
                    raise Cancelled()
                if progress is not None:
                    progress(_progress_of(f, total))
            line = rawline.decode('ascii', 'replace').strip()
            if not line or line[0] == '#':
                continue
            t_ms = None
            # NMEA 4 tag block(s) \...\ before the sentence
            while line.startswith('\\'):
                end = line.find('\\', 1)
                if end < 0:
                    break
                tt = _tag_time(line[1:end])
                if tt is not None:
                    t_ms = tt
                line = line[end + 1:]
            pos = line.find('!')
            if pos < 0:
                # not AIS: a receiver clock sentence, a comment...
                if line.startswith('$') or (line.find('$') > 0):
                    s = line[line.find('$'):]
                    fields = s.split('*', 1)[0].split(',')
                    kind = fields[0][3:6] if len(fields[0]) >= 6 else ''
                    if kind == 'RMC' and len(fields) > 9 and fields[2] == 'A':
                        c = _rmc_clock(fields)
                        if c is not None:
                            clock['rmc'] = c
                    elif kind == 'ZDA' and len(fields) > 4:
                        c = _zda_clock(fields)
                        if c is not None:
                            clock['rmc'] = c
                n_other_lines += 1
                continue
            if pos > 0 and t_ms is None:
                t_ms = _time_text_ms(line[:pos])
            sentence = line[pos:]
            star = sentence.find('*')
            head = sentence[:7] if len(sentence) >= 7 else sentence
            if not (len(head) >= 6 and head[3:6] in ('VDM', 'VDO')):
                n_other_lines += 1
                continue
            if star < 0 or len(sentence) < star + 3:
                raw.reject(lineno, R_GARBLED)
                continue
            body = sentence[1:star]
            given = sentence[star + 1:star + 3]
            after = sentence[star + 3:]
            if t_ms is None and after.strip(' ,;\t'):
                t_ms = _time_text_ms(after.strip(' ,;\t').split(',')[-1] if ',' in after else after)
            if not _nmea_checksum_ok(body.encode('ascii', 'replace'), given):
                raw.reject(lineno, R_CHECKSUM)
                continue
            fields = body.split(',')
            if len(fields) != 7:
                raw.reject(lineno, R_GARBLED)
                continue
            _talker, cnt, num, seq, chan, payload, fill = fields
            try:
                cnt = int(cnt)
                num = int(num)
                fill = int(fill) if fill else 0
            except ValueError:
                raw.reject(lineno, R_GARBLED)
                continue
            if not (1 <= num <= cnt <= 9) or not _PAYLOAD_RE.fullmatch(payload):
                raw.reject(lineno, R_GARBLED)
                continue
            full = sentence[:star + 3]
            if cnt > 1:
                key = (chan, seq, cnt)
                if num == 1:
                    old = pending.pop(key, None)
                    if old is not None:
                        raw.reject(old[0], R_GARBLED)  # incomplete message replaced by a new one
                    pending[key] = [lineno, cnt, 2, [full], t_ms, payload, fill]
                    continue
                cur = pending.get(key)
                if cur is None or cur[2] != num:
                    if cur is not None:
                        pending.pop(key)
                        raw.reject(cur[0], R_GARBLED)
                    raw.reject(lineno, R_GARBLED)
                    continue
                cur[3].append(full)
                cur[5] += payload
                cur[6] = fill
                if cur[4] is None:
                    cur[4] = t_ms
                if num < cnt:
                    cur[2] += 1
                    continue
                pending.pop(key)
                first_line, parts, t_ms, payload, fill = cur[0], cur[3], cur[4], cur[5], cur[6]
            else:
                first_line, parts = lineno, [full]
            # message type and length check before decoding
            mtype = (ord(payload[0]) - 48)
            mtype = mtype - 8 if mtype > 40 else mtype
            nbits = 6 * len(payload) - fill
            if nbits < _MIN_BITS.get(mtype, 38):
                raw.reject(first_line, R_GARBLED)
                continue
            try:
                msg = decode(*parts)
            except Exception:  # pyais raises many kinds on garbage
                raw.reject(first_line, R_GARBLED)
                continue
            emit(msg, t_ms, first_line)
            if len(buf['mmsi']) >= chunk_lines:
                flush()
        notes = damage_notes(f, lineno)
    for cur in pending.values():
        raw.reject(cur[0], R_GARBLED)
    flush()
    if n_other_ais:
        notes.append('{} other AIS messages (base stations, aids to navigation, binary...) not positions'
                     .format(n_other_ais))
    if n_other_lines:
        notes.append('{} non-AIS lines ignored (comments, $GP sentences; $--RMC/ZDA used as clock)'
                     .format(n_other_lines))
    return raw, static, notes


# ---------------------------------------------------------------------------------------------- CSV
def _norm(name):
    return re.sub(r'[^a-z0-9]', '', name.strip().strip('"').lower())


def detect_layout(header):
    """Header names -> (layout name, role -> column index). Unknown columns are ignored."""
    norms = [_norm(h) for h in header]
    names = set(norms)
    if 'typeofmobile' in names and 'timestamp' in names:
        layout = 'Danish Maritime Authority'
    elif 'basedatetime' in names:
        layout = 'NOAA MarineCadastre'
    elif 'ssvid' in names or ({'mmsi', 'timestamp', 'lat', 'lon'} <= names
                              and names & {'isfishing', 'distancefromshore', 'distancefromport', 'seg_id',
                                           'segid', 'source'}):
        layout = 'Global Fishing Watch'
    else:
        layout = 'generic'
    mapping = {}
    for role in ROLES:
        for syn in SYNONYMS[role]:
            syn = _norm(syn)
            if syn in norms and norms.index(syn) not in mapping.values():
                mapping[role] = norms.index(syn)
                break
    if layout == 'Danish Maritime Authority':
        # its 'Type of mobile' (Class A/B...) is not the ship type
        if 'shiptype' in norms:
            mapping['ship_type'] = norms.index('shiptype')
        elif mapping.get('ship_type') == norms.index('typeofmobile'):
            mapping.pop('ship_type')
    return layout, mapping


def _apply_mapping(header, auto, user):
    """Column names given by the user (role -> header name) override the detected ones."""
    mapping = dict(auto)
    norms = [_norm(h) for h in header]
    for role, name in (user or {}).items():
        if not name:
            continue
        if role not in ROLES:
            raise CargoWatchError('unknown column role {!r}'.format(role))
        n = _norm(name)
        if n not in norms:
            raise CargoWatchError('column {!r} (for {}) is not in the file; its columns are: {}'.format(
                name, role, ', '.join(h.strip() for h in header)))
        mapping[role] = norms.index(n)
    missing = [r for r in REQUIRED_ROLES if r not in mapping]
    if missing:
        raise CargoWatchError('cannot tell which column holds {} in this CSV (columns: {}); set the column '
                              'mapping parameters.'.format(', '.join(missing), ', '.join(h.strip() for h in header)))
    return mapping


_NUMERIC = ('mmsi', 'lat', 'lon', 'sog', 'cog', 'heading')
_WIDTH = {'time': 32, 'mmsi': 16, 'status': 64, 'name': 32, 'callsign': 12, 'ship_type': 32,
          'destination': 32, 'imo': 16}


def _csv_rows_to_raw(arr, roles, lines, raw, static):
    """Structured bytes array of one block -> raw columns (+ rejects as garbled)."""
    n = len(arr)
    if n == 0:
        return
    mmsi, bad_m = _to_mmsi(arr['mmsi'])
    t_ms, ok_t = parse_times(arr['time'])
    lat, bad_lat = _to_float(arr['lat'])
    lon, bad_lon = _to_float(arr['lon'])
    garbled = bad_m | ~ok_t | bad_lat | bad_lon
    cols = {'mmsi': mmsi, 't_ms': t_ms, 'lat': lat, 'lon': lon, 'line': lines}
    for r in ('sog', 'cog', 'heading'):
        cols[r] = _to_float(arr[r], np.float32)[0] if r in roles else np.full(n, np.nan, np.float32)
    cols['status'] = _status_codes(arr['status']) if 'status' in roles else np.full(n, -1, np.int16)
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
        _static_from_columns(static, cols['mmsi'], st, masks)


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
        roles = _apply_mapping(header, auto, mapping)
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
                progress(_progress_of(f, total))
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


# ---------------------------------------------------------------------------------------------- JSON lines
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
                    progress(_progress_of(f, total))
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
                    rmap = _apply_mapping(header, auto, mapping)
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
        mmsi, bad_m = _to_mmsi(np.array(cols['mmsi'], dtype=object))
        tvals = np.array([b'' if x is None else (x.encode() if isinstance(x, str) else repr(x).encode())
                          for x in cols['time']], dtype='S')
        t_ms, ok_t = parse_times(tvals)
        lat, bad_lat = _to_float(np.array(cols['lat'], dtype=object))
        lon, bad_lon = _to_float(np.array(cols['lon'], dtype=object))
        garbled = bad_m | ~ok_t | bad_lat | bad_lon
        out = {'mmsi': mmsi, 't_ms': t_ms, 'lat': lat, 'lon': lon, 'line': line_arr}
        for r in ('sog', 'cog', 'heading'):
            out[r] = _to_float(np.array(cols[r], dtype=object), np.float32)[0]
        st = np.array([b'' if x is None else str(x).encode() for x in cols['status']], dtype='S')
        out['status'] = _status_codes(st)
        raw.reject_many(line_arr[garbled], R_GARBLED)
        keep = ~garbled
        raw.add(**{k: v[keep] for k, v in out.items()})
        stat = {k: np.array(cols[k], dtype=object)[keep] for k in STATIC_KEYS if k in roles}
        if stat:
            _static_from_columns(static, mmsi[keep], stat)
    notes.append('keys used: ' + ', '.join('{}={}'.format(r, k) for r, k in (roles or {}).items()))
    return raw, static, notes


# ---------------------------------------------------------------------------------------------- cleaning
def valid_mmsi(mmsi):
    """Ship station MMSI: 9 digits with a maritime identification digit group 201-775 (2xx-7xx)."""
    mmsi = np.asarray(mmsi)
    return (mmsi >= 201000000) & (mmsi <= 775999999)


def clean(raw_cols, max_speed_kn=50.0, progress=None, cancelled=None):
    """Raw columns (RawRows.columns(): t_ms, line...) -> (cols, rejected_line, rejected_code, notes).

    Order of the checks (a row is counted once, under the first reason it fails):
    no timestamp; time out of range (before 1900 or from 2200 on); invalid MMSI; position not available
    (lon 181 / lat 91, empty, or 0,0); out of range; then, on rows sorted by vessel and time: exact duplicates
    (same vessel, time to the ms, position, speed, course, heading, status), repeated (vessel, second) reports
    with different content (the earliest is kept); impossible jumps: a fix whose implied speed from the
    previous and to the next fix both exceed max_speed_kn (after allowing JUMP_TOLERANCE_NM of GPS noise) is
    removed, repeatedly; a jump that is not a one-fix spike (a run of bad fixes) is resolved by keeping, from
    the first fix whose next leg is plausible, every fix reachable from the last kept one.
    """
    c = raw_cols
    n = len(c['mmsi'])
    code = np.full(n, -1, dtype=np.int8)

    def mark(mask, reason):
        m = mask & (code < 0)
        code[m] = _REASON_CODE[reason]

    lon = c['lon']
    lat = c['lat']
    mark(c['t_ms'] == NO_TIME, R_NOTIME)
    mark((c['t_ms'] < T_MIN_MS) | (c['t_ms'] >= T_MAX_MS), R_TIME)
    mark(~valid_mmsi(c['mmsi']), R_MMSI)
    mark((np.abs(lon - 181.0) < 1e-6) | (np.abs(lat - 91.0) < 1e-6) | ((lon == 0) & (lat == 0))
         | np.isnan(lon) | np.isnan(lat), R_NOPOS)
    mark(~(np.abs(lon) <= 180.0) | ~(np.abs(lat) <= 90.0), R_RANGE)
    alive = np.flatnonzero(code < 0)
    if progress:
        progress(0.1)
    m = c['mmsi'][alive]
    tms = c['t_ms'][alive]
    notes = []
    if len(alive) > 1 and not _sorted2(m, tms):
        order = np.lexsort((tms, m))
        sm = m[order]
        ooo = int(np.count_nonzero((sm[1:] == sm[:-1]) & (order[1:] < order[:-1])))
        if ooo:
            notes.append('{} out-of-order rows sorted into place'.format(ooo))
        idx = alive[order]
        del sm
    else:
        idx = alive
    del m, tms
    if cancelled is not None and cancelled():
        raise Cancelled()
    if progress:
        progress(0.4)
    # every column gathered once in sorted order; the rest works on these with masks
    S = {'mmsi': c['mmsi'][idx].astype(np.int64, copy=False), 't_ms': c['t_ms'][idx].astype(np.int64, copy=False),
         'lon': lon[idx].astype(np.float64, copy=False), 'lat': lat[idx].astype(np.float64, copy=False)}
    sog = c['sog'][idx].astype(np.float32)
    sog[~(sog >= 0) | (sog > 102.25)] = np.nan
    cog = c['cog'][idx].astype(np.float32)
    cog[~(cog >= 0) | (cog >= 360.0)] = np.nan
    hdg = c['heading'][idx].astype(np.float32)
    hdg[~(hdg >= 0) | (hdg >= 360.0)] = np.nan
    status = c['status'][idx].astype(np.int16)
    status[(status < 0) | (status > 15)] = -1
    S.update(sog=sog, cog=cog, heading=hdg, status=status)
    ns = len(idx)
    keep = np.ones(ns, dtype=bool)
    # duplicates and repeated (vessel, second)
    if ns > 1:
        mm = S['mmsi']
        ts = np.floor_divide(S['t_ms'], 1000)
        same = (mm[1:] == mm[:-1]) & (ts[1:] == ts[:-1])
        if same.any():
            in_run = np.zeros(ns, dtype=bool)
            in_run[1:] |= same
            in_run[:-1] |= same
            k = np.flatnonzero(in_run)  # sorted positions involved in same-second collisions
            keys = [np.nan_to_num(sog[k], nan=-1), np.nan_to_num(cog[k], nan=-1), np.nan_to_num(hdg[k], nan=-1),
                    status[k], S['lat'][k], S['lon'][k], S['t_ms'][k], mm[k]]
            o = np.lexsort(keys)
            eq = np.ones(len(o) - 1, dtype=bool)
            for kk in keys:
                ks = kk[o]
                eq &= ks[1:] == ks[:-1]
            dup = np.zeros(len(o), dtype=bool)
            dup[1:] = eq
            dpos = k[o][dup]
            keep[dpos] = False
            code[idx[dpos]] = _REASON_CODE[R_DUP]
            # repeated: in each (vessel, second) group the earliest surviving report is kept
            k2 = k[keep[k]]
            o2 = np.lexsort((k2, S['t_ms'][k2], ts[k2], mm[k2]))
            k2 = k2[o2]
            first = np.ones(len(k2), dtype=bool)
            first[1:] = (mm[k2][1:] != mm[k2][:-1]) | (ts[k2][1:] != ts[k2][:-1])
            rpos = k2[~first]
            keep[rpos] = False
            code[idx[rpos]] = _REASON_CODE[R_REPEAT]
        del ts
    if progress:
        progress(0.6)
    if cancelled is not None and cancelled():
        raise Cancelled()
    # impossible jumps
    if max_speed_kn and max_speed_kn > 0 and ns > 1:
        pos = np.flatnonzero(keep) if not keep.all() else np.arange(ns)
        bad = _drop_jumps(pos, S['mmsi'], S['t_ms'], S['lon'], S['lat'], float(max_speed_kn))
        if len(bad):
            keep[bad] = False
            code[idx[bad]] = _REASON_CODE[R_JUMP]
    if progress:
        progress(0.9)
    if keep.all():
        cols = S
    else:
        cols = {k: v[keep] for k, v in S.items()}
    cols['t'] = np.floor_divide(cols.pop('t_ms'), 1000)
    cols = {k: cols[k] for k in ('mmsi', 't', 'lon', 'lat', 'sog', 'cog', 'heading', 'status')}
    rej = np.flatnonzero(code >= 0)
    return cols, c['line'][rej], code[rej], notes


def _sorted2(m, t):
    if len(m) < 2:
        return True
    dm = np.diff(m)
    return bool(np.all((dm > 0) | ((dm == 0) & (np.diff(t) >= 0))))


def _leg_fast(mm, tms, lon, lat, max_kn):
    """For sorted rows: fast[i] True when the leg i -> i+1 of the same vessel is impossible.
    An equirectangular estimate clears most legs; only doubtful ones get the great-circle distance."""
    same = mm[1:] == mm[:-1]
    limit = max_kn * (np.maximum(np.diff(tms), 1000) / 3.6e6) + JUMP_TOLERANCE_NM
    dlat = np.diff(lat)
    dlon = np.abs(np.diff(lon))
    dlon = np.minimum(dlon, 360.0 - dlon)
    # cos of the smaller |lat| of the two ends: leans to overestimating, so no impossible leg is missed
    coslat = np.cos(np.radians(np.minimum(np.minimum(np.abs(lat[1:]), np.abs(lat[:-1])), 90.0)))
    est = 60.0 * np.sqrt(dlat * dlat + (dlon * coslat) ** 2)  # ~ great-circle distance (nm), short legs
    doubt = np.flatnonzero(same & (est > 0.9 * limit))
    fast = np.zeros(len(same), dtype=bool)
    if len(doubt):
        d = haversine_nm(lon[doubt], lat[doubt], lon[doubt + 1], lat[doubt + 1])
        fast[doubt] = d > limit[doubt]
    return fast, same


def _drop_jumps(pos, mmsi, t_ms, lon, lat, max_kn):
    """Positions (indices into the sorted arrays, ascending) rejected as impossible jumps."""
    rejected = []
    for _ in range(8):
        mm, tt, x, y = mmsi[pos], t_ms[pos], lon[pos], lat[pos]
        fast, same = _leg_fast(mm, tt, x, y, max_kn)
        if not fast.any():
            return np.concatenate(rejected) if rejected else np.zeros(0, dtype=np.int64)
        n = len(pos)
        bad_in = np.zeros(n, dtype=bool)
        bad_out = np.zeros(n, dtype=bool)
        bad_in[1:] = fast
        bad_out[:-1] = fast
        first = np.ones(n, dtype=bool)
        first[1:] = ~same
        last = np.ones(n, dtype=bool)
        last[:-1] = ~same
        drop = bad_in & bad_out
        # first fix of a vessel: bad when its next fix goes on plausibly
        nxt_ok = np.zeros(n, dtype=bool)
        nxt_ok[:-2] = ~fast[1:] & same[1:]
        drop |= first & bad_out & nxt_ok
        # last fix of a vessel: bad when it came from a plausible previous leg
        prev_ok = np.zeros(n, dtype=bool)
        prev_ok[2:] = ~fast[:-1] & same[:-1]
        drop |= last & bad_in & prev_ok
        if not drop.any():
            break
        rejected.append(pos[drop])
        pos = pos[~drop]
    # what is left: runs of bad fixes; greedy per affected vessel
    mm, tt, x, y = mmsi[pos], t_ms[pos], lon[pos], lat[pos]
    fast, same = _leg_fast(mm, tt, x, y, max_kn)
    if fast.any():
        keep = np.ones(len(pos), dtype=bool)
        starts = np.flatnonzero(np.r_[True, mm[1:] != mm[:-1]])
        ends = np.r_[starts[1:], len(pos)]
        vessel_of_leg = np.searchsorted(starts, np.flatnonzero(fast), side='right') - 1
        for v in np.unique(vessel_of_leg):
            a, b = starts[v], ends[v]
            f = fast[a:b - 1]
            ok_legs = np.flatnonzero(~f)
            anchor = a + (int(ok_legs[0]) if len(ok_legs) else 0)
            for direction in (1, -1):
                ref = anchor
                rng = range(anchor + 1, b) if direction == 1 else range(anchor - 1, a - 1, -1)
                for j in rng:
                    dt_h = max(abs(int(tt[j]) - int(tt[ref])), 1000) / 3.6e6
                    d = float(haversine_nm(x[ref], y[ref], x[j], y[j])) - JUMP_TOLERANCE_NM
                    if d > max_kn * dt_h:
                        keep[j] = False
                    else:
                        ref = j
        rejected.append(pos[~keep])
    return np.concatenate(rejected) if rejected else np.zeros(0, dtype=np.int64)


# ---------------------------------------------------------------------------------------------- entry point
def import_from_raw(raw, static, fmt, notes, max_speed_kn=50.0, progress=None, cancelled=None):
    """RawRows (+ its parser rejects) -> AisImport (cleaning, counting)."""
    res = AisImport()
    res.fmt = fmt
    rc = raw.columns()
    cols, rej_line, rej_code, cnotes = clean(rc, max_speed_kn, progress, cancelled)
    res.cols = cols
    res.static = static
    lines = np.concatenate([np.asarray(raw.rej_line, dtype=np.int64), rej_line])
    reasons = np.concatenate([np.asarray(raw.rej_reason, dtype=object),
                              np.asarray(REASONS, dtype=object)[rej_code.astype(np.int64)]
                              if len(rej_code) else np.zeros(0, dtype=object)])
    o = np.argsort(lines, kind='stable')
    res.rejected_line = lines[o]
    res.rejected_reason = reasons[o]
    for r in REASONS:
        res.reasons[r] = int(np.count_nonzero(res.rejected_reason == r)) if len(reasons) else 0
    res.rows_kept = len(cols['mmsi'])
    res.rows_rejected = len(lines)
    res.rows_read = res.rows_kept + res.rows_rejected
    res.notes = list(notes) + cnotes
    vessels = set(np.unique(cols['mmsi']).tolist()) if res.rows_kept else set()
    res.notes.append('{} vessels; static data for {}'.format(len(vessels), sum(1 for m in static if m in vessels)))
    return res


def read_ais(path, fmt='auto', mapping=None, max_speed_kn=50.0, progress=None, cancelled=None):
    """Read and clean an AIS file (NMEA, CSV, JSON lines; gzip'd too) -> AisImport.

    fmt: 'auto', 'nmea', 'csv' or 'jsonl'. mapping: role -> column/key name for CSV and JSON lines
    (roles: ROLES). max_speed_kn: implied speed above which a fix is an impossible jump (0 disables).
    """
    def sub(a, b):
        if progress is None:
            return None
        return lambda x: progress(a + (b - a) * max(0.0, min(1.0, x)))

    if fmt in (None, '', 'auto'):
        fmt = sniff_format(path)
    if fmt == 'nmea':
        raw, static, notes = read_nmea(path, sub(0.0, 0.8), cancelled)
        name = 'NMEA'
    elif fmt == 'jsonl':
        raw, static, notes = read_jsonl(path, mapping, sub(0.0, 0.8), cancelled)
        name = 'JSON lines'
    elif fmt == 'csv':
        raw, static, layout, notes = read_csv(path, mapping, sub(0.0, 0.8), cancelled)
        name = 'CSV ({})'.format(layout)
    else:
        raise CargoWatchError('unknown AIS format {!r}'.format(fmt))
    return import_from_raw(raw, static, name, notes, max_speed_kn, sub(0.8, 1.0), cancelled)


def read_source_lines(path, line_numbers):
    """The raw text of the given 1-based line numbers (for the REJECTED table): dict line -> str."""
    want = set(int(x) for x in np.asarray(line_numbers).tolist())
    out = {}
    if not want:
        return out
    last = max(want)
    with open_binary(path) as f:
        for k, line in enumerate(f, 1):
            if k in want:
                out[k] = line.decode('utf-8', 'replace').rstrip('\r\n')
            if k >= last:
                break
    return out
