"""Operator commands: `python -m app.cli ensure-admin`.

`ensure-admin` (run by `make run` after migrating): with ADMIN_USER/ADMIN_PASSWORD set,
creates that admin if missing. Without them, and only when no member of an admin group
exists yet, creates user `admin` with a random password and prints it once; only its
argon2 hash is stored.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys

from app.core.config import get_settings
from app.core.db import create_engine, create_session_factory, unit_of_work
from app.core.tenancy import TenancyContext
from app.services.users import any_admin_exists, ensure_admin

DEFAULT_ADMIN = "admin"


async def ensure_admin_command() -> int:
    settings = get_settings()
    engine = create_engine(settings)
    try:
        factory = create_session_factory(engine)
        async with unit_of_work(factory, TenancyContext.system(), settings=settings) as session:
            if settings.admin_user and settings.admin_password:
                created = await ensure_admin(
                    session,
                    user_id=settings.admin_user,
                    password=settings.admin_password.get_secret_value(),
                    admin_group=settings.admin_groups[0],
                )
                print(f"admin {settings.admin_user!r}: {'created' if created else 'exists'}")
                return 0
            if await any_admin_exists(session, admin_groups=settings.admin_groups):
                print("an admin exists already; nothing to do")
                return 0
            password = secrets.token_urlsafe(18)
            await ensure_admin(
                session,
                user_id=DEFAULT_ADMIN,
                password=password,
                admin_group=settings.admin_groups[0],
            )
        print(
            f"\n  Created admin user {DEFAULT_ADMIN!r} with password: {password}\n"
            "  It is shown only this once; change it with PUT /user/admin/credentials.\n"
        )
        return 0
    finally:
        await engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.cli", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("ensure-admin", help="create the first admin if there is none")
    args = parser.parse_args(argv)
    if args.command == "ensure-admin":
        return asyncio.run(ensure_admin_command())
    return 2


if __name__ == "__main__":
    sys.exit(main())
