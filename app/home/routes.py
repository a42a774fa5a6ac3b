"""The role-aware front door and the always-reachable help page."""

from fastapi import APIRouter, Request

from app.careteam.routes import home_for
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


@router.get("/help")
def crisis_help(request: Request):
    """Crisis resources: public, no sign-in, cached by the service worker for offline use."""
    return render(request, "home/help.html")
