"""Meals at the canteen till, bank top-ups and refunds: the decisions that move money on a card.

The functions decide from what they are given (the card, its balance, today's spending) and
return postings and events; `CardBook` is the in-memory model that feeds them from one ledger and
one set of cards, as the service layer will from PostgreSQL. Days are Moscow days: a daily limit
resets at midnight in St. Petersburg, not in UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Literal, get_args
from uuid import UUID
from zoneinfo import ZoneInfo

from card_payments.domain.cards import (
    BlockReason,
    Card,
    CardError,
    CardEvent,
    CardIssued,
    CardReissued,
    Conflict,
    NotFound,
    Reissue,
)
from card_payments.domain.ledger import (
    BANK_CLEARING,
    CANTEEN_REVENUE,
    SUSPENSE_UNMATCHED,
    Account,
    Ledger,
    Posting,
    is_kopecks,
)

MOSCOW = ZoneInfo("Europe/Moscow")

DeclineReason = Literal[
    "invalid_amount",
    "unknown_card",
    "card_closed",
    "card_blocked",
    "insufficient_funds",
    "daily_limit_exceeded",
]
DECLINE_REASONS: dict[str, str] = {
    "invalid_amount": "Неверная сумма покупки",
    "unknown_card": "Карта не найдена",
    "card_closed": "Карта закрыта",
    "card_blocked": "Карта заблокирована",
    "insufficient_funds": "Недостаточно средств на карте",
    "daily_limit_exceeded": "Превышен дневной лимит, установленный родителем",
}
"""Why a till is told no, in the order they are checked, with the wording the till shows."""
assert list(DECLINE_REASONS) == list(get_args(DeclineReason))

ParkReason = Literal["unknown_card", "card_closed"]


def moscow_day(at: datetime) -> date:
    """The school day a moment belongs to; a naive time is refused rather than guessed."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("times must carry their offset")
    return at.astimezone(MOSCOW).date()


def low_balance_crossed(threshold: int | None, before: int, after: int) -> bool:
    """Only the step from at-or-above to below tells the parent; staying below does not nag."""
    return threshold is not None and after < threshold <= before


# -- events --------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class CardTopUp(CardEvent):
    bank_transaction_id: str
    amount: int


@dataclass(frozen=True, kw_only=True)
class TopUpParked(CardEvent):
    """The bank sent money for a card we cannot credit; it waits in suspense for reconciliation."""

    bank_transaction_id: str
    amount: int
    reason: ParkReason


@dataclass(frozen=True, kw_only=True)
class MealPurchased(CardEvent):
    purchase_id: str
    till_id: str
    amount: int
    balance_after: int


@dataclass(frozen=True, kw_only=True)
class PurchaseDeclined(CardEvent):
    purchase_id: str
    till_id: str
    amount: int
    reason: DeclineReason


@dataclass(frozen=True, kw_only=True)
class PurchaseRefunded(CardEvent):
    """A purchase reversed; ``card_id`` is the card credited (the successor of a replaced one).

    ``parked`` when that card is closed: the money went to suspense, as a top-up would.
    """

    purchase_id: str
    purchased_with: str
    amount: int
    parked: bool = False


@dataclass(frozen=True, kw_only=True)
class LowBalanceReached(CardEvent):
    balance: int
    threshold: int


def balance_from_events(card_id: str, events: tuple[CardEvent, ...] | list[CardEvent]) -> int:
    """A card's balance folded from its own stream alone: the check on the ledger's account."""
    balance = 0
    for event in events:
        if event.card_id != card_id:
            raise ValueError(f"event of card {event.card_id} in the stream of {card_id}")
        match event:
            case CardIssued():
                balance += event.opening_balance
            case CardTopUp():
                balance += event.amount
            case MealPurchased():
                balance -= event.amount
            case PurchaseRefunded() if not event.parked:
                balance += event.amount
            case CardReissued():
                balance -= event.balance_moved
    return balance


# -- decisions -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Approved:
    """The till may hand over the meal; the posting moves the money card → canteen revenue."""

    purchase_id: str
    card_id: str
    amount: int
    balance_after: int
    posting: Posting
    events: tuple[CardEvent, ...]

    @property
    def low_balance(self) -> LowBalanceReached | None:
        return next((e for e in self.events if isinstance(e, LowBalanceReached)), None)


@dataclass(frozen=True)
class Declined:
    purchase_id: str
    card_id: str
    reason: DeclineReason
    event: PurchaseDeclined

    @property
    def message(self) -> str:
        return DECLINE_REASONS[self.reason]


