"""Tables of the payments context. Other contexts' things are referenced by id, never by ForeignKey."""
