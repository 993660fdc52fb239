"""The ``userkit`` command line (the ``cli`` extra): users, tokens and migrations.

::

    userkit --app myapp.userkit:config create-user --email admin@example.com --superuser
    userkit set-password EMAIL | deactivate EMAIL | activate EMAIL
    userkit list-users [--page N] [--page-size N] [--search TEXT]
    userkit purge-tokens --lifetime-seconds 3600
    userkit import-users users.csv [--skip-existing]
    userkit db init | revision -m MSG | upgrade [REV] | downgrade REV | current | check
    userkit db preflight [--fix [--yes]]
    userkit check --deploy [--workers N]
    userkit migrate-from-fastapi-users PATH... [--write]

The application is named by ``--app module:attribute`` or the ``USERKIT_APP`` environment
variable; the attribute is a :class:`UserkitCLIConfig` (or a function returning one). Failures
print one line on standard error and exit with 1 (refused, misconfigured) or 3 (database
unreachable or tables missing); usage errors exit with 2.
"""

from fastapi_userkit.cli.config import UserkitCLIConfig, UserManagerFactory, load_config

__all__ = ["UserManagerFactory", "UserkitCLIConfig", "load_config", "main"]


def main() -> None:
    """Run the ``userkit`` command (the console script's entry point)."""
    from fastapi_userkit.cli.app import app

    app()
