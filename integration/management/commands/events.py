"""Print the event catalogue (each event type, its fields, publisher and subscribers) as markdown."""

from integration import docs


class Command(docs.GeneratedDocCommand):
    help = "Print the event catalogue: every registered event type, its fields, publisher and subscribers."
    marker = "events"
    refresh_hint = "run `python manage.py events --write-readme` (or `make docs`)"

    def render(self) -> str:
        return docs.event_catalogue()
