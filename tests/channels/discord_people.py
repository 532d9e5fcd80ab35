"""What people do on the fake Discord in the channel tests: open a ticket through
``/ticket new``, find the card, press its buttons."""

from __future__ import annotations

from typing import Any

from discord_app import PNG, Desk
from fake_discord import DEFERRED_CHANNEL_MESSAGE, DEFERRED_UPDATE, MODAL, Interaction

from bot.app import App
from bot.commands import TicketDraft
from bot.customer import Customer
from bot.participant import Participant

DESCRIPTION = "The checkout page shows a blank screen after I press Pay with card **now**."


def components(message: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for row in message.get("components") or []:
        out += row.get("components", [row])
    return out


def last_with(interaction: Interaction, prefix: str) -> dict[str, Any]:
    """The newest message the interaction was answered with that has a component whose
    custom id starts with ``prefix``."""
    for message in reversed(interaction.messages):
        for item in components(message):
            if str(item.get("custom_id", "")).startswith(prefix):
                return message
    raise AssertionError(f"no component {prefix!r} in {interaction.texts}")


def button(message: dict[str, Any], label: str) -> str:
    for item in components(message):
        if item.get("label") == label:
            return str(item["custom_id"])
    raise AssertionError(f"no button {label!r}: {[i.get('label') for i in components(message)]}")


def option(message: dict[str, Any], label_part: str) -> str:
    for item in components(message):
        for choice in item.get("options", []):
            if label_part in choice["label"]:
                return str(choice["value"])
    raise AssertionError(f"no option {label_part!r}")


async def start_ticket(
    desk: Desk,
    user: int,
    *,
    category: str = "Chyba: něco nefunguje",
    title: str = "Checkout is blank",
    description: str = DESCRIPTION,
    files: list[dict[str, Any]] | None = None,
    channel: int | None = None,
    number_in_dm: bool = False,
) -> Interaction:
    """``/ticket new``, the category, the support number SN-1001 unless the desk knows
    it (its one-field form, or typed in the DM), the problem form (with a screenshot
    unless ``files`` says otherwise): the interaction that submitted the problem form."""
    fake = desk.fake
    started = await fake.command(user, "ticket", "new", channel_id=channel)
    assert started.response_type == DEFERRED_CHANNEL_MESSAGE
    menu = last_with(started, "s:")
    picked = await fake.pick(user, menu, "s:", option(menu, category))
    assert picked.response_type == DEFERRED_UPDATE
    if "f:problem" in picked.component_ids():
        problem = last_with(picked, "f:problem")  # the number is known from before
    elif number_in_dm:
        await fake.dm(user, "SN-1001")
        dm = fake.dm_channel_of(user) or 0
        problem = fake.messages[dm][-1]
    else:
        asked = last_with(picked, "f:support_number")
        opened = await fake.press(user, asked, "f:support_number")
        assert opened.response_type == MODAL
        answered = await fake.submit(user, opened, {"text": "SN-1001"})
        problem = last_with(answered, "f:problem")
    opened = await fake.press(user, problem, "f:problem")
    assert opened.response_type == MODAL
    if files is None:
        files = [fake.add_file("checkout.png", PNG, "image/png")]
    return await fake.submit(
        user,
        opened,
        {"title": title, "description": description, "steps": "1. Cart\n2. Pay"},
        {"files": files},
    )


async def file_ticket(desk: Desk, user: int, **options: Any) -> int:
    """A whole intake in Czech with the account SN-1001; the new ticket's number."""
    fake = desk.fake
    submitted = await start_ticket(desk, user, **options)
    phone = last_with(submitted, "f:phone")
    skipped = await fake.press(user, phone, button(phone, "Přeskočit"))
    filed = await fake.press(user, last_with(skipped, "c:confirm"), "c:confirm")
    text = " ".join(filed.texts)
    number = int(text.split("#", 1)[1].split()[0].strip(".,:«»"))
    await desk.relay()
    return number


def thread_of(desk: Desk, parent: int, number: int) -> dict[str, Any]:
    for thread in desk.fake.threads_of(parent):
        if thread["name"].startswith(f"#{number} "):
            return thread
    raise AssertionError(f"no thread for #{number} in {parent}")


def card_of(desk: Desk, parent: int, number: int) -> dict[str, Any]:
    thread = thread_of(desk, parent, number)
    return desk.fake.messages[int(thread["id"])][0]


async def file_directly(app: App, user_id: int, title: str, category: str = "bug") -> int:
    """A ticket of a Discord customer filed through the desk as if the intake had
    finished (set-up for tests of what comes after)."""
    customer = Customer(
        Participant("discord", str(user_id)),
        name=f"Customer {user_id}",
        locale="cs",
        support_number="SN-1001",
        domain="shop.example.cz",
    )
    async with app.uow() as uow:
        await uow.customers.put(customer)
        await uow.commit()
    draft = TicketDraft(
        category=category,
        title=title,
        description=f"{title}: please have a look.",
        support_number="SN-1001",
        domain="shop.example.cz",
    )
    [ticket] = await app.tickets.open_tickets(customer, (draft,), "discord")
    assert ticket.number is not None
    return ticket.number
