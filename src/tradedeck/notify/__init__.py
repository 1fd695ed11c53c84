"""Events and notifications: services publish, the notifier and other listeners consume."""
