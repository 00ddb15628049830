"""Tables of the notifications context. Other contexts' things are referenced by id, never by ForeignKey."""
