"""Print the context map (responsibilities, tables, service interface, dependencies, events of each
context) as markdown."""

from integration import docs


class Command(docs.GeneratedDocCommand):
    help = (
        "Print the context map: for each bounded context its responsibilities, owned tables, "
        "service interface (its api functions), declared dependencies, published and subscribed events."
    )
    marker = "contexts"
    refresh_hint = "run `python manage.py contexts --write-readme` (or `make docs`)"

    def render(self) -> str:
        return docs.context_map()
