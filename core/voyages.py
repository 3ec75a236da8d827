"""Port calls, voyages between sites and dark-voyage candidates (numpy only).

Inputs are sorted position columns (core.tracks.sort_positions) and ``site_index``: for each position the
index of the site polygon it falls in (-1 = none). Sites are ports, anchorages, rail terminals...

How dark voyages are decided (``dark_voyage_candidates``)
--------------------------------------------------------
For every AIS gap (core.gaps.find_gaps) of a vessel, with p0/t0 its last position before and p1/t1 its first
position after, and v the vessel's own top observed speed (``vessel_top_speed``: a high quantile of the speeds
it reported and of its implied speeds between fixes at least 10 min apart), a site S is *reachable* when

    (d(p0, S) + d(S, p1)) / v + min_dwell  <=  t1 - t0

with d the great-circle distance (nm) from a position to the nearest vertex of the site outline (0 inside).
That is: leaving p0 at t0 at full observed speed, it could reach S, stay there at least min_dwell, and be back
at p1 by t1. Great-circle distances ignore land, so they are a lower bound of the sea route: the test never
rules out a visit that was possible (it is generous: a candidate is "could have", never "did").
The sites the vessel was in at p0 or p1 and its previous/next port call sites are not candidates (it was
there anyway). ``slack_h`` says how much time would be left over: small slack = a tight, less likely visit.
"""
from dataclasses import dataclass

import numpy as np

from .ais.defaults import DEFAULTS
from .geo import haversine_nm


@dataclass(frozen=True)
class VoyageTuning:
    """Tuning constants of the voyage and dark-voyage computations, one reason each."""
    top_speed_quantile: float = 0.99    # a vessel's top speed: this quantile of its speeds, not one glitched maximum
    min_leg_s: int = 600                # implied speeds only between fixes this far apart (10 min): GPS jitter cancels
    max_speed_kn: float = 50.0          # speeds above this are errors, not ships (as the importer's jump filter)
    distance_chunk: int = 2_000_000     # point x vertex distances computed at once: bounds memory


TUNING = VoyageTuning()


def _empty_calls():
    z = np.zeros(0, dtype=np.int64)
    return {'mmsi': z, 'site': z.copy(), 'arrive': z.copy(), 'depart': z.copy(), 'i0': z.copy(),
            'i1': z.copy(), 'points': z.copy()}


def port_calls(mmsi, t, site_index, min_stay_s=DEFAULTS.min_stay_s, merge_gap_s=DEFAULTS.merge_gap_s,
               split_gap_s=None):
    """Port calls from positions inside sites. Input sorted by mmsi then t.

    A call is a run of consecutive positions of one vessel inside the same site. Two runs at the same site
    separated only by positions outside any site for at most ``merge_gap_s`` seconds are one call (GPS jitter
    at the polygon edge, a short trip across the basin). A run is split where the vessel sent nothing for more
    than ``split_gap_s`` (None: never split; the dock and countvoyages split at their dark-period threshold). Calls shorter than ``min_stay_s`` (depart - arrive) are dropped
    (a vessel passing through an anchorage is not a call).

    Returns a dict of arrays, one row per call: ``mmsi``, ``site``, ``arrive``, ``depart`` (unix s), ``i0``/``i1``
    (indices of the first and last position of the call), ``points``.
    """
    mmsi = np.asarray(mmsi)
    t = np.asarray(t, dtype=np.int64)
    site_index = np.asarray(site_index, dtype=np.int64)
    idx = np.flatnonzero(site_index >= 0)
    if len(idx) == 0:
        return _empty_calls()
    m = mmsi[idx]
    s = site_index[idx]
    tt = t[idx]
    brk = np.ones(len(idx), dtype=bool)
    if len(idx) > 1:
        same = (m[1:] == m[:-1]) & (s[1:] == s[:-1])
        dt = np.diff(tt)
        adjacent = np.diff(idx) == 1
        cont = same & (adjacent | (dt <= merge_gap_s))
        if split_gap_s is not None:
            cont &= dt <= split_gap_s
        brk[1:] = ~cont
    starts = np.flatnonzero(brk)
    ends = np.r_[starts[1:], len(idx)] - 1
    calls = {
        'mmsi': m[starts].astype(np.int64), 'site': s[starts].astype(np.int64),
        'arrive': tt[starts], 'depart': tt[ends], 'i0': idx[starts].astype(np.int64),
        'i1': idx[ends].astype(np.int64), 'points': (ends - starts + 1).astype(np.int64),
    }
    keep = (calls['depart'] - calls['arrive']) >= min_stay_s
    return {k: v[keep] for k, v in calls.items()}


