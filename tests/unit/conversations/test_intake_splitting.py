"""One issue per ticket: which descriptions are split, and which are not."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conversations.splitting import split_problems

SEVERAL = {
    # English
    "en numbered lines": (
        "I have a few problems:\n1. The cart forgets products after login\n"
        "2. Invoices show the wrong VAT rate\n3. The search does not find anything",
        ["The cart forgets", "Invoices show", "The search does"],
    ),
    "en numbered with parentheses": (
        "1) The cart forgets products after login 2) Invoices show the wrong VAT rate",
        ["The cart forgets", "Invoices show"],
    ),
    "en bullets": (
        "- The cart forgets products after login\n* Invoices show the wrong VAT rate\n"
        "• The sitemap lists deleted pages",
        ["The cart forgets", "Invoices show", "The sitemap"],
    ),
    "en also": (
        "The checkout shows error 500 when paying by card.\n\n"
        "Also, the newsletter signup form does not send any e-mails.",
        ["The checkout", "Also, the newsletter"],
    ),
    "en another issue mid-paragraph": (
        "The checkout shows error 500 when paying by card. Another issue: the newsletter "
        "form does not send any e-mails.",
        ["The checkout", "Another issue"],
    ),
    "en in addition": (
        "Product images are blurry on the detail page.\nIn addition the invoices are "
        "numbered twice.",
        ["Product images", "In addition"],
    ),
    "en besides that": (
        "Product images are blurry on the detail page.\nBesides that, the VAT report is empty.",
        ["Product images", "Besides that"],
    ),
    "en second problem": (
        "Product images are blurry on the detail page.\nSECOND PROBLEM: the VAT report is empty.",
        ["Product images", "SECOND PROBLEM"],
    ),
    "en questions": (
        "How do I change the logo in the header? And how can I add a new page to the menu?",
        ["How do I change", "And how can I add"],
    ),
    # Czech
    "cs také": (
        "Při platbě kartou se v košíku zobrazí chyba 500.\n\n"
        "Také nám nechodí e-maily z kontaktního formuláře.",
        ["Při platbě", "Také nám"],
    ),
    "cs taky without diacritics": (
        "Pri platbe kartou se v kosiku zobrazi chyba 500.\nTaky nam nechodi e-maily z formulare.",
        ["Pri platbe", "Taky nam"],
    ),
    "cs další problém": (
        "Nefunguje přepočet DPH v košíku. Další problém je, že faktury mají špatné číslování.",
        ["Nefunguje", "Další problém"],
    ),
    "cs kromě toho / a ještě": (
        "Nefunguje přepočet DPH v košíku.\nKromě toho se nenačítají obrázky produktů.\n"
        "A ještě: vyhledávání nic nenajde.",
        ["Nefunguje", "Kromě toho", "A ještě"],
    ),
    "cs list": (
        "1. Košík zapomíná zboží po přihlášení\n2. Faktury mají špatnou sazbu DPH",
        ["Košík", "Faktury"],
    ),
    "cs questions": (
        "Jak změním logo v hlavičce? Jak přidám novou stránku do menu?",
        ["Jak změním", "Jak přidám"],
    ),
    # Polish
    "pl poza tym": (
        "Przy płatności kartą w koszyku pojawia się błąd 500.\n\n"
        "Poza tym formularz kontaktowy nie wysyła wiadomości.",
        ["Przy płatności", "Poza tym"],
    ),
    "pl kolejny problem": (
        "Koszyk nie przelicza VAT. Kolejny problem to złe numerowanie faktur.",
        ["Koszyk", "Kolejny problem"],
    ),
    "pl także / ponadto": (
        "Koszyk nie przelicza VAT poprawnie.\nTakże zdjęcia produktów się nie ładują.\n"
        "Ponadto wyszukiwarka nic nie znajduje.",
        ["Koszyk", "Także", "Ponadto"],
    ),
    "pl list": (
        "- Koszyk nie przelicza VAT poprawnie\n- Faktury mają złą numerację",
        ["Koszyk", "Faktury"],
    ),
    "pl questions": (
        "Jak zmienić logo w nagłówku? Jak dodać nową stronę do menu?",
        ["Jak zmienić", "Jak dodać"],
    ),
    # Russian
    "ru кроме того": (
        "При оплате картой в корзине появляется ошибка 500.\n\n"
        "Кроме того, форма обратной связи не отправляет письма.",
        ["При оплате", "Кроме того"],
    ),
    "ru еще одна проблема (е for ё)": (
        "Корзина не пересчитывает НДС. Еще одна проблема: счета нумеруются неправильно.",
        ["Корзина", "Еще одна"],
    ),
    "ru также / и ещё": (
        "Корзина не пересчитывает НДС правильно.\nТакже не загружаются фото товаров.\n"
        "И ещё поиск ничего не находит.",
        ["Корзина", "Также", "И ещё"],
    ),
    "ru list": (
        "1. Корзина не пересчитывает НДС\n2. Счета нумеруются совсем неправильно",
        ["Корзина", "Счета"],
    ),
    "ru questions": (
        "Как поменять логотип в шапке? Как добавить новую страницу в меню?",
        ["Как поменять", "Как добавить"],
    ),
}

ONE = {
    # English
    "en steps inline": "1. open the admin 2. click save 3. error 500",
    "en steps with a header": (
        "Steps:\n1. Open the admin panel\n2. Go to Products and click Save\n"
        "3. The page shows error 500"
    ),
    "en steps without a header": (
        "1. Open the admin panel and log in\n2. Go to Products and click Save\n"
        "3. The page shows error 500 instead of saving"
    ),
    "en several sentences": (
        "The checkout shows error 500 when paying by card. It started after the update "
        "yesterday. We tried another browser but nothing changed."
    ),
    "en one question and a plea for help": (
        "Why does the checkout show error 500 when customers pay by card? What should I do?"
    ),
    "en also inside a sentence": (
        "The checkout shows error 500 and the order is also not saved in the admin."
    ),
    "en marker inside another word": (
        "The Alsop theme shows error 500 on the product page.\n"
        "Alsop support told us to contact you about it."
    ),
    "en a version number": (
        "After upgrading to version 2. the export stopped working and shows an empty file."
    ),
    # Czech
    "cs steps": "1. otevřu administraci 2. kliknu na uložit 3. chyba 500",
    "cs steps long": (
        "1. Otevřu administraci a přihlásím se\n2. Kliknu na Produkty a pak na Uložit\n"
        "3. Stránka ukáže chybu 500"
    ),
    "cs several sentences": (
        "Při platbě kartou se v košíku zobrazí chyba 500. Začalo to včera po aktualizaci. "
        "Zkoušeli jsme i jiný prohlížeč. Co s tím mám dělat?"
    ),
    "cs date": "Od 1. 2. 2024 nefunguje export objednávek do účetnictví, hlásí chybu.",
    "cs také inside a sentence": "Chyba 500 se zobrazuje také v mobilní verzi košíku.",
    # Polish
    "pl steps": "1. otwieram panel 2. klikam zapisz 3. błąd 500",
    "pl steps long": (
        "1. Otwieram panel i loguję się\n2. Przechodzę do Produktów i klikam Zapisz\n"
        "3. Pojawia się błąd 500"
    ),
    "pl several sentences": (
        "Przy płatności kartą w koszyku pojawia się błąd 500. Zaczęło się wczoraj po "
        "aktualizacji. Co mam robić?"
    ),
    "pl również inside a sentence": "Błąd 500 pojawia się również w wersji mobilnej koszyka.",
    # Russian
    "ru steps": "1. открываю админку 2. нажимаю сохранить 3. ошибка 500",
    "ru steps long": (
        "Шаги:\n1. Захожу в админку магазина\n2. Открываю товары и нажимаю «Сохранить»\n"
        "3. Появляется ошибка 500"
    ),
    "ru several sentences": (
        "При оплате картой в корзине появляется ошибка 500. Началось вчера после "
        "обновления. Что делать?"
    ),
    "ru также inside a sentence": "Ошибка 500 также появляется в мобильной версии корзины.",
}


@pytest.mark.parametrize(("text", "starts"), SEVERAL.values(), ids=SEVERAL.keys())
def test_several_problems_are_split(text: str, starts: list[str]) -> None:
    parts = split_problems(text)
    assert len(parts) == len(starts)
    for part, start in zip(parts, starts, strict=True):
        assert part.startswith(start)
        assert part in text


@pytest.mark.parametrize("text", ONE.values(), ids=ONE.keys())
def test_one_problem_is_not_split(text: str) -> None:
    assert split_problems(text) == []


def test_list_markers_are_not_part_of_the_problems() -> None:
    parts = split_problems("1. The cart forgets products\n2. The invoices are wrong today")
    assert parts == ["The cart forgets products", "The invoices are wrong today"]


def test_a_marker_at_the_very_start_is_not_a_second_problem() -> None:
    assert split_problems("Also the checkout shows error 500 when paying by card.") == []


@given(st.text())
def test_never_exactly_one_part_and_parts_are_pieces_of_the_text(text: str) -> None:
    parts = split_problems(text)
    assert len(parts) != 1
    for part in parts:
        assert part
        assert part == part.strip()
        assert part in text


_SUBJECTS = st.sampled_from(
    ["The cart", "The invoice export", "The search box", "Our newsletter form", "The sitemap"]
)
_PREDICATES = st.sampled_from(
    [
        "does not load at all",
        "shows the wrong price",
        "crashes right after login",
        "sends every e-mail twice",
        "lists deleted products",
    ]
)
_PROBLEM = st.builds(lambda s, p: f"{s} {p}.", _SUBJECTS, _PREDICATES)
_JOINERS = st.sampled_from(
    [
        "\n\nAlso, ",
        "\nAnother problem: ",
        "\n\nDalší problém: ",
        "\nKolejny problem: ",
        "\nКроме того, ",
        "\nIn addition, ",
    ]
)


@given(st.lists(_PROBLEM, min_size=2, max_size=5), st.data())
def test_generated_problems_joined_by_markers_are_all_found(
    problems: list[str], data: st.DataObject
) -> None:
    text = problems[0]
    for problem in problems[1:]:
        joiner = data.draw(_JOINERS)
        text += joiner + problem[0].lower() + problem[1:]
    parts = split_problems(text)
    assert len(parts) == len(problems)
    for part, problem in zip(parts, problems, strict=True):
        assert part.endswith(problem[1:])


@given(st.lists(_PROBLEM, min_size=2, max_size=9), st.sampled_from(["{n}. ", "{n}) ", "- "]))
def test_generated_lists_of_problems_are_split_item_by_item(
    problems: list[str], marker: str
) -> None:
    text = "\n".join(marker.format(n=n) + p for n, p in enumerate(problems, 1))
    assert split_problems(text) == problems


@given(_PROBLEM, st.lists(_PREDICATES, max_size=3))
def test_one_generated_problem_told_in_several_sentences_is_not_split(
    problem: str, more: list[str]
) -> None:
    text = problem + "".join(f" It {p} since yesterday." for p in more)
    assert split_problems(text) == []
