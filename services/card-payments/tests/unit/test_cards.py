from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from card_payments.domain.cards import (
    Card,
    CardBlocked,
    CardClosed,
    CardError,
    CardIssued,
    CardReissued,
    Conflict,
    NotFound,
    SpendingLimitSet,
)
from card_payments.domain.ledger import BANK_CLEARING, CANTEEN_REVENUE, SUSPENSE_UNMATCHED, Account
from card_payments.domain.purchases import (
    AlreadyCredited,
    Approved,
    CardBook,
    CardTopUp,
    Credited,
    Declined,
    LowBalanceReached,
    MealPurchased,
    Parked,
    PurchaseDeclined,
    balance_from_events,
    decide_purchase,
    moscow_day,
)

# 10:00 in St. Petersburg on a school day.
MORNING = datetime(2026, 11, 25, 7, 0, tzinfo=UTC)
PARENT = uuid4()
CARD_ID = "7000-0001"


def book_with_card(balance: int = 0, card_id: str = CARD_ID) -> CardBook:
    book = CardBook()
    book.issue(card_id, pupil_id=uuid4(), education_id=uuid4(), school_id=uuid4(), now=MORNING)
    if balance:
        book.top_up(f"bank-{card_id}-opening", card_id, balance, MORNING)
    return book


def reason(decision: Approved | Declined) -> str:
    assert isinstance(decision, Declined), decision
    return decision.reason


# -- the card ------------------------------------------------------------------------------------


def test_issuing_records_the_pupil_and_an_active_card() -> None:
    pupil, education, school = uuid4(), uuid4(), uuid4()
    card = Card.issue(CARD_ID, pupil_id=pupil, education_id=education, school_id=school, now=MORNING)
    (issued,) = card.pending
    assert isinstance(issued, CardIssued)
    assert (issued.pupil_id, issued.education_id, issued.school_id) == (pupil, education, school)
    assert card.state == "active"
    assert card.version == 1


def test_a_pupil_holds_one_live_card_and_a_number_is_issued_once() -> None:
    book = CardBook()
    pupil = uuid4()
    book.issue(CARD_ID, pupil_id=pupil, education_id=uuid4(), school_id=uuid4(), now=MORNING)
    with pytest.raises(Conflict, match="reissue it"):
        book.issue("7000-0002", pupil_id=pupil, education_id=uuid4(), school_id=uuid4(), now=MORNING)
    with pytest.raises(Conflict, match="issued already"):
        book.issue(CARD_ID, pupil_id=uuid4(), education_id=uuid4(), school_id=uuid4(), now=MORNING)


def test_blocking_needs_a_known_reason_and_happens_once() -> None:
    book = book_with_card()
    with pytest.raises(CardError) as refused:
        book.block(CARD_ID, "forgotten", MORNING)  # type: ignore[arg-type]
    assert refused.value.field == "reason"
    (blocked,) = book.block(CARD_ID, "stolen", MORNING)
    assert isinstance(blocked, CardBlocked)
    assert blocked.reason == "stolen"
    with pytest.raises(Conflict):
        book.block(CARD_ID, "lost", MORNING)


def test_a_blocked_card_declines_meals_with_card_blocked() -> None:
    book = book_with_card(50_000)
    book.block(CARD_ID, "lost", MORNING)
    decision = book.purchase("m1", CARD_ID, "till-1", 9_000, MORNING)
    assert reason(decision) == "card_blocked"
    assert isinstance(decision, Declined)
    assert decision.message == "Карта заблокирована"
    assert book.balance(CARD_ID) == 50_000
    assert isinstance(book.events_of(CARD_ID)[-1], PurchaseDeclined)


def test_reissue_moves_the_exact_balance_and_closes_the_old_card_as_replaced() -> None:
    book = book_with_card(12_345)
    book.set_daily_limit(CARD_ID, 30_000, PARENT, MORNING)
    book.set_low_balance_threshold(CARD_ID, 5_000, PARENT, MORNING)
    book.block(CARD_ID, "lost", MORNING)
    reissue = book.reissue(CARD_ID, "7000-0002", MORNING)
    assert [type(e) for e in reissue.events] == [CardReissued, CardClosed]
    assert reissue.posting is not None
    assert reissue.posting.amount_for(Account.card("7000-0002")) == 12_345
    assert book.balance(CARD_ID) == 0
    assert book.balance("7000-0002") == 12_345
    old, new = book.card(CARD_ID), book.card("7000-0002")
    assert (old.state, old.close_reason, old.replaced_by) == ("closed", "replaced", "7000-0002")
    assert new.state == "active"
    assert new.replaces == CARD_ID
    assert new.pupil_id == old.pupil_id
    assert (new.daily_limit, new.low_balance_threshold) == (30_000, 5_000)
    assert reason(book.purchase("m1", CARD_ID, "till-1", 100, MORNING)) == "card_closed"
    assert isinstance(book.purchase("m2", "7000-0002", "till-1", 100, MORNING), Approved)


