"""The territory and the rules over HTTP: read by anyone signed in, re-drawn by the district."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict

from events.envelope import Code
from services.runtime.access import caller_of
from services.runtime.http import CodeInPath, Details
from services.runtime.identity import Access, authorize
from services.runtime.stamping import StampedCommands
from services.tickets.atlas import Atlas, TerritoryChange
from services.tickets.routing import RuleVersion
from services.tickets.territory import TerritoryError, UnknownPlaceError

T = TypeVar("T")


class PlaceNotFoundError(TerritoryError):
    """A place named in the request's path is not in the territory (or has no rules)."""

    code = "territory.not_found"

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(message)
        self.parameter = parameter


def _path_details(exc: Exception) -> dict[str, Any]:
    parameter = str(getattr(exc, "parameter", "path"))
    return {"fields": [{"field": f"path.{parameter}", "rule": "not_found", "message": str(exc)}]}


ERRORS: dict[type[Exception], tuple[int, Details]] = {PlaceNotFoundError: (404, _path_details)}


async def _in_path(work: Callable[[], T], *parameters: str) -> T:
    """Run `work`; a place it does not know that the path named is 404, not a body error."""
    try:
        return await run_in_threadpool(work)
    except UnknownPlaceError as e:
        if e.field in parameters:
            raise PlaceNotFoundError(e.field, str(e)) from None
        raise


class DrawGrid(BaseModel):
    model_config = ConfigDict(extra="forbid")

    grid: Code


class MoveBuilding(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to_grid: Code


class CommunityMap(BaseModel):
    district: str
    street: str
    community: str
    grids: dict[str, list[str]]
    """Each grid's buildings."""


def territory_router(atlas: Atlas, commands: StampedCommands) -> APIRouter:
    router = APIRouter(tags=["territory"])

    @router.get(
        "/territory/{district}/{community}",
        response_model=CommunityMap,
        dependencies=[authorize("territory.read")],
    )
    async def community_map(district: CodeInPath, community: CodeInPath) -> CommunityMap:
        return await _in_path(
            lambda: _community_map(atlas, district, community), "district", "community"
        )

    @router.get(
        "/rules/{district}", response_model=RuleVersion, dependencies=[authorize("territory.read")]
    )
    async def rules_in_effect(district: CodeInPath) -> RuleVersion:
        """The routing rules in effect now (categories, handlers, deadlines)."""
        book = await _in_path(lambda: atlas.rulebook(district), "district")
        return book.in_effect(commands.clock())

    @router.post(
        "/territory/{district}/{community}/grids", response_model=TerritoryChange, status_code=201
    )
    async def draw_grid(
        district: CodeInPath,
        community: CodeInPath,
        body: DrawGrid,
        access: Annotated[Access, authorize("territory.change")],
    ) -> TerritoryChange:
        payload = {"grid": body.grid, "community": community}
        return await _in_path(
            lambda: atlas.redraw(
                commands, caller_of(access), (district, community), payload,
                lambda m: m.draw_grid(community, body.grid),
            ),
            "district", "community",
        )  # fmt: skip

    @router.post(
        "/territory/{district}/{community}/buildings/{building}/move",
        response_model=TerritoryChange,
    )
    async def move_building(
        district: CodeInPath,
        community: CodeInPath,
        building: CodeInPath,
        body: MoveBuilding,
        access: Annotated[Access, authorize("territory.change")],
    ) -> TerritoryChange:
        payload = {"building": building, "to_grid": body.to_grid, "community": community}
        return await _in_path(
            lambda: atlas.redraw(
                commands, caller_of(access), (district, community), payload,
                lambda m: m.move_building(community, building, body.to_grid),
            ),
            "district", "community", "building",
        )  # fmt: skip

    return router


def _community_map(atlas: Atlas, district: str, community: str) -> CommunityMap:
    territory = atlas.territory(district)
    street = territory.street_for(community)
    grids: dict[str, list[str]] = {grid: [] for grid in territory.grids[community]}
    prefix = f"{community}/"
    for key, grid in territory.building_grid.items():
        if key.startswith(prefix):
            grids.setdefault(grid, []).append(key.removeprefix(prefix))
    return CommunityMap(district=district, street=street, community=community, grids=grids)
