-- The diary's marks with the lesson they belong to, comments and removals; final marks per
-- period and state exam results. Built by "gradebook.diary-marks" from gradebook.events.v1.
ALTER TABLE diary_marks
    ADD COLUMN IF NOT EXISTS lesson_id      uuid,
    ADD COLUMN IF NOT EXISTS lesson_number  smallint,
    ADD COLUMN IF NOT EXISTS class_id       uuid,
    ADD COLUMN IF NOT EXISTS school_id      uuid,
    ADD COLUMN IF NOT EXISTS comment        text,
    ADD COLUMN IF NOT EXISTS corrected_by   uuid,
    ADD COLUMN IF NOT EXISTS removed_at     timestamptz,
    ADD COLUMN IF NOT EXISTS removal_reason text,
    ADD COLUMN IF NOT EXISTS removed_by     uuid;

-- Averages and ratings read only the marks in force, per pupil, subject and date.
CREATE INDEX IF NOT EXISTS diary_marks_in_force
    ON diary_marks (education_id, subject_id, lesson_date) INCLUDE (value, weight)
    WHERE removed_at IS NULL;

-- The final mark in force per pupil, subject and period (the latest `set_at` wins).
CREATE TABLE IF NOT EXISTS diary_final_marks (
    education_id      uuid NOT NULL,
    subject_id        uuid NOT NULL,
    period_id         uuid NOT NULL,
    school_year_id    uuid NOT NULL,
    school_id         uuid NOT NULL,
    class_id          uuid NOT NULL,
    value             text NOT NULL,
    teacher_id        uuid NOT NULL,
    suggested_average text,
    reason            text,
    set_at            timestamptz NOT NULL,
    PRIMARY KEY (education_id, subject_id, period_id)
);
CREATE INDEX IF NOT EXISTS diary_final_marks_by_year ON diary_final_marks (education_id, school_year_id);

-- A state exam result as last published (appeals re-publish it).
CREATE TABLE IF NOT EXISTS diary_exam_results (
    result_id         uuid PRIMARY KEY,
    pupil_id          uuid NOT NULL,
    education_id      uuid,
    school_id         uuid NOT NULL,
    exam              text NOT NULL,
    subject_name      text NOT NULL,
    exam_date         date NOT NULL,
    primary_score     integer NOT NULL,
    max_primary_score integer NOT NULL,
    test_score        integer,
    mark              integer,
    status            text NOT NULL,
    published_at      timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS diary_exam_results_by_education ON diary_exam_results (education_id)
    WHERE education_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS diary_exam_results_by_pupil ON diary_exam_results (pupil_id);