def test_reissuing_an_empty_card_moves_nothing_and_a_closed_card_cannot_be_reissued() -> None:
    book = book_with_card()
    reissue = book.reissue(CARD_ID, "7000-0002", MORNING)
    assert reissue.posting is None
    assert len(book.ledger) == 0
    with pytest.raises(Conflict, match="closed"):
        book.reissue(CARD_ID, "7000-0003", MORNING)
    with pytest.raises(Conflict, match="issued already"):
        book.reissue("7000-0002", CARD_ID, MORNING)


def test_closing_when_the_pupil_leaves_keeps_what_the_family_is_owed() -> None:
    book = book_with_card(4_000)
    (closed,) = book.close(CARD_ID, MORNING)
    assert isinstance(closed, CardClosed)
    assert closed.reason == "pupil_left"
    assert book.balance(CARD_ID) == 4_000
    assert reason(book.purchase("m1", CARD_ID, "till-1", 100, MORNING)) == "card_closed"
    with pytest.raises(Conflict):
        book.set_daily_limit(CARD_ID, 100, PARENT, MORNING)


@pytest.mark.parametrize(
    ("limit", "field"), [(-1, "daily_limit"), (1_000_001, "daily_limit"), (10.5, "daily_limit")]
)
def test_a_daily_limit_is_whole_kopecks_within_reason(limit: object, field: str) -> None:
    book = book_with_card()
    with pytest.raises(CardError) as refused:
        book.set_daily_limit(CARD_ID, limit, PARENT, MORNING)  # type: ignore[arg-type]
    assert refused.value.field == field


def test_setting_the_same_limit_again_records_nothing_new() -> None:
    book = book_with_card()
    (limit_set,) = book.set_daily_limit(CARD_ID, 20_000, PARENT, MORNING)
    assert isinstance(limit_set, SpendingLimitSet)
    assert limit_set.set_by_account == PARENT
    assert book.set_daily_limit(CARD_ID, 20_000, PARENT, MORNING) == ()
    assert book.set_low_balance_threshold(CARD_ID, None, PARENT, MORNING) == ()
    with pytest.raises(CardError):
        book.set_low_balance_threshold(CARD_ID, 0, PARENT, MORNING)


def test_unknown_cards_are_not_found() -> None:
    with pytest.raises(NotFound):
        CardBook().block("nope", "lost", MORNING)


# -- meals at the till ---------------------------------------------------------------------------


def test_an_approved_meal_moves_money_from_the_card_to_canteen_revenue() -> None:
    book = book_with_card(20_000)
    decision = book.purchase("m1", CARD_ID, "till-1", 8_550, MORNING)
    assert isinstance(decision, Approved)
    assert decision.balance_after == 11_450
    assert decision.posting.amount_for(Account.card(CARD_ID)) == -8_550
    assert decision.posting.amount_for(CANTEEN_REVENUE) == 8_550
    assert book.balance(CARD_ID) == 11_450
    assert isinstance(book.events_of(CARD_ID)[-1], MealPurchased)


def test_a_meal_beyond_the_balance_declines_with_insufficient_funds() -> None:
    book = book_with_card(5_000)
    assert reason(book.purchase("m1", CARD_ID, "till-1", 5_001, MORNING)) == "insufficient_funds"
    assert isinstance(book.purchase("m2", CARD_ID, "till-1", 5_000, MORNING), Approved)
    assert book.balance(CARD_ID) == 0


@pytest.mark.parametrize("amount", [0, -100, 99.5])
def test_a_till_amount_that_is_no_whole_positive_kopecks_declines(amount: object) -> None:
    book = book_with_card(5_000)
    assert reason(book.purchase("m1", CARD_ID, "till-1", amount, MORNING)) == "invalid_amount"  # type: ignore[arg-type]


def test_an_unknown_card_declines_at_the_till() -> None:
    assert reason(CardBook().purchase("m1", "9999", "till-1", 100, MORNING)) == "unknown_card"


