"""Read models and the processes that react to events. They never call an exchange directly."""
