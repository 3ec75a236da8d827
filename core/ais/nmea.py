"""NMEA 0183 AIS (!xxVDM/!xxVDO, any talker) -> raw rows; pyais is imported only when NMEA is read."""
import datetime as _dt
import os
import re

import numpy as np

from ..errors import Cancelled, CargoWatchError
from .files import damage_notes, open_binary, progress_of
from .records import NO_TIME, R_CHECKSUM, R_GARBLED, RawRows
from .times import ms_int, parse_time_one
from .values import update_static

_PAYLOAD_RE = re.compile(r'[0-W`-w]+')  # the 64 characters of the AIS 6-bit armouring
_MIN_BITS = {1: 168, 2: 168, 3: 168, 18: 168, 19: 312, 27: 96, 5: 420, 24: 160, 4: 168, 11: 168}
_POSITION_TYPES = (1, 2, 3, 18, 19, 27)
_LINE_TIME_RE = re.compile(r'^\s*\[?\s*([0-9][0-9T:\-/. +]*[0-9Z])\s*\]?\s*[,;|\t ]?\s*$')


def _nmea_checksum_ok(body, given):
    x = 0
    for ch in body:
        x ^= ch
    try:
        return x == int(given, 16)
    except ValueError:
        return False


def _tag_time(tag):
    """NMEA 4 tag block content 's:..,c:1733782034*0A' -> unix ms or None (c in s, or ms if large);
    BAD_TIME when c is a number no date can have (infinite, beyond 64 bits)."""
    core_ = tag.split('*', 1)[0]
    for part in core_.split(','):
        if part.startswith('c:'):
            try:
                v = float(part[2:])
            except ValueError:
                return None
            return ms_int(v if v > 1e11 else v * 1000.0)
    return None


def _time_text_ms(s):
    s = s.strip().strip('[]').strip().rstrip(',;|').strip()
    if not s:
        return None
    return parse_time_one(s)


def _rmc_clock(fields):
    """$--RMC -> unix ms or None (fields: split on ',' without the checksum)."""
    try:
        tm, date = fields[1], fields[9]
        if len(tm) < 6 or len(date) != 6:
            return None
        h, mi, s = int(tm[0:2]), int(tm[2:4]), float(tm[4:])
        d, mo, y = int(date[0:2]), int(date[2:4]), 2000 + int(date[4:6])
        if y > 2079:
            y -= 100
        base = _dt.datetime(y, mo, d, h, mi, tzinfo=_dt.timezone.utc).timestamp()
        return ms_int((base + s) * 1000) if 0 <= s < 61 else None
    except (ValueError, IndexError):
        return None


def _zda_clock(fields):
    try:
        tm = fields[1]
        h, mi, s = int(tm[0:2]), int(tm[2:4]), float(tm[4:])
        d, mo, y = int(fields[2]), int(fields[3]), int(fields[4])
        base = _dt.datetime(y, mo, d, h, mi, tzinfo=_dt.timezone.utc).timestamp()
        return ms_int((base + s) * 1000) if 0 <= s < 61 else None
    except (ValueError, IndexError):
        return None


def _import_pyais():
    """pyais's decoder for a list of sentences (bytes) of one message; imported only when NMEA is read."""
    try:
        from pyais.messages import NMEAMessage
    except ImportError:
        raise CargoWatchError('reading NMEA AIS needs the Python package "pyais", which is not installed in '
                              "QGIS's Python: install it (pip install pyais) or import a CSV / JSON export instead.")

    def decode(*parts):
        if len(parts) == 1:
            return NMEAMessage(parts[0].encode('ascii')).decode()
        return NMEAMessage.assemble_from_iterable([NMEAMessage(p.encode('ascii')) for p in parts]).decode()
    return decode


