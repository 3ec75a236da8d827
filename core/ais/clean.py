"""Cleaning of raw rows: every rejected row counted by reason, rows sorted by vessel and time."""
import numpy as np

from ..errors import Cancelled
from ..geo import haversine_nm
from ..tracks import is_sorted
from .records import (NO_TIME, R_DUP, R_JUMP, R_MMSI, R_NOPOS, R_NOTIME, R_RANGE, R_REPEAT, R_TIME,
                      REASON_CODE, T_MAX_MS, T_MIN_MS, JUMP_TOLERANCE_NM)

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
        code[m] = REASON_CODE[reason]

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
    if len(alive) > 1 and not is_sorted(m, tms):
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
            code[idx[dpos]] = REASON_CODE[R_DUP]
            # repeated: in each (vessel, second) group the earliest surviving report is kept
            k2 = k[keep[k]]
            o2 = np.lexsort((k2, S['t_ms'][k2], ts[k2], mm[k2]))
            k2 = k2[o2]
            first = np.ones(len(k2), dtype=bool)
            first[1:] = (mm[k2][1:] != mm[k2][:-1]) | (ts[k2][1:] != ts[k2][:-1])
            rpos = k2[~first]
            keep[rpos] = False
            code[idx[rpos]] = REASON_CODE[R_REPEAT]
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
            code[idx[bad]] = REASON_CODE[R_JUMP]
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
