"""Numbers, MMSIs, navigational status and static vessel data (name, IMO...) from parsed columns."""
import re

import numpy as np

from .records import NAV_STATUS_TEXT, STATIC_KEYS, ship_type_text

# ---------------------------------------------------------------------------------------------- numbers
def to_float(a, dtype=np.float64):
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


def to_mmsi(a):
    """bytes/objects -> (int64 with -1 for unparsable, bad)."""
    f, bad = to_float(a)
    good = np.isfinite(f) & (f == np.floor(f)) & (np.abs(f) < 9e15)
    out = np.full(len(f), -1, dtype=np.int64)
    out[good] = f[good].astype(np.int64)
    return out, ~good


def status_codes(a):
    """Navigational status column: numbers, or the DMA texts ('Under way using engine'...)."""
    a = np.asarray(a)
    f, bad = to_float(a)
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


def update_static(static, mmsi, values):
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


def static_from_columns(static, mmsi, columns, nonempty_masks=None):
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
            update_static(static, int(mm), {key: arr[j]})
