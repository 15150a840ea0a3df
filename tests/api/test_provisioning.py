"""First-login provisioning: invitations by email or subject, domain rules on first login only,
linking by verified email; GitHub's user API mapping."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from api.auth.oidc import ExternalIdentity, LoginFlows
from api.auth.provisioning import provision
from api.db.models import Invitation, Membership, TenantDomain, User, utcnow
from api.services import Services
from api.settings import OIDCProvider
from tests.api.conftest import create_tenant


def _ext(email: str | None, verified: bool = True, subject: str | None = None) -> ExternalIdentity:
    return ExternalIdentity("corp", subject or uuid.uuid4().hex, email, verified, "Someone")


async def _roles(services: Services, user_id: uuid.UUID) -> dict[uuid.UUID, str]:
    async with services.sessions() as session:
        rows = await session.execute(
            sa.select(Membership.tenant_id, Membership.role).where(Membership.user_id == user_id)
        )
        return {t: r for t, r in rows}


async def test_email_invitation_needs_a_verified_email(services: Services) -> None:
    tenant = await create_tenant(services, "inv")
    email = f"{uuid.uuid4().hex[:8]}@inv.example"
    async with services.sessions() as session:
        session.add(
            Invitation(
                tenant_id=tenant,
                email=email,
                role="admin",
                created_by="t",
                expires_at=utcnow() + timedelta(days=1),
            )
        )
        await session.commit()
    async with services.sessions() as session:
        unverified, _ = await provision(session, _ext(email, verified=False))
        await session.commit()
    assert await _roles(services, unverified.id) == {}
    async with services.sessions() as session:
        verified, created = await provision(session, _ext(email, verified=True))
        await session.commit()
    assert created
    assert await _roles(services, verified.id) == {tenant: "admin"}


async def test_expired_invitations_are_ignored(services: Services) -> None:
    tenant = await create_tenant(services, "exp")
    subject = uuid.uuid4().hex
    async with services.sessions() as session:
        session.add(
            Invitation(
                tenant_id=tenant,
                provider="corp",
                subject=subject,
                role="user",
                created_by="t",
                expires_at=utcnow() - timedelta(seconds=1),
            )
        )
        await session.commit()
        user, _ = await provision(session, _ext(None, subject=subject))
        await session.commit()
    assert await _roles(services, user.id) == {}


async def test_domain_rule_applies_on_first_login_only(services: Services) -> None:
    tenant = await create_tenant(services, "dom")
    domain = f"{uuid.uuid4().hex[:8]}.example"
    async with services.sessions() as session:
        session.add(TenantDomain(domain=domain, tenant_id=tenant, role="read-only"))
        await session.commit()
    ext = _ext(f"ann@{domain}")
    async with services.sessions() as session:
        user, created = await provision(session, ext)
        await session.commit()
    assert created
    assert await _roles(services, user.id) == {tenant: "read-only"}
    async with services.sessions() as session:  # an admin removes her
        await session.execute(sa.delete(Membership).where(Membership.user_id == user.id))
        await session.commit()
        again, created_again = await provision(session, ext)
        await session.commit()
    assert again.id == user.id
    assert not created_again
    assert await _roles(services, user.id) == {}, "removal is not undone by the next login"


async def test_a_verified_email_links_a_second_provider(services: Services) -> None:
    email = f"{uuid.uuid4().hex[:8]}@link.example"
    async with services.sessions() as session:
        first, _ = await provision(session, _ext(email))
        await session.commit()
        second, created = await provision(
            session, ExternalIdentity("other", "x-" + uuid.uuid4().hex, email, True, "S")
        )
        await session.commit()
        unverified, created_u = await provision(
            session, ExternalIdentity("third", "y-" + uuid.uuid4().hex, email, False, "S")
        )
        await session.commit()
        users = await session.scalar(sa.select(sa.func.count()).where(User.email == email))
    assert second.id == first.id
    assert not created
    assert unverified.id != first.id, "an unverified email never takes over an account"
    assert created_u
    assert users == 1, "the unverified address is not stored on an account"


class _Resp:
    def __init__(self, status: int, body: Any) -> None:
        self.status_code = status
        self._body = body

    def json(self) -> Any:
        return self._body

    def raise_for_status(self) -> None:
        assert self.status_code < 400


class _FakeGitHub:
    def __init__(self, emails: list[dict[str, Any]]) -> None:
        self.emails = emails

    async def get(self, path: str, token: dict[str, Any]) -> _Resp:
        if path == "user":
            return _Resp(200, {"id": 4242, "login": "octo", "name": None})
        return _Resp(200, self.emails)


async def test_github_identity_uses_the_primary_verified_email() -> None:
    flows = LoginFlows(
        [OIDCProvider(name="github", kind="github", client_id="id", client_secret="s")],
        "https://t.example",
    )
    fake = _FakeGitHub(
        [
            {"email": "old@x.example", "primary": False, "verified": True},
            {"email": "Octo@X.example", "primary": True, "verified": True},
        ]
    )
    ident = await flows._github_identity(fake, "github", {"access_token": "t"})
    assert (ident.subject, ident.email, ident.email_verified, ident.name) == (
        "4242",
        "octo@x.example",
        True,
        "octo",
    )
    unverified = _FakeGitHub([{"email": "o@x.example", "primary": True, "verified": False}])
    ident = await flows._github_identity(unverified, "github", {"access_token": "t"})
    assert ident.email is None
    assert ident.email_verified is False
    assert flows.redirect_uri("github") == "https://t.example/v1/auth/callback/github"
