"""The five tabs, one module each; every view draws itself from a :class:`Frame`."""
