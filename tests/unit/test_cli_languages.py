"""Admin commands in the operator's language (issue 9 points 4 and 13): ``policy check``
says what a policy means, and what is wrong with one, in Czech, Polish or Russian with no
English left; the language is ``--lang``, else the policy's ``default_language``. (The
commands that need a database are run in ``tests/channels/test_console_languages.py``.)"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.cli import cli_language, main
from bot.i18n import LANGUAGES, Translator
from bot.policy import EXAMPLE_POLICY, DeskPolicy, load_policy
from bot.policy_report import check_policy, describe
from tests.unit.test_languages import ENGLISH_WORDS, OWN_WORDS, WORD

POLICIES = Path(__file__).resolve().parents[2] / "docs" / "policies"
ALL_POLICIES = [EXAMPLE_POLICY, *sorted(POLICIES.glob("*.toml"))]
OTHERS = [lang for lang in LANGUAGES if lang != "en"]
TRANSLATOR = Translator.load()


def policy_words(policy: DeskPolicy, lang: str) -> set[str]:
    """Words the policy file itself puts in the report: its keys, ids, zones and
    labels (in ``lang``), which are the file's, not the CLI's."""
    text = [
        *policy.departments,
        *policy.categories,
        *policy.plans,
        *policy.wording,
        *policy.languages,
    ]
    for dep in policy.departments.values():
        text += [*dep.team_channels, *(i for ids in dep.team_channels.values() for i in ids)]
        if dep.hotline:
            text.append(dep.hotline.get(lang) or dep.hotline["en"])
    for labels in [*policy.labels().values(), *policy.wording.values()]:
        text.append(labels.get(lang) or labels.get("en", ""))
    text += ["Europe", "Prague", "Warsaw", "Moscow", "UTC", "holidays", "TOML"]
    return {w.lower() for w in WORD.findall(" ".join(text))}


def english_in(text: str, lang: str, allowed: set[str]) -> list[str]:
    """Words of the English catalogs that ``lang``'s catalogs never use and the policy
    does not say itself: English left in the output."""
    words = {w.lower() for w in WORD.findall(text)}
    return sorted(w for w in words if w in ENGLISH_WORDS - OWN_WORDS[lang] - allowed)


@pytest.mark.parametrize("lang", OTHERS)
@pytest.mark.parametrize("path", ALL_POLICIES, ids=lambda p: p.stem)
def test_policy_check_speaks_the_operators_language(
    path: Path, lang: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["policy", "check", str(path), "--lang", lang]) == 0
    out = capsys.readouterr().out
    assert "cli." not in out  # no message missing from the catalogs
    allowed = policy_words(load_policy(path), lang) | {w.lower() for w in WORD.findall(str(path))}
    assert english_in(out, lang, allowed) == []
    english = (main(["policy", "check", str(path), "--lang", "en"]), capsys.readouterr().out)
    assert len(out.splitlines()) == len(english[1].splitlines())


def test_policy_check_reads_right_in_each_language(capsys: pytest.CaptureFixture[str]) -> None:
    path = POLICIES / "kamelia.toml"
    said = {}
    for lang in LANGUAGES:
        assert main(["policy", "check", str(path), "--lang", lang]) == 0
        said[lang] = capsys.readouterr().out
    assert f"policy: {path}: valid" in said["en"]
    assert said["cs"].startswith(f"konfigurace {path}: platná")
    assert said["pl"].startswith(f"konfiguracja {path}: poprawna")
    assert said["ru"].startswith(f"конфигурация {path}: корректна")
    # Weekdays, closed days and counted things in the language's words and forms.
    assert "pon-pt" in said["pl"] and "sob-niedz nieczynne" in said["pl"]
    assert "пн-пт" in said["ru"]
    assert "72 h (godziny kalendarzowe)" in said["pl"]
    assert "72 ч (календарные часы)" in said["ru"]


def test_without_lang_the_report_is_in_the_policys_default_language(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """UPgates' file says ``default_language = "cs"``, Prem-site's "ru"."""
    assert main(["policy", "check", str(POLICIES / "upgates.toml")]) == 0
    assert capsys.readouterr().out.startswith("konfigurace ")
    assert main(["policy", "check", str(POLICIES / "premsite.toml")]) == 0
    assert capsys.readouterr().out.startswith("конфигурация ")
    assert cli_language(None, POLICIES / "serwisant.toml") == "pl"
    assert cli_language("ru", POLICIES / "serwisant.toml") == "ru"
    assert cli_language(None, EXAMPLE_POLICY) == "en"
    assert cli_language(None, Path("/nonexistent/desk.toml")) == "en"


def _misspelled(tmp_path: Path, source: Path, *swaps: tuple[str, str]) -> tuple[Path, str]:
    text = source.read_text(encoding="utf-8")
    for old, new in swaps:
        assert old in text, old
        text = text.replace(old, new, 1)
    path = tmp_path / source.name
    path.write_text(text, encoding="utf-8")
    return path, text


def _line(text: str, fragment: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if fragment in line)


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("cs", "chyba: {at}neznámý klíč 'peek' v [departments.technical]; myslíte 'peak'?"),
        (
            "pl",
            "błąd: {at}nieznany klucz 'peek' w [departments.technical]; czy chodziło o 'peak'?",
        ),
        (
            "ru",
            "ошибка: {at}неизвестный ключ 'peek' в [departments.technical]; может быть, 'peak'?",
        ),
        ("en", "error: {at}unknown key 'peek' in [departments.technical]; did you mean 'peak'?"),
    ],
)
def test_a_misspelled_key_is_told_in_the_operators_language(
    lang: str, expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, text = _misspelled(
        tmp_path, EXAMPLE_POLICY, ('peak = "10:00-14:00"', 'peek = "10:00-14:00"')
    )
    assert main(["policy", "check", str(path), "--lang", lang]) == 2
    err = capsys.readouterr().err
    at = f"{path}:{_line(text, 'peek =')}: "
    assert expected.format(at=at) in err, err


def test_a_broken_vendor_policy_is_told_in_its_own_default_language(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No --lang: Serwisant's file is Polish, so its errors are Polish, even though the
    file cannot be used."""
    path, text = _misspelled(tmp_path, POLICIES / "serwisant.toml", ("[quotes]", "[quotas]"))
    assert main(["policy", "check", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"błąd: {path}:{_line(text, '[quotas]')}: nieznany klucz 'quotas'" in err
    assert "na najwyższym poziomie; czy chodziło o" in err
    keys_and_path = {"quotas", "quota", "quotes", *(w.lower() for w in WORD.findall(str(path)))}
    assert english_in(err, "pl", keys_and_path) == []


def test_a_missing_or_unreadable_policy_file_is_told_in_the_chosen_language(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nowhere.toml"
    assert main(["policy", "check", str(missing), "--lang", "ru"]) == 2
    assert f"ошибка: файл конфигурации не найден: {missing}" in capsys.readouterr().err
    broken = tmp_path / "broken.toml"
    broken.write_text("[desk\n", encoding="utf-8")
    assert main(["policy", "check", str(broken), "--lang", "cs"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"chyba: {broken} není platný TOML: "), err


def test_every_word_of_the_report_has_a_catalog_message() -> None:
    """Each ``cli.report`` key the report asks for exists (a missing one would print its
    key): the report of every policy in English names no key."""
    for path in ALL_POLICIES:
        out_lines = []
        policy, levels = check_policy(path)
        for lang in LANGUAGES:
            out_lines += describe(policy, levels, path, TRANSLATOR, lang)
        assert not [line for line in out_lines if re.search(r"\bcli\.\w", line)], path