def voyages_from_calls(calls):
    """Voyages: consecutive calls of the same vessel at two different sites.

    Returns a dict of arrays: ``mmsi``, ``from_site``, ``to_site``, ``depart`` (departure from the first site),
    ``arrive`` (arrival at the second), ``hours``, ``call0``/``call1`` (row numbers in calls).
    """
    m = np.asarray(calls['mmsi'])
    s = np.asarray(calls['site'])
    if len(m) < 2:
        z = np.zeros(0, dtype=np.int64)
        return {'mmsi': z, 'from_site': z.copy(), 'to_site': z.copy(), 'depart': z.copy(),
                'arrive': z.copy(), 'hours': np.zeros(0), 'call0': z.copy(), 'call1': z.copy()}
    order = np.lexsort((np.asarray(calls['arrive']), m))
    m, s = m[order], s[order]
    arrive = np.asarray(calls['arrive'])[order]
    depart = np.asarray(calls['depart'])[order]
    k = np.flatnonzero((m[1:] == m[:-1]) & (s[1:] != s[:-1]))
    out = {
        'mmsi': m[k].astype(np.int64), 'from_site': s[k].astype(np.int64), 'to_site': s[k + 1].astype(np.int64),
        'depart': depart[k].astype(np.int64), 'arrive': arrive[k + 1].astype(np.int64),
        'call0': order[k].astype(np.int64), 'call1': order[k + 1].astype(np.int64),
    }
    out['hours'] = (out['arrive'] - out['depart']) / 3600.0
    return out


def vessel_top_speed(mmsi, t, lon, lat, sog=None, quantile=TUNING.top_speed_quantile, min_leg_s=TUNING.min_leg_s,
                     max_speed_kn=TUNING.max_speed_kn):
    """Each vessel's top observed speed (kn): the ``quantile`` of the speeds it reported (SOG, nan ignored)
    together with its implied speeds between consecutive fixes at least ``min_leg_s`` apart; values above
    ``max_speed_kn`` are ignored. Input sorted by mmsi then t.

    Returns (vessels, speed_kn): sorted unique mmsi and their top speed (0 when nothing was observed).
    """
    mmsi = np.asarray(mmsi)
    t = np.asarray(t, dtype=np.int64)
    lon = np.asarray(lon, dtype=np.float64)
    lat = np.asarray(lat, dtype=np.float64)
    vessels = np.unique(mmsi)
    if len(mmsi) == 0:
        return vessels, np.zeros(0)
    parts_m, parts_v = [], []
    if sog is not None:
        sog = np.asarray(sog, dtype=np.float64)
        ok = np.isfinite(sog) & (sog >= 0) & (sog <= max_speed_kn)
        parts_m.append(mmsi[ok])
        parts_v.append(sog[ok])
    if len(mmsi) > 1:
        dt = np.diff(t)
        ok = (mmsi[1:] == mmsi[:-1]) & (dt >= min_leg_s)
        i = np.flatnonzero(ok)
        v = haversine_nm(lon[i], lat[i], lon[i + 1], lat[i + 1]) / (dt[i] / 3600.0)
        good = v <= max_speed_kn
        parts_m.append(mmsi[i][good])
        parts_v.append(v[good])
    allm = np.concatenate(parts_m) if parts_m else np.zeros(0, dtype=np.int64)
    allv = np.concatenate(parts_v) if parts_v else np.zeros(0)
    speed = np.zeros(len(vessels))
    if len(allm):
        order = np.lexsort((allv, allm))
        allm, allv = allm[order], allv[order]
        starts = np.flatnonzero(np.r_[True, allm[1:] != allm[:-1]])
        counts = np.diff(np.r_[starts, len(allm)])
        pick = starts + np.floor(quantile * (counts - 1)).astype(np.int64)
        pos = np.searchsorted(vessels, allm[starts])
        speed[pos] = allv[pick]
    return vessels, speed


