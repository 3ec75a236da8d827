"""Great-circle geometry on numpy arrays (WGS84 lon/lat degrees, distances in nautical miles).

No qgis import: used by core/tracks, core/gaps, core/voyages and the AIS cleaner.
"""
import numpy as np

EARTH_RADIUS_NM = 3440.065  # mean Earth radius (6371.0088 km) in nautical miles
M_PER_NM = 1852.0


def haversine_nm(lon1, lat1, lon2, lat2):
    """Great-circle distance(s) in nautical miles between arrays (or scalars) of lon/lat degrees."""
    lon1 = np.radians(np.asarray(lon1, dtype=np.float64))
    lat1 = np.radians(np.asarray(lat1, dtype=np.float64))
    lon2 = np.radians(np.asarray(lon2, dtype=np.float64))
    lat2 = np.radians(np.asarray(lat2, dtype=np.float64))
    s_lat = np.sin((lat2 - lat1) * 0.5)
    s_lon = np.sin((lon2 - lon1) * 0.5)
    a = s_lat * s_lat + np.cos(lat1) * np.cos(lat2) * s_lon * s_lon
    return 2.0 * EARTH_RADIUS_NM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))



def points_in_polygon(lon, lat, rings):
    """Boolean mask of points inside a polygon given as a list of rings (exterior first, then holes).

    Each ring is an (n, 2) array of lon/lat (closed or not). Even-odd rule, so holes work.
    Vectorised over points; points are pre-filtered by the exterior ring's bounding box.
    """
    lon = np.asarray(lon, dtype=np.float64)
    lat = np.asarray(lat, dtype=np.float64)
    inside = np.zeros(len(lon), dtype=bool)
    if not rings or len(lon) == 0:
        return inside
    ext = np.asarray(rings[0], dtype=np.float64)
    cand = np.nonzero((lon >= ext[:, 0].min()) & (lon <= ext[:, 0].max())
                      & (lat >= ext[:, 1].min()) & (lat <= ext[:, 1].max()))[0]
    if len(cand) == 0:
        return inside
    x = lon[cand]
    y = lat[cand]
    odd = np.zeros(len(cand), dtype=bool)
    for ring in rings:
        r = np.asarray(ring, dtype=np.float64)
        if len(r) < 3:
            continue
        x1, y1 = r[:, 0], r[:, 1]
        x2, y2 = np.roll(x1, -1), np.roll(y1, -1)
        for k in range(len(r)):
            ya, yb = y1[k], y2[k]
            if ya == yb:
                continue
            cross = (ya > y) != (yb > y)
            if not cross.any():
                continue
            xi = x1[k] + (y - ya) * (x2[k] - x1[k]) / (yb - ya)
            odd ^= cross & (x < xi)
    inside[cand] = odd
    return inside


def site_index_of_points(lon, lat, sites):
    """Index of the site (polygon) each point falls in, -1 for none (first match wins).

    sites: list of polygons; a polygon is a list of rings (see points_in_polygon); a multipolygon
    is given as several entries with the same index via a list of polygons per site:
    sites[i] = [polygon, polygon, ...].
    """
    lon = np.asarray(lon, dtype=np.float64)
    out = np.full(len(lon), -1, dtype=np.int64)
    for i, parts in enumerate(sites):
        todo = out < 0
        if not todo.any():
            break
        idx = np.nonzero(todo)[0]
        hit = np.zeros(len(idx), dtype=bool)
        for rings in parts:
            hit |= points_in_polygon(lon[idx], np.asarray(lat)[idx], rings)
        out[idx[hit]] = i
    return out


def to_wgs84(x, y, srs_wkt):
    """Coordinates (arrays) in the CRS given as WKT -> (lon, lat) in EPSG:4326, traditional x/y order."""
    from osgeo import osr
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if len(x) == 0:
        return x, y
    s_in = osr.SpatialReference()
    if s_in.ImportFromWkt(srs_wkt) != 0:
        raise ValueError('unknown coordinate reference system')
    s_out = osr.SpatialReference()
    s_out.ImportFromEPSG(4326)
    for s in (s_in, s_out):
        s.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    ok = np.isfinite(x) & np.isfinite(y)
    lon, lat = np.full(len(x), np.nan), np.full(len(x), np.nan)
    if ok.any():
        ct = osr.CoordinateTransformation(s_in, s_out)
        xy = np.asarray(ct.TransformPoints(np.c_[x[ok], y[ok]]), dtype=np.float64)
        lon[ok], lat[ok] = xy[:, 0], xy[:, 1]
    return lon, lat
