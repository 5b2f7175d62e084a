"""AWS's configuration in the common case, read without botocore: same answer, or none.

Loading botocore's session costs about a tenth of a second, more than the
whole upload of a small file. Most runs need only what this module reads:
static keys from the environment or a profile, the region, a configured
endpoint, a CA bundle and ``s3.addressing_style``. It reads the files with
configparser as botocore does and resolves them in botocore's order.

The rule is botocore's answer or no answer: anything outside that subset (a
role, SSO, a credential process, web identity, no static keys at all, a
profile that does not exist, a file configparser refuses, an expiring key
in the environment) returns None, and the caller asks botocore's session
exactly as before. tests/unit/test_aws_config.py holds the two side by side.
Keys are never logged, printed or put in a repr.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Final, Protocol, TypeAlias

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["AwsSettings", "Keys", "SigningKeys", "StaticKeys", "named_profile", "read_settings"]

Section: TypeAlias = dict[str, str | dict[str, str]]
"""One INI section as botocore parses it: an indented block is a nested section."""

_CREDENTIAL_KEYS: Final = frozenset(
    {
        "aws_access_key_id",
        "aws_secret_access_key",
        "aws_session_token",
        "aws_security_token",
        "aws_account_id",
    }
)
_UNDERSTOOD: Final = _CREDENTIAL_KEYS | {
    "region",
    "ca_bundle",
    "endpoint_url",
    "services",
    "s3",
    "ignore_configured_endpoint_urls",
    "output",
    "retry_mode",
    "max_attempts",
}
"""Keys of a profile that leave its static keys the answer. Anything else (``role_arn``,
``sso_*``, ``credential_process``, ``web_identity_token_file``, ``login_session``, a key
botocore may learn tomorrow) may change where the keys come from: botocore decides."""
_HARMLESS_PREFIX: Final = "cli_"
"""aws-cli's own settings (``cli_pager``...), which botocore never reads."""
_ENV_ROLE: Final = ("AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN", "AWS_CREDENTIAL_EXPIRATION")
"""Environment that makes botocore's keys come from a role or expire: botocore decides."""


class SigningKeys(Protocol):
    """The keys a request is signed with, as botocore's frozen credentials hold them.

    botocore's stubs allow None for each: its chain never returns such keys.
    """

    @property
    def access_key(self) -> str | None:
        """The access key id."""
        ...

    @property
    def secret_key(self) -> str | None:
        """The secret key."""
        ...

    @property
    def token(self) -> str | None:
        """The session token, if the keys are temporary."""
        ...


class Keys(Protocol):
    """Credentials, static or refreshable: botocore's, or ``StaticKeys``."""

    def get_frozen_credentials(self) -> SigningKeys:
        """The keys to sign the next request with."""
        ...


@dataclass(frozen=True)
class StaticKeys:
    """Keys that never change, read from the environment or a file (never shown in a repr)."""

    access_key: str = field(repr=False)
    secret_key: str = field(repr=False)
    token: str | None = field(default=None, repr=False)
    source: str = field(default="", compare=False)
    """Where they were read, for ``-v``: ``environment``, ``shared credentials file [name]``."""

    def get_frozen_credentials(self) -> StaticKeys:
        """Themselves: static keys need no refresh."""
        return self


@dataclass(frozen=True)
class AwsSettings:
    """What botocore's session would answer, for the questions s3pput asks it."""

    keys: StaticKeys | None
    """Static keys; None when there are none of the kinds read here (botocore may still
    find a role or the instance's)."""
    region: str | None
    """The configured region (``AWS_DEFAULT_REGION``, the profile's); may be ''."""
    endpoint_url: str | None
    """The configured endpoint (``AWS_ENDPOINT_URL(_S3)``, the profile's, its services)."""
    ca_bundle: str | None
    """``AWS_CA_BUNDLE`` or the profile's ``ca_bundle``; may be ''."""
    addressing_style: str | None
    """The profile's ``s3.addressing_style``, as written."""


class _DeclinedError(Exception):
    """The configuration is outside what this module answers for: ask botocore."""


