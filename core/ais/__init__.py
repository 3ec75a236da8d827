"""Read raw AIS (NMEA 0183, CSV exports, JSON lines; gzip'd or not) into clean position columns.

No qgis import. numpy + stdlib (csv, json, gzip); pyais is imported lazily, only when NMEA is read.
One module per step: ``records`` (reasons, roles, results), ``files``, ``times``, ``values``, the readers
``nmea``, ``delimited`` (CSV), ``jsonl``, then ``clean``; ``defaults`` holds the analysis settings shared by
the dock and the algorithms.

Result columns (the contract shared with tracks/gaps/voyages and the dock): a dict of equal-length arrays
``mmsi`` int64, ``t`` int64 (unix seconds UTC), ``lon``/``lat`` float64, ``sog``/``cog``/``heading`` float32
(nan = not available), ``status`` int16 (-1 = not available), sorted by mmsi then t; static/voyage data as
dict mmsi -> dict(name, imo, callsign, ship_type, destination) (the latest non-empty value of each).

Cleaning (``clean``) counts every rejected row by reason (see REASONS). Out-of-order rows are sorted, never
dropped; speed 102.3, course 360 and heading 511 mean "not available" and become nan (the position is kept).
"""
import numpy as np

from ..errors import CargoWatchError
from .clean import clean, valid_mmsi
from .delimited import read_csv
from .files import open_binary, read_source_lines, sniff_format
from .jsonl import read_jsonl
from .nmea import read_nmea
from .records import (BAD_TIME, NO_TIME, R_CHECKSUM, R_DUP, R_GARBLED, R_JUMP, R_MMSI, R_NOPOS, R_NOTIME,
                      R_RANGE, R_REPEAT, R_TIME, REASONS, REQUIRED_ROLES, ROLES, STATIC_KEYS, AisImport, RawRows,
                      detect_layout, ship_type_text)
from .times import parse_times, times_ms
from .values import static_from_columns, status_codes, to_float, to_mmsi

__all__ = ['AisImport', 'BAD_TIME', 'NO_TIME', 'RawRows', 'REASONS', 'REQUIRED_ROLES', 'ROLES', 'STATIC_KEYS',
           'R_CHECKSUM', 'R_DUP', 'R_GARBLED', 'R_JUMP', 'R_MMSI', 'R_NOPOS', 'R_NOTIME', 'R_RANGE', 'R_REPEAT',
           'R_TIME', 'clean', 'detect_layout', 'import_from_raw', 'open_binary', 'parse_times', 'read_ais',
           'read_csv', 'read_jsonl', 'read_nmea', 'read_source_lines', 'ship_type_text', 'sniff_format',
           'static_from_columns', 'status_codes', 'times_ms', 'to_float', 'to_mmsi', 'valid_mmsi']


def import_from_raw(raw, static, fmt, notes, max_speed_kn=50.0, progress=None, cancelled=None):
    """RawRows (+ its parser rejects) -> AisImport (cleaning, counting)."""
    res = AisImport()
    res.fmt = fmt
    rc = raw.columns()
    cols, rej_line, rej_code, cnotes = clean(rc, max_speed_kn, progress, cancelled)
    res.cols = cols
    res.static = static
    lines = np.concatenate([np.asarray(raw.rej_line, dtype=np.int64), rej_line])
    reasons = np.concatenate([np.asarray(raw.rej_reason, dtype=object),
                              np.asarray(REASONS, dtype=object)[rej_code.astype(np.int64)]
                              if len(rej_code) else np.zeros(0, dtype=object)])
    o = np.argsort(lines, kind='stable')
    res.rejected_line = lines[o]
    res.rejected_reason = reasons[o]
    for r in REASONS:
        res.reasons[r] = int(np.count_nonzero(res.rejected_reason == r)) if len(reasons) else 0
    res.rows_kept = len(cols['mmsi'])
    res.rows_rejected = len(lines)
    res.rows_read = res.rows_kept + res.rows_rejected
    res.notes = list(notes) + cnotes
    vessels = set(np.unique(cols['mmsi']).tolist()) if res.rows_kept else set()
    res.notes.append('{} vessels; static data for {}'.format(len(vessels), sum(1 for m in static if m in vessels)))
    return res


def read_ais(path, fmt='auto', mapping=None, max_speed_kn=50.0, progress=None, cancelled=None):
    """Read and clean an AIS file (NMEA, CSV, JSON lines; gzip'd too) -> AisImport.

    fmt: 'auto', 'nmea', 'csv' or 'jsonl'. mapping: role -> column/key name for CSV and JSON lines
    (roles: ROLES). max_speed_kn: implied speed above which a fix is an impossible jump (0 disables).
    """
    def sub(a, b):
        if progress is None:
            return None
        return lambda x: progress(a + (b - a) * max(0.0, min(1.0, x)))

    if fmt in (None, '', 'auto'):
        fmt = sniff_format(path)
    if fmt == 'nmea':
        raw, static, notes = read_nmea(path, sub(0.0, 0.8), cancelled)
        name = 'NMEA'
    elif fmt == 'jsonl':
        raw, static, notes = read_jsonl(path, mapping, sub(0.0, 0.8), cancelled)
        name = 'JSON lines'
    elif fmt == 'csv':
        raw, static, layout, notes = read_csv(path, mapping, sub(0.0, 0.8), cancelled)
        name = 'CSV ({})'.format(layout)
    else:
        raise CargoWatchError('unknown AIS format {!r}'.format(fmt))
    return import_from_raw(raw, static, name, notes, max_speed_kn, sub(0.8, 1.0), cancelled)

