"""language: the device's user-interface language as a BCP 47 tag.

The system locale comes from /etc/locale.conf (systemd) or
/etc/default/locale (Debian), then from the agent's own environment in
glibc's precedence: LANGUAGE, LC_ALL, LC_MESSAGES, LANG. The C and POSIX
locales name no language, so they give no value rather than "en-US".
"""

import re

from agent.errors import NotSupported

_VARIABLES = ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")
_LOCALE = re.compile(r"^(?P<language>[a-zA-Z]{2,3})(?:_(?P<region>[a-zA-Z]{2}|\d{3}))?(?:\.[^@]*)?(?:@(?P<modifier>.+))?$")
_SCRIPTS = {"latin": "Latn", "cyrillic": "Cyrl", "devanagari": "Deva"}


def language(source):
    for settings in (system_locale(source), source.environ):
        tag = language_from_variables(settings)
        if tag:
            return tag
    raise NotSupported("the locale is C or POSIX, which names no language")


def system_locale(source):
    settings = {}
    for name in ("/etc/default/locale", "/etc/locale.conf"):
        for line in source.read_text(name, fallback="").splitlines():
            key, _, value = line.strip().partition("=")
            if key in _VARIABLES and value:
                settings.setdefault(key, value.strip().strip("\"'"))
    return settings


def language_from_variables(settings):
    """Return the BCP 47 tag of the first variable that names a language, or None."""
    # LANGUAGE is honoured by gettext only when the locale is not C.
    locale = settings.get("LC_ALL") or settings.get("LC_MESSAGES") or settings.get("LANG")
    if settings.get("LANGUAGE") and not _is_c_locale(locale or "C"):
        for entry in settings["LANGUAGE"].split(":"):
            tag = bcp47(entry)
            if tag:
                return tag
    return bcp47(locale) if locale else None


def bcp47(locale_name):
    """Convert a POSIX locale name such as sr_RS.UTF-8@latin to a BCP 47 tag (sr-Latn-RS)."""
    if not locale_name or _is_c_locale(locale_name):
        return None
    match = _LOCALE.match(locale_name.strip())
    if match is None:
        return None
    parts = [match.group("language").lower()]
    script = _SCRIPTS.get((match.group("modifier") or "").lower())
    if script:
        parts.append(script)
    if match.group("region"):
        parts.append(match.group("region").upper())
    return "-".join(parts)


def _is_c_locale(name):
    return name.split(".")[0] in ("C", "POSIX", "")
