"""The role-aware front door and the always-reachable help page."""

from fastapi import APIRouter, Request
from sqlmodel import select

from app.careteam.routes import home_for
from app.db import SessionDep
from app.deps import OptionalUser
from app.templating import render
from app.web.forms import see_other

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


@router.get("/help")
def crisis_help(request: Request):
    """Crisis resources: public, no sign-in, cached by the service worker for offline use."""
    return render(request, "home/help.html")
