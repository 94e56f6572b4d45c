"""The wish board page's words: Simplified Chinese by default, English on `?lang=en`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from events.envelope import Role
from events.wishes import ClaimMode, RefusalReason, WishCategory
from services.tickets.domain import WishState


@dataclass(frozen=True)
class Words:
    """Everything a page says in one language, and the query that keeps that language."""

    lang: str
    query: str
    labels: Mapping[str, str]
    states: Mapping[WishState, str]
    categories: Mapping[WishCategory, str]
    modes: Mapping[ClaimMode, str]
    roles: Mapping[Role, str]
    refusals: Mapping[RefusalReason, str]


ZH = Words(
    lang="zh-CN",
    query="",
    labels={
        "board": "微心愿墙",
        "tagline": "居民发布微心愿，驻区单位认领，一起点亮微心愿。",
        "switch": "English",
        "switch_lang": "en",
        "wishes": "社区微心愿",
        "empty": "还没有微心愿。",
        "title": "心愿内容",
        "category": "类别",
        "claim_mode": "认领方式",
        "quota": "名额",
        "state": "状态",
        "claimants": "认领单位",
        "claim": "认领",
        "unit_id": "驻区单位编号",
        "post": "发布微心愿",
        "street": "街道编码",
        "grid": "网格编码（选填）",
        "resident_id": "居民编号",
        "contact_name": "联系人（选填）",
        "contact_phone": "联系电话（选填）",
        "contact_note": "联系方式加密保存，不在公开页面显示。",
        "quota_note": "独立认领的名额为 1；联合认领可设多个名额。",
        "acting_as": "当前身份",
        "actor_id": "操作人编号",
        "role": "角色",
        "acting_note": "接入统一身份认证之前，请填写操作人编号和角色。",
        "back": "返回微心愿墙",
        "wish_not_found": "未找到该微心愿。",
        "board_not_found": "未找到该社区。",
        "invalid": "请检查「{field}」的填写。",
        "not_claimable": "该微心愿当前状态为「{state}」，不能认领。",
        "form_reused": "该表单已提交过，请刷新页面后重新填写。",
        "too_large": "提交的内容过长。",
        "list_sep": "、",
    },
    states={
        WishState.SUBMITTED: "待审核",
        WishState.OPEN: "待认领",
        WishState.CLAIMED: "已认领",
        WishState.FULFILMENT_REPORTED: "待核实",
        WishState.FULFILLED: "已点亮",
        WishState.CLOSED: "已办结",
        WishState.REJECTED: "未通过",
        WishState.WITHDRAWN: "已撤回",
        WishState.EXPIRED: "已过期",
    },
    categories={
        WishCategory.MEAL: "餐食",
        WishCategory.HOUSEWORK: "家务",
        WishCategory.COMPANY: "陪伴",
        WishCategory.REPAIR: "维修",
        WishCategory.GOODS: "物品",
        WishCategory.LIGHTING: "照明",
        WishCategory.MOBILITY: "出行",
        WishCategory.LEARNING: "学习",
        WishCategory.HEALTH: "健康",
        WishCategory.OTHER: "其他",
    },
    modes={ClaimMode.EXCLUSIVE: "独立认领", ClaimMode.JOINT: "联合认领"},
    roles={
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
    },
    refusals={
        RefusalReason.ALREADY_CLAIMED: "认领未成功：该微心愿已由 {claimants} 认领。",
        RefusalReason.QUOTA_FULL: "认领未成功：名额已满，认领单位为 {claimants}。",
        RefusalReason.NOT_OPEN: "认领未成功：该微心愿暂不可认领（认领单位：{claimants}）。",
    },
)

EN = Words(
    lang="en",
    query="?lang=en",
    labels={
        "board": "Wish board",
        "tagline": "Residents post small wishes; member units claim them and make them come true.",
        "switch": "中文",
        "switch_lang": "zh-CN",
        "wishes": "Wishes",
        "empty": "No wishes yet.",
        "title": "Wish",
        "category": "Category",
        "claim_mode": "Claim mode",
        "quota": "Quota",
        "state": "State",
        "claimants": "Claimed by",
        "claim": "Claim",
        "unit_id": "Member unit id",
        "post": "Post a wish",
        "street": "Street code",
        "grid": "Grid code (optional)",
        "resident_id": "Resident id",
        "contact_name": "Contact name (optional)",
        "contact_phone": "Contact phone (optional)",
        "contact_note": "Contact details are stored encrypted and never shown on this page.",
        "quota_note": "An exclusive wish has a quota of 1; a joint wish may have more.",
        "acting_as": "Acting as",
        "actor_id": "Actor id",
        "role": "Role",
        "acting_note": "Until sign-in arrives, say whose id and role you act with.",
        "back": "Back to the wish board",
        "wish_not_found": "No such wish.",
        "board_not_found": "No such community.",
        "invalid": "Please check the field “{field}”.",
        "not_claimable": "This wish is “{state}” and cannot be claimed.",
        "form_reused": "This form was already submitted; reload the page and fill it in again.",
        "too_large": "The submitted form is too large.",
        "list_sep": ", ",
    },
    states={
        WishState.SUBMITTED: "Awaiting review",
        WishState.OPEN: "Open",
        WishState.CLAIMED: "Claimed",
        WishState.FULFILMENT_REPORTED: "Fulfilment reported",
        WishState.FULFILLED: "Fulfilled",
        WishState.CLOSED: "Closed",
        WishState.REJECTED: "Rejected",
        WishState.WITHDRAWN: "Withdrawn",
        WishState.EXPIRED: "Expired",
    },
    categories={
        WishCategory.MEAL: "Meal",
        WishCategory.HOUSEWORK: "Housework",
        WishCategory.COMPANY: "Company",
        WishCategory.REPAIR: "Repair",
        WishCategory.GOODS: "Goods",
        WishCategory.LIGHTING: "Lighting",
        WishCategory.MOBILITY: "Mobility",
        WishCategory.LEARNING: "Learning",
        WishCategory.HEALTH: "Health",
        WishCategory.OTHER: "Other",
    },
    modes={ClaimMode.EXCLUSIVE: "Exclusive", ClaimMode.JOINT: "Joint"},
    roles={
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
    },
    refusals={
        RefusalReason.ALREADY_CLAIMED: "Claim refused: already claimed by {claimants}.",
        RefusalReason.QUOTA_FULL: "Claim refused: the quota is full; claimed by {claimants}.",
        RefusalReason.NOT_OPEN: "Claim refused: this wish cannot be claimed now ({claimants}).",
    },
)

PAGE_ROLES = tuple(ZH.roles)
"""Roles a person may act in on the page; `system` is for services, not people."""


def words_for(lang: str | None) -> Words:
    return EN if lang == "en" else ZH
