"""Customer accounts: a support number, its domains, plan and support period."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum


class Entitlement(StrEnum):
    OK = "ok"
    UNKNOWN = "unknown"
    EXPIRED = "expired"
    WRONG_DOMAIN = "wrong_domain"


@dataclass(frozen=True, slots=True)
class Account:
    support_number: str
    domains: tuple[str, ...]
    plan: str
    valid_until: date | None = None
    purchased_on: date | None = None
    organisation: str = ""
    # Participants ("platform:id") who see every ticket of the organisation.
    admins: tuple[str, ...] = ()
    # Bought directly from the vendor; False for a licence sold by a reseller (a plan
    # may serve only direct customers: seed 003).
    direct: bool = True

    def is_valid_on(self, day: date) -> bool:
        return self.valid_until is None or day <= self.valid_until

    def covers(self, domain: str) -> bool:
        wanted = normalise_domain(domain)
        return any(normalise_domain(d) == wanted for d in self.domains)


def normalise_domain(text: str) -> str:
    """``https://www.Shop.cz/admin`` -> ``shop.cz``: how customers type it varies."""
    value = text.strip().lower()
    for prefix in ("https://", "http://"):
        if value.startswith(prefix):
            value = value[len(prefix) :]
    value = value.split("/", 1)[0].split("?", 1)[0]
    if value.startswith("www."):
        value = value[4:]
    return value.rstrip(".")


def normalise_support_number(text: str) -> str:
    return "".join(text.split()).upper()
