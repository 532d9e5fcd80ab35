"""Who talks to the desk: participants (platform identities) and acting roles."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


@dataclass(frozen=True, slots=True)
class Participant:
    """A person on one platform; raw platform ids never travel further than this."""

    platform: str
    external_id: str

    @property
    def key(self) -> str:
        return f"{self.platform}:{self.external_id}"

    @classmethod
    def parse(cls, key: str) -> Participant:
        platform, _, external_id = key.partition(":")
        return cls(platform, external_id)


class Role(StrEnum):
    CUSTOMER = "customer"
    AGENT = "agent"
    MODERATOR = "moderator"


@dataclass(frozen=True, slots=True)
class Actor:
    """A participant acting in a role; channels establish the role, the core checks it."""

    participant: Participant
    name: str
    role: Role
    departments: frozenset[str] = field(default_factory=frozenset)
    lead: bool = False
    # The same person on other platforms (``/link``), once the core looked them up
    # (``TicketService.as_person``): a ticket one of them holds is this actor's.
    linked: frozenset[Participant] = field(default_factory=frozenset)

    def is_(self, who: Participant | None) -> bool:
        """Whether ``who`` is this actor, on this platform or a linked one."""
        return who is not None and (who == self.participant or who in self.linked)

    def serves(self, department: str) -> bool:
        """True for an agent of ``department`` or any lead."""
        if self.role is not Role.AGENT:
            return False
        return self.lead or department in self.departments


SYSTEM = Actor(Participant("system", "desk"), "Supportbot", Role.AGENT, lead=True)
