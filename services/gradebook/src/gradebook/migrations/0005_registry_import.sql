-- Write-side bookkeeping of the registry and exam-centre imports (not a read model: it is never
-- rebuilt). The newest revision applied per record makes re-sent or out-of-order records no-ops;
-- the pupil → enrolment index lets an exam result find the diary it belongs in.
CREATE TABLE IF NOT EXISTS import_revisions (
    record_type text NOT NULL,
    record_id   uuid NOT NULL,
    revision    integer NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (record_type, record_id)
);

CREATE TABLE IF NOT EXISTS import_pupil_educations (
    pupil_id     uuid NOT NULL,
    school_id    uuid NOT NULL,
    education_id uuid NOT NULL,
    active       boolean NOT NULL,
    PRIMARY KEY (pupil_id, education_id)
);
