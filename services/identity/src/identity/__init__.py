"""Identity: accounts, credentials, sessions, roles and ESIA links of the diary platform."""