PurchaseDecision = Approved | Declined


def decide_purchase(
    card: Card | None,
    *,
    card_id: str,
    purchase_id: str,
    till_id: str,
    amount: int,
    balance: int,
    spent_today: int,
    now: datetime,
) -> PurchaseDecision:
    """Approve a meal or say why not. ``card`` is None for a card number nobody issued.

    ``balance`` is the card's ledger balance, ``spent_today`` what the pupil's meals cost this
    Moscow day (refunds deducted): both read by the caller, so the decision itself needs no I/O.
    """
    if card is not None and card.card_id != card_id:
        raise ValueError(f"card {card.card_id} given for card number {card_id}")

    def declined(reason: DeclineReason) -> Declined:
        event = PurchaseDeclined(
            card_id=card_id,
            occurred_at=now,
            purchase_id=purchase_id,
            till_id=till_id,
            amount=amount,
            reason=reason,
        )
        return Declined(purchase_id=purchase_id, card_id=card_id, reason=reason, event=event)

    if not is_kopecks(amount) or amount <= 0:
        return declined("invalid_amount")
    if card is None or not card.exists:
        return declined("unknown_card")
    if card.state == "closed":
        return declined("card_closed")
    if card.state == "blocked":
        return declined("card_blocked")
    if amount > balance:
        return declined("insufficient_funds")
    if card.daily_limit is not None and spent_today + amount > card.daily_limit:
        return declined("daily_limit_exceeded")

    after = balance - amount
    posting = Posting.transfer(
        f"purchase:{purchase_id}", "purchase", debit=card.account, credit=CANTEEN_REVENUE, amount=amount
    )
    events: list[CardEvent] = [
        MealPurchased(
            card_id=card_id,
            occurred_at=now,
            purchase_id=purchase_id,
            till_id=till_id,
            amount=amount,
            balance_after=after,
        )
    ]
    threshold = card.low_balance_threshold
    if threshold is not None and low_balance_crossed(threshold, balance, after):
        events.append(LowBalanceReached(card_id=card_id, occurred_at=now, balance=after, threshold=threshold))
    return Approved(
        purchase_id=purchase_id,
        card_id=card_id,
        amount=amount,
        balance_after=after,
        posting=posting,
        events=tuple(events),
    )


@dataclass(frozen=True)
class PurchaseRecord:
    """An approved meal as refunds and daily limits need it; the day is the Moscow day of the sale."""

    purchase_id: str
    card_id: str
    pupil_id: UUID
    amount: int
    day: date
    refunded: bool = False


@dataclass(frozen=True)
class Refunded:
    purchase_id: str
    amount: int
    posting: Posting
    event: PurchaseRefunded


def decide_refund(
    purchase: PurchaseRecord | None, *, purchase_id: str, credit_to: Card, now: datetime
) -> Refunded:
    """Reverse one approved meal, once: canteen revenue → the card (suspense if it is closed).

    ``credit_to`` is the card the pupil holds now: the purchase's own, or its successor after a
    reissue; when that card is closed, the money is parked rather than lost.
    """
    if purchase is None:
        raise NotFound(f"no approved purchase {purchase_id} to refund", field="purchase_id")
    if purchase.refunded:
        raise Conflict(f"purchase {purchase_id} is refunded already", field="purchase_id")
    parked = credit_to.state == "closed"
    posting = Posting.transfer(
        f"refund:{purchase_id}",
        "refund_parked" if parked else "refund",
        debit=CANTEEN_REVENUE,
        credit=SUSPENSE_UNMATCHED if parked else credit_to.account,
        amount=purchase.amount,
    )
    event = PurchaseRefunded(
        card_id=credit_to.card_id,
        occurred_at=now,
        purchase_id=purchase_id,
        purchased_with=purchase.card_id,
        amount=purchase.amount,
        parked=parked,
    )
    return Refunded(purchase_id=purchase_id, amount=purchase.amount, posting=posting, event=event)


@dataclass(frozen=True)
class Credited:
    bank_transaction_id: str
    card_id: str
    amount: int
    posting: Posting
    event: CardTopUp


@dataclass(frozen=True)
class Parked:
    bank_transaction_id: str
    card_id: str
    amount: int
    posting: Posting
    event: TopUpParked


@dataclass(frozen=True)
class AlreadyCredited:
    """A redelivery of a bank transaction already taken: nothing moves, and the caller is told so."""

    bank_transaction_id: str


