"""The REST face: parse → call a service → format. No business rule lives here."""
