"""The one taxonomy of what is offered and needed, shared by every service: listings on the
resource and demand lists, the needs behind wishes and tickets, and matching between them."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from events.wishes import WishCategory


class ServiceCategory(StrEnum):
    """What a listing gives or asks for (a meeting room, parking places, a lecture…)."""

    VENUE = "venue"
    PARKING = "parking"
    EV_CHARGING = "ev_charging"
    LECTURE = "lecture"
    TRAINING = "training"
    ELDERLY_CARE = "elderly_care"
    VOLUNTEERS = "volunteers"
    COUNSELLING = "counselling"
    SECURITY = "security"
    CLEANING = "cleaning"
    LEGAL_AID = "legal_aid"
    HEALTH = "health"
    POLICY_BRIEFING = "policy_briefing"
    SUBSIDY = "subsidy"
    MEALS = "meals"
    REPAIR = "repair"
    GOODS = "goods"
    OTHER = "other"


WISH_NEEDS: Mapping[WishCategory, tuple[ServiceCategory, ...]] = {
    WishCategory.MEAL: (ServiceCategory.MEALS, ServiceCategory.VOLUNTEERS),
    WishCategory.HOUSEWORK: (ServiceCategory.CLEANING, ServiceCategory.VOLUNTEERS),
    WishCategory.COMPANY: (ServiceCategory.ELDERLY_CARE, ServiceCategory.VOLUNTEERS),
    WishCategory.REPAIR: (ServiceCategory.REPAIR,),
    WishCategory.GOODS: (ServiceCategory.GOODS,),
    WishCategory.LIGHTING: (ServiceCategory.REPAIR, ServiceCategory.VOLUNTEERS),
    WishCategory.MOBILITY: (ServiceCategory.GOODS, ServiceCategory.VOLUNTEERS),
    WishCategory.LEARNING: (ServiceCategory.LECTURE, ServiceCategory.TRAINING),
    WishCategory.HEALTH: (ServiceCategory.HEALTH, ServiceCategory.COUNSELLING),
    WishCategory.OTHER: (ServiceCategory.VOLUNTEERS, ServiceCategory.OTHER),
}
"""What can fulfil a wish of each category, best fit first."""

TICKET_NEEDS: Mapping[str, tuple[ServiceCategory, ...]] = {
    "parcel_lockers": (ServiceCategory.REPAIR,),
    "flying_wire_charging": (ServiceCategory.EV_CHARGING,),
    "roof_leak": (ServiceCategory.REPAIR,),
    "drainage": (ServiceCategory.REPAIR, ServiceCategory.CLEANING),
    "lighting": (ServiceCategory.REPAIR,),
    "elevator": (ServiceCategory.REPAIR,),
    "parking": (ServiceCategory.PARKING,),
    "elderly_care": (ServiceCategory.ELDERLY_CARE, ServiceCategory.VOLUNTEERS),
    "sanitation": (ServiceCategory.CLEANING,),
}
"""What a unit can offer for a ticket triaged into each routing category (by its code); a
category not named here is one no unit serves (noise goes to the grid worker, not a unit)."""