def read_nmea(path, progress=None, cancelled=None, chunk_lines=200000):
    """NMEA 0183 !xxVDM/!xxVDO (any talker) -> (RawRows, static, notes).

    Time of each message, first found of: NMEA 4 tag block 'c:' (unix s or ms), a timestamp before the
    sentence on the line (ISO or unix, as receivers log), a timestamp after the checksum; else the receiver
    clock from the latest $--RMC/$--ZDA sentence; else the latest base station report (type 4, approximate);
    else the row is rejected as 'no timestamp'. Multi-sentence messages are assembled by (channel, sequence
    id); an incomplete one is rejected as truncated. Payloads shorter than their type needs are truncated.
    """
    decode = _import_pyais()
    raw = RawRows()
    static = {}
    total = os.path.getsize(path)
    n_other_ais = 0
    n_other_lines = 0
    pending = {}  # (talker-channel, seq) -> [first_line, total, next_no, [sentences], t_ms]
    clock = {'rmc': None, 'bs': None}
    buf = {k: [] for k in ('mmsi', 't_ms', 'lon', 'lat', 'sog', 'cog', 'heading', 'status', 'line')}
    lineno = 0

    def flush():
        if buf['mmsi']:
            raw.add(**{k: np.asarray(v) for k, v in buf.items()})
            for v in buf.values():
                v.clear()

    def emit(msg, t_ms, line):
        nonlocal n_other_ais
        mt = msg.msg_type
        if mt in (5, 24, 19):
            vals = {}
            if mt == 5:
                vals = {'name': msg.shipname, 'imo': msg.imo, 'callsign': msg.callsign,
                        'ship_type': int(msg.ship_type), 'destination': msg.destination}
            elif mt == 24:
                if getattr(msg, 'partno', 0) == 0:
                    vals = {'name': msg.shipname}
                else:
                    vals = {'callsign': msg.callsign, 'ship_type': int(msg.ship_type)}
            else:
                vals = {'name': msg.shipname, 'ship_type': int(msg.ship_type)}
            if msg.mmsi:
                update_static(static, int(msg.mmsi), vals)
        if mt in (4, 11):
            try:
                if msg.year and msg.month and msg.day:
                    clock['bs'] = int(_dt.datetime(msg.year, msg.month, msg.day, msg.hour, msg.minute,
                                                   min(msg.second, 59), tzinfo=_dt.timezone.utc)
                                      .timestamp() * 1000)
            except (ValueError, TypeError, OverflowError):
                pass
        if mt not in _POSITION_TYPES:
            if mt not in (5, 24):
                n_other_ais += 1
            return False
        if t_ms is None:
            t_ms = clock['rmc'] if clock['rmc'] is not None else clock['bs']
        buf['mmsi'].append(int(msg.mmsi))
        buf['t_ms'].append(NO_TIME if t_ms is None else t_ms)
        buf['lon'].append(float(msg.lon))
        buf['lat'].append(float(msg.lat))
        sp = getattr(msg, 'speed', None)
        co = getattr(msg, 'course', None)
        hd = getattr(msg, 'heading', None)
        st = getattr(msg, 'status', None)
        if mt == 27:
            sp = None if sp is None or sp >= 63 else sp
            co = None if co is None or co >= 511 else co
        buf['sog'].append(np.nan if sp is None else float(sp))
        buf['cog'].append(np.nan if co is None else float(co))
        buf['heading'].append(np.nan if hd is None else float(hd))
        buf['status'].append(-1 if st is None else int(st))
        buf['line'].append(line)
        return True

    with open_binary(path) as f:
        for rawline in f:
            lineno += 1
            if cancelled is not None and lineno % 20000 == 0:
                if cancelled():
                    raise Cancelled()
                if progress is not None:
                    progress(progress_of(f, total))
            line = rawline.decode('ascii', 'replace').strip()
            if not line or line[0] == '#':
                continue
            t_ms = None
            # NMEA 4 tag block(s) \...\ before the sentence
            while line.startswith('\\'):
                end = line.find('\\', 1)
                if end < 0:
                    break
                tt = _tag_time(line[1:end])
                if tt is not None:
                    t_ms = tt
                line = line[end + 1:]
            pos = line.find('!')
            if pos < 0:
                # not AIS: a receiver clock sentence, a comment...
                if line.startswith('$') or (line.find('$') > 0):
                    s = line[line.find('$'):]
                    fields = s.split('*', 1)[0].split(',')
                    kind = fields[0][3:6] if len(fields[0]) >= 6 else ''
                    if kind == 'RMC' and len(fields) > 9 and fields[2] == 'A':
                        c = _rmc_clock(fields)
                        if c is not None:
                            clock['rmc'] = c
                    elif kind == 'ZDA' and len(fields) > 4:
                        c = _zda_clock(fields)
                        if c is not None:
                            clock['rmc'] = c
                n_other_lines += 1
                continue
            if pos > 0 and t_ms is None:
                t_ms = _time_text_ms(line[:pos])
            sentence = line[pos:]
            star = sentence.find('*')
            head = sentence[:7] if len(sentence) >= 7 else sentence
            if not (len(head) >= 6 and head[3:6] in ('VDM', 'VDO')):
                n_other_lines += 1
                continue
            if star < 0 or len(sentence) < star + 3:
                raw.reject(lineno, R_GARBLED)
                continue
            body = sentence[1:star]
            given = sentence[star + 1:star + 3]
            after = sentence[star + 3:]
            if t_ms is None and after.strip(' ,;\t'):
                t_ms = _time_text_ms(after.strip(' ,;\t').split(',')[-1] if ',' in after else after)
            if not _nmea_checksum_ok(body.encode('ascii', 'replace'), given):
                raw.reject(lineno, R_CHECKSUM)
                continue
            fields = body.split(',')
            if len(fields) != 7:
                raw.reject(lineno, R_GARBLED)
                continue
            _talker, cnt, num, seq, chan, payload, fill = fields
            try:
                cnt = int(cnt)
                num = int(num)
                fill = int(fill) if fill else 0
            except ValueError:
                raw.reject(lineno, R_GARBLED)
                continue
            if not (1 <= num <= cnt <= 9) or not _PAYLOAD_RE.fullmatch(payload):
                raw.reject(lineno, R_GARBLED)
                continue
            full = sentence[:star + 3]
            if cnt > 1:
                key = (chan, seq, cnt)
                if num == 1:
                    old = pending.pop(key, None)
                    if old is not None:
                        raw.reject(old[0], R_GARBLED)  # incomplete message replaced by a new one
                    pending[key] = [lineno, cnt, 2, [full], t_ms, payload, fill]
                    continue
                cur = pending.get(key)
                if cur is None or cur[2] != num:
                    if cur is not None:
                        pending.pop(key)
                        raw.reject(cur[0], R_GARBLED)
                    raw.reject(lineno, R_GARBLED)
                    continue
                cur[3].append(full)
                cur[5] += payload
                cur[6] = fill
                if cur[4] is None:
                    cur[4] = t_ms
                if num < cnt:
                    cur[2] += 1
                    continue
                pending.pop(key)
                first_line, parts, t_ms, payload, fill = cur[0], cur[3], cur[4], cur[5], cur[6]
            else:
                first_line, parts = lineno, [full]
            # message type and length check before decoding
            mtype = (ord(payload[0]) - 48)
            mtype = mtype - 8 if mtype > 40 else mtype
            nbits = 6 * len(payload) - fill
            if nbits < _MIN_BITS.get(mtype, 38):
                raw.reject(first_line, R_GARBLED)
                continue
            try:
                msg = decode(*parts)
            except Exception:  # pyais raises many kinds on garbage
                raw.reject(first_line, R_GARBLED)
                continue
            emit(msg, t_ms, first_line)
            if len(buf['mmsi']) >= chunk_lines:
                flush()
        notes = damage_notes(f, lineno)
    for cur in pending.values():
        raw.reject(cur[0], R_GARBLED)
    flush()
    if n_other_ais:
        notes.append('{} other AIS messages (base stations, aids to navigation, binary...) not positions'
                     .format(n_other_ais))
    if n_other_lines:
        notes.append('{} non-AIS lines ignored (comments, $GP sentences; $--RMC/ZDA used as clock)'
                     .format(n_other_lines))
    return raw, static, notes
