-- Write-side state of the identity service next to its event store. Accounts themselves are
-- event streams; these tables hold what must be looked up or kept secret:
-- the login index, credentials, one-time links, sessions, lock-out counters, signing keys, mail.

-- Login index: one account per normalised e-mail, enforced by the primary key.
CREATE TABLE account_logins (
    email       text PRIMARY KEY,
    account_id  uuid NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE esia_links (
    issuer       text NOT NULL,
    subject      text NOT NULL,
    account_id   uuid NOT NULL,
    linked_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (issuer, subject)
);

-- Who holds which role: lets roster events find the accounts of a dismissed teacher.
CREATE TABLE account_roles (
    account_id  uuid NOT NULL,
    role        text NOT NULL,
    school_id   uuid,
    person_id   uuid
);
CREATE UNIQUE INDEX account_roles_unique
    ON account_roles (account_id, role, coalesce(school_id, '00000000-0000-0000-0000-000000000000'::uuid),
                      coalesce(person_id, '00000000-0000-0000-0000-000000000000'::uuid));
CREATE INDEX account_roles_person ON account_roles (person_id) WHERE person_id IS NOT NULL;

-- argon2id hashes (the encoded form carries its parameters and salt). Never in events.
CREATE TABLE credentials (
    account_id     uuid PRIMARY KEY,
    password_hash  text NOT NULL,
    changed_at     timestamptz NOT NULL
);

-- Confirmation, invitation and reset links: only a SHA-256 of the token is kept.
CREATE TABLE one_time_links (
    token_hash   bytea PRIMARY KEY,
    purpose      text NOT NULL CHECK (purpose IN ('confirm', 'reset')),
    account_id   uuid NOT NULL,
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    used_at      timestamptz
);
CREATE INDEX one_time_links_account ON one_time_links (account_id, purpose);

-- A session is a chain of refresh tokens; reusing a spent one revokes the whole chain.
CREATE TABLE sessions (
    session_id      uuid PRIMARY KEY,
    account_id      uuid NOT NULL,
    method          text NOT NULL,
    created_at      timestamptz NOT NULL,
    expires_at      timestamptz NOT NULL,
    revoked_at      timestamptz,
    revoked_reason  text
);
CREATE INDEX sessions_account ON sessions (account_id) WHERE revoked_at IS NULL;

CREATE TABLE refresh_tokens (
    token_hash  bytea PRIMARY KEY,
    session_id  uuid NOT NULL REFERENCES sessions,
    issued_at   timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz
);
CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);

-- Failed-login counters, keyed 'login:<sha256 of e-mail>' or 'address:<client address>'.
CREATE TABLE login_failures (
    key             text PRIMARY KEY,
    failures        integer NOT NULL,
    window_started  timestamptz NOT NULL,
    locked_until    timestamptz
);

-- Token signing keys. A key is published (JWKS) before it signs and after it stops signing,
-- so that verifiers' caches always hold the key of any token still valid.
CREATE TABLE signing_keys (
    kid           text PRIMARY KEY,
    algorithm     text NOT NULL,
    private_key   bytea NOT NULL,         -- PKCS#8 PEM, sealed with the key-encryption key
    public_jwk    jsonb NOT NULL,
    created_at    timestamptz NOT NULL,
    signs_from    timestamptz NOT NULL,
    signs_until   timestamptz,
    published_until timestamptz
);

-- Outgoing security e-mail: the body holds a link, so it is wiped once sent.
CREATE TABLE outgoing_mail (
    mail_id          uuid PRIMARY KEY,
    recipient        text NOT NULL,
    purpose          text NOT NULL,
    subject          text NOT NULL,
    body             text,
    created_at       timestamptz NOT NULL,
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL,
    sent_at          timestamptz,
    failed_at        timestamptz,
    last_error       text
);
CREATE INDEX outgoing_mail_due ON outgoing_mail (next_attempt_at) WHERE sent_at IS NULL AND failed_at IS NULL;
CREATE INDEX outgoing_mail_recipient ON outgoing_mail (recipient, purpose, created_at);

-- ESIA logins under way: state, nonce and PKCE verifier, bound to the browser by a cookie.
CREATE TABLE federated_logins (
    state_hash     bytea PRIMARY KEY,
    browser_hash   bytea NOT NULL,
    nonce          text NOT NULL,
    code_verifier  text NOT NULL,
    created_at     timestamptz NOT NULL,
    expires_at     timestamptz NOT NULL,
    consumed_at    timestamptz
);

-- The roster people who may hold a teacher or pupil role, from gradebook events.
CREATE TABLE roster_people (
    person_id  uuid NOT NULL,
    kind       text NOT NULL CHECK (kind IN ('teacher', 'pupil')),
    school_id  uuid NOT NULL,
    active     boolean NOT NULL,
    PRIMARY KEY (person_id, school_id)
);
