"""Masked forms of personal data for public and non-privileged views (张**, 138****1234).

Masks keep only what a neighbour would recognise anyway; they are for display, never a way
to pseudonymise data for storage.
"""

from __future__ import annotations

MASK = "*"
ADDRESS_TAIL = MASK * 4
"""A fixed tail, so the mask does not tell how long the address was."""
_CHINA = "86"


def mask_name(name: str) -> str:
    """The first character, then one star per remaining character: 王秀兰 → 王**."""
    name = name.strip()
    if len(name) <= 1:
        return MASK * len(name)
    return name[0] + MASK * (len(name) - 1)


def mask_phone(phone: str) -> str:
    """Digits only; 11 or more keep the first 3 and last 4 (138****5678), shorter ones less.

    A mainland number written with its country code keeps it in front: +86 138****5678.
    """
    digits = "".join(c for c in phone if c.isdigit())
    if len(digits) == len(_CHINA) + 11 and digits.startswith(_CHINA):
        return f"+{_CHINA} {mask_phone(digits[len(_CHINA) :])}"
    if len(digits) >= 11:
        return digits[:3] + MASK * (len(digits) - 7) + digits[-4:]
    tail = 4 if len(digits) >= 8 else len(digits) // 3
    return MASK * (len(digits) - tail) + digits[len(digits) - tail :]


def mask_address(address: str, *, keep: int = 6) -> str:
    """At most `keep` leading characters and never more than a third of the address.

    金凤区长城东路88号3号楼2单元101 → 金凤区长城东****: the district and street, not the door.
    """
    address = address.strip()
    if not address:
        return ""
    return address[: min(keep, len(address) // 3)] + ADDRESS_TAIL
