"""Vessel tracks from position columns (numpy only).

Positions are "columns": a dict of equal-length numpy arrays
``mmsi`` int64, ``t`` int64 (unix seconds UTC), ``lon``/``lat`` float64, ``sog``/``cog``/``heading`` float32
(nan = not available), ``status`` int16 (-1 = not available).
"""
import numpy as np

from .geo import haversine_nm

COLUMN_DTYPES = {
    'mmsi': np.int64, 't': np.int64, 'lon': np.float64, 'lat': np.float64,
    'sog': np.float32, 'cog': np.float32, 'heading': np.float32, 'status': np.int16,
}



def n_rows(cols):
    return len(cols['mmsi'])


def take(cols, idx):
    """Rows idx (index array or bool mask) of every array in cols that has the row count."""
    n = n_rows(cols)
    return {k: (v[idx] if isinstance(v, np.ndarray) and v.ndim >= 1 and len(v) == n else v)
            for k, v in cols.items()}


def sort_order(mmsi, t):
    """Stable order by mmsi then t."""
    return np.lexsort((np.asarray(t), np.asarray(mmsi)))


def is_sorted(mmsi, t):
    mmsi = np.asarray(mmsi)
    t = np.asarray(t)
    if len(mmsi) < 2:
        return True
    dm = np.diff(mmsi)
    return bool(np.all((dm > 0) | ((dm == 0) & (np.diff(t) >= 0))))


def sort_positions(cols):
    """Columns sorted by mmsi then t (a new dict; input untouched if already sorted it is returned as is)."""
    if is_sorted(cols['mmsi'], cols['t']):
        return cols
    return take(cols, sort_order(cols['mmsi'], cols['t']))


def segment_ids(mmsi, t, max_gap_s):
    """Segment number (0..k-1) of each position; a new segment starts at each new vessel and wherever
    the time since the previous position of the same vessel exceeds max_gap_s (strictly greater).

    Requires input sorted by mmsi then t. max_gap_s None or <= 0: one segment per vessel.
    """
    mmsi = np.asarray(mmsi)
    t = np.asarray(t)
    n = len(mmsi)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    brk = np.empty(n, dtype=bool)
    brk[0] = False
    np.not_equal(mmsi[1:], mmsi[:-1], out=brk[1:])
    if max_gap_s is not None and max_gap_s > 0:
        brk[1:] |= np.diff(t) > max_gap_s
    return np.cumsum(brk, dtype=np.int64)


def segments(mmsi, t, lon, lat, max_gap_s, min_points=1):
    """Summary of each track segment (see segment_ids), as a dict of arrays, one row per segment:
    ``start_idx``, ``end_idx`` (exclusive) into the sorted positions, ``mmsi``, ``start``, ``end``
    (unix s), ``duration_h``, ``length_nm`` (sum of great-circle legs), ``points``.
    Segments with fewer than min_points positions are dropped.
    """
    mmsi = np.asarray(mmsi)
    t = np.asarray(t)
    n = len(mmsi)
    seg = segment_ids(mmsi, t, max_gap_s)
    if n == 0:
        z = np.zeros(0, dtype=np.int64)
        return {'start_idx': z, 'end_idx': z, 'mmsi': z, 'start': z, 'end': z,
                'duration_h': np.zeros(0), 'length_nm': np.zeros(0), 'points': z}
    starts = np.flatnonzero(np.r_[True, seg[1:] != seg[:-1]])
    ends = np.r_[starts[1:], n]
    legs = np.zeros(n, dtype=np.float64)  # legs[i] = distance from i-1 to i, 0 at a segment start
    if n > 1:
        legs[1:] = haversine_nm(lon[:-1], lat[:-1], lon[1:], lat[1:])
    legs[starts] = 0.0
    length = np.add.reduceat(legs, starts)
    out = {
        'start_idx': starts.astype(np.int64), 'end_idx': ends.astype(np.int64),
        'mmsi': mmsi[starts].astype(np.int64), 'start': t[starts].astype(np.int64),
        'end': t[ends - 1].astype(np.int64),
        'points': (ends - starts).astype(np.int64), 'length_nm': length,
    }
    out['duration_h'] = (out['end'] - out['start']) / 3600.0
    if min_points > 1:
        keep = out['points'] >= min_points
        out = {k: v[keep] for k, v in out.items()}
    return out