def read_settings(
    profile: str | None = None, environ: Mapping[str, str] | None = None
) -> AwsSettings | None:
    """Resolve the common case as botocore would; None when botocore must answer.

    ``profile`` is ``--profile`` (botocore's session profile, which turns off
    the environment's keys); None lets ``AWS_DEFAULT_PROFILE``/``AWS_PROFILE``
    or ``default`` choose.
    """
    env = os.environ if environ is None else environ
    try:
        return _resolve(profile, env)
    except _DeclinedError:
        return None


def named_profile(flag_profile: str | None, environ: Mapping[str, str] | None = None) -> str | None:
    """The profile botocore's session uses: ``--profile``, else the environment's; None: default."""
    if flag_profile is not None:
        return flag_profile
    env = os.environ if environ is None else environ
    return next((env[name] for name in ("AWS_DEFAULT_PROFILE", "AWS_PROFILE") if name in env), None)


def _resolve(flag_profile: str | None, env: Mapping[str, str]) -> AwsSettings:
    named = named_profile(flag_profile, env)
    if named == "":
        raise _DeclinedError  # botocore: no such profile
    config = _load_config(env.get("AWS_CONFIG_FILE", "~/.aws/config"))
    credentials = _raw_parse(env.get("AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials"))
    config_profiles: dict[str, Section] = config.get("profiles", {})  # type: ignore[assignment]  # built below
    profiles = {name: dict(values) for name, values in config_profiles.items()}
    for name, values in credentials.items():
        profiles.setdefault(name, {}).update(values)
    if named is not None and named not in profiles:
        raise _DeclinedError  # botocore raises ProfileNotFound
    scoped = profiles.get(named or "default", {})
    keys = _environment_keys(env) if flag_profile is None else None
    if keys is None:
        keys = _profile_keys(
            scoped,
            credentials.get(named or "default"),
            config_profiles.get(named or "default"),
            env,
        )
        if keys is not None:
            keys = replace(keys, source=f"{keys.source} [{named or 'default'}]")
    return AwsSettings(
        keys=keys,
        region=_text(
            env["AWS_DEFAULT_REGION"] if "AWS_DEFAULT_REGION" in env else scoped.get("region")
        ),
        endpoint_url=_endpoint(env, scoped, config),
        ca_bundle=_text(
            env["AWS_CA_BUNDLE"] if "AWS_CA_BUNDLE" in env else scoped.get("ca_bundle")
        ),
        addressing_style=_addressing_style(scoped),
    )


def _text(value: object) -> str | None:
    """A setting that must be a plain value; an indented block is botocore's business."""
    if value is None or isinstance(value, str):
        return value
    raise _DeclinedError


def _environment_keys(env: Mapping[str, str]) -> StaticKeys | None:
    """As botocore's EnvProvider: an access key needs a secret; an expiry makes them refresh."""
    access_key = env.get("AWS_ACCESS_KEY_ID", "")
    if not access_key:
        return None
    secret_key = env.get("AWS_SECRET_ACCESS_KEY", "")
    if not secret_key or env.get("AWS_CREDENTIAL_EXPIRATION", ""):
        raise _DeclinedError  # botocore raises PartialCredentialsError, or refreshes
    token = next(
        (env[name] for name in ("AWS_SECURITY_TOKEN", "AWS_SESSION_TOKEN") if env.get(name, "")),
        None,
    )
    return StaticKeys(access_key, secret_key, token, source="environment")


def _profile_keys(
    merged: Section,
    in_credentials: Section | None,
    in_config: Section | None,
    env: Mapping[str, str],
) -> StaticKeys | None:
    """The profile's static keys, the credentials file's before the config file's.

    botocore tries roles, web identity, SSO and a login first, a credential
    process between the two files, and the instance's keys after them: a
    profile or environment that names any of those is left to it.
    """
    if any(name in env for name in _ENV_ROLE):
        raise _DeclinedError
    if any(name not in _UNDERSTOOD and not name.startswith(_HARMLESS_PREFIX) for name in merged):
        raise _DeclinedError
    for section, where in ((in_credentials, "shared credentials file"), (in_config, "config file")):
        if section is not None and "aws_access_key_id" in section:
            if "aws_secret_access_key" not in section:
                raise _DeclinedError  # botocore raises PartialCredentialsError
            token_name = next(
                (name for name in ("aws_security_token", "aws_session_token") if name in section),
                None,
            )
            access_key = _text(section["aws_access_key_id"])
            secret_key = _text(section["aws_secret_access_key"])
            token = None if token_name is None else _text(section[token_name])
            if access_key is None or secret_key is None:
                raise _DeclinedError
            return StaticKeys(access_key, secret_key, token, source=where)
    return None