TopUpOutcome = Credited | Parked | AlreadyCredited


def credit_top_up(
    bank_transaction_id: str,
    card: Card | None,
    amount: int,
    *,
    card_id: str,
    already_credited: bool,
    now: datetime,
) -> TopUpOutcome:
    """Credit the bank's money to the card at once, exactly once per bank transaction id.

    A blocked card is credited (the money follows it to the reissued card); an unknown or closed
    one parks the money in suspense, because the bank has sent it either way.
    """
    if not isinstance(bank_transaction_id, str) or not bank_transaction_id:
        raise CardError("a top-up needs the bank's transaction id", field="bank_transaction_id")
    if not is_kopecks(amount) or amount <= 0:
        raise CardError("a top-up is a positive whole number of kopecks", field="amount")
    if card is not None and card.card_id != card_id:
        raise ValueError(f"card {card.card_id} given for card number {card_id}")
    if already_credited:
        return AlreadyCredited(bank_transaction_id)
    posting_id = f"top-up:{bank_transaction_id}"
    if card is None or not card.exists or card.state == "closed":
        reason: ParkReason = "unknown_card" if card is None or not card.exists else "card_closed"
        posting = Posting.transfer(
            posting_id, "top_up_parked", debit=BANK_CLEARING, credit=SUSPENSE_UNMATCHED, amount=amount
        )
        parked = TopUpParked(
            card_id=card_id,
            occurred_at=now,
            bank_transaction_id=bank_transaction_id,
            amount=amount,
            reason=reason,
        )
        return Parked(bank_transaction_id, card_id, amount, posting, parked)
    posting = Posting.transfer(posting_id, "top_up", debit=BANK_CLEARING, credit=card.account, amount=amount)
    event = CardTopUp(
        card_id=card_id, occurred_at=now, bank_transaction_id=bank_transaction_id, amount=amount
    )
    return Credited(bank_transaction_id, card_id, amount, posting, event)


# -- the in-memory model -------------------------------------------------------------------------


