-- Read model: the roster as the gradebook's events describe it (schools, subjects, school years
-- and periods, classes, pupils, enrolments with their class history, teachers and assignments).
-- Built only from gradebook.events.v1 by the "gradebook.roster" projection, so it can be dropped
-- and rebuilt from the topic. Each aggregate's facts live in their own rows and are joined at
-- query time: events of different aggregates arrive from different partitions in any order.
CREATE TABLE IF NOT EXISTS roster_schools (
    school_id     uuid PRIMARY KEY,
    district_id   uuid NOT NULL,
    district_name text NOT NULL,
    name          text NOT NULL,
    short_name    text NOT NULL,
    address       text,
    closed        boolean NOT NULL DEFAULT false
);

CREATE TABLE IF NOT EXISTS roster_subjects (
    subject_id uuid PRIMARY KEY,
    school_id  uuid NOT NULL,
    name       text NOT NULL
);
CREATE INDEX IF NOT EXISTS roster_subjects_by_school ON roster_subjects (school_id);

CREATE TABLE IF NOT EXISTS roster_school_years (
    school_year_id uuid PRIMARY KEY,
    school_id      uuid NOT NULL,
    name           text NOT NULL,
    starts_on      date NOT NULL,
    ends_on        date NOT NULL
);
CREATE INDEX IF NOT EXISTS roster_school_years_by_school ON roster_school_years (school_id, starts_on);

CREATE TABLE IF NOT EXISTS roster_periods (
    period_id      uuid PRIMARY KEY,
    school_year_id uuid NOT NULL,
    school_id      uuid NOT NULL,
    kind           text NOT NULL,
    number         integer NOT NULL,
    name           text NOT NULL,
    starts_on      date NOT NULL,
    ends_on        date NOT NULL
);
CREATE INDEX IF NOT EXISTS roster_periods_by_year ON roster_periods (school_year_id);

CREATE TABLE IF NOT EXISTS roster_classes (
    class_id        uuid PRIMARY KEY,
    school_id       uuid NOT NULL,
    school_year_id  uuid NOT NULL,
    grade           integer NOT NULL,
    letter          text NOT NULL,
    name            text NOT NULL,
    form_teacher_id uuid,
    closed          boolean NOT NULL DEFAULT false
);
CREATE INDEX IF NOT EXISTS roster_classes_by_school ON roster_classes (school_id, school_year_id);
CREATE INDEX IF NOT EXISTS roster_classes_by_form_teacher ON roster_classes (form_teacher_id)
    WHERE form_teacher_id IS NOT NULL;

-- Names opened from the sealed personal data; NULL once the pupil's key was destroyed.
CREATE TABLE IF NOT EXISTS roster_pupils (
    pupil_id   uuid PRIMARY KEY,
    surname    text,
    first_name text,
    patronymic text,
    birth_date date,
    erased     boolean NOT NULL DEFAULT false
);

-- An «education»: a pupil's enrolment in one school, the key of the diary there.
CREATE TABLE IF NOT EXISTS roster_educations (
    education_id   uuid PRIMARY KEY,
    pupil_id       uuid NOT NULL,
    school_id      uuid NOT NULL,
    enrolled_on    date NOT NULL,
    left_on        date,
    leaving_reason text
);
CREATE INDEX IF NOT EXISTS roster_educations_by_pupil ON roster_educations (pupil_id);
CREATE INDEX IF NOT EXISTS roster_educations_by_school ON roster_educations (school_id);

-- The classes of an education over time, half-open [from_on, to_on): a transfer closes one stint
-- and opens the next, so both classes stay in the history. to_on is derived (the next stint's
-- from_on, else the date the pupil left) and recomputed whenever the education's stints change.
CREATE TABLE IF NOT EXISTS roster_education_classes (
    education_id uuid NOT NULL,
    from_on      date NOT NULL,
    class_id     uuid NOT NULL,
    to_on        date,
    PRIMARY KEY (education_id, from_on)
);
CREATE INDEX IF NOT EXISTS roster_education_classes_by_class
    ON roster_education_classes (class_id, from_on) INCLUDE (education_id, to_on);

CREATE TABLE IF NOT EXISTS roster_teachers (
    teacher_id uuid PRIMARY KEY,
    school_id  uuid NOT NULL,
    surname    text NOT NULL,
    first_name text NOT NULL,
    patronymic text,
    position   text NOT NULL,
    dismissed  boolean NOT NULL DEFAULT false
);
CREATE INDEX IF NOT EXISTS roster_teachers_by_school ON roster_teachers (school_id);

CREATE TABLE IF NOT EXISTS roster_assignments (
    assignment_id uuid PRIMARY KEY,
    teacher_id    uuid NOT NULL,
    school_id     uuid NOT NULL,
    class_id      uuid NOT NULL,
    subject_id    uuid NOT NULL,
    active        boolean NOT NULL
);
CREATE INDEX IF NOT EXISTS roster_assignments_by_class ON roster_assignments (class_id, subject_id);
CREATE INDEX IF NOT EXISTS roster_assignments_by_teacher ON roster_assignments (teacher_id);
