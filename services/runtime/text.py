"""Text as it may enter and leave: no control characters in, well-formed XML out.

Every string of a request body is checked. One-line fields (titles, names, phones, addresses,
codes) refuse every C0 and C1 control character and DEL; prose fields (descriptions, details,
notes, minutes, agreements, summaries), named per model in `Body.prose`, also accept tab and
line breaks (`\\t`, `\\n`, and `\\r`, which browsers send in a textarea's `\\r\\n`). Lone
surrogates and the non-characters U+FFFE and U+FFFF are refused everywhere: XML cannot carry
them. A refusal is the validation rule `control_character`, so the 422 names the field.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

TITLE_MAX = 60
"""The longest title a person gives a wish or a ticket, in characters."""
Title = Annotated[str, Field(min_length=1, max_length=TITLE_MAX)]

_NOT_IN_A_LINE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
_NOT_IN_PROSE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
_NOT_IN_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def forbidden_character(value: str, *, prose: bool = False) -> str | None:
    """The first character `value` may not hold (see the module docstring), if any."""
    found = (_NOT_IN_PROSE if prose else _NOT_IN_A_LINE).search(value)
    return found.group() if found else None


def refusal(value: str, *, prose: bool = False) -> str | None:
    """Why `value` is refused, naming the character by its code point; None if it is fine."""
    if (character := forbidden_character(value, prose=prose)) is None:
        return None
    allowed = " (tab and line breaks are allowed)" if prose else ""
    return f"contains the control character U+{ord(character):04X}{allowed}"


def xml_safe(value: str) -> str:
    """`value` with each character XML 1.0 cannot carry replaced by U+FFFD."""
    return _NOT_IN_XML.sub("\ufffd", value)


class Body(BaseModel):
    """A JSON request body: unknown fields refused, every string checked for control
    characters; the fields named in `prose` may hold tabs and line breaks."""

    model_config = ConfigDict(extra="forbid")
    prose: ClassVar[frozenset[str]] = frozenset()

    @field_validator("*", mode="after")
    @classmethod
    def _no_control_characters(cls, value: Any, info: ValidationInfo) -> Any:
        strings = value if isinstance(value, list) else [value]
        for string in strings:
            if isinstance(string, str):
                problem = refusal(string, prose=info.field_name in cls.prose)
                if problem is not None:
                    raise PydanticCustomError("control_character", problem)
        return value