def test_the_daily_limit_declines_and_resets_the_next_moscow_day() -> None:
    book = book_with_card(100_000)
    book.set_daily_limit(CARD_ID, 20_000, PARENT, MORNING)
    assert isinstance(book.purchase("m1", CARD_ID, "till-1", 15_000, MORNING), Approved)
    assert reason(book.purchase("m2", CARD_ID, "till-1", 5_001, MORNING)) == "daily_limit_exceeded"
    # 23:30 in Moscow is still the same day (20:30 UTC) …
    late = datetime(2026, 11, 25, 20, 30, tzinfo=UTC)
    assert reason(book.purchase("m3", CARD_ID, "till-1", 5_001, late)) == "daily_limit_exceeded"
    assert isinstance(book.purchase("m4", CARD_ID, "till-1", 5_000, late), Approved)
    # … and 00:30 in Moscow is the next one, though still 25 November in UTC.
    after_midnight = datetime(2026, 11, 25, 21, 30, tzinfo=UTC)
    assert moscow_day(after_midnight) == moscow_day(MORNING) + timedelta(days=1)
    assert isinstance(book.purchase("m5", CARD_ID, "till-1", 20_000, after_midnight), Approved)


def test_a_refund_gives_back_room_under_the_limit_of_that_day() -> None:
    book = book_with_card(100_000)
    book.set_daily_limit(CARD_ID, 10_000, PARENT, MORNING)
    book.purchase("m1", CARD_ID, "till-1", 10_000, MORNING)
    assert reason(book.purchase("m2", CARD_ID, "till-1", 1, MORNING)) == "daily_limit_exceeded"
    book.refund("m1", MORNING)
    assert isinstance(book.purchase("m3", CARD_ID, "till-1", 10_000, MORNING), Approved)


def test_a_reissued_card_the_same_day_is_no_fresh_limit() -> None:
    book = book_with_card(100_000)
    book.set_daily_limit(CARD_ID, 10_000, PARENT, MORNING)
    book.purchase("m1", CARD_ID, "till-1", 8_000, MORNING)
    book.reissue(CARD_ID, "7000-0002", MORNING)
    assert reason(book.purchase("m2", "7000-0002", "till-1", 2_001, MORNING)) == "daily_limit_exceeded"


def test_a_repeated_purchase_id_gets_the_same_answer_and_moves_nothing() -> None:
    book = book_with_card(10_000)
    first = book.purchase("m1", CARD_ID, "till-1", 3_000, MORNING)
    assert book.purchase("m1", CARD_ID, "till-1", 3_000, MORNING) is first
    assert book.balance(CARD_ID) == 7_000


def test_low_balance_is_told_once_when_a_meal_crosses_the_threshold_downwards() -> None:
    book = book_with_card(12_000)
    book.set_low_balance_threshold(CARD_ID, 5_000, PARENT, MORNING)
    first = book.purchase("m1", CARD_ID, "till-1", 6_000, MORNING)
    assert isinstance(first, Approved)
    assert first.low_balance is None
    crossing = book.purchase("m2", CARD_ID, "till-1", 2_000, MORNING)
    assert isinstance(crossing, Approved)
    assert crossing.low_balance == LowBalanceReached(
        card_id=CARD_ID, occurred_at=MORNING, balance=4_000, threshold=5_000
    )
    still_below = book.purchase("m3", CARD_ID, "till-1", 1_000, MORNING)
    assert isinstance(still_below, Approved)
    assert still_below.low_balance is None
    book.top_up("b2", CARD_ID, 10_000, MORNING)
    again = book.purchase("m4", CARD_ID, "till-1", 9_000, MORNING)
    assert isinstance(again, Approved)
    assert again.low_balance is not None


def test_decide_purchase_checks_in_the_documented_order() -> None:
    card = Card.issue(CARD_ID, pupil_id=uuid4(), education_id=uuid4(), school_id=uuid4(), now=MORNING)
    card.set_daily_limit(1_000, PARENT, MORNING)
    decision = decide_purchase(
        card,
        card_id=CARD_ID,
        purchase_id="m1",
        till_id="till-1",
        amount=2_000,
        balance=1_500,
        spent_today=0,
        now=MORNING,
    )
    assert reason(decision) == "insufficient_funds"


# -- refunds -------------------------------------------------------------------------------------


def test_a_refund_reverses_one_purchase_once() -> None:
    book = book_with_card(10_000)
    book.purchase("m1", CARD_ID, "till-1", 4_000, MORNING)
    refunded = book.refund("m1", MORNING)
    assert refunded.posting.amount_for(CANTEEN_REVENUE) == -4_000
    assert refunded.posting.amount_for(Account.card(CARD_ID)) == 4_000
    assert book.balance(CARD_ID) == 10_000
    assert book.ledger.balance(CANTEEN_REVENUE) == 0
    with pytest.raises(Conflict, match="refunded already"):
        book.refund("m1", MORNING)
    assert book.balance(CARD_ID) == 10_000


def test_only_an_approved_purchase_can_be_refunded() -> None:
    book = book_with_card(1_000)
    book.purchase("m1", CARD_ID, "till-1", 5_000, MORNING)
    with pytest.raises(NotFound):
        book.refund("m1", MORNING)
    with pytest.raises(NotFound):
        book.refund("never", MORNING)


