"""/v1/environments/{id}/promotions: what is verified on stage and not yet in production."""
from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from schemas.common import PageQuerySchema
from schemas.tickets import TicketPageSchema
from service.app.drafts import promotions
from service.api.docs import document
from service.api.runtime import principal, runtime, session

blp = Blueprint("promotions", __name__, url_prefix="/v1/environments",
                description="Stage changes waiting to be promoted")


@blp.route("/<environment_id>/promotions")
class Promotions(MethodView):
    @blp.arguments(PageQuerySchema, location="query", as_kwargs=True)
    @blp.response(200, TicketPageSchema)
    @document(400, 401, 404, 422)
    @blp.doc(operationId="listPromotions")
    def get(self, environment_id: str, **args: Any) -> Any:
        """On a prod environment: the account's completed stage changes that no completed prod
        change cites in verified_on yet, newest first."""
        return promotions.list_promotions(session(), principal(), environment_id,
                                          key=runtime().settings.cursor_key, **args)
