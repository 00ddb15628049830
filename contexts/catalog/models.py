"""Tables of the catalog context. Other contexts' things are referenced by id, never by ForeignKey."""
