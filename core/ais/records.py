"""The contract shared by the AIS readers: rejection reasons, column roles (with the header names
recognised for each), the raw rows a reader fills and the result of an import. No qgis import."""
import re

import numpy as np

from ..errors import CargoWatchError

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
REASON_CODE = {r: i for i, r in enumerate(REASONS)}

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


# ---------------------------------------------------------------------------------------------- CSV
def norm_name(name):
    return re.sub(r'[^a-z0-9]', '', name.strip().strip('"').lower())


def detect_layout(header):
    """Header names -> (layout name, role -> column index). Unknown columns are ignored."""
    norms = [norm_name(h) for h in header]
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
            syn = norm_name(syn)
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


def apply_mapping(header, auto, user):
    """Column names given by the user (role -> header name) override the detected ones."""
    mapping = dict(auto)
    norms = [norm_name(h) for h in header]
    for role, name in (user or {}).items():
        if not name:
            continue
        if role not in ROLES:
            raise CargoWatchError('unknown column role {!r}'.format(role))
        n = norm_name(name)
        if n not in norms:
            raise CargoWatchError('column {!r} (for {}) is not in the file; its columns are: {}'.format(
                name, role, ', '.join(h.strip() for h in header)))
        mapping[role] = norms.index(n)
    missing = [r for r in REQUIRED_ROLES if r not in mapping]
    if missing:
        raise CargoWatchError('cannot tell which column holds {} in this CSV (columns: {}); set the column '
                              'mapping parameters.'.format(', '.join(missing), ', '.join(h.strip() for h in header)))
    return mapping
