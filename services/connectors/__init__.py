"""Pull connectors: departments' REST APIs pulled on a schedule into their feeds' raw topics."""
