"""The terminal channel as a user drives it: ``python -m bot console`` with piped input.

Each test runs the real program (a subprocess, its own SQLite file), so it covers the
whole path: console adapter -> desk -> conversations -> store -> outbox -> relay ->
console notifier, and the admin CLI reading the result.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.policy import EXAMPLE_POLICY

ROOT = Path(__file__).resolve().parents[2]

DESCRIPTION = "When I click Pay in the checkout, the page shows error 500 and no order is made."
STEPS = "1. add a product to the cart 2. go to checkout 3. click Pay"
# The example policy's category menu: 2 = a (non-critical) error of the technical team.
BUG = "2"


class Desk:
    """One deployment: a database file and a policy, used by several program runs."""

    def __init__(self, tmp_path: Path, policy: Path = EXAMPLE_POLICY) -> None:
        self.env = {
            **os.environ,
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'desk.db'}",
            "DESK_POLICY_FILE": str(policy),
            "REDIS_URL": "",
            "TELEGRAM_BOT_TOKEN": "",
            # The terminal takes its language from the locale: these tests read English.
            "LANG": "C.UTF-8",
            "LC_ALL": "",
        }
        self.cwd = tmp_path

    def run(self, *args: str, stdin: str = "") -> str:
        done = subprocess.run(
            [sys.executable, "-m", "bot", *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=self.env,
            cwd=self.cwd,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert "Traceback" not in done.stderr, done.stderr
        return done.stdout

    def console(self, *lines: str) -> str:
        return self.run("console", stdin="\n".join(lines) + "\n")

    def account(self, number: str, *extra: str) -> None:
        self.run("accounts", "add", number, *extra)


def intake(number: str, description: str = DESCRIPTION) -> list[str]:
    """A customer's intake up to the summary: category, support number, title,
    description, the help articles offered for the title (not enough), steps, no
    files, no phone."""
    return [
        "/as customer alice",
        "/new",
        BUG,
        number,
        "Checkout fails with error 500",
        description,
        "I still need help",
        STEPS,
        "done",
        "/skip",
    ]


@pytest.fixture(scope="module")
def accounts_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A desk's database with the two accounts most tests start from, added through the
    admin CLI once (two program runs); each test gets a copy."""
    folder = tmp_path_factory.mktemp("accounts")
    d = Desk(folder)
    d.account(
        "SN-1001", "--domain", "shop.cz", "--plan", "standard", "--valid-until", "2099-12-31"
    )
    d.account("SN-OLD", "--domain", "old.cz", "--plan", "standard", "--valid-until", "2020-01-31")
    return folder / "desk.db"


@pytest.fixture
def desk(tmp_path: Path, accounts_db: Path) -> Desk:
    for suffix in ("", "-wal", "-shm"):  # SQLite's journal, if the last run left one
        kept = accounts_db.with_name(accounts_db.name + suffix)
        if kept.exists():
            shutil.copy(kept, tmp_path / kept.name)
    return Desk(tmp_path)


def test_a_ticket_goes_from_filing_to_closed_and_the_transcript_shows_every_step(
    desk: Desk,
) -> None:
    out = desk.console(
        *intake("SN-1001"),
        "1",  # Send the ticket
        "/as agent eva technical",
        "/queue",
        "/claim 1",
        "/ask 1 Which payment gateway do you use?",
        "/as customer alice",
        "GoPay, since last week",
        "/as agent eva technical",
        "/resolve 1 We fixed the GoPay callback URL.",
        "/as customer alice",
        "1",  # It works, close it
    )
    assert "Your ticket #1 has been filed" in out
    assert "[to team technical] New request #1 «Checkout fails with error 500»" in out
    assert (
        "[to customer alice] Request #1 «Checkout fails with error 500» has been accepted" in out
    )
    assert "[to customer alice] Request #1 is waiting for you. eva asks:" in out
    assert "Added to request #1" in out
    assert "[to customer alice] Request #1 «Checkout fails with error 500» is resolved" in out
    assert "Thank you! Request #1 is closed." in out

    shown = desk.run("tickets", "show", "1")
    assert "Status: Closed" in shown
    assert "customer alice: GoPay, since last week" in shown
    assert "agent eva: Which payment gateway do you use?" in shown
    assert "agent eva: We fixed the GoPay callback URL." in shown
    history = [line for line in shown.splitlines() if "→" in line]
    assert [line.split("] ")[1].split(" by ")[0] for line in history] == [
        "— → New",
        "New → Accepted",
        "Accepted → Waiting for customer",
        "Waiting for customer → Accepted",
        "Accepted → Resolved, awaiting confirmation",
        "Resolved, awaiting confirmation → Closed",
    ]


