"""The pages' words (wish board, sign-in): Simplified Chinese by default, English on `?lang=en`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from events.envelope import Role
from events.wishes import ClaimMode, RefusalReason, WishCategory
from services.runtime.words import FORBIDDEN_EN, FORBIDDEN_ZH, ROLES_EN, ROLES_ZH


@dataclass(frozen=True)
class Words:
    """Everything a page says in one language, and the query that keeps that language."""

    lang: str
    query: str
    labels: Mapping[str, str]
    states: Mapping[str, str]
    """A wish's state (its value) → its name on the board."""
    categories: Mapping[WishCategory, str]
    modes: Mapping[ClaimMode, str]
    roles: Mapping[Role, str]
    refusals: Mapping[RefusalReason, str]
    actions: Mapping[str, str]
    forbidden: Mapping[str, str]
    """Policy refusal codes, formatted with {role} and {action}; "" is the fallback."""
    duties: Mapping[Role, str]
    """What a demo account's role does, on the sign-in page."""


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
        "claim_as": "以驻区单位 {unit} 的名义认领。",
        "post": "发布微心愿",
        "street": "街道编码",
        "grid": "网格编码（选填）",
        "resident_id": "居民编号",
        "contact_name": "联系人（选填）",
        "contact_phone": "联系电话（选填）",
        "contact_note": "联系方式加密保存，不在公开页面显示。",
        "quota_note": "独立认领的名额为 1；联合认领可设多个名额。",
        "posting_for_self": "以本人名义发布（居民编号 {person}）。",
        "on_behalf_note": "代居民发布时，系统会记录您为代办人。",
        "cannot_act": "您当前的角色只能查看微心愿墙。",
        "signed_in_as": "已登录：{id}（{role}）",
        "signin_title": "演示登录",
        "signin_note": "演示环境：选择一个账号即可登录，无需密码。正式部署通过统一身份认证登录。",
        "signin_as": "以此身份登录",
        "signout": "退出登录",
        "community_roles": "居民、社区与驻区单位",
        "oversight_roles": "监督与运维",
        "account": "账号",
        "role": "角色",
        "scope": "范围",
        "duty": "可以做什么",
        "everywhere": "全部",
        "no_signin": "本服务未开启演示登录：请通过统一身份认证登录。",
        "bad_next": "登录后的返回地址必须是本站页面。",
        "unknown_account": "没有这个演示账号。",
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
        "submitted": "待审核",
        "open": "待认领",
        "claimed": "已认领",
        "fulfilment_reported": "待核实",
        "fulfilled": "已点亮",
        "closed": "已办结",
        "rejected": "未通过",
        "withdrawn": "已撤回",
        "expired": "已过期",
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
    roles=ROLES_ZH,
    refusals={
        RefusalReason.ALREADY_CLAIMED: "认领未成功：该微心愿已由 {claimants} 认领。",
        RefusalReason.QUOTA_FULL: "认领未成功：名额已满，认领单位为 {claimants}。",
        RefusalReason.NOT_OPEN: "认领未成功：该微心愿暂不可认领（认领单位：{claimants}）。",
    },
    actions={"wish.read": "查看微心愿墙", "wish.post": "发布微心愿", "wish.claim": "认领微心愿"},
    forbidden=FORBIDDEN_ZH,
    duties={
        Role.RESIDENT: "为自己发布微心愿",
        Role.BUILDING_CHIEF: "代楼里的居民发布微心愿",
        Role.GRID_WORKER: "代网格里的居民发布微心愿",
        Role.COMMUNITY_STAFF: "代居民发布、审核微心愿",
        Role.COMMUNITY_SECRETARY: "代居民发布、审核微心愿",
        Role.UNIT_STAFF: "以本单位的名义认领微心愿",
        Role.VOLUNTEER: "查看微心愿墙",
        Role.MEDIATOR: "查看微心愿墙",
        Role.STREET_OFFICIAL: "查看本街道的微心愿和台账",
        Role.DISTRICT_OFFICIAL: "查看全区的微心愿和台账",
        Role.AUDITOR: "只读：查看台账、回放审计",
        Role.OPERATOR: "查看运行状态",
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
        "claim_as": "You claim for the member unit {unit}.",
        "post": "Post a wish",
        "street": "Street code",
        "grid": "Grid code (optional)",
        "resident_id": "Resident id",
        "contact_name": "Contact name (optional)",
        "contact_phone": "Contact phone (optional)",
        "contact_note": "Contact details are stored encrypted and never shown on this page.",
        "quota_note": "An exclusive wish has a quota of 1; a joint wish may have more.",
        "posting_for_self": "You post for yourself (resident id {person}).",
        "on_behalf_note": "Posting for a resident records you as acting on their behalf.",
        "cannot_act": "Your role may only read the wish board.",
        "signed_in_as": "Signed in as {id} ({role})",
        "signin_title": "Demo sign-in",
        "signin_note": "Demo setup: pick an account to sign in, no password. "
        "A real deployment signs you in through its identity provider.",
        "signin_as": "Sign in as this account",
        "signout": "Sign out",
        "community_roles": "Residents, community and member units",
        "oversight_roles": "Oversight and operations",
        "account": "Account",
        "role": "Role",
        "scope": "Scope",
        "duty": "What it does",
        "everywhere": "everywhere",
        "no_signin": "Demo sign-in is not enabled here: sign in through the identity provider.",
        "bad_next": "After signing in you can only be sent to a page of this site.",
        "unknown_account": "There is no such demo account.",
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
        "submitted": "Awaiting review",
        "open": "Open",
        "claimed": "Claimed",
        "fulfilment_reported": "Fulfilment reported",
        "fulfilled": "Fulfilled",
        "closed": "Closed",
        "rejected": "Rejected",
        "withdrawn": "Withdrawn",
        "expired": "Expired",
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
    roles=ROLES_EN,
    refusals={
        RefusalReason.ALREADY_CLAIMED: "Claim refused: already claimed by {claimants}.",
        RefusalReason.QUOTA_FULL: "Claim refused: the quota is full; claimed by {claimants}.",
        RefusalReason.NOT_OPEN: "Claim refused: this wish cannot be claimed now ({claimants}).",
    },
    actions={
        "wish.read": "read the wish board",
        "wish.post": "post a wish",
        "wish.claim": "claim a wish",
    },
    forbidden=FORBIDDEN_EN,
    duties={
        Role.RESIDENT: "posts their own wishes",
        Role.BUILDING_CHIEF: "posts wishes for the building's residents",
        Role.GRID_WORKER: "posts wishes for the grid's residents",
        Role.COMMUNITY_STAFF: "posts wishes for residents, reviews wishes",
        Role.COMMUNITY_SECRETARY: "posts wishes for residents, reviews wishes",
        Role.UNIT_STAFF: "claims wishes for their member unit",
        Role.VOLUNTEER: "reads the wish board",
        Role.MEDIATOR: "reads the wish board",
        Role.STREET_OFFICIAL: "reads the street's wishes and ledger",
        Role.DISTRICT_OFFICIAL: "reads the district's wishes and ledger",
        Role.AUDITOR: "read-only: ledger and audit replay",
        Role.OPERATOR: "reads the services' status",
    },
)


def words_for(lang: str | None) -> Words:
    return EN if lang == "en" else ZH
