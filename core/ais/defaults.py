"""The analysis settings shared by the dock and the AIS algorithms: one value each, with its reason."""
from dataclasses import dataclass

HOUR_S = 3600


@dataclass(frozen=True)
class AisSettings:
    # 12 h without a position is a dark period (the Global Fishing Watch definition of an AIS gap). 6 h, the
    # dock's old value, flags the ordinary holes of satellite and shore-station coverage on most ocean
    # crossings; 12 h keeps what an analyst would follow up, the same in the dock and in detectgaps.
    gap_s: int = 12 * HOUR_S
    # a track breaks where a dark period starts: a line drawn across 12 h of nothing would be a guess
    track_split_s: int = 12 * HOUR_S
    # a port call lasts at least 1 h: shorter stays are vessels crossing a basin or an anchorage
    min_stay_s: int = 1 * HOUR_S
    # two stays at one site with at most 1 h outside it in between are one call (jitter at the polygon edge)
    merge_gap_s: int = 1 * HOUR_S
    # a dark voyage needs 6 h dwell at a site during the gap: time to load or unload cargo
    min_dwell_s: int = 6 * HOUR_S
    # around a sighting, 6 h without a position already leaves ~70 nm of doubt at 12 kn: the vessel is dark
    sighting_gap_s: int = 6 * HOUR_S
    # an implied speed above 50 kn between two fixes is an impossible jump (no cargo vessel is near it)
    max_speed_kn: float = 50.0


DEFAULTS = AisSettings()
