"""The fake Discord itself, driven by the real discord.py client: if these fail, the
channel tests built on it prove nothing."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import discord
import pytest
from discord import app_commands
from fake_discord import (
    APPLICATION_ID,
    CHANNEL_MESSAGE,
    DEFERRED_CHANNEL_MESSAGE,
    TOKEN,
    FakeDiscord,
)

from handlers.discord.client import point_at

GUILD = 7000
TEXT = 7001
USER = 42


class Probe(discord.AutoShardedClient):
    """A minimal bot: ``/ping`` answers at once, ``/slow`` after ``delay`` seconds."""

    def __init__(self, delay: float = 0.0) -> None:
        super().__init__(
            intents=discord.Intents.default(),
            chunk_guilds_at_startup=False,
            guild_ready_timeout=0.05,
        )
        self.tree = app_commands.CommandTree(self)
        self.delay = delay
        self.errors: list[BaseException] = []

        @self.tree.command(name="ping", description="ping")
        async def ping(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("pong", ephemeral=True)

        @self.tree.command(name="slow", description="slow")
        async def slow(interaction: discord.Interaction) -> None:
            await asyncio.sleep(self.delay)
            try:
                await interaction.response.send_message("late")
            except discord.NotFound as exc:
                self.errors.append(exc)


@contextlib.asynccontextmanager
async def running(fake: FakeDiscord, client: discord.Client) -> AsyncIterator[None]:
    point_at(fake.api_url)
    task = asyncio.create_task(client.start(TOKEN))
    try:
        await asyncio.wait_for(client.wait_until_ready(), 10)
        yield
    finally:
        await client.close()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord(heartbeat_interval=0.2) as fake:
        fake.guild(GUILD)
        fake.text_channel(GUILD, TEXT, "general")
        fake.user(USER, "alice")
        fake.member(GUILD, USER)
        yield fake


async def test_identify_ready_heartbeat_and_slash_command(fake: FakeDiscord) -> None:
    client = Probe()
    async with running(fake, client):
        assert fake.identifies == 1
        assert client.user is not None and client.user.id == int(fake.users[4401]["id"])
        assert client.get_guild(GUILD) is not None
        client.tree.copy_global_to(guild=discord.Object(GUILD))
        await client.tree.sync(guild=discord.Object(GUILD))
        assert [c["name"] for c in fake.commands[GUILD]] == ["ping", "slow"]
        answered = await fake.command(USER, "ping", channel_id=TEXT)
        assert answered.response_type == CHANNEL_MESSAGE
        assert answered.texts == ["pong"]
        assert answered.original is not None and answered.original["flags"] == 64
        await fake.wait_for(lambda: fake.heartbeats >= 2)


async def test_an_interaction_answered_after_three_seconds_is_unknown(fake: FakeDiscord) -> None:
    client = Probe(delay=3.2)
    async with running(fake, client):
        client.tree.copy_global_to(guild=discord.Object(GUILD))
        await client.tree.sync(guild=discord.Object(GUILD))
        late = await fake.command(USER, "slow", channel_id=TEXT, wait=False)
        await fake.wait_for(lambda: client.errors)
        assert late.response is None
        assert client.errors[0].code == 10062  # type: ignore[attr-defined]


async def test_a_dropped_connection_resumes_and_replays_what_was_missed(
    fake: FakeDiscord,
) -> None:
    client = Probe()
    seen: list[str] = []

    async def on_message(message: discord.Message) -> None:
        seen.append(message.content)

    client.event(on_message)
    async with running(fake, client):
        await fake.post(USER, TEXT, "before")
        await fake.wait_for(lambda: seen)
        await fake.drop_connection()
        # Sent while the client is away: the fake keeps it for the RESUME.
        await fake.post(USER, TEXT, "missed", wait=False)
        await fake.wait_connected()
        await fake.post(USER, TEXT, "after")
        await fake.wait_for(lambda: "after" in seen)
        assert fake.resumes == 1 and fake.identifies == 1
        assert seen == ["before", "missed", "after"]


async def test_a_429_is_waited_out_and_the_message_sent(fake: FakeDiscord) -> None:
    client = Probe()
    async with running(fake, client):
        channel = client.get_channel(TEXT)
        assert isinstance(channel, discord.TextChannel)
        fake.rate_limit_next("POST", "/channels/{id}/messages", retry_after=0.3)
        started = asyncio.get_running_loop().time()
        await channel.send("hello")
        assert asyncio.get_running_loop().time() - started >= 0.3
        sends = fake.calls_of("POST", rf"/channels/{TEXT}/messages")
        assert [c.status for c in sends] == [429, 200]
        assert fake.texts(TEXT) == ["hello"]


async def test_closed_dms_refuse_with_50007(fake: FakeDiscord) -> None:
    client = Probe()
    async with running(fake, client):
        fake.close_dms(USER)
        user = await client.fetch_user(USER)
        channel = await client.create_dm(user)
        with pytest.raises(discord.Forbidden) as refused:
            await channel.send("hi")
        assert refused.value.code == 50007


async def test_deferred_answer_then_followup_and_files(fake: FakeDiscord) -> None:
    client = Probe()

    @client.tree.command(name="file", description="file")
    async def send_file(interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        await interaction.followup.send(
            "here", file=discord.File(__import__("io").BytesIO(b"PNG"), "shot.png")
        )

    async with running(fake, client):
        client.tree.copy_global_to(guild=discord.Object(GUILD))
        await client.tree.sync(guild=discord.Object(GUILD))
        answered = await fake.command(USER, "file", channel_id=TEXT)
        assert answered.response_type == DEFERRED_CHANNEL_MESSAGE
        await fake.wait_for(lambda: answered.followups)
        attachment = answered.followups[0]["attachments"][0]
        assert attachment["filename"] == "shot.png"
        assert fake.files[attachment["url"].split("/attachments/")[1]] == b"PNG"
        assert str(APPLICATION_ID) in fake.calls_of("POST", "/webhooks/")[0].path
