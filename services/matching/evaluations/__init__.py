"""The five-indicator evaluation of member units (红墙同心), per period."""
