"""Payment providers: the interface a card processor implements, and the sandbox one."""
