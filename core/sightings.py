"""Which dark vessel was that? Sightings (a ship seen in imagery at a place and time) matched to the vessels
whose AIS could put them there (numpy only).

Positions are the sorted columns of core.tracks (``mmsi``, ``t``, ``lon``/``lat`` or projected ``x``/``y``,
``heading``/``cog``). For each sighting (x, y, t, optional time window w) and each vessel with a fix before
and after it, a vessel moving at most v knots can be at the sighting's place p at time tau between its
consecutive fixes k, k+1 when

    t_k + d(p_k, p) / v  <=  tau  <=  t_k+1 - d(p, p_k+1) / v,      tau in [t - w, t + w]

with d the straight (projected CRS) or great-circle (EPSG:4326) distance minus a tolerance (the size of a quay
berth, GPS noise). ``slack_h`` is the time to spare on the tighter side (it could have sailed that much
slower, or arrived that much later). The leg spanning the time is *dark* when it is longer than ``min_gap_s``,
else the vessel was *visible* there: AIS itself places it at the sighting (it is the ship, or alongside).
Vessels that cannot have been there are *excluded* with the reason (the speed it would have needed, or where
AIS places it) when AIS puts them within ``near_nm`` of the sighting; others are not listed.
Great-circle distances ignore land: a candidate means "could have", never "did".

Score (0..1, 0 = excluded): visible 1, dark 0.9 * (1 - exp(-slack_h / 2 h)); times a length agreement
exp(-ln(ratio)^2 / (2 * 0.2^2)) when the image and AIS lengths are both known, and for a visible vessel a
heading agreement exp(-diff^2 / (2 * 25^2)) (image headings are taken modulo 180 degrees: bow and stern are
not told apart).
"""
from dataclasses import dataclass

import numpy as np

from .errors import Cancelled, CargoWatchError
from .geo import EARTH_RADIUS_NM, M_PER_NM, haversine_nm
from .tracks import sort_positions
from .voyages import vessel_top_speed

KN = M_PER_NM / 3600.0  # metres per second in one knot


@dataclass(frozen=True)
class SightingTuning:
    """Tuning constants of sighting matching, one reason each (the analyst sets window, speed, distances)."""
    pair_chunk: int = 2_000_000     # sighting x vessel pairs evaluated at once: bounds memory
    length_sd: float = 0.2          # log-ratio spread of the length agreement: image lengths are good to ~20 %
    heading_sd: float = 25.0        # degrees, heading agreement of a visible vessel: image headings are rough
    slack_scale_h: float = 2.0      # hours: a dark visit with less slack than this is a tight, less likely one
    dark_score: float = 0.9         # best score of a dark candidate: a visible vessel placed there by AIS ranks above
    speed_cap_kn: float = 25.0      # a vessel's own top speed is capped here (a few glitches must not free it)
    speed_floor_kn: float = 6.0     # and raised to this: a ship only seen moored can still sail


TUNING = SightingTuning()


def distance_m(x1, y1, x2, y2, geodesic):
    """Distance in metres: great circle for lon/lat degrees (geodesic) or straight on a projected CRS."""
    if geodesic:
        return haversine_nm(x1, y1, x2, y2) * M_PER_NM
    return np.hypot(np.asarray(x2, dtype=np.float64) - x1, np.asarray(y2, dtype=np.float64) - y1)


def vessel_speeds(cols, max_speed_kn=None, cap_kn=TUNING.speed_cap_kn, floor_kn=TUNING.speed_floor_kn):
    """(vessels, speed_kn): max_speed_kn for every vessel when given, else each vessel's own top observed speed
    (core.voyages.vessel_top_speed) kept between floor_kn (a ship only seen moored can still sail) and cap_kn."""
    vessels, top = vessel_top_speed(cols['mmsi'], cols['t'], cols['lon'], cols['lat'], cols.get('sog'))
    if max_speed_kn is not None and max_speed_kn > 0:
        return vessels, np.full(len(vessels), float(max_speed_kn))
    return vessels, np.clip(top, floor_kn, cap_kn)


