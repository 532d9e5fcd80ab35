"""Spotting a new request that repeats an open ticket."""

from __future__ import annotations

from intake_support import brief

from conversations.similarity import find_similar, similarity, tokens

CHECKOUT = brief(
    12,
    "Error 500 when paying in checkout",
    "Customers get error 500 after clicking Pay in the checkout; orders are not created.",
)
LOGO = brief(13, "Logo is too small", "How do I make the logo in the header bigger?")
KOSIK_CS = brief(
    20,
    "Košík nepřepočítává DPH",
    "Po změně množství v košíku se nepřepočítá DPH a zákazník vidí špatnou cenu.",
)


def test_the_same_problem_reworded_is_found() -> None:
    found = find_similar(
        "Checkout fails with error 500",
        "When a customer clicks Pay in the checkout, the page shows error 500 and no order "
        "is created.",
        [LOGO, CHECKOUT],
    )
    assert found == CHECKOUT


def test_an_unrelated_problem_is_not_found() -> None:
    found = find_similar(
        "Newsletter e-mails are not sent",
        "Since Monday our newsletter subscribers get nothing, the mailing log is empty.",
        [LOGO, CHECKOUT],
    )
    assert found is None


def test_czech_with_and_without_diacritics_matches() -> None:
    found = find_similar(
        "Kosik neprepocitava DPH",
        "Kdyz zakaznik zmeni mnozstvi v kosiku, DPH se neprepocita a cena je spatne.",
        [LOGO, CHECKOUT, KOSIK_CS],
    )
    assert found == KOSIK_CS


def test_polish_and_russian_rewordings_match() -> None:
    pl = brief(30, "Koszyk nie przelicza VAT", "Po zmianie ilości w koszyku VAT się nie zmienia.")
    ru = brief(31, "Корзина не пересчитывает НДС", "После изменения количества НДС не меняется.")
    assert find_similar("Koszyk źle przelicza VAT", "VAT w koszyku jest zły.", [pl, ru]) == pl
    assert (
        find_similar("Не пересчитывается НДС в корзине", "НДС в корзине неверный.", [pl, ru]) == ru
    )


def test_the_most_similar_of_several_wins() -> None:
    weaker = brief(14, "Error in checkout", "Something about the shipping step.")
    found = find_similar(
        "Error 500 when paying in checkout",
        "Customers get error 500 after clicking Pay.",
        [weaker, CHECKOUT],
    )
    assert found == CHECKOUT


def test_the_title_weighs_more_than_the_description() -> None:
    same_title = similarity("Logo is too small", "", "Logo too small", "Unrelated words here")
    same_description = similarity(
        "Unrelated heading", "Logo is too small", "Different caption", "Logo too small"
    )
    assert same_title > same_description


def test_short_and_stop_words_do_not_count() -> None:
    assert tokens("It is on the page and we do not know") == frozenset({"page", "know"})
    assert similarity("the and of", "", "the and of", "") == 0.0


def test_no_tickets_no_match() -> None:
    assert find_similar("anything", "at all", []) is None


def test_the_same_error_code_elsewhere_is_another_problem() -> None:
    found = find_similar(
        "Error 500 on the product page",
        "The product detail page shows error 500 for some products.",
        [CHECKOUT],
    )
    assert found is None
