"""The role-aware front door and the always-reachable help page."""

from fastapi import APIRouter, Request
from sqlmodel import select

from app.accounts.models import Role
from app.careteam import service as careteam
from app.careteam.routes import home_for
from app.db import SessionDep
from app.deps import CurrentUser, OptionalUser
from app.templating import render
from app.web.forms import see_other
from app.web.nav import more_items

router = APIRouter()


@router.get("/")
def home(user: OptionalUser, welcome: str | None = None):
    if user is None:
        return see_other("/login")
    target = home_for(user)
    return see_other(f"{target}?welcome=1" if welcome else target)


@router.get("/healthz", include_in_schema=False)
def healthz(session: SessionDep) -> dict[str, str]:
    """For load balancers and the container's HEALTHCHECK: the app answers and the database too."""
    session.exec(select(1))
    return {"status": "ok"}


@router.get("/livez", include_in_schema=False)
def livez() -> dict[str, str]:
    """The process answers (no database): a liveness probe, and the benchmarks' ceiling, the
    cheapest request the same middleware and router can serve (docs/benchmarks.md)."""
    return {"status": "ok"}


@router.get("/help")
def crisis_help(request: Request, session: SessionDep, user: OptionalUser):
    """Crisis resources: public, no sign-in, cached by the service worker for offline use.
    A signed-in patient also sees "Call my clinic" (the service worker's copy is wiped on
    sign-out with the rest)."""
    clinic_phone = (careteam.clinic_phone_for(session, user)
                    if user is not None and user.role == Role.PATIENT else None)
    return render(request, "home/help.html", {"clinic_phone": clinic_phone})


@router.get("/more")
def more(request: Request, user: CurrentUser):
    """The places a phone's bottom bar has no room for (the menu's More), as a plain page."""
    return render(request, "home/more.html", {"items": more_items(user.role)})
