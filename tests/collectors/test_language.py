"""language from locale files, localed and the environment, as BCP 47 tags."""

import shutil
import subprocess

import pytest

from agent.capture import capture
from agent.collectors import language as locale_collector
from agent.samples import Status
from agent.sources.host import HostSource


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"LANG": "de_DE.UTF-8"}, "de-DE"),
        ({"LANG": "de_DE.utf8"}, "de-DE"),
        ({"LANG": "fr_CA.ISO-8859-1"}, "fr-CA"),
        ({"LANG": "pt_BR"}, "pt-BR"),
        ({"LANG": "ja"}, "ja"),
        ({"LANG": "sr_RS.UTF-8@latin"}, "sr-Latn-RS"),
        ({"LANG": "ca_ES.UTF-8@valencia"}, "ca-ES-valencia"),
        ({"LANG": "de_DE.UTF-8@euro"}, "de-DE"),
        ({"LANG": "es_419.UTF-8"}, "es-419"),
        ({"LANG": "en_US.UTF-8", "LC_MESSAGES": "fi_FI.UTF-8"}, "fi-FI"),
        ({"LANG": "en_US.UTF-8", "LC_MESSAGES": "fi_FI.UTF-8", "LC_ALL": "sv_SE.UTF-8"}, "sv-SE"),
        ({"LANG": "en_US.UTF-8", "LANGUAGE": "nb_NO:nn_NO:en"}, "nb-NO"),
        ({"LANG": "en_US.UTF-8", "LANGUAGE": ":de:en"}, "de"),
        ({"LANG": "en_US.UTF-8", "LC_ALL": ""}, "en-US"),
        ({"LANG": "en_US.UTF-8", "LC_CTYPE": "C.UTF-8"}, "en-US"),
    ],
)
def test_emulate_locale_variables(host, environ, expected):
    assert capture(host(environ=environ), "language").value == expected


@pytest.mark.parametrize(
    "environ",
    [
        {"LANG": "C"},
        {"LANG": "POSIX"},
        {"LANG": "C.UTF-8"},
        {"LANG": "C.utf8"},
        {"LANG": "de_DE.UTF-8", "LC_ALL": "C"},
        {"LANGUAGE": "de_DE", "LANG": "C.UTF-8"},
        {"LC_CTYPE": "C.UTF-8"},
        {},
    ],
)
def test_emulate_c_locales_name_no_language(host, environ):
    sample = capture(host(environ=environ), "language")

    assert sample.status is Status.UNSUPPORTED
    assert sample.value is None


def test_system_locale_file_wins_over_environment(host):
    source = host({"/etc/default/locale": 'LANG="es_ES.UTF-8"\nLC_TIME=en_GB.UTF-8\n'}, environ={"LANG": "en_US.UTF-8"})

    assert capture(source, "language").value == "es-ES"


def test_locale_conf(host):
    source = host({"/etc/locale.conf": "LANG=it_IT.UTF-8\nLC_MESSAGES=fr_FR.UTF-8\n"})

    assert capture(source, "language").value == "fr-FR"


def test_system_c_locale_is_final(host):
    source = host({"/etc/locale.conf": "LANG=C.UTF-8\n"}, environ={"LANG": "de_DE.UTF-8"})

    assert capture(source, "language").status is Status.UNSUPPORTED


def test_locale_from_localed(bus_host, service):
    service(locale_collector.LOCALE1).add(locale_collector.LOCALE1_PATH, locale_collector.LOCALE1, Locale=("as", ["LANG=pl_PL.UTF-8", "LC_TIME=en_DK.UTF-8"])).start()

    assert capture(bus_host(environ={"LANG": "en_US.UTF-8"}), "language").value == "pl-PL"


def test_against_locale():
    if shutil.which("locale") is None:
        pytest.skip("locale is not installed (Debian package libc-bin)")
    source = HostSource()
    output = subprocess.run(["locale"], capture_output=True, text=True, env=source.environ).stdout
    values = dict(line.split("=", 1) for line in output.splitlines() if "=" in line)
    messages = values.get("LC_MESSAGES", "").strip('"')
    if locale_collector.system_locale(source) or source.environ.get("LANGUAGE"):
        pytest.skip("a system locale file or LANGUAGE decides here, and the locale command shows neither")

    assert capture(source, "language").value == locale_collector.bcp47(messages)
