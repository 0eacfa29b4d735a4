"""Random days at school: top-ups (and their redeliveries), meals, refunds, blocks, reissues, limits.

After every step the ledger must still balance to zero, no card may be overdrawn, every bank
transaction must be credited exactly once, and each card's stream alone must rebuild its balance
and its state — what the service will rely on when it replays after a crash.
"""

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from card_payments.domain.cards import Card, CardError, Conflict, NotFound
from card_payments.domain.ledger import BANK_CLEARING, CANTEEN_REVENUE, SUSPENSE_UNMATCHED, Account, Ledger
from card_payments.domain.purchases import (
    AlreadyCredited,
    Approved,
    CardBook,
    Credited,
    Declined,
    Parked,
    balance_from_events,
    moscow_day,
)

UNKNOWN_CARDS = ("ghost-1", "ghost-2")
amounts = st.integers(min_value=1, max_value=60_000)
till_amounts = st.one_of(st.integers(min_value=1, max_value=30_000), st.sampled_from([0, -500]))


class SchoolDays(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.book = CardBook()
        self.now = datetime(2026, 9, 1, 5, 0, tzinfo=UTC)
        self.pupils: list[UUID] = [uuid4() for _ in range(3)]
        self.parent = uuid4()
        self.issued = 0
        self.sent: dict[str, tuple[str, int]] = {}
        """What the bank sent: transaction id → (card number, amount), each id once."""
        self.purchases = 0
        self.approved: dict[str, int] = {}
        self.refunded: set[str] = set()

    # -- helpers ---------------------------------------------------------------------------------

    def _card_number(self, data: st.DataObject, *, unknown: bool) -> str:
        choices = sorted(self.book.cards) + (list(UNKNOWN_CARDS) if unknown else [])
        return data.draw(st.sampled_from(choices), label="card")

    def _next_card_id(self) -> str:
        self.issued += 1
        return f"7000-{self.issued:04d}"

    # -- commands --------------------------------------------------------------------------------

    @rule(pupil=st.integers(min_value=0, max_value=2))
    def issue(self, pupil: int) -> None:
        pupil_id = self.pupils[pupil]
        live = self.book.live_card_of(pupil_id)
        card_id = self._next_card_id()
        if live is not None:
            with pytest.raises(Conflict):
                self.book.issue(
                    card_id, pupil_id=pupil_id, education_id=uuid4(), school_id=uuid4(), now=self.now
                )
            return
        card = self.book.issue(
            card_id, pupil_id=pupil_id, education_id=uuid4(), school_id=uuid4(), now=self.now
        )
        assert card.state == "active"
        assert self.book.balance(card_id) == 0

    @precondition(lambda self: bool(self.book.cards))
    @rule(data=st.data(), amount=amounts)
    def top_up(self, data: st.DataObject, amount: int) -> None:
        card_id = self._card_number(data, unknown=True)
        transaction = f"sber-{len(self.sent) + 1}"
        card = self.book.cards.get(card_id)
        to_suspense = card is None or card.state == "closed"
        before = self.book.balance(card_id)
        outcome = self.book.top_up(transaction, card_id, amount, self.now)
        self.sent[transaction] = (card_id, amount)
        if to_suspense:
            assert isinstance(outcome, Parked)
            assert self.book.balance(card_id) == before
        else:
            assert isinstance(outcome, Credited)
            assert self.book.balance(card_id) == before + amount

    @rule(card_id=st.sampled_from(UNKNOWN_CARDS), amount=amounts)
    def top_up_unknown_card(self, card_id: str, amount: int) -> None:
        transaction = f"sber-{len(self.sent) + 1}"
        assert isinstance(self.book.top_up(transaction, card_id, amount, self.now), Parked)
        self.sent[transaction] = (card_id, amount)

    @precondition(lambda self: bool(self.sent))
    @rule(data=st.data())
    def redeliver_top_up(self, data: st.DataObject) -> None:
        transaction = data.draw(st.sampled_from(sorted(self.sent)), label="transaction")
        card_id, amount = self.sent[transaction]
        postings = len(self.book.ledger)
        assert self.book.top_up(transaction, card_id, amount, self.now) == AlreadyCredited(transaction)
        assert len(self.book.ledger) == postings

    @precondition(lambda self: bool(self.book.cards))
    @rule(data=st.data(), amount=till_amounts)
    def purchase(self, data: st.DataObject, amount: int) -> None:
        card_id = self._card_number(data, unknown=True)
        self.purchases += 1
        purchase_id = f"meal-{self.purchases}"
        before = self.book.balance(card_id)
        decision = self.book.purchase(purchase_id, card_id, "till-1", amount, self.now)
        if isinstance(decision, Approved):
            self.approved[purchase_id] = amount
            assert self.book.balance(card_id) == before - amount == decision.balance_after
            card = self.book.card(card_id)
            assert card.state == "active"
            assert card.pupil_id is not None
            if card.daily_limit is not None:
                assert self.book.spent_on(card.pupil_id, moscow_day(self.now)) <= card.daily_limit
        else:
            assert self.book.balance(card_id) == before
            self._check_decline(decision, card_id, amount, before)
        assert self.book.purchase(purchase_id, card_id, "till-1", amount, self.now) is decision

    def _check_decline(self, decision: Declined, card_id: str, amount: int, balance: int) -> None:
        card = self.book.cards.get(card_id)
        expected = (
            "invalid_amount"
            if amount <= 0
            else "unknown_card"
            if card is None
            else "card_closed"
            if card.state == "closed"
            else "card_blocked"
            if card.state == "blocked"
            else "insufficient_funds"
            if amount > balance
            else "daily_limit_exceeded"
        )
        assert decision.reason == expected

    @precondition(lambda self: bool(self.purchases))
    @rule(data=st.data())
    def refund(self, data: st.DataObject) -> None:
        purchase_id = f"meal-{data.draw(st.integers(min_value=1, max_value=self.purchases), label='meal')}"
        revenue = self.book.ledger.balance(CANTEEN_REVENUE)
        if purchase_id not in self.approved:
            with pytest.raises(NotFound):
                self.book.refund(purchase_id, self.now)
        elif purchase_id in self.refunded:
            with pytest.raises(Conflict):
                self.book.refund(purchase_id, self.now)
        else:
            refunded = self.book.refund(purchase_id, self.now)
            assert refunded.amount == self.approved[purchase_id]
            self.refunded.add(purchase_id)
            assert self.book.ledger.balance(CANTEEN_REVENUE) == revenue - refunded.amount
            return
        assert self.book.ledger.balance(CANTEEN_REVENUE) == revenue

    @precondition(lambda self: bool(self.book.cards))
    @rule(data=st.data(), reason=st.sampled_from(["lost", "stolen"]))
    def block(self, data: st.DataObject, reason: str) -> None:
        card = self.book.card(self._card_number(data, unknown=False))
        if card.state != "active":
            with pytest.raises(Conflict):
                self.book.block(card.card_id, reason, self.now)  # type: ignore[arg-type]
            return
        self.book.block(card.card_id, reason, self.now)  # type: ignore[arg-type]
        assert card.state == "blocked"

    @precondition(lambda self: bool(self.book.cards))
    @rule(data=st.data())
    def reissue(self, data: st.DataObject) -> None:
        old = self.book.card(self._card_number(data, unknown=False))
        new_card_id = self._next_card_id()
        if old.state == "closed":
            with pytest.raises(Conflict):
                self.book.reissue(old.card_id, new_card_id, self.now)
            return
        balance = self.book.balance(old.card_id)
        total_on_cards = self._on_cards()
        self.book.reissue(old.card_id, new_card_id, self.now)
        assert self.book.balance(old.card_id) == 0
        assert self.book.balance(new_card_id) == balance
        assert self._on_cards() == total_on_cards

    @precondition(lambda self: bool(self.book.cards))
    @rule(data=st.data())
    def close(self, data: st.DataObject) -> None:
        card = self.book.card(self._card_number(data, unknown=False))
        balance = self.book.balance(card.card_id)
        if card.state == "closed":
            with pytest.raises(Conflict):
                self.book.close(card.card_id, self.now)
            return
        self.book.close(card.card_id, self.now)
        assert self.book.balance(card.card_id) == balance

    @precondition(lambda self: bool(self.book.cards))
    @rule(data=st.data(), limit=st.one_of(st.none(), st.integers(min_value=0, max_value=40_000)))
    def set_daily_limit(self, data: st.DataObject, limit: int | None) -> None:
        card = self.book.card(self._card_number(data, unknown=False))
        if card.state == "closed":
            with pytest.raises(CardError):
                self.book.set_daily_limit(card.card_id, limit, self.parent, self.now)
            return
        self.book.set_daily_limit(card.card_id, limit, self.parent, self.now)
        assert card.daily_limit == limit

    @precondition(lambda self: bool(self.book.cards))
    @rule(data=st.data(), threshold=st.one_of(st.none(), st.integers(min_value=1, max_value=20_000)))
    def set_low_balance_threshold(self, data: st.DataObject, threshold: int | None) -> None:
        card = self.book.card(self._card_number(data, unknown=False))
        if card.state == "closed":
            with pytest.raises(CardError):
                self.book.set_low_balance_threshold(card.card_id, threshold, self.parent, self.now)
            return
        self.book.set_low_balance_threshold(card.card_id, threshold, self.parent, self.now)
        assert card.low_balance_threshold == threshold

    @rule(minutes=st.integers(min_value=1, max_value=36 * 60))
    def time_passes(self, minutes: int) -> None:
        self.now += timedelta(minutes=minutes)

    # -- invariants ------------------------------------------------------------------------------

    def _on_cards(self) -> int:
        return sum(self.book.balance(card_id) for card_id in self.book.cards)

    @invariant()
    def postings_sum_to_zero(self) -> None:
        assert self.book.ledger.total() == 0
        assert all(sum(e.amount for e in p.entries) == 0 for p in self.book.ledger.postings)

    @invariant()
    def no_card_is_overdrawn(self) -> None:
        for account in self.book.ledger.accounts:
            if account.kind == "card":
                assert self.book.ledger.balance(account) >= 0, account

    @invariant()
    def every_bank_transaction_is_credited_exactly_once(self) -> None:
        sent = sum(amount for _, amount in self.sent.values())
        assert -self.book.ledger.balance(BANK_CLEARING) == sent
        top_ups = [p for p in self.book.ledger.postings if p.kind in ("top_up", "top_up_parked")]
        assert sorted(p.posting_id for p in top_ups) == sorted(f"top-up:{t}" for t in self.sent)
        for posting in top_ups:
            _, amount = self.sent[posting.posting_id.removeprefix("top-up:")]
            assert posting.amount_for(BANK_CLEARING) == -amount
        assert set(self.book.bank_transactions) == set(self.sent)

    @invariant()
    def money_is_on_cards_in_suspense_or_with_the_canteen(self) -> None:
        kept = (
            self._on_cards()
            + self.book.ledger.balance(SUSPENSE_UNMATCHED)
            + self.book.ledger.balance(CANTEEN_REVENUE)
        )
        assert kept == -self.book.ledger.balance(BANK_CLEARING)
        meals = sum(amount for p, amount in self.approved.items() if p not in self.refunded)
        assert self.book.ledger.balance(CANTEEN_REVENUE) == meals

    @invariant()
    def a_replay_from_scratch_equals_the_live_state(self) -> None:
        replayed = Ledger.replay(self.book.ledger.postings)
        for account in (*self.book.ledger.accounts, BANK_CLEARING, SUSPENSE_UNMATCHED, CANTEEN_REVENUE):
            assert replayed.balance(account) == self.book.ledger.balance(account)
        for card_id, card in self.book.cards.items():
            events = self.book.events_of(card_id)
            assert balance_from_events(card_id, events) == self.book.balance(card_id)
            own = sum(
                p.amount_for(Account.card(card_id)) for p in self.book.ledger.postings_for(card.account)
            )
            assert own == self.book.balance(card_id)
            assert Card.rehydrate(card_id, events).snapshot == card.snapshot

    @invariant()
    def a_pupil_has_at_most_one_live_card(self) -> None:
        live = [c.pupil_id for c in self.book.cards.values() if c.state != "closed"]
        assert len(live) == len(set(live))


SchoolDays.TestCase.settings = settings(
    max_examples=100,
    stateful_step_count=50,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_school_days = SchoolDays.TestCase
