"""The double-entry ledger: every kopeck that moves is a balanced posting between accounts.

Money is integer kopecks, never floats. Balances are derived from the postings each time they are
asked for, never stored or overwritten, so a replay of the same postings gives the same balances.

Sign convention: an entry's amount is positive for a credit and negative for a debit, and an
account's balance is the sum of its entries (credits minus debits). So:

- ``card:<card_id>``: what the platform owes the family (a liability). A top-up credits it and
  the balance grows; a meal debits it. Never below zero.
- ``bank:clearing``: money the bank sent (an asset, so its balance runs negative: minus the total
  received).
- ``canteen:revenue``: what the canteen earned from meals; a refund debits it.
- ``suspense:unmatched``: top-ups (and refunds) for unknown or closed cards, parked for
  reconciliation rather than lost.

Every posting sums to zero, so the sum over all accounts is always zero.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Literal, NamedTuple

AccountKind = Literal["card", "bank_clearing", "canteen_revenue", "suspense_unmatched"]
PostingKind = Literal["top_up", "top_up_parked", "purchase", "refund", "refund_parked", "reissue_transfer"]

_FIXED: dict[str, AccountKind] = {
    "bank:clearing": "bank_clearing",
    "canteen:revenue": "canteen_revenue",
    "suspense:unmatched": "suspense_unmatched",
}
CARD_PREFIX = "card:"


class LedgerError(ValueError):
    """A posting the ledger cannot take: unbalanced, empty, zero, repeated, or overdrawing a card."""


def is_kopecks(value: object) -> bool:
    """An amount of money is a plain int (a bool or a float is a bug in the caller, not money)."""
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True, order=True)
class Account:
    """A ledger account, named as in the statements: ``card:<card_id>`` or one of the fixed ones."""

    name: str

    def __post_init__(self) -> None:
        if self.name in _FIXED:
            return
        if not self.name.startswith(CARD_PREFIX) or not self.name[len(CARD_PREFIX) :].strip():
            raise LedgerError(f"unknown account {self.name!r}")

    @classmethod
    def card(cls, card_id: str) -> Account:
        return cls(CARD_PREFIX + card_id)

    @property
    def kind(self) -> AccountKind:
        return _FIXED.get(self.name, "card")

    @property
    def card_id(self) -> str | None:
        return self.name[len(CARD_PREFIX) :] if self.kind == "card" else None

    def __str__(self) -> str:
        return self.name


BANK_CLEARING = Account("bank:clearing")
CANTEEN_REVENUE = Account("canteen:revenue")
SUSPENSE_UNMATCHED = Account("suspense:unmatched")


class Entry(NamedTuple):
    """One line of a posting: positive credits the account, negative debits it."""

    account: Account
    amount: int


@dataclass(frozen=True)
class Posting:
    """One movement of money: entries that sum to exactly zero, so nothing appears or vanishes.

    The id is derived from what caused the movement (``top-up:<bank transaction id>``,
    ``purchase:<purchase id>`` …), so the ledger can refuse the same movement twice.
    """

    posting_id: str
    kind: PostingKind
    entries: tuple[Entry, ...]

    def __post_init__(self) -> None:
        if not self.posting_id:
            raise LedgerError("a posting needs an id")
        if len(self.entries) < 2:
            raise LedgerError(f"posting {self.posting_id}: a movement needs two sides at least")
        for entry in self.entries:
            if not isinstance(entry.account, Account) or not is_kopecks(entry.amount):
                raise LedgerError(f"posting {self.posting_id}: entries are (Account, int kopecks)")
            if entry.amount == 0:
                raise LedgerError(f"posting {self.posting_id}: a zero entry moves nothing")
        total = sum(entry.amount for entry in self.entries)
        if total != 0:
            raise LedgerError(f"posting {self.posting_id} is unbalanced by {total} kopecks")

    @classmethod
    def transfer(
        cls, posting_id: str, kind: PostingKind, *, debit: Account, credit: Account, amount: int
    ) -> Posting:
        """The common two-line posting: ``amount`` kopecks leave ``debit`` and reach ``credit``."""
        if not is_kopecks(amount) or amount <= 0:
            raise LedgerError(f"posting {posting_id}: a transfer moves a positive whole number of kopecks")
        if debit == credit:
            raise LedgerError(f"posting {posting_id}: a transfer needs two different accounts")
        return cls(posting_id, kind, (Entry(debit, -amount), Entry(credit, amount)))

    def amount_for(self, account: Account) -> int:
        """The net change this posting makes to one account (0 when it does not touch it)."""
        return sum(entry.amount for entry in self.entries if entry.account == account)

    @property
    def accounts(self) -> frozenset[Account]:
        return frozenset(entry.account for entry in self.entries)


class Ledger:
    """An append-only journal of postings; balances are sums over it, computed when asked."""

    def __init__(self) -> None:
        self._postings: list[Posting] = []
        self._ids: set[str] = set()
        # Indices into the journal per account, to sum one account without scanning everything.
        self._by_account: dict[Account, list[int]] = {}

    @classmethod
    def replay(cls, postings: Iterable[Posting]) -> Ledger:
        """A ledger rebuilt from scratch; it must equal the live one posting for posting."""
        ledger = cls()
        for posting in postings:
            ledger.post(posting)
        return ledger

    def post(self, posting: Posting) -> None:
        """Append a posting; a repeated id or a card taken below zero is refused whole."""
        if posting.posting_id in self._ids:
            raise LedgerError(f"posting {posting.posting_id} is in the ledger already")
        for account in posting.accounts:
            if account.kind == "card" and self.balance(account) + posting.amount_for(account) < 0:
                raise LedgerError(f"posting {posting.posting_id} would overdraw {account}")
        index = len(self._postings)
        self._postings.append(posting)
        self._ids.add(posting.posting_id)
        for account in posting.accounts:
            self._by_account.setdefault(account, []).append(index)

    def has(self, posting_id: str) -> bool:
        return posting_id in self._ids

    def balance(self, account: Account) -> int:
        """Credits minus debits of one account, summed from the journal."""
        return sum(self._postings[i].amount_for(account) for i in self._by_account.get(account, ()))

    def total(self) -> int:
        """The sum of every entry ever posted: zero, or the ledger is broken."""
        return sum(entry.amount for posting in self._postings for entry in posting.entries)

    def postings_for(self, account: Account) -> tuple[Posting, ...]:
        """The account's own history, in order: what a statement is made of."""
        return tuple(self._postings[i] for i in self._by_account.get(account, ()))

    @property
    def postings(self) -> tuple[Posting, ...]:
        return tuple(self._postings)

    @property
    def accounts(self) -> tuple[Account, ...]:
        return tuple(sorted(self._by_account))

    def __iter__(self) -> Iterator[Posting]:
        return iter(tuple(self._postings))

    def __len__(self) -> int:
        return len(self._postings)
