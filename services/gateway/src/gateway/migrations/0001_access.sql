-- The access read model: who may read which pupil's diary, built from the topics only.

-- One row per parent link (an approved application); an ended link stays, not linked.
CREATE TABLE IF NOT EXISTS access_links (
    application_id    uuid PRIMARY KEY,
    parent_account_id uuid NOT NULL,
    pupil_id          uuid NOT NULL,
    school_id         uuid NOT NULL,
    linked            boolean NOT NULL,
    changed_at        timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS access_links_by_parent ON access_links (parent_account_id) WHERE linked;

-- An education (a pupil's enrolment in a school) and its current class.
CREATE TABLE IF NOT EXISTS access_educations (
    education_id uuid PRIMARY KEY,
    pupil_id     uuid NOT NULL,
    school_id    uuid NOT NULL,
    class_id     uuid NOT NULL,
    active       boolean NOT NULL
);
CREATE INDEX IF NOT EXISTS access_educations_by_pupil ON access_educations (pupil_id);

-- Which teacher teaches which class (any subject), and who is a class's form teacher.
CREATE TABLE IF NOT EXISTS access_teaching (
    assignment_id uuid PRIMARY KEY,
    teacher_id    uuid NOT NULL,
    class_id      uuid NOT NULL,
    active        boolean NOT NULL
);
CREATE INDEX IF NOT EXISTS access_teaching_by_teacher ON access_teaching (teacher_id, class_id) WHERE active;

CREATE TABLE IF NOT EXISTS access_classes (
    class_id        uuid PRIMARY KEY,
    school_id       uuid NOT NULL,
    form_teacher_id uuid
);