def _endpoint(env: Mapping[str, str], scoped: Section, config: dict[str, object]) -> str | None:
    """As botocore's ConfiguredEndpointProvider for S3, unless configured endpoints are ignored."""
    ignore = (
        env["AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"]
        if "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS" in env
        else scoped.get("ignore_configured_endpoint_urls")
    )
    if isinstance(ignore, str) and ignore.lower() == "true":
        return None
    for variable in ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"):
        if env.get(variable):
            return env[variable]
    if "services" in scoped:
        services = config.get("services")
        name = scoped["services"]
        section = (
            services.get(name) if isinstance(services, dict) and isinstance(name, str) else None
        )
        if not section or not isinstance(section, dict):
            raise _DeclinedError  # botocore raises InvalidConfigError
        s3 = section.get("s3", {})
        if not isinstance(s3, dict):
            raise _DeclinedError
        if s3.get("endpoint_url"):
            return _text(s3["endpoint_url"])
    configured = _text(scoped.get("endpoint_url"))
    return configured or None


def _addressing_style(scoped: Section) -> str | None:
    """The profile's ``s3`` block's ``addressing_style`` (a one-line ``s3`` is botocore's)."""
    if "s3" not in scoped:
        return None
    block = scoped["s3"]
    if not isinstance(block, dict):
        raise _DeclinedError
    return block.get("addressing_style")


def _raw_parse(filename: str) -> dict[str, Section]:
    """As botocore's ``raw_config_parse``: sections of a file that exists, blocks nested."""
    path = os.path.expanduser(os.path.expandvars(filename))  # noqa: PTH111  # botocore's own calls
    if not os.path.isfile(path):  # noqa: PTH113  # botocore's own calls
        return {}
    import configparser  # noqa: PLC0415  # only when there is a file: --help and walk never need it

    parser = configparser.RawConfigParser()
    try:
        parser.read([path])
    except (configparser.Error, UnicodeDecodeError) as exc:
        raise _DeclinedError from exc
    parsed: dict[str, Section] = {}
    for section in parser.sections():
        parsed[section] = {}
        for option in parser.options(section):
            value = parser.get(section, option)
            parsed[section][option] = _nested(value) if value.startswith("\n") else value
    return parsed


def _nested(value: str) -> dict[str, str]:
    """An indented block (``s3 =`` then ``addressing_style = path``) as botocore reads it."""
    block = {}
    for line in value.splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        if "=" not in stripped:
            raise _DeclinedError  # botocore raises ConfigParseError
        key, item = stripped.split("=", 1)
        block[key.strip()] = item.strip()
    return block


def _load_config(filename: str) -> dict[str, object]:
    """As botocore's ``load_config``: profiles, sso-sessions and services sections apart."""
    profiles: dict[str, Section] = {}
    services: dict[str, Section] = {}
    other: dict[str, object] = {}
    for name, values in _raw_parse(filename).items():
        if name.startswith("profile"):
            profiles.update(_named_section(name, values))
        elif name.startswith("sso-session"):
            continue
        elif name.startswith("services"):
            services.update(_named_section(name, values))
        elif name == "default":
            profiles[name] = values
        else:
            other[name] = values
    return {**other, "profiles": profiles, "services": services}


def _named_section(name: str, values: Section) -> dict[str, Section]:
    """``[profile NAME]`` as ``{NAME: values}``; a header botocore cannot split names nothing."""
    import shlex  # noqa: PLC0415  # only for a named section

    try:
        parts = shlex.split(name)
    except ValueError:
        return {}
    return {parts[1]: values} if len(parts) == 2 else {}  # noqa: PLR2004  # kind and name