def test_unknown_support_number_is_explained_and_nothing_is_filed(desk: Desk) -> None:
    out = desk.console(*intake("SN-9999")[:4], "/cancel")
    assert "We couldn't find support number SN-9999" in out
    assert "Contact the sales department" in out
    assert desk.run("tickets", "list") == ""


def test_expired_support_is_explained_and_nothing_is_filed(desk: Desk) -> None:
    out = desk.console(*intake("SN-OLD")[:4], "/cancel")
    assert "The support for number SN-OLD expired on January 31, 2020" in out
    assert desk.run("tickets", "list") == ""


def test_two_problems_in_one_description_are_caught_and_can_be_split(desk: Desk) -> None:
    two = (
        # A trailing backslash continues a message on the next line.
        "1. The checkout page shows error 500 after clicking Pay.\\\n"
        "2. Also the invoice PDF has the wrong VAT number on it."
    )
    lines = intake("SN-1001", description=two)
    # After the description the desk offers to split; pick "Split into separate tickets",
    # then the second problem's category: the suggested one comes first.
    out = desk.console(*lines[:6], "1", "1", *lines[6:], "1")
    assert "describe 2 problems" in out
    assert "Problem 2 of 2:" in out
    assert "It looks like “Payment or subscription problem” (the first button)" in out
    assert "Payment or subscription problem → Sales department" in out
    assert "We have filed 2 tickets: #1, #2" in out
    listed = desk.run("tickets", "list")
    assert "#1" in listed and "#2" in listed
    assert "Department: Technical department" in desk.run("tickets", "show", "1")
    assert "Department: Sales department" in desk.run("tickets", "show", "2")


def test_two_problems_cancelled_file_nothing(desk: Desk) -> None:
    two = "The checkout shows error 500. Another problem: the invoice PDF has a wrong VAT number."
    lines = intake("SN-1001", description=two)
    out = desk.console(*lines[:6], "/cancel")
    assert "problems:" in out
    assert desk.run("tickets", "list") == ""


def test_a_restart_between_intake_steps_loses_nothing(desk: Desk) -> None:
    lines = intake("SN-1001")
    first = desk.console(*lines[:5])  # category, number and title, then the process ends
    assert "Describe the problem" in first
    second = desk.console("/as customer alice", *lines[5:], "1")
    # The restarted desk reminds the customer where they were, before anything else.
    reminded = second.split("Describe the problem")[0]
    assert "[to customer alice] We were interrupted for a moment" in reminded
    assert "Your ticket #1 has been filed" in second
    assert "Title: Checkout fails with error 500" in second
    assert "Checkout fails with error 500" in desk.run("tickets", "show", "1")


def test_a_linked_customer_is_not_asked_for_the_number_again(desk: Desk) -> None:
    desk.console(*intake("SN-1001"), "1")
    out = desk.console(
        "/as customer alice", "/new", BUG, "Search is slow", "Search takes 30 seconds.", "/skip"
    )
    assert "support number" not in out.split("Search is slow")[-1].lower()


def test_stranger_agent_and_forged_input_change_nothing(desk: Desk) -> None:
    out = desk.console(
        *intake("SN-1001"),
        "1",
        "/as agent sam sales",
        "/claim 1",
        "/as customer alice",
        "99",  # a number that is no offered choice: just text, joins the open ticket
    )
    assert "You are not allowed to do this. Nothing was changed." in out
    shown = desk.run("tickets", "show", "1")
    assert "Status: New" in shown and "Assignee: —" in shown


