"""Geohash, great-circle distance and the cell covering that serves "events near a point" from an index.

Pure functions, no AWS. A geohash interleaves longitude and latitude bits (longitude first) and writes them
in base 32; every prefix of a hash is the cell that contains it, so "events in a cell" is a ``begins_with``
on a sorted key. :func:`cells_for_radius` picks a precision and the cells that together cover a circle; the
caller queries each cell and keeps what :func:`distance_km` puts inside the radius.
"""

from __future__ import annotations

import math

BASE32 = "0123456789bcdefghjkmnpqrstuvwxyz"
_INDEX = {c: i for i, c in enumerate(BASE32)}
EARTH_RADIUS_KM = 6371.0088  # mean radius (IUGG)
MIN_PRECISION, MAX_PRECISION = 3, 6  # 3 is the index's partition key (geo_cell), 6 is ~1.2 km x 0.6 km
DIRECTIONS = {
    "n": (1, 0),
    "ne": (1, 1),
    "e": (0, 1),
    "se": (-1, 1),
    "s": (-1, 0),
    "sw": (-1, -1),
    "w": (0, -1),
    "nw": (1, -1),
}


def encode(lat: float, lon: float, precision: int = 9) -> str:
    lat_lo, lat_hi, lon_lo, lon_hi = -90.0, 90.0, -180.0, 180.0
    chars: list[str] = []
    bits, value, even = 0, 0, True
    while len(chars) < precision:
        if even:
            mid = (lon_lo + lon_hi) / 2
            value, lon_lo, lon_hi = (value * 2 + 1, mid, lon_hi) if lon >= mid else (value * 2, lon_lo, mid)
        else:
            mid = (lat_lo + lat_hi) / 2
            value, lat_lo, lat_hi = (value * 2 + 1, mid, lat_hi) if lat >= mid else (value * 2, lat_lo, mid)
        even, bits = not even, bits + 1
        if bits == 5:
            chars.append(BASE32[value])
            bits, value = 0, 0
    return "".join(chars)


def bounds(geohash: str) -> tuple[float, float, float, float]:
    """(lat_min, lat_max, lon_min, lon_max) of the cell."""
    lat_lo, lat_hi, lon_lo, lon_hi = -90.0, 90.0, -180.0, 180.0
    even = True
    for char in geohash:
        value = _INDEX[char]
        for shift in range(4, -1, -1):
            bit = (value >> shift) & 1
            if even:
                mid = (lon_lo + lon_hi) / 2
                lon_lo, lon_hi = (mid, lon_hi) if bit else (lon_lo, mid)
            else:
                mid = (lat_lo + lat_hi) / 2
                lat_lo, lat_hi = (mid, lat_hi) if bit else (lat_lo, mid)
            even = not even
    return lat_lo, lat_hi, lon_lo, lon_hi


def decode(geohash: str) -> tuple[float, float]:
    """The centre of the cell."""
    lat_lo, lat_hi, lon_lo, lon_hi = bounds(geohash)
    return (lat_lo + lat_hi) / 2, (lon_lo + lon_hi) / 2


def cell_size(precision: int) -> tuple[float, float]:
    """(height, width) of a cell in degrees."""
    lon_bits = (5 * precision + 1) // 2
    return 180.0 / 2 ** (5 * precision - lon_bits), 360.0 / 2**lon_bits


def _wrap_lon(lon: float) -> float:
    return (lon + 180.0) % 360.0 - 180.0


def neighbours(geohash: str) -> dict[str, str]:
    """The adjacent cells by compass direction. Longitude wraps at the antimeridian; beyond a pole there is no
    cell, so a cell touching a pole has no n/ne/nw (or s/se/sw) entry."""
    lat, lon = decode(geohash)
    height, width = cell_size(len(geohash))
    result = {}
    for name, (dlat, dlon) in DIRECTIONS.items():
        n_lat = lat + dlat * height
        if -90.0 < n_lat < 90.0:
            result[name] = encode(n_lat, _wrap_lon(lon + dlon * width), len(geohash))
    return result


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle (haversine) distance."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def _grid(lat: float, lon: float, radius_km: float, precision: int) -> tuple[range, list[int]]:
    """Row and column indexes of the cells that meet the circle's bounding box at ``precision``."""
    height, width = cell_size(precision)
    rows_total, cols_total = round(180 / height), round(360 / width)
    delta = radius_km * 1.0001 / EARTH_RADIUS_KM + 1e-9  # angular radius, with a hair of slack for rounding
    lat_lo, lat_hi = lat - math.degrees(delta), lat + math.degrees(delta)
    rows = range(max(0, int((lat_lo + 90) // height)), min(rows_total - 1, int((lat_hi + 90) // height)) + 1)
    cos_lat = math.cos(math.radians(lat))
    if lat_hi >= 90 or lat_lo <= -90 or math.sin(delta) >= cos_lat:
        return rows, list(range(cols_total))  # the circle reaches round a pole: every longitude
    dlon = math.degrees(math.asin(math.sin(delta) / cos_lat))  # widest longitude extent of a spherical cap
    first, last = int((lon - dlon + 180) // width), int((lon + dlon + 180) // width)
    if last - first + 1 >= cols_total:
        return rows, list(range(cols_total))
    return rows, list(dict.fromkeys(j % cols_total for j in range(first, last + 1)))


def cells_for_radius(
    lat: float, lon: float, radius_km: float, min_precision: int = MIN_PRECISION
) -> tuple[int, list[str]]:
    """(precision, cell prefixes) covering the circle: the finest precision (``min_precision``..6) that needs at
    most a 3x3 block of cells, else (far from the equator, where cells narrow) the precision that needs the
    fewest."""
    best: tuple[int, int] | None = None
    for precision in range(MAX_PRECISION, min_precision - 1, -1):
        rows, cols = _grid(lat, lon, radius_km, precision)
        count = len(rows) * len(cols)
        if best is None or count < best[1]:
            best = (precision, count)
        if count <= 9:
            break
    assert best is not None  # the loop runs at least once
    precision = best[0]
    rows, cols = _grid(lat, lon, radius_km, precision)
    height, width = cell_size(precision)
    cells = [encode(-90 + (i + 0.5) * height, -180 + (j + 0.5) * width, precision) for i in rows for j in cols]
    return precision, list(dict.fromkeys(cells))
