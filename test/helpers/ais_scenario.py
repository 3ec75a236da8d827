"""A synthetic Dunai–Rajin AIS scenario with exact truth, written as NMEA and CSV.

The story (after the reporting on the ANGARA and the MARIA): two ships shuttle between the port of Dunai
(Primorye, Russia) and Rajin (North Korea), about 100 nm apart, sometimes with their transponders off for the
whole run: AIS goes dark an hour after leaving Dunai and comes back an hour before returning. Ordinary traffic
sails Busan–Dunai in the open; a trawler has a 13 h gap far from any site; a ship moored in Busan has a 16 h gap.
Every kind of bad row the importer must reject is injected with known counts.

    sc = make_scenario()
    sc.truth            # gaps, observed voyages, dark voyages, rejected counts per reason and format
    write_nmea(sc, path); write_csv(sc, path); write_sites(sc, path)   # sites need osgeo (GDAL)

Positions every 15 min; times are whole seconds from 2023-03-01 00:00 UTC.
"""
import math
import random

T0 = 1677628800  # 2023-03-01T00:00:00Z
STEP = 900

SITES = {  # name: (lon, lat) centre; polygons are ~2.4 x 2.4 nm squares
    'Dunai': (132.37, 42.93),
    'Rajin': (130.30, 42.24),
    'Busan': (129.04, 35.10),
}
HALF_LAT = 0.02
HALF_LON = 0.027

ANGARA = 273999001
MARIA = 273999002
HANSA = 440999003
TRAWLER = 431999004
MOORED = 441999005
VESSELS = {
    ANGARA: dict(name='ANGARA', imo=9123456, callsign='UBAN7', ship_type=70, destination='RAJIN'),
    MARIA: dict(name='MARIA', imo=9234567, callsign='UBMR2', ship_type=70, destination='DUNAI'),
    HANSA: dict(name='HANSA PIONEER', imo=9345678, callsign='DSHP3', ship_type=70, destination='BUSAN'),
    TRAWLER: dict(name='KAIYO MARU 8', imo=0, callsign='JKMT', ship_type=30, destination=''),
    MOORED: dict(name='DONGBANG 12', imo=9456789, callsign='DSDB1', ship_type=80, destination='BUSAN'),
}


def nm(a, b):
    (lon1, lat1), (lon2, lat2) = a, b
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dl = math.radians(lon2 - lon1)
    h = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 3440.065 * math.asin(math.sqrt(h))


def site_ring(name):
    x, y = SITES[name]
    return [(x - HALF_LON, y - HALF_LAT), (x + HALF_LON, y - HALF_LAT), (x + HALF_LON, y + HALF_LAT),
            (x - HALF_LON, y + HALF_LAT), (x - HALF_LON, y - HALF_LAT)]


class Scenario:
    def __init__(self):
        self.rows = []       # truth positions: dict(mmsi, t, lon, lat, sog, cog, heading, status)
        self.bad = []        # (reason, row dict, kind) injected rows; kind: 'row' or 'nmea-line'/'csv-line'
        self.swaps = 0
        self.truth = {}


def _bearing(a, b):
    (lon1, lat1), (lon2, lat2) = a, b
    y = math.sin(math.radians(lon2 - lon1)) * math.cos(math.radians(lat2))
    x = (math.cos(math.radians(lat1)) * math.sin(math.radians(lat2))
         - math.sin(math.radians(lat1)) * math.cos(math.radians(lat2)) * math.cos(math.radians(lon2 - lon1)))
    return (math.degrees(math.atan2(y, x)) + 360.0) % 360.0


