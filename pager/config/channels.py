"""Which provider carries each channel, and which channels the contact rules use: one place for the
notifier's wiring (pager.app), the start-up check (pager.config.load), /readyz and /metrics."""

from __future__ import annotations

from .model import Config, Notifier

CHANNELS = ("sms", "voice", "email")
# what each live provider needs, as keys of notifier.<provider>
PROVIDER_OF = {"sms": "twilio", "voice": "twilio", "email": "smtp"}


def providers(n: Notifier) -> dict[str, str]:
    """Per channel: `twilio` or `smtp` (live), `dry_run` (simulated: notifier.kind dry_run, or the channel
    listed in notifier.simulate), `none` (no provider: its messages fail)."""
    if n.kind == "dry_run":
        return {ch: "dry_run" for ch in CHANNELS}
    live = {"twilio": n.twilio.enabled, "smtp": n.smtp.enabled}
    out = {}
    for ch in CHANNELS:
        if ch in n.simulate:
            out[ch] = "dry_run"
        elif live[PROVIDER_OF[ch]]:
            out[ch] = PROVIDER_OF[ch]
        else:
            out[ch] = "none"
    return out


def used_channels(cfg: Config) -> dict[str, list[str]]:
    """Per channel a contact rule pages on: where those rules are (people.ID.contact_rules, or
    paging.contact_rules for the people who have none of their own)."""
    out: dict[str, list[str]] = {}
    for pid, person in cfg.people.items():
        own = person.contact_rules is not None
        for rule in person.contact_rules if own else cfg.paging.contact_rules:
            where = f"people.{pid}.contact_rules" if own else "paging.contact_rules"
            if where not in out.setdefault(rule.channel, []):
                out[rule.channel].append(where)
    return out


_WHAT_TO_SET = {
    "twilio": "notifier.twilio.account_sid, auth_token and from (the example config reads TWILIO_ACCOUNT_SID, "
    "TWILIO_AUTH_TOKEN, TWILIO_FROM)",
    "smtp": "notifier.smtp.host (the example config reads PAGERD_SMTP_HOST)",
}


def check_channels(cfg: Config, issue) -> None:
    """A channel that a contact rule pages on has a live provider, unless the config says explicitly that it
    is simulated (notifier.kind: dry_run, or notifier.simulate): a page never goes nowhere quietly."""
    n = cfg.notifier
    tw = n.twilio
    if tw.enabled:
        for key, value in (("auth_token", tw.auth_token.get_secret_value()), ("from", tw.from_)):
            if not value:
                issue(("notifier", "twilio", key), "required when notifier.twilio.account_sid is set")
    if n.kind == "dry_run":
        return
    plan = providers(n)
    for ch in n.simulate:
        real = PROVIDER_OF[ch]
        if n.twilio.enabled if real == "twilio" else n.smtp.enabled:
            issue(
                ("notifier", "simulate"),
                f"channel {ch} has a live provider ({real}); simulate lists only channels without one",
            )
    for ch, where in used_channels(cfg).items():
        if plan[ch] != "none":
            continue
        provider = PROVIDER_OF[ch]
        key = ("notifier", "twilio", "account_sid") if provider == "twilio" else ("notifier", "smtp", "host")
        issue(
            key,
            f"channel {ch} is used by {', '.join(where[:3])} but has no provider: set "
            f"{_WHAT_TO_SET[provider]}, or simulate every channel on purpose with notifier.kind: dry_run "
            f"(PAGERD_NOTIFIER=dry_run)",
        )
