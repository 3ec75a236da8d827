"""AIS files on disk: gzip detected by its magic bytes (a damaged stream reads as ending there), format
sniffing, progress through a file, and the raw text of given lines."""
import gzip
import io
import os
import re
import zlib

import numpy as np

from ..errors import CargoWatchError

# ---------------------------------------------------------------------------------------------- files
class _GzipToDamage(io.RawIOBase):
    """A gzip file read up to where it is damaged or cut short (as transfers leave them): the damage ends the
    data, and ``damage`` says what it was (None while the stream is sound)."""

    def __init__(self, path):
        self._z = gzip.open(path, 'rb')
        self.fileobj = self._z.fileobj  # the compressed file, for progress
        self.damage = None

    def readable(self):
        return True

    def readinto(self, b):
        if self.damage:
            return 0
        try:
            data = self._z.read1(len(b))  # one decompressed chunk at a time: a damage loses no earlier data
        except (OSError, EOFError, zlib.error) as e:  # BadGzipFile is an OSError
            self.damage = str(e) or type(e).__name__
            return 0
        b[:len(data)] = data
        return len(data)

    def close(self):
        self._z.close()
        super().close()


def open_binary(path):
    """Binary file object; gzip detected by its magic bytes (not the extension). A damaged or cut gzip
    stream reads as ending there: see :func:`damage_notes`."""
    if not os.path.isfile(path):
        raise CargoWatchError('AIS file not found: {}'.format(path))
    with open(path, 'rb') as f:
        magic = f.read(2)
    if magic == b'\x1f\x8b':
        return io.BufferedReader(_GzipToDamage(path))
    return open(path, 'rb')


def damage_notes(f, lines_read):
    """Notes (list of str) on a gzip stream found damaged while reading ``f`` (from open_binary)."""
    damage = getattr(getattr(f, 'raw', None), 'damage', None)
    if not damage:
        return []
    return ['the compressed file is damaged or cut short after line {} ({}): the rest of it could not be read'
            .format(lines_read, damage)]


def _head(path, n=65536):
    with open_binary(path) as f:
        try:
            head = f.read(n)
        except OSError as e:
            raise CargoWatchError('cannot read {}: {}'.format(path, e))
        if not head and damage_notes(f, 0):
            raise CargoWatchError('cannot read {}: the compressed file is damaged ({})'.format(
                path, f.raw.damage))
        return head


_NMEA_RE = re.compile(rb'[!$][A-Z]{2}VD[MO],')


def sniff_format(path):
    """'nmea', 'jsonl' or 'csv' from the first 64 KiB."""
    head = _head(path)
    if not head.strip():
        raise CargoWatchError('the AIS file is empty: {}'.format(path))
    if _NMEA_RE.search(head):
        return 'nmea'
    for line in head.splitlines():
        s = line.strip()
        if not s:
            continue
        if s.startswith(b'{'):
            return 'jsonl'
        break
    return 'csv'


def progress_of(f, total):
    raw = getattr(getattr(f, 'raw', None), 'fileobj', None) or f
    try:
        return min(1.0, raw.tell() / float(total)) if total else 0.0
    except (OSError, ValueError, AttributeError):
        return 0.0


def read_source_lines(path, line_numbers):
    """The raw text of the given 1-based line numbers (for the REJECTED table): dict line -> str."""
    want = set(int(x) for x in np.asarray(line_numbers).tolist())
    out = {}
    if not want:
        return out
    last = max(want)
    with open_binary(path) as f:
        for k, line in enumerate(f, 1):
            if k in want:
                out[k] = line.decode('utf-8', 'replace').rstrip('\r\n')
            if k >= last:
                break
    return out
