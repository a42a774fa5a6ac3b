"""`require_recent_auth`: exports and consent changes ask who you are again when the last proof
(sign-in, password or passkey at /reauth) is older than settings.reauth_minutes."""

from fastapi import Depends, Request

from app.accounts.gates import SendTo, recently_authenticated, with_next
from app.db import utcnow
from app.deps import SignedInDep
from app.errors import NotAuthenticated
from app.i18n import gettext as _


def require_recent_auth(request: Request, signed_in: SignedInDep) -> None:
    """Dependency for exports and consent changes: the person proved it is them a short while
    ago (settings.reauth_minutes), or is asked again at /reauth first."""
    if signed_in is None:
        raise NotAuthenticated()
    if recently_authenticated(signed_in.auth, utcnow()):
        return
    raise SendTo(
        with_next("/reauth", request),
        401,
        _("Please confirm it is you: sign in again (password or passkey) at /reauth, "
          "then repeat this request."),
    )


RecentAuth = Depends(require_recent_auth)


def require_recent_auth_to_download(request: Request, signed_in: SignedInDep) -> None:
    """For an export form page: showing the form is free, asking for the file (a `format` in
    the query) needs a recent proof first."""
    if "format" in request.query_params:
        require_recent_auth(request, signed_in)


RecentAuthToDownload = Depends(require_recent_auth_to_download)
