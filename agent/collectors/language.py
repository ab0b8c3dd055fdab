"""language: the device's user-interface language as a BCP 47 tag.

The system locale comes from /etc/default/locale (Debian) or
/etc/locale.conf (systemd), then from localed over the system bus, then
from the agent's own environment. Within one of them the variables
follow gettext's precedence: LANGUAGE (a colon-separated list, ignored
under the C locale), then LC_ALL, LC_MESSAGES and LANG. The C, POSIX and
C.UTF-8 locales name no language, so they give no value rather than
"en-US". LC_CTYPE is never read: it sets the character set, and Python
itself sets it to C.UTF-8 when it coerces the C locale at start.
"""

import re

from agent.errors import CollectorError, NotSupported

_VARIABLES = ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")
_LOCALE = re.compile(r"^(?P<language>[a-zA-Z]{2,3})(?:_(?P<region>[a-zA-Z]{2}|\d{3}))?(?:\.[^@]*)?(?:@(?P<modifier>.+))?$")
_SCRIPTS = {"latin": "Latn", "cyrillic": "Cyrl", "devanagari": "Deva", "arabic": "Arab"}
# Modifiers that are BCP 47 variants; others, such as @euro, name a currency or collation.
_VARIANTS = {"valencia": "valencia"}

LOCALE1 = "org.freedesktop.locale1"
LOCALE1_PATH = "/org/freedesktop/locale1"


def language(source):
    # The first place that sets any locale variable decides, even when it sets the C locale.
    for read in (system_locale, _localed_locale, lambda source: source.environ):
        settings = read(source)
        if any(settings.get(name) for name in _VARIABLES):
            tag = language_from_variables(settings)
            if tag:
                return tag
            raise NotSupported(f"the locale is {_locale_name(settings)}, which names no language")
    raise NotSupported("no locale is set, so the C locale applies, which names no language")


def system_locale(source):
    settings = {}
    for name in ("/etc/default/locale", "/etc/locale.conf"):
        for line in source.read_text(name, fallback="").splitlines():
            key, _, value = line.strip().partition("=")
            if key in _VARIABLES and value:
                settings.setdefault(key, value.strip().strip("\"'"))
    return settings


def _localed_locale(source):
    """Return the variables localed reports, or {} when it cannot be reached."""
    try:
        with source.bus() as bus:
            assignments = bus.property(LOCALE1, LOCALE1_PATH, LOCALE1, "Locale")
    except CollectorError:
        return {}
    settings = {}
    for assignment in assignments:
        key, _, value = assignment.partition("=")
        if key in _VARIABLES and value:
            settings[key] = value
    return settings


def _locale_name(settings):
    return settings.get("LC_ALL") or settings.get("LC_MESSAGES") or settings.get("LANG") or "C"


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
    modifier = (match.group("modifier") or "").lower()
    if modifier in _SCRIPTS:
        parts.append(_SCRIPTS[modifier])
    if match.group("region"):
        parts.append(match.group("region").upper())
    if modifier in _VARIANTS:
        parts.append(_VARIANTS[modifier])
    return "-".join(parts)


def _is_c_locale(name):
    return name.split(".")[0].split("@")[0] in ("C", "POSIX", "")
