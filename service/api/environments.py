"""/v1/environments and /v1/me."""
from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from schemas.environments import EnvironmentListQuerySchema, EnvironmentPageSchema, EnvironmentSchema, MeSchema
from schemas.options import EnvironmentOptionsSchema
from schemas.tickets import EmptyQuerySchema
from service.app.tickets import options, queries
from service.api.docs import FIRST_ENVIRONMENT_LINKS, document
from service.api.runtime import now, principal, runtime, session

blp = Blueprint("environments", __name__, url_prefix="/v1", description="Environments and identity")


@blp.route("/environments")
class EnvironmentCollection(MethodView):
    @blp.arguments(EnvironmentListQuerySchema, location="query", as_kwargs=True)
    @blp.response(200, EnvironmentPageSchema)
    @document(400, 401, 422, links={200: FIRST_ENVIRONMENT_LINKS})
    @blp.doc(operationId="listEnvironments")
    def get(self, **args: Any) -> Any:
        """Environments the caller may see, with their current sizing."""
        return queries.list_environments(session(), principal(), key=runtime().settings.cursor_key, **args)


@blp.route("/environments/<environment_id>")
class EnvironmentItem(MethodView):
    @blp.response(200, EnvironmentSchema)
    @document(400, 401, 404)
    @blp.doc(operationId="getEnvironment")
    def get(self, environment_id: str) -> Any:
        """One environment."""
        return queries.get_environment(session(), principal(), environment_id)


@blp.route("/environments/<environment_id>/options")
class EnvironmentOptions(MethodView):
    @blp.arguments(EmptyQuerySchema, location="query")
    @blp.response(200, EnvironmentOptionsSchema)
    @document(401, 404)
    @blp.doc(operationId="getEnvironmentOptions")
    def get(self, _args: dict[str, Any], environment_id: str) -> Any:
        """What the caller may file for this environment, and within which limits."""
        return options.environment_options(session(), principal(), environment_id,
                                           max_open=runtime().settings.max_open_tickets,
                                           approval=runtime().approval, now=now(),
                                           prices=runtime().prices)


@blp.route("/me")
class Me(MethodView):
    @blp.arguments(EmptyQuerySchema, location="query")
    @blp.response(200, MeSchema)
    @document(400, 401)
    @blp.doc(operationId="getMe")
    def get(self, _args: dict[str, Any]) -> Any:
        """Who the token belongs to: user, account, kind and role."""
        return principal()
