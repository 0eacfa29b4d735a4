import pytest

from card_payments.domain.ledger import (
    BANK_CLEARING,
    CANTEEN_REVENUE,
    SUSPENSE_UNMATCHED,
    Account,
    Entry,
    Ledger,
    LedgerError,
    Posting,
)

CARD = Account.card("7000-0001")


def top_up(posting_id: str, amount: int, account: Account = CARD) -> Posting:
    return Posting.transfer(posting_id, "top_up", debit=BANK_CLEARING, credit=account, amount=amount)


def test_a_balanced_posting_moves_money_between_two_accounts() -> None:
    ledger = Ledger()
    ledger.post(top_up("top-up:b1", 50_000))
    assert ledger.balance(CARD) == 50_000
    assert ledger.balance(BANK_CLEARING) == -50_000
    assert ledger.total() == 0


def test_an_unbalanced_posting_cannot_even_be_made() -> None:
    with pytest.raises(LedgerError, match="unbalanced by 1 kopecks"):
        Posting("p", "top_up", (Entry(BANK_CLEARING, -100), Entry(CARD, 101)))


@pytest.mark.parametrize(
    "entries",
    [
        (),
        (Entry(CARD, 0),),
        (Entry(BANK_CLEARING, 0), Entry(CARD, 0)),
        (Entry(BANK_CLEARING, -1), Entry(CANTEEN_REVENUE, 0), Entry(CARD, 1)),
    ],
)
def test_empty_single_sided_or_zero_postings_are_refused(entries: tuple[Entry, ...]) -> None:
    with pytest.raises(LedgerError):
        Posting("p", "top_up", entries)


@pytest.mark.parametrize("amount", [0, -5, 1.5, True])
def test_a_transfer_moves_a_positive_whole_number_of_kopecks(amount: object) -> None:
    with pytest.raises(LedgerError):
        Posting.transfer("p", "top_up", debit=BANK_CLEARING, credit=CARD, amount=amount)  # type: ignore[arg-type]


def test_a_transfer_needs_two_different_accounts() -> None:
    with pytest.raises(LedgerError):
        Posting.transfer("p", "top_up", debit=CARD, credit=CARD, amount=1)


def test_the_same_posting_id_is_taken_once() -> None:
    ledger = Ledger()
    ledger.post(top_up("top-up:b1", 100))
    with pytest.raises(LedgerError, match="already"):
        ledger.post(top_up("top-up:b1", 100))
    assert ledger.balance(CARD) == 100
    assert len(ledger) == 1


def test_a_card_account_is_never_overdrawn_and_a_refused_posting_changes_nothing() -> None:
    ledger = Ledger()
    ledger.post(top_up("top-up:b1", 100))
    meal = Posting.transfer("purchase:m1", "purchase", debit=CARD, credit=CANTEEN_REVENUE, amount=101)
    with pytest.raises(LedgerError, match="overdraw"):
        ledger.post(meal)
    assert ledger.balance(CARD) == 100
    assert ledger.balance(CANTEEN_REVENUE) == 0
    assert not ledger.has("purchase:m1")


def test_balances_are_derived_so_a_replay_gives_the_same_ones() -> None:
    other = Account.card("7000-0002")
    ledger = Ledger()
    ledger.post(top_up("top-up:b1", 30_000))
    ledger.post(top_up("top-up:b2", 7_000, other))
    ledger.post(Posting.transfer("purchase:m1", "purchase", debit=CARD, credit=CANTEEN_REVENUE, amount=9_550))
    ledger.post(top_up("top-up:b3", 1_000, SUSPENSE_UNMATCHED))
    replayed = Ledger.replay(ledger.postings)
    assert replayed.postings == ledger.postings
    for account in ledger.accounts:
        assert replayed.balance(account) == ledger.balance(account)
    assert ledger.balance(CARD) == 20_450
    assert ledger.balance(CANTEEN_REVENUE) == 9_550
    assert ledger.balance(BANK_CLEARING) == -38_000
    assert [p.posting_id for p in ledger.postings_for(CARD)] == ["top-up:b1", "purchase:m1"]
    assert ledger.total() == 0


def test_accounts_are_named_as_in_the_statements() -> None:
    assert CARD.kind == "card"
    assert CARD.card_id == "7000-0001"
    assert str(CARD) == "card:7000-0001"
    assert BANK_CLEARING.kind == "bank_clearing"
    assert SUSPENSE_UNMATCHED.card_id is None
    with pytest.raises(LedgerError):
        Account("petty:cash")
    with pytest.raises(LedgerError):
        Account.card("")
