pytest_plugins = ["portal_stack.testing"]
