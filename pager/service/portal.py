"""The portal's accounts and sign-in: argon2id password hashes, session and link tokens (kept as SHA-256
hashes), lockout, and the only ways the portal reads tickets (scoped by pager.domain.portal)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import pyotp
import structlog
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from pager.config import Config
from pager.domain import portal as rules
from pager.domain.portal import Role, Viewer
from pager.service import desk, portal_mail, sealed
from pager.service.signing import Keyring
from pager.storage.port import Account, PasswordLink, PortalSession, RequestedBy, Store, Ticket, TicketDetail

log = structlog.get_logger("pagerd.portal")

# argon2id with OWASP's parameters (19 MiB, 2 passes, 1 lane): 65-70 ms a check on the 2-core machine at load
# 5.6; the library's default (64 MiB, 3 passes, 4 lanes) took 350-900 ms there, per sign-in attempt. A stored hash names its own parameters, so a later change still verifies older hashes.
_HASHER = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
# a hash to verify against when the address has no account: the same work either way (no enumeration by time)
_DUMMY = _HASHER.hash(secrets.token_urlsafe(16))


class AccountError(ValueError):
    """A refused account change; the message is for the user."""


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def _verify(hashed: str | None, password: str) -> bool:
    try:
        return _HASHER.verify(hashed or _DUMMY, password) and hashed is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


async def verify_password(hashed: str | None, password: str) -> bool:
    """argon2 takes tens of milliseconds: off the event loop."""
    return await asyncio.get_running_loop().run_in_executor(None, _verify, hashed, password)


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8", "surrogatepass"), b.encode("utf-8", "surrogatepass"))


def viewer(account: Account, cfg: Config) -> Viewer:
    """Who the account is to the portal's rules; a contact of a customer whose `portal.contacts_see` is
    `own` sees only the tickets it is on (its address, and the configured contacts that have it)."""
    own = None
    cust = cfg.customers.get(account.customer) if account.customer else None
    if account.role == Role.CUSTOMER and cust is not None and cust.portal.contacts_see == "own":
        email = account.email.strip().lower()
        own = rules.Own(email=email, contacts=desk.contacts_with_email(cfg, account.customer or "", email))
    return Viewer(role=Role(account.role), person=account.person, customer=account.customer, own=own)


# -- accounts (the CLI's `pagerd user ...`) -------------------------------------------------------------


async def add_account(
    store: Store,
    cfg: Any,
    *,
    email: str,
    role: str,
    person: str | None,
    customer: str | None,
    language: str | None,
    password: str | None,
    by: str,
    now: datetime,
) -> Account:
    addr = rules.normal_email(email)
    if addr is None:
        raise AccountError(f"not an e-mail address: {email[:100]!r}")
    try:
        r = Role(role)
        rules.check_account(r, person, customer)
    except ValueError as exc:
        raise AccountError(str(exc)) from None
    if person is not None and person not in cfg.people:
        raise AccountError(f"no person {person!r} under people in the config")
    if customer is not None and customer not in cfg.customers:
        raise AccountError(f"no customer {customer!r} under customers in the config")
    if language is not None and language not in rules.LANGUAGES:
        raise AccountError("--language is nl or en")
    hashed = None
    if password is not None:
        problem = rules.password_problem(password)
        if problem:
            raise AccountError(f"password refused: {problem}")
        hashed = hash_password(password)
    return await store.add_account(
        email=addr,
        role=r.value,
        person=person,
        customer=customer,
        language=language,
        password_hash=hashed,
        created_by=by,
        now=now,
    )


@dataclass(frozen=True, slots=True)
class Invitation:
    """A password link made: its URL and the stored link; `mailed`: queued to the account's address."""

    url: str
    link: PasswordLink
    mailed: bool


async def invite(
    store: Store,
    cfg: Any,
    email: str,
    now: datetime,
    purpose: rules.LinkPurpose = rules.LinkPurpose.INVITE,
) -> Invitation:
    """A one-time link that sets the account's password, mailed to the account with mail.outgoing on (the
    outmail stage sends it), else only made (the caller shows it)."""
    addr = rules.normal_email(email)
    found = await store.account_by_email(addr) if addr else None
    if found is None:
        raise AccountError(f"no account for {email[:100]!r} (`pagerd user add` makes one)")
    account = found[0]
    if account.disabled_at is not None:
        raise AccountError(f"the account of {account.email} is disabled")
    token = new_token()
    url = f"{cfg.server.public_url.rstrip('/')}/ui/password/{token}"
    expires_at = now + rules.link_lifetime(purpose)
    mail = portal_mail.compose(cfg, account, purpose, url, expires_at) if portal_mail.mailing(cfg) else None
    link = await store.add_password_link(
        token_hash=token_hash(token),
        account_id=account.id,
        purpose=purpose.value,
        expires_at=expires_at,
        now=now,
        mail=mail,
    )
    return Invitation(url=url, link=link, mailed=mail is not None)