def test_a_refund_follows_the_card_to_its_replacement_and_parks_for_a_closed_one() -> None:
    book = book_with_card(10_000)
    book.purchase("m1", CARD_ID, "till-1", 3_000, MORNING)
    book.purchase("m2", CARD_ID, "till-1", 2_000, MORNING)
    book.reissue(CARD_ID, "7000-0002", MORNING)
    book.refund("m1", MORNING)
    assert book.balance(CARD_ID) == 0
    assert book.balance("7000-0002") == 8_000
    book.close("7000-0002", MORNING)
    parked = book.refund("m2", MORNING)
    assert parked.event.parked
    assert book.ledger.balance(SUSPENSE_UNMATCHED) == 2_000
    assert book.balance("7000-0002") == 8_000


# -- top-ups from the bank -----------------------------------------------------------------------


def test_a_top_up_is_credited_at_once_in_full() -> None:
    book = book_with_card()
    outcome = book.top_up("sber-1", CARD_ID, 150_000, MORNING)
    assert isinstance(outcome, Credited)
    assert book.balance(CARD_ID) == 150_000
    assert book.ledger.balance(BANK_CLEARING) == -150_000
    assert isinstance(book.events_of(CARD_ID)[-1], CardTopUp)


def test_a_redelivered_top_up_is_credited_once_and_says_so() -> None:
    book = book_with_card()
    book.top_up("sber-1", CARD_ID, 50_000, MORNING)
    again = book.top_up("sber-1", CARD_ID, 50_000, MORNING + timedelta(minutes=5))
    assert again == AlreadyCredited("sber-1")
    assert book.balance(CARD_ID) == 50_000
    assert len(book.ledger) == 1
    assert sum(isinstance(e, CardTopUp) for e in book.events_of(CARD_ID)) == 1


def test_a_top_up_for_an_unknown_card_is_parked_in_suspense_not_lost() -> None:
    book = CardBook()
    outcome = book.top_up("sber-1", "9999", 30_000, MORNING)
    assert isinstance(outcome, Parked)
    assert outcome.event.reason == "unknown_card"
    assert book.ledger.balance(SUSPENSE_UNMATCHED) == 30_000
    assert book.ledger.balance(BANK_CLEARING) == -30_000
    assert book.parked == [outcome.event]
    assert book.top_up("sber-1", "9999", 30_000, MORNING) == AlreadyCredited("sber-1")
    assert book.ledger.balance(SUSPENSE_UNMATCHED) == 30_000


def test_a_top_up_for_a_closed_card_is_parked_and_a_blocked_card_is_credited() -> None:
    book = book_with_card()
    book.issue("7000-0002", pupil_id=uuid4(), education_id=uuid4(), school_id=uuid4(), now=MORNING)
    book.close(CARD_ID, MORNING)
    book.block("7000-0002", "lost", MORNING)
    parked = book.top_up("sber-1", CARD_ID, 1_000, MORNING)
    assert isinstance(parked, Parked)
    assert parked.event.reason == "card_closed"
    assert isinstance(book.top_up("sber-2", "7000-0002", 2_000, MORNING), Credited)
    assert book.balance("7000-0002") == 2_000
    assert book.balance(CARD_ID) == 0


@pytest.mark.parametrize(
    ("transaction", "amount", "field"), [("", 100, "bank_transaction_id"), ("b", 0, "amount")]
)
def test_a_malformed_top_up_is_refused_before_anything_moves(
    transaction: str, amount: int, field: str
) -> None:
    book = book_with_card()
    with pytest.raises(CardError) as refused:
        book.top_up(transaction, CARD_ID, amount, MORNING)
    assert refused.value.field == field
    assert len(book.ledger) == 0


def test_the_card_stream_alone_rebuilds_the_balance_and_the_card() -> None:
    book = book_with_card(10_000)
    book.set_low_balance_threshold(CARD_ID, 9_000, PARENT, MORNING)
    book.purchase("m1", CARD_ID, "till-1", 3_000, MORNING)
    book.refund("m1", MORNING)
    book.purchase("m2", CARD_ID, "till-1", 1_500, MORNING)
    book.block(CARD_ID, "lost", MORNING)
    book.reissue(CARD_ID, "7000-0002", MORNING)
    book.top_up("sber-9", "7000-0002", 700, MORNING)
    for card_id in (CARD_ID, "7000-0002"):
        events = book.events_of(card_id)
        assert balance_from_events(card_id, events) == book.balance(card_id)
        assert Card.rehydrate(card_id, events).snapshot == book.card(card_id).snapshot


def test_moscow_day_refuses_a_naive_time() -> None:
    with pytest.raises(ValueError, match="offset"):
        moscow_day(datetime(2026, 11, 25, 10, 0))
