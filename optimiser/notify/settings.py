"""Notification settings (environment `RESUMEOPT_*`): webhook delivery bounds and the SMTP relay."""

from __future__ import annotations

from email.utils import parseaddr
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class NotifySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RESUMEOPT_", extra="ignore")

    # Webhooks (optimiser/notify/webhooks.py). The target is a client's URL, so it gets the job-URL address
    # policy (optimiser/netpolicy.py): public addresses only unless allow-listed here.
    webhook_allow: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="comma-separated host names, IPs or CIDRs a webhook URL may reach even "
        "though they are loopback/private/link-local (e.g. an intranet receiver; tests use 127.0.0.1); empty: "
        "public only")
    webhook_timeout_s: float = Field(10.0, gt=0, description="one delivery attempt: DNS, connect, request and "
                                     "the response's status line and headers (the body is never read)")
    webhook_max_attempts: int = Field(6, ge=1, description="attempts per event, the first one included")
    webhook_backoff_base_s: float = Field(1.0, ge=0, description="ceiling of the first retry's random delay; "
                                          "doubles per attempt (exponential backoff, full jitter)")
    webhook_backoff_cap_s: float = Field(300.0, ge=0, description="largest delay between two attempts, "
                                         "a receiver's Retry-After included")

    # Completion email (optimiser/notify/email.py): off unless smtp_host is set.
    smtp_host: str = Field("", description="SMTP relay host; empty: no completion emails")
    smtp_port: int = Field(587, gt=0, lt=65536, description="587 (submission, STARTTLS) or 465 (implicit TLS)")
    smtp_user: str = Field("", description="SMTP AUTH user; empty: no login")
    smtp_password: SecretStr | None = Field(None, description="SMTP AUTH password")
    smtp_from: str = Field("", description="From header, 'addr@example.com' or 'Name <addr@example.com>'; "
                           "required with smtp_host")
    smtp_starttls: bool = Field(True, description="upgrade the connection with STARTTLS (certificate verified) "
                                "before anything else; a relay that does not offer it is an error, never a "
                                "silent plain-text fallback")
    smtp_ssl: bool = Field(False, description="implicit TLS from the first byte (port 465); excludes smtp_starttls")
    smtp_timeout_s: float = Field(10.0, gt=0, description="each SMTP network operation (connect, each command)")
    smtp_ca_file: Path | None = Field(None, description="PEM CA bundle to verify the relay's certificate "
                                      "(a private CA); unset: the system's trust store")
    public_url: str = Field("", description="the platform's public base URL, for links to a job's result "
                            "(`<public_url>/v1/jobs/<id>/result`); required with smtp_host")

    @field_validator("webhook_allow", mode="before")
    @classmethod
    def _split_allow(cls, value):
        return [v.strip() for v in value.split(",") if v.strip()] if isinstance(value, str) else value

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("public_url must be an http(s) URL")
        return value

    @model_validator(mode="after")
    def _smtp_consistent(self) -> NotifySettings:
        if self.smtp_ssl and self.smtp_starttls:
            raise ValueError("smtp_ssl and smtp_starttls exclude each other: set RESUMEOPT_SMTP_STARTTLS=false "
                             "with RESUMEOPT_SMTP_SSL=true")
        if self.smtp_user and not (self.smtp_ssl or self.smtp_starttls):
            raise ValueError("smtp_user needs smtp_starttls or smtp_ssl: the password would cross the network "
                             "in clear")
        if any(c in self.smtp_from for c in "\r\n"):
            raise ValueError("smtp_from must be one line")
        if self.smtp_host and "@" not in parseaddr(self.smtp_from)[1]:
            raise ValueError("smtp_from must be an email address when smtp_host is set")
        if self.smtp_host and not self.public_url:
            raise ValueError("public_url is required when smtp_host is set: the email's link to the result")
        return self
