"""The account's decisions: who gets which role, and what cannot happen twice."""

from datetime import UTC, datetime
from uuid import uuid4

import pytest

from diary_events.identity import AccountRegistered, EmailConfirmed, PasswordSet, RoleGranted, RoleRevoked
from identity.domain.accounts import Account, Conflict, Grant, IdentityError

NOW = datetime(2026, 9, 1, 8, 30, tzinfo=UTC)


def new_account() -> Account:
    return Account(str(uuid4()))


def test_self_registration_makes_a_parent() -> None:
    account = new_account()
    account.register("ivanova@example.org", "email", NOW)
    assert [type(e) for e in account.pending] == [AccountRegistered, RoleGranted]
    assert account.grants == {Grant("parent")}
    assert not account.email_confirmed
    assert not account.has_password


def test_an_invited_account_gets_only_the_granted_role() -> None:
    account = new_account()
    account.register("teacher@example.org", "invitation", NOW)
    assert account.grants == set()


def test_registering_twice_is_a_conflict() -> None:
    account = new_account()
    account.register("a@example.org", "email", NOW)
    with pytest.raises(Conflict):
        account.register("a@example.org", "email", NOW)


def test_the_first_password_is_set_once_then_only_reset() -> None:
    account = new_account()
    account.register("a@example.org", "email", NOW)
    account.confirm_email(NOW)
    account.confirm_email(NOW)
    account.first_password(NOW)
    assert [type(e) for e in account.pending][-2:] == [EmailConfirmed, PasswordSet]
    with pytest.raises(Conflict):
        account.first_password(NOW)


def test_a_role_is_granted_once_and_revoked_once() -> None:
    account = new_account()
    account.register("t@example.org", "invitation", NOW)
    teacher = Grant("teacher", uuid4(), uuid4())
    assert account.grant(teacher, "operator", None, NOW)
    assert not account.grant(teacher, "operator", None, NOW)
    assert account.revoke(teacher, "left_school", NOW)
    assert not account.revoke(teacher, "left_school", NOW)
    assert isinstance(account.pending[-1], RoleRevoked)
    assert account.grants == set()


@pytest.mark.parametrize(
    ("grant", "field"),
    [
        (Grant("teacher", None, uuid4()), "school_id"),
        (Grant("teacher", uuid4(), None), "person_id"),
        (Grant("school_staff", None, uuid4()), "school_id"),
        (Grant("parent", None, uuid4()), "person_id"),
        (Grant("parent", uuid4()), "school_id"),
        (Grant("operator", None, uuid4()), "person_id"),
    ],
)
def test_role_scopes_are_checked(grant: Grant, field: str) -> None:
    account = new_account()
    account.register("x@example.org", "invitation", NOW)
    with pytest.raises(IdentityError) as refused:
        account.grant(grant, "operator", None, NOW)
    assert refused.value.field == field


def test_school_staff_may_name_their_roster_person() -> None:
    account = new_account()
    account.register("deputy@example.org", "invitation", NOW)
    assert account.grant(Grant("school_staff", uuid4(), uuid4()), "operator", None, NOW)


def test_the_state_is_the_fold_of_the_events() -> None:
    account = new_account()
    account.register("a@example.org", "email", NOW)
    account.confirm_email(NOW)
    account.first_password(NOW)
    account.link_esia("https://esia.example", "1000001", NOW, new_account=False)
    again = Account.rehydrate(account.id, account.pending)
    assert again.email == "a@example.org"
    assert again.email_confirmed
    assert again.has_password
    assert again.grants == {Grant("parent")}
    assert again.esia_subjects == {("https://esia.example", "1000001")}
