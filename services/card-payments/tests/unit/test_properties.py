"""Random days at school: top-ups (and their redeliveries), meals, refunds, blocks, reissues, limits.

After every step the ledger must still balance to zero, no card may be overdrawn, every bank
transaction must be credited exactly once, and each card's stream alone must rebuild its balance
and its state — what the service will rely on when it replays after a crash.
"""

from datetime import UTC, date, datetime, timedelta
from typing import NamedTuple
from uuid import UUID, uuid4

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from card_payments.domain.cards import Card, Conflict, NotFound
from card_payments.domain.ledger import BANK_CLEARING, CANTEEN_REVENUE, SUSPENSE_UNMATCHED, Account, Ledger
from card_payments.domain.purchases import (
    AlreadyCredited,
    Approved,
    CardBook,
    Credited,
    Parked,
    balance_from_events,
    moscow_day,
)

UNKNOWN_CARDS = ("ghost-1", "ghost-2")
top_up_amounts = st.integers(min_value=1_000, max_value=80_000)
meal_amounts = st.integers(min_value=1, max_value=15_000)
thresholds = st.integers(min_value=1, max_value=30_000)
any_till_amount = st.one_of(meal_amounts, st.sampled_from([0, -500]))


class Meal(NamedTuple):
    card_id: str
    amount: int
    pupil_id: UUID
    day: date


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
        self.approved: dict[str, Meal] = {}
        self.spent: dict[tuple[UUID, date], int] = {}
        """The test's own count of each pupil's meals per Moscow day, refunds deducted."""
        self.refunded: set[str] = set()

    # -- helpers ---------------------------------------------------------------------------------

    def has_live_card(self) -> bool:
        return any(card.state != "closed" for card in self.book.cards.values())

    def has_closed_card(self) -> bool:
        return any(card.state == "closed" for card in self.book.cards.values())

    def _draw_card(self, data: st.DataObject, *, closed: bool) -> Card:
        choices = sorted(c for c, card in self.book.cards.items() if (card.state == "closed") == closed)
        return self.book.card(data.draw(st.sampled_from(choices), label="card"))

    def _next_card_id(self) -> str:
        self.issued += 1
        return f"7000-{self.issued:04d}"

    def _next_transaction(self) -> str:
        return f"sber-{len(self.sent) + 1}"

    def _expected_decision(self, card_id: str, amount: int) -> str:
        """The till's answer as a parent would predict it: the rules in the order they are checked."""
        card = self.book.cards.get(card_id)
        balance = self.book.balance(card_id)
        if amount <= 0:
            return "invalid_amount"
        if card is None:
            return "unknown_card"
        if card.state != "active":
            return "card_closed" if card.state == "closed" else "card_blocked"
        if amount > balance:
            return "insufficient_funds"
        assert card.pupil_id is not None
        spent = self.spent.get((card.pupil_id, moscow_day(self.now)), 0)
        assert self.book.spent_on(card.pupil_id, moscow_day(self.now)) == spent
        if card.daily_limit is not None and spent + amount > card.daily_limit:
            return "daily_limit_exceeded"
        return "approved"

    def _till(self, card_id: str, amount: int) -> None:
        self.purchases += 1
        purchase_id = f"meal-{self.purchases}"
        card = self.book.cards.get(card_id)
        threshold = card.low_balance_threshold if card is not None else None
        before = self.book.balance(card_id)
        expected = self._expected_decision(card_id, amount)
        decision = self.book.purchase(purchase_id, card_id, "till-1", amount, self.now)
        if isinstance(decision, Approved):
            assert expected == "approved"
            assert card is not None
            assert card.pupil_id is not None
            meal = Meal(card_id, amount, card.pupil_id, moscow_day(self.now))
            self.approved[purchase_id] = meal
            self.spent[meal.pupil_id, meal.day] = self.spent.get((meal.pupil_id, meal.day), 0) + amount
            assert self.book.balance(card_id) == before - amount == decision.balance_after
            crossed = threshold is not None and decision.balance_after < threshold <= before
            assert (decision.low_balance is not None) == crossed
        else:
            assert decision.reason == expected
            assert self.book.balance(card_id) == before
        # The till asks again (a redelivery): the same answer, nothing moves twice.
        assert self.book.purchase(purchase_id, card_id, "till-1", amount, self.now) is decision

    # -- commands --------------------------------------------------------------------------------

    @initialize(
        opening=st.lists(st.one_of(st.none(), top_up_amounts), min_size=3, max_size=3),
        thresholds=st.lists(st.one_of(st.none(), thresholds), min_size=3, max_size=3),
    )
    def first_of_september(self, opening: list[int | None], thresholds: list[int | None]) -> None:
        """Each pupil starts the year with a card, most of them topped up, some with a threshold."""
        for pupil_id, amount, threshold in zip(self.pupils, opening, thresholds, strict=True):
            card_id = self._next_card_id()
            self.book.issue(card_id, pupil_id=pupil_id, education_id=uuid4(), school_id=uuid4(), now=self.now)
            self.book.set_low_balance_threshold(card_id, threshold, self.parent, self.now)
            if amount is not None:
                transaction = self._next_transaction()
                assert isinstance(self.book.top_up(transaction, card_id, amount, self.now), Credited)
                self.sent[transaction] = (card_id, amount)

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

    @precondition(has_live_card)
    @rule(data=st.data(), amount=top_up_amounts)
    def top_up(self, data: st.DataObject, amount: int) -> None:
        card = self._draw_card(data, closed=False)
        before = self.book.balance(card.card_id)
        transaction = self._next_transaction()
        assert isinstance(self.book.top_up(transaction, card.card_id, amount, self.now), Credited)
        self.sent[transaction] = (card.card_id, amount)
        assert self.book.balance(card.card_id) == before + amount

    @rule(data=st.data(), amount=top_up_amounts)
    def top_up_closed_or_unknown_card(self, data: st.DataObject, amount: int) -> None:
        closed = sorted(c for c, card in self.book.cards.items() if card.state == "closed")
        card_id = data.draw(st.sampled_from([*closed, *UNKNOWN_CARDS]), label="card")
        before = self.book.balance(card_id)
        suspense = self.book.ledger.balance(SUSPENSE_UNMATCHED)
        transaction = self._next_transaction()
        assert isinstance(self.book.top_up(transaction, card_id, amount, self.now), Parked)
        self.sent[transaction] = (card_id, amount)
        assert self.book.balance(card_id) == before
        assert self.book.ledger.balance(SUSPENSE_UNMATCHED) == suspense + amount

    @precondition(lambda self: bool(self.sent))
    @rule(data=st.data())
    def redeliver_top_up(self, data: st.DataObject) -> None:
        transaction = data.draw(st.sampled_from(sorted(self.sent)), label="transaction")
        card_id, amount = self.sent[transaction]
        postings = len(self.book.ledger)
        assert self.book.top_up(transaction, card_id, amount, self.now) == AlreadyCredited(transaction)
        assert len(self.book.ledger) == postings

    @precondition(has_live_card)
    @rule(data=st.data(), amounts=st.lists(meal_amounts, min_size=1, max_size=4))
    def lunch_queue(self, data: st.DataObject, amounts: list[int]) -> None:
        """A few meals at the till in a row, on the cards pupils hold (some blocked)."""
        for amount in amounts:
            self._till(self._draw_card(data, closed=False).card_id, amount)

    @rule(data=st.data(), amount=any_till_amount)
    def odd_till_request(self, data: st.DataObject, amount: int) -> None:
        """Any card number at all, closed or never issued, and amounts a till should never send."""
        self._till(
            data.draw(st.sampled_from([*sorted(self.book.cards), *UNKNOWN_CARDS]), label="card"), amount
        )

    @precondition(lambda self: bool(self.purchases))
    @rule(data=st.data())
    def refund(self, data: st.DataObject) -> None:
        """Mostly approved meals (some refunded already), sometimes a declined one."""
        approved = sorted(self.approved)
        every = [f"meal-{n}" for n in range(1, self.purchases + 1)]
        only_approved: bool = bool(approved) and data.draw(st.booleans(), label="approved only")
        pool = approved if only_approved else every
        purchase_id = data.draw(st.sampled_from(pool), label="meal")
        revenue = self.book.ledger.balance(CANTEEN_REVENUE)
        if purchase_id not in self.approved:
            with pytest.raises(NotFound):
                self.book.refund(purchase_id, self.now)
        elif purchase_id in self.refunded:
            with pytest.raises(Conflict):
                self.book.refund(purchase_id, self.now)
        else:
            meal = self.approved[purchase_id]
            holder = self.book.card(meal.card_id)
            while holder.replaced_by is not None:
                holder = self.book.card(holder.replaced_by)
            credited = SUSPENSE_UNMATCHED if holder.state == "closed" else holder.account
            before = self.book.ledger.balance(credited)
            refunded = self.book.refund(purchase_id, self.now)
            assert refunded.amount == meal.amount
            assert self.book.ledger.balance(credited) == before + meal.amount
            assert self.book.ledger.balance(CANTEEN_REVENUE) == revenue - meal.amount
            self.refunded.add(purchase_id)
            self.spent[meal.pupil_id, meal.day] -= meal.amount
            return
        assert self.book.ledger.balance(CANTEEN_REVENUE) == revenue

    @precondition(has_live_card)
    @rule(data=st.data(), reason=st.sampled_from(["lost", "stolen"]))
    def block(self, data: st.DataObject, reason: str) -> None:
        card = self._draw_card(data, closed=False)
        if card.state == "blocked":
            with pytest.raises(Conflict):
                self.book.block(card.card_id, reason, self.now)  # type: ignore[arg-type]
            return
        self.book.block(card.card_id, reason, self.now)  # type: ignore[arg-type]
        assert self.book.card(card.card_id).state == "blocked"

    @precondition(has_live_card)
    @rule(data=st.data())
    def reissue(self, data: st.DataObject) -> None:
        old = self._draw_card(data, closed=False)
        new_card_id = self._next_card_id()
        balance = self.book.balance(old.card_id)
        on_cards = self._on_cards()
        self.book.reissue(old.card_id, new_card_id, self.now)
        assert self.book.balance(old.card_id) == 0
        assert self.book.balance(new_card_id) == balance
        assert self._on_cards() == on_cards

    @precondition(has_live_card)
    @rule(data=st.data())
    def pupil_leaves(self, data: st.DataObject) -> None:
        card = self._draw_card(data, closed=False)
        balance = self.book.balance(card.card_id)
        self.book.close(card.card_id, self.now)
        assert self.book.balance(card.card_id) == balance

    @precondition(has_closed_card)
    @rule(data=st.data(), command=st.sampled_from(["block", "reissue", "close", "limit", "threshold"]))
    def a_closed_card_refuses_changes(self, data: st.DataObject, command: str) -> None:
        card = self._draw_card(data, closed=True)
        before = card.snapshot
        with pytest.raises(Conflict):
            self._change(card.card_id, command)
        assert self.book.card(card.card_id).snapshot == before

    def _change(self, card_id: str, command: str) -> None:
        match command:
            case "block":
                self.book.block(card_id, "lost", self.now)
            case "reissue":
                self.book.reissue(card_id, self._next_card_id(), self.now)
            case "close":
                self.book.close(card_id, self.now)
            case "limit":
                self.book.set_daily_limit(card_id, 100, self.parent, self.now)
            case _:
                self.book.set_low_balance_threshold(card_id, 100, self.parent, self.now)

    @precondition(has_live_card)
    @rule(data=st.data(), limit=st.one_of(st.none(), st.integers(min_value=0, max_value=30_000)))
    def set_daily_limit(self, data: st.DataObject, limit: int | None) -> None:
        card = self._draw_card(data, closed=False)
        self.book.set_daily_limit(card.card_id, limit, self.parent, self.now)
        assert card.daily_limit == limit

    @precondition(has_live_card)
    @rule(data=st.data(), threshold=st.one_of(st.none(), thresholds))
    def set_low_balance_threshold(self, data: st.DataObject, threshold: int | None) -> None:
        card = self._draw_card(data, closed=False)
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
        meals = sum(meal.amount for p, meal in self.approved.items() if p not in self.refunded)
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