def test_the_terminal_speaks_the_locales_language(tmp_path: Path) -> None:
    desk = Desk(tmp_path)
    desk.env["LANG"] = "pl_PL.UTF-8"
    out = desk.console("/new")
    assert "W czym możemy pomóc?" in out


def test_service_levels_in_a_session(tmp_path: Path) -> None:
    """Expectation at filing, the quota message, a quote accepted, and an auto-close."""
    policy = tmp_path / "desk.toml"
    policy.write_text(
        EXAMPLE_POLICY.read_text(encoding="utf-8").replace(
            "monthly_quota = 10", "monthly_quota = 1"
        ),
        encoding="utf-8",
    )
    desk = Desk(tmp_path, policy)
    desk.account(
        "SN-1001", "--domain", "shop.cz", "--plan", "standard", "--valid-until", "2099-12-31"
    )
    out = desk.console(
        *intake("SN-1001"),
        "1",
        # A second ticket is over the quota of 1: said as soon as the category is picked,
        # with the ways forward; the customer cancels.
        "/new",
        BUG,
        "3",
        "/as agent eva",
        "/quote 1 1500 CZK | a new payment module",
        "/resolve 1 Installed.",
        "/as customer alice",
        "1",  # accept the price
        "/as agent eva",
        "/resolve 1 Installed.",
        "/wait 8d",
    )
    # Which expectation depends on the hour the test runs; every one names a moment.
    assert "#1 has been filed" in out
    assert any(
        said in out
        for said in (
            "When to expect an answer:",
            "We are outside working hours now",
            "Outside working hours we handle only critical problems",
        )
    )
    assert out.count("Thank you") == out.count("Thank you, the quote") + 1  # thanked once
    # Moments in the department's zone, named by its city in the reader's language.
    assert "(Prague)" in out and "Europe/Prague" not in out and " UTC" not in out
    assert "0 requests of 1 left this month." in out
    exceeded = "You have used this month's quota of 1 request;"
    assert exceeded in out
    after = out.split(exceeded)[-1]
    assert "How would you like to go on?" in after
    assert "1) Ask the sales department (not counted)" in after
    assert "2) File it as a paid request" in after
    assert "Cancelled. Nothing was filed." in after
    assert "has a quote the customer has not accepted yet" in out
    assert "the quote for request #1 is accepted" in out
    assert (
        "[to customer alice] Request #1 «Checkout fails with error 500» was closed automatically"
        in out
    )
    shown = desk.run("tickets", "show", "1")
    assert "Status: Closed" in shown
    assert "Quote: CZK\xa01,500.00 (accepted)" in shown
    assert desk.run("tickets", "list").count("#") == 1


def test_a_quote_waits_for_the_customers_approval_and_a_refusal_declines_it(
    desk: Desk,
) -> None:
    out = desk.console(
        *intake("SN-1001"),
        "1",
        "/as agent eva",
        "/quote 1 1500 CZK | three banners",
        "/resolve 1 Done.",
        "/queue",
        "/as customer alice",
        "/ticket 1",
        "2",  # Refuse
        "/as agent eva",
        "/quote 1 900 CZK",
    )
    assert "1 waiting for approval" in out
    assert "Status: Waiting for the customer's approval" in out
    assert "Request #1 waits for your approval: the team quotes CZK\xa01,500.00" in out
    assert "has a quote the customer has not accepted yet" in out
    assert "the request is closed as declined by you" in out
    assert "the customer refused the quote (CZK\xa01,500.00); the request is declined" in out
    assert "A quote can only be sent while request #1 is being worked on" in out
    shown = desk.run("tickets", "show", "1")
    assert "Status: Declined" in shown
    assert "Quote: CZK\xa01,500.00 (refused)" in shown
    assert "Waiting for the customer's approval → Declined" in shown


