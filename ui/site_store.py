"""Sites and their dated observations, stored in a GeoPackage the analyst chooses.

Plain sqlite3 writer that keeps a valid GeoPackage (application id, gpkg_spatial_ref_sys, gpkg_contents,
gpkg_geometry_columns, standard geometry blobs), so QGIS and OGR open the file like any other:

- ``sites`` (features, any geometry, EPSG:4326): name, kind, country, notes, plus the latest observation's
  date and counts kept up to date in the same transaction (for map labels);
- ``observations`` (attributes): site_fid, date, containers, teu, pits, source, note.

Every edit is one ``BEGIN IMMEDIATE ... COMMIT`` transaction in WAL mode with a busy timeout: a crash loses at
most the edit in flight, and two QGIS windows (or any two processes) writing the same file wait for each
other instead of corrupting it. Nothing here imports qgis.
"""

import datetime as _dt
import os
import sqlite3
import struct
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Optional

from ..core.errors import CargoWatchError

KINDS = ("port", "container terminal", "rail terminal", "depot", "airfield", "other")
SITE_FIELDS = ("name", "kind", "country", "notes")
_GPKG_APP_ID = 0x47504B47  # 'GPKG'
_GPKG_VERSION = 10200

_WGS84_WKT = (
    'GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563,AUTHORITY["EPSG","7030"]],'
    'AUTHORITY["EPSG","6326"]],PRIMEM["Greenwich",0,AUTHORITY["EPSG","8901"]],'
    'UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]],AXIS["Latitude",NORTH],'
    'AXIS["Longitude",EAST],AUTHORITY["EPSG","4326"]]'
)

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS gpkg_spatial_ref_sys (
  srs_name TEXT NOT NULL, srs_id INTEGER NOT NULL PRIMARY KEY, organization TEXT NOT NULL,
  organization_coordsys_id INTEGER NOT NULL, definition TEXT NOT NULL, description TEXT);
CREATE TABLE IF NOT EXISTS gpkg_contents (
  table_name TEXT NOT NULL PRIMARY KEY, data_type TEXT NOT NULL, identifier TEXT UNIQUE,
  description TEXT DEFAULT '', last_change DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE, srs_id INTEGER,
  CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys(srs_id));
CREATE TABLE IF NOT EXISTS gpkg_geometry_columns (
  table_name TEXT NOT NULL, column_name TEXT NOT NULL, geometry_type_name TEXT NOT NULL,
  srs_id INTEGER NOT NULL, z TINYINT NOT NULL, m TINYINT NOT NULL,
  CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name),
  CONSTRAINT uk_gc_table_name UNIQUE (table_name),
  CONSTRAINT fk_gc_tn FOREIGN KEY (table_name) REFERENCES gpkg_contents(table_name),
  CONSTRAINT fk_gc_srs FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys (srs_id));
INSERT OR IGNORE INTO gpkg_spatial_ref_sys VALUES
  ('Undefined cartesian SRS', -1, 'NONE', -1, 'undefined', 'undefined cartesian coordinate reference system'),
  ('Undefined geographic SRS', 0, 'NONE', 0, 'undefined', 'undefined geographic coordinate reference system'),
  ('WGS 84 geodetic', 4326, 'EPSG', 4326, '{_WGS84_WKT}', 'longitude/latitude coordinates in decimal degrees');
CREATE TABLE IF NOT EXISTS sites (
  fid INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, geom GEOMETRY,
  name TEXT NOT NULL, kind TEXT, country TEXT, notes TEXT,
  last_date DATE, last_containers INTEGER, last_teu REAL, last_pits INTEGER, n_obs INTEGER DEFAULT 0,
  updated DATETIME);
CREATE TABLE IF NOT EXISTS observations (
  fid INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  site_fid INTEGER NOT NULL, date DATE NOT NULL, containers INTEGER, teu REAL, pits INTEGER,
  source TEXT, note TEXT, created DATETIME);
