"""The identity editor: changes nothing. The baseline every render is compared against."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from deage.errors import LookError


@dataclass(frozen=True)
class IdentityParams:
    """The identity editor takes no parameters."""

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> IdentityParams:
        if data:
            raise LookError(f"the identity editor takes no parameters, got {sorted(data)}")
        return cls()

    def to_dict(self) -> dict[str, Any]:
        return {}


class IdentityEditor:
    """Returns every frame unchanged (no face analysis needed)."""

    name = "identity"