def test_the_account_and_the_quota_come_before_writing_and_the_domain_every_time(
    tmp_path: Path,
) -> None:
    policy = tmp_path / "desk.toml"
    policy.write_text(
        EXAMPLE_POLICY.read_text(encoding="utf-8")
        .replace("monthly_quota = 10", "monthly_quota = 1")
        .replace(
            "[plans.standard]\n", "[plans.standard]\nask_domain = true\ndirect_only = true\n"
        ),
        encoding="utf-8",
    )
    desk = Desk(tmp_path, policy)
    desk.env["FLOOD_LIMIT"] = "1000"  # one customer types two whole requests in a go
    desk.account(
        "SN-1001", "--domain", "shop.cz", "--plan", "standard", "--valid-until", "2099-12-31"
    )
    desk.account("SN-R", "--domain", "r.cz", "--plan", "standard", "--reseller")
    assert "SN-R\tstandard\t-\tr.cz\treseller" in desk.run("accounts", "list")
    out = desk.console(
        "/as customer alice",
        "/new",
        BUG,
        "SN-1001",
        "other-shop.cz",  # not on the package
        "1",  # shop.cz
        "Checkout fails with error 500",
        DESCRIPTION,
        "/skip",
        "done",
        "/skip",
        "1",
        "/new",
        BUG,
        "2",  # the quota is used up: a paid request
        "1",  # the domain, asked with every request
        "Search is slow today",
        "Search in the shop takes about thirty seconds to answer.",
        "/skip",
        "done",
        "/skip",
        "1",
        "/as customer bob",
        "/new",
        BUG,
        "SN-R",
        "/as agent eva",
        "/show 2",
    )
    # What is left, and the domain, before the customer writes anything.
    before_title = out.split("Give the ticket a short title")[0]
    assert "1 request of 1 left this month." in before_title
    assert "Which address (domain) is your request about?" in before_title
    assert "other-shop.cz is not on support package SN-1001: it covers shop.cz" in out
    assert "Domain: shop.cz" in out
    exceeded = "You have used this month's quota of 1 request;"
    assert exceeded in out.split("Your ticket #1 has been filed")[-1]
    assert "This is a paid request beyond your monthly quota" in out
    assert "Your ticket #2 has been filed" in out
    assert "bought through a reseller" in out
    # The team sees it is a paid request.
    assert "Paid request beyond the monthly quota: send the customer a quote" in out


def test_nothing_typed_is_lost_or_misfiled(desk: Desk) -> None:
    out = desk.console(
        "/as customer alice",
        "/new",
        "12",  # no such category
        BUG,  # the menu still stands
        "SN-1001",
        "Checkout fails with error 500",
        DESCRIPTION,
        "I still need help",  # the help articles offered for it
        STEPS,
        "done",
        "/skip",
        "1",
        "/tickets",
        "9",  # no such filter: not a message for the open ticket
        "/as agent eva",
        "/block 1 deploying the fix",
        "/as customer alice",
        "Any news? The shop still shows the error.",
        "/as agent eva",
        "/unblock 1",
        "/decline 1 out_of_scope",
        "/as customer alice",
        "It is broken again since this morning, same error.",
        "1",  # yes, a follow-up
    )
    assert "12 is not one of the options (1–" in out
    assert "9 is not one of the options (1–" in out
    assert "Your message is kept and will be passed on to the team when it is unblocked" in out
    assert "alice writes:\nAny news? The shop still shows the error." in out
    assert "is no longer blocked: the fix is done and you can write again" in out
    assert "Your message is kept: it goes into the new request if you open one." in out
    shown = desk.run("tickets", "show", "1")
    assert "\n9" not in shown and ": 9\n" not in shown
    assert "written while blocked (passed on when unblocked): Any news?" in shown