CREATE INDEX IF NOT EXISTS observations_site ON observations(site_fid, date);
INSERT OR IGNORE INTO gpkg_contents (table_name, data_type, identifier, description, srs_id)
  VALUES ('sites', 'features', 'sites', 'CargoWatch sites', 4326);
INSERT OR IGNORE INTO gpkg_contents (table_name, data_type, identifier, description)
  VALUES ('observations', 'attributes', 'observations', 'CargoWatch dated observations per site');
INSERT OR IGNORE INTO gpkg_geometry_columns VALUES ('sites', 'geom', 'GEOMETRY', 4326, 0, 0);
"""


class SiteStoreError(CargoWatchError):
    """The sites GeoPackage cannot be read or written (locked, read-only, not a CargoWatch file)."""


@dataclass
class Site:
    fid: int
    name: str
    kind: str = ""
    country: str = ""
    notes: str = ""
    wkb: Optional[bytes] = None
    last_date: Optional[str] = None
    last_containers: Optional[int] = None
    last_teu: Optional[float] = None
    last_pits: Optional[int] = None
    n_obs: int = 0


@dataclass
class Observation:
    fid: int
    site_fid: int
    date: str
    containers: Optional[int] = None
    teu: Optional[float] = None
    pits: Optional[int] = None
    source: str = ""
    note: str = ""
    extra: dict = field(default_factory=dict)


# --- geometry blobs (GeoPackage binary = header + ISO WKB) -----------------------------------------------

def _wkb_envelope(wkb):
    """(minx, maxx, miny, maxy) of 2D point/linestring/polygon/multi* WKB, computed with OGR."""
    from osgeo import ogr

    g = ogr.CreateGeometryFromWkb(bytes(wkb))
    if g is None:
        raise SiteStoreError("The site geometry is not valid WKB.")
    return g.GetEnvelope(), g.IsEmpty()


def gpkg_blob(wkb, srs_id=4326):
    """GeoPackage geometry blob for WKB: magic 'GP', version 0, flags (little endian, xy envelope)."""
    env, empty = _wkb_envelope(wkb)
    if empty:
        return b"GP" + struct.pack("<BBi", 0, 0x01 | 0x10, srs_id) + bytes(wkb)
    return b"GP" + struct.pack("<BBi4d", 0, 0x01 | 0x02, srs_id, *env) + bytes(wkb)


def wkb_from_blob(blob):
    """WKB inside a GeoPackage geometry blob (any envelope type, either byte order)."""
    if blob is None:
        return None
    blob = bytes(blob)
    if blob[:2] != b"GP":
        raise SiteStoreError("A site geometry is not a GeoPackage geometry blob.")
    flags = blob[3]
    env_len = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}.get((flags >> 1) & 0x07, 0)
    return blob[8 + env_len:]


def wkt_to_wkb(wkt):
    from osgeo import ogr

    g = ogr.CreateGeometryFromWkt(wkt)
    if g is None:
        raise SiteStoreError(f"Not a geometry: {wkt[:60]}")
    g.FlattenTo2D()
    return bytes(g.ExportToIsoWkb())


def _now():
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z"


def _date(value):
    """ISO date 'YYYY-MM-DD' from a str, date or datetime (QDate via toPyDate() before)."""
    if isinstance(value, _dt.datetime):
        return value.date().isoformat()
    if isinstance(value, _dt.date):
        return value.isoformat()
    text = str(value or "").strip()
    try:
        return _dt.date.fromisoformat(text[:10]).isoformat()
    except ValueError:
        raise SiteStoreError(f"'{text}' is not a date (expected YYYY-MM-DD).") from None


def _opt_int(v):
    if v is None or v == "":
        return None
    return int(round(float(v)))


def _opt_float(v):
    if v is None or v == "":
        return None
    return float(v)


class SiteStore:
    """One GeoPackage of sites and observations. Open with ``SiteStore(path)``; ``close()`` when done."""

    def __init__(self, path, create=True, timeout_s=5.0, read_only=None):
        self.path = os.path.abspath(str(path))
        self.timeout_s = float(timeout_s)
        exists = os.path.exists(self.path)
        if not exists and not create:
            raise SiteStoreError(f"The sites GeoPackage {self.path} does not exist.")
        folder = os.path.dirname(self.path)
        if not exists and not os.access(folder, os.W_OK):
            raise SiteStoreError(f"Cannot create {self.path}: the folder is read-only. Choose another file.")
        if read_only is None:  # as the file system says; True opens a writable file read-only
            read_only = exists and not os.access(self.path, os.W_OK)
        self.read_only = bool(read_only) and exists
        if self.read_only:
            uri = "file:" + self.path + "?mode=ro"
        else:
            uri = "file:" + self.path
        try:
            self._con = sqlite3.connect(uri, uri=True, timeout=self.timeout_s, isolation_level=None,
                                        check_same_thread=False)
            self._con.row_factory = sqlite3.Row
            self._con.execute(f"PRAGMA busy_timeout={int(self.timeout_s * 1000)}")
            if not self.read_only:
                self._init_schema(exists)
            self._check()
        except sqlite3.DatabaseError as e:
            self._close_quietly()
            raise self._error(e, "open") from None

    # --- housekeeping -------------------------------------------------------------------------------

    def _init_schema(self, exists):
        con = self._con
        have = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if not {"sites", "observations", "gpkg_contents"} <= have:
            if exists and have and "gpkg_contents" not in have:
                raise SiteStoreError(f"{self.path} is an SQLite file but not a GeoPackage; choose another file.")
            # the header fields GDAL checks by reading the file's first bytes are written before WAL is on
            with self._transaction() as cur:
                if not have:
                    cur.execute(f"PRAGMA application_id={_GPKG_APP_ID}")
                    cur.execute(f"PRAGMA user_version={_GPKG_VERSION}")
                for stmt in _SCHEMA.split(";\n"):
                    if stmt.strip():
                        cur.execute(stmt)
        if con.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
            con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=FULL")  # an edit is on disk when the form closes

    def _check(self):
        have = {r[0] for r in self._con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if not {"sites", "observations"} <= have:
            raise SiteStoreError(f"{self.path} is not a CargoWatch sites GeoPackage (no sites/observations "
                                 "tables); choose another file.")

    def _close_quietly(self):
        try:
            self._con.close()
        except Exception:  # noqa: BLE001 - already failing
            pass

    def close(self):
        if self._con is not None:
            self._close_quietly()
            self._con = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _error(self, e, what):
        msg = str(e).lower()
        if "locked" in msg or "busy" in msg:
            return SiteStoreError(f"The sites GeoPackage {self.path} is locked by another program "
                                  f"(waited {self.timeout_s:g} s); nothing was changed, try again.")
        if "readonly" in msg or "read-only" in msg or "permission" in msg:
            return SiteStoreError(f"The sites GeoPackage {self.path} is read-only; nothing was changed. "
                                  "Choose a writable file.")
        if "not a database" in msg or "malformed" in msg:
            return SiteStoreError(f"{self.path} is not a valid GeoPackage ({e}).")
        return SiteStoreError(f"Could not {what} the sites GeoPackage {self.path}: {e}")

    @contextmanager
    def _transaction(self):
        if self._con is None:
            raise SiteStoreError("The sites GeoPackage is closed.")
        if self.read_only:
            raise SiteStoreError(f"The sites GeoPackage {self.path} is read-only; nothing was changed. "
                                 "Choose a writable file.")
        cur = self._con.cursor()
        try:
            cur.execute("BEGIN IMMEDIATE")
        except sqlite3.DatabaseError as e:
            raise self._error(e, "write") from None
        try:
            yield cur
            cur.execute("COMMIT")
        except BaseException as e:
            try:
                cur.execute("ROLLBACK")
            except sqlite3.DatabaseError:
                pass
            if isinstance(e, sqlite3.DatabaseError):
                raise self._error(e, "write") from None
            raise

    def _touch(self, cur, table):
        cur.execute("UPDATE gpkg_contents SET last_change=? WHERE table_name=?", (_now(), table))
        if table == "sites":
            row = cur.execute("SELECT COUNT(*) FROM sites").fetchone()
            if row[0]:
                env = [None, None, None, None]
                for (blob,) in cur.execute("SELECT geom FROM sites WHERE geom IS NOT NULL"):
                    wkb = wkb_from_blob(blob)
                    (x0, x1, y0, y1), empty = _wkb_envelope(wkb)
                    if empty:
                        continue
                    env = [x0 if env[0] is None else min(env[0], x0), y0 if env[1] is None else min(env[1], y0),
                           x1 if env[2] is None else max(env[2], x1), y1 if env[3] is None else max(env[3], y1)]
                cur.execute("UPDATE gpkg_contents SET min_x=?, min_y=?, max_x=?, max_y=? WHERE table_name='sites'",
                            env)

    # --- reading ------------------------------------------------------------------------------------

    def data_version(self):
        """Changes when another connection (another QGIS window, a script) commits to the file."""
        return self._read("PRAGMA data_version")[0][0]

    def _read(self, sql, args=()):
        if self._con is None:
            raise SiteStoreError("The sites GeoPackage is closed.")
        try:
            return self._con.execute(sql, args).fetchall()
        except sqlite3.DatabaseError as e:
            raise self._error(e, "read") from None

    @staticmethod
    def _site(row):
        return Site(fid=row["fid"], name=row["name"] or "", kind=row["kind"] or "", country=row["country"] or "",
                    notes=row["notes"] or "", wkb=wkb_from_blob(row["geom"]), last_date=row["last_date"],
                    last_containers=row["last_containers"], last_teu=row["last_teu"], last_pits=row["last_pits"],
                    n_obs=row["n_obs"] or 0)

    def sites(self):
        return [self._site(r) for r in self._read("SELECT * FROM sites ORDER BY name COLLATE NOCASE, fid")]

    def site(self, fid):
        rows = self._read("SELECT * FROM sites WHERE fid=?", (int(fid),))
        if not rows:
            raise SiteStoreError(f"Site {fid} no longer exists (deleted from another window?).")
        return self._site(rows[0])

    def observations(self, site_fid=None):
        sql = "SELECT * FROM observations"
        args = ()
        if site_fid is not None:
            sql += " WHERE site_fid=?"
            args = (int(site_fid),)
        rows = self._read(sql + " ORDER BY date, fid", args)
        return [Observation(fid=r["fid"], site_fid=r["site_fid"], date=r["date"], containers=r["containers"],
                            teu=r["teu"], pits=r["pits"], source=r["source"] or "", note=r["note"] or "")
                for r in rows]

    # --- writing sites --------------------------------------------------------------------------------

    def add_site(self, name, wkb=None, kind="", country="", notes="", wkt=None):
        name = (name or "").strip()
        if not name:
            raise SiteStoreError("A site needs a name.")
        if wkt is not None:
            wkb = wkt_to_wkb(wkt)
        if wkb is None:
            raise SiteStoreError("A site needs a location (point or polygon).")
        blob = gpkg_blob(wkb)
        with self._transaction() as cur:
            cur.execute("INSERT INTO sites (geom, name, kind, country, notes, n_obs, updated) "
                        "VALUES (?,?,?,?,?,0,?)", (blob, name, kind or "", country or "", notes or "", _now()))
            fid = cur.lastrowid
            self._touch(cur, "sites")
        return fid

    def update_site(self, fid, wkb=None, wkt=None, **fields):
        bad = set(fields) - set(SITE_FIELDS)
        if bad:
            raise SiteStoreError(f"Unknown site fields: {sorted(bad)}")
        if "name" in fields and not (fields["name"] or "").strip():
            raise SiteStoreError("A site needs a name.")
        if wkt is not None:
            wkb = wkt_to_wkb(wkt)
        sets, args = [], []
        for k, v in fields.items():
            sets.append(f"{k}=?")
            args.append((v or "").strip() if isinstance(v, str) else v)
        if wkb is not None:
            sets.append("geom=?")
            args.append(gpkg_blob(wkb))
        sets.append("updated=?")
        args.append(_now())
        with self._transaction() as cur:
            cur.execute(f"UPDATE sites SET {', '.join(sets)} WHERE fid=?", args + [int(fid)])
            if cur.rowcount == 0:
                raise SiteStoreError(f"Site {fid} no longer exists (deleted from another window?).")
            self._touch(cur, "sites")

    def delete_site(self, fid):
        with self._transaction() as cur:
            cur.execute("DELETE FROM observations WHERE site_fid=?", (int(fid),))
            cur.execute("DELETE FROM sites WHERE fid=?", (int(fid),))
            self._touch(cur, "sites")
            self._touch(cur, "observations")

    # --- writing observations -------------------------------------------------------------------------

    @staticmethod
    def _obs_values(fields):
        out = {}
        for k, v in fields.items():
            if k == "date":
                out[k] = _date(v)
            elif k in ("containers", "pits"):
                out[k] = _opt_int(v)
                if out[k] is not None and out[k] < 0:
                    raise SiteStoreError(f"{k} cannot be negative.")
            elif k == "teu":
                out[k] = _opt_float(v)
                if out[k] is not None and out[k] < 0:
                    raise SiteStoreError("TEU cannot be negative.")
            elif k in ("source", "note"):
                out[k] = (v or "").strip()
            else:
                raise SiteStoreError(f"Unknown observation field: {k}")
        return out

    def _refresh_latest(self, cur, site_fid):
        row = cur.execute("SELECT date, containers, teu, pits FROM observations WHERE site_fid=? "
                          "ORDER BY date DESC, fid DESC LIMIT 1", (site_fid,)).fetchone()
        n = cur.execute("SELECT COUNT(*) FROM observations WHERE site_fid=?", (site_fid,)).fetchone()[0]
        vals = tuple(row) if row else (None, None, None, None)
        cur.execute("UPDATE sites SET last_date=?, last_containers=?, last_teu=?, last_pits=?, n_obs=?, updated=? "
                    "WHERE fid=?", vals + (n, _now(), site_fid))

    def add_observation(self, site_fid, date, containers=None, teu=None, pits=None, source="", note=""):
        vals = self._obs_values(dict(date=date, containers=containers, teu=teu, pits=pits, source=source,
                                     note=note))
        with self._transaction() as cur:
            if not cur.execute("SELECT 1 FROM sites WHERE fid=?", (int(site_fid),)).fetchone():
                raise SiteStoreError(f"Site {site_fid} no longer exists (deleted from another window?).")
            cur.execute("INSERT INTO observations (site_fid, date, containers, teu, pits, source, note, created) "
                        "VALUES (?,?,?,?,?,?,?,?)",
                        (int(site_fid), vals["date"], vals["containers"], vals["teu"], vals["pits"],
                         vals["source"], vals["note"], _now()))
            fid = cur.lastrowid
            self._refresh_latest(cur, int(site_fid))
            self._touch(cur, "observations")
        return fid

    def update_observation(self, fid, **fields):
        vals = self._obs_values(fields)
        if not vals:
            return
        with self._transaction() as cur:
            row = cur.execute("SELECT site_fid FROM observations WHERE fid=?", (int(fid),)).fetchone()
            if not row:
                raise SiteStoreError(f"Observation {fid} no longer exists.")
            cur.execute(f"UPDATE observations SET {', '.join(k + '=?' for k in vals)} WHERE fid=?",
                        list(vals.values()) + [int(fid)])
            self._refresh_latest(cur, row[0])
            self._touch(cur, "observations")

    def delete_observation(self, fid):
        with self._transaction() as cur:
            row = cur.execute("SELECT site_fid FROM observations WHERE fid=?", (int(fid),)).fetchone()
            if not row:
                return
            cur.execute("DELETE FROM observations WHERE fid=?", (int(fid),))
            self._refresh_latest(cur, row[0])
            self._touch(cur, "observations")
