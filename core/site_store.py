"""Sites and their dated observations, stored in a GeoPackage the analyst chooses, written through OGR.

Two layers, created by OGR's GeoPackage driver, so QGIS opens the file like any other:

- ``sites`` (features, any geometry, EPSG:4326): name, kind, country, notes, plus the latest observation's
  date and counts kept up to date in the same transaction (for map labels);
- ``observations`` (attributes): site_fid, date, containers, teu, pits, source, note.

Every edit is one OGR transaction (an SQLite transaction of the GeoPackage, in WAL mode, synchronous=FULL): an
edit interrupted half-way (an error, QGIS killed) leaves the file as it was before the edit, and a committed
edit is on disk when the form closes. Two QGIS windows (or any two processes) writing the same file wait for
each other (a busy timeout, then the whole edit is retried until ``timeout_s``) instead of corrupting it.
Nothing here imports qgis.
"""

import datetime as _dt
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Optional

from osgeo import gdal, ogr, osr

from .errors import CargoWatchError

KINDS = ("port", "container terminal", "rail terminal", "depot", "airfield", "other")
SITE_FIELDS = ("name", "kind", "country", "notes")
_SITE_SCHEMA = (("name", ogr.OFTString), ("kind", ogr.OFTString), ("country", ogr.OFTString),
                ("notes", ogr.OFTString), ("last_date", ogr.OFTDate), ("last_containers", ogr.OFTInteger64),
                ("last_teu", ogr.OFTReal), ("last_pits", ogr.OFTInteger64), ("n_obs", ogr.OFTInteger64),
                ("updated", ogr.OFTDateTime))
_OBS_SCHEMA = (("site_fid", ogr.OFTInteger64), ("date", ogr.OFTDate), ("containers", ogr.OFTInteger64),
               ("teu", ogr.OFTReal), ("pits", ogr.OFTInteger64), ("source", ogr.OFTString), ("note", ogr.OFTString),
               ("created", ogr.OFTDateTime))
_LATEST = ("date", "containers", "teu", "pits")  # copied onto the site as last_<name>


class SiteStoreError(CargoWatchError):
    """The sites GeoPackage cannot be read or written (locked, read-only, not a CargoWatch file)."""


class _Busy(Exception):
    """Another connection holds the write lock: the edit is rolled back and tried again."""


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


# --- values ------------------------------------------------------------------------------------------------

def geometry(wkb=None, wkt=None):
    """A 2D ogr.Geometry from WKB or WKT; SiteStoreError if it is neither."""
    g = ogr.CreateGeometryFromWkt(wkt) if wkt is not None else ogr.CreateGeometryFromWkb(bytes(wkb))
    if g is None:
        raise SiteStoreError(f"Not a geometry: {(wkt or '')[:60]}" if wkt is not None else
                             "The site geometry is not valid WKB.")
    g.FlattenTo2D()
    return g


def _now():
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


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
    return None if v is None or v == "" else int(round(float(v)))


def _opt_float(v):
    return None if v is None or v == "" else float(v)


def _obs_values(fields):
    """Observation fields checked and normalised; SiteStoreError (nothing written) on a bad one."""
    out = {}
    for k, v in fields.items():
        if k == "date":
            out[k] = _date(v)
        elif k in ("containers", "pits", "teu"):
            out[k] = _opt_float(v) if k == "teu" else _opt_int(v)
            if out[k] is not None and out[k] < 0:
                raise SiteStoreError(f"{'TEU' if k == 'teu' else k} cannot be negative.")
        elif k in ("source", "note"):
            out[k] = (v or "").strip()
        else:
            raise SiteStoreError(f"Unknown observation field: {k}")
    return out


def _get(feature, name):
    """A field's value as Python (None when unset; dates as 'YYYY-MM-DD')."""
    i = feature.GetFieldIndex(name)
    if i < 0 or not feature.IsFieldSetAndNotNull(i):
        return None
    if feature.GetFieldType(i) == ogr.OFTDate:
        y, m, d = feature.GetFieldAsDateTime(i)[:3]
        return f"{y:04d}-{m:02d}-{d:02d}"
    return feature.GetField(i)


def _set(feature, values):
    for k, v in values.items():
        if v is None:
            feature.SetFieldNull(k)
        else:
            feature.SetField(k, v)


# --- the store ---------------------------------------------------------------------------------------------