def lookup(vessels, values, keys, default=np.nan):
    """values[vessels == key] for each key (vessels sorted), default where absent."""
    keys = np.asarray(keys)
    out = np.full(len(keys), default, dtype=np.float64)
    if len(vessels) == 0 or len(keys) == 0:
        return out
    pos = np.clip(np.searchsorted(vessels, keys), 0, len(vessels) - 1)
    hit = vessels[pos] == keys
    out[hit] = np.asarray(values, dtype=np.float64)[pos[hit]]
    return out


def _axial_diff(a, b):
    """Angle between two headings taken modulo 180 degrees (0..90)."""
    d = np.abs((np.asarray(a, dtype=np.float64) - b) % 180.0)
    return np.minimum(d, 180.0 - d)


def match_sightings(sx, sy, st, cols, window_s=None, length_m=None, heading_deg=None, speeds=None,
                    lengths=None, geodesic=True, min_gap_s=6 * 3600, tolerance_m=500.0, near_nm=50.0,
                    progress=None, cancelled=None):
    """Candidates of every sighting (see the module docstring).

    sx, sy, st: sighting positions (lon/lat when geodesic, else projected metres) and times (unix s);
    window_s, length_m, heading_deg: per sighting (nan or None = not known). cols: positions (x/y in
    ``lon``/``lat``, in the same CRS as the sightings). speeds: (vessels, knots) from vessel_speeds.
    lengths: (sorted vessels, metres) or None.

    Returns a dict of arrays, one row per listed (sighting, vessel), sorted by sighting then score:
    ``sighting`` (index), ``mmsi`` (-1 for a sighting without any vessel listed), ``status`` ('dark',
    'visible', 'excluded', 'none'), ``slack_h``, ``detour_nm`` (extra distance over going straight from the last
    to the next fix), ``need_kn`` (least speed to be there), ``speed_kn`` (allowed), ``gap_h`` (the leg's
    duration), ``dist_nm`` (nearest fix to the sighting at that time), ``length_ratio`` (image / AIS),
    ``heading_diff``, ``score``, ``best`` (1 for the top candidate of each sighting), ``reason`` (text),
    ``i0``/``i1`` (row of the fixes before and after in the sorted cols; -1 for 'none').
    """
    cols = sort_positions(cols)
    sx = np.atleast_1d(np.asarray(sx, dtype=np.float64))
    sy = np.atleast_1d(np.asarray(sy, dtype=np.float64))
    st = np.atleast_1d(np.asarray(st, dtype=np.int64))
    ns = len(sx)
    if not (len(sy) == len(st) == ns):
        raise CargoWatchError('sightings: x, y and time must have the same length')

    def per_sighting(v):
        a = np.full(ns, np.nan) if v is None else np.asarray(v, dtype=np.float64).copy()
        return np.broadcast_to(a, (ns,)).copy() if a.ndim == 0 else a
    win = np.nan_to_num(per_sighting(window_s), nan=0.0).clip(0, None)
    slen, shead = per_sighting(length_m), per_sighting(heading_deg)
    if not (len(win) == len(slen) == len(shead) == ns):
        raise CargoWatchError('sightings: window, length and heading must have one value per sighting')
    if np.any(~np.isfinite(sx) | ~np.isfinite(sy)):
        raise CargoWatchError('sightings: every sighting needs a position')

    mmsi, t = cols['mmsi'], np.asarray(cols['t'], dtype=np.int64)
    px, py = np.asarray(cols['lon'], dtype=np.float64), np.asarray(cols['lat'], dtype=np.float64)
    hdg = np.asarray(cols.get('heading', np.full(len(t), np.nan)), dtype=np.float64)
    hdg = np.where(np.isfinite(hdg), hdg, np.asarray(cols.get('cog', np.full(len(t), np.nan)), dtype=np.float64))
    vessels, starts = np.unique(mmsi, return_index=True)
    nv = len(vessels)
    ends = np.r_[starts[1:], len(t)]
    if speeds is None:
        speeds = vessel_speeds(cols)
    v_ms = lookup(speeds[0], speeds[1], vessels, default=np.nan) * KN
    if np.any(~np.isfinite(v_ms) | (v_ms <= 0)):
        raise CargoWatchError('every vessel needs a positive maximum speed')
    v_len = lookup(lengths[0], lengths[1], vessels) if lengths is not None else np.full(nv, np.nan)

    # one sorted key per position: vessel rank * span + time, so one searchsorted finds a vessel's fixes
    rank = np.repeat(np.arange(nv, dtype=np.int64), ends - starts)
    tmin = int(t.min()) if len(t) else 0
    span = (int(t.max()) - tmin + 3) if len(t) else 3
    keys = rank * span + (t - tmin + 1)

    def last_le(vr, tq):  # row of the vessel's last fix at or before tq, -1 if none
        q = vr * span + np.clip(tq - tmin + 1, 0, span - 1)
        i = np.searchsorted(keys, q, side='right') - 1
        return np.where(i >= starts[vr], i, -1)

    def first_ge(vr, tq, last=None):  # row of the vessel's first fix at or after tq, -1 if none
        if last is None:
            q = vr * span + np.clip(tq - tmin + 1, 0, span - 1)
            i = np.searchsorted(keys, q, side='left')
        else:  # from last_le(vr, tq): the same fix when it is at tq, else the one after
            i = np.where(last < 0, starts[vr], np.where(t[np.maximum(last, 0)] == tq, last, last + 1))
        return np.where(i < ends[vr], i, -1)

    out = {k: [] for k in ('sighting', 'mmsi', 'status', 'slack_h', 'detour_nm', 'need_kn', 'speed_kn', 'gap_h',
                           'dist_nm', 'length_ratio', 'heading_diff', 'score', 'i0', 'i1')}
    near_m = near_nm * M_PER_NM
    chunk = max(1, TUNING.pair_chunk // max(nv, 1))
    by_time = np.argsort(st, kind='stable')
    lb_scale = np.radians(1.0) * EARTH_RADIUS_NM * M_PER_NM if geodesic else 1.0  # metres per unit of y
    for c0 in range(0, ns if nv else 0, chunk):
        if cancelled is not None and cancelled():
            raise Cancelled()
        if progress is not None:
            progress(c0 / ns)
        # pairs vessel-major, sightings in time order: the queries come sorted, searchsorted stays in cache
        s = np.tile(by_time[c0:c0 + chunk], nv)
        vr = np.repeat(np.arange(nv, dtype=np.int64), min(ns, c0 + chunk) - c0)
        ts, w = st[s], win[s]
        a = last_le(vr, ts)
        b = first_ge(vr, ts, a)
        tracked = (a >= 0) & (b >= 0)  # seen before and after: otherwise nothing bounds where it was
        s, vr, ts, w, a, b = s[tracked], vr[tracked], ts[tracked], w[tracked], a[tracked], b[tracked]
        v = v_ms[vr]
        # with a time window: the fixes before and after the whole window bound every leg that may fit in it
        a_lo, b_hi = a.copy(), b.copy()
        wide = np.flatnonzero(w > 0)
        if len(wide):
            lo = last_le(vr[wide], ts[wide] - w[wide].astype(np.int64))
            hi = first_ge(vr[wide], ts[wide] + w[wide].astype(np.int64))
            a_lo[wide], b_hi[wide] = np.where(lo >= 0, lo, a[wide]), np.where(hi >= 0, hi, b[wide])

        def lower_bound(i):  # of the distance from fix i to the sighting: latitude (or y) difference only
            return np.abs(py[i] - sy[s]) * lb_scale - tolerance_m
        # necessary conditions (triangle inequality) on cheap lower bounds drop most pairs before haversine
        close = ((np.minimum(lower_bound(a), lower_bound(b)) + tolerance_m <= near_m)
                 | ((lower_bound(a_lo) <= v * (ts + w - t[a_lo])) & (lower_bound(b_hi) <= v * (t[b_hi] - (ts - w)))))
        s, vr, ts, w, a, b, v, a_lo, b_hi = (x[close] for x in (s, vr, ts, w, a, b, v, a_lo, b_hi))
        ra = distance_m(px[a], py[a], sx[s], sy[s], geodesic)
        rb = distance_m(px[b], py[b], sx[s], sy[s], geodesic)
        da, db = np.maximum(ra - tolerance_m, 0.0), np.maximum(rb - tolerance_m, 0.0)
        d_lo, d_hi = da.copy(), db.copy()
        wide = np.flatnonzero(w > 0)
        for d, i in ((d_lo, a_lo), (d_hi, b_hi)):
            d[wide] = np.maximum(distance_m(px[i[wide]], py[i[wide]], sx[s[wide]], sy[s[wide]], geodesic)
                                 - tolerance_m, 0.0)
        maybe = (d_lo <= v * (ts + w - t[a_lo])) & (d_hi <= v * (t[b_hi] - (ts - w)))
        # expand the candidate pairs into their legs k, k+1 within the window
        pm = np.flatnonzero(maybe)
        nleg = np.maximum(b_hi[pm] - a_lo[pm], 1)
        pair = np.repeat(pm, nleg)
        k0 = np.repeat(a_lo[pm], nleg) + (np.arange(len(pair)) - np.repeat(np.cumsum(nleg) - nleg, nleg))
        k1 = np.where(b_hi[pair] > a_lo[pair], k0 + 1, k0)
        sp = s[pair]
        d0 = np.maximum(distance_m(px[k0], py[k0], sx[sp], sy[sp], geodesic) - tolerance_m, 0.0)
        d1 = np.maximum(distance_m(px[k1], py[k1], sx[sp], sy[sp], geodesic) - tolerance_m, 0.0)
        early = t[k0] + d0 / v[pair]
        late = t[k1] - d1 / v[pair]
        lo, hi = ts[pair] - w[pair], ts[pair] + w[pair]
        slack = np.minimum(np.minimum(hi - early, late - lo), late - early) / 3600.0
        # best leg of each pair (largest slack)
        o = np.lexsort((-slack, pair))
        first = o[np.r_[True, pair[o][1:] != pair[o][:-1]]] if len(o) else o
        best_slack = np.full(len(s), -np.inf)
        best_k0, best_k1 = a.copy(), b.copy()
        best_slack[pair[first]] = slack[first]
        best_k0[pair[first]], best_k1[pair[first]] = k0[first], k1[first]
        ok = best_slack >= 0
        # the leg spanning the time itself, for the reasons of the excluded
        gap_s = np.where(ok, t[best_k1] - t[best_k0], t[b] - t[a]).astype(np.float64)
        with np.errstate(divide='ignore', invalid='ignore'):
            need = np.maximum(np.where(ts + w > t[a], da / (ts + w - t[a]), np.where(da > 0, np.inf, 0)),
                              np.where(t[b] > ts - w, db / (t[b] - (ts - w)), np.where(db > 0, np.inf, 0))) / KN
        dist = np.minimum(ra, rb)
        listed = ok | (dist <= near_m)
        if not listed.any():
            continue
        keep = np.flatnonzero(listed)
        s, vr, a, b, k0b, k1b = s[keep], vr[keep], a[keep], b[keep], best_k0[keep], best_k1[keep]
        ok, gap_s, need, dist = ok[keep], gap_s[keep], need[keep], dist[keep]
        straight = distance_m(px[k0b], py[k0b], px[k1b], py[k1b], geodesic)
        via = distance_m(px[k0b], py[k0b], sx[s], sy[s], geodesic) + distance_m(px[k1b], py[k1b], sx[s], sy[s],
                                                                                   geodesic)
        dark = gap_s > min_gap_s
        status = np.where(ok, np.where(dark, 'dark', 'visible'), 'excluded')
        ratio = slen[s] / v_len[vr]
        near_fix = np.where(np.abs(t[a] - st[s]) <= np.abs(t[b] - st[s]), a, b)
        hdiff = _axial_diff(shead[s], hdg[near_fix])
        lf = np.where(np.isfinite(ratio) & (ratio > 0), np.exp(-0.5 * (np.log(np.where(ratio > 0, ratio, 1.0))
                                                                        / TUNING.length_sd) ** 2), 1.0)
        hf = np.where(np.isfinite(hdiff) & ~dark, np.exp(-0.5 * (hdiff / TUNING.heading_sd) ** 2), 1.0)
        bs = best_slack[keep]
        base = np.where(dark, TUNING.dark_score * (1.0 - np.exp(-np.clip(bs, 0, None) / TUNING.slack_scale_h)), 1.0)
        out['sighting'].append(s)
        out['mmsi'].append(vessels[vr])
        out['status'].append(status)
        out['slack_h'].append(np.where(ok, bs, np.nan))
        out['detour_nm'].append(np.where(ok, np.maximum(via - straight, 0.0) / M_PER_NM, np.nan))
        out['need_kn'].append(need)
        out['speed_kn'].append(v_ms[vr] / KN)
        out['gap_h'].append(gap_s / 3600.0)
        out['dist_nm'].append(dist / M_PER_NM)
        out['length_ratio'].append(ratio)
        out['heading_diff'].append(hdiff)
        out['score'].append(np.where(ok, base * lf * hf, 0.0))
        out['i0'].append(k0b)
        out['i1'].append(k1b)
    res = {k: (np.concatenate(v) if v else np.zeros(0)) for k, v in out.items()}
    for k in ('sighting', 'mmsi', 'i0', 'i1'):
        res[k] = res[k].astype(np.int64)
    if len(res['status']) == 0:
        res['status'] = np.zeros(0, dtype='<U8')
    # sightings with nobody listed get one 'none' row
    missing = np.setdiff1d(np.arange(ns), res['sighting'])
    if len(missing):
        fill = {'sighting': missing, 'mmsi': np.full(len(missing), -1), 'status': np.full(len(missing), 'none'),
                'score': np.zeros(len(missing)), 'i0': np.full(len(missing), -1), 'i1': np.full(len(missing), -1)}
        for k in res:
            extra = fill.get(k, np.full(len(missing), np.nan))
            res[k] = np.concatenate([res[k], extra.astype(res[k].dtype if k != 'status' else '<U8')])
    order = np.lexsort((res['mmsi'], -res['score'], res['sighting']))
    res = {k: v[order] for k, v in res.items()}
    first = np.r_[True, res['sighting'][1:] != res['sighting'][:-1]] if len(order) else np.zeros(0, bool)
    res['best'] = (first & (res['score'] > 0)).astype(np.int64)
    res['reason'] = np.array([_reason(*r, min_gap_h=min_gap_s / 3600.0) for r in zip(
        res['status'].tolist(), res['need_kn'].tolist(), res['speed_kn'].tolist(), res['gap_h'].tolist(),
        res['dist_nm'].tolist(), res['slack_h'].tolist())], dtype=object)
    return res


def _reason(status, need, speed, gap_h, dist_nm, slack_h, min_gap_h):
    """The analyst's one-line why of a row."""
    if status == 'none':
        return 'no vessel could have been here and none is nearby'
    if status == 'dark':
        return 'dark {:.1f} h: could have been here, {:.1f} h to spare'.format(gap_h, slack_h)
    if status == 'visible':
        return 'AIS places it here ({:.2f} nm from the sighting)'.format(dist_nm)
    if gap_h > min_gap_h and np.isfinite(need):
        return 'dark {:.1f} h but its fixes before and after are {:.1f} nm away or more: it would need {:.1f} kn ' \
               '(allowed {:.1f} kn)'.format(gap_h, dist_nm, need, speed)
    return 'AIS places it {:.1f} nm away at that time'.format(dist_nm)
