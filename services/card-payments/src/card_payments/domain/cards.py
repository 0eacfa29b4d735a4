"""The pupil card: the turnstile pass and the meals card in one, issued to an enrolled pupil.

Decisions only. A card holds no money itself: its balance lives on the ledger (``card:<id>``),
and a decision that moves money returns the posting for the caller to put there. The card's
stream also carries the money events (top-ups, meals, refunds) so it can be replayed whole; the
aggregate's own state ignores them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar, Literal, get_args
from uuid import UUID

from card_payments.domain.ledger import Account, Posting, is_kopecks

CardState = Literal["active", "blocked", "closed"]
BlockReason = Literal["lost", "stolen"]
CloseReason = Literal["pupil_left", "replaced"]

BLOCK_REASONS: dict[str, str] = {"lost": "Карта утеряна", "stolen": "Карта украдена"}
"""Why a parent or the school blocks a card, with the wording the parent reads."""
assert set(BLOCK_REASONS) == set(get_args(BlockReason))

CLOSE_REASONS: dict[str, str] = {"pupil_left": "Ученик выбыл из школы", "replaced": "Карта перевыпущена"}
assert set(CLOSE_REASONS) == set(get_args(CloseReason))

MAX_DAILY_LIMIT = 1_000_000
"""10 000 ₽ a day in kopecks: a parent's limit above it is surely a typo (rubles for kopecks)."""


class CardError(Exception):
    """A request the card-payments service refuses; `field` names the input at fault."""

    status = 422

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class Conflict(CardError):
    status = 409


class NotFound(CardError):
    status = 404


# -- events --------------------------------------------------------------------------------------
# Plain frozen dataclasses: the domain's facts. The schemas' published contracts are mapped from
# them at the edge, so the decisions stay free of serialisation.


@dataclass(frozen=True, kw_only=True)
class CardEvent:
    """Anything that happens to one card; ``card_id`` is the stream (and the Kafka key)."""

    card_id: str
    occurred_at: datetime


@dataclass(frozen=True, kw_only=True)
class CardIssued(CardEvent):
    """A card handed to a pupil; a reissued card opens with the old card's balance and settings."""

    pupil_id: UUID
    education_id: UUID
    school_id: UUID
    replaces: str | None = None
    opening_balance: int = 0
    daily_limit: int | None = None
    low_balance_threshold: int | None = None


@dataclass(frozen=True, kw_only=True)
class CardBlocked(CardEvent):
    reason: BlockReason


@dataclass(frozen=True, kw_only=True)
class CardReissued(CardEvent):
    """The old card's side of a reissue: what moved to which new card."""

    new_card_id: str
    balance_moved: int


@dataclass(frozen=True, kw_only=True)
class CardClosed(CardEvent):
    """No more passes or meals; a pupil-left card's balance stays owed to the family."""

    reason: CloseReason


@dataclass(frozen=True, kw_only=True)
class SpendingLimitSet(CardEvent):
    daily_limit: int | None
    set_by_account: UUID


@dataclass(frozen=True, kw_only=True)
class LowBalanceThresholdSet(CardEvent):
    threshold: int | None
    set_by_account: UUID


# -- the aggregate -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CardSnapshot:
    """The card's state as plain values: what a replay must reproduce exactly."""

    card_id: str
    pupil_id: UUID | None
    education_id: UUID | None
    school_id: UUID | None
    state: CardState
    block_reason: BlockReason | None
    close_reason: CloseReason | None
    replaces: str | None
    replaced_by: str | None
    daily_limit: int | None
    low_balance_threshold: int | None
    version: int


@dataclass(frozen=True)
class Reissue:
    """What a reissue decides: the old card's events, the new card, and the posting moving the money.

    No posting when the balance is zero: a posting never moves nothing.
    """

    events: tuple[CardEvent, ...]
    new_card: Card
    posting: Posting | None


def _card_id(value: str, field_name: str) -> str:
    if not isinstance(value, str) or not value.strip() or value != value.strip():
        raise CardError("a card number is a non-empty string without spaces around it", field=field_name)
    return value


