"""The unit registry over HTTP: register, enrol, suspend, reinstate and remove units, sign and
renew co-building agreements, and read a unit's contact (masked; revealed for a logged reason)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import Field

from events.envelope import CODE_PATTERN, Code
from events.units import (
    UNIT_ID_PATTERN,
    AgreementEnd,
    DepartureReason,
    SuspensionReason,
    UnitId,
    UnitKind,
    UnitName,
)
from services.matching.registry.application import (
    UnitContactCard,
    UnitOutcome,
    UnitRegistry,
    UnitSnapshot,
)
from services.matching.registry.domain import (
    AgreementError,
    MembershipError,
    UnitAlreadyRegisteredError,
    UnitNotFoundError,
)
from services.matching.territory import Places
from services.matching.view import ListsView, UnitEntry
from services.runtime.access import REASON, caller_of, escalated
from services.runtime.http import Details, field_details, no_details
from services.runtime.identity import Access, authorize
from services.runtime.routes import Step, add_steps
from services.runtime.text import Body

UnitInPath = Annotated[str, Path(pattern=UNIT_ID_PATTERN)]


class UnitContact(Body):
    """Personal data: sealed in matching's store, never put on the bus."""

    name: Annotated[str, Field(min_length=1, max_length=40)]
    phone: Annotated[str, Field(pattern=r"^\+?[0-9][0-9 -]{5,19}$")]
    role: Annotated[str, Field(max_length=40)] | None = None


class RegisterUnit(Body):
    unit_id: UnitId
    name: UnitName
    kind: UnitKind
    district: Code
    community: Code
    grid: Code | None = None
    contact: UnitContact | None = None


class UnitDetails(Body):
    name: UnitName
    kind: UnitKind


class Suspension(Body):
    reason: SuspensionReason


class Departure(Body):
    reason: DepartureReason


class Agreement(Body):
    starts_on: date
    ends_on: date


class Renewal(Body):
    ends_on: date


class AgreementEnding(Body):
    how: AgreementEnd


ERRORS: dict[type[Exception], tuple[int, Details]] = {
    UnitNotFoundError: (404, no_details),
    UnitAlreadyRegisteredError: (409, no_details),
    MembershipError: (409, no_details),
    AgreementError: (422, field_details),
}


def unit_router(registry: UnitRegistry, view: ListsView, places: Places) -> APIRouter:
    router = APIRouter(prefix="/units", tags=["units"])

    @router.post("", status_code=201, response_model=UnitOutcome)
    async def register_unit(
        body: RegisterUnit, access: Annotated[Access, authorize("unit.register")]
    ) -> UnitOutcome:
        place = places.locate(body.district, body.community, body.grid)
        contact = body.contact.model_dump(exclude_none=True) if body.contact else None
        return await run_in_threadpool(
            lambda: registry.register(
                caller_of(access), place=place, unit_id=body.unit_id, name=body.name,
                kind=body.kind, contact=contact,
            )
        )  # fmt: skip

    @router.get("", response_model=list[UnitEntry])
    async def list_units(
        district: Annotated[str, Query(pattern=CODE_PATTERN)],
        _: Annotated[Access, authorize("unit.read")],
        community: Annotated[str | None, Query(pattern=CODE_PATTERN)] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
        offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    ) -> list[UnitEntry]:
        return await view.workers.run(
            lambda: view.units(district=district, community=community, limit=limit, offset=offset)
        )

    @router.get("/{unit_id}", response_model=UnitSnapshot)
    async def get_unit(
        unit_id: UnitInPath, _: Annotated[Access, authorize("unit.read")]
    ) -> UnitSnapshot:
        return await run_in_threadpool(registry.get, unit_id)

    @router.get("/{unit_id}/contact", response_model=UnitContactCard)
    async def unit_contact(
        unit_id: UnitInPath,
        access: Annotated[Access, authorize("unit.contact")],
        reason: Annotated[str | None, Query(min_length=4, max_length=200, pattern=REASON)] = None,
    ) -> UnitContactCard:
        """Masked; `?reason=` reveals it to community staff, and the read is logged."""
        access.check_unit(unit_id)
        if reason is not None:
            access = escalated(access, "personal.read")
        caller = caller_of(access)
        return await run_in_threadpool(lambda: registry.contact_of(caller, unit_id, reason=reason))

    add_steps(router, "unit_id", _steps(registry), id_type=UnitInPath)
    return router


def _steps(registry: UnitRegistry) -> list[Step[Any, UnitOutcome, str]]:
    manage = "unit.manage"
    return [
        Step("change_unit_details", "/{unit_id}/details", manage, UnitOutcome,
             lambda c, u, b: registry.change_details(c, u, b.name, b.kind), UnitDetails),
        Step("change_unit_contact", "/{unit_id}/contact", manage, UnitOutcome,
             lambda c, u, b: registry.change_contact(c, u, b.model_dump(exclude_none=True)),
             UnitContact, doc="Replace the contact person (sealed; never on the bus)."),
        Step("enrol_unit", "/{unit_id}/alliance", manage, UnitOutcome,
             lambda c, u, _: registry.join_alliance(c, u),
             doc="The unit joins its community's alliance (红石榴联盟)."),
        Step("suspend_unit", "/{unit_id}/suspension", manage, UnitOutcome,
             lambda c, u, b: registry.suspend(c, u, b.reason), Suspension),
        Step("reinstate_unit", "/{unit_id}/reinstatement", manage, UnitOutcome,
             lambda c, u, _: registry.reinstate(c, u)),
        Step("remove_unit", "/{unit_id}/departure", manage, UnitOutcome,
             lambda c, u, b: registry.leave(c, u, b.reason), Departure),
        Step("sign_agreement", "/{unit_id}/agreement", manage, UnitOutcome,
             lambda c, u, b: registry.sign_agreement(c, u, b.starts_on, b.ends_on), Agreement,
             doc="Sign a co-building agreement (共建协议) for a term."),
        Step("renew_agreement", "/{unit_id}/agreement/renewal", manage, UnitOutcome,
             lambda c, u, b: registry.renew_agreement(c, u, b.ends_on), Renewal),
        Step("end_agreement", "/{unit_id}/agreement/end", manage, UnitOutcome,
             lambda c, u, b: registry.end_agreement(c, u, b.how), AgreementEnding),
    ]  # fmt: skip
