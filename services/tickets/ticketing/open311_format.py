"""Open311 GeoReport v2 on the wire: lists of flat records as JSON or XML, errors included.

The shapes follow the specification's examples (https://wiki.open311.org/GeoReport_v2): a JSON
array of objects, or an XML root holding one element per record (`<services><service>…`); an
absent value is `null` in JSON and an empty element in XML. Reading is here too: the
form-encoded post, W3C datetimes and comma-separated lists, each refusal naming its field.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl
from uuid import UUID

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from events.envelope import CODE_PATTERN
from services.runtime.text import refusal, xml_safe

FORMATS = ("json", "xml")
FORM = "application/x-www-form-urlencoded"
XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'
MAX_SPAN = timedelta(days=90)
"""The widest date range one search may ask for, and the default window (the last 90 days)."""

SERVICE_FIELDS = (
    "service_code", "service_name", "description", "metadata", "type", "keywords", "group",
)  # fmt: skip
REQUEST_FIELDS = (
    "service_request_id", "status", "status_notes", "service_name", "service_code",
    "description", "agency_responsible", "service_notice", "requested_datetime",
    "updated_datetime", "expected_datetime", "address", "address_id", "zipcode", "lat", "long",
    "media_url",
)  # fmt: skip
CREATED_FIELDS = ("service_request_id", "service_notice", "account_id", "token")
TOKEN_FIELDS = ("service_request_id", "token")

Record = Mapping[str, Any]


class Open311Error(Exception):
    """Refused in the specification's error format: an HTTP status and a description."""

    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description


def format_of(name: str) -> str:
    if name not in FORMATS:
        raise Open311Error(404, f"format: {name[:20]} is not offered (use json or xml)")
    return name


def records(fmt: str, root: str, item: str, rows: Sequence[Record], status: int = 200) -> Response:
    """A list answer: `[{…}, …]` in JSON, `<root><item>…</item>…</root>` in XML."""
    if fmt == "json":
        return JSONResponse([dict(row) for row in rows], status_code=status)
    tree = ET.Element(root)
    for row in rows:
        _fill(ET.SubElement(tree, item), row)
    return _xml(tree, status)


def record(fmt: str, root: str, row: Record) -> Response:
    """A single-object answer (the service definition): `{…}` or `<root>…</root>`."""
    if fmt == "json":
        return JSONResponse(dict(row))
    tree = ET.Element(root)
    _fill(tree, row)
    return _xml(tree, 200)


def error(fmt: str, failure: Open311Error) -> Response:
    entry = {"code": failure.status, "description": failure.description}
    return records(fmt, "errors", "error", [entry], status=failure.status)


def _fill(parent: ET.Element, row: Record) -> None:
    for name, value in row.items():
        child = ET.SubElement(parent, name)
        if isinstance(value, list):
            singular = name[:-1] if name.endswith("s") else name
            for entry in value:
                _fill(ET.SubElement(child, singular), entry)
        elif isinstance(value, bool):
            child.text = "true" if value else "false"
        elif value is not None:
            child.text = xml_safe(str(value))  # whatever was stored or echoed


def _xml(tree: ET.Element, status: int) -> Response:
    body = XML_DECLARATION + ET.tostring(tree, encoding="unicode")
    return Response(body.encode(), status_code=status, media_type="application/xml")


# Reading what clients send


EARLIEST = datetime.min.replace(tzinfo=UTC) + MAX_SPAN
LATEST = datetime.max.replace(tzinfo=UTC) - MAX_SPAN
"""The datetimes a search may name: far enough from the calendar's ends that the 90-day
default window around them is still a date."""


