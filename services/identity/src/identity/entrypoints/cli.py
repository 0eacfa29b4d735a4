"""`identity serve` runs the service; `rotate-keys` schedules a new signing key; `invite-operator`
creates the first operator (who then grants every other role over HTTP)."""

from __future__ import annotations

import argparse
import asyncio
from datetime import timedelta
from pathlib import Path

from diary_kernel import commands as service_commands
from diary_kernel.access_tokens import AccessClaims, RoleClaim
from diary_kernel.db import create_pool, kernel_migrations, migrate
from diary_kernel.eventstore import EventStore
from diary_kernel.logs import configure_logging
from identity.entrypoints import demo


def main(argv: list[str] | None = None) -> None:
    from identity.bootstrap import IdentitySettings, build_app, definition

    parser = argparse.ArgumentParser(prog="identity")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="HTTP API, outbox relay, mail sender, roster consumers")
    rebuild = commands.add_parser("rebuild", help="replay read models from the topics")
    rebuild.add_argument("projection", nargs="?")
    commands.add_parser(
        "rotate-keys", help="publish a new token-signing key; it signs after the publish delay"
    )
    operator = commands.add_parser(
        "invite-operator", help="grant the operator role to an address (mails a link)"
    )
    operator.add_argument("email")
    demo_parser = commands.add_parser("demo", help="register the demo parent through a running service")
    demo_parser.add_argument("--url", default="http://127.0.0.1:8102")
    demo_parser.add_argument("--mailbox", type=Path, required=True, help="the SMTP sink's Maildir")
    args = parser.parse_args(argv)
    if args.command == "demo":
        account_id = demo.load(args.url, args.mailbox)
        print(f"demo parent {demo.DEMO_PARENT} (password: {demo.DEMO_PASSWORD}) is account {account_id}")
        return

    settings = IdentitySettings()
    configure_logging(settings.service_name, settings.log_level)
    if args.command == "serve":
        service_commands.serve(build_app(settings), settings)
    elif args.command == "rebuild":
        service_commands.rebuild(definition(settings), settings, args.projection)
    elif args.command == "rotate-keys":
        print(f"new signing key {asyncio.run(_rotate(settings))} published; it signs after the publish delay")
    else:
        account_id = asyncio.run(_invite_operator(settings, args.email))
        print(
            f"operator role granted to account {account_id}; a link to set the password was mailed if needed"
        )


async def _rotate(settings: object) -> str:
    from identity.adapters.signing_keys import SigningKeys
    from identity.bootstrap import IdentitySettings, definition
    from identity.service_layer.identity import utc_now

    assert isinstance(settings, IdentitySettings)
    pool = await create_pool(settings.database_url)
    try:
        await migrate(pool, [*kernel_migrations(), *definition(settings).migrations])
        keys = SigningKeys(
            settings.kek(),
            access_token_ttl=timedelta(seconds=settings.access_token_ttl_seconds),
            publish_ahead=timedelta(seconds=settings.key_publish_ahead_seconds),
        )
        async with pool.acquire() as conn:
            await keys.ensure(conn, utc_now())
            return await keys.rotate(conn, utc_now())
    finally:
        await pool.close()


async def _invite_operator(settings: object, email: str) -> str:
    import uuid

    from identity.adapters.credentials import Argon2Parameters, Passwords
    from identity.adapters.signing_keys import SigningKeys
    from identity.bootstrap import SOURCE, IdentitySettings, definition
    from identity.domain.accounts import Grant
    from identity.service_layer.identity import Identity, IdentityConfig

    assert isinstance(settings, IdentitySettings)
    pool = await create_pool(settings.database_url)
    try:
        await migrate(pool, [*kernel_migrations(), *definition(settings).migrations])
        identity = Identity(
            pool,
            EventStore(source=SOURCE, topic_prefix=settings.kafka_topic_prefix),
            Passwords(Argon2Parameters()),
            SigningKeys(settings.kek(), access_token_ttl=timedelta(minutes=10), publish_ahead=timedelta()),
            IdentityConfig(issuer=settings.public_url, links_base_url=settings.links_base_url),
        )
        # The command line is the platform's root of trust: it acts as an operator itself.
        console = AccessClaims(
            account_id=uuid.UUID(int=0),
            session_id=uuid.UUID(int=0),
            roles=(RoleClaim(role="operator"),),
            expires_at=0,
        )
        account_id, _ = await identity.invite(console, email, Grant("operator"))
        return str(account_id)
    finally:
        await pool.close()


if __name__ == "__main__":
    main()
