"""AIS dark periods: intervals without positions longer than a threshold (numpy only).

The Global Fishing Watch definition of an AIS gap is 12 h without a position; the threshold is a parameter.
"""
import numpy as np

from .geo import haversine_nm


def find_gaps(mmsi, t, lon, lat, min_gap_s):
    """Every interval between consecutive positions of the same vessel longer than min_gap_s (strictly).

    Input sorted by mmsi then t (core.tracks.sort_positions). Returns a dict of arrays, one row per gap:
    ``i0`` index of the last position before, ``i1`` index of the first after (i1 == i0 + 1),
    ``hours``, ``distance_nm`` (great circle between the two positions), ``implied_speed_kn``
    (distance / duration: the least average speed the vessel needed).
    """
    mmsi = np.asarray(mmsi)
    t = np.asarray(t, dtype=np.int64)
    if len(mmsi) < 2:
        z = np.zeros(0, dtype=np.int64)
        f = np.zeros(0, dtype=np.float64)
        return {'i0': z, 'i1': z.copy(), 'hours': f, 'distance_nm': f.copy(), 'implied_speed_kn': f.copy()}
    dt = np.diff(t)
    i0 = np.flatnonzero((mmsi[1:] == mmsi[:-1]) & (dt > min_gap_s)).astype(np.int64)
    i1 = i0 + 1
    lon = np.asarray(lon, dtype=np.float64)
    lat = np.asarray(lat, dtype=np.float64)
    hours = dt[i0] / 3600.0
    dist = haversine_nm(lon[i0], lat[i0], lon[i1], lat[i1])
    with np.errstate(divide='ignore', invalid='ignore'):
        speed = np.where(hours > 0, dist / hours, 0.0)
    return {'i0': i0, 'i1': i1, 'hours': hours, 'distance_nm': dist, 'implied_speed_kn': speed}
