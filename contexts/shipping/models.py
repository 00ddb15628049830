"""Tables of the shipping context. Other contexts' things are referenced by id, never by ForeignKey."""
