"""The light configuration reader gives botocore's session's answer, or declines.

Each case writes a home directory (``~/.aws/config``, ``~/.aws/credentials``)
and an environment, then asks both: aws_config.read_settings and botocore's
own session, the way s3pput's clients ask it (keys, region, configured
endpoint, CA bundle, ``s3.addressing_style``). Where the reader answers, the
answers must be equal; a case marked ``answers`` must not be declined (or
the test would pass by declining everything). Keys are compared, never
printed: a failure names the case and the field only.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.configprovider import ConfiguredEndpointProvider

from s3pput.transport import aws_config
from s3pput.transport.aws_config import AwsSettings, StaticKeys, read_settings

ENV_KEYS = {"AWS_ACCESS_KEY_ID": "AKENV", "AWS_SECRET_ACCESS_KEY": "env-secret"}
DEV_KEYS = "[dev]\naws_access_key_id = AKDEV\naws_secret_access_key = dev-secret\n"
DEFAULT_KEYS = "[default]\naws_access_key_id = AKDEF\naws_secret_access_key = def-secret\n"


@dataclass(frozen=True)
class Case:
    """One home and environment, and whether the reader must answer it."""

    name: str
    env: dict[str, str] = field(default_factory=dict)
    config: str | None = None
    credentials: str | None = None
    profile: str | None = None
    """--profile (botocore's session profile)."""
    answers: bool = True
    """False: the reader must decline (botocore raises, or keys come from elsewhere)."""


ANSWERED = [
    Case("environment keys alone", env=ENV_KEYS),
    Case("environment keys and a session token", env={**ENV_KEYS, "AWS_SESSION_TOKEN": "tok"}),
    Case(
        "the security token wins over the session token",
        env={**ENV_KEYS, "AWS_SECURITY_TOKEN": "old", "AWS_SESSION_TOKEN": "new"},
    ),
    Case("an empty security token is skipped", env={**ENV_KEYS, "AWS_SECURITY_TOKEN": ""}),
    Case(
        "environment region and endpoint",
        env={
            **ENV_KEYS,
            "AWS_DEFAULT_REGION": "eu-west-3",
            "AWS_ENDPOINT_URL": "http://127.0.0.1:9000",
        },
    ),
    Case(
        "the S3 endpoint variable wins over the global one",
        env={
            **ENV_KEYS,
            "AWS_ENDPOINT_URL": "http://global:1",
            "AWS_ENDPOINT_URL_S3": "http://s3only:2",
        },
    ),
    Case(
        "an empty S3 endpoint variable is skipped",
        env={**ENV_KEYS, "AWS_ENDPOINT_URL": "http://global:1", "AWS_ENDPOINT_URL_S3": ""},
    ),
    Case("AWS_REGION is not botocore's", env={**ENV_KEYS, "AWS_REGION": "ap-south-1"}),
    Case(
        "default profile: keys in credentials, region in config",
        credentials=DEFAULT_KEYS,
        config="[default]\nregion = us-west-2\noutput = json\ncli_pager =\n",
    ),
    Case(
        "a named profile from AWS_PROFILE, with everything",
        env={"AWS_PROFILE": "dev"},
        credentials=DEV_KEYS,
        config=(
            "[profile dev]\nregion = eu-central-1\nendpoint_url = https://store.example:8443\n"
            "ca_bundle = /etc/ssl/store.pem\ns3 =\n  addressing_style = virtual\n"
            "  max_concurrent_requests = 20\n"
        ),
    ),
    Case(
        "--profile turns off the environment's keys",
        env=ENV_KEYS,
        profile="dev",
        credentials=DEV_KEYS,
    ),
    Case(
        "AWS_PROFILE leaves the environment's keys first",
        env={**ENV_KEYS, "AWS_PROFILE": "dev"},
        credentials=DEV_KEYS,
        config="[profile dev]\nregion = sa-east-1\n",
    ),
    Case(
        "AWS_DEFAULT_PROFILE wins over AWS_PROFILE",
        env={"AWS_DEFAULT_PROFILE": "dev", "AWS_PROFILE": "other"},
        credentials=DEV_KEYS + "[other]\naws_access_key_id = AKO\naws_secret_access_key = o\n",
    ),
    Case(
        "keys in the config file only",
        profile="dev",
        config="[profile dev]\naws_access_key_id = AKCFG\naws_secret_access_key = cfg-secret\n",
    ),
    Case(
        "the credentials file wins over the config file",
        profile="dev",
        credentials=DEV_KEYS,
        config="[profile dev]\naws_access_key_id = AKCFG\naws_secret_access_key = cfg-secret\n",
    ),
    Case(
        "a token in the credentials file, the old name first",
        credentials=DEFAULT_KEYS + "aws_session_token = new\naws_security_token = old\n",
    ),
    Case(
        "the endpoint of a services section",
        credentials=DEFAULT_KEYS,
        config=(
            "[default]\nservices = local\n"
            "[services local]\ns3 =\n  endpoint_url = http://127.0.0.1:8333\n"
        ),
    ),
    Case(
        "a services section without S3 falls to the profile's endpoint",
        credentials=DEFAULT_KEYS,
        config=(
            "[default]\nservices = local\nendpoint_url = http://profile:1\n"
            "[services local]\nsqs =\n  endpoint_url = http://sqs:2\n"
        ),
    ),
    Case(
        "the environment's endpoint wins over the services section",
        env={"AWS_ENDPOINT_URL": "http://env:1"},
        credentials=DEFAULT_KEYS,
        config="[default]\nservices = local\n[services local]\ns3 =\n  endpoint_url = http://x:2\n",
    ),
    Case(
        "configured endpoints ignored by the profile",
        credentials=DEFAULT_KEYS,
        config="[default]\nendpoint_url = http://x:1\nignore_configured_endpoint_urls = true\n",
    ),
    Case(
        "configured endpoints ignored by the environment",
        env={"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "TRUE", "AWS_ENDPOINT_URL": "http://e:1"},
        credentials=DEFAULT_KEYS,
    ),
    Case(
        "the environment says not to ignore them",
        env={"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "false"},
        credentials=DEFAULT_KEYS,
        config="[default]\nendpoint_url = http://x:1\nignore_configured_endpoint_urls = true\n",
    ),
    Case(
        "AWS_CA_BUNDLE wins over the profile's",
        env={"AWS_CA_BUNDLE": "/env/ca.pem"},
        credentials=DEFAULT_KEYS,
        config="[default]\nca_bundle = /profile/ca.pem\n",
    ),
    Case(
        "an empty AWS_DEFAULT_REGION hides the profile's",
        env={"AWS_DEFAULT_REGION": ""},
        credentials=DEFAULT_KEYS,
        config="[default]\nregion = eu-north-1\n",
    ),
    Case(
        "the credentials file's region wins over the config file's",
        credentials=DEFAULT_KEYS + "region = ca-central-1\n",
        config="[default]\nregion = eu-north-1\n",
    ),
    Case(
        "a profile named with a space",
        profile="my dev",
        credentials="[my dev]\naws_access_key_id = AKS\naws_secret_access_key = s\n",
        config='[profile "my dev"]\nregion = us-east-2\n',
    ),
    Case(
        "[profile default] after [default]",
        credentials=DEFAULT_KEYS,
        config="[default]\nregion = one\n[profile default]\nregion = two\n",
    ),
    Case(
        "configparser's DEFAULT section reaches every profile",
        credentials=DEFAULT_KEYS,
        config="[DEFAULT]\nregion = us-gov-west-1\n[default]\noutput = text\n",
    ),
    Case(
        "files named by the environment, with ~ and $VARS",
        env={
            "AWS_CONFIG_FILE": "~/elsewhere/config",
            "AWS_SHARED_CREDENTIALS_FILE": "$ELSEWHERE/credentials",
        },
        config="[default]\nregion = eu-south-1\n",
        credentials=DEFAULT_KEYS,
    ),
    Case(
        "environment keys win over a profile that assumes a role",
        env=ENV_KEYS,
        config="[default]\nrole_arn = arn:aws:iam::1:role/r\nsource_profile = base\n",
    ),
    Case("no keys anywhere: none (botocore finds none either)", config="[default]\nregion = x\n"),
    Case(
        "an addressing style botocore does not know is passed on as written",
        credentials=DEFAULT_KEYS,
        config="[default]\ns3 =\n  addressing_style = sideways\n",
    ),
]

DECLINED = [
    Case(
        "a profile that assumes a role",
        credentials=DEFAULT_KEYS,
        config="[default]\nrole_arn = arn:aws:iam::1:role/r\nsource_profile = base\n",
        answers=False,
    ),
    Case(
        "SSO",
        config="[default]\nsso_session = corp\nsso_account_id = 1\n[sso-session corp]\n"
        "sso_start_url = https://corp.awsapps.com/start\nsso_region = us-east-1\n",
        answers=False,
    ),
    Case(
        "a credential process",
        config="[default]\ncredential_process = /bin/false\n",
        answers=False,
    ),
    Case(
        "web identity in the environment",
        env={"AWS_WEB_IDENTITY_TOKEN_FILE": "/no/token", "AWS_ROLE_ARN": "arn:x"},
        credentials=DEFAULT_KEYS,
        answers=False,
    ),
    Case(
        "a profile that does not exist",
        env={**ENV_KEYS, "AWS_PROFILE": "missing"},
        answers=False,
    ),
    Case("an empty AWS_PROFILE", env={**ENV_KEYS, "AWS_PROFILE": ""}, answers=False),
    Case("--profile that does not exist", profile="missing", answers=False),
    Case(
        "an access key without a secret",
        env={"AWS_ACCESS_KEY_ID": "AKENV"},
        answers=False,
    ),
    Case(
        "keys that expire",
        env={**ENV_KEYS, "AWS_CREDENTIAL_EXPIRATION": "2099-01-01T00:00:00Z"},
        answers=False,
    ),
    Case(
        "a file without a section header",
        env=ENV_KEYS,
        config="region = x\n",
        answers=False,
    ),
    Case(
        "a duplicate option",
        credentials=DEFAULT_KEYS + "aws_access_key_id = again\n",
        answers=False,
    ),
    Case(
        "a services section that does not exist",
        credentials=DEFAULT_KEYS,
        config="[default]\nservices = nowhere\n",
        answers=False,
    ),
    Case(
        "s3 on one line",
        credentials=DEFAULT_KEYS,
        config="[default]\ns3 = path\n",
        answers=False,
    ),
    Case(
        "a key without its secret in the credentials file",
        credentials="[default]\naws_access_key_id = AKDEF\n",
        answers=False,
    ),
    Case(
        "an indented block that is not key = value",
        credentials=DEFAULT_KEYS,
        config="[default]\ns3 =\n  addressing_style\n",
        answers=False,
    ),
]


def botocore_answer(profile: str | None) -> dict[str, Any]:
    """What botocore's session says, asked the way transport/clients.py asks it."""
    session = botocore.session.Session(profile=profile)
    credentials = session.get_credentials()
    frozen = None if credentials is None else credentials.get_frozen_credentials()
    endpoint = None
    if not session.get_config_variable("ignore_configured_endpoint_urls"):
        endpoint = ConfiguredEndpointProvider(
            full_config=session.full_config,
            scoped_config=session.get_scoped_config(),
            client_name="s3",
        ).provide()
    s3 = session.get_config_variable("s3")
    return {
        "keys": None if frozen is None else (frozen.access_key, frozen.secret_key, frozen.token),
        "refreshable": hasattr(credentials, "refresh_needed"),
        "region": session.get_config_variable("region"),
        "endpoint_url": endpoint,
        "ca_bundle": session.get_config_variable("ca_bundle"),
        "addressing_style": s3.get("addressing_style") if isinstance(s3, dict) else None,
    }


def light_answer(settings: AwsSettings) -> dict[str, Any]:
    """The reader's answer in the same shape."""
    keys = settings.keys
    return {
        "keys": None if keys is None else (keys.access_key, keys.secret_key, keys.token),
        "refreshable": False,
        "region": settings.region,
        "endpoint_url": settings.endpoint_url,
        "ca_bundle": settings.ca_bundle,
        "addressing_style": settings.addressing_style,
    }


@pytest.fixture(name="home")
def fixture_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty home and an environment with no AWS settings (and no instance to ask)."""
    for name in list(os.environ):
        if name.startswith(("AWS_", "BOTO")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("ELSEWHERE", str(tmp_path / "elsewhere"))
    # botocore's last resort is the instance metadata service; there is none here.
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return tmp_path


def set_up(case: Case, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Write the case's files where its environment says they are."""
    for name, value in case.env.items():
        monkeypatch.setenv(name, value)
    config = home / ".aws" / "config"
    credentials = home / ".aws" / "credentials"
    if "AWS_CONFIG_FILE" in case.env:
        config = home / "elsewhere" / "config"
        credentials = home / "elsewhere" / "credentials"
    for path, text in ((config, case.config), (credentials, case.credentials)):
        if text is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)


def differing(light: dict[str, Any], boto: dict[str, Any]) -> list[str]:
    """The fields that differ, by name only: keys are never shown."""
    return [name for name in light if light[name] != boto[name]]


class TestSameAnswerAsBotocore:
    """Where the reader answers, botocore's session answers the same."""

    @pytest.mark.parametrize("case", ANSWERED, ids=lambda case: case.name)
    def test_common_configurations_are_answered_as_botocore_does(
        self, case: Case, home: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Environment, profiles, both files, endpoints and bundles: botocore's answer."""
        set_up(case, home, monkeypatch)
        settings = read_settings(case.profile)
        assert settings is not None, f"{case.name}: declined"
        assert differing(light_answer(settings), botocore_answer(case.profile)) == []

    @pytest.mark.parametrize("case", DECLINED, ids=lambda case: case.name)
    def test_everything_else_is_left_to_botocore(
        self, case: Case, home: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Roles, SSO, processes, missing profiles and broken files are declined."""
        set_up(case, home, monkeypatch)
        assert read_settings(case.profile) is None


class TestKeys:
    """Keys stay out of sight."""

    def test_keys_are_not_in_a_repr(self) -> None:
        """A settings object logged by mistake shows no key."""
        settings = AwsSettings(
            keys=StaticKeys("AKSECRETID", "the-secret", "the-token"),
            region=None,
            endpoint_url=None,
            ca_bundle=None,
            addressing_style=None,
        )
        shown = repr(settings)
        assert "AKSECRETID" not in shown
        assert "the-secret" not in shown
        assert "the-token" not in shown

    def test_static_keys_need_no_refresh(self) -> None:
        """The CRT is handed static keys once: they have no refresh_needed."""
        keys = StaticKeys("a", "b")
        assert keys.get_frozen_credentials() is keys
        assert not hasattr(keys, "refresh_needed")

    def test_the_module_imports_no_botocore(self) -> None:
        """The reader must be cheap: it names botocore nowhere but in its prose."""
        source = Path(aws_config.__file__).read_text()
        assert "import botocore" not in source
        assert "from botocore" not in source