def _itinerary(mmsi, plan, speed, start_h, end_h, rng, dark=(), sc=None):
    """plan: list of ('stay', site, hours) / ('sail', from, to); positions every STEP while not dark.
    dark: list of (t_from, t_to) unix intervals without transmissions. Returns the gap truth list."""
    t = T0 + int(start_h * 3600)
    t_end = T0 + int(end_h * 3600)
    segs = []  # (t0, t1, p0, p1, moving)
    for item in plan:
        if item[0] == 'stay':
            _, site, hours = item
            segs.append((t, t + int(hours * 3600), SITES[site], SITES[site], False))
            t += int(hours * 3600)
        else:
            _, a, b = item
            pa, pb = SITES[a], SITES[b]
            dur = int(round(nm(pa, pb) / speed * 3600 / STEP)) * STEP
            segs.append((t, t + dur, pa, pb, True))
            t += dur
    if end_h <= start_h:
        t_end = t
    if t < t_end:
        last = segs[-1][3]
        segs.append((t, t_end, last, last, False))
    rows = []
    k = 0
    tt = T0 + int(start_h * 3600)
    while tt <= t_end:
        while k < len(segs) - 1 and tt >= segs[k][1]:
            k += 1
        t0, t1, p0, p1, moving = segs[k]
        f = 0.0 if t1 == t0 else min(1.0, max(0.0, (tt - t0) / (t1 - t0)))
        lon = p0[0] + (p1[0] - p0[0]) * f
        lat = p0[1] + (p1[1] - p0[1]) * f
        if moving and 0 < f < 1:
            sog = round(speed + rng.uniform(-0.3, 0.3), 1)
            cog = round(_bearing(p0, p1), 1)
            status = 0
        else:
            lon += rng.uniform(-0.0004, 0.0004)
            lat += rng.uniform(-0.0003, 0.0003)
            sog = round(rng.uniform(0.0, 0.2), 1)
            cog = round(rng.uniform(0, 359.9), 1)
            status = 5
        if not any(a < tt < b for a, b in dark):
            rows.append(dict(mmsi=mmsi, t=tt, lon=round(lon, 5), lat=round(lat, 5), sog=sog, cog=cog,
                             heading=int(cog) % 360, status=status))
        tt += STEP
    return rows


def _shuttle(mmsi, pattern, start_h, rng):
    """Dunai-Rajin round trips at 10 kn; pattern: 'D' dark run, 'V' visible run. Returns rows, dark intervals,
    runs truth."""
    plan = [('stay', 'Dunai', 48)]
    t = T0 + int(start_h * 3600) + 48 * 3600
    leg = int(round(nm(SITES['Dunai'], SITES['Rajin']) / 10.0 * 3600 / STEP)) * STEP
    dark = []
    runs = []
    for kind in pattern:
        plan += [('sail', 'Dunai', 'Rajin'), ('stay', 'Rajin', 24), ('sail', 'Rajin', 'Dunai'), ('stay', 'Dunai', 48)]
        if kind == 'D':
            # off one hour after leaving Dunai, on one hour before arriving back
            dark.append((t + 3600, t + 2 * leg + 24 * 3600 - 3600))
        runs.append((kind, t, t + 2 * leg + 24 * 3600))
        t += 2 * leg + 24 * 3600 + 48 * 3600
    end_h = (t - T0) / 3600.0
    rows = _itinerary(mmsi, plan, 10.0, start_h, end_h, rng, dark)
    return rows, dark, runs