async def request_reset(store: Store, cfg: Any, email: str, *, client: str | None, now: datetime) -> timedelta | None:
    """The "forgot password" form: counts the request (for its address, account or not, and its client),
    and, unless too many came before (answers how long to wait), mails a reset link to an enabled account
    with that address. The caller answers the same either way."""
    addr = rules.normal_email(email) or email.strip().lower()[: rules.MAX_EMAIL]
    keys = rules.reset_keys(addr, client)
    longest: timedelta | None = None
    for key, limits in zip(keys, (rules.RESET_PER_ACCOUNT, rules.RESET_PER_ADDRESS), strict=True):
        wait = rules.locked_for(await store.login_failures(key, since=now - limits.window - limits.lock), now, limits)
        if wait is not None and (longest is None or wait > longest):
            longest = wait
    if longest is not None:
        return longest
    await store.add_login_failure(keys, now=now)
    found = await store.account_by_email(addr) if rules.normal_email(email) else None
    if found is not None and found[0].disabled_at is None:
        if portal_mail.mailing(cfg):
            await invite(store, cfg, addr, now, rules.LinkPurpose.RESET)
    return None


# -- sign-in -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SignIn:
    """The outcome of a sign-in attempt: a session (its cookie token), or why not (`locked`: retry after)."""

    token: str | None = None
    session: PortalSession | None = None
    locked: timedelta | None = None


async def lock_of(store: Store, keys: tuple[str, ...], now: datetime) -> timedelta | None:
    longest: timedelta | None = None
    for key, limits in zip(keys, (rules.ACCOUNT_LOCKOUT, rules.ADDRESS_LOCKOUT), strict=True):
        failures = await store.login_failures(key, since=now - limits.window - limits.lock)
        wait = rules.locked_for(failures, now, limits)
        if wait is not None and (longest is None or wait > longest):
            longest = wait
    return longest


async def sign_in(
    store: Store, email: str, password: str, *, client: str | None, previous: str | None, now: datetime
) -> SignIn:
    """Checks the lock (account and address), then the password (always hashing, known address or not);
    a success starts a new session (ending `previous`, the browser's earlier session token, if any)."""
    addr = rules.normal_email(email) or email.strip().lower()[: rules.MAX_EMAIL]
    keys = rules.lockout_keys(addr, client)
    wait = await lock_of(store, keys, now)
    if wait is not None:
        return SignIn(locked=wait)
    found = await store.account_by_email(addr) if rules.normal_email(email) else None
    account, hashed = found if found else (None, None)
    ok = await verify_password(hashed, password[: rules.MAX_PASSWORD])
    if not ok or account is None or account.disabled_at is not None:
        await store.add_login_failure(keys, now=now)
        return SignIn(locked=await lock_of(store, keys, now))
    if not account.has_totp:
        await store.clear_login_failures(keys[0])
    token = new_token()
    session = await store.start_session(
        token_hash=token_hash(token),
        account_id=account.id,
        csrf=new_token(),
        client=client,
        ended=token_hash(previous) if previous else None,
        now=now,
        factor_due=account.has_totp,  # then the code is due first: this session opens no page yet
    )
    return SignIn(token=token, session=session)


async def waiting_session(store: Store, token: str | None, now: datetime) -> PortalSession | None:
    """The session of a cookie's token if its password was right and its second factor's code is due (and
    still taken), else None."""
    if not token or len(token) > 128:
        return None
    s = await store.get_session(token_hash(token))
    if s is None or not s.factor_due or s.ended_at is not None or s.account.disabled_at is not None:
        return None
    return s if rules.second_step_open(s.created_at, now) else None


async def second_step(
    store: Store,
    keyring: Keyring,
    token: str,
    pending: PortalSession,
    code: str,
    *,
    client: str | None,
    now: datetime,
) -> SignIn:
    """The code of the second factor for a session waiting for it: a wrong code (or one used already)
    counts as a failed sign-in for the account and the address, and the lock holds here as at the password
    (a locked attempt's code is not even checked, and its waiting session ends); the right one starts the
    real session (a new token) and ends the waiting one."""
    keys = rules.lockout_keys(pending.account.email, client)
    wait = await lock_of(store, keys, now)
    if wait is not None:
        await store.end_session(token_hash(token), now=now)
        return SignIn(locked=wait)
    state = await store.totp_state(pending.account.id)
    secret = _open_totp(keyring, pending.account, state.secret)
    step = rules.totp_accepts(secret, code[:64], now, state.last_step) if secret else None
    if step is None or not await store.use_totp_step(pending.account.id, step):
        await store.add_login_failure(keys, now=now)
        wait = await lock_of(store, keys, now)
        if wait is not None:
            await store.end_session(token_hash(token), now=now)
        return SignIn(locked=wait)
    await store.clear_login_failures(keys[0])
    fresh = new_token()
    session = await store.start_session(
        token_hash=token_hash(fresh),
        account_id=pending.account.id,
        csrf=new_token(),
        client=client,
        ended=token_hash(token),
        now=now,
    )
    return SignIn(token=fresh, session=session)


# -- enrolment of the second factor --------------------------------------------------------------------


def _binding(account_id: int) -> str:
    """What an account's sealed TOTP values are bound to (pager.service.sealed)."""
    return f"account:{account_id}"


