"""The strategies that ship with tradedeck."""
