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