def test_training_in_the_policys_words_and_for_trial_users(tmp_path: Path) -> None:
    policy = tmp_path / "desk.toml"
    policy.write_text(
        EXAMPLE_POLICY.read_text(encoding="utf-8").replace("days = 30", "days = 14"),
        encoding="utf-8",
    )
    desk = Desk(tmp_path, policy)
    out = desk.console(
        "/as customer tom",
        "/help",
        "/training",
        "1",  # on a trial, no number yet
        "Tuesday 10:00-11:00\\",
        "Wednesday 14:00-15:00",
        "1",  # send the request
    )
    assert "/training: ask for “Free one-hour training” (new customers, within 14 days" in out
    assert "New customers may ask for “Free one-hour training” within 14 days" in out
    assert "1) I'm on a trial (no number yet)" in out
    assert "Your training request is #1" in out
    shown = desk.run("tickets", "show", "1")
    assert "Department: Sales department" in shown and "Support number: —" in shown


def test_accounts_import_is_all_or_nothing(tmp_path: Path) -> None:
    desk = Desk(tmp_path)
    good = tmp_path / "good.csv"
    good.write_text(
        "support_number,domain,plan,valid_until,direct\n"
        "sn-2001,https://www.Shop-A.cz/admin,standard,2027-06-30,\n"
        "SN-2002,b.pl;c.pl,all_in_one,,no\n",
        encoding="utf-8",
    )
    assert desk.run("accounts", "import", str(good)) == "imported 2 accounts\n"
    listed = desk.run("accounts", "list")
    # Without a value, bought directly; "no" marks a reseller's licence.
    assert "SN-2001\tstandard\t2027-06-30\tshop-a.cz\tdirect" in listed
    assert "SN-2002\tall_in_one\t-\tb.pl,c.pl\treseller" in listed
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "\ufeffsupport_number,domain,plan,valid_until,direct\n"
        "SN-3001,x.cz,gold,\n"
        "SN-3002,y.cz,free,\n"
        "SN-3003,a.cz;b.cz,standard,\n"
        "SN-3004,d.cz,standard,,maybe\n",
        encoding="utf-8",
    )
    done = subprocess.run(
        [sys.executable, "-m", "bot", "accounts", "import", str(bad)],
        capture_output=True,
        text=True,
        env=desk.env,
        cwd=desk.cwd,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert "line 2: SN-3001: unknown plan 'gold'" in done.stdout
    assert "line 4: SN-3003: 2 domains, but the standard plan covers 1 per package" in done.stdout
    assert "line 5: SN-3004: direct is 'maybe' (yes or no)" in done.stdout
    assert "SN-3002" not in desk.run("accounts", "list")


def test_an_agents_queue_comes_in_pages(desk: Desk, tmp_path: Path) -> None:
    import asyncio

    from bot.app import build_app
    from bot.commands import TicketDraft
    from bot.customer import Customer
    from bot.participant import Participant
    from bot.settings import Settings

    async def file_twelve() -> None:
        settings = Settings(database_url=desk.env["DATABASE_URL"], _env_file=None)  # type: ignore[call-arg]
        app = await build_app(settings)
        try:
            for i in range(12):
                who = Customer(Participant("console", f"c{i}"), f"Customer {i}")
                draft = TicketDraft(
                    category="bug", title=f"Problem number {i}", description="It fails."
                )
                await app.tickets.open_tickets(who, (draft,), "console")
        finally:
            await app.close()

    asyncio.run(file_twelve())
    out = desk.console("/as agent eva technical", "/queue", "/queue 2")
    first, _, second = out.partition("Page 1 of 2")
    assert "12 new · 0 accepted" in first
    assert first.count("| Problem number") == 10  # queue lines, not the team's notices
    assert "Next »: /queue 2" in second
    later = second.split("Page 2 of 2")
    assert len(later) == 2 and later[0].count("| Problem number") == 2
    assert "« Previous: /queue 1" in later[1]


def test_a_flood_keeps_every_line_and_joins_the_rest_in_once_it_is_over(desk: Desk) -> None:
    desk.env |= {"FLOOD_LIMIT": "12", "FLOOD_WINDOW_SECONDS": "60"}
    notes = [f"note {i}: the error page shows code {500 + i}" for i in range(8)]
    out = desk.console(*intake("SN-1001"), "1", *notes, "/wait 2m")
    # Ten steps of intake (the help articles' "I still need help" among them) and
    # filing, then two notes within the limit of twelve.
    assert out.count("Added to request #1") == 1
    assert out.count("(added to request #1)") == 1
    # Told once, precisely; the six over the limit are kept, then joined in one piece.
    assert out.count("more than 12 messages in 1 min") == 1
    assert (
        "[to customer alice] The 6 messages you sent in quick succession were added to "
        "request #1 in one piece." in out
    )
    assert (
        "[to team technical] #1 «Checkout fails with error 500»: alice writes (6 messages" in out
    )
    shown = desk.run("tickets", "show", "1")
    assert all(note in shown for note in notes)
    assert "\n\n".join(notes[2:]) in shown.replace("\n  ", "\n")


def test_help_articles_are_checked_listed_searched_and_added_from_the_terminal(
    tmp_path: Path,
) -> None:
    articles = tmp_path / "articles"
    shutil.copytree(EXAMPLE_POLICY.parent / "help", articles)
    policy = tmp_path / "desk.toml"
    policy.write_text(
        EXAMPLE_POLICY.read_text(encoding="utf-8").replace(
            'folder = "help"', f'folder = "{articles.as_posix()}"'
        ),
        encoding="utf-8",
    )
    desk = Desk(tmp_path, policy)
    assert "48 articles, 0 problems" in desk.run("help", "check")
    found = desk.run("help", "search", "karta zamitnuta pri platbe predplatneho", "--lang", "cs")
    assert found.splitlines()[0].split()[1] == "payment-failed/cs"
    new = tmp_path / "refund-policy.md"
    new.write_text(
        "---\ntitle: Refunds of unused months\nkeywords: refund, money back\n"
        "departments: sales\n---\nUnused months are refunded on request.\n",
        encoding="utf-8",
    )
    assert "added refund-policy/en; indexed 49 articles" in desk.run(
        "help", "add", str(new), "--lang", "en"
    )
    assert "refund-policy\tsales\tRefunds of unused months" in desk.run(
        "help", "list", "--lang", "en"
    )
    assert (articles / "en" / "refund-policy.md").exists()
    (articles / "cs" / "broken.md").write_text("no header", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "bot", "help", "check"],
        capture_output=True,
        text=True,
        env=desk.env,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert "problem: cs/broken.md: the file must start with a '---' header" in done.stdout


def test_a_customer_reads_an_article_says_why_it_did_not_help_and_the_lead_sees_it(
    desk: Desk,
) -> None:
    out = desk.console(
        "/as customer alice",
        "/help confirmation emails do not arrive",
        "1",  # the first article
        "2",  # Was this article helpful? No
        "1",  # It is out of date
    )
    assert "Order confirmation e-mails do not arrive" in out
    assert "SPF and DKIM" in out
    assert "What was wrong with it?" in out
    assert "Thank you for your feedback!" in out
    report = desk.run("help", "feedback")
    assert "en/emails-not-sent\t0 votes yes\t1 vote no (out of date ×1)" in report
    # The lead's dashboard has the same counts for the period.
    stats = desk.run("stats", "--days", "7")
    assert "Help articles, “Was this helpful?” (most “no” first):" in stats
    assert "[en]: 0 votes yes · 1 vote no (out of date ×1, unclear ×0," in stats


def test_an_agent_finds_a_ticket_and_exports_its_transcript(desk: Desk, tmp_path: Path) -> None:
    out = desk.console(
        *intake("SN-1001"),
        "1",  # Send the ticket
        "/as agent eva technical",
        "/find checkout error",
        "/find nothing like this",
        "/answer 1 Please clear the <cache>",
        "/transcript 1",
    )
    assert "1 request matches “checkout error”" in out
    assert "No request of your departments matches “nothing like this”" in out
    assert "# \\#1 Checkout fails with error 500" in out
    assert "Please clear the \\<cache\\>" in out
    page = desk.run("tickets", "export", "1", "--format", "html")
    assert "<h1>#1 Checkout fails with error 500</h1>" in page
    assert "Please clear the &lt;cache&gt;" in page
    saved = tmp_path / "t.md"
    assert "wrote" in desk.run("tickets", "export", "1", "--output", str(saved))
    assert saved.read_text(encoding="utf-8").startswith("# \\#1 Checkout fails")


def test_an_incident_update_reaches_the_customer_in_the_terminal(desk: Desk) -> None:
    out = desk.console(
        *intake("SN-1001"),
        "1",  # Send the ticket
        "/as agent eva technical",
        "/incident new Checkout outage",
        "/incident add 1",
        "/incident update The payment provider is back.",
        "/incident resolve",
        "/incident",
    )
    assert "Incident #1 «Checkout outage» is open" in out
    assert "Incident #1: linked #1." in out
    assert "Update on «Checkout outage» (your request #1): The payment provider is back." in out
    assert "Incident #1 is resolved; 1 request was resolved" in out
    assert "There is no open incident of your departments" in out


def test_the_stats_in_the_terminal_and_as_a_chart(desk: Desk, tmp_path: Path) -> None:
    out = desk.console(*intake("SN-1001"), "1", "/as agent eva technical", "/stats 30d")
    assert "The last 30 days" in out
    assert "Technical department: 1 open · 1 filed, 0 solved by an article" in out
    chart = tmp_path / "stats.png"
    report = desk.run("stats", "--days", "7", "--chart", str(chart))
    assert "Technical department: 1 open · 1 filed" in report
    assert chart.read_bytes().startswith(b"\x89PNG")


def _closed_for_two_weeks(tmp_path: Path) -> Path:
    """The example policy with the technical department closed from yesterday for two
    weeks (its own extra closed days), open only Monday 00:00-00:01 otherwise: whatever
    the hour the test runs, a request now is filed off hours."""
    from datetime import date, timedelta

    text = EXAMPLE_POLICY.read_text(encoding="utf-8")
    today = date.today()
    closed = ", ".join((today + timedelta(days=d)).isoformat() for d in range(-1, 15))
    technical = text.split("[departments.technical]", 1)[1].split("[departments.", 1)[0]
    changed = technical.replace(
        'hours = { mon = "08:00-16:00", tue = "08:00-16:00", wed = "08:00-16:00", '
        'thu = "08:00-16:00", fri = "08:00-16:00", sat = "", sun = "" }',
        'hours = { mon = "00:00-00:01" }',
    ).replace("holidays = []", f"holidays = [{closed}]")
    assert changed != technical
    policy = tmp_path / "closed.toml"
    policy.write_text(text.replace(technical, changed), encoding="utf-8")
    (tmp_path / "help").symlink_to(EXAMPLE_POLICY.parent / "help")
    return policy


def test_a_critical_outage_off_hours_is_told_its_hour_and_the_hotline(tmp_path: Path) -> None:
    desk = Desk(tmp_path, _closed_for_two_weeks(tmp_path))
    desk.account(
        "SN-1001", "--domain", "shop.cz", "--plan", "standard", "--valid-until", "2099-12-31"
    )
    out = desk.console(
        "/as customer alice",
        "/new",
        "1",  # Critical error: the shop or a core function does not work
        "SN-1001",
        "The whole shop is down",
        DESCRIPTION,
        "I still need help",
        STEPS,
        "done",
        "/skip",
        "1",  # Send the ticket
        "/ticket 1",
    )
    picked = out.split("Critical error", 2)[-1]
    # Shown as soon as the critical category is picked, before anything else is asked.
    hotline = "For a critical problem that cannot wait, call our hotline: +420 800 100 200"
    assert hotline in picked.split("support number")[0]
    filed = out.split("#1 has been filed")[1]
    assert "the team has been alerted. When to expect an answer:" in filed
    assert "(Prague)" in filed and hotline in filed
    assert "UTC" not in out and "Europe/Prague" not in out
