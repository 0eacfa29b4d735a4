-- Read model: the class journal as the diary shows it (timetable with dated changes, lessons,
-- homework, attendance, remarks). Built only from gradebook.events.v1 by "gradebook.journal".

-- A weekly slot from `valid_from` on; the slot valid on a date is the row with the latest
-- valid_from not after it. A cleared slot is a row with cleared = true (no lesson from then on).
CREATE TABLE IF NOT EXISTS journal_timetable_slots (
    class_id      uuid NOT NULL,
    weekday       smallint NOT NULL,
    lesson_number smallint NOT NULL,
    valid_from    date NOT NULL,
    school_id     uuid NOT NULL,
    cleared       boolean NOT NULL,
    subject_id    uuid,
    teacher_id    uuid,
    room          text,
    starts_at     time,
    ends_at       time,
    PRIMARY KEY (class_id, weekday, lesson_number, valid_from)
);

-- One dated change of the timetable (a reverted change is deleted).
CREATE TABLE IF NOT EXISTS journal_timetable_changes (
    class_id      uuid NOT NULL,
    lesson_date   date NOT NULL,
    lesson_number smallint NOT NULL,
    school_id     uuid NOT NULL,
    kind          text NOT NULL CHECK (kind IN ('cancellation', 'substitution')),
    subject_id    uuid,
    teacher_id    uuid,
    room          text,
    reason        text,
    PRIMARY KEY (class_id, lesson_date, lesson_number)
);

CREATE TABLE IF NOT EXISTS journal_lessons (
    lesson_id     uuid PRIMARY KEY,
    class_id      uuid NOT NULL,
    school_id     uuid NOT NULL,
    subject_id    uuid NOT NULL,
    lesson_date   date NOT NULL,
    lesson_number smallint NOT NULL,
    teacher_id    uuid NOT NULL,
    lesson_topic  text NOT NULL,
    description   text
);
CREATE INDEX IF NOT EXISTS journal_lessons_by_class_date ON journal_lessons (class_id, lesson_date);

CREATE TABLE IF NOT EXISTS journal_homework (
    homework_id    uuid PRIMARY KEY,
    lesson_id      uuid NOT NULL,
    class_id       uuid NOT NULL,
    school_id      uuid NOT NULL,
    subject_id     uuid NOT NULL,
    lesson_date    date NOT NULL,
    lesson_number  smallint NOT NULL,
    teacher_id     uuid NOT NULL,
    due_on         date NOT NULL,
    kind           text NOT NULL,
    text           text NOT NULL,
    attachments    jsonb NOT NULL DEFAULT '[]',
    removed        boolean NOT NULL DEFAULT false,
    removal_reason text
);
CREATE INDEX IF NOT EXISTS journal_homework_by_class_lesson ON journal_homework (class_id, lesson_date)
    WHERE NOT removed;
CREATE INDEX IF NOT EXISTS journal_homework_by_class_due ON journal_homework (class_id, due_on)
    WHERE NOT removed;

-- One row per lesson and pupil: a later marking replaces the earlier one.
CREATE TABLE IF NOT EXISTS journal_attendance (
    lesson_id      uuid NOT NULL,
    education_id   uuid NOT NULL,
    class_id       uuid NOT NULL,
    school_id      uuid NOT NULL,
    subject_id     uuid NOT NULL,
    lesson_date    date NOT NULL,
    lesson_number  smallint NOT NULL,
    teacher_id     uuid NOT NULL,
    status         text NOT NULL,
    absence_reason text,
    minutes_late   integer,
    marked_at      timestamptz NOT NULL,
    PRIMARY KEY (lesson_id, education_id)
);
CREATE INDEX IF NOT EXISTS journal_attendance_by_pupil ON journal_attendance (education_id, lesson_date)
    INCLUDE (subject_id, status, absence_reason, minutes_late);

CREATE TABLE IF NOT EXISTS journal_remarks (
    remark_id     uuid PRIMARY KEY,
    lesson_id     uuid NOT NULL,
    education_id  uuid NOT NULL,
    class_id      uuid NOT NULL,
    school_id     uuid NOT NULL,
    subject_id    uuid NOT NULL,
    lesson_date   date NOT NULL,
    lesson_number smallint NOT NULL,
    teacher_id    uuid NOT NULL,
    text          text NOT NULL,
    made_at       timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS journal_remarks_by_pupil ON journal_remarks (education_id, lesson_date);
