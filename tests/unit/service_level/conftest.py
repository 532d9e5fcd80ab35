"""Fixtures: the shipped example policy and its calendars (Prague and Moscow)."""

from __future__ import annotations

import pytest

from bot.i18n import Translator
from bot.policy import DeskPolicy, load_policy
from bot.service_level import BusinessCalendar, ServiceLevels


@pytest.fixture(scope="session")
def policy() -> DeskPolicy:
    return load_policy()


@pytest.fixture(scope="session")
def levels(policy: DeskPolicy) -> ServiceLevels:
    return ServiceLevels.from_policy(policy)


@pytest.fixture(scope="session")
def prague(levels: ServiceLevels) -> BusinessCalendar:
    """Technical department: Mon-Fri 8-16 Europe/Prague, Czech holidays, peak 10-14."""
    return levels.calendar("technical")


@pytest.fixture(scope="session")
def moscow(levels: ServiceLevels) -> BusinessCalendar:
    """Sales department: Mon-Fri 11-20 Europe/Moscow."""
    return levels.calendar("sales")


@pytest.fixture(scope="session")
def translator(policy: DeskPolicy) -> Translator:
    return Translator.load(policy.labels())
