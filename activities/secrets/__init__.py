"""How tools read tenant secrets: a resolver over the stores in `foundation.secrets`."""
