"""AIS timestamps (text, bytes, numbers, datetime64) -> unix milliseconds UTC, vectorised for the usual
layouts. A time without a zone is UTC."""
import datetime as _dt

import numpy as np

from .records import BAD_TIME

# ---------------------------------------------------------------------------------------------- time parsing
def ms_int(v):
    """A time in ms (float) -> int, or BAD_TIME when infinite or beyond 64 bits (nan: None)."""
    if v != v:
        return None
    return int(round(v)) if abs(v) < 9e18 else BAD_TIME


def ms_array(f):
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


def parse_time_one(s):
    """One timestamp (str) -> unix ms or None. ISO 8601 (any offset), d/m/Y H:M:S, unix seconds or ms."""
    s = s.strip().strip('"').strip()
    if not s:
        return None
    try:
        v = float(s)
        return ms_int(v if abs(v) > 1e11 else v * 1000.0) if v == v else None
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
            out[idx] = ms_array(np.where(np.abs(f) > 1e11, f, f * 1000.0))
            ok[idx] = True
        except ValueError:
            for i in rest[nonempty]:
                r = parse_time_one(a[i].decode('utf-8', 'replace'))
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
        return ms_array(np.where(np.abs(f) > 1e11, f, f * 1000.0)), ok
    return parse_times(a)
