-- Write side of the applications service next to its event store: the index that enforces
-- "one open application per child and parent" and "one link per parent and pupil", written in
-- the same transaction as the application's events. It holds a hash of the child, never a name.
CREATE TABLE application_index (
    application_id     uuid PRIMARY KEY,
    parent_account_id  uuid NOT NULL,
    school_id          uuid NOT NULL,
    child_key          text NOT NULL,
    state              text NOT NULL,
    pupil_id           uuid,
    linked             boolean NOT NULL DEFAULT false,
    updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX application_index_one_open
    ON application_index (parent_account_id, child_key) WHERE state = 'pending';
CREATE UNIQUE INDEX application_index_one_link
    ON application_index (parent_account_id, pupil_id) WHERE linked;
CREATE INDEX application_index_pupil ON application_index (pupil_id, school_id) WHERE linked;

-- Read model "applications.roster": the registry's pupils (names for matching), their
-- enrolments, schools, classes and staff, from the registry topic and gradebook.events.v1.
CREATE TABLE roster_schools (
    school_id      uuid PRIMARY KEY,
    name           text NOT NULL,
    short_name     text NOT NULL,
    district_name  text NOT NULL,
    closed         boolean NOT NULL DEFAULT false
);

CREATE TABLE roster_classes (
    class_id        uuid PRIMARY KEY,
    school_id       uuid NOT NULL,
    school_year_id  uuid NOT NULL,
    grade           int NOT NULL,
    name            text NOT NULL,
    closed          boolean NOT NULL DEFAULT false
);
CREATE INDEX roster_classes_school ON roster_classes (school_id);

-- Names of minors: staff-facing only, erasable (`applications erase-pupil`), never logged.
CREATE TABLE roster_pupils (
    pupil_id         uuid PRIMARY KEY,
    surname          text,
    first_name       text,
    patronymic       text,
    birth_date       date,
    surname_key      text,
    first_name_key   text,
    revision         int NOT NULL DEFAULT 0,
    erased           boolean NOT NULL DEFAULT false
);
CREATE INDEX roster_pupils_surname ON roster_pupils (surname_key);
CREATE INDEX roster_pupils_birth ON roster_pupils (birth_date);

CREATE TABLE roster_enrolments (
    education_id  uuid PRIMARY KEY,
    pupil_id      uuid NOT NULL,
    school_id     uuid NOT NULL,
    class_id      uuid NOT NULL,
    active        boolean NOT NULL
);
CREATE INDEX roster_enrolments_school ON roster_enrolments (school_id, pupil_id) WHERE active;

CREATE TABLE roster_staff (
    person_id   uuid NOT NULL,
    school_id   uuid NOT NULL,
    surname     text NOT NULL,
    first_name  text NOT NULL,
    patronymic  text,
    position    text NOT NULL,
    PRIMARY KEY (person_id, school_id)
);

-- Read model "applications.views": what parents and staff see of applications, and the audit
-- trail (who did what, when) a parent can read.
CREATE TABLE application_views (
    application_id        uuid PRIMARY KEY,
    parent_account_id     uuid NOT NULL,
    school_id             uuid NOT NULL,
    class_id              uuid,
    relation              text NOT NULL,
    state                 text NOT NULL,
    child                 jsonb,
    applicant             jsonb,
    consent_version       text,
    consent_given_at      timestamptz,
    consent_withdrawn_at  timestamptz,
    submitted_at          timestamptz NOT NULL,
    decided_at            timestamptz,
    rejection_reason      text,
    rejection_comment     text,
    pupil_id              uuid,
    linked                boolean NOT NULL DEFAULT false,
    linked_at             timestamptz,
    unlinked_at           timestamptz,
    unlink_reason         text,
    updated_at            timestamptz NOT NULL
);
CREATE INDEX application_views_parent ON application_views (parent_account_id, submitted_at DESC);
CREATE INDEX application_views_queue ON application_views (school_id, state, submitted_at);

CREATE TABLE application_history (
    event_id        text PRIMARY KEY,
    application_id  uuid NOT NULL,
    at              timestamptz NOT NULL,
    action          text NOT NULL,
    actor_role      text NOT NULL,
    actor_account   uuid,
    actor_person    uuid,
    detail          jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX application_history_by_application ON application_history (application_id, at);
