"""Tables of the orders context. Other contexts' things are referenced by id, never by ForeignKey."""
