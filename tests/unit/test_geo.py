"""chalicelib.geo: geohash encoding, neighbours, distance and the cell covering behind GET /events/nearby."""

from __future__ import annotations

import math
import random

import pytest

from chalicelib import geo

PARIS = (48.8566, 2.3522)
VERSAILLES = (48.8049, 2.1204)
LONDON = (51.5074, -0.1278)


def test_encode_known_values():
    assert geo.encode(57.64911, 10.40744, 11) == "u4pruydqqvj"
    assert geo.encode(57.64911, 10.40744, 5) == "u4pru"
    assert geo.encode(42.605, -5.603, 5) == "ezs42"
    assert geo.encode(-90, -180, 4) == "0000"
    assert geo.encode(89.99999, 179.99999, 4) == "zzzz"


def test_decode_is_the_cell_centre_and_bounds_contain_the_point():
    lat, lon = geo.decode("ezs42")
    assert lat == pytest.approx(42.605, abs=0.001) and lon == pytest.approx(-5.603, abs=0.001)
    rnd = random.Random(7)
    for _ in range(200):
        lat, lon, precision = rnd.uniform(-90, 90), rnd.uniform(-180, 180), rnd.randint(1, 11)
        cell = geo.encode(lat, lon, precision)
        lat_lo, lat_hi, lon_lo, lon_hi = geo.bounds(cell)
        assert lat_lo <= lat <= lat_hi and lon_lo <= lon <= lon_hi
        assert (lat_hi - lat_lo, lon_hi - lon_lo) == pytest.approx(geo.cell_size(precision))
        assert geo.encode(*geo.decode(cell), precision) == cell
        assert geo.encode(lat, lon, 11).startswith(cell)  # a prefix is the containing cell


def test_cell_sizes():
    assert geo.cell_size(3) == (1.40625, 1.40625)
    assert geo.cell_size(4) == (0.17578125, 0.3515625)
    assert geo.cell_size(6) == pytest.approx((0.0054931640625, 0.010986328125))


def test_neighbours_known_values():
    assert geo.neighbours("dqcjq") == {
        "n": "dqcjw",
        "ne": "dqcjx",
        "e": "dqcjr",
        "se": "dqcjp",
        "s": "dqcjn",
        "sw": "dqcjj",
        "w": "dqcjm",
        "nw": "dqcjt",
    }


def test_neighbours_are_adjacent_cells():
    cell = geo.encode(*PARIS, 6)
    lat, lon = geo.decode(cell)
    height, width = geo.cell_size(6)
    for direction, other in geo.neighbours(cell).items():
        o_lat, o_lon = geo.decode(other)
        dlat, dlon = geo.DIRECTIONS[direction]
        assert o_lat == pytest.approx(lat + dlat * height) and o_lon == pytest.approx(lon + dlon * width)
    assert len(set(geo.neighbours(cell).values()) | {cell}) == 9


def test_neighbours_wrap_at_the_antimeridian():
    east_edge = geo.encode(10.0, 179.999, 5)
    east = geo.neighbours(east_edge)["e"]
    assert geo.decode(east)[1] < -179.9  # just across the dateline
    assert geo.neighbours(east)["w"] == east_edge
    assert geo.neighbours(geo.encode(-10.0, -179.999, 4))["w"] == geo.encode(-10.0, 179.9, 4)


def test_neighbours_stop_at_the_poles():
    north = geo.neighbours(geo.encode(89.999, 45.0, 4))
    assert set(north) == {"e", "w", "se", "s", "sw"}
    south = geo.neighbours(geo.encode(-89.999, 45.0, 4))
    assert set(south) == {"e", "w", "ne", "n", "nw"}


def test_distance():
    assert geo.distance_km(*PARIS, *PARIS) == 0
    assert geo.distance_km(*PARIS, *VERSAILLES) == pytest.approx(17.9, abs=0.3)
    assert geo.distance_km(*PARIS, *LONDON) == pytest.approx(343.5, abs=2)
    assert geo.distance_km(*PARIS, *LONDON) == pytest.approx(geo.distance_km(*LONDON, *PARIS))
    assert geo.distance_km(0, 179.5, 0, -179.5) == pytest.approx(111.2, abs=0.5)  # across the dateline
    assert geo.distance_km(90, 0, -90, 0) == pytest.approx(math.pi * geo.EARTH_RADIUS_KM)


@pytest.mark.parametrize("radius,precision", [(0.3, 6), (2, 5), (20, 4), (100, 3)])
def test_cells_for_radius_precision_and_a_3x3_block_at_most(radius, precision):
    got, cells = geo.cells_for_radius(*PARIS, radius)
    assert got == precision and 1 <= len(cells) <= 9
    assert all(len(c) == precision for c in cells) and len(set(cells)) == len(cells)
    assert geo.encode(*PARIS, precision) in cells


def _destination(lat, lon, bearing_deg, km):
    d, b = km / geo.EARTH_RADIUS_KM, math.radians(bearing_deg)
    p1, l1 = math.radians(lat), math.radians(lon)
    p2 = math.asin(math.sin(p1) * math.cos(d) + math.cos(p1) * math.sin(d) * math.cos(b))
    l2 = l1 + math.atan2(math.sin(b) * math.sin(d) * math.cos(p1), math.cos(d) - math.sin(p1) * math.sin(p2))
    return math.degrees(p2), (math.degrees(l2) + 540) % 360 - 180


@pytest.mark.parametrize(
    "centre", [PARIS, (0.0, 179.95), (-33.86, 151.21), (64.1, -21.9), (78.2, 15.6), (-0.01, -0.01), (85.0, 100.0)]
)
@pytest.mark.parametrize("radius", [0.5, 7, 40, 100])
def test_the_covering_contains_every_point_of_the_circle(centre, radius):
    precision, cells = geo.cells_for_radius(*centre, radius)
    cells = set(cells)
    for bearing in range(0, 360, 10):
        for fraction in (0.5, 0.999):
            point = _destination(*centre, bearing, radius * fraction)
            assert geo.encode(*point, precision) in cells, (centre, radius, bearing, fraction)


def test_high_latitudes_use_more_columns_not_less_coverage():
    precision, cells = geo.cells_for_radius(78.2, 15.6, 100)  # Svalbard: cells are narrow
    assert precision == 3 and 9 < len(cells) <= 30
    _, polar = geo.cells_for_radius(89.9, 0, 50)  # the circle reaches round the pole: every longitude
    assert len(polar) == 256
