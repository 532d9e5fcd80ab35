"""The incident service: ``/incident`` for agents, and the match an intake offers.

``/incident new TITLE`` opens one for the agent's departments; ``/incident add N [M
...]`` links tickets to the newest open one (or ``#ID``); ``/incident update [#ID]
TEXT`` reaches every linked customer through the outbox, in their language and on
their channel, and goes into each ticket's thread; ``/incident resolve [#ID] [TEXT]``
resolves every open ticket of it (each customer still confirms) and the incident;
``/incident`` lists the open ones. The replies are neutral, for any channel.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from bot.commands import LinkToIncident, PostIncidentUpdate, ResolveTicket
from bot.errors import ConcurrentUpdate, DeskError, NotAllowed, TicketNotFound
from bot.incident import Incident, IncidentBrief, IncidentStatus
from bot.knowledge.analysis import terms
from bot.participant import Actor
from bot.policy import DeskPolicy
from bot.ports import UnitOfWork, UnitOfWorkFactory
from bot.reply import Reply
from bot.ticket import Status
from bot.tickets import TicketService

TITLE_MIN, TITLE_MAX = 5, 120
TEXT_MAX = 4000
# An open incident is offered at intake when the customer's words hold at least this
# share of its title's terms (and one at least).
MATCH_SHARE = 0.5


async def matching_incident(
    uow: UnitOfWork, department: str, text: str, lang: str
) -> IncidentBrief | None:
    """The department's open incident whose title the customer's words match best."""
    words = set(terms(text, lang))
    best: tuple[float, int, Incident] | None = None
    for incident in await uow.incidents.open_in(frozenset({department})):
        title = set(terms(incident.title, lang))
        shared = len(title & words)
        if not title or shared < max(1, math.ceil(MATCH_SHARE * len(title))):
            continue
        rank = (shared / len(title), incident.id or 0, incident)
        if best is None or rank[:2] > best[:2]:
            best = rank
    return best[2].brief if best else None


@dataclass(frozen=True, slots=True)
class _Target:
    incident: Incident | None
    rest: str


class IncidentService:
    """Agents' ``/incident`` commands on any channel."""

    def __init__(self, uow: UnitOfWorkFactory, tickets: TicketService, policy: DeskPolicy) -> None:
        self._uow = uow
        self._tickets = tickets
        self._policy = policy

    def _departments(self, actor: Actor) -> frozenset[str]:
        return frozenset(self._policy.departments) if actor.lead else actor.departments

    async def handle(self, actor: Actor, arg: str) -> list[Reply]:
        """One ``/incident ...`` of ``actor``; what to tell them."""
        action, _, rest = arg.strip().partition(" ")
        action, rest = action.casefold(), rest.strip()
        if action in ("", "list"):
            return await self._list(actor)
        if action == "new":
            return await self._open(actor, rest)
        if action in ("add", "update", "resolve"):
            return await self._tickets.gate.run(
                actor.participant, None, lambda uow: self._on(uow, actor, action, rest)
            )
        return [Reply("incident.usage")]

    async def _list(self, actor: Actor) -> list[Reply]:
        async with self._uow() as uow:
            found = await uow.incidents.open_in(self._departments(actor))
            incidents = [await uow.incidents.get(i.id or 0) for i in found]
        lines = [
            Reply("incident.line", {"id": i.id, "title": i.title, "count": len(i.tickets)})
            for i in incidents
            if i is not None
        ]
        return [Reply("incident.list_header"), *lines] if lines else [Reply("incident.none_open")]

    async def _open(self, actor: Actor, title: str) -> list[Reply]:
        title = " ".join(title.split())
        if not TITLE_MIN <= len(title) <= TITLE_MAX:
            return [Reply("incident.usage")]
        departments = tuple(sorted(self._departments(actor)))
        if not departments:
            return [Reply("error.not_allowed")]
        incident = Incident(title, departments, actor.name, self._tickets.now())

        async def work(uow: UnitOfWork) -> int:
            return await uow.incidents.add(incident)

        number = await self._tickets.gate.run(actor.participant, None, work)
        return [Reply("incident.opened", {"id": number, "title": title})]

    async def _target(self, uow: UnitOfWork, actor: Actor, rest: str) -> _Target:
        """``#ID`` first names the incident; else the newest open one of the agent's."""
        first, _, after = rest.partition(" ")
        if first.startswith("#") and first[1:].isdigit():
            incident = await uow.incidents.get(int(first[1:]))
            allowed = incident is not None and (
                actor.lead or set(incident.departments) & actor.departments
            )
            return _Target(incident if allowed else None, after.strip())
        found = await uow.incidents.open_in(self._departments(actor))
        incident = await uow.incidents.get(found[0].id or 0) if found else None
        return _Target(incident, rest)

    async def _on(self, uow: UnitOfWork, actor: Actor, action: str, rest: str) -> list[Reply]:
        target = await self._target(uow, actor, rest)
        incident = target.incident
        if incident is None or incident.id is None or incident.status is not IncidentStatus.OPEN:
            return [Reply("incident.none_open")]
        if action == "add":
            return await self._add(uow, actor, incident, target.rest)
        if action == "update":
            return await self._update(uow, actor, incident, target.rest)
        return await self._resolve(uow, actor, incident, target.rest)

    async def _add(
        self, uow: UnitOfWork, actor: Actor, incident: Incident, rest: str
    ) -> list[Reply]:
        words = [n.lstrip("#") for n in rest.replace(",", " ").split()]
        numbers = [int(n) for n in words if n.isdigit()]
        if not numbers:
            return [Reply("incident.usage")]
        assert incident.id is not None
        added: list[int] = []
        for number in numbers:
            if number in incident.tickets or number in added:
                continue
            command = LinkToIncident(number=number, incident_id=incident.id, title=incident.title)
            try:
                await self._tickets.execute_in(uow, actor, command)
            except (NotAllowed, TicketNotFound):
                return [Reply("incident.not_yours", {"number": number})]
            await uow.incidents.link(incident.id, number)
            added.append(number)
        listed = ", ".join(f"#{n}" for n in added) or "—"
        return [Reply("incident.added", {"id": incident.id, "numbers": listed})]

    async def _update(
        self, uow: UnitOfWork, actor: Actor, incident: Incident, text: str
    ) -> list[Reply]:
        if not text or len(text) > TEXT_MAX:
            return [Reply("incident.usage")]
        assert incident.id is not None
        told = 0
        for number in incident.tickets:
            command = PostIncidentUpdate(
                number=number, incident_id=incident.id, title=incident.title, text=text
            )
            try:
                ticket = await self._tickets.execute_in(uow, actor, command)
            except NotAllowed:
                continue  # transferred away since: its new team tells its customer
            told += ticket.is_open
        return [Reply("incident.updated", {"id": incident.id, "count": told})]

    async def _resolve(
        self, uow: UnitOfWork, actor: Actor, incident: Incident, text: str
    ) -> list[Reply]:
        assert incident.id is not None
        resolved = 0
        for number in incident.tickets:
            ticket = await uow.tickets.get(number)
            if not ticket.can_move(Status.RESOLVED):
                continue
            try:
                await self._tickets.execute_in(
                    uow, actor, ResolveTicket(number=number, text=text or incident.title)
                )
            except ConcurrentUpdate:
                raise  # the gate runs it all again on fresh tickets
            except DeskError:
                continue  # e.g. a quote still waits, or it moved to another team
            resolved += 1
        await uow.incidents.resolve(incident.id, self._tickets.now())
        return [Reply("incident.resolved", {"id": incident.id, "count": resolved})]