def _optional_kopecks(value: int | None, field_name: str, *, minimum: int, maximum: int | None) -> None:
    if value is None:
        return
    if not is_kopecks(value):
        raise CardError("amounts are whole kopecks", field=field_name)
    if value < minimum or (maximum is not None and value > maximum):
        upper = "" if maximum is None else f" and at most {maximum}"
        raise CardError(f"must be at least {minimum}{upper} kopecks", field=field_name)


@dataclass
class Card:
    """One pupil card; its state is the fold of its stream, its version the stream's length."""

    stream_type: ClassVar[str] = "card"

    card_id: str
    pupil_id: UUID | None = None
    education_id: UUID | None = None
    school_id: UUID | None = None
    state: CardState = "active"
    block_reason: BlockReason | None = None
    close_reason: CloseReason | None = None
    replaces: str | None = None
    replaced_by: str | None = None
    daily_limit: int | None = None
    low_balance_threshold: int | None = None
    version: int = 0
    pending: list[CardEvent] = field(default_factory=list)

    @property
    def account(self) -> Account:
        return Account.card(self.card_id)

    @property
    def exists(self) -> bool:
        return self.version > 0

    @property
    def snapshot(self) -> CardSnapshot:
        return CardSnapshot(
            card_id=self.card_id,
            pupil_id=self.pupil_id,
            education_id=self.education_id,
            school_id=self.school_id,
            state=self.state,
            block_reason=self.block_reason,
            close_reason=self.close_reason,
            replaces=self.replaces,
            replaced_by=self.replaced_by,
            daily_limit=self.daily_limit,
            low_balance_threshold=self.low_balance_threshold,
            version=self.version,
        )

    @classmethod
    def rehydrate(cls, card_id: str, events: Iterable[CardEvent]) -> Card:
        card = cls(card_id)
        for event in events:
            card.when(event)
            card.version += 1
        return card

    def raise_event(self, event: CardEvent) -> CardEvent:
        """Record a fact on this card's stream (also the money facts decided elsewhere)."""
        if event.card_id != self.card_id:
            raise ValueError(f"event for card {event.card_id} raised on card {self.card_id}")
        self.when(event)
        self.version += 1
        self.pending.append(event)
        return event

    # -- decisions -------------------------------------------------------------------------------

    @classmethod
    def issue(
        cls,
        card_id: str,
        *,
        pupil_id: UUID,
        education_id: UUID,
        school_id: UUID,
        now: datetime,
        replaces: str | None = None,
        opening_balance: int = 0,
        daily_limit: int | None = None,
        low_balance_threshold: int | None = None,
    ) -> Card:
        """A new card for an enrolled pupil (the service layer checks the enrolment on the roster)."""
        card = cls(_card_id(card_id, "card_id"))
        if not is_kopecks(opening_balance) or opening_balance < 0:
            raise CardError("a card opens with a balance of zero or more kopecks", field="opening_balance")
        card.raise_event(
            CardIssued(
                card_id=card_id,
                occurred_at=now,
                pupil_id=pupil_id,
                education_id=education_id,
                school_id=school_id,
                replaces=replaces,
                opening_balance=opening_balance,
                daily_limit=daily_limit,
                low_balance_threshold=low_balance_threshold,
            )
        )
        return card

    def _not_closed(self) -> None:
        if not self.exists:
            raise NotFound(f"card {self.card_id} was never issued", field="card_id")
        if self.state == "closed":
            raise Conflict(f"card {self.card_id} is closed", field="card_id")

    def block(self, reason: BlockReason, now: datetime) -> tuple[CardEvent, ...]:
        """Stop passes and meals at once (lost or stolen); the money stays for the reissue."""
        if reason not in BLOCK_REASONS:
            raise CardError(f"a card is blocked as {' or '.join(BLOCK_REASONS)}", field="reason")
        self._not_closed()
        if self.state == "blocked":
            raise Conflict(f"card {self.card_id} is blocked already", field="card_id")
        return (self.raise_event(CardBlocked(card_id=self.card_id, occurred_at=now, reason=reason)),)

    def reissue(self, new_card_id: str, *, balance: int, now: datetime) -> Reissue:
        """Replace the card: the old one closes as replaced, its whole balance moves to the new one.

        ``balance`` is the old card's balance on the ledger now; the new card keeps the pupil and
        the parent's limit and threshold, so a lost card does not reset them.
        """
        _card_id(new_card_id, "new_card_id")
        self._not_closed()
        if new_card_id == self.card_id:
            raise CardError("the new card needs a number of its own", field="new_card_id")
        if not is_kopecks(balance) or balance < 0:
            raise CardError("a card's balance is zero or more kopecks", field="balance")
        assert self.pupil_id is not None, "an issued card has a pupil"
        assert self.education_id is not None
        assert self.school_id is not None
        new_card = Card.issue(
            new_card_id,
            pupil_id=self.pupil_id,
            education_id=self.education_id,
            school_id=self.school_id,
            now=now,
            replaces=self.card_id,
            opening_balance=balance,
            daily_limit=self.daily_limit,
            low_balance_threshold=self.low_balance_threshold,
        )
        posting = (
            Posting.transfer(
                f"reissue:{self.card_id}",
                "reissue_transfer",
                debit=self.account,
                credit=new_card.account,
                amount=balance,
            )
            if balance
            else None
        )
        events = (
            self.raise_event(
                CardReissued(
                    card_id=self.card_id, occurred_at=now, new_card_id=new_card_id, balance_moved=balance
                )
            ),
            self.raise_event(CardClosed(card_id=self.card_id, occurred_at=now, reason="replaced")),
        )
        return Reissue(events=events, new_card=new_card, posting=posting)

    def close(self, now: datetime) -> tuple[CardEvent, ...]:
        """The pupil left the school: the card stops; what it holds stays owed to the family."""
        self._not_closed()
        return (self.raise_event(CardClosed(card_id=self.card_id, occurred_at=now, reason="pupil_left")),)

    def set_daily_limit(self, kopecks: int | None, by_account: UUID, now: datetime) -> tuple[CardEvent, ...]:
        """A parent caps meals per Moscow day; ``None`` lifts the cap, 0 stops meals but not the pass."""
        _optional_kopecks(kopecks, "daily_limit", minimum=0, maximum=MAX_DAILY_LIMIT)
        self._not_closed()
        if kopecks == self.daily_limit:
            return ()
        event = SpendingLimitSet(
            card_id=self.card_id, occurred_at=now, daily_limit=kopecks, set_by_account=by_account
        )
        return (self.raise_event(event),)

    def set_low_balance_threshold(
        self, kopecks: int | None, by_account: UUID, now: datetime
    ) -> tuple[CardEvent, ...]:
        """A parent is told when a meal takes the balance below this; ``None`` turns it off."""
        _optional_kopecks(kopecks, "low_balance_threshold", minimum=1, maximum=None)
        self._not_closed()
        if kopecks == self.low_balance_threshold:
            return ()
        event = LowBalanceThresholdSet(
            card_id=self.card_id, occurred_at=now, threshold=kopecks, set_by_account=by_account
        )
        return (self.raise_event(event),)

    # -- state -----------------------------------------------------------------------------------

    def when(self, event: CardEvent) -> None:
        match event:
            case CardIssued():
                self.pupil_id = event.pupil_id
                self.education_id = event.education_id
                self.school_id = event.school_id
                self.replaces = event.replaces
                self.daily_limit = event.daily_limit
                self.low_balance_threshold = event.low_balance_threshold
            case CardBlocked():
                self.state = "blocked"
                self.block_reason = event.reason
            case CardReissued():
                self.replaced_by = event.new_card_id
            case CardClosed():
                self.state = "closed"
                self.close_reason = event.reason
            case SpendingLimitSet():
                self.daily_limit = event.daily_limit
            case LowBalanceThresholdSet():
                self.low_balance_threshold = event.threshold
            case _:
                pass  # money facts: they change the ledger, not the card