def _open_totp(keys: Keyring, account: Account, stored: str | None) -> str | None:
    """A stored TOTP secret opened (pager.service.sealed); None when there is none or no key opens it (the
    code is then refused, as a wrong one: `pagerd user totp-reset` helps)."""
    if stored is None:
        return None
    try:
        return sealed.open_sealed(keys, sealed.TOTP_SECRET, stored, _binding(account.id))
    except sealed.Unsealable:
        log.warning("portal_totp_secret_unsealable", account=account.id)
        return None


async def reseal_totp(store: Store, keys: Keyring) -> tuple[int, int]:
    """Every stored TOTP value (an account's secret, or one shown for enrolment) that only a previous signing
    key opens, sealed again under the current key, so that the last step of a key rotation (the old key
    removed from auth.previous_signing_keys) locks no account out. Run when the daemon starts or reloads
    with previous keys configured; without them there is nothing a rotation could lose. Each value is
    replaced only if it is still the one read (pager.storage.port: replace_sealed_totp): one changed
    meanwhile (a new enrolment, a reset, another node's pass) is left as it is. Returns (sealed again, opened
    by no configured key); logs `totp_resealed` when either is not 0."""
    if not keys.previous:
        return 0, 0
    resealed = unsealable = 0
    for row in await store.sealed_totp():
        values: tuple[tuple[Literal["secret", "pending"], str | None], ...] = (
            ("secret", row.secret),
            ("pending", row.pending),
        )
        for field, value in values:
            if value is None:
                continue
            try:
                new = sealed.reseal(keys, sealed.TOTP_SECRET, value, _binding(row.account_id))
            except sealed.Unsealable:
                unsealable += 1
                continue
            if new is not None and await store.replace_sealed_totp(row.account_id, field, value, new):
                resealed += 1
    if resealed or unsealable:
        log.info("totp_resealed", resealed=resealed, unsealable=unsealable)
    return resealed, unsealable


async def totp_enrolment(
    store: Store, keys: Keyring, account: Account, issuer: str, *, keep: bool = False
) -> tuple[str, str]:
    """A new secret for `account` to confirm with a code (replacing one shown before; `keep`: the one shown
    before, if any): (secret, otpauth URI). The store keeps it sealed."""
    pending = _open_totp(keys, account, (await store.totp_state(account.id)).pending) if keep else None
    secret = pending or pyotp.random_base32()
    if secret != pending:
        await store.set_totp_pending(account.id, sealed.seal(keys, sealed.TOTP_SECRET, secret, _binding(account.id)))
    return secret, pyotp.TOTP(secret).provisioning_uri(name=account.email, issuer_name=issuer)


async def confirm_totp(store: Store, keys: Keyring, account: Account, code: str, token: str, now: datetime) -> bool:
    """Turns on the secret shown last if `code` is its code now, and ends every other session of the account
    (all but that of the cookie's `token`, which turned it on); False (nothing changed) otherwise."""
    state = await store.totp_state(account.id)
    secret = _open_totp(keys, account, state.pending)
    if state.pending is None or secret is None:
        return False
    step = rules.totp_accepts(secret, code[:64], now, None)
    return step is not None and await store.confirm_totp(
        account.id, state.pending, step, keep=token_hash(token), now=now
    )


async def live_session(store: Store, token: str | None, now: datetime) -> PortalSession | None:
    """The session of a cookie's token if it still signs in at `now` (and marks the request), else None."""
    if not token or len(token) > 128:
        return None
    th = token_hash(token)
    s = await store.get_session(th)
    if s is None or s.account.disabled_at is not None or s.factor_due:
        return None
    if rules.session_state(s.created_at, s.last_seen_at, s.ended_at, now) is not rules.SessionState.LIVE:
        return None
    if rules.session_touch_due(s.last_seen_at, now):
        await store.touch_session(th, now=now)
    return s


# -- tickets, scoped -----------------------------------------------------------------------------------


def requested_by(who: Viewer) -> RequestedBy | None:
    """The store's requester limit of a query for `who` (pager.domain.portal.own_scope)."""
    own = rules.own_scope(who)
    return None if own is None else RequestedBy(email=own.email, contacts=tuple(sorted(own.contacts)))


async def tickets_for(store: Store, who: Viewer, *, status: str | None, limit: int = 100) -> list[Ticket]:
    """The tickets `who` may see: the store's query is limited to its customer, and every row is checked."""
    rows = await store.list_tickets(
        status=status, customer=rules.customer_scope(who), requested_by=requested_by(who), limit=limit
    )
    return rules.visible_tickets(who, rows)


async def ticket_for(store: Store, who: Viewer, number: int) -> TicketDetail | None:
    """The ticket if `who` may see it (else None, as if it did not exist), with only the entries and
    attachments it may see."""
    t = await store.get_ticket(number)
    if t is None or not rules.may_see_ticket(who, t):
        return None
    from dataclasses import replace

    return replace(
        t,
        timeline=tuple(rules.visible_entries(who, t.timeline)),
        attachments=tuple(rules.visible_entries(who, t.attachments)),
        time=t.time if who.staff else (),
    )
