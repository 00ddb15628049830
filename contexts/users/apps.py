"""The users context's boundary declaration and start-up wiring."""

from integration.contexts import ContextConfig


class UsersConfig(ContextConfig):
    default = True
    name = "contexts.users"
    label = "users"
    verbose_name = "Users"
    responsibilities = (
        "Accounts: registration, login, profiles, preferences",
        "JWT issue, rotation and revocation (denylist, logout everywhere)",
        "Roles: customer and staff",
    )
    depends_on = ()

    def ready(self) -> None:
        super().ready()
        from contexts.users import api
        from integration import tokens

        # The durable source of every user's "tokens valid after" instant, for the edge to refill its
        # shared-cache copy from (an assignment: running ready() twice is harmless).
        tokens.register_valid_after_source(lambda user_id: api.user_tokens_valid_after(user_id=user_id))
