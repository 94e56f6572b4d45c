"""Where a posted service request is: its `address_id` (or attributes), else its `lat` and
`long`, else its `address_string`; refused naming the fields a client can send."""

from __future__ import annotations

from services.runtime.place import Place
from services.tickets.atlas import Atlas
from services.tickets.geography import Located
from services.tickets.ticketing.open311_format import Open311Error, Submission

PLACE_HINT = (
    "send lat and long inside the district, the address_string of a building, "
    "or address_id=<community>/<building>"
)


def place_of(
    atlas: Atlas, district: str, submission: Submission, radius_m: float
) -> tuple[Place, str | None]:
    """The ticket's place and building, from whatever the client located the problem by."""
    territory = atlas.territory(district)
    found = _located(atlas, district, submission, radius_m)
    street = territory.street_of.get(found.community)
    if street is None:
        raise Open311Error(400, f"address_id: {found.community} is not a community")
    if found.building and territory.grid_of(found.community, found.building) is None:
        raise Open311Error(400, f"address_id: {found.building} is not a building there")
    return Place(district, street, found.community, found.grid), found.building


def _located(atlas: Atlas, district: str, s: Submission, radius_m: float) -> Located:
    """`address_id` (or the attributes) first, then lat/long, then address_string."""
    if s.community is not None:
        return Located(s.community, None, s.building)
    locator = atlas.locator(district)
    if s.lat is not None and s.long is not None and (at := locator.at(s.lat, s.long, radius_m)):
        return at
    address = s.fields.get("address_string")
    if address and (named := locator.named(address)):
        return named
    tried = []
    if s.lat is not None:
        tried.append(f"lat, long: {s.lat:g}, {s.long:g} is in no grid of {district} and "
                     f"{radius_m:g} m or more from its buildings")  # fmt: skip
    if address:
        tried.append(f"address_string: {address[:40]!r} is no building's address in {district}")
    raise Open311Error(400, f"{'; '.join(tried)}; {PLACE_HINT}")
