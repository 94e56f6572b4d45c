"""Words every service's pages share, in Simplified Chinese and English: the roles' names and
the policy's refusals (formatted with {role} and {action}; "" is the fallback)."""

from __future__ import annotations

from collections.abc import Mapping

from events.envelope import Role

ROLES_ZH: Mapping[Role, str] = {
    Role.RESIDENT: "居民",
    Role.BUILDING_CHIEF: "楼长",
    Role.GRID_WORKER: "网格员",
    Role.COMMUNITY_STAFF: "社区工作人员",
    Role.COMMUNITY_SECRETARY: "社区党委书记",
    Role.UNIT_STAFF: "驻区单位",
    Role.VOLUNTEER: "志愿者",
    Role.MEDIATOR: "调解员",
    Role.STREET_OFFICIAL: "街道干部",
    Role.DISTRICT_OFFICIAL: "区级干部",
    Role.AUDITOR: "审计员",
    Role.OPERATOR: "运维人员",
}
FORBIDDEN_ZH: Mapping[str, str] = {
    "policy.role_not_allowed": "未获授权：{role}不能{action}。",
    "policy.outside_territory": "未获授权：这里不在您的管辖范围内，不能{action}。",
    "policy.not_your_own": "未获授权：居民只能为自己{action}。",
    "policy.not_your_unit": "未获授权：只能以本单位的名义{action}。",
    "": "未获授权：不能{action}。",
}
ROLES_EN: Mapping[Role, str] = {
    Role.RESIDENT: "Resident",
    Role.BUILDING_CHIEF: "Building chief",
    Role.GRID_WORKER: "Grid worker",
    Role.COMMUNITY_STAFF: "Community staff",
    Role.COMMUNITY_SECRETARY: "Community secretary",
    Role.UNIT_STAFF: "Member unit staff",
    Role.VOLUNTEER: "Volunteer",
    Role.MEDIATOR: "Mediator",
    Role.STREET_OFFICIAL: "Street official",
    Role.DISTRICT_OFFICIAL: "District official",
    Role.AUDITOR: "Auditor",
    Role.OPERATOR: "Operator",
}
FORBIDDEN_EN: Mapping[str, str] = {
    "policy.role_not_allowed": "Not allowed: as {role} you may not {action}.",
    "policy.outside_territory": "Not allowed: this place is outside your territory, "
    "so you may not {action}.",
    "policy.not_your_own": "Not allowed: residents may {action} only for themselves.",
    "policy.not_your_unit": "Not allowed: you may {action} only for your own unit.",
    "": "Not allowed: you may not {action}.",
}
