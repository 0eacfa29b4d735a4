from datetime import UTC, datetime
from uuid import uuid4

import pytest

from applications.domain.applications import AccessApplication, ApplicationError, Conflict, Decider
from diary_events.applications import (
    ApplicationApproved,
    ApplicationRejected,
    ApplicationSubmitted,
    ApplicationWithdrawn,
    ConsentGiven,
    ConsentWithdrawn,
    ParentLinked,
    ParentUnlinked,
)
from diary_events.personal import SealedPersonalData

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
SEALED = SealedPersonalData(key_id="k", nonce="n", ciphertext="c")
PARENT, SCHOOL, PUPIL = uuid4(), uuid4(), uuid4()
STAFF = Decider(uuid4(), uuid4())


def submitted() -> AccessApplication:
    application = AccessApplication(str(uuid4()))
    application.submit(
        parent_account_id=PARENT,
        school_id=SCHOOL,
        class_id=None,
        relation="parent",
        personal_data=SEALED,
        consent_version="2026-09-01",
        now=NOW,
    )
    return application


def kinds(application: AccessApplication) -> list[type]:
    return [type(e) for e in application.pending]


def test_submitting_records_the_application_and_the_consent() -> None:
    application = submitted()
    assert kinds(application) == [ApplicationSubmitted, ConsentGiven]
    assert application.state == "pending"
    assert application.consent_active


def test_approval_links_the_parent_to_exactly_the_chosen_pupil() -> None:
    application = submitted()
    application.approve(PUPIL, STAFF, NOW)
    approved, linked = application.pending[-2:]
    assert isinstance(approved, ApplicationApproved)
    assert isinstance(linked, ParentLinked)
    assert approved.decided_by_account == STAFF.account_id
    assert approved.decided_by_person == STAFF.person_id
    assert linked.pupil_id == PUPIL
    assert linked.parent_account_id == PARENT
    assert linked.school_id == SCHOOL


def test_a_decided_application_cannot_be_decided_again_or_withdrawn() -> None:
    application = submitted()
    application.reject("pupil_not_found", None, STAFF, NOW)
    assert isinstance(application.pending[-1], ApplicationRejected)
    with pytest.raises(Conflict):
        application.approve(PUPIL, STAFF, NOW)
    with pytest.raises(Conflict):
        application.withdraw(NOW)


def test_rejecting_for_another_reason_needs_a_comment() -> None:
    application = submitted()
    with pytest.raises(ApplicationError) as refused:
        application.reject("other", "  ", STAFF, NOW)
    assert refused.value.field == "comment"
    application.reject("other", "Заявитель просил отложить", STAFF, NOW)
    assert application.state == "rejected"


def test_withdrawing_the_consent_ends_the_link() -> None:
    application = submitted()
    application.approve(PUPIL, STAFF, NOW)
    application.pending.clear()
    application.withdraw_consent(NOW)
    withdrawn, unlinked = application.pending
    assert isinstance(withdrawn, ConsentWithdrawn)
    assert isinstance(unlinked, ParentUnlinked)
    assert unlinked.reason == "consent_withdrawn"
    assert not application.linked
    with pytest.raises(Conflict):
        application.withdraw_consent(NOW)


def test_withdrawing_the_consent_of_a_pending_application_withdraws_it() -> None:
    application = submitted()
    application.pending.clear()
    application.withdraw_consent(NOW)
    assert kinds(application) == [ApplicationWithdrawn, ConsentWithdrawn]
    assert application.state == "withdrawn"


def test_unlinking_twice_changes_nothing_the_second_time() -> None:
    application = submitted()
    application.approve(PUPIL, STAFF, NOW)
    assert application.unlink("pupil_left_school", None, NOW)
    assert not application.unlink("pupil_left_school", None, NOW)


def test_state_survives_a_reload_from_its_events() -> None:
    application = submitted()
    application.approve(PUPIL, STAFF, NOW)
    reloaded = AccessApplication.rehydrate(application.id, application.pending)
    assert reloaded.state == "approved"
    assert reloaded.linked
    assert reloaded.pupil_id == PUPIL
    assert reloaded.version == 4
    assert reloaded.parent_account_id == PARENT
