"""Who exists (kafka/acls.toml) and generated secrets (the PostgreSQL roles' passwords, the
Telegram bot's token and chat id of the local alert route), never committed, owner-readable only.
Principals have certificates, not passwords (kafka/make-certs.sh)."""
import os
import secrets as _secrets
import string
import tomllib

from . import paths

_ALPHABET = string.ascii_letters + string.digits


def principals() -> list:
    """Every principal of kafka/acls.toml, the single source of who exists."""
    table = tomllib.loads((paths.REPO / "kafka" / "acls.toml").read_text())
    return sorted(table["principals"])


def password(name: str) -> str:
    """The password of `name` (a PostgreSQL role), generated on first use and kept in
    .vygoda/secrets/<name>."""
    return _kept(name, _generate)


def telegram() -> tuple:
    """(bot token, chat id) of the local Telegram alert route, generated on first use and kept in
    .vygoda/secrets/telegram-bot-token and telegram-chat-id. Shaped like real ones (`<bot id>:<35
    characters>`, a supergroup's negative id), so Alertmanager and the stand-in of the Bot API
    (monitoring/telegram_standin.py) treat them as they would production's."""
    token = _kept("telegram-bot-token", lambda: f"{_secrets.randbelow(9 * 10**9) + 10**9}:"
                  + "".join(_secrets.choice(_ALPHABET + "_-") for _ in range(35)))
    chat_id = _kept("telegram-chat-id", lambda: str(-(10**12) - _secrets.randbelow(10**12)))
    return token, int(chat_id)


def _kept(name: str, make) -> str:
    """.vygoda/secrets/<name>, written by `make()` (mode 0600 from the start) if it is missing."""
    path = paths.SECRETS / name
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(make())
    return path.read_text().strip()


def _generate() -> str:
    """32 letters and digits (~190 bits): nothing a command line or a properties file could misread."""
    return "".join(_secrets.choice(_ALPHABET) for _ in range(32))


def write_private(path, text: str) -> None:
    """Write a file holding credentials with mode 0600 from the start (no window of 0644)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)