def make_scenario(seed=4):
    rng = random.Random(seed)
    sc = Scenario()
    a_rows, a_dark, a_runs = _shuttle(ANGARA, 'DVDDV', 0, rng)
    m_rows, m_dark, m_runs = _shuttle(MARIA, 'DDVDD', 20, rng)
    h_plan = [('stay', 'Busan', 24), ('sail', 'Busan', 'Dunai'), ('stay', 'Dunai', 24), ('sail', 'Dunai', 'Busan'),
              ('stay', 'Busan', 24), ('sail', 'Busan', 'Dunai'), ('stay', 'Dunai', 24), ('sail', 'Dunai', 'Busan'),
              ('stay', 'Busan', 24)]
    h_rows = _itinerary(HANSA, h_plan, 14.0, 0, 0, rng)
    # trawler: slow circle far at sea (135E 40N), 13 h gap
    tr_rows = []
    tr_gap = (T0 + 100 * 3600, T0 + 113 * 3600)
    for k in range(0, 200 * 4 + 1):
        tt = T0 + k * STEP
        if tr_gap[0] < tt < tr_gap[1]:
            continue
        ang = k * 2 * math.pi / 96
        tr_rows.append(dict(mmsi=TRAWLER, t=tt, lon=round(135.0 + 0.2 * math.cos(ang), 5),
                            lat=round(40.0 + 0.15 * math.sin(ang), 5), sog=5.0,
                            cog=round((math.degrees(ang) + 90) % 360, 1), heading=511, status=7))
    # moored in Busan, 16 h gap
    mo_gap = (T0 + 300 * 3600, T0 + 316 * 3600)
    mo_rows = _itinerary(MOORED, [('stay', 'Busan', 400)], 0.1, 0, 400, rng, [mo_gap])
    truth_rows = a_rows + m_rows + h_rows + tr_rows + mo_rows
    # not-available speed / course on some real positions (kept, with empty values)
    for i in range(0, len(truth_rows), 97):
        truth_rows[i]['sog'] = 102.3
    for i in range(5, len(truth_rows), 89):
        truth_rows[i]['cog'] = 360.0
    sc.rows = truth_rows

    # ---- gaps truth (MIN_GAP 12 h): last position before / first after each dark interval
    def gap_of(rows, interval):
        before = max(r['t'] for r in rows if r['t'] <= interval[0])
        after = min(r['t'] for r in rows if r['t'] >= interval[1])
        return (rows[0]['mmsi'], before, after)
    gaps = [gap_of(a_rows, d) for d in a_dark] + [gap_of(m_rows, d) for d in m_dark]
    gaps += [gap_of(tr_rows, tr_gap), gap_of(mo_rows, mo_gap)]
    observed = []
    for mmsi, runs in ((ANGARA, a_runs), (MARIA, m_runs)):
        for kind, _t0, _t1 in runs:
            if kind == 'V':
                observed += [(mmsi, 'Dunai', 'Rajin'), (mmsi, 'Rajin', 'Dunai')]
    observed += [(HANSA, 'Busan', 'Dunai'), (HANSA, 'Dunai', 'Busan')] * 2
    dark_truth = [(ANGARA, 'Dunai', ('Rajin',)) for k in a_runs if k[0] == 'D'] + \
                 [(MARIA, 'Dunai', ('Rajin',)) for k in m_runs if k[0] == 'D']
    sc.truth = {
        'gaps': sorted(gaps), 'observed': sorted(observed), 'dark': sorted(dark_truth),
        'runs': {ANGARA: len(a_runs), MARIA: len(m_runs)},
        'vessels': sorted({r['mmsi'] for r in truth_rows}),
    }

    # ---- bad rows, exact counts
    by_vessel = {}
    for r in truth_rows:
        by_vessel.setdefault(r['mmsi'], []).append(r)
    hansa_sea = [r for r in by_vessel[HANSA] if r['status'] == 0]
    angara_sea = [r for r in by_vessel[ANGARA] if r['status'] == 0]
    bad = []
    for r in rng.sample(truth_rows, 5):
        bad.append(('exact duplicate', dict(r)))
    for r in rng.sample(by_vessel[HANSA], 3):
        bad.append(('repeated (vessel, time) report', dict(r, lat=round(r['lat'] + 0.001, 5))))
    for r in (angara_sea[len(angara_sea) // 3], hansa_sea[len(hansa_sea) // 2]):
        bad.append(('impossible jump', dict(r, t=r['t'] + 300, lat=round(r['lat'] + 1.5, 5))))
    for k in range(3):
        r = truth_rows[100 + k * 50]
        bad.append(('invalid MMSI', dict(r, mmsi=1234567 + k)))
    for k in range(3):
        r = by_vessel[HANSA][200 + k * 7]
        bad.append(('position not available', dict(r, t=r['t'] + 60, lon=181.0, lat=91.0)))
    for k in range(2):
        r = by_vessel[MARIA][300 + k * 11]
        bad.append(('position out of range', dict(r, t=r['t'] + 60, lat=95.5)))
    sc.bad = bad
    sc.line_faults = {'bad checksum': 4, 'truncated/garbled line': 3}  # written per format
    sc.swaps = 10
    return sc


def _all_rows(sc, rng):
    """Truth + bad rows in time order, then some neighbours swapped (out of order, to be sorted)."""
    rows = [(r['t'], 0, r) for r in sc.rows] + [(r['t'], 1, r) for _, r in sc.bad]
    rows.sort(key=lambda x: (x[0], x[1]))
    out = [r for _, _, r in rows]
    for k in range(sc.swaps):
        i = 300 + k * 550
        out[i], out[i + 1] = out[i + 1], out[i]
    return out


def expected_rejections(fmt):
    """Rejected rows per reason for write_nmea ('nmea') / write_csv ('csv')."""
    sc = make_scenario()
    counts = {}
    for reason, _ in sc.bad:
        counts[reason] = counts.get(reason, 0) + 1
    counts['truncated/garbled line'] = sc.line_faults['truncated/garbled line']
    if fmt == 'nmea':
        counts['bad checksum'] = sc.line_faults['bad checksum']
    return counts


def _nmea_checksum(body):
    x = 0
    for ch in body.encode():
        x ^= ch
    return '{:02X}'.format(x)


def write_nmea(sc, path, seed=1):
    """NMEA log: tag blocks (c: unix time) on 1/3 of the sentences, an ISO timestamp before the sentence on
    1/3, a unix timestamp before it on the rest; type 5 static messages (two sentences); the line faults."""
    from pyais.encode import encode_dict
    rng = random.Random(seed)
    rows = _all_rows(sc, rng)
    lines = []
    for mmsi, v in VESSELS.items():
        parts = encode_dict({'type': 5, 'mmsi': mmsi, 'shipname': v['name'], 'callsign': v['callsign'],
                             'imo': v['imo'], 'ship_type': v['ship_type'], 'destination': v['destination']},
                            talker_id='AI', sentence_type='VDM')
        for k, p in enumerate(parts):
            lines.append(_tag(T0 - 60 + k) + p)
    faults = []
    for n, r in enumerate(rows):
        sog = r['sog']
        msg = {'type': 1, 'mmsi': r['mmsi'], 'lon': r['lon'], 'lat': r['lat'], 'speed': sog,
               'course': r['cog'], 'heading': r['heading'], 'status': r['status']}
        s = encode_dict(msg, talker_id='AI', sentence_type='VDM')[0]
        mode = n % 3
        if mode == 0:
            line = _tag(r['t']) + s
        elif mode == 1:
            import datetime as dt
            line = dt.datetime.fromtimestamp(r['t'], dt.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ') + ' ' + s
        else:
            line = '{}.000 {}'.format(r['t'], s)
        lines.append(line)
        if n in (1000, 2500, 4000, 5500):  # an extra copy with a wrong checksum
            star = line.rfind('*')
            bad = line[:star + 1] + ('00' if line[star + 1:star + 3] != '00' else '11')
            faults.append(bad)
            lines.append(bad)
        if n in (1500, 3000, 4500):  # an extra copy cut in the middle
            star = line.rfind('*')
            lines.append(line[:star - 10])
    lines.insert(20, '# comment lines are ignored')
    lines.insert(40, '$GPGSV,3,1,10,03,39,230,23,08,31,170,31,10,08,058,31,11,65,149,31*76')
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    return path


def _tag(t):
    body = 's:cw-test,c:{}'.format(int(t))
    return '\\{}*{}\\'.format(body, _nmea_checksum(body))


DMA_HEADER = ('# Timestamp,Type of mobile,MMSI,Latitude,Longitude,Navigational status,ROT,SOG,COG,Heading,IMO,'
              'Callsign,Name,Ship type,Cargo type,Width,Length,Type of position fixing device,Draught,Destination,'
              'ETA,Data source type,A,B,C,D')
DMA_STATUS = {0: 'Under way using engine', 5: 'Moored', 7: 'Engaged in fishing', 1: 'At anchor'}


def write_csv(sc, path, layout='dma', seed=1):
    """CSV in the Danish Maritime Authority layout ('dma', d/m/Y times, text statuses) or NOAA
    MarineCadastre ('marinecadastre'); three truncated lines."""
    import datetime as dt
    rng = random.Random(seed)
    rows = _all_rows(sc, rng)
    out = []
    if layout == 'dma':
        out.append(DMA_HEADER)
    else:
        out.append('MMSI,BaseDateTime,LAT,LON,SOG,COG,Heading,VesselName,IMO,CallSign,VesselType,Status,Length,'
                   'Width,Draft,Cargo,TransceiverClass')
    for n, r in enumerate(rows):
        v = VESSELS.get(r['mmsi'], {'name': '', 'imo': 0, 'callsign': '', 'ship_type': 0, 'destination': ''})
        d = dt.datetime.fromtimestamp(r['t'], dt.timezone.utc)
        sog = '' if r['sog'] >= 102.3 else r['sog']
        cog = '' if r['cog'] >= 360 else r['cog']
        hdg = '' if r['heading'] >= 511 else r['heading']
        if layout == 'dma':
            line = ','.join(str(x) for x in (
                d.strftime('%d/%m/%Y %H:%M:%S'), 'Class A', r['mmsi'], r['lat'], r['lon'],
                DMA_STATUS.get(r['status'], 'Unknown value'), '', sog, cog, hdg,
                v['imo'] or 'Unknown', v['callsign'], v['name'], 'Cargo' if v['ship_type'] == 70 else
                ('Fishing' if v['ship_type'] == 30 else 'Tanker'), '', 20, 120, 'GPS', 7.5, v['destination'],
                '', 'AIS', 10, 100, 10, 10))
        else:
            line = ','.join(str(x) for x in (
                r['mmsi'], d.strftime('%Y-%m-%dT%H:%M:%S'), r['lat'], r['lon'], 102.3 if sog == '' else sog,
                360.0 if cog == '' else cog, 511 if hdg == '' else hdg, v['name'],
                'IMO{}'.format(v['imo']) if v['imo'] else '', v['callsign'], v['ship_type'], r['status'], 120, 20,
                7.5, 70, 'A'))
        out.append(line)
        if n in (1500, 3000, 4500):
            out.append(line[:len(line) // 3])
    with open(path, 'w') as f:
        f.write('\n'.join(out) + '\n')
    return path


def write_sites(sc, path, epsg=4326):
    """A GeoPackage of the three site polygons (field 'name'), with GDAL/OGR."""
    from osgeo import ogr, osr
    drv = ogr.GetDriverByName('GPKG')
    ds = drv.CreateDataSource(str(path))
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(epsg)
    srs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    lyr = ds.CreateLayer('sites', srs, ogr.wkbPolygon)
    lyr.CreateField(ogr.FieldDefn('name', ogr.OFTString))
    for name in SITES:
        f = ogr.Feature(lyr.GetLayerDefn())
        f.SetField('name', name)
        wkt = 'POLYGON(({}))'.format(','.join('{} {}'.format(x, y) for x, y in site_ring(name)))
        f.SetGeometry(ogr.CreateGeometryFromWkt(wkt))
        lyr.CreateFeature(f)
    ds = None
    return path


# Ships seen on images of the scenario, (place, hours after T0), and the truth: ANGARA at the Rajin quay 58-82 h
# of its first dark run (AIS off 49-91 h);
# MARIA at Rajin 170-194 h of her second dark run (off 161-203 h) while the ANGARA sails home with AIS on;
# DONGBANG 12 moored in Busan with AIS on (HANSA PIONEER at sea then); Rajin at 120 h: nobody dark there.
SIGHTINGS = [(SITES['Rajin'], 72), (SITES['Rajin'], 180), (SITES['Busan'], 150), (SITES['Rajin'], 120)]
