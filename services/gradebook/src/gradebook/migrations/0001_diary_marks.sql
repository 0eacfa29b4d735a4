-- Read model: marks as a parent's diary shows them. Built only from gradebook.events.v1, so it can
-- be dropped and rebuilt from the topic at any time.
CREATE TABLE IF NOT EXISTS diary_marks (
    mark_id           uuid PRIMARY KEY,
    education_id      uuid NOT NULL,
    subject_id        uuid NOT NULL,
    teacher_id        uuid NOT NULL,
    lesson_date       date NOT NULL,
    value             text NOT NULL,
    work_type         text NOT NULL,
    weight            integer NOT NULL,
    version           integer NOT NULL,
    recorded_at       timestamptz NOT NULL,
    corrected_at      timestamptz,
    correction_reason text,
    projected_at      timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX IF NOT EXISTS diary_marks_by_pupil ON diary_marks (education_id, lesson_date);