class SiteStore:
    """One GeoPackage of sites and observations. Open with ``SiteStore(path)``; ``close()`` when done."""

    def __init__(self, path, create=True, timeout_s=5.0, read_only=None):
        self.path = os.path.abspath(str(path))
        self._ds = None
        self._timeout_s = float(timeout_s)
        exists = os.path.exists(self.path)
        if not exists and not create:
            raise SiteStoreError(f"The sites GeoPackage {self.path} does not exist.")
        if not exists and not os.access(os.path.dirname(self.path), os.W_OK):
            raise SiteStoreError(f"Cannot create {self.path}: the folder is read-only. Choose another file.")
        if read_only is None:  # as the file system says; True opens a writable file read-only
            read_only = exists and not os.access(self.path, os.W_OK)
        self.read_only = bool(read_only) and exists
        if not exists:
            self._create()
        self._ds = self._open(update=not self.read_only)
        self._check()

    # --- opening ------------------------------------------------------------------------------------

    def _create(self):
        """A new GeoPackage with both layers, written and closed before WAL is switched on (so its header, which
        GDAL reads to recognise a GeoPackage, is in the main file while the store is open)."""
        ds = ogr.GetDriverByName("GPKG").CreateDataSource(self.path)
        if ds is None:
            raise SiteStoreError(f"Cannot create {self.path}: {gdal.GetLastErrorMsg()}")
        self._add_layers(ds)
        ds = None  # noqa: F841 - closing writes the file

    @staticmethod
    def _add_layers(ds):
        names = {ds.GetLayer(i).GetName() for i in range(ds.GetLayerCount())}
        wgs84 = osr.SpatialReference()
        wgs84.ImportFromEPSG(4326)
        for name, srs, gtype, schema in (("sites", wgs84, ogr.wkbUnknown, _SITE_SCHEMA),
                                         ("observations", None, ogr.wkbNone, _OBS_SCHEMA)):
            if name in names:
                continue
            lyr = ds.CreateLayer(name, srs, gtype, options=["FID=fid", "GEOMETRY_NAME=geom", "SPATIAL_INDEX=NO",
                                                            "DESCRIPTION=CargoWatch " + name])
            for field, kind in schema:
                lyr.CreateField(ogr.FieldDefn(field, kind))
        ds.ExecuteSQL("CREATE INDEX IF NOT EXISTS observations_site ON observations(site_fid, date)")

    def _open(self, update):
        with _quiet():
            ds = gdal.OpenEx(self.path, gdal.OF_VECTOR | (gdal.OF_UPDATE if update else gdal.OF_READONLY),
                             allowed_drivers=["GPKG"])
            msg = gdal.GetLastErrorMsg()
        if ds is None:
            if "gpkg_contents" in msg or "gpkg_spatial_ref_sys" in msg:
                raise SiteStoreError(f"{self.path} is an SQLite file but not a GeoPackage; choose another file.")
            raise SiteStoreError(f"{self.path} is not a valid GeoPackage ({msg or 'OGR cannot open it'}).")
        self._pragma(ds, f"busy_timeout={int(self.timeout_s * 1000)}")
        if update:
            if self._pragma(ds, "journal_mode").lower() != "wal":
                self._pragma(ds, "journal_mode=WAL")  # readers never wait for a writer
            self._pragma(ds, "synchronous=FULL")  # an edit is on disk when the form closes
        return ds

    @staticmethod
    def _pragma(ds, text):
        res = ds.ExecuteSQL("PRAGMA " + text)
        if res is None:
            return ""
        f = res.GetNextFeature()
        value = str(f.GetField(0)) if f is not None else ""
        ds.ReleaseResultSet(res)
        return value

    def _check(self):
        have = {self._ds.GetLayer(i).GetName() for i in range(self._ds.GetLayerCount())}
        if not {"sites", "observations"} <= have and not self.read_only:
            with self._transaction():  # a GeoPackage of the analyst's: the two layers are added to it
                self._add_layers(self._ds)
            have = {self._ds.GetLayer(i).GetName() for i in range(self._ds.GetLayerCount())}
        if not {"sites", "observations"} <= have:
            self.close()
            raise SiteStoreError(f"{self.path} is not a CargoWatch sites GeoPackage (no sites/observations "
                                 "layers); choose another file.")

    @property
    def timeout_s(self):
        """How long an edit waits for another program's write lock before it gives up (seconds)."""
        return self._timeout_s

    @timeout_s.setter
    def timeout_s(self, seconds):
        self._timeout_s = float(seconds)
        if self._ds is not None:
            self._pragma(self._ds, f"busy_timeout={int(self._timeout_s * 1000)}")

    def close(self):
        self._ds = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _layer(self, name):
        if self._ds is None:
            raise SiteStoreError("The sites GeoPackage is closed.")
        return self._ds.GetLayerByName(name)

    # --- transactions -------------------------------------------------------------------------------

    def _error(self, msg, what):
        low = msg.lower()
        if "locked" in low or "busy" in low:
            return SiteStoreError(f"The sites GeoPackage {self.path} is locked by another program "
                                  f"(waited {self.timeout_s:g} s); nothing was changed, try again.")
        if "readonly" in low or "read-only" in low or "permission" in low:
            return SiteStoreError(f"The sites GeoPackage {self.path} is read-only; nothing was changed. "
                                  "Choose a writable file.")
        return SiteStoreError(f"Could not {what} the sites GeoPackage {self.path}: {msg}")

    def _ok(self, err, what="write"):
        """An OGR return code checked: a busy file raises _Busy (the edit is retried), other errors raise."""
        if err not in (0, None):
            msg = gdal.GetLastErrorMsg() or f"OGR error {err}"
            if "locked" in msg.lower() or "busy" in msg.lower():
                raise _Busy(msg)
            raise self._error(msg, what)

    @contextmanager
    def _transaction(self):
        """One all-or-nothing OGR transaction; rolled back on any error."""
        if self._ds is None:
            raise SiteStoreError("The sites GeoPackage is closed.")
        if self.read_only:
            raise SiteStoreError(f"The sites GeoPackage {self.path} is read-only; nothing was changed. "
                                 "Choose a writable file.")
        gdal.ErrorReset()
        self._ok(self._ds.StartTransaction())
        try:
            yield
            self._ok(self._ds.CommitTransaction())
        except BaseException:
            with _quiet():
                self._ds.RollbackTransaction()
            raise

    def _edit(self, fn, *args):
        """Run fn(*args) in one transaction, again while another writer holds the file (up to timeout_s)."""
        deadline = time.monotonic() + self.timeout_s
        while True:
            try:
                with _quiet(), self._transaction():
                    return fn(*args)
            except _Busy as e:
                if time.monotonic() >= deadline:
                    raise self._error(str(e), "write") from None
                time.sleep(0.05)

    # --- reading ------------------------------------------------------------------------------------

    def data_version(self):
        """Changes when another connection (another QGIS window, a script) commits to the file."""
        if self._ds is None:
            raise SiteStoreError("The sites GeoPackage is closed.")
        with _quiet():
            value = self._pragma(self._ds, "data_version")
        if not value:
            raise self._error(gdal.GetLastErrorMsg() or "no data_version", "read")
        return int(value)

    def _query(self, sql):
        """Features of a SELECT (OGR's SQLite dialect on the GeoPackage), as a list."""
        if self._ds is None:
            raise SiteStoreError("The sites GeoPackage is closed.")
        with _quiet():
            gdal.ErrorReset()
            res = self._ds.ExecuteSQL(sql)
            if res is None:
                raise self._error(gdal.GetLastErrorMsg() or "query failed", "read")
            try:
                return list(res)
            finally:
                self._ds.ReleaseResultSet(res)

    @staticmethod
    def _site(f):
        g = f.GetGeometryRef()
        return Site(fid=f.GetFID(), name=_get(f, "name") or "", kind=_get(f, "kind") or "",
                    country=_get(f, "country") or "", notes=_get(f, "notes") or "",
                    wkb=bytes(g.ExportToIsoWkb()) if g is not None else None, last_date=_get(f, "last_date"),
                    last_containers=_get(f, "last_containers"), last_teu=_get(f, "last_teu"),
                    last_pits=_get(f, "last_pits"), n_obs=_get(f, "n_obs") or 0)

    @staticmethod
    def _observation(f):
        return Observation(fid=f.GetFID(), site_fid=_get(f, "site_fid"), date=_get(f, "date"),
                           containers=_get(f, "containers"), teu=_get(f, "teu"), pits=_get(f, "pits"),
                           source=_get(f, "source") or "", note=_get(f, "note") or "")

    def sites(self):
        return [self._site(f) for f in self._query("SELECT * FROM sites ORDER BY name COLLATE NOCASE, fid")]

    def site(self, fid):
        f = self._feature("sites", fid)
        if f is None:
            raise SiteStoreError(f"Site {fid} no longer exists (deleted from another window?).")
        return self._site(f)

    def observations(self, site_fid=None):
        where = "" if site_fid is None else f" WHERE site_fid = {int(site_fid)}"
        return [self._observation(f) for f in self._query(f"SELECT * FROM observations{where} ORDER BY date, fid")]

    def _feature(self, layer, fid):
        with _quiet():
            return self._layer(layer).GetFeature(int(fid))

    # --- writing sites ------------------------------------------------------------------------------

    def add_site(self, name, wkb=None, kind="", country="", notes="", wkt=None):
        name = (name or "").strip()
        if not name:
            raise SiteStoreError("A site needs a name.")
        if wkb is None and wkt is None:
            raise SiteStoreError("A site needs a location (point or polygon).")
        geom = geometry(wkb, wkt)

        def write():
            lyr = self._layer("sites")
            f = ogr.Feature(lyr.GetLayerDefn())
            _set(f, dict(name=name, kind=kind or "", country=country or "", notes=notes or "", n_obs=0,
                         updated=_now()))
            f.SetGeometry(geom)
            self._ok(lyr.CreateFeature(f))
            self._ok(lyr.SyncToDisk())  # the layer's extent, for QGIS, in the same transaction
            return f.GetFID()
        return self._edit(write)

    def update_site(self, fid, wkb=None, wkt=None, **fields):
        bad = set(fields) - set(SITE_FIELDS)
        if bad:
            raise SiteStoreError(f"Unknown site fields: {sorted(bad)}")
        if "name" in fields and not (fields["name"] or "").strip():
            raise SiteStoreError("A site needs a name.")
        geom = geometry(wkb, wkt) if wkb is not None or wkt is not None else None
        values = {k: (v or "").strip() if isinstance(v, str) else v for k, v in fields.items()}
        values["updated"] = _now()

        def write():
            f = self._feature("sites", fid)
            if f is None:
                raise SiteStoreError(f"Site {fid} no longer exists (deleted from another window?).")
            _set(f, values)
            if geom is not None:
                f.SetGeometry(geom)
            self._ok(self._layer("sites").SetFeature(f))
            self._ok(self._layer("sites").SyncToDisk())
        self._edit(write)

    def delete_site(self, fid):
        def write():
            obs = self._layer("observations")
            for o in self._query(f"SELECT fid FROM observations WHERE site_fid = {int(fid)}"):
                self._ok(obs.DeleteFeature(o.GetFID()))
            if self._feature("sites", fid) is not None:
                self._ok(self._layer("sites").DeleteFeature(int(fid)))
        self._edit(write)

    # --- writing observations -----------------------------------------------------------------------

    def _refresh_latest(self, site_fid):
        """The site's last_* fields and n_obs from its observations (inside the edit's transaction)."""
        obs = self._query(f"SELECT * FROM observations WHERE site_fid = {int(site_fid)} "
                          "ORDER BY date DESC, fid DESC")
        site = self._feature("sites", site_fid)
        if site is None:
            return
        latest = self._observation(obs[0]) if obs else None
        _set(site, {"last_" + k: getattr(latest, k) if latest else None for k in _LATEST})
        _set(site, dict(n_obs=len(obs), updated=_now()))
        self._ok(self._layer("sites").SetFeature(site))

    def add_observation(self, site_fid, date, containers=None, teu=None, pits=None, source="", note=""):
        vals = _obs_values(dict(date=date, containers=containers, teu=teu, pits=pits, source=source, note=note))

        def write():
            if self._feature("sites", site_fid) is None:
                raise SiteStoreError(f"Site {site_fid} no longer exists (deleted from another window?).")
            lyr = self._layer("observations")
            f = ogr.Feature(lyr.GetLayerDefn())
            _set(f, dict(vals, site_fid=int(site_fid), created=_now()))
            self._ok(lyr.CreateFeature(f))
            self._refresh_latest(site_fid)
            return f.GetFID()
        return self._edit(write)

    def update_observation(self, fid, **fields):
        vals = _obs_values(fields)
        if not vals:
            return

        def write():
            f = self._feature("observations", fid)
            if f is None:
                raise SiteStoreError(f"Observation {fid} no longer exists.")
            _set(f, vals)
            self._ok(self._layer("observations").SetFeature(f))
            self._refresh_latest(_get(f, "site_fid"))
        self._edit(write)

    def delete_observation(self, fid):
        def write():
            f = self._feature("observations", fid)
            if f is None:
                return
            self._ok(self._layer("observations").DeleteFeature(int(fid)))
            self._refresh_latest(_get(f, "site_fid"))
        self._edit(write)


@contextmanager
def _quiet():
    """OGR's errors kept for the message (gdal.GetLastErrorMsg) instead of printed to stderr."""
    gdal.PushErrorHandler("CPLQuietErrorHandler")
    try:
        yield
    finally:
        gdal.PopErrorHandler()