class CardBook:
    """Cards, one ledger and the bookkeeping around them, applying commands with the rules above.

    What the service layer will keep in PostgreSQL, kept in dicts: the unit and property tests
    drive it, and its state must always equal a replay of its postings and streams.
    """

    def __init__(self) -> None:
        self.cards: dict[str, Card] = {}
        self.ledger = Ledger()
        self.bank_transactions: dict[str, int] = {}
        """Bank transaction id → the amount taken, credited or parked: the exactly-once guard."""
        self.parked: list[CardEvent] = []
        """Money sitting in suspense: parked top-ups and refunds, for the reconciliation report."""
        self.purchases: dict[str, PurchaseRecord] = {}
        self.decisions: dict[str, PurchaseDecision] = {}
        self._by_pupil_day: dict[tuple[UUID, date], list[str]] = {}

    # -- reading ---------------------------------------------------------------------------------

    def card(self, card_id: str) -> Card:
        card = self.cards.get(card_id)
        if card is None:
            raise NotFound(f"card {card_id} was never issued", field="card_id")
        return card

    def balance(self, card_id: str) -> int:
        return self.ledger.balance(Account.card(card_id))

    def events_of(self, card_id: str) -> tuple[CardEvent, ...]:
        """The card's whole stream: nothing is ever saved here, so all of it is pending."""
        return tuple(self.card(card_id).pending)

    def spent_on(self, pupil_id: UUID, day: date) -> int:
        """Meals of the pupil that day, refunds deducted, across a reissue: a new card is no new limit."""
        records = (self.purchases[p] for p in self._by_pupil_day.get((pupil_id, day), ()))
        return sum(r.amount for r in records if not r.refunded)

    def live_card_of(self, pupil_id: UUID) -> Card | None:
        return next((c for c in self.cards.values() if c.pupil_id == pupil_id and c.state != "closed"), None)

    def holder_card(self, card_id: str) -> Card:
        """Where money for a card goes now: the card itself, or the end of its chain of reissues."""
        card = self.card(card_id)
        while card.replaced_by is not None:
            card = self.card(card.replaced_by)
        return card

    # -- commands --------------------------------------------------------------------------------

    def issue(
        self, card_id: str, *, pupil_id: UUID, education_id: UUID, school_id: UUID, now: datetime
    ) -> Card:
        """One live card per pupil: a second one is a reissue, so the money cannot split."""
        if card_id in self.cards:
            raise Conflict(f"card {card_id} is issued already", field="card_id")
        if self.live_card_of(pupil_id) is not None:
            raise Conflict("the pupil has a card already; reissue it instead", field="pupil_id")
        card = Card.issue(card_id, pupil_id=pupil_id, education_id=education_id, school_id=school_id, now=now)
        self.cards[card_id] = card
        return card

    def block(self, card_id: str, reason: BlockReason, now: datetime) -> tuple[CardEvent, ...]:
        return self.card(card_id).block(reason, now)

    def close(self, card_id: str, now: datetime) -> tuple[CardEvent, ...]:
        return self.card(card_id).close(now)

    def reissue(self, card_id: str, new_card_id: str, now: datetime) -> Reissue:
        if new_card_id in self.cards:
            raise Conflict(f"card {new_card_id} is issued already", field="new_card_id")
        old = self.card(card_id)
        # Decide on a copy, so a refusal (or a ledger refusal) leaves the old card untouched.
        trial = replace(old, pending=list(old.pending))
        reissue = trial.reissue(new_card_id, balance=self.balance(card_id), now=now)
        if reissue.posting is not None:
            self.ledger.post(reissue.posting)
        self.cards[card_id] = trial
        self.cards[new_card_id] = reissue.new_card
        return reissue

    def set_daily_limit(
        self, card_id: str, kopecks: int | None, by_account: UUID, now: datetime
    ) -> tuple[CardEvent, ...]:
        return self.card(card_id).set_daily_limit(kopecks, by_account, now)

    def set_low_balance_threshold(
        self, card_id: str, kopecks: int | None, by_account: UUID, now: datetime
    ) -> tuple[CardEvent, ...]:
        return self.card(card_id).set_low_balance_threshold(kopecks, by_account, now)

    def top_up(self, bank_transaction_id: str, card_id: str, amount: int, now: datetime) -> TopUpOutcome:
        card = self.cards.get(card_id)
        outcome = credit_top_up(
            bank_transaction_id,
            card,
            amount,
            card_id=card_id,
            already_credited=bank_transaction_id in self.bank_transactions,
            now=now,
        )
        match outcome:
            case Credited():
                assert card is not None
                self.ledger.post(outcome.posting)
                card.raise_event(outcome.event)
            case Parked():
                self.ledger.post(outcome.posting)
                self.parked.append(outcome.event)
            case AlreadyCredited():
                return outcome
        self.bank_transactions[bank_transaction_id] = amount
        return outcome

    def purchase(
        self, purchase_id: str, card_id: str, till_id: str, amount: int, now: datetime
    ) -> PurchaseDecision:
        """Decide a till's sale; the same purchase id again gets the same answer and moves nothing."""
        earlier = self.decisions.get(purchase_id)
        if earlier is not None:
            return earlier
        card = self.cards.get(card_id)
        day = moscow_day(now)
        spent = self.spent_on(card.pupil_id, day) if card is not None and card.pupil_id is not None else 0
        decision = decide_purchase(
            card,
            card_id=card_id,
            purchase_id=purchase_id,
            till_id=till_id,
            amount=amount,
            balance=self.balance(card_id),
            spent_today=spent,
            now=now,
        )
        if isinstance(decision, Approved):
            assert card is not None
            assert card.pupil_id is not None
            self.ledger.post(decision.posting)
            for event in decision.events:
                card.raise_event(event)
            self.purchases[purchase_id] = PurchaseRecord(purchase_id, card_id, card.pupil_id, amount, day)
            self._by_pupil_day.setdefault((card.pupil_id, day), []).append(purchase_id)
        elif card is not None:
            card.raise_event(decision.event)
        self.decisions[purchase_id] = decision
        return decision

    def refund(self, purchase_id: str, now: datetime) -> Refunded:
        """Reverse an approved meal once; a second refund of it is refused (the till asked twice)."""
        record = self.purchases.get(purchase_id)
        if record is None:
            raise NotFound(f"no approved purchase {purchase_id} to refund", field="purchase_id")
        credit_to = self.holder_card(record.card_id)
        refunded = decide_refund(record, purchase_id=purchase_id, credit_to=credit_to, now=now)
        self.ledger.post(refunded.posting)
        credit_to.raise_event(refunded.event)
        if refunded.event.parked:
            self.parked.append(refunded.event)
        self.purchases[purchase_id] = replace(record, refunded=True)
        return refunded