def w3_datetime(field: str, value: str) -> datetime:
    """A W3C datetime with its time zone (`Z` or an offset); a bare date means UTC midnight."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise Open311Error(400, f"{field}: {value[:40]} is not a W3C datetime") from None
    if parsed.tzinfo is None:
        if len(value) != len("2010-04-14"):
            raise Open311Error(400, f"{field}: {value[:40]} needs a time zone (Z or ±hh:mm)")
        parsed = parsed.replace(tzinfo=UTC)
    try:
        parsed = parsed.astimezone(UTC)
    except OverflowError:
        parsed = EARLIEST - MAX_SPAN  # beyond the calendar's ends in UTC: refused below
    if not EARLIEST <= parsed <= LATEST:
        span = f"{EARLIEST.date().isoformat()} to {LATEST.date().isoformat()}"
        raise Open311Error(400, f"{field}: {value[:40]} lies outside {span}")
    return parsed


def w3(when: datetime | None) -> str | None:
    return when.astimezone(UTC).isoformat(timespec="seconds") if when is not None else None


def listed(field: str, value: str | None, most: int = 100) -> list[str]:
    """A comma-separated parameter's values, blanks dropped; a control character is refused
    (the values reach the store's queries, and PostgreSQL text cannot hold NUL)."""
    if value is not None and (why := refusal(value)) is not None:
        raise Open311Error(400, f"{field}: {why}")
    values = [v.strip() for v in (value or "").split(",") if v.strip()]
    if len(values) > most:
        raise Open311Error(400, f"{field}: at most {most} values")
    return values


def window(
    start: datetime | None, end: datetime | None, now: datetime
) -> tuple[datetime, datetime]:
    """The searched range: as given, else the 90 days up to `end` (or now)."""
    end = end or (start + MAX_SPAN if start is not None else now)
    start = start or end - MAX_SPAN
    if start > end:
        raise Open311Error(400, "start_date: must not be after end_date")
    if end - start > MAX_SPAN:
        raise Open311Error(400, "start_date: the range may not span more than 90 days")
    return start, end


def ticket_id_of(value: str, status: int = 404) -> UUID:
    try:
        return UUID(value)
    except ValueError:
        what = "not found" if status == 404 else "is not a service request id"
        raise Open311Error(status, f"service_request_id: {value[:40]} {what}") from None


async def form_of(request: Request) -> dict[str, str]:
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type not in ("", FORM):
        raise Open311Error(400, f"body: send the request as {FORM}")
    try:
        text = (await request.body()).decode("utf-8")
        return dict(parse_qsl(text, max_num_fields=100, strict_parsing=False))
    except (UnicodeDecodeError, ValueError):
        raise Open311Error(400, "body: not a UTF-8 form of at most 100 fields") from None


_CODE = re.compile(CODE_PATTERN)
_LIMITS = {
    "service_code": 64, "address_string": 200, "email": 254, "device_id": 128,
    "account_id": 128, "first_name": 40, "last_name": 40, "phone": 24, "description": 4000,
    "media_url": 2000,
}  # fmt: skip
_PATTERNS = {
    "email": re.compile(r"^[^@\s]+@[^@\s]+$"),
    "phone": re.compile(r"^\+?[0-9][0-9 ()-]{5,22}$"),
    "media_url": re.compile(r"^https?://\S+$"),
}


@dataclass(frozen=True)
class Submission:
    """A posted service request, checked field by field (names as the specification's)."""

    fields: Mapping[str, str]
    community: str | None
    """From `address_id` or the attributes; None when only lat/long or address_string say
    where the problem is."""
    building: str | None
    lat: float | None
    long: float | None

    @classmethod
    def of(cls, form: Mapping[str, str]) -> Submission:
        for name, text in form.items():
            if (problem := refusal(text, prose=name == "description")) is not None:
                raise Open311Error(400, f"{name[:40]}: {problem}")
        for name, most in _LIMITS.items():
            value = form.get(name)
            if value is not None and len(value) > most:
                raise Open311Error(400, f"{name}: at most {most} characters")
            if value is not None and name in _PATTERNS and not _PATTERNS[name].match(value):
                raise Open311Error(400, f"{name}: {value[:40]!r} is not valid")
        if not form.get("service_code"):
            raise Open311Error(400, "service_code: required")
        lat, long = _coordinate(form, "lat", 90), _coordinate(form, "long", 180)
        if (lat is None) != (long is None):
            raise Open311Error(400, "lat: lat and long go together")
        if lat is None and not form.get("address_string") and not form.get("address_id"):
            raise Open311Error(400, "address_id: give lat and long, address_string or address_id")
        community, building = _place(form)
        return cls({k: form[k] for k in _LIMITS if form.get(k)}, community, building, lat, long)

    def requester(self, key_id: str) -> dict[str, str] | None:
        """Whom the report names, for a client (account, email, phone or device, the first
        given); None when it names none of them. Personal data: only its keyed digest may be
        kept."""
        f = self.fields
        who = f.get("account_id") or f.get("email") or f.get("phone") or f.get("device_id")
        return {"client": key_id, "who": who} if who else None

    def personal(self) -> dict[str, Any]:
        """Everything about the person, sealed in the vault; never put into events."""
        f = self.fields
        name = " ".join(n for n in (f.get("first_name"), f.get("last_name")) if n) or None
        contact = {"name": name, "phone": f.get("phone"), "email": f.get("email"),
                   "address": f.get("address_string")}  # fmt: skip
        found: dict[str, Any] = {
            "description": f.get("description"),
            "contact": {k: v for k, v in contact.items() if v} or None,
            "media_url": f.get("media_url"),
            "device_id": f.get("device_id"),
            "account_id": f.get("account_id"),
            "location": {"lat": self.lat, "long": self.long} if self.lat is not None else None,
        }
        return {k: v for k, v in found.items() if v}


def _coordinate(form: Mapping[str, str], field: str, bound: float) -> float | None:
    if (value := form.get(field)) is None:
        return None
    try:
        number = float(value)
    except ValueError:
        raise Open311Error(400, f"{field}: {value[:40]!r} is not a number") from None
    if not -bound <= number <= bound:
        raise Open311Error(400, f"{field}: must lie between -{bound:g} and {bound:g}")
    return number


def _place(form: Mapping[str, str]) -> tuple[str | None, str | None]:
    """The community and building: `address_id` = "<community>/<building>", or the
    attributes `attribute[community]` and `attribute[building]`; neither, when not given."""
    if address_id := form.get("address_id"):
        field = "address_id"
        community, _, building = address_id.partition("/")
    elif "attribute[community]" in form or "attribute[building]" in form:
        field = "attribute[community]"
        community = form.get(field, "")
        building = form.get("attribute[building]", "")
    else:
        return None, None
    if not community:
        raise Open311Error(400, f"{field}: name the community (address_id=<community>/<building>)")
    for code in (community, building):
        if code and not _CODE.match(code):
            raise Open311Error(400, f"{field}: {code[:40]!r} is not a territory code")
    return community, building or None