def site_distances_nm(lon, lat, site_vertices):
    """(n_points, n_sites) great-circle distance from points to the nearest vertex of each site outline.

    site_vertices: list of (lon_array, lat_array) per site (densify long edges for precision).
    """
    lon = np.asarray(lon, dtype=np.float64)
    lat = np.asarray(lat, dtype=np.float64)
    out = np.full((len(lon), len(site_vertices)), np.inf)
    for j, (vx, vy) in enumerate(site_vertices):
        vx = np.asarray(vx, dtype=np.float64)
        vy = np.asarray(vy, dtype=np.float64)
        if len(vx) == 0 or len(lon) == 0:
            continue
        # chunk over points to bound memory (points x vertices)
        step = max(1, TUNING.distance_chunk // len(vx))
        for a in range(0, len(lon), step):
            d = haversine_nm(lon[a:a + step, None], lat[a:a + step, None], vx[None, :], vy[None, :])
            out[a:a + step, j] = d.min(axis=1)
    return out


def dark_voyage_candidates(gaps, mmsi, t, lon, lat, site_index, site_vertices, top_speed_kn,
                           min_dwell_s, calls=None):
    """Sites each vessel could have visited during each of its gaps (see the module docstring).

    gaps: core.gaps.find_gaps result on the same sorted positions; site_index: site of each position (-1);
    site_vertices: per site (lon_array, lat_array) of its outline; top_speed_kn: scalar, or an array with one
    value per gap, or a (vessels, speeds) pair from vessel_top_speed; calls: port_calls result (optional)
    to know the previous and next call sites.

    Returns a dict of arrays with one row per gap that has at least one reachable site:
    ``gap`` (row in gaps), ``mmsi``, ``t0``, ``t1``, ``hours``, ``speed_kn``, ``from_site`` (site of the
    previous call, else the site p0 is in, else -1), ``back_site`` (same for the next call / p1),
    ``reachable`` (object array of int arrays of site indices, best slack first), ``slack_h`` (object array,
    matching), ``n_reachable``.
    """
    mmsi = np.asarray(mmsi)
    t = np.asarray(t, dtype=np.int64)
    lon = np.asarray(lon, dtype=np.float64)
    lat = np.asarray(lat, dtype=np.float64)
    site_index = np.asarray(site_index, dtype=np.int64)
    i0 = np.asarray(gaps['i0'], dtype=np.int64)
    i1 = np.asarray(gaps['i1'], dtype=np.int64)
    ng = len(i0)
    gm = mmsi[i0] if ng else np.zeros(0, dtype=np.int64)
    if isinstance(top_speed_kn, tuple):
        vessels, speeds = top_speed_kn
        pos = np.clip(np.searchsorted(vessels, gm), 0, max(len(vessels) - 1, 0))
        v = np.where((len(vessels) > 0) & (vessels[pos] == gm) if len(vessels) else False,
                     speeds[pos] if len(vessels) else 0.0, 0.0)
    else:
        v = np.broadcast_to(np.asarray(top_speed_kn, dtype=np.float64), (ng,)).copy()
    v = np.asarray(v, dtype=np.float64)
    T = (t[i1] - t[i0]).astype(np.float64) if ng else np.zeros(0)

    from_site = site_index[i0].copy() if ng else np.zeros(0, dtype=np.int64)
    back_site = site_index[i1].copy() if ng else np.zeros(0, dtype=np.int64)
    if calls is not None and len(calls['mmsi']) and ng:
        cm = np.asarray(calls['mmsi'])
        ca = np.asarray(calls['arrive'])
        cd = np.asarray(calls['depart'])
        cs = np.asarray(calls['site'])
        order = np.lexsort((ca, cm))
        cm, ca, cd, cs = cm[order], ca[order], cd[order], cs[order]
        # previous call: last call of the vessel arriving at or before t0
        key_c = (cm, ca)
        k = _searchsorted2(key_c, (gm, t[i0]), side='right') - 1
        ok = (k >= 0) & (cm[np.clip(k, 0, None)] == gm)
        from_site = np.where(ok, cs[np.clip(k, 0, None)], from_site)
        # next call: first call of the vessel departing at or after t1
        order2 = np.lexsort((cd, cm))
        cm2, cd2, cs2 = cm[order2], cd[order2], cs[order2]
        k2 = _searchsorted2((cm2, cd2), (gm, t[i1]), side='left')
        k2c = np.clip(k2, 0, len(cm2) - 1)
        ok2 = (k2 < len(cm2)) & (cm2[k2c] == gm)
        back_site = np.where(ok2, cs2[k2c], back_site)

    nsites = len(site_vertices)
    d0 = site_distances_nm(lon[i0], lat[i0], site_vertices) if ng else np.zeros((0, nsites))
    d1 = site_distances_nm(lon[i1], lat[i1], site_vertices) if ng else np.zeros((0, nsites))
    rows = np.arange(ng)
    for arr, d in ((site_index[i0] if ng else [], d0), (site_index[i1] if ng else [], d1)):
        arr = np.asarray(arr, dtype=np.int64)
        inside = arr >= 0
        d[rows[inside], arr[inside]] = 0.0
    with np.errstate(divide='ignore', invalid='ignore'):
        need_s = np.where(v[:, None] > 0, (d0 + d1) / v[:, None] * 3600.0, np.inf) + float(min_dwell_s)
    slack = (T[:, None] - need_s) / 3600.0
    ok = slack >= 0
    for arr in (site_index[i0] if ng else None, site_index[i1] if ng else None, from_site, back_site):
        if arr is None:
            continue
        arr = np.asarray(arr, dtype=np.int64)
        sel = arr >= 0
        ok[rows[sel], arr[sel]] = False
    has = np.flatnonzero(ok.any(axis=1)) if ng else np.zeros(0, dtype=np.int64)
    reach = np.empty(len(has), dtype=object)
    slacks = np.empty(len(has), dtype=object)
    for n, g in enumerate(has):
        js = np.flatnonzero(ok[g])
        o = np.argsort(-slack[g, js], kind='stable')
        reach[n] = js[o].astype(np.int64)
        slacks[n] = slack[g, js[o]]
    return {
        'gap': has.astype(np.int64), 'mmsi': gm[has].astype(np.int64), 't0': t[i0][has] if ng else has,
        't1': t[i1][has] if ng else has, 'hours': T[has] / 3600.0, 'speed_kn': v[has],
        'from_site': np.asarray(from_site, dtype=np.int64)[has], 'back_site': np.asarray(back_site, dtype=np.int64)[has],
        'reachable': reach, 'slack_h': slacks,
        'n_reachable': np.array([len(r) for r in reach], dtype=np.int64),
    }


def _searchsorted2(keys, query, side='left'):
    """searchsorted on rows sorted lexicographically by (keys[0], keys[1]) (int64 pairs)."""
    a0, a1 = (np.asarray(k, dtype=np.int64) for k in keys)
    q0, q1 = (np.asarray(k, dtype=np.int64) for k in query)
    lo = np.searchsorted(a0, q0, side='left')
    hi = np.searchsorted(a0, q0, side='right')
    out = np.empty(len(q0), dtype=np.int64)
    for n in range(len(q0)):
        out[n] = lo[n] + np.searchsorted(a1[lo[n]:hi[n]], q1[n], side=side)
    return out
